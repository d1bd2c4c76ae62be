// npkc command line.
#include "diag/Diag.h"
#include "driver/Driver.h"
#include "driver/Emit.h"
#include "driver/Run.h"
#include "support/Stack.h"

#include <llvm/Support/FileSystem.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#ifndef NPK_VERSION
#define NPK_VERSION "0.0.0"
#endif

namespace {

const char *const kHelp =
    "npkc — the npk compiler for the Nitpick core language\n"
    "\n"
    "usage:\n"
    "  npkc build FILE [-o OUT] [-O0|-O1|-O2|-O3] [-I DIR]... [--emit=KIND]\n"
    "  npkc run FILE [-O0..-O3] [-I DIR]... [-- ARGS...]\n"
    "  npkc check FILE [-I DIR]...\n"
    "  npkc FILE [-o OUT] [--emit-llvm]          (reference compiler spelling of `build`)\n"
    "  npkc --explain CODE                       (long explanation of a diagnostic)\n"
    "  npkc --version | --help\n"
    "\n"
    "commands:\n"
    "  build   compile FILE (and the modules it imports) to an executable\n"
    "  run     compile FILE to a temporary executable and run it; npkc exits\n"
    "          with the program's exit status, or 128+N after a line naming the\n"
    "          signal if signal N killed it; the temporary directory (under\n"
    "          TMPDIR) is removed on every path, and SIGINT/SIGTERM sent to npkc\n"
    "          is passed on to the program\n"
    "  check   report diagnostics only; produce nothing\n"
    "\n"
    "options:\n"
    "  -o OUT          output path; by default an executable is named after FILE\n"
    "                  without .npk, an object file after FILE with .o, and\n"
    "                  tokens, ast, nir, llvm and asm go to stdout (as with `-o -`)\n"
    "  -O0..-O3        optimisation level (default -O0)\n"
    "  -I DIR          add DIR to the module search path (after the importing\n"
    "                  file's directory and NPK_PATH, before the standard library)\n"
    "  --emit=KIND     stop after a phase and write its product:\n"
    "                  tokens, ast, nir (the typed IR after drop elaboration),\n"
    "                  llvm (IR), asm, obj, exe (default)\n"
    "  --emit-llvm     same as --emit=llvm\n"
    "\n"
    "environment:\n"
    "  NPK_PATH        colon-separated module directories\n"
    "  NO_COLOR        disable coloured diagnostics\n"
    "  TMPDIR          where `run` makes its npk-run-* directory (default /tmp)\n"
    "\n"
    "exit status: 0 on success, 1 when any error was reported.\n";

int usageError(const std::string &msg) {
  std::fprintf(stderr, "npkc: error: %s\n(run `npkc --help` for usage)\n", msg.c_str());
  return 1;
}

bool parseEmit(const std::string &kind, npk::EmitKind &out) {
  static const std::pair<const char *, npk::EmitKind> kinds[] = {
      {"tokens", npk::EmitKind::Tokens}, {"ast", npk::EmitKind::Ast}, {"nir", npk::EmitKind::Nir},
      {"llvm", npk::EmitKind::Llvm},
      {"asm", npk::EmitKind::Asm},       {"obj", npk::EmitKind::Obj}, {"exe", npk::EmitKind::Exe}};
  for (auto &[name, k] : kinds)
    if (kind == name) {
      out = k;
      return true;
    }
  return false;
}

// Runs one npkc command line (without the program name); returns the exit status.
int runCommand(const std::vector<std::string> &args) {
  if (args.empty()) return usageError("no input file");
  std::string command = "build";
  size_t i = 0;
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (args[0] == "--version") {
    std::printf("npkc %s (LLVM %s)\n", NPK_VERSION, LLVM_VERSION_STRING);
    return 0;
  }
  if (args[0] == "--explain") {
    if (args.size() < 2) return usageError("--explain needs a diagnostic code, e.g. `npkc --explain ARIA-014`");
    std::string text = npk::explainCode(args[1]);
    if (text.empty()) return usageError("unknown diagnostic code `" + args[1] + "`");
    std::fputs(text.c_str(), stdout);
    return 0;
  }
  if (args[0] == "build" || args[0] == "run" || args[0] == "check") {
    command = args[0];
    i = 1;
  }
  npk::Options opts;
  opts.checkOnly = command == "check";
  std::vector<std::string> programArgs;
  for (; i < args.size(); ++i) {
    const std::string &a = args[i];
    if (a == "--") {
      if (command != "run") return usageError("`--` passes arguments to the program and is only valid with `run`");
      programArgs.assign(args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (a == "-o") {
      if (++i == args.size()) return usageError("-o needs an output path");
      opts.output = args[i];
    } else if (a == "-I") {
      if (++i == args.size()) return usageError("-I needs a directory");
      opts.includeDirs.push_back(args[i]);
    } else if (a.rfind("-I", 0) == 0 && a.size() > 2) {
      opts.includeDirs.push_back(a.substr(2));
    } else if (a.size() == 3 && a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '3') {
      opts.optLevel = a[2] - '0';
    } else if (a.rfind("--emit=", 0) == 0) {
      if (!parseEmit(a.substr(7), opts.emit))
        return usageError("unknown --emit kind `" + a.substr(7) + "` (tokens, ast, nir, llvm, asm, obj, exe)");
    } else if (a == "--emit-llvm") {
      opts.emit = npk::EmitKind::Llvm;
    } else if (a == "--help" || a == "--version") {
      return usageError("`" + a + "` must come first");
    } else if (!a.empty() && a[0] == '-' && a != "-") {
      return usageError("unknown option `" + a + "`");
    } else if (opts.input.empty()) {
      opts.input = a;
    } else {
      return usageError("more than one input file (`" + opts.input + "` and `" + a + "`)");
    }
  }
  if (opts.input.empty()) return usageError("no input file");
  if (command == "run") {
    if (opts.emit != npk::EmitKind::Exe) return usageError("`run` does not take --emit");
    return npk::compileAndRun(opts, programArgs);
  }
  return npk::compile(opts);
}

} // namespace

#ifdef NPK_SANITIZER_PLANT
// Test-only (CMake option NPK_SANITIZER_PLANT, never in a release build): a
// deliberate heap read one element past the end, run when NPK_SANITIZER_PLANT=1
// once the command has done its work and printed its output,
// so tests/sanitize can prove that the sanitizer harness fails on a finding.
static void runPlantedOutOfBoundsRead() {
  const char *plant = std::getenv("NPK_SANITIZER_PLANT");
  if (plant == nullptr || std::strcmp(plant, "1") != 0) return;
  int *cells = new int[4]{1, 2, 3, 4};
  volatile int sink = static_cast<volatile int *>(cells)[4];
  (void)sink;
  delete[] cells;
}
#endif

int main(int argc, char **argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  int status = 0;
  npk::runWithCompilerStack([&] { status = runCommand(args); });
#ifdef NPK_SANITIZER_PLANT
  // After the command's own output, so only the exit status tells.
  runPlantedOutOfBoundsRead();
#endif
  return status;
}
