#!/usr/bin/env python3
"""Writes a function with many bindings, for the compile benchmark
(bench/compile.sh) and the memory-capped scaling test (tests/scaling).

usage: gen_bindings.py SHAPE N [--c]

shapes (each binding is released where it is declared, so every program
compiles without diagnostics):
  wild-ifs    N `wild` bindings, each declared and freed in its own `if`
  plain-ifs   the same with `int32` bindings: no ownership to follow
  wild-flat   N `wild` bindings at the top level of main, each followed by
              an `if` and freed after it
  wild-live   N `wild` bindings allocated first, then N `if`s, then N frees
              (every binding owns its allocation across every `if`)
--c           an equivalent C function instead (for clang -fsyntax-only)
"""
import sys


def npk(shape, n):
    out = ["func:main = int32() {", "    int32:c = 1;"]
    if shape == "wild-live":
        out += [f"    wild int8->:p{i} = alloc(8);" for i in range(n)]
        out += [f"    if (c > {i}) {{ c = c + 1; }}" for i in range(n)]
        out += [f"    free(p{i});" for i in range(n)]
        n = 0
    for i in range(n):
        if shape == "wild-ifs":
            out.append(f"    if (c > {i}) {{ wild int8->:p{i} = alloc(8); free(p{i}); }}")
        elif shape == "plain-ifs":
            out.append(f"    if (c > {i}) {{ int32:p{i} = {i}; c = c + p{i}; }}")
        elif shape == "wild-flat":
            out.append(f"    wild int8->:p{i} = alloc(8);")
            out.append(f"    if (c > {i}) {{ c = c + 1; }}")
            out.append(f"    free(p{i});")
        else:
            sys.exit(f"unknown shape {shape}")
    out += ["    exit c;", "};"]
    return "\n".join(out) + "\n"


def c(shape, n):
    out = ["#include <stdlib.h>", "int main(void) {", "    int c = 1;"]
    if shape == "wild-live":
        out += [f"    char *p{i} = malloc(8);" for i in range(n)]
        out += [f"    if (c > {i}) {{ c = c + 1; }}" for i in range(n)]
        out += [f"    free(p{i});" for i in range(n)]
        n = 0
    for i in range(n):
        if shape == "wild-ifs":
            out.append(f"    if (c > {i}) {{ char *p{i} = malloc(8); free(p{i}); }}")
        elif shape == "plain-ifs":
            out.append(f"    if (c > {i}) {{ int p{i} = {i}; c = c + p{i}; }}")
        elif shape == "wild-flat":
            out.append(f"    char *p{i} = malloc(8);")
            out.append(f"    if (c > {i}) {{ c = c + 1; }}")
            out.append(f"    free(p{i});")
        else:
            sys.exit(f"unknown shape {shape}")
    out += ["    return c;", "}"]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    shape, n = sys.argv[1], int(sys.argv[2])
    sys.stdout.write(c(shape, n) if "--c" in sys.argv[3:] else npk(shape, n))
