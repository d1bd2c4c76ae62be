#pragma once
// What npkc's LLVM passes (opt/) recognise as a trap: the cold block a
// failed check branches to, which ends the program.

#include <llvm/IR/BasicBlock.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/IntrinsicInst.h>

namespace npk::opt {

// The call that ends the program in bb (a trap's, `npk_trap_at`): a call
// that never returns, right before bb's `unreachable`. Values a loop kept in
// registers may be stored before it. Null when bb does not end so.
inline llvm::CallInst *endingCall(llvm::BasicBlock &bb) {
  auto *end = llvm::dyn_cast<llvm::UnreachableInst>(bb.getTerminator());
  auto *call = end != nullptr ? llvm::dyn_cast_or_null<llvm::CallInst>(end->getPrevNode()) : nullptr;
  return call != nullptr && call->doesNotReturn() ? call : nullptr;
}

inline bool endsProgram(llvm::BasicBlock &bb) { return endingCall(bb) != nullptr; }

// The checked operation (llvm.*.with.overflow) whose overflow bit a
// conditional branch tests, `br (extractvalue %op, 1), ...`; else null.
inline llvm::WithOverflowInst *testedOverflow(const llvm::BranchInst *br) {
  if (br == nullptr || !br->isConditional()) return nullptr;
  auto *bit = llvm::dyn_cast<llvm::ExtractValueInst>(br->getCondition());
  if (bit == nullptr || bit->getIndices()[0] != 1) return nullptr;
  return llvm::dyn_cast<llvm::WithOverflowInst>(bit->getAggregateOperand());
}

} // namespace npk::opt
