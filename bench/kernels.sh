#!/usr/bin/env bash
# Kernels in Nitpick and C side by side at -O2 (bench/kernels/): each kernel
# NAME has a trapping Nitpick program NAME.npk (`+ - *` stop the program on
# an overflow), the same program with wrapping arithmetic NAME_wrap.npk
# (`+% -% *%`), a C twin NAME.c, and the C twin built with the trapping
# program's checks (-DNPK_CHECKED, checked.h: __builtin_*_overflow, what the
# checks cost C). All four are built (npkc build -O2, clang -O2), run RUNS times in
# turn (trap, wrap, C, C checked, trap, ...), their outputs compared, and
# the medians of the CPU time (user + system of the child, from wait4: on a
# shared machine the wall clock mostly measures the wait for a core) printed
# with the ratios trap/C, wrap/C, C checked/C and trap/C checked.
#
# usage: bench/kernels.sh [build dir, default build/]
#          env RUNS (default 5), KERNELS (default all six), CC (default clang-19)
#        bench/kernels.sh --check [build dir]
#          builds every kernel the same way and runs each program once at a
#          tiny size, comparing the outputs (no timing, no rebuild of npkc;
#          the ctest bench_kernels_check).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
check=0
if [[ ${1:-} == --check ]]; then
  check=1
  shift
fi
build=${1:-$root/build}
runs=${RUNS:-5}
kernels=${KERNELS:-"fib collatz sieve matmul structs jit_calls"}
# The argument of each kernel in --check mode: small enough that all of them
# run in well under a second, large enough that every loop turns.
declare -A tiny=([fib]=20 [collatz]=10000 [sieve]=100000 [matmul]=40 [structs]=200 [jit_calls]=100000)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ((!check)); then
  cmake --build "$build" --target npkc npkrt >/dev/null
fi
cc=${CC:-$(command -v clang-19 || command -v clang || command -v cc)}
for k in $kernels; do
  "$build/bin/npkc" build -O2 "$root/bench/kernels/$k.npk" -o "$work/$k.trap"
  "$build/bin/npkc" build -O2 "$root/bench/kernels/${k}_wrap.npk" -o "$work/$k.wrap"
  # libnpkrt is linked for jit_calls.c, which builds its function with it.
  "$cc" -O2 -I "$root/runtime/include" "$root/bench/kernels/$k.c" "$build/lib/libnpkrt.a" -lpthread -o "$work/$k.c"
  "$cc" -O2 -DNPK_CHECKED -I "$root/runtime/include" "$root/bench/kernels/$k.c" "$build/lib/libnpkrt.a" -lpthread \
    -o "$work/$k.checked"
done

args=()
for k in $kernels; do
  if ((check)); then args+=("$k=${tiny[$k]}"); else args+=("$k="); fi
done
python3 - "$work" "$runs" "$check" "${args[@]}" <<'PY'
import os, statistics, subprocess, sys
work, runs, check, specs = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4:]
variants = ("trap", "wrap", "c", "checked")

def run(exe, arg):
    """Runs exe once; its stdout and the CPU seconds (user + sys) it used."""
    proc = subprocess.Popen([exe] + ([arg] if arg else []), stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{exe} {arg}: exit status {proc.returncode}")
    return out, usage.ru_utime + usage.ru_stime

if not check:
    print(f"median CPU time (user + sys) of {runs} runs, trap / wrap / C / C checked in turn")
    print(f"{'kernel':10s} {'npk trap':>9s} {'npk wrap':>9s} {'C':>9s} {'C chk':>9s} {'trap/C':>7s} {'wrap/C':>7s}"
          f" {'Cchk/C':>7s} {'trap/Cchk':>9s}")
for spec in specs:
    k, arg = spec.split("=", 1)
    times, outs = {v: [] for v in variants}, {}
    for _ in range(1 if check else runs):
        for v in variants:
            outs[v], seconds = run(f"{work}/{k}.{v}", arg)
            times[v].append(seconds)
    if not outs["c"].strip():
        sys.exit(f"{k}: the C program printed nothing")
    for v in ("trap", "wrap", "checked"):
        if outs[v] != outs["c"]:
            sys.exit(f"{k}: {v} and C differ: {outs[v]!r} vs {outs['c']!r}")
    if check:
        print(f"{k:10s} {arg:>10s}: trap, wrap, C and checked C agree: {outs['c'].strip()}")
        continue
    t, w, c, x = (statistics.median(times[v]) for v in variants)
    print(f"{k:10s} {t:8.3f}s {w:8.3f}s {c:8.3f}s {x:8.3f}s {t / c:6.2f}x {w / c:6.2f}x {x / c:6.2f}x {t / x:8.2f}x")
PY
