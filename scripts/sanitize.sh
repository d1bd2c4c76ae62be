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
# The build uses clang 19, whose ASan locks its allocator across fork():
# GCC 12's does not, so a child forked while another thread was inside
# malloc could hang in its first malloc (tests/stress/fork_stress.cpp found
# it). npkc links the programs it builds with the same compiler.
#
# Environment: JOBS (default 2), BUILD_SAN_DIR (default build-san).
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_SAN_DIR:-$src/build-san}
jobs=${JOBS:-2}
. "$src/scripts/sanitizer-common.sh"
for tool in clang-19 clang++-19; do
  command -v "$tool" >/dev/null || { echo "sanitize: $tool not found (scripts/install-deps.sh installs it)"; exit 1; }
done
# A build directory configured with another compiler is configured afresh.
if [ -f "$build/CMakeCache.txt" ] && ! grep -q '^CMAKE_CXX_COMPILER:[A-Z]*=.*clang++-19$' "$build/CMakeCache.txt"; then
  rm -rf "$build"
fi
npk_configure "$build" -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 -DCMAKE_BUILD_TYPE=Debug -DNPK_SANITIZE=address,undefined -DNPK_SANITIZER_PLANT=ON || exit 1
cmake --build "$build" -j "$jobs" || exit 1

npk_sanitizer_logs "$build"
export ASAN_OPTIONS="$common:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1"
export UBSAN_OPTIONS="$common:halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS="$common"
unset NPK_SANITIZER_PLANT

(cd "$build" && ctest --output-on-failure -j "$jobs")
npk_verdict "make sanitize" $? "all tests pass, no sanitizer findings" "$build/Testing/Temporary/LastTest.log"
