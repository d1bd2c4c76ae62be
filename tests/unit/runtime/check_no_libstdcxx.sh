#!/bin/sh
# Fails when libnpkrt.a references anything from the C++ runtime: programs are
# linked with `cc prog.o libnpkrt.a -lpthread`, which has no libstdc++.
set -eu
lib="$1"
forbidden='^(_Zn[wa]|_Zd[la]|_ZSt|_ZNSt|_ZNKSt|_ZTI|_ZTS|_ZTV|__cxa_|__gxx_personality|_Unwind_|__dynamic_cast)'
bad=$(nm -u "$lib" | awk '$1 == "U" { print $2 }' | grep -E "$forbidden" | sort -u || true)
if [ -n "$bad" ]; then
  echo "libnpkrt.a needs the C++ runtime:"
  echo "$bad"
  exit 1
fi
echo "libnpkrt.a: no C++ runtime symbols referenced"
