#!/usr/bin/env python3
"""Checks the compiler's layering: which folders of compiler/ may include
headers from which others. The phases run in the order of LAYERS; a folder
may include its own headers and those of folders listed for it, never a later
phase's (the driver is the only place that knows every phase).

Usage: check-layering.py [--root DIR]. Exit status 1 lists every violation.
"""
import argparse
import os
import re
import sys

# folder -> folders whose headers it may include
ALLOWED = {
    "support": set(),
    "diag": {"support"},
    "lex": {"support", "diag"},
    "ast": {"support", "lex"},
    "parse": {"support", "diag", "lex", "ast"},
    "check": {"support", "diag", "lex", "ast"},
    "nir": {"support", "diag", "lex", "ast", "check"},
    "own": {"support", "diag", "lex", "ast", "check", "nir"},
    "lint": {"support", "diag", "lex", "ast", "check", "nir", "own"},
    "lower": {"support", "diag", "lex", "ast", "check", "nir", "own"},
    "opt": set(),
    "driver": {"support", "diag", "lex", "ast", "parse", "check", "nir", "own", "lint", "lower", "opt"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z]+)/[^"]+"')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=os.path.join(os.path.dirname(__file__), "..", "compiler"))
    args = ap.parse_args()
    bad = []
    for folder in sorted(os.listdir(args.root)):
        path = os.path.join(args.root, folder)
        if not os.path.isdir(path):
            continue
        if folder not in ALLOWED:
            bad.append(f"compiler/{folder}/: folder missing from the layering table in {__file__}")
            continue
        for name in sorted(os.listdir(path)):
            with open(os.path.join(path, name), encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    dep = m.group(1)
                    if dep == folder or dep not in ALLOWED:  # own folder, or runtime's npk/
                        continue
                    if dep not in ALLOWED[folder]:
                        bad.append(f"compiler/{folder}/{name}:{lineno}: includes {dep}/ (a later phase)")
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
