#pragma once
// LLVM passes of npkc's own, for what its trapping arithmetic asks of the
// optimiser that LLVM's passes do not give (driver/Emit.cpp adds them to the
// -O1..-O3 pipelines; docs/architecture.md, "Optimisation").

#include <llvm/IR/PassManager.h>

namespace npk::opt {

// Checked accumulator recursion: `pass x + f(...)` (a trapping add of a
// recursive call's result) becomes a loop, as LLVM's tail-recursion
// elimination does for a wrapping add, without changing when or where the
// program traps (CheckedRecursion.cpp).
struct CheckedRecursionPass : llvm::PassInfoMixin<CheckedRecursionPass> {
  llvm::PreservedAnalyses run(llvm::Module &m, llvm::ModuleAnalysisManager &);
};

} // namespace npk::opt
