#!/bin/sh
# Compiles c_abi_smoke.c with the C compiler and links it exactly as npkc links
# programs, `cc prog.o libnpkrt.a -lpthread` (no C++ runtime), then runs it.
#
# usage: c_link_smoke.sh CC LIBNPKRT INCLUDE_DIR SOURCE WORK_DIR [C flags...]
set -eu
cc=$1 lib=$2 include=$3 source=$4 work=$5
shift 5
mkdir -p "$work"
"$cc" "$@" -I"$include" -c "$source" -o "$work/c_abi_smoke.o"
"$cc" "$@" "$work/c_abi_smoke.o" "$lib" -lpthread -o "$work/c_abi_smoke"
"$work/c_abi_smoke"
