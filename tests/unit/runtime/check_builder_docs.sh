#!/bin/sh
# docs/runtime.md lists the builder's refusal codes and operations as tables
# generated from npk/jit_errors.def and npk/jit_ops.def; fails (printing the
# expected table) when a table and its .def differ.
# usage: check_builder_docs.sh <include/npk dir> <docs/runtime.md> [--print]
set -eu
defs="$1"
doc="$2"
errors_table() {
  echo "| code | constant | reason printed |"
  echo "|---|---|---|"
  sed -n 's/^NPK_JIT_ERROR(\([A-Z_]*\), \([0-9]*\), "\(.*\)")$/| \2 | `NPK_ERR_JIT_\1` | \3 |/p' "$defs/jit_errors.def"
}
ops_table() {
  echo "| op | constant | class |"
  echo "|---|---|---|"
  sed -n 's/^NPK_JIT_OP(\([a-z_]*\), \([0-9]*\), \([A-Z]*\))$/| \2 | `NPK_JIT_OP_\1` | \3 |/p' "$defs/jit_ops.def"
}
block() {  # the lines between "<!-- $1 -->" and "<!-- end $1 -->"
  awk -v start="<!-- $1 -->" -v stop="<!-- end $1 -->" '$0 == stop { on = 0 } on { print } $0 == start { on = 1 }' "$doc"
}
if [ "${3:-}" = "--print" ]; then
  errors_table
  echo
  ops_table
  exit 0
fi
status=0
for table in errors ops; do
  expected=$(${table}_table)
  actual=$(block "jit_$table.def")
  if [ "$expected" != "$actual" ]; then
    echo "docs/runtime.md: the jit_$table.def table differs from the .def; expected:"
    echo "$expected"
    status=1
  fi
done
[ $status -eq 0 ] && echo "docs/runtime.md: builder tables match jit_errors.def and jit_ops.def"
exit $status
