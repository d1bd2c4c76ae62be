#!/usr/bin/env bash
# `make fuzz-smoke` / `make fuzz`: builds the libFuzzer targets of fuzz/ with
# clang-19 and ASan+UBSan (build-fuzz) and runs each for FUZZ_TIME seconds:
#   fuzz_lex_parse, fuzz_check  seeded with tests/lit/**/*.npk and examples/,
#                               with the dictionary generated from Tokens.def;
#   fuzz_runtime_api            the runtime's C API, misuse included;
#   fuzz_validator              the validator of caller-supplied x86-64 code,
#                               seeded with fuzz/seeds/validator;
#   fuzz_builder                the runtime's function builder, misuse included.
# Every target also replays fuzz/regressions/TARGET/ (inputs that once
# crashed). A crash, a hang (-timeout), a leak, an out-of-memory or any
# sanitizer report fails the run; the input is kept in
# build-fuzz/fuzz/findings/TARGET/. Prints executions and executions per
# second of each target and "fuzz-smoke: N passed, N failed".
#
# usage: fuzz.sh smoke|long
# Environment: FUZZ_TIME (seconds per target; smoke 60, long 1200),
#   FUZZ_TARGETS (default: all five), FUZZ_TIMEOUT (seconds one input may
#   take; default 10), BUILD_FUZZ_DIR (default build-fuzz), JOBS (default 2).
# The corpus each run grows stays in BUILD_FUZZ_DIR/fuzz/corpus/TARGET and
# seeds the next run.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-smoke}
case $mode in
smoke) time_per_target=${FUZZ_TIME:-60} ;;
long) time_per_target=${FUZZ_TIME:-1200} ;;
*) echo "usage: fuzz.sh smoke|long" >&2; exit 2 ;;
esac
build=${BUILD_FUZZ_DIR:-$src/build-fuzz}
jobs=${JOBS:-2}
targets=${FUZZ_TARGETS:-lex_parse check runtime_api validator builder}
timeout=${FUZZ_TIMEOUT:-10}
. "$src/scripts/sanitizer-common.sh"

for tool in clang-19 clang++-19; do
  command -v "$tool" >/dev/null || { echo "fuzz: $tool not found (scripts/install-deps.sh installs it)"; exit 1; }
done
npk_configure "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
  -DNPK_SANITIZE=address,undefined -DNPK_FUZZ=ON -DNPK_BUILD_TESTS=OFF || exit 1
cmake --build "$build" -j "$jobs" --target fuzz_dict $(printf 'fuzz_%s ' $targets) || exit 1

# Seeds: every test program and example, one flat directory.
seeds=$build/fuzz/seeds
rm -rf "$seeds"
mkdir -p "$seeds"
(cd "$src" && find tests/lit examples -name '*.npk' -type f) | while read -r f; do
  cp "$src/$f" "$seeds/$(echo "$f" | tr '/' '_')"
done

export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:handle_segv=1:handle_abort=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
passed=0
failed=0
for target in $targets; do
  bin=$build/bin/fuzz_$target
  corpus=$build/fuzz/corpus/$target
  findings=$build/fuzz/findings/$target
  log=$build/fuzz/$target.log
  mkdir -p "$corpus" "$findings"
  inputs=("$corpus")
  [ -d "$src/fuzz/regressions/$target" ] && inputs+=("$src/fuzz/regressions/$target")
  [ -d "$src/fuzz/seeds/$target" ] && inputs+=("$src/fuzz/seeds/$target")
  args=(-max_total_time="$time_per_target" -timeout="$timeout" -rss_limit_mb=2560 -print_final_stats=1
    -artifact_prefix="$findings/")
  if [ "$target" = lex_parse ] || [ "$target" = check ]; then
    # Diagnostics go to stderr: dropped (libFuzzer keeps its own output).
    args+=(-dict="$build/fuzz/npk.dict" -close_fd_mask=2)
    inputs+=("$seeds")
  fi
  echo "fuzz: $target for ${time_per_target}s"
  "$bin" "${args[@]}" "${inputs[@]}" >"$log" 2>&1
  status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
  kept=$(find "$findings" -type f | wc -l)
  logs=$build/fuzz/no-logs
  if [ "$status" -eq 0 ] && [ "$kept" -eq 0 ] && bash "$src/scripts/check-sanitizer-logs.sh" "$logs" "$log" >/dev/null; then
    passed=$((passed + 1))
    echo "fuzz: $target: ok, ${execs:-?} executions, ${rate:-?} exec/s, ${cov:-cov: ?}, corpus $(find "$corpus" -type f | wc -l) inputs"
  else
    failed=$((failed + 1))
    echo "fuzz: $target: FAILED (status $status, ${execs:-?} executions); the log's end:"
    grep -vE 'NEW_FUNC|^#[0-9]+' "$log" | tail -60
    echo "fuzz: inputs kept in $findings:"
    ls "$findings"
  fi
done
echo "fuzz-$mode: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
