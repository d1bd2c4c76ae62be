#!/usr/bin/env python3
"""Writes the same program in Nitpick and in C, about LINES lines long, for
the compile-time benchmark (bench/compile/run.sh).

Every function has a struct value, `wild` memory released by a `defer` (C:
`free` before each return), a counted loop, a `for` loop with a branch, a
`while` loop, arithmetic and a call of the previous function; `main` calls
the last one and prints the result, so the two programs can be run and
compared.

usage: gen.py LINES npk|c [OUT]   (OUT: default stdout)"""
import sys

NPK = """func:f{i} = int64(int64:n) {{
    wild int64->:buf = alloc(64) => int64->;
    defer free(buf);
    till(8, 1) {{
        buf[$] = {i} % 5;
    }}
    int64:acc = 0;
    Pair:p = Pair{{ a: n, b: {i} % 7 }};
    for (int64:k = 0; k < n; k += 1) {{
        if (k % 3 == 0) {{
            acc = acc + k * 2;
        }} else {{
            acc = acc - 1;
        }}
        buf[k % 8] = buf[k % 8] + acc;
    }}
    int64:i = 0;
    while (i < 8) {{
        acc = acc + buf[i] % 11;
        i += 1;
    }}
    p.b = p.b + acc % 13;
    pass (p.a + p.b + raw f{prev}(n)) % 1000003;
}};

"""

C = """int64_t f{i}(int64_t n) {{
    int64_t *buf = (int64_t *)malloc(64);
    for (int32_t d = 0; d < 8; d += 1) {{
        buf[d] = {i} % 5;
    }}
    int64_t acc = 0;
    struct Pair p = {{ .a = n, .b = {i} % 7 }};
    for (int64_t k = 0; k < n; k += 1) {{
        if (k % 3 == 0) {{
            acc = acc + k * 2;
        }} else {{
            acc = acc - 1;
        }}
        buf[k % 8] = buf[k % 8] + acc;
    }}
    int64_t i = 0;
    while (i < 8) {{
        acc = acc + buf[i] % 11;
        i += 1;
    }}
    p.b = p.b + acc % 13;
    int64_t r = (p.a + p.b + f{prev}(n)) % 1000003;
    free(buf);
    return r;
}}

"""


def main():
    if len(sys.argv) < 3 or sys.argv[2] not in ("npk", "c"):
        sys.exit(__doc__)
    lines, lang = int(sys.argv[1]), sys.argv[2]
    body = NPK if lang == "npk" else C
    count = max(1, lines // NPK.count("\n"))  # the same functions in both languages
    out = []
    if lang == "npk":
        out.append("struct:Pair = { int64:a; int64:b; };\n\nfunc:f0 = int64(int64:n) {\n    pass n;\n};\n\n")
    else:
        out.append("#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n\n"
                   "struct Pair { int64_t a; int64_t b; };\n\nint64_t f0(int64_t n) {\n    return n;\n}\n\n")
    for i in range(1, count + 1):
        out.append(body.format(i=i, prev=i - 1))
    if lang == "npk":
        out.append(f"func:main = int32() {{\n    println(`&{{raw f{count}(10)}}`);\n    exit 0;\n}};\n")
    else:
        out.append(f"int main(void) {{\n    printf(\"%lld\\n\", (long long)f{count}(10));\n    return 0;\n}}\n")
    text = "".join(out)
    if len(sys.argv) > 3:
        with open(sys.argv[3], "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
