#!/usr/bin/env bash
# Compile-time benchmark of the checker on generated functions with many
# bindings (bench/gen_bindings.py): `npkc check` wall time and peak RSS,
# median of REPS runs, as ratios against baselines measured in the same run —
# the same shape with `int32` bindings (nothing for the ownership analysis to
# follow) and `clang -fsyntax-only` of the equivalent C file.
#
# usage: bench/compile.sh [build dir, default build/]   (env N=20000 REPS=3;
#        NPKC=path measures that compiler instead, without building)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
n=${N:-20000}
reps=${REPS:-3}
npkc=${NPKC:-}
if [[ -z $npkc ]]; then
  cmake --build "$build" --target npkc
  npkc=$build/bin/npkc
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for shape in wild-ifs plain-ifs wild-flat wild-live; do
  python3 "$root/bench/gen_bindings.py" "$shape" "$n" >"$tmp/$shape.npk"
  python3 "$root/bench/gen_bindings.py" "$shape" "$n" --c >"$tmp/$shape.c"
done

# median "seconds KB" of $reps runs of the command
measure() {
  for _ in $(seq "$reps"); do
    /usr/bin/time -f '%e %M' -o "$tmp/t" "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
    cat "$tmp/t"
  done | sort -n | awk -v m=$(( (reps + 1) / 2 )) 'NR == m'
}

printf '%-10s %10s %10s %12s %12s\n' shape "npkc s" "npkc MB" "clang s" "clang MB"
declare -A secs
for shape in wild-ifs plain-ifs wild-flat wild-live; do
  read -r ns nk < <(measure "$npkc" check "$tmp/$shape.npk")
  cs=- ck=0
  if command -v clang >/dev/null; then read -r cs ck < <(measure clang -fsyntax-only "$tmp/$shape.c"); fi
  secs[$shape]=$ns
  secs[c-$shape]=$cs
  printf '%-10s %10s %10d %12s %12d\n' "$shape" "$ns" $((nk / 1024)) "$cs" $((ck / 1024))
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
echo
echo "N = $n, median of $reps"
echo "wild-ifs / plain-ifs (npkc):             $(ratio "${secs[wild-ifs]}" "${secs[plain-ifs]}")"
echo "wild-ifs npkc / clang -fsyntax-only:     $(ratio "${secs[wild-ifs]}" "${secs[c-wild-ifs]}")"
echo "wild-flat npkc / clang -fsyntax-only:    $(ratio "${secs[wild-flat]}" "${secs[c-wild-flat]}")"
echo "wild-live npkc / clang -fsyntax-only:    $(ratio "${secs[wild-live]}" "${secs[c-wild-live]}")"
