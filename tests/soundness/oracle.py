#!/usr/bin/env python3
"""The ownership checker's promise, tested at scale: a program `npkc check`
accepts never leaks, frees twice or uses freed memory when it runs; and how
often it rejects a program that would have run clean.

For each seed, gen.py writes a random program; `npkc check` accepts or
rejects it. Every accepted program is built (-O0) and run in the runtime's
accounting mode (NPK_AUDIT=1: blocks live at exit are reported, freed blocks
fault when touched and are never reused, every refused release prints its
panic line). Any such report, fatal signal or unexpected exit status of an
accepted program is a checker bug: the program is saved and the run fails.

A rejected program whose errors are all the ownership checker's (ARIA-*,
NPK-O*) is built anyway (`npkc build --ownership-errors=warn`, with the drops
the dataflow places) and run the same way: a clean run is a precision miss
(counted per code, a few kept as examples; it does not fail the run), a
report confirms the rejection, and a program that does not build that way is
counted as not runnable. A rejection with any other code (a type error, a
parse error) is a generator bug: the generator promises well-typed programs,
so it fails the run.

Two ways to get there, with the same verdicts:
  --batch TOOL  (npk_soundness_batch, what `make soundness` and the ctest use)
      one process checks and builds a batch of programs (npk::compile, as
      `npkc check` and `npkc build -O0` do) and links the built ones into
      one executable, which runs each in a child process of its own (fresh
      runtime, accounting at the child's exit); several times faster. A
      batch whose tool or executable dies part way is finished one program
      at a time.
  without it, one program at a time: `npkc check`, `npkc build`, run.

usage: oracle.py NPKC [COUNT] [--seed START] [--jobs N] [--batch TOOL]
                 [--batch-size N] [--timeout S] [--keep DIR] [--progress N]
                 [--programs FILE... [--expect VERDICT]]
--programs judges the given files instead of generated programs; --expect
then passes only when every one gets that verdict (unsound: accepted and
judged unsound, the test that the oracle can fail, tests/soundness/planted;
miss and confirmed: rejected and run, tests/soundness/rejected).
Prints the counts: accepted, rejected (by code; precision misses,
confirmed, not runnable), unsound, generator bugs.
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
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "driver.c")
CODE = re.compile(r"error: \[([A-Z]+-[A-Z]?\d{3})\]")
OWNERSHIP_CODE = re.compile(r"ARIA-\d{3}|NPK-O\d{3}")
BAD_RUN = re.compile(r"\[npk audit\]|panic:|runtime error|fatal signal|unhandled failure")
# What each verdict means, in the order the summary prints them.
VERDICTS = ("accepted", "unsound", "miss", "confirmed", "unrunnable", "generator", "compiler")
# Precision misses kept per code (--keep DIR/precision) and named in the summary.
EXAMPLES_PER_CODE = 3


def rejected_or_compiler(status, diagnostics, what):
    """The verdict of a check that did not accept, before any run: (verdict,
    codes, detail). "rejected" when every code is the ownership checker's (the
    program is then built and run to judge the rejection), "generator" when
    another code rejected it, "compiler" for a failure without one."""
    if status == 1:
        codes = sorted(set(CODE.findall(diagnostics)))
        if not codes:
            return "compiler", "", "exit 1 without a coded diagnostic\n" + diagnostics[-800:]
        if all(OWNERSHIP_CODE.fullmatch(c) for c in codes):
            return "rejected", ",".join(codes), ""
        return "generator", ",".join(codes), "rejected for a reason other than ownership\n" + diagnostics[-800:]
    return "compiler", "", f"{what} exit status {status}\n" + diagnostics[-800:]


def run_verdict(status, stderr, timeout, codes=""):
    """The verdict of a run: `status` is its exit status, or -N when signal N
    ended it. An accepted program (no codes) runs clean ("accepted") or not
    ("unsound"); a rejected one runs clean ("miss") or not ("confirmed")."""
    if status == -signal.SIGALRM or status is None:
        bad, detail = True, f"hung for {timeout} s"
    elif status != 0 or BAD_RUN.search(stderr):
        how = f"signal {-status}" if status < 0 else f"exit status {status}"
        bad, detail = True, how + "\n" + stderr[-800:]
    else:
        bad, detail = False, ""
    if codes:
        return ("confirmed" if bad else "miss"), codes, detail
    return ("unsound" if bad else "accepted"), "", ("accepted program " + detail if bad else "")


def run_program(exe, timeout):
    env = dict(os.environ, NPK_AUDIT="1")
    try:
        run = subprocess.run([exe], capture_output=True, text=True, timeout=timeout, env=env)
        return run.returncode, run.stderr
    except subprocess.TimeoutExpired:
        return None, ""


def judge_one(npkc, label, source, tmp, timeout):
    """One program, one process per step."""
    pdir = tempfile.mkdtemp(dir=tmp, prefix="one")
    stem = os.path.join(pdir, "g")
    src = stem + ".npk"
    with open(src, "w") as f:
        f.write(source)
    chk = subprocess.run([npkc, "check", src], capture_output=True, text=True, timeout=120)
    codes = ""
    build = [npkc, "build", src, "-O0", "-o", stem]
    if chk.returncode != 0:
        verdict = rejected_or_compiler(chk.returncode, chk.stderr, "npkc check")
        if verdict[0] != "rejected":
            return verdict
        codes = verdict[1]
        build.append("--ownership-errors=warn")
    bld = subprocess.run(build, capture_output=True, text=True, timeout=120)
    if bld.returncode != 0:
        if codes:
            return "unrunnable", codes, f"build --ownership-errors=warn failed ({bld.returncode})\n" + \
                bld.stderr[-800:]
        return "compiler", "", f"accepted by check but build failed ({bld.returncode})\n" + bld.stderr[-800:]
    status, stderr = run_program(stem, timeout)
    verdict = run_verdict(status, stderr, timeout, codes)
    if verdict[0] in ("accepted", "miss", "confirmed"):
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
    codes, detail)]."""
    items = [(label, source(label)) for label in labels]
    bdir = tempfile.mkdtemp(dir=tmp, prefix="batch")
    files = []
    for i, (_, source) in enumerate(items):
        files.append(os.path.join(bdir, f"g{i}.npk"))
        with open(files[-1], "w") as f:
            f.write(source)
    verdicts = {}
    checked = {}  # index -> codes of a rejected program ("" when accepted)
    built = set()
    proc = subprocess.run([tool, bdir, DRIVER] + files, capture_output=True, text=True,
                          timeout=600 + 10 * len(items))
    linked = False
    for line in proc.stdout.splitlines():
        word = line.split()
        if word[0] == "check":
            i = int(word[1])
            checked[i] = ""
            if int(word[2]) != 0:
                verdict = rejected_or_compiler(int(word[2]), read(os.path.join(bdir, f"{i}.check")), "npkc check")
                if verdict[0] == "rejected":
                    checked[i] = verdict[1]
                else:
                    verdicts[i] = verdict
        elif word[0] == "build":
            i = int(word[1])
            if i in verdicts:
                continue  # not the ownership checker's rejection: its build fails as its check did
            if int(word[2]) == 0:
                built.add(i)
            elif checked.get(i):
                verdicts[i] = ("unrunnable", checked[i], f"build --ownership-errors=warn failed ({word[2]})\n" +
                               read(os.path.join(bdir, f"{i}.build"))[-800:])
            else:
                verdicts[i] = ("compiler", "", f"accepted by check but build failed ({word[2]})\n" +
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
            if i not in built:
                continue
            status = int(word[3]) if word[2] == "exit" else -int(word[3])
            verdicts[i] = run_verdict(status, read(os.path.join(bdir, f"{i}.err")), timeout, checked.get(i, ""))
    # What the batch did not decide (its tool or executable died part way,
    # or the link failed), one program at a time: that names the culprit.
    out = []
    for i, (label, source) in enumerate(items):
        verdict, codes, detail = verdicts.get(i) or judge_one(npkc, label, source, bdir, timeout)
        out.append((label, verdict, codes, detail))
    if all(v in ("accepted", "miss", "confirmed") for _, v, _, _ in out):
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
    ap.add_argument("--timeout", type=int, default=30, help="seconds a program may run")
    ap.add_argument("--keep", default="", help="save findings here, and a few precision misses in DIR/precision")
    ap.add_argument("--progress", type=int, default=0, help="print the counts every N batches (programs)")
    ap.add_argument("--programs", nargs="+", default=[], help="judge these files instead of generated programs")
    ap.add_argument("--expect", choices=VERDICTS, help="with --programs: pass only when every one gets this verdict")
    ap.add_argument("--expect-unsound", action="store_const", const="unsound", dest="expect")
    args = ap.parse_args()

    if args.programs:
        labels = args.programs
        source = lambda label: read(label)  # noqa: E731
        what = f"{len(labels)} programs ({' '.join(os.path.basename(p) for p in labels)})"
    else:
        labels = list(range(args.seed, args.seed + args.count))
        source = gen.generate
        what = f"{args.count} programs (seeds {args.seed}..{args.seed + args.count - 1})"

    def name(label):
        return os.path.basename(label) if args.programs else f"g{label}.npk"

    def keep(sub, label):
        if not args.keep:
            return
        d = os.path.join(args.keep, sub)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name(label)), "w") as f:
            f.write(source(label))

    counts = collections.Counter()
    codes = {v: collections.Counter() for v in VERDICTS}  # per verdict, programs by code
    misses = collections.defaultdict(list)                 # code -> labels of precision misses
    findings = []
    started = time.monotonic()
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
                for label, verdict, found, detail in fut.result():
                    counts[verdict] += 1
                    for c in filter(None, found.split(",")):
                        codes[verdict][c] += 1
                        if verdict == "miss":
                            misses[c].append(label)
                    if verdict in ("unsound", "compiler", "generator"):
                        findings.append((str(label), verdict, detail))
                        keep("", label)
                done += 1
                if args.progress and done % args.progress == 0:
                    print(f"  ... {sum(counts.values())} judged, {counts['unsound']} unsound, "
                          f"{counts['miss']} precision misses, {counts['generator']} generator bugs, "
                          f"{counts['compiler']} compiler failures ({time.monotonic() - started:.0f} s)", flush=True)

    # The first few misses of each code (by seed, or as given) are the examples.
    order = {label: k for k, label in enumerate(labels)}
    examples = {c: sorted(xs, key=order.get)[:EXAMPLES_PER_CODE] for c, xs in misses.items()}
    for xs in examples.values():
        for label in xs:
            keep("precision", label)

    def by_code(verdict):
        return ", ".join(f"{c} {n}" for c, n in sorted(codes[verdict].items())) or "none"

    rejected = counts["miss"] + counts["confirmed"] + counts["unrunnable"]
    rejected_codes = collections.Counter()
    for v in ("miss", "confirmed", "unrunnable"):
        rejected_codes.update(codes[v])
    print(f"soundness oracle: {what}")
    print(f"  accepted and ran clean: {counts['accepted']}")
    print(f"  rejected: {rejected} ({', '.join(f'{c} {n}' for c, n in sorted(rejected_codes.items()))})")
    print(f"    ran and misbehaved (rejection confirmed): {counts['confirmed']}")
    print(f"    ran clean (precision misses): {counts['miss']} ({by_code('miss')})")
    print(f"    not runnable (no build with --ownership-errors=warn): {counts['unrunnable']}")
    print(f"  accepted but unsound: {counts['unsound']}")
    print(f"  generator bugs (rejected for a reason other than ownership): {counts['generator']}")
    print(f"  compiler failures: {counts['compiler']}")
    print(f"  time: {time.monotonic() - started:.1f} s")
    if examples:
        where = f" (saved in {os.path.join(args.keep, 'precision')})" if args.keep else ""
        print(f"  precision miss examples{where}: " +
              "; ".join(f"{c}: {' '.join(name(x) for x in xs)}" for c, xs in sorted(examples.items())))
    for label, verdict, detail in sorted(findings)[:20]:
        print(f"--- {'' if args.programs else 'seed '}{label}: {verdict}\n{detail.strip()}")
    if args.expect:
        ok = counts[args.expect] == len(labels)
        print(f"expected every program judged {args.expect}: {'yes' if ok else 'NO'}")
        return 0 if ok else 1
    if findings and not args.programs:
        print("reproduce: python3 tests/soundness/gen.py SEED > p.npk && npkc run p.npk (with NPK_AUDIT=1)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
