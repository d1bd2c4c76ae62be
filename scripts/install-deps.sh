#!/usr/bin/env bash
# Installs the Debian 12 packages npk needs to build, test and benchmark.
# Idempotent: installs only what is missing. Needs root (or sudo).
set -euo pipefail

packages=(
  cmake ninja-build g++ make python3
  llvm-19-dev llvm-19-tools          # LLVM 19 libraries; lit and FileCheck
  libgtest-dev libbenchmark-dev      # unit tests, benchmarks
  strace                             # bench/ counts page-table system calls
  libasmjit-dev                      # bench/: the JIT baseline of the module benchmark
  libzydis-dev                       # runtime: the decoder of the validator (Jit.compile_bytes)
  libjemalloc-dev                    # npkc's allocator (compile time)
  gdb linux-perf                     # tests: gdb debugs `-g` programs; GDB and perf name JIT code
  dpkg-dev                           # cpack's .deb (tests/install/deb_package.sh)
  clang-19 libclang-rt-19-dev        # fuzz/: libFuzzer and the sanitizer runtimes of clang 19
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
