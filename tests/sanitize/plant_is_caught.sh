#!/usr/bin/env bash
# Proves that the sanitizer harness cannot hide a finding. npkc of this build
# (NPK_SANITIZER_PLANT=ON) reads one element past a heap array when
# NPK_SANITIZER_PLANT=1 is set. With the plant active,
#  - a negative lit test (`not %npkc check ... | FileCheck`) must fail: the
#    plant runs after npkc printed its diagnostics, so FileCheck still passes
#    and only the suite's `not`, which rejects the sanitizer status, can tell
#    (with lit's own `not` this test passes),
#  - a positive lit test must fail,
#  - the report must land in the log directory and check-sanitizer-logs.sh must
#    fail on it (and on a sanitizer line in an output file),
# while without it the same two tests pass and the checker passes on an empty
# directory. Reports of this test go to its own directory, not the run's.
#
# usage: plant_is_caught.sh PYTHON LIT LIT_BUILD_DIR NEGATIVE_TEST POSITIVE_TEST CHECKER EXIT_CODE WORK_DIR
set -u
python=$1 lit=$2 litdir=$3 negative=$4 positive=$5 checker=$6 code=$7 work=$8
rm -rf "$work"
mkdir -p "$work/logs" "$work/empty"
common="exitcode=$code:log_path=$work/logs/report:handle_segv=0:handle_sigbus=0:handle_sigfpe=0"
export ASAN_OPTIONS="$common:detect_leaks=1"
export UBSAN_OPTIONS="$common:halt_on_error=1"
export LSAN_OPTIONS="$common"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
run_lit() { "$python" "$lit" -v "$litdir/$1" >"$work/lit.out" 2>&1; }

unset NPK_SANITIZER_PLANT
run_lit "$negative" || fail "without the plant, $negative does not pass"
run_lit "$positive" || fail "without the plant, $positive does not pass"
[ -z "$(ls -A "$work/logs")" ] || fail "without the plant, a sanitizer report appeared"
bash "$checker" "$work/empty" >/dev/null || fail "the checker fails on an empty log directory"

export NPK_SANITIZER_PLANT=1
if run_lit "$negative"; then fail "with the plant, negative test $negative still passes"; fi
if run_lit "$positive"; then fail "with the plant, positive test $positive still passes"; fi
unset NPK_SANITIZER_PLANT
grep -lq "heap-buffer-overflow" "$work"/logs/* 2>/dev/null || fail "no heap-buffer-overflow report in $work/logs"
if bash "$checker" "$work/logs" >/dev/null; then fail "the checker passes with reports in the log directory"; fi
echo "==123==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x1" >"$work/stray.txt"
if bash "$checker" "$work/empty" "$work/stray.txt" >/dev/null; then fail "the checker passes on a sanitizer line in an output"; fi
echo "prog.npk:3:7: runtime error: integer overflow" >"$work/trap.txt"
bash "$checker" "$work/empty" "$work/trap.txt" >/dev/null || fail "the checker fails on a Nitpick program's own trap line"

if [ "$failures" -ne 0 ]; then
  echo "the sanitizer harness can hide a finding ($failures failures)"
  exit 1
fi
echo "the sanitizer harness catches the planted out-of-bounds read"
