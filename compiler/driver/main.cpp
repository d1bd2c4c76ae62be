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
#include <malloc.h>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif
#ifdef NDEBUG
constexpr bool kDebugBuild = false;
#else
constexpr bool kDebugBuild = true;
#endif

#ifndef NPK_VERSION
#define NPK_VERSION "0.0.0"
#endif

namespace {

const char *const kHelp =
    "npkc — the npk compiler for the Nitpick core language\n"
    "\n"
    "usage:\n"
    "  npkc build FILE [-o OUT] [-O0|-O1|-O2|-O3] [-g|-g0] [-I DIR]... [-W...]... [--emit=KIND] [LINK...]\n"
    "  npkc run FILE [-O0..-O3] [-g|-g0] [-I DIR]... [-W...]... [LINK...] [-- ARGS...]\n"
    "  npkc check FILE [-I DIR]... [-W...]...\n"
    "  npkc FILE [-o OUT] [--emit-llvm]          (reference compiler spelling of `build`)\n"
    "  npkc --explain CODE                       (long explanation of a diagnostic;\n"
    "                                            any letter case: aria-014)\n"
    "  npkc --version                            (npkc, LLVM and runtime backends)\n"
    "  npkc --help\n"
    "\n"
    "commands:\n"
    "  build   compile FILE (and the modules it imports) to an executable\n"
    "  run     compile FILE to a temporary executable and run it with ARGS (the\n"
    "          words after `--`); npkc exits with the program's exit status, or\n"
    "          128+N after a line naming the signal if signal N killed it, or 1\n"
    "          after `npkc: compilation failed` if FILE does not compile; the\n"
    "          temporary directory (under TMPDIR) is removed on every path, and\n"
    "          SIGINT/SIGTERM sent to npkc is passed on to the program\n"
    "  check   report diagnostics only; produce nothing (no -o, no --emit)\n"
    "  A first word that is not a command, an option, a `.npk` name or an\n"
    "  existing file is an unknown command.\n"
    "\n"
    "options:\n"
    "  -o OUT          output path (not empty; not with check or run); by default an\n"
    "                  executable is named after FILE without .npk and an object\n"
    "                  file after FILE with .o, both in the current directory;\n"
    "                  tokens, ast, nir, llvm and asm go to stdout (as with `-o -`)\n"
    "  -O0..-O3        optimisation level (default -O0)\n"
    "  -g              emit DWARF debug info for gdb: source lines, functions by\n"
    "                  their Nitpick names, parameters, locals and their types;\n"
    "                  the default of `run`, off for `build`\n"
    "  -g0             no debug info (turns off `run`'s default -g)\n"
    "  -I DIR          add DIR to the module search path (after the importing\n"
    "                  file's directory and NPK_PATH, before the standard library)\n"
    "  --emit=KIND     stop after a phase and write its product: tokens, ast,\n"
    "                  nir (the typed IR after drop elaboration), llvm (IR) and\n"
    "                  asm as text (stdout unless -o); obj (an\n"
    "                  object file) and exe (an executable, the default) are\n"
    "                  always written to files\n"
    "  --emit-llvm     same as --emit=llvm\n"
    "  --diagnostics-format=text|json\n"
    "                  text (default): annotated source lines;\n"
    "                  json: one JSON object per diagnostic per line on stderr\n"
    "                  (code, severity, message, file, line, column, end_line,\n"
    "                  end_column, byte_range, labels, notes, help, fixits) and\n"
    "                  no summary lines; command-line mistakes stay plain text\n"
    "  --color=auto|always|never\n"
    "                  colour text diagnostics; auto (default) colours a terminal\n"
    "                  unless NO_COLOR is set and not empty\n"
    "  --ownership-errors=error|warn\n"
    "                  error (default): the ownership checker's findings\n"
    "                  (ARIA-014/015/022 and every NPK-O code) are errors; warn (a\n"
    "                  developer option, for measuring the checker): they are\n"
    "                  warnings with the same codes and the program is built\n"
    "                  anyway, with the drops drop.npk places; it may leak, free\n"
    "                  twice or use freed memory (run it with NPK_AUDIT=1)\n"
    "\n"
    "linking (LINK above; build and run only; every program is linked with the\n"
    "runtime, libm and libpthread by the first of cc, gcc, clang on PATH):\n"
    "  -l NAME         link libNAME (also -lNAME), after the program's objects\n"
    "  -L DIR          search DIR for -l libraries (also -LDIR)\n"
    "  -Wl,OPT[,OPT]   pass options to the linker\n"
    "  FILE.o FILE.a FILE.so\n"
    "                  extra objects, archives and shared libraries to link\n"
    "  A failed link is one NPK-E005 error naming the cause (an undefined\n"
    "  symbol, a missing library), not the linker's raw output.\n"
    "\n";

// After the warnings, which the help lists from Diagnostics.def.
const char *const kHelpTail =
    "environment:\n"
    "  NPK_PATH        colon-separated module directories\n"
    "  NO_COLOR        when set and not empty, --color=auto does not colour\n"
    "  NPK_VERIFY_IR   when set and not 0, check the generated LLVM IR before\n"
    "                  optimising it (an internal check, exit status 70 on a\n"
    "                  finding; always on in debug builds and in the tests)\n"
    "  TMPDIR          where `run` makes its npk-run-* directory (default /tmp)\n"
    "\n"
    "exit status: 0 on success, 1 when any error was reported (warnings do not\n"
    "count unless -Werror).\n";

void printHelp() {
  std::string text = kHelp;
  text += "warnings (build, run and check; flags apply in order, the last one wins;\n"
          "warnings are reported for the program's modules, not the standard library):\n"
          "  -W<name>        turn the warning on\n"
          "  -Wno-<name>     turn it off\n"
          "  -Wall           turn on every warning that is on by default\n"
          "  -Werror         report warnings as errors: npkc exits with status 1\n"
          "  -Wno-error      warnings stay warnings (the default)\n"
          "  the warnings by <name>, with their codes (on or off by default):\n";
  for (npk::DiagId id : npk::allWarnings()) {
    std::string name(npk::warningFlag(id));
    std::string line = "    " + name;
    line += std::string(name.size() < 18 ? 18 - name.size() : 1, ' ');
    line += "[" + std::string(npk::diagCode(id)) + "] " + std::string(npk::diagTitle(id));
    line += npk::warningOnByDefault(id) ? " (on)\n" : " (off)\n";
    text += line;
  }
  text += "\n";
  text += kHelpTail;
  std::fputs(text.c_str(), stdout);
}

int usageError(const std::string &msg) {
  std::fprintf(stderr, "npkc: error: %s\n(run `npkc --help` for usage)\n", msg.c_str());
  return 1;
}

// A first word that is neither an option nor a source file: a mistyped
// command (`npkc frobnicate x.npk`). A source file is named `*.npk` or exists
// (the reference spelling `npkc FILE` accepts any existing file).
bool looksLikeCommand(const std::string &word) {
  if (word.empty() || word[0] == '-' || word.find('/') != std::string::npos) return false;
  if (word.size() > 4 && word.compare(word.size() - 4, 4, ".npk") == 0) return false;
  return !llvm::sys::fs::exists(word);
}

// Object files, archives and shared libraries on the command line go to the
// linker; every other file is the source.
bool isLinkInput(const std::string &path) {
  auto endsWith = [&](const char *ext) {
    size_t n = std::strlen(ext);
    return path.size() > n && path.compare(path.size() - n, n, ext) == 0;
  };
  return endsWith(".o") || endsWith(".a") || endsWith(".so") || path.find(".so.") != std::string::npos;
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
  // --help, --version and --explain CODE stand alone: a word after them
  // would be silently ignored.
  if ((args[0] == "--help" || args[0] == "-h" || args[0] == "help" || args[0] == "--version") && args.size() > 1)
    return usageError("`" + args[0] + "` takes no other arguments (found `" + args[1] + "`)");
  if (args[0] == "--explain" && args.size() > 2)
    return usageError("--explain takes one diagnostic code (found `" + args[2] + "` after `" + args[1] + "`)");
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    printHelp();
    return 0;
  }
  if (args[0] == "--version") {
    std::printf("npkc %s\nLLVM %s\nruntime JIT code backends: %s\n", NPK_VERSION, LLVM_VERSION_STRING,
                NPK_RUNTIME_BACKENDS);
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
  } else if (looksLikeCommand(args[0])) {
    return usageError("unknown command `" + args[0] + "` (commands: build, run, check)");
  }
  npk::Options opts;
  opts.checkOnly = command == "check";
  // The process ends after one compilation: freeing its data piece by piece
  // would be wasted work, except under LeakSanitizer, which must see none.
  opts.freeMemory = kSanitized;
  const char *verify = std::getenv("NPK_VERIFY_IR");
  opts.verifyIR = kDebugBuild || (verify && *verify && std::strcmp(verify, "0") != 0);
  opts.debugInfo = command == "run";
  std::vector<std::string> programArgs;
  bool emitGiven = false;
  for (; i < args.size(); ++i) {
    const std::string &a = args[i];
    if (a == "--") {
      if (command != "run") return usageError("`--` passes arguments to the program and is only valid with `run`");
      programArgs.assign(args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (a == "-o") {
      if (++i == args.size() || args[i].empty()) return usageError("-o needs an output path");
      if (command == "check") return usageError("`check` writes no output, so it does not take -o");
      if (command == "run") return usageError("`run` writes no output, so it does not take -o");
      opts.output = args[i];
    } else if (a == "-I") {
      if (++i == args.size()) return usageError("-I needs a directory");
      opts.includeDirs.push_back(args[i]);
    } else if (a.rfind("-I", 0) == 0 && a.size() > 2) {
      opts.includeDirs.push_back(a.substr(2));
    } else if (a.size() == 3 && a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '3') {
      opts.optLevel = a[2] - '0';
    } else if (a == "-g" || a == "-g0") {
      opts.debugInfo = a == "-g";
    } else if (a.rfind("--emit=", 0) == 0) {
      emitGiven = true;
      if (!parseEmit(a.substr(7), opts.emit))
        return usageError("unknown --emit kind `" + a.substr(7) + "` (tokens, ast, nir, llvm, asm, obj, exe)");
    } else if (a == "-l" || a == "-L") {
      if (++i == args.size() || args[i].empty())
        return usageError(a + (a == "-l" ? " needs a library name" : " needs a directory"));
      opts.link.options.push_back(a + args[i]);
    } else if (a.size() > 2 && (a.rfind("-l", 0) == 0 || a.rfind("-L", 0) == 0)) {
      opts.link.options.push_back(a);
    } else if (a.rfind("-Wl,", 0) == 0 && a.size() > 4) {
      opts.link.options.push_back(a);
    } else if (a.rfind("-W", 0) == 0) {
      std::string suggestion;
      if (!opts.warnings.apply(a, suggestion))
        return usageError("unknown warning option `" + a + "`" +
                          (suggestion.empty() ? "" : "; did you mean `" + suggestion + "`?") +
                          " (see `npkc --help` for the warnings)");
    } else if (isLinkInput(a)) {
      opts.link.files.push_back(a);
    } else if (a.rfind("--diagnostics-format=", 0) == 0) {
      std::string v = a.substr(21);
      if (v != "text" && v != "json") return usageError("unknown --diagnostics-format `" + v + "` (text, json)");
      opts.diagFormat = v == "json" ? npk::DiagFormat::Json : npk::DiagFormat::Text;
    } else if (a.rfind("--color=", 0) == 0) {
      std::string v = a.substr(8);
      if (v == "auto") opts.color = npk::ColorMode::Auto;
      else if (v == "always") opts.color = npk::ColorMode::Always;
      else if (v == "never") opts.color = npk::ColorMode::Never;
      else return usageError("unknown --color `" + v + "` (auto, always, never)");
    } else if (a.rfind("--ownership-errors=", 0) == 0) {
      std::string v = a.substr(19);
      if (v != "error" && v != "warn") return usageError("unknown --ownership-errors `" + v + "` (error, warn)");
      opts.ownershipWarnings = v == "warn";
    } else if (a == "--emit-llvm") {
      emitGiven = true;
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
  // Like -o: `check` produces nothing, so an --emit would be silently ignored.
  if (opts.checkOnly && emitGiven) return usageError("`check` produces no output, so it does not take --emit");
  // `check` and --emit kinds other than exe accept and ignore -l, -L and
  // -Wl, (LANGUAGE-2 A1.6), so one command line serves every step; an extra
  // input file would be silently unused, so it is refused.
  npk::LinkInputs &link = opts.link;
  if (opts.checkOnly || opts.emit != npk::EmitKind::Exe) {
    if (!link.files.empty())
      return usageError(".o/.a/.so inputs are for linking an executable (`build` or `run`, without --emit other "
                        "than exe)");
    link.options.clear();
  }
  if ((opts.emit == npk::EmitKind::Obj || opts.emit == npk::EmitKind::Exe) && opts.output == "-")
    return usageError("an object file or executable is written to a file; `-o -` (stdout) is for "
                      "--emit=tokens, ast, nir, llvm and asm");
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

#ifdef NPK_WITH_JEMALLOC
// jemalloc hands pages freed in bulk back to the system after 0.3 s instead
// of 10 s. The phases free the tree, each function's NIR and each emitted
// function's IR while later phases allocate objects of other sizes, which
// those pages did not serve: the 100k-line benchmark's -O0 peak falls by an
// eighth for about 1% more time (bench/README.md, "Compile time").
// MALLOC_CONF still overrides it.
extern "C" {
extern const char *malloc_conf;
const char *malloc_conf = "dirty_decay_ms:300";
}
#endif

int main(int argc, char **argv) {
  // The compiler allocates many small nodes and frees few until it exits:
  // growing the heap 64 MiB at a time instead of 128 KiB saves most of the
  // system calls that grow it (bench/README.md, "Compile time"). With
  // jemalloc (compiler/CMakeLists.txt) glibc's heap serves nothing, and
  // this does nothing.
  mallopt(M_TOP_PAD, 64 << 20);
  std::vector<std::string> args(argv + 1, argv + argc);
  int status = 0;
  npk::runWithCompilerStack([&] { status = runCommand(args); });
#ifdef NPK_SANITIZER_PLANT
  // After the command's own output, so only the exit status tells.
  runPlantedOutOfBoundsRead();
#endif
  return status;
}
