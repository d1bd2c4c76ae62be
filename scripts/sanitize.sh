#!/usr/bin/env bash
# `make sanitize`: builds the compiler, the runtime and every test with
# AddressSanitizer + UBSan (Debug, in build-san), runs the whole ctest suite,
# and fails on any sanitizer finding:
#  - every sanitizer exits with its own status (NPK_SANITIZER_EXIT_CODE, 86),
#    never 1 ("errors reported"), and the lit suite's `not` rejects it;
#  - every report is written under build-san/sanitizer-logs: any file there
#    fails the run, whatever the test that produced it made of its status;
#  - any sanitizer line in the tests' output fails the run too.
#
# Environment: JOBS (default 2), BUILD_SAN_DIR (default build-san).
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_SAN_DIR:-$src/build-san}
jobs=${JOBS:-2}
launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DNPK_BUILD_BENCH=OFF \
  -DNPK_SANITIZE=address,undefined -DNPK_SANITIZER_PLANT=ON "${launcher[@]}" >/dev/null || exit 1
cmake --build "$build" -j "$jobs" || exit 1

code=$(sed -n 's/^NPK_SANITIZER_EXIT_CODE:STRING=//p' "$build/CMakeCache.txt")
logs=$build/sanitizer-logs
rm -rf "$logs"
mkdir -p "$logs"
# One exit status and one log prefix: the sanitizers of a process share these
# common flags (whichever *_OPTIONS is parsed last wins). Fatal signals stay
# with the program: the runtime reports them itself (and its tests raise
# them on purpose); a compiler killed by one fails its test anyway.
common="exitcode=$code:log_path=$logs/report:handle_segv=0:handle_sigbus=0:handle_sigfpe=0"
export ASAN_OPTIONS="$common:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1"
export UBSAN_OPTIONS="$common:halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS="$common"
unset NPK_SANITIZER_PLANT

(cd "$build" && ctest --output-on-failure -j "$jobs")
tests=$?
bash "$src/scripts/check-sanitizer-logs.sh" "$logs" "$build/Testing/Temporary/LastTest.log"
findings=$?
if [ "$tests" -ne 0 ] || [ "$findings" -ne 0 ]; then
  echo "make sanitize: FAILED (ctest status $tests, sanitizer findings: $([ "$findings" -ne 0 ] && echo yes || echo no))"
  exit 1
fi
echo "make sanitize: all tests pass, no sanitizer findings"
