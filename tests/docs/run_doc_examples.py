#!/usr/bin/env python3
"""Docs match behaviour: every complete program shown in README.md and docs/*.md
(a fenced block that starts with `use`, `func:`, `struct:` or `Type:`) must
compile and exit 0.
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

FENCE = re.compile(r"```\n((?:use |func:|struct:|Type:).*?)```", re.S)


def main():
    npkc, root = sys.argv[1], sys.argv[2]
    docs = [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "*.md")))
    failures, count = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for doc in docs:
            for n, block in enumerate(FENCE.findall(open(doc).read())):
                count += 1
                path = os.path.join(tmp, f"example{count}.npk")
                with open(path, "w") as f:
                    f.write(block)
                command = [npkc, "run", path]
                proc = subprocess.run(command, capture_output=True, timeout=120)
                label = f"{os.path.relpath(doc, root)} example {n + 1}"
                if proc.returncode != 0:
                    failures.append(f"{label}: exit {proc.returncode}\n{proc.stderr.decode(errors='replace')}")
    for f in failures:
        print("FAIL:", f)
    print(f"{count - len(failures)} passed, {len(failures)} failed")
    return 1 if failures or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
