#!/usr/bin/env bash
# `make tsan`: the runtime's unit, thread and stress tests built with
# ThreadSanitizer (RelWithDebInfo, in build-tsan) and run; any data race or
# other TSan report fails the run.
#
# Environment: JOBS (default 2), BUILD_TSAN_DIR (default build-tsan).
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_TSAN_DIR:-$src/build-tsan}
jobs=${JOBS:-2}
launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNPK_BUILD_BENCH=OFF \
  -DNPK_SANITIZE=thread "${launcher[@]}" >/dev/null || exit 1
# Only the runtime and the directories of its tests (the compiler is not built).
cmake --build "$build" -j "$jobs" --target runtime/all tests/unit/runtime/all tests/stress/all || exit 1

code=$(sed -n 's/^NPK_SANITIZER_EXIT_CODE:STRING=//p' "$build/CMakeCache.txt")
logs=$build/sanitizer-logs
rm -rf "$logs"
mkdir -p "$logs"
# Fatal signals stay with the program (the runtime reports them and its tests
# raise them on purpose); fork from a threaded test is expected. The lock-order
# detector is off: the fork handlers hold more locks at once (64 heap shards
# and the registry) than it can track, which is a check failure, not a race.
export TSAN_OPTIONS="exitcode=$code:log_path=$logs/report:halt_on_error=1:detect_deadlocks=0:die_after_fork=0:handle_segv=0:handle_sigbus=0:handle_sigfpe=0"
(cd "$build" && ctest --output-on-failure -j "$jobs" -R '^(runtime|stress)\.')
tests=$?
bash "$src/scripts/check-sanitizer-logs.sh" "$logs" "$build/Testing/Temporary/LastTest.log"
findings=$?
if [ "$tests" -ne 0 ] || [ "$findings" -ne 0 ]; then
  echo "make tsan: FAILED (ctest status $tests, TSan findings: $([ "$findings" -ne 0 ] && echo yes || echo no))"
  exit 1
fi
echo "make tsan: runtime and stress tests pass, no TSan findings"
