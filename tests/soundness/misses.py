#!/usr/bin/env python3
"""Where the precision misses of the soundness oracle come from: for each
generated program in a seed range that the ownership checker rejects and that
runs clean when built with --ownership-errors=warn (a precision miss, see
oracle.py), a marker statement (`eprintln("npk-marker");`) is put on its own
line before each line that an ARIA-014/015/022 or NPK-O003 finding points at,
and the program is built and run again: the marker says whether the run
reached that line. (NPK-O006 and NPK-O008 are rules about a shape, not about
a path, so they are not marked.) A finding at the end of a scope is marked
inside that scope, so "reached" there says only that the scope ended on some
path, not that the path the finding names was taken.

usage: misses.py NPKC FIRST_SEED END_SEED   (prints counts per code; one
program at a time, for analysis, not for CI)
"""
import collections
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402
import oracle  # noqa: E402

FINDING = re.compile(r"g\.npk:(\d+):\d+: error: \[([A-Z]+-[A-Z]?\d{3})\]")
MARKED = ("ARIA-014", "ARIA-015", "ARIA-022", "NPK-O003")


def build_and_run(npkc, src, stem):
    with open(stem + ".npk", "w") as f:
        f.write(src)
    b = subprocess.run([npkc, "build", stem + ".npk", "-o", stem, "--ownership-errors=warn"], capture_output=True)
    if b.returncode != 0:
        return None, ""
    return oracle.run_program(stem, 30)


def main():
    npkc, first, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    counts = collections.Counter()
    reached = collections.defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        stem = os.path.join(tmp, "g")
        for seed in range(first, end):
            src = gen.generate(seed)
            with open(stem + ".npk", "w") as f:
                f.write(src)
            chk = subprocess.run([npkc, "check", stem + ".npk"], capture_output=True, text=True)
            findings = FINDING.findall(chk.stderr)
            codes = {c for _, c in findings}
            if chk.returncode != 1 or not codes or not all(oracle.OWNERSHIP_CODE.fullmatch(c) for c in codes):
                continue
            status, err = build_and_run(npkc, src, stem)
            if status is None or oracle.run_verdict(status, err, 30, "rejected")[0] != "miss":
                continue
            counts["misses"] += 1
            lines = src.split("\n")
            for line, code in findings:
                if code not in MARKED:
                    continue
                i = int(line) - 1
                indent = re.match(r"\s*", lines[i]).group(0) + ("    " if lines[i].strip().startswith("}") else "")
                status, err = build_and_run(npkc, "\n".join(lines[:i] + [indent + 'eprintln("npk-marker");'] +
                                                            lines[i:]), stem)
                if status is None:
                    counts[(code, "not markable")] += 1
                    continue
                hit = "npk-marker" in err
                counts[(code, "reached" if hit else "not reached")] += 1
                if hit:
                    reached[code].append(f"{seed}:{line}")
    print(f"seeds {first}..{end - 1}: {counts.pop('misses', 0)} precision misses")
    for (code, what), n in sorted(counts.items()):
        print(f"  {code} {what}: {n}")
    for code, where in sorted(reached.items()):
        print(f"  {code} reached at (seed:line): {' '.join(where)}")


if __name__ == "__main__":
    main()
