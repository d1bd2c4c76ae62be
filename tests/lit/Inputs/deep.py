#!/usr/bin/env python3
"""Writes a program that is N levels deep in one way, to stdout.

usage: deep.py KIND N. Every level starts a line of its own, so a diagnostic's
line number tells which level it is at. Each program exits 0 when it runs.
"""
import sys

kind, n = sys.argv[1], int(sys.argv[2])
head = "func:main = int32() {\n"
if kind == "sum":  # a left-deep chain of `+`
    body = "    int32:x = 0\n" + "        + 1\n" * n + "    ;\n    exit x - %d;\n" % n
elif kind == "and":  # a left-deep chain of `&&`
    body = "    bool:b = true\n" + "        && true\n" * n + "    ;\n    if (b) { exit 0; }\n    exit 1;\n"
elif kind == "cast":  # a chain of `=>`
    body = "    int32:x = 0\n" + "        => int32\n" * n + "    ;\n    exit x;\n"
elif kind == "member":  # a chain of `.` through a pointer to the struct itself
    head = "struct:Node = { int32:v; Node->:next; };\n" + head
    body = ("    Node:n = Node{ v: 0, next: NULL };\n    n.next = @n;\n    exit n\n"
            + "        .next\n" * n + "        .v;\n")
elif kind == "calls":  # calls nested as arguments
    head = "func:f = int32(int32:x) { pass x + 1; };\n" + head
    body = "    int32:x =\n" + "        raw f(\n" * n + "        0" + ")" * n + ";\n    exit x - %d;\n" % n
elif kind == "parens":
    body = "    int32:x =\n" + "        (\n" * n + "        0" + ")" * n + ";\n    exit x;\n"
elif kind == "blocks":  # nested `{ }` blocks
    body = "    int32:x = 1;\n" + "    {\n" * n + "    x = 0;\n" + "    }" * n + "\n    exit x;\n"
elif kind == "ifs":  # nested `if`s
    body = "    int32:x = 1;\n" + "    if (x == 1) {\n" * n + "    x = 0;\n" + "    }" * n + "\n    exit x;\n"
elif kind == "elseif":  # an `else if` chain of N arms after the first
    body = ("    int32:x = %d;\n    int32:r = 1;\n    if (x == 0) {\n        r = 1;\n" % n
            + "".join("    } else if (x == %d) {\n        r = %d;\n" % (i, 0 if i == n else 1) for i in range(1, n + 1))
            + "    }\n    exit r;\n")
elif kind == "defer":  # `defer defer ... println(...)`
    body = "    defer\n" * n + "        println(\"deferred\");\n    exit 0;\n"
elif kind == "fields":  # N structs, each holding the previous by value, and a `.` chain through all
    head = "struct:S0 = { int32:k; };\n" + "".join(
        "struct:S%d = { int32:k; S%d:in; };\n" % (i, i - 1) for i in range(1, n)) + head
    body = "    S%d:s;\n    exit s\n" % (n - 1) + "        .in\n" * (n - 1) + "        .k;\n"
elif kind == "pointer":  # a pointer type with N levels of `->`
    body = "    int32\n" + "        ->\n" * n + "        :p = NULL;\n    exit 0;\n"
else:
    sys.exit("unknown kind " + kind)
sys.stdout.write(head + body + "};\n")
