#!/usr/bin/env bash
# An installed npkc finds its runtime and standard library relative to itself:
# install the build into a fresh prefix and run the seed example from there.
set -euo pipefail
build_dir=$1
example=$2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build_dir" --prefix "$prefix" >/dev/null
test -x "$prefix/bin/npkc"
test -f "$prefix/lib/libnpkrt.a"
test -f "$prefix/share/npk/stdlib/jit.npk"
test -f "$prefix/include/npk/runtime.h"
cd "$prefix"
"$prefix/bin/npkc" run "$example"
echo "installed npkc in $prefix ran $(basename "$example"): exit status 0"
