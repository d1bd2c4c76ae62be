// Object code from an LLVM module, and linking with the system C compiler.
#pragma once

#include "driver/Driver.h"

#include <llvm/IR/Module.h>

#include <string>
#include <vector>

namespace npk {

// Sets the host target triple and data layout on a fresh module.
std::string configureTarget(llvm::Module &m);
// Optimises (when optLevel > 0) and writes assembly or an object file.
// Returns an empty string on success, or the reason it failed;
// `writeFailed` tells a file that could not be written (opened, filled or
// closed) from a target that cannot emit. emitMachineCode leaves each
// function's body a lone `unreachable` once its code is written.
std::string optimizeModule(llvm::Module &m, int optLevel);
std::string emitMachineCode(llvm::Module &m, const std::string &path, bool assembly, int optLevel,
                            bool &writeFailed);
// Why a link failed, summarised from the linker's output: the message names
// the first cause, notes list every cause (or the linker's own lines when
// none is recognised) and the command, help says what to change.
struct LinkFailure {
  std::string message;
  std::vector<std::string> notes;
  std::string help;
};

// The C compiler that drives the system linker: the first of cc, gcc, clang
// on PATH; empty when there is none.
std::string findLinker();

// Links `object` and `extra` with the runtime, libm and libpthread into an
// executable at `output`. The linker's messages go to `logPath` (a fresh
// temporary file when empty). Returns false and fills `why` on failure.
bool linkExecutable(const std::string &object, const LinkInputs &extra, const std::string &output,
                    const std::string &logPath, LinkFailure &why);

} // namespace npk
