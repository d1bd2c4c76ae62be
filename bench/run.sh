#!/usr/bin/env bash
# Builds and runs the runtime benchmarks, prints the ratios bench/README.md
# records, and counts page-table system calls per JIT lifecycle with strace.
#
# usage: bench/run.sh [build dir, default build/]   (env CYCLES=N for strace)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
cycles=${CYCLES:-100000}

cmake --build "$build" --target npk_bench_runtime npk_bench_syscalls
bin="$build/bin"
json=$(mktemp)
trap 'rm -f "$json" "$json".*' EXIT

"$bin/npk_bench_runtime" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_out="$json" --benchmark_out_format=json
# The code-memory lifecycle and module again on the fallback backend.
NPK_JIT_BACKEND=mprotect "$bin/npk_bench_runtime" --benchmark_filter='BM_JitNpk_Lifecycle|BM_Module64_Npk|BM_Module64_Builder' \
  --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_out="$json.mprotect" --benchmark_out_format=json

python3 - "$json" "$json.mprotect" <<'PY'
import json, sys
runs = {b["run_name"]: b for b in json.load(open(sys.argv[1]))["benchmarks"]
        if b.get("aggregate_name") == "median"}
fallback = {b["run_name"]: b for b in json.load(open(sys.argv[2]))["benchmarks"]
            if b.get("aggregate_name") == "median"}
def ns(name): return runs[name]["real_time"]  # time unit is ns throughout
def rate(name): return runs[name]["items_per_second"]
npk1, npk2 = "BM_Lifecycle_Npk/real_time/threads:1", "BM_Lifecycle_Npk/real_time/threads:2"
ref1, ref2 = ("BM_Lifecycle_ReferenceBaseline/real_time/threads:1",
              "BM_Lifecycle_ReferenceBaseline/real_time/threads:2")
print()
print("median of 3 repetitions")
print(f"lifecycle, 1 thread:   npk {ns(npk1):8.0f} ns   reference {ns(ref1):8.0f} ns   "
      f"npk is {ns(ref1) / ns(npk1):.2f}x faster")
print(f"lifecycle, 2 threads:  npk {rate(npk2) / 1e3:8.0f} k/s  reference {rate(ref2) / 1e3:8.0f} k/s  "
      f"npk is {rate(npk2) / rate(ref2):.2f}x faster")
floor1, floor2 = ("BM_PlatformFloor_TwoMprotects/real_time/threads:1",
                  "BM_PlatformFloor_TwoMprotects/real_time/threads:2")
print(f"thread scaling (2 threads / 1 thread throughput): npk {rate(npk2) / rate(npk1):.2f}x   "
      f"reference {rate(ref2) / rate(ref1):.2f}x   bare 2x mprotect {rate(floor2) / rate(floor1):.2f}x")
print(f"npk lifecycle vs bare 2x mprotect: 1 thread {ns(npk1) / ns(floor1):.2f}x the time, "
      f"2 threads {rate(floor2) / rate(npk2):.2f}x the time")
plain = ns("BM_Call_PlainFunctionPointer")
raw = ns("BM_Call_JitPageUnchecked")
checked = ns("BM_Call_NpkJitCall/threads:1")
print(f"call: plain fn ptr {plain:.2f} ns   jit page via fn ptr {raw:.2f} ns   "
      f"npk_jit_call_i32_i32 {checked:.2f} ns  (+{checked - plain:.2f} ns, {checked / plain:.2f}x)")
print()
print("code memory")
jit1, jit2 = "BM_JitNpk_Lifecycle/real_time/threads:1", "BM_JitNpk_Lifecycle/real_time/threads:2"
print(f"jit.npk lifecycle, memfd, 1 thread: {ns(jit1):8.0f} ns = {ns(jit1) / ns(floor1):.3f}x the 2x mprotect floor "
      f"({ns(floor1):.0f} ns)")
print(f"jit.npk lifecycle, mprotect backend, 1 thread: {fallback[jit1]['real_time']:8.0f} ns")
print(f"thread scaling, jit.npk lifecycle, memfd (2 threads / 1 thread throughput): {rate(jit2) / rate(jit1):.2f}x   "
      f"mprotect backend: {fallback[jit2]['items_per_second'] / fallback[jit1]['items_per_second']:.2f}x")
mod = "BM_Module64_Npk/real_time"
asm = "BM_Module64_AsmjitDualMapping/real_time"
per = lambda r, n: 1e9 / r[n]["items_per_second"]
print(f"module of 64, per function: npk memfd {per(runs, mod):.0f} ns   npk mprotect {per(fallback, mod):.0f} ns   "
      f"asmjit dual mapping {per(runs, asm):.0f} ns   npk/asmjit {per(runs, mod) / per(runs, asm):.2f}x")
bld, basm = "BM_Module64_Builder/real_time", "BM_Module64_AsmjitAssembler/real_time"
print(f"builder, module of 64, per function (build+seal+call+free): npk memfd {per(runs, bld):.0f} ns   "
      f"npk mprotect {per(fallback, bld):.0f} ns   asmjit Assembler+JitRuntime {per(runs, basm):.0f} ns   "
      f"npk/asmjit {per(runs, bld) / per(runs, basm):.2f}x (target <= 1.5x)")
craw, cchk = ns("BM_Call_CodeFnRaw"), ns("BM_Call_CodeFnChecked")
print(f"call of a JIT function: raw fn ptr {craw:.2f} ns   checked (npk_jit_fn_call_i32_i32) {cchk:.2f} ns "
      f"(+{cchk - craw:.2f} ns)")
PY

if ! command -v strace >/dev/null 2>&1; then
  echo "installing strace"
  apt-get install -y strace >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y strace >/dev/null; }
fi

# Page-table system calls of `npk_bench_syscalls MODE N THREADS`, per strace.
page_table_calls() {
  local out="$json.strace"
  strace -c -f -o "$out" "$bin/npk_bench_syscalls" "$1" "$2" "$3"
  awk '$NF == "mmap" || $NF == "munmap" || $NF == "mprotect" { sum += $4 } END { print sum + 0 }' "$out"
}

echo
for threads in 1 2; do
  for mode in npk reference jit; do
    startup=$(page_table_calls "$mode" 0 "$threads")
    total=$(page_table_calls "$mode" "$cycles" "$threads")
    python3 - "$mode" "$threads" "$cycles" "$total" "$startup" <<'PY'
import sys
mode, threads, cycles, total, startup = sys.argv[1], *map(int, sys.argv[2:])
lifecycles = threads * cycles
print(f"{mode:>9}, {threads} thread(s): {(total - startup) / lifecycles:.3f} page-table syscalls "
      f"(mmap+munmap+mprotect) per lifecycle over {lifecycles} lifecycles")
PY
  done
done

# wildx_alloc -> install -> wildx_seal -> call -> free under PR_SET_MDWE, where
# the seal goes through the memfd (page-table calls per lifecycle).
cmake --build "$build" --target npk_mdwe_run >/dev/null
page_table_calls_mdwe() {
  strace -c -f -o "$json.strace" "$bin/npk_mdwe_run" "$bin/npk_bench_syscalls" npk "$1" 1 >/dev/null
  awk '$NF == "mmap" || $NF == "munmap" || $NF == "mprotect" { sum += $4 } END { print sum + 0 }' "$json.strace"
}
startup=$(page_table_calls_mdwe 0)
total=$(page_table_calls_mdwe 20000)
python3 -c "import sys; print(f'wildx lifecycle under MDWE: {(int(sys.argv[2]) - int(sys.argv[1])) / 20000:.3f} page-table syscalls per lifecycle')" "$startup" "$total"

# A Nitpick program through jit.npk as written, compiled by npkc: page-table
# system calls per Jit.compile_add_i32 -> call -> free.
prog=$(mktemp --suffix=.npk)
cat >"$prog" <<'NPK'
use "jit.npk".*;

func:main = int32() {
    int32:i = 0;
    int32:sum = 0;
    while (i < 100000) {
        wildx int8->:f = raw Jit.compile_add_i32();
        sum = raw Jit.call_i32_i32(f, i, 1i32);
        fixed int32:rc = raw Jit.free(f);
        i += 1;
    }
    exit 0;
};
NPK
cmake --build "$build" --target npkc npk_stdlib >/dev/null
"$bin/npkc" build "$prog" -o "$json.prog" >/dev/null
strace -c -f -o "$json.strace" "$json.prog"
python3 - "$json.strace" <<'PY'
import sys
calls = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) >= 5 and f[-1] in ("mmap", "munmap", "mprotect", "pwrite64", "pwritev"):
        calls[f[-1]] = int(f[3])
pt = sum(calls.get(n, 0) for n in ("mmap", "munmap", "mprotect"))
print(f"npkc-built jit.npk loop, 100000 lifecycles: {pt} mmap+munmap+mprotect in total "
      f"({pt / 100000:.5f} per lifecycle, process start-up included), "
      f"pwrite {calls.get('pwrite64', 0)}, pwritev {calls.get('pwritev', 0)}")
PY
rm -f "$prog"
