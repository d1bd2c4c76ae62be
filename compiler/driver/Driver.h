// The compiler pipeline, one phase per line: lex+parse (load), check, own,
// lower, emit, link. `--emit=<phase>` stops after a phase and prints its product.
#pragma once

#include <string>
#include <vector>

namespace npk {

enum class EmitKind { Tokens, Ast, Llvm, Asm, Obj, Exe, None, Nir };

struct Options {
  std::string input;
  std::string output;
  EmitKind emit = EmitKind::Exe;
  int optLevel = 0;
  std::vector<std::string> includeDirs;
  bool checkOnly = false;
  // When set, intermediate files go here as `<stem>.o` (or `.s`) and
  // `<stem>.link.txt` instead of fresh temporary files.
  std::string tempDir;
};

// Compiles according to `opts`; prints diagnostics; returns the process exit
// status (0 on success, 1 on any error).
int compile(const Options &opts);

} // namespace npk
