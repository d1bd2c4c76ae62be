#!/usr/bin/env bash
# Fails when a sanitizer reported anything: when LOG_DIR holds a report (the
# ASAN_OPTIONS/UBSAN_OPTIONS/LSAN_OPTIONS `log_path` of scripts/sanitize.sh
# points there) or when one of the OUTPUT files has a sanitizer line (a process
# that lost those options reports on stderr instead).
#
# usage: check-sanitizer-logs.sh LOG_DIR [OUTPUT...]
set -u
logs=$1
shift
status=0
# Compiled Nitpick programs print `FILE.npk:L:C: runtime error: ...` for their
# own traps; UBSan's lines name a C or C++ source instead.
pattern='^==[0-9]+==ERROR: [A-Za-z]*Sanitizer|^SUMMARY: [A-Za-z]*Sanitizer|\.(c|cc|cpp|cxx|h|hpp|inc|def):[0-9]+:[0-9]+: runtime error: '
if [ -d "$logs" ]; then
  for report in "$logs"/*; do
    [ -e "$report" ] || continue
    echo "sanitizer report $report:"
    sed -n '1,60p' "$report"
    status=1
  done
fi
for output in "$@"; do
  [ -f "$output" ] || continue
  if grep -nE "$pattern" "$output" | head -20 | sed "s|^|$output:|" | grep .; then
    status=1
  fi
done
if [ "$status" -ne 0 ]; then
  echo "FAILED: sanitizer findings (above)"
fi
exit "$status"
