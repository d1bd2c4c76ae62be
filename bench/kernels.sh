#!/usr/bin/env bash
# Kernels in Nitpick and C side by side at -O2 (bench/kernels/NAME.npk and
# NAME.c): each pair built (npkc build -O2, clang -O2), run RUNS times
# alternately, outputs compared, and the ratio of the median wall times
# printed. Nitpick arithmetic traps on overflow; C's does not.
#
# usage: bench/kernels.sh [build dir, default build/]   (env RUNS, KERNELS="fib collatz")
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
runs=${RUNS:-5}
kernels=${KERNELS:-"fib collatz"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --build "$build" --target npkc npkrt >/dev/null
cc=$(command -v clang-19 || command -v clang || command -v cc)
for k in $kernels; do
  "$build/bin/npkc" build -O2 "$root/bench/kernels/$k.npk" -o "$work/$k.npk"
  "$cc" -O2 "$root/bench/kernels/$k.c" -o "$work/$k.c"
done
python3 - "$work" "$runs" $kernels <<'PY'
import statistics, subprocess, sys, time
work, runs, kernels = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
print(f"median of {runs} alternating runs, wall time")
for k in kernels:
    times, outs = {"npk": [], "c": []}, {}
    for _ in range(runs):
        for lang in ("npk", "c"):
            start = time.perf_counter()
            outs[lang] = subprocess.run([f"{work}/{k}.{lang}"], check=True, capture_output=True, text=True).stdout
            times[lang].append(time.perf_counter() - start)
    if outs["npk"] != outs["c"]:
        sys.exit(f"{k}: outputs differ: {outs['npk']!r} vs {outs['c']!r}")
    n, c = statistics.median(times["npk"]), statistics.median(times["c"])
    print(f"{k:10s} npkc -O2 {n:7.3f} s   clang -O2 {c:7.3f} s   ratio {n / c:.3f}x")
PY
