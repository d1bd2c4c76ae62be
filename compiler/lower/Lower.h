// Lowering: the NIR of the checked program (after drop elaboration) becomes
// one LLVM module. Every
// function with a body returns its Result<T> as `{ i1 is_error, i32 err, T val }`
// (`{ i1, i32 }` for NIL). Integer `+ - *` trap on overflow, `/ %` on zero,
// checked casts on out-of-range values; traps and unhandled failures go
// through the runtime (npk_trap / npk_fail) and so through `failsafe`.
#pragma once

#include "check/Checker.h"
#include "nir/NIR.h"

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

#include <functional>
#include <memory>
#include <unordered_set>

namespace npk {

struct LowerOptions {
  bool debugInfo = false; // `-g`: DWARF for the program (lower/DebugInfo.h)
  bool optimized = false; // the module will be optimised (recorded in the debug info)
};

// The NIR the lowering consumes, a function at a time: `forEach` hands it
// each function's NIR, drops planned and passes run, in program order (the
// driver builds each one as it is needed, so only one is alive at a time);
// `plainReturn` names the functions that return without a Result (known
// before any is lowered: every call depends on it).
struct NirFuncs {
  std::function<void(const std::function<void(nir::Func &)> &lower)> forEach;
  std::unordered_set<const FuncDecl *> plainReturn;
  // The functions of a module built whole (tests).
  static NirFuncs of(nir::Module &m);
};

// `target` is an empty module the driver has configured for the target
// machine (triple and data layout); the program is lowered into it. The
// NIR and the function bodies are consumed: each function's blocks and its
// body's statements are released once it is lowered.
std::unique_ptr<llvm::Module> lowerProgram(std::unique_ptr<llvm::Module> target, const SourceManager &sm,
                                           Program &program, const Symbols &syms, NirFuncs nir,
                                           TypeContext &types, const LowerOptions &options = {});

} // namespace npk
