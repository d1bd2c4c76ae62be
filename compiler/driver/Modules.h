// Module loading: parses the main file and, transitively, every module it
// imports (`use "file.npk".*;`), each exactly once, and reports missing
// modules (naming every place searched) and import cycles (printing the cycle).
#pragma once

#include "ast/Program.h"
#include "diag/Diag.h"

#include <memory>
#include <string>
#include <vector>

namespace npk {

struct ModuleSearch {
  std::vector<std::string> includeDirs; // -I DIR, in order
  std::string stdlibDir;                // shipped with npkc
};

// Directory of the running npkc executable's standard library:
// <exe>/../share/npk/stdlib (the build tree mirrors the installed layout).
std::string defaultStdlibDir();
std::string defaultRuntimeLib();

// Returns false (with diagnostics) if the main file cannot be read. With
// `mainText`, that text (taken, and checked as readSource checks a file) is
// the main module's source and mainPath only names it (and the directory its
// imports are searched from first).
bool loadProgram(const std::string &mainPath, const ModuleSearch &search, SourceManager &sm, DiagEngine &diags,
                 Program &out, std::string *mainText = nullptr);

// Loads a file's text; false if it cannot be read.
bool readFile(const std::string &path, std::string &out);

// The largest source file npkc reads. Spans hold 32-bit byte offsets; the
// bound keeps far below that and refuses runaway inputs early.
constexpr size_t kMaxSourceBytes = size_t{64} << 20;

// Why a file could not be loaded as source: NPK-E001 (cannot be read, not a
// regular file, larger than kMaxSourceBytes) or NPK-E004 (not UTF-8 text, or
// holds a NUL byte). The message never quotes the file's contents.
struct SourceProblem {
  DiagId id = DiagId::IoError;
  std::string message;
  std::string help;
};

// Loads a source file: a regular file of at most kMaxSourceBytes of UTF-8
// text without NUL bytes. A leading UTF-8 byte order mark is dropped. Never
// blocks on a FIFO and never reads past the bound.
bool readSource(const std::string &path, std::string &out, SourceProblem &why);

// readSource's rules for text already in memory, named `path`: the same size
// bound, byte order mark, NUL and UTF-8 rules; `out` is the source.
bool sourceFromText(const std::string &path, std::string text, std::string &out, SourceProblem &why);

} // namespace npk
