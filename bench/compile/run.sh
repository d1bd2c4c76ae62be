#!/usr/bin/env bash
# Compile-time benchmark: the same program in Nitpick and C (bench/compile/
# gen.py) at 1k, 10k and 100k lines; `npkc check` / `build -O0` / `build -O2`
# against `clang -fsyntax-only` / `-O0` / `-O2`, runs alternating between the
# two compilers, medians of REPS runs; prints CPU seconds (user + system,
# children such as the linker included: on a shared machine wall time mostly
# measures the wait for a core; the wall time is printed too), ratios, lines
# per CPU second, peak memory (RSS) and the growth from 10k to 100k lines.
# The two programs' outputs are compared at the smallest size first.
#
# usage: bench/compile/run.sh [build dir, default build/]
#        env SIZES="1000 10000 100000" REPS=3 MODES="check O0 O2"; NPKC=path to
#        measure another npkc without building
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
npkc=${NPKC:-}
if [[ -z $npkc ]]; then
  cmake --build "$build" --target npkc npkrt >/dev/null
  npkc=$build/bin/npkc
fi
clang=$(command -v clang-19 || command -v clang)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$root" "$npkc" "$clang" "$work" "${SIZES:-1000 10000 100000}" "${REPS:-3}" "${MODES:-check O0 O2}" <<'PY'
import os, statistics, subprocess, sys
root, npkc, clang, work, sizes, reps, modes = sys.argv[1:8]
sizes, reps, modes = [int(s) for s in sizes.split()], int(reps), modes.split()
gen = os.path.join(root, "bench/compile/gen.py")

def commands(mode, n):
    src_n, src_c = f"{work}/p{n}.npk", f"{work}/p{n}.c"
    if mode == "check":
        return [npkc, "check", src_n], [clang, "-fsyntax-only", src_c]
    opt = "-" + mode
    return ([npkc, "build", opt, src_n, "-o", f"{work}/n{n}"], [clang, opt, src_c, "-o", f"{work}/c{n}"])

def timed(cmd):
    """(CPU seconds, peak RSS in MB, wall seconds) of one run, from GNU time."""
    out = f"{work}/time"
    subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "-o", out] + cmd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall, user, system, kb = open(out).read().split()[-4:]
    return float(user) + float(system), int(kb) / 1024, float(wall)

for n in sizes:
    for lang in ("npk", "c"):
        subprocess.run([sys.executable, gen, str(n), lang, f"{work}/p{n}.{lang}"], check=True)
# The programs compute the same thing.
small = sizes[0]
subprocess.run(commands("O0", small)[0], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
subprocess.run(commands("O0", small)[1], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
outs = [subprocess.run([f"{work}/{w}{small}"], check=True, capture_output=True, text=True).stdout for w in "nc"]
if outs[0] != outs[1]:
    sys.exit(f"the programs differ at {small} lines: {outs[0]!r} vs {outs[1]!r}")
lines = {n: sum(1 for _ in open(f"{work}/p{n}.npk")) for n in sizes}
print(f"median of {reps} alternating runs; outputs equal ({outs[0].strip()})")
print(f"{'mode':6s} {'lines':>7s} {'npkc cpu':>9s} {'clang cpu':>9s} {'ratio':>6s} {'npkc lines/s':>13s} "
      f"{'npkc MB':>8s} {'clang MB':>9s} {'MB ratio':>8s} {'wall npkc/clang':>16s}")
medians = {}
for mode in modes:
    for n in sizes:
        ours, theirs = commands(mode, n)
        t = {"npk": [], "c": []}
        for _ in range(reps):
            t["npk"].append(timed(ours))
            t["c"].append(timed(theirs))
        ns, cs = statistics.median(r[0] for r in t["npk"]), statistics.median(r[0] for r in t["c"])
        nm, cm = statistics.median(r[1] for r in t["npk"]), statistics.median(r[1] for r in t["c"])
        nw, cw = statistics.median(r[2] for r in t["npk"]), statistics.median(r[2] for r in t["c"])
        medians[(mode, n)] = (ns, cs)
        ratio = ns / cs if cs > 0 else float("nan")
        print(f"{mode:6s} {lines[n]:7d} {ns:9.2f} {cs:9.2f} {ratio:6.2f} {lines[n] / max(ns, 1e-3):13.0f} "
              f"{nm:8.0f} {cm:9.0f} {nm / cm:8.2f} {nw:7.2f}/{cw:<8.2f}")
if 10000 in sizes and 100000 in sizes:
    print("growth from 10k to 100k lines (CPU time):")
    for mode in modes:
        (n10, c10), (n100, c100) = medians[(mode, 10000)], medians[(mode, 100000)]
        print(f"  {mode:6s} npkc {n100 / max(n10, 1e-3):5.1f}x   clang {c100 / max(c10, 1e-3):5.1f}x")
PY
