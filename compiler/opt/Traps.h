#pragma once
// What npkc's LLVM passes (opt/) recognise as a trap: the cold block a
// failed check branches to, which ends the program.

#include <llvm/IR/BasicBlock.h>
#include <llvm/IR/Instructions.h>

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

} // namespace npk::opt
