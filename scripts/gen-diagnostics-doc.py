#!/usr/bin/env python3
"""Writes docs/diagnostics.md from compiler/diag/Diagnostics.def.

Usage: gen-diagnostics-doc.py [--check]   (--check: fail if the doc is stale)
"""
import ast
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEF = os.path.join(ROOT, "compiler", "diag", "Diagnostics.def")
DOC = os.path.join(ROOT, "docs", "diagnostics.md")


def entries():
    text = open(DEF).read()
    string = r"\"(?:[^\"\\]|\\.)*\""
    # DIAG(Id, "CODE", "title", "explain" "explain" ...)
    # WARN(Id, "CODE", "flag", on-by-default, "title", "explain" ...)
    pattern = (r"^(DIAG|WARN)\((\w+),\s*(\"[^\"]*\"),\s*(?:(\"[^\"]*\"),\s*(true|false),\s*)?(" + string +
               r"),\s*((?:\s*" + string + r")+)\)")
    for m in re.finditer(pattern, text, re.M):
        code = ast.literal_eval(m.group(3))
        title = ast.literal_eval(m.group(6))
        explain = "".join(ast.literal_eval(s) for s in re.findall(string, m.group(7)))
        if m.group(1) == "WARN":
            flag = ast.literal_eval(m.group(4))
            # The same line as `npkc --explain` (warningLine in Diag.cpp).
            if m.group(5) == "true":
                explain = f"Warning, on by default; -Wno-{flag} turns it off.\n\n" + explain
            else:
                explain = f"Warning, off by default; -W{flag} turns it on.\n\n" + explain
        yield code, title, explain


def render():
    out = ["# Diagnostics", "",
           "Every diagnostic npkc reports has a stable code. `npkc --explain CODE` prints",
           "the text below. This page is generated from `compiler/diag/Diagnostics.def`",
           "by `scripts/gen-diagnostics-doc.py`; a test fails when it is stale.", ""]
    out += ["| code | meaning |", "|---|---|"]
    items = list(entries())
    out += [f"| [{c}](#{c.lower()}) | {t} |" for c, t, _ in items]
    out.append("")
    for code, title, explain in items:
        out += [f"## {code}", "", f"**{title}**", "", "```", explain.rstrip("\n"), "```", ""]
    return "\n".join(out)


def main():
    doc = render()
    if "--check" in sys.argv:
        current = open(DOC).read() if os.path.exists(DOC) else ""
        if current != doc:
            print("docs/diagnostics.md is stale: run scripts/gen-diagnostics-doc.py")
            print("0 passed, 1 failed")
            return 1
        print(f"docs/diagnostics.md lists all {doc.count('## ')} codes")
        return 0
    os.makedirs(os.path.dirname(DOC), exist_ok=True)
    open(DOC, "w").write(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
