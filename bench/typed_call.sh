#!/usr/bin/env bash
# A call of JIT code through a typed function value (`f => extern (...)`,
# LANGUAGE-2 A7.1) against the same call through a C function pointer:
# bench/typed_call/typed_call.npk built by npkc -O2, typed_call.c by clang -O2
# with the same libnpkrt; RUNS alternating process runs of CALLS calls each,
# the ratio of the medians of wall time.
#
# usage: bench/typed_call.sh [build dir, default build/]   (env CALLS, RUNS)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
calls=${CALLS:-300000000}
runs=${RUNS:-7}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --build "$build" --target npkc npkrt >/dev/null
"$build/bin/npkc" build -O2 "$root/bench/typed_call/typed_call.npk" -o "$work/npk"
cc=$(command -v clang-19 || command -v clang || command -v cc)
"$cc" -O2 -I "$root/runtime/include" "$root/bench/typed_call/typed_call.c" "$build/lib/libnpkrt.a" -lpthread -o "$work/c"

python3 - "$work/npk" "$work/c" "$calls" "$runs" <<'PY'
import os, statistics, subprocess, sys, time
npk, c, calls, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
env = dict(os.environ, CALLS=calls)
times = {npk: [], c: []}
outputs = {}
for _ in range(runs):
    for exe in (npk, c):                     # alternate, so drift hits both
        start = time.perf_counter()
        out = subprocess.run([exe], env=env, check=True, capture_output=True, text=True).stdout
        times[exe].append(time.perf_counter() - start)
        outputs[exe] = out.strip()
expected = (int(calls) + 2**31) % 2**32 - 2**31   # int32 wrap-around of `calls` additions of 1
if outputs[npk] != str(expected) or outputs[c] != str(expected):
    sys.exit(f"wrong results: npk {outputs[npk]} C {outputs[c]}, expected {expected}")
m_npk, m_c = statistics.median(times[npk]), statistics.median(times[c])
per = lambda t: t / int(calls) * 1e9
print(f"{calls} calls, median of {runs} alternating runs")
print(f"typed function value (npkc -O2): {m_npk:.3f} s  {per(m_npk):.3f} ns/call")
print(f"C function pointer (clang -O2):  {m_c:.3f} s  {per(m_c):.3f} ns/call")
print(f"ratio typed value / C pointer: {m_npk / m_c:.3f}x   (target <= 1.05x)")
PY
