#!/usr/bin/env python3
"""The ownership checker's promise, tested at scale: a program `npkc check`
accepts never leaks, frees twice or uses freed memory when it runs.

For each seed, gen.py writes a random program; `npkc check` accepts or
rejects it. Every accepted program is built (-O0) and run in the runtime's
accounting mode (NPK_AUDIT=1: blocks live at exit are reported, freed blocks
fault when touched and are never reused, every refused release prints its
panic line). Any such report, fatal signal or unexpected exit status of an
accepted program is a checker bug: the program is saved and the run fails.

Two ways to get there, with the same verdicts:
  --batch TOOL  (npk_soundness_batch, what `make soundness` and the ctest use)
      one process checks and builds a batch of programs (npk::compile, as
      `npkc check` and `npkc build -O0` do) and links the accepted ones into
      one executable, which runs each in a child process of its own (fresh
      runtime, accounting at the child's exit); several times faster. A
      batch whose tool or executable dies part way is finished one program
      at a time.
  without it, one program at a time: `npkc check`, `npkc build`, run.

usage: oracle.py NPKC [COUNT] [--seed START] [--jobs N] [--batch TOOL]
                 [--batch-size N] [--timeout S] [--keep DIR] [--progress N]
                 [--programs FILE... [--expect-unsound]]
--programs judges the given files instead of generated programs;
--expect-unsound then passes only when every one is accepted and judged
unsound (the test that the oracle can fail: tests/soundness/planted).
Prints the counts: accepted, rejected (by code), unsound.
"""
import argparse
import collections
import concurrent.futures
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "driver.c")
CODE = re.compile(r"error: \[([A-Z]+-[A-Z]?\d{3})\]")
BAD_RUN = re.compile(r"\[npk audit\]|panic:|runtime error|fatal signal|unhandled failure")


def rejected_or_compiler(status, diagnostics, what):
    """The verdict of a check that did not accept: rejected with its codes,
    or a compiler failure."""
    if status == 1:
        codes = sorted(set(CODE.findall(diagnostics)))
        if not codes:
            return "compiler", "exit 1 without a coded diagnostic\n" + diagnostics[-800:]
        return "rejected", ",".join(codes)
    return "compiler", f"{what} exit status {status}\n" + diagnostics[-800:]


def run_verdict(status, stderr, timeout):
    """The verdict of an accepted program's run: `status` is its exit status,
    or -N when signal N ended it."""
    if status == -signal.SIGALRM or status is None:
        return "unsound", f"accepted program hung for {timeout} s"
    if status != 0 or BAD_RUN.search(stderr):
        how = f"signal {-status}" if status < 0 else f"exit status {status}"
        return "unsound", how + "\n" + stderr[-800:]
    return "accepted", ""


def judge_one(npkc, label, source, tmp, timeout):
    """One program, one process per step."""
    pdir = tempfile.mkdtemp(dir=tmp, prefix="one")
    stem = os.path.join(pdir, "g")
    src = stem + ".npk"
    with open(src, "w") as f:
        f.write(source)
    chk = subprocess.run([npkc, "check", src], capture_output=True, text=True, timeout=120)
    if chk.returncode != 0:
        verdict = rejected_or_compiler(chk.returncode, chk.stderr, "npkc check")
        if verdict[0] == "rejected":
            shutil.rmtree(pdir, ignore_errors=True)
        return verdict
    bld = subprocess.run([npkc, "build", src, "-O0", "-o", stem], capture_output=True, text=True, timeout=120)
    if bld.returncode != 0:
        return "compiler", f"accepted by check but build failed ({bld.returncode})\n" + bld.stderr[-800:]
    env = dict(os.environ, NPK_AUDIT="1")
    try:
        run = subprocess.run([stem], capture_output=True, text=True, timeout=timeout, env=env)
        status, stderr = run.returncode, run.stderr
    except subprocess.TimeoutExpired:
        status, stderr = None, ""
    verdict = run_verdict(status, stderr, timeout)
    if verdict[0] == "accepted":
        shutil.rmtree(pdir, ignore_errors=True)
    return verdict


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def judge_batch(npkc, tool, labels, source, tmp, timeout):
    """A batch of programs (source(label) is each one's text): one
    npk_soundness_batch process, one executable. Returns [(label, verdict,
    detail)]."""
    items = [(label, source(label)) for label in labels]
    bdir = tempfile.mkdtemp(dir=tmp, prefix="batch")
    files = []
    for i, (_, source) in enumerate(items):
        files.append(os.path.join(bdir, f"g{i}.npk"))
        with open(files[-1], "w") as f:
            f.write(source)
    verdicts = {}
    built = set()
    proc = subprocess.run([tool, bdir, DRIVER] + files, capture_output=True, text=True,
                          timeout=600 + 10 * len(items))
    linked = False
    for line in proc.stdout.splitlines():
        word = line.split()
        if word[0] == "check" and int(word[2]) != 0:
            i = int(word[1])
            verdicts[i] = rejected_or_compiler(int(word[2]), read(os.path.join(bdir, f"{i}.check")), "npkc check")
        elif word[0] == "build":
            i = int(word[1])
            if int(word[2]) == 0:
                built.add(i)
            else:
                verdicts[i] = ("compiler", f"accepted by check but build failed ({word[2]})\n" +
                               read(os.path.join(bdir, f"{i}.build"))[-800:])
        elif word[0] == "link":
            linked = int(word[1]) == 0
    if built and linked:
        env = dict(os.environ, NPK_AUDIT="1")
        run = subprocess.run([os.path.join(bdir, "batch"), bdir, str(timeout)], capture_output=True, text=True,
                             env=env, timeout=(timeout + 10) * len(built) + 60)
        for line in run.stdout.splitlines():
            word = line.split()
            if len(word) != 4 or word[0] != "run":
                continue
            i = int(word[1])
            status = int(word[3]) if word[2] == "exit" else -int(word[3])
            verdicts[i] = run_verdict(status, read(os.path.join(bdir, f"{i}.err")), timeout)
    # What the batch did not decide (its tool or executable died part way,
    # or the link failed), one program at a time: that names the culprit.
    out = []
    for i, (label, source) in enumerate(items):
        verdict, detail = verdicts.get(i) or judge_one(npkc, label, source, bdir, timeout)
        out.append((label, verdict, detail))
    if all(v == "rejected" or v == "accepted" for _, v, _ in out):
        shutil.rmtree(bdir, ignore_errors=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("npkc")
    ap.add_argument("count", type=int, nargs="?", default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--batch", default="", help="npk_soundness_batch: check and build a batch per process")
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--timeout", type=int, default=30, help="seconds an accepted program may run")
    ap.add_argument("--keep", default="")
    ap.add_argument("--progress", type=int, default=0, help="print the counts every N batches (programs)")
    ap.add_argument("--programs", nargs="+", default=[], help="judge these files instead of generated programs")
    ap.add_argument("--expect-unsound", action="store_true")
    args = ap.parse_args()

    if args.programs:
        labels = args.programs
        source = lambda label: read(label)  # noqa: E731
        what = f"{len(labels)} programs ({' '.join(os.path.basename(p) for p in labels)})"
    else:
        labels = list(range(args.seed, args.seed + args.count))
        source = gen.generate
        what = f"{args.count} programs (seeds {args.seed}..{args.seed + args.count - 1})"

    counts = collections.Counter()
    codes = collections.Counter()
    findings = []
    with tempfile.TemporaryDirectory() as tmp:
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            if args.batch:
                size = max(1, args.batch_size)
                futures = [pool.submit(judge_batch, args.npkc, args.batch, labels[k:k + size], source, tmp,
                                       args.timeout)
                           for k in range(0, len(labels), size)]
            else:
                futures = [pool.submit(lambda label: [(label,) + judge_one(args.npkc, label, source(label), tmp,
                                                                          args.timeout)], label)
                           for label in labels]
            done = 0
            for fut in concurrent.futures.as_completed(futures):
                for label, verdict, detail in fut.result():
                    counts[verdict] += 1
                    if verdict == "rejected":
                        for c in detail.split(","):
                            codes[c] += 1
                    if verdict in ("unsound", "compiler"):
                        findings.append((str(label), verdict, detail))
                        if args.keep:
                            os.makedirs(args.keep, exist_ok=True)
                            name = os.path.basename(label) if args.programs else f"g{label}.npk"
                            with open(os.path.join(args.keep, name), "w") as f:
                                f.write(source(label))
                done += 1
                if args.progress and done % args.progress == 0:
                    print(f"  ... {sum(counts.values())} judged, {counts['unsound']} unsound, "
                          f"{counts['compiler']} compiler failures", flush=True)

    total = sum(counts.values())
    print(f"soundness oracle: {what}")
    print(f"  accepted and ran clean: {counts['accepted']}")
    print(f"  rejected: {counts['rejected']} ({', '.join(f'{c} {n}' for c, n in sorted(codes.items()))})")
    print(f"  accepted but unsound: {counts['unsound']}")
    print(f"  compiler failures: {counts['compiler']}")
    for label, verdict, detail in sorted(findings)[:20]:
        print(f"--- {'' if args.programs else 'seed '}{label}: {verdict}\n{detail.strip()}")
    if args.expect_unsound:
        ok = counts["unsound"] == total
        print(f"expected every program accepted and judged unsound: {'yes' if ok else 'NO'}")
        return 0 if ok else 1
    if findings and not args.programs:
        print("reproduce: python3 tests/soundness/gen.py SEED > p.npk && npkc run p.npk (with NPK_AUDIT=1)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
