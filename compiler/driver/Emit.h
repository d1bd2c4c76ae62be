// Object code from an LLVM module, and linking with the system C compiler.
#pragma once

#include <llvm/IR/Module.h>

#include <string>

namespace npk {

// Sets the host target triple and data layout on a fresh module.
std::string configureTarget(llvm::Module &m);
// Optimises (when optLevel > 0) and writes assembly or an object file.
// Returns an empty string on success, or the reason it failed.
std::string optimizeModule(llvm::Module &m, int optLevel);
std::string emitMachineCode(llvm::Module &m, const std::string &path, bool assembly, int optLevel);
// Links `object` with the runtime into an executable at `output`. The
// linker's messages go to `logPath` (a fresh temporary file when empty).
std::string linkExecutable(const std::string &object, const std::string &output, const std::string &logPath = "");

} // namespace npk
