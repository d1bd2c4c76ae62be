#!/usr/bin/env python3
"""The ownership checker's promise, tested at scale: a program `npkc check`
accepts never leaks, frees twice or uses freed memory when it runs.

For each seed, gen.py writes a random program; `npkc check` accepts or
rejects it. Every accepted program is built (-O0) and run in the runtime's
accounting mode (NPK_AUDIT=1: blocks live at exit are reported, freed blocks
fault when touched and are never reused, every refused release prints its
panic line). Any such report, fatal signal or unexpected exit status of an
accepted program is a checker bug: the program is saved and the run fails.

usage: oracle.py NPKC COUNT [--seed START] [--jobs N] [--keep DIR]
Prints the counts: accepted, rejected (by code), unsound.
"""
import argparse
import collections
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402

CODE = re.compile(r"error: \[([A-Z]+-[A-Z]?\d{3})\]")
BAD_RUN = re.compile(r"\[npk audit\]|panic:|runtime error|fatal signal|unhandled failure")


def judge(npkc, seed, tmp):
    src = os.path.join(tmp, f"g{seed}.npk")
    with open(src, "w") as f:
        f.write(gen.generate(seed))
    chk = subprocess.run([npkc, "check", src], capture_output=True, text=True, timeout=120)
    if chk.returncode == 1:
        codes = sorted(set(CODE.findall(chk.stderr)))
        if not codes:
            return seed, "compiler", "exit 1 without a coded diagnostic\n" + chk.stderr[-800:]
        return seed, "rejected", ",".join(codes)
    if chk.returncode != 0:
        return seed, "compiler", f"npkc check exit status {chk.returncode}\n" + chk.stderr[-800:]
    exe = os.path.join(tmp, f"g{seed}")
    bld = subprocess.run([npkc, "build", src, "-O0", "-o", exe], capture_output=True, text=True, timeout=120)
    if bld.returncode != 0:
        return seed, "compiler", f"accepted by check but build failed ({bld.returncode})\n" + bld.stderr[-800:]
    env = dict(os.environ, NPK_AUDIT="1")
    try:
        run = subprocess.run([exe], capture_output=True, text=True, timeout=30, env=env)
    except subprocess.TimeoutExpired:
        return seed, "unsound", "accepted program hung for 30 s"
    bad = BAD_RUN.search(run.stderr)
    if run.returncode != 0 or bad:
        return seed, "unsound", f"exit status {run.returncode}\n" + run.stderr[-800:]
    os.unlink(exe)
    os.unlink(src)
    return seed, "accepted", ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("npkc")
    ap.add_argument("count", type=int)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", default="")
    args = ap.parse_args()

    counts = collections.Counter()
    codes = collections.Counter()
    findings = []
    with tempfile.TemporaryDirectory() as tmp:
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(judge, args.npkc, s, tmp)
                       for s in range(args.seed, args.seed + args.count)]
            for fut in concurrent.futures.as_completed(futures):
                seed, verdict, detail = fut.result()
                counts[verdict] += 1
                if verdict == "rejected":
                    for c in detail.split(","):
                        codes[c] += 1
                if verdict in ("unsound", "compiler"):
                    findings.append((seed, verdict, detail))
                    if args.keep:
                        os.makedirs(args.keep, exist_ok=True)
                        with open(os.path.join(args.keep, f"g{seed}.npk"), "w") as f:
                            f.write(gen.generate(seed))

    total = sum(counts.values())
    print(f"soundness oracle: {total} programs (seeds {args.seed}..{args.seed + args.count - 1})")
    print(f"  accepted and ran clean: {counts['accepted']}")
    print(f"  rejected: {counts['rejected']} ({', '.join(f'{c} {n}' for c, n in sorted(codes.items()))})")
    print(f"  accepted but unsound: {counts['unsound']}")
    print(f"  compiler failures: {counts['compiler']}")
    for seed, verdict, detail in sorted(findings)[:20]:
        print(f"--- seed {seed}: {verdict}\n{detail.strip()}")
    if findings:
        print("reproduce: python3 tests/soundness/gen.py SEED > p.npk && npkc run p.npk (with NPK_AUDIT=1)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
