#!/bin/sh
# Runs a command, lets its output through, then prints "exit status: N" on
# stdout and exits 0. lit's internal shell has no `$?`, so tests that need an
# exact exit status run:
#   // RUN: sh %S/../Inputs/exit-status.sh %npkc run %s | FileCheck %s
#   // CHECK: exit status: 3
"$@"
echo "exit status: $?"
