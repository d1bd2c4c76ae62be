#!/usr/bin/env python3
"""Fails when a switch over syntax-tree node kinds (ExprKind, StmtKind) has a
`default:` arm: every such switch names every kind, so adding a kind to
ast/AST.def is a compile error (-Wswitch) wherever it must be handled.

usage: check-kind-switches.py --root compiler/
"""
import argparse
import pathlib
import re
import sys


def switches(text):
    """Yields (line, body) of every `switch (...) {` block in text."""
    for m in re.finditer(r"\bswitch\s*\(", text):
        i = text.index("{", m.end())
        depth, j = 0, i
        while j < len(text):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        yield text.count("\n", 0, m.start()) + 1, text[i + 1:j]


def top_level(body):
    """The switch body without nested braces' contents (nested switches)."""
    out, depth = [], 0
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    root = pathlib.Path(ap.parse_args().root)
    bad = []
    for path in sorted(root.rglob("*.cpp")) + sorted(root.rglob("*.h")):
        text = path.read_text()
        for line, body in switches(text):
            flat = top_level(body)
            if re.search(r"case\s+(ExprKind|StmtKind)::", flat) and re.search(r"\bdefault\s*:", flat):
                bad.append(f"{path}:{line}: switch over node kinds has a `default:` arm; name every kind instead")
    for b in bad:
        print(b)
    if bad:
        return 1
    print("no switch over node kinds has a default arm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
