#!/usr/bin/env python3
"""Writes a function with many bindings, for the compile benchmark
(bench/compile.sh) and the memory-capped scaling test (tests/scaling).

usage: gen_bindings.py SHAPE N [--c]

shapes (each binding is used and released where it is declared, so every
program compiles without diagnostics, warnings included):
  wild-ifs    N `wild` bindings, each declared and freed in its own `if`
  plain-ifs   the same with `int32` bindings: no ownership to follow
  wild-flat   N `wild` bindings at the top level of main, each followed by
              an `if` and freed after it
  wild-live   N `wild` bindings allocated first, then N `if`s, then N frees
              (every binding owns its allocation across every `if`)
--c           an equivalent C function instead (for clang -fsyntax-only)
"""
import sys


# The statements of each language; `{i}` is the binding's number.
LANGUAGES = {
    "npk": {
        "open": ["func:main = int32() {", "    int32:c = 1;"],
        "alloc": "wild int8->:p{i} = alloc(8);",
        "free": "p{i}[0] = 1; free(p{i});",
        "plain": "int32:p{i} = {i}; c = c + p{i};",
        "close": ["    exit c;", "};"],
    },
    "c": {
        "open": ["#include <stdlib.h>", "int main(void) {", "    int c = 1;"],
        "alloc": "char *p{i} = malloc(8);",
        "free": "p{i}[0] = 1; free(p{i});",
        "plain": "int p{i} = {i}; c = c + p{i};",
        "close": ["    return c;", "}"],
    },
}


def program(lang, shape, n):
    t = LANGUAGES[lang]
    alloc = lambda i: t["alloc"].format(i=i)
    free = lambda i: t["free"].format(i=i)
    branch = lambda i, body: f"    if (c > {i}) {{ {body} }}"
    out = list(t["open"])
    for i in range(n):
        if shape == "wild-ifs":
            out.append(branch(i, f"{alloc(i)} {free(i)}"))
        elif shape == "plain-ifs":
            out.append(branch(i, t["plain"].format(i=i)))
        elif shape == "wild-flat":
            out += [f"    {alloc(i)}", branch(i, "c = c + 1;"), f"    {free(i)}"]
        elif shape != "wild-live":
            sys.exit(f"unknown shape {shape}")
    if shape == "wild-live":
        out += [f"    {alloc(i)}" for i in range(n)]
        out += [branch(i, "c = c + 1;") for i in range(n)]
        out += [f"    {free(i)}" for i in range(n)]
    out += t["close"]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    shape, n = sys.argv[1], int(sys.argv[2])
    sys.stdout.write(program("c" if "--c" in sys.argv[3:] else "npk", shape, n))
