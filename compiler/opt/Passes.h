#pragma once
// LLVM passes of npkc's own, for what its trapping arithmetic asks of the
// optimiser that LLVM's passes do not give (driver/Emit.cpp adds them to the
// -O1..-O3 pipelines; docs/architecture.md, "A new optimisation"). What they
// take for a trap and a check: Traps.h.

#include <llvm/IR/PassManager.h>

namespace npk::opt {

// Checked accumulator recursion: `pass x + f(...)` (a trapping add of a
// recursive call's result) becomes a loop, as LLVM's tail-recursion
// elimination does for a wrapping add, without changing when or where the
// program traps (CheckedRecursion.cpp).
struct CheckedRecursionPass : llvm::PassInfoMixin<CheckedRecursionPass> {
  llvm::PreservedAnalyses run(llvm::Module &m, llvm::ModuleAnalysisManager &);
};

// Loops versioned on their index checks: a loop whose checks of
// `invariant + counter` (or of an invariant condition) cannot fail, as one
// test before it shows, runs a copy without them (VersionLoopChecks.cpp).
struct VersionLoopChecksPass : llvm::PassInfoMixin<VersionLoopChecksPass> {
  llvm::PreservedAnalyses run(llvm::Function &f, llvm::FunctionAnalysisManager &fam);
};

// Speculated checks: an if/else of a few cheap instructions whose one
// obstacle to becoming a conditional move is a side's overflow check gets
// the check above the branch, still taken only for that side
// (SpeculateChecks.cpp).
struct SpeculateChecksPass : llvm::PassInfoMixin<SpeculateChecksPass> {
  llvm::PreservedAnalyses run(llvm::Function &f, llvm::FunctionAnalysisManager &);
};

// On x86, a checked multiplication by 3, 5 or 9 tests its operand's range
// instead of `imul`'s overflow flag, so the product is one `lea`
// (ConstantMulCheck.cpp).
struct ConstantMulCheckPass : llvm::PassInfoMixin<ConstantMulCheckPass> {
  llvm::PreservedAnalyses run(llvm::Function &f, llvm::FunctionAnalysisManager &);
};

// A trap reached from a checked add or subtraction computes an operand that
// nothing else uses from the wrapped result, instead of keeping it alive
// through the operation (TrapOperands.cpp). Runs last.
struct TrapOperandsPass : llvm::PassInfoMixin<TrapOperandsPass> {
  llvm::PreservedAnalyses run(llvm::Function &f, llvm::FunctionAnalysisManager &);
};

// Loads moved down their block to their first use, past nothing that writes
// memory or has an effect (SinkLoads.cpp). Runs last.
struct SinkLoadsPass : llvm::PassInfoMixin<SinkLoadsPass> {
  llvm::PreservedAnalyses run(llvm::Function &f, llvm::FunctionAnalysisManager &);
};

} // namespace npk::opt
