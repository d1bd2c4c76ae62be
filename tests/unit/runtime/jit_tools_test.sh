#!/bin/sh
# Tools name JIT code. usage: jit_tools_test.sh gdb|perf-memfd|perf-mprotect TARGET
#   gdb            GDB stops in npk_tools_trap (via the JIT interface) and
#                  `bt` / `info symbol` name it
#   perf-memfd     perf record + jitdump (NPK_JIT_DUMP) + perf inject --jit:
#                  perf report attributes samples to npk_tools_spin
#   perf-mprotect  perf record + /tmp/perf-PID.map (NPK_JIT_PERFMAP): same
# Exits 77 (skipped) with a message when the tool is missing or not permitted.
set -u
mode=$1
target=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

case $mode in
gdb)
  command -v gdb >/dev/null 2>&1 || { echo "skipped: gdb is not installed"; exit 77; }
  gdb -nx -batch -ex run -ex bt -ex 'info symbol $pc' --args "$target" trap >"$work/out" 2>&1
  cat "$work/out"
  grep -q '^#0 .*npk_tools_trap' "$work/out" || { echo "FAIL: bt does not name the JIT frame"; exit 1; }
  grep -q '^npk_tools_trap + 1 in section' "$work/out" || { echo "FAIL: info symbol does not name the JIT pc"; exit 1; }
  echo "PASS: gdb names the JIT frame"
  ;;
perf-memfd|perf-mprotect)
  backend=${mode#perf-}
  command -v perf >/dev/null 2>&1 || { echo "skipped: perf is not installed"; exit 77; }
  if ! perf record -q -o "$work/probe.data" -- true >"$work/probe" 2>&1; then
    echo "skipped: perf record is not permitted here: $(head -1 "$work/probe")"; exit 77
  fi
  cd "$work"
  if [ "$backend" = memfd ]; then
    NPK_JIT_BACKEND=memfd NPK_JIT_DUMP=1 NPK_JIT_DUMP_DIR="$work" \
      perf record -q -k mono -o perf.data -- "$target" spin 400 >out 2>&1 || { cat out; exit 1; }
    HOME=$work perf inject --jit -i perf.data -o perf.jit.data >>out 2>&1 || { cat out; exit 1; }
    HOME=$work perf report -i perf.jit.data --stdio --sort sym >report 2>&1
  else
    NPK_JIT_BACKEND=mprotect NPK_JIT_PERFMAP=1 \
      perf record -q -o perf.data -- "$target" spin 400 >out 2>&1 || { cat out; exit 1; }
    perf report -i perf.data --stdio --sort sym >report 2>&1
    pid=$(sed -n 's/^backend .* pid \([0-9]*\)$/\1/p' out)
    [ -n "$pid" ] && rm -f "/tmp/perf-$pid.map"
  fi
  cat out
  grep -q "backend $backend" out || { echo "FAIL: ran on another backend"; exit 1; }
  grep '%' report | head -5
  grep -q 'npk_tools_spin' report || { echo "FAIL: perf report does not name npk_tools_spin"; exit 1; }
  echo "PASS: perf names the JIT function ($backend)"
  ;;
*)
  echo "usage: $0 gdb|perf-memfd|perf-mprotect TARGET"; exit 2 ;;
esac
