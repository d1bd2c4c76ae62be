// A trap's operands from the wrapped result (opt/Passes.h).
//
// A failed check reports its operands (`integer overflow: a + b`), so the
// trap's call takes them. For `total += x` in a loop that keeps `total`'s
// old value alive past the add: a register and a copy in every turn, for a
// message printed at most once (jit_calls ran 12% slower than its C twin
// for that copy alone). The wrapped result of an add or a subtraction gives
// either operand back: a = (a + b) - b, a = (a - b) + b, b = a - (a - b), in
// the same wrapping arithmetic. So where an operand is used by nothing else,
// the trap computes it again from the result, after the fact, in its cold
// block. Run last, when nothing folds it back.

#include "opt/Passes.h"
#include "opt/Traps.h"

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Instructions.h>
#include <llvm/ADT/SetVector.h>
#include <llvm/IR/CFG.h>
#include <llvm/IR/IntrinsicInst.h>
#include <llvm/Transforms/Utils/Cloning.h>
#include <llvm/Transforms/Utils/ValueMapper.h>

#include <vector>

namespace npk::opt {

using namespace llvm;

namespace {

// The checked add or subtraction whose overflow sends control into `trap`,
// a block entered from that check only.
WithOverflowInst *checkInto(BasicBlock &trap) {
  BasicBlock *from = trap.getSinglePredecessor();
  auto *br = from != nullptr ? dyn_cast<BranchInst>(from->getTerminator()) : nullptr;
  if (br == nullptr || !br->isConditional() || br->getSuccessor(0) != &trap || br->getSuccessor(1) == &trap)
    return nullptr;
  WithOverflowInst *op = testedOverflow(br);
  if (op == nullptr || (op->getBinaryOp() != Instruction::Add && op->getBinaryOp() != Instruction::Sub)) return nullptr;
  return op;
}

// A trap block entered from several checks (the two copies of a loop
// versioned on its checks, VersionLoopChecks.cpp) gets a copy per check,
// whose phis are then plain values.
bool oneTrapPerCheck(Function &f) {
  std::vector<BasicBlock *> shared;
  for (BasicBlock &bb : f) {
    if (endsProgram(bb) && bb.hasNPredecessorsOrMore(2) && bb.getUniquePredecessor() == nullptr)
      shared.push_back(&bb);
  }
  for (BasicBlock *trap : shared) {
    SmallSetVector<BasicBlock *, 4> from(pred_begin(trap), pred_end(trap));
    for (size_t i = 1; i < from.size(); ++i) {
      ValueToValueMapTy map;
      BasicBlock *copy = CloneBasicBlock(trap, map, ".copy", &f);
      for (Instruction &i2 : *copy) RemapInstruction(&i2, map, RF_IgnoreMissingLocals | RF_NoModuleLevelChanges);
      for (PHINode &phi : make_early_inc_range(copy->phis())) {
        phi.replaceAllUsesWith(phi.getIncomingValueForBlock(from[i]));
        phi.eraseFromParent();
      }
      trap->removePredecessor(from[i]);
      from[i]->getTerminator()->replaceSuccessorWith(trap, copy);
    }
    for (PHINode &phi : make_early_inc_range(trap->phis())) {
      phi.replaceAllUsesWith(phi.getIncomingValue(0));
      phi.eraseFromParent();
    }
  }
  return !shared.empty();
}

} // namespace

PreservedAnalyses TrapOperandsPass::run(Function &f, FunctionAnalysisManager &) {
  bool changed = oneTrapPerCheck(f);
  for (BasicBlock &bb : f) {
    CallInst *call = endingCall(bb);
    if (call == nullptr) continue;
    WithOverflowInst *op = checkInto(bb);
    if (op == nullptr) continue;
    for (unsigned k = 0; k < 2; ++k) {
      Value *operand = op->getArgOperand(k);
      Value *other = op->getArgOperand(1 - k);
      if (isa<Constant>(operand) || operand == other) continue;
      // Used by the check and this call only: the copy is all it costs.
      bool onlyHere = true;
      for (User *u : operand->users()) onlyHere = onlyHere && (u == op || u == call);
      if (!onlyHere || !is_contained(call->args(), operand)) continue;
      IRBuilder<> b(call);
      Value *result = b.CreateExtractValue(op, 0);
      Value *again = op->getBinaryOp() == Instruction::Add ? b.CreateSub(result, other)
                     : k == 0                                ? b.CreateAdd(result, other)
                                                             : b.CreateSub(other, result);
      for (Use &use : call->args())
        if (use.get() == operand) use.set(again);
      changed = true;
      break;
    }
  }
  return changed ? PreservedAnalyses::none() : PreservedAnalyses::all();
}

} // namespace npk::opt
