// Speculated checks (opt/Passes.h).
//
// `x = even ? x / 2 : 3 * x + 1` is a conditional move in C; with a trapping
// `*`, the odd side ends in a branch to the trap, and LLVM keeps the whole
// if/else as branches: a side that can branch away is not speculated. When
// the branch goes either way at random, every other turn is a mispredicted
// jump (the collatz kernel ran 1.56x its C twin for it).
//
// The pass moves a side's checked operation, which has no effect of its own,
// above the branch, and with it the test: the trap is taken when the check
// fails and the branch would have gone to that side, in a cold block of its
// own, so the common path only tests the overflow bit. What is left of the
// side has no branch and LLVM's select formation takes it from there. It
// does so only where that is likely: an if/else (or an if) of a few cheap
// instructions joining again, whose side's checks are the only obstacle.
//
// The program traps in the same cases with the same site and operands: the
// check moved is still taken only on its side, and before anything of that
// side has happened.

#include "opt/Passes.h"
#include "opt/Traps.h"

#include <llvm/Analysis/ValueTracking.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/IntrinsicInst.h>
#include <llvm/IR/MDBuilder.h>
#include <llvm/Transforms/Utils/BasicBlockUtils.h>

#include <vector>

namespace npk::opt {

namespace {

using namespace llvm;

// The most instructions (that cost anything) a side may have, its checked
// operation included, to be speculated, and the most checks. Each check
// moved is work and a branch on the common path: a side of several checked
// operations is work the branch usually saves (the structs kernel's rare
// bounce ran 40% slower with its three checks moved).
constexpr int kBudget = 3;
constexpr size_t kChecks = 1;

bool costless(const Instruction &i) { return isa<ExtractValueInst>(i) || isa<DbgInfoIntrinsic>(i); }

// The overflow check a block ends with: `br (extractvalue %op, 1), trap,
// next`, %op an llvm.*.with.overflow in the block.
BranchInst *checkOf(BasicBlock &bb) {
  auto *br = dyn_cast<BranchInst>(bb.getTerminator());
  WithOverflowInst *op = testedOverflow(br);
  if (op == nullptr || op->getParent() != &bb || !endsProgram(*br->getSuccessor(0))) return nullptr;
  return br;
}

// Whether every instruction of bb but its terminator may run on either side.
bool speculatable(BasicBlock &bb, int &cost) {
  for (Instruction &i : bb) {
    if (&i == bb.getTerminator()) break;
    if (isa<PHINode>(i) || !isSafeToSpeculativelyExecute(&i)) return false;
    if (!costless(i)) ++cost;
  }
  return cost <= kBudget;
}

// The side of `head`'s branch that starts at `side`: blocks each entered
// from the one before only, each speculatable but for a check at its end,
// the last going on to `join`. Its blocks in order; empty if it is not one.
std::vector<BasicBlock *> sideOf(BasicBlock *head, BasicBlock *side, BasicBlock *&join) {
  std::vector<BasicBlock *> blocks;
  int cost = 0;
  BasicBlock *from = head;
  for (BasicBlock *bb = side; blocks.size() <= kChecks; bb = cast<BranchInst>(bb->getTerminator())->getSuccessor(1)) {
    if (bb->getSinglePredecessor() != from || !speculatable(*bb, cost)) return {};
    blocks.push_back(bb);
    auto *br = dyn_cast<BranchInst>(bb->getTerminator());
    if (br != nullptr && br->isUnconditional()) {
      join = br->getSuccessor(0);
      return blocks;
    }
    if (checkOf(*bb) == nullptr) return {};
    from = bb;
  }
  return {};
}

// Moves the checks of `blocks` (one side of head's branch, taken when the
// branch's condition is `taken`) above the branch. Returns the block that
// now ends with head's branch.
BasicBlock *hoist(BasicBlock *head, const std::vector<BasicBlock *> &blocks, bool taken, MDNode *unlikely) {
  LLVMContext &ctx = head->getContext();
  for (BasicBlock *bb : blocks) {
    BranchInst *check = checkOf(*bb);
    if (check == nullptr) continue;
    auto *branch = cast<BranchInst>(head->getTerminator());
    while (&bb->front() != check) bb->front().moveBefore(branch);
    BasicBlock *trap = check->getSuccessor(0);
    BasicBlock *next = check->getSuccessor(1);
    Value *overflow = check->getCondition();
    BranchInst::Create(next, bb);
    check->eraseFromParent();
    // head: ...; br overflow, sided, go. sided: br (this side?), trap, go.
    BasicBlock *go = head->splitBasicBlock(branch, head->getName() + ".go");
    BasicBlock *sided = BasicBlock::Create(ctx, head->getName() + ".sided", head->getParent(), go);
    head->getTerminator()->eraseFromParent();
    IRBuilder<> b(head);
    b.CreateCondBr(overflow, sided, go, unlikely);
    b.SetInsertPoint(sided);
    Value *cond = branch->getCondition();
    b.CreateCondBr(taken ? cond : b.CreateNot(cond), trap, go);
    for (PHINode &phi : trap->phis()) phi.replaceIncomingBlockWith(bb, sided);
    head = go;
  }
  return head;
}

} // namespace

PreservedAnalyses SpeculateChecksPass::run(Function &f, FunctionAnalysisManager &) {
  MDNode *unlikely = MDBuilder(f.getContext()).createBranchWeights(1, 1 << 20);
  std::vector<BasicBlock *> heads;
  for (BasicBlock &bb : f)
    if (auto *br = dyn_cast<BranchInst>(bb.getTerminator());
        br != nullptr && br->isConditional() && br->getSuccessor(0) != br->getSuccessor(1))
      heads.push_back(&bb);
  bool changed = false;
  for (BasicBlock *head : heads) {
    // A check moved by an earlier turn leaves an unconditional branch.
    auto *br = cast<BranchInst>(head->getTerminator());
    if (!br->isConditional()) continue;
    BasicBlock *joinThen = nullptr;
    BasicBlock *joinElse = nullptr;
    std::vector<BasicBlock *> sides[2] = {sideOf(head, br->getSuccessor(0), joinThen),
                                          sideOf(head, br->getSuccessor(1), joinElse)};
    // An if/else joining again, or an if whose other way is the join.
    bool diamond = !sides[0].empty() && !sides[1].empty() && joinThen == joinElse;
    bool ifThen = !sides[0].empty() && joinThen == br->getSuccessor(1);
    bool ifElse = !sides[1].empty() && joinElse == br->getSuccessor(0);
    if (!diamond && !ifThen && !ifElse) continue;
    for (int which = 0; which < 2; ++which) {
      if (sides[which].size() < 2) continue; // no check: nothing in the way
      if (!diamond && (which == 0 ? !ifThen : !ifElse)) continue;
      head = hoist(head, sides[which], which == 0, unlikely);
      changed = true;
    }
  }
  return changed ? PreservedAnalyses::none() : PreservedAnalyses::all();
}

} // namespace npk::opt
