// Module loading: parses the main file and, transitively, every module it
// imports (`use "file.npk".*;`), each exactly once, and reports missing
// modules (naming every place searched) and import cycles (printing the cycle).
#pragma once

#include "ast/AST.h"
#include "diag/Diag.h"

#include <memory>
#include <string>
#include <vector>

namespace npk {

struct Program {
  std::vector<std::unique_ptr<Module>> modules; // dependencies before dependents
  Module *main = nullptr;
};

struct ModuleSearch {
  std::vector<std::string> includeDirs; // -I DIR, in order
  std::string stdlibDir;                // shipped with npkc
};

// Directory of the running npkc executable's standard library:
// <exe>/../share/npk/stdlib (the build tree mirrors the installed layout).
std::string defaultStdlibDir();
std::string defaultRuntimeLib();

// Returns false (with diagnostics) if the main file cannot be read.
bool loadProgram(const std::string &mainPath, const ModuleSearch &search, SourceManager &sm, DiagEngine &diags,
                 Program &out);

// Loads a file's text; false if it cannot be read.
bool readFile(const std::string &path, std::string &out);

} // namespace npk
