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
. "$src/scripts/sanitizer-common.sh"
npk_configure "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNPK_SANITIZE=thread || exit 1
# Only the runtime and the directories of its tests (the compiler is not built).
cmake --build "$build" -j "$jobs" --target runtime/all tests/unit/runtime/all tests/stress/all || exit 1

npk_sanitizer_logs "$build"
# Fork from a threaded test is expected. The lock-order detector is off: the
# fork handlers hold more locks at once (64 heap shards and the registry) than
# it can track, which is a check failure, not a race.
export TSAN_OPTIONS="$common:halt_on_error=1:detect_deadlocks=0:die_after_fork=0"
# runtime.*_runs_under_mdwe: example programs compiled by npkc (not built
# here), run single-threaded under MDWE; the ASan build runs them.
# stress.fork_children_*: forks 300 children while threads churn; under TSan
# about one run in eight has a child hang inside TSan's own runtime after
# fork (also with the runtime of before the module registry), which TSan
# does not support in threaded programs. The normal and ASan builds run it.
(cd "$build" && ctest --output-on-failure -j "$jobs" -R '^(runtime|stress)\.' -E '^(runtime\.[a-z_]+_runs_under_mdwe|stress\.fork_children_)')
npk_verdict "make tsan" $? "runtime and stress tests pass, no TSan findings" "$build/Testing/Temporary/LastTest.log"
