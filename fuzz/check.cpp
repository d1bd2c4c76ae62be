// libFuzzer target: the whole front end in process, as `npkc check FILE`
// runs it (driver/Driver.h, compile with checkOnly): loading (the input is
// the main module's text; its imports come from the standard library of this
// build tree), lexing, parsing, names and types, NIR and the ownership
// checker, and the warnings (lint/, every one on), with the diagnostics
// printed. Nothing is written. The status must be 0 or 1, as `npkc check`
// promises. Run it with -close_fd_mask=2 to drop the diagnostics
// (scripts/fuzz.sh does).
#include "driver/Driver.h"
#include "compiler_thread.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace {
// A path in the build tree's bin directory, beside nothing: imports named
// relative to it find nothing there and go on to NPK_PATH, -I and the
// standard library, as for any file.
std::string inputPath() {
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ((ec ? std::filesystem::path(".") : exe.parent_path()) / "fuzz-input.npk").string();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const std::string path = inputPath();
  std::string text(reinterpret_cast<const char *>(data), size);
  npk::Options opts;
  opts.input = path;
  opts.checkOnly = true;
  opts.color = npk::ColorMode::Never;
  opts.inputText = &text;
  static const npk::WarningOptions everyWarning = [] {
    npk::WarningOptions w;
    std::string unused;
    for (npk::DiagId id : npk::allWarnings()) w.apply("-W" + std::string(npk::warningFlag(id)), unused);
    return w;
  }();
  opts.warnings = everyWarning;
  int status = -1;
  npk_fuzz::CompilerThread::get().run([&] { status = npk::compile(opts); });
  if (status != 0 && status != 1) {
    std::fprintf(stderr, "fuzz_check: npkc check ended with status %d\n", status);
    std::abort();
  }
  return 0;
}
