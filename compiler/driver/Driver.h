// The compiler pipeline, one phase per line: lex+parse (load), check, own,
// lower, emit, link. `--emit=<phase>` stops after a phase and prints its product.
#pragma once

#include "diag/Diag.h"

#include <functional>
#include <string>
#include <vector>

namespace llvm {
class Module;
}

namespace npk {

enum class EmitKind { Tokens, Ast, Llvm, Asm, Obj, Exe, None, Nir };

// What the command line adds to the link: `-l NAME`, `-L DIR`, `-Wl,...`
// and extra object files or archives. The options keep their command-line
// order among themselves (LANGUAGE-2 A1.6), since the linker reads them in
// order (`-Wl,--whole-archive -l x -Wl,--no-whole-archive`).
struct LinkInputs {
  std::vector<std::string> options; // "-lNAME", "-LDIR", "-Wl,..." in command-line order
  std::vector<std::string> files;   // .o / .a / .so inputs
};

enum class DiagFormat { Text, Json };
enum class ColorMode { Auto, Always, Never };

struct Options {
  std::string input;
  std::string output;
  EmitKind emit = EmitKind::Exe;
  int optLevel = 0;
  bool debugInfo = false; // -g (the default of `run`), -g0
  std::vector<std::string> includeDirs;
  bool checkOnly = false;
  LinkInputs link;
  DiagFormat diagFormat = DiagFormat::Text;
  ColorMode color = ColorMode::Auto;
  WarningOptions warnings; // -W flags
  // --ownership-errors=warn (a developer option): the ownership phase's
  // findings (ARIA-014/015/022, NPK-O*) are warnings and the program is built
  // anyway, with the drops the dataflow places. The soundness oracle runs
  // rejected programs this way to count the checker's precision misses.
  bool ownershipWarnings = false;
  // When set, intermediate files go here as `<stem>.o` (or `.s`) and
  // `<stem>.link.txt` instead of fresh temporary files.
  std::string tempDir;
  // When set, the main module's source (taken by compile, checked like a
  // file's): `input` only names it. No file is read for the main module.
  std::string *inputText = nullptr;
  // Test hook (the soundness oracle's batch builder, tests/soundness): when
  // set, called with the optimised LLVM module before it is written.
  std::function<void(llvm::Module &)> beforeEmit;
  // false: the compiler's data (tree, NIR, LLVM module) is left to the
  // process's exit instead of being freed piece by piece (the command line
  // does so; an in-process caller keeps the default).
  bool freeMemory = true;
  // Check the generated LLVM IR before optimising it (an internal-error check:
  // exit status 70). The command line turns it on in debug builds and with
  // NPK_VERIFY_IR=1, which the test suite sets.
  bool verifyIR = true;
};

// Compiles according to `opts`; prints diagnostics; returns the process exit
// status (0 on success, 1 on any error).
int compile(const Options &opts);

} // namespace npk
