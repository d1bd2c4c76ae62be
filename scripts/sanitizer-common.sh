# Set-up shared by scripts/sanitize.sh, scripts/tsan.sh and scripts/fuzz.sh.
# Source it after setting `src` (the source tree) and `jobs`.
#
#   npk_configure BUILD CMAKE_ARGS...   configures BUILD with Ninja (and ccache
#                                       when present) from $src
#   npk_sanitizer_logs BUILD            sets `code` (the sanitizer exit status
#                                       of BUILD's cache), `logs` (an empty
#                                       BUILD/sanitizer-logs) and `common` (the
#                                       options every sanitizer shares)
#   npk_verdict NAME STATUS WHAT OUTPUT...
#                                       fails (prints why) when STATUS is not 0
#                                       or a report is in $logs or a sanitizer
#                                       line in an OUTPUT file

npk_configure() {
  local build=$1
  shift
  local launcher=()
  if command -v ccache >/dev/null 2>&1; then
    launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
  cmake -S "$src" -B "$build" -G Ninja -DNPK_BUILD_BENCH=OFF "$@" "${launcher[@]}" >/dev/null
}

# Every report is written under BUILD/sanitizer-logs with one exit status: the
# sanitizers of a process share these flags (whichever *_OPTIONS is parsed
# last wins). Fatal signals stay with the program: the runtime reports them
# itself (and its tests raise them on purpose).
npk_sanitizer_logs() {
  local build=$1
  code=$(sed -n 's/^NPK_SANITIZER_EXIT_CODE:STRING=//p' "$build/CMakeCache.txt")
  logs=$build/sanitizer-logs
  rm -rf "$logs"
  mkdir -p "$logs"
  common="exitcode=$code:log_path=$logs/report:handle_segv=0:handle_sigbus=0:handle_sigfpe=0"
}

npk_verdict() {
  local name=$1 status=$2 what=$3
  shift 3
  bash "$src/scripts/check-sanitizer-logs.sh" "$logs" "$@"
  local findings=$?
  if [ "$status" -ne 0 ] || [ "$findings" -ne 0 ]; then
    echo "$name: FAILED (status $status, sanitizer findings: $([ "$findings" -ne 0 ] && echo yes || echo no))"
    return 1
  fi
  echo "$name: $what"
}
