#!/usr/bin/env bash
# `cpack` builds a .deb that installs npkc, the runtime and the standard
# library; unpacked into a scratch root (`dpkg -x`), its npkc compiles and
# runs the seed example from another directory, finding its runtime and
# standard library relative to itself. The package's file name is the one
# the guide's install command and the README give.
set -euo pipefail
build_dir=$1
example=$2
source_dir=$3
# Exit status 77 is ctest's skip (SKIP_RETURN_CODE), so a missing tool shows as
# skipped, with this message, not as passed.
for tool in cpack dpkg-deb dpkg; do
  if ! command -v "$tool" >/dev/null; then
    echo "skipped: $tool is not installed (scripts/install-deps.sh installs it)"
    exit 77
  fi
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && cpack --config "$build_dir/CPackConfig.cmake" -B "$work/out" >"$work/cpack.log" 2>&1) || {
  cat "$work/cpack.log"; exit 1; }
deb=$(ls "$work"/out/*.deb)
echo "built $(basename "$deb")"
# The file name the guide's install command and the README give.
guide_glob=$(sed -n 's/^sudo dpkg -i \([^ ]*\.deb\).*/\1/p' "$source_dir/docs/guide/getting-started.md")
case "$(basename "$deb")" in
  $guide_glob) ;;
  *) echo "FAIL: docs/guide/getting-started.md installs \`${guide_glob:-nothing}\`, which does not match $(basename "$deb")"; exit 1 ;;
esac
readme_name=$(grep -o 'npk_<version>_[a-z0-9]*\.deb' "$source_dir/README.md" | sed "s/<version>/$(dpkg-deb --field "$deb" Version)/")
[ "$readme_name" = "$(basename "$deb")" ] || {
  echo "FAIL: README.md names the package ${readme_name:-nothing}, cpack built $(basename "$deb")"; exit 1; }
dpkg-deb --field "$deb" Package Version Depends
dpkg-deb --contents "$deb" | awk '{print $6}' > "$work/contents"
for path in ./usr/bin/npkc ./usr/lib/libnpkrt.a ./usr/include/npk/runtime.h \
            ./usr/share/npk/stdlib/jit.npk ./usr/share/npk/stdlib/drop.npk; do
  grep -qx "$path" "$work/contents" || { echo "FAIL: $path is not in the package"; exit 1; }
done
root=$work/root
dpkg -x "$deb" "$root"
mkdir "$work/elsewhere"
cd "$work/elsewhere"
cp "$example" prog.npk
"$root/usr/bin/npkc" --version
"$root/usr/bin/npkc" build prog.npk -o prog
./prog
"$root/usr/bin/npkc" run prog.npk
# The installed compiler uses the installed runtime, not the build tree's.
"$root/usr/bin/npkc" build prog.npk -o prog2 -Wl,-Map,link.map
grep -q "$root/usr/lib/libnpkrt.a" link.map || {
  echo "FAIL: the installed npkc did not link $root/usr/lib/libnpkrt.a"; exit 1; }
echo "the .deb's npkc, unpacked in $root, built and ran $(basename "$example") from $PWD"
