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

python3 - "$json" <<'PY'
import json, sys
runs = {b["run_name"]: b for b in json.load(open(sys.argv[1]))["benchmarks"]
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
  for mode in npk reference; do
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
