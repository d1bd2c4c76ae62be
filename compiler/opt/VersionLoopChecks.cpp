// Loops versioned on their index checks (opt/Passes.h).
//
// `c[i * n + j]` in a loop over j checks `i * n + j` for overflow in every
// turn, though i * n does not change in the loop and j only counts: the
// sum is monotone in j, so if it fits at the first and the last value j can
// take, it fits at every one. The pass tests that once before the loop and
// runs a copy of the loop without those checks when it holds; otherwise the
// loop as it was, which traps where the program does. A check whose
// condition does not change in the loop is tested the same way: if it would
// fail, the checked loop runs and fails it at the right moment.
//
// Handled: an innermost loop with a preheader and dedicated exits, whose
// trip count SCEV bounds (`getSymbolicMaxBackedgeTakenCount`), and branches
// on the overflow bit of an add or a subtraction of a loop-invariant value
// and an induction variable that steps by 1 or -1 without wrapping (signed
// checks need SCEV's nsw, unsigned ones its nuw), or on a loop-invariant
// condition into a block that ends the program. Anything the test
// before the loop cannot compute exactly (the last value overflowing, a
// count too large) sends the program to the checked loop.

#include "opt/Passes.h"
#include "opt/Traps.h"

#include <llvm/Analysis/LoopInfo.h>
#include <llvm/Analysis/ScalarEvolution.h>
#include <llvm/Analysis/ScalarEvolutionExpressions.h>
#include <llvm/IR/Dominators.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/IntrinsicInst.h>
#include <llvm/IR/MDBuilder.h>
#include <llvm/IR/Module.h>
#include <llvm/Transforms/Utils/BasicBlockUtils.h>
#include <llvm/Transforms/Utils/Cloning.h>
#include <llvm/Transforms/Utils/ScalarEvolutionExpander.h>

#include <vector>

namespace npk::opt {

using namespace llvm;

namespace {

// A loop of more blocks than this is not copied (code size).
constexpr unsigned kMaxBlocks = 32;

// The checks of L the test before it can answer for.
struct Check {
  BranchInst *branch;    // br overflow, trap, next
  WithOverflowInst *op;  // null: the branch's condition is loop-invariant
  unsigned counter = 0;  // which operand of op is the induction variable
  const SCEVAddRecExpr *steps = nullptr;
};

// Marks the checks of a loop's checked copy, which is not versioned again
// when the function is optimised again (after inlining, say).
constexpr const char *kKept = "npk.checked";

std::vector<Check> checksOf(Loop &loop, ScalarEvolution &se) {
  std::vector<Check> checks;
  for (BasicBlock *bb : loop.blocks()) {
    auto *br = dyn_cast<BranchInst>(bb->getTerminator());
    if (br == nullptr || !br->isConditional() || br->getSuccessor(0) == br->getSuccessor(1) ||
        br->getMetadata(kKept) != nullptr)
      continue;
    // A condition that does not change: only a check, one that ends the
    // program (else this would be unswitching, for any `if`).
    if (loop.isLoopInvariant(br->getCondition())) {
      if (!loop.contains(br->getSuccessor(0)) && endsProgram(*br->getSuccessor(0))) checks.push_back({br, nullptr});
      continue;
    }
    // An overflow bit: when it cannot be set, the branch always takes its
    // second way, wherever the first leads.
    WithOverflowInst *op = testedOverflow(br);
    if (op == nullptr || (op->getBinaryOp() != Instruction::Add && op->getBinaryOp() != Instruction::Sub)) continue;
    for (unsigned k = 0; k < 2; ++k) {
      if (!loop.isLoopInvariant(op->getArgOperand(1 - k))) continue;
      auto *steps = dyn_cast<SCEVAddRecExpr>(se.getSCEV(op->getArgOperand(k)));
      if (steps == nullptr || steps->getLoop() != &loop || !steps->isAffine()) continue;
      auto *step = dyn_cast<SCEVConstant>(steps->getStepRecurrence(se));
      if (step == nullptr || !(step->getAPInt().isOne() || step->getAPInt().isAllOnes())) continue;
      if (!steps->getNoWrapFlags(op->isSigned() ? SCEV::FlagNSW : SCEV::FlagNUW)) continue;
      checks.push_back({br, op, k, steps});
      break;
    }
  }
  return checks;
}

// Whether the add or subtraction `op` overflows with its counter operand
// replaced by `value`, or-ed into `bad`.
Value *overflowsAt(IRBuilder<> &b, WithOverflowInst *op, unsigned counter, Value *value, Value *bad) {
  Value *a = counter == 0 ? value : op->getLHS();
  Value *c = counter == 1 ? value : op->getRHS();
  Value *pair = b.CreateBinaryIntrinsic(op->getIntrinsicID(), a, c);
  return b.CreateOr(bad, b.CreateExtractValue(pair, 1));
}

// Builds, at the end of the preheader, whether some check may fail in L.
Value *mayFail(Loop &loop, const std::vector<Check> &checks, const SCEV *maxTaken, ScalarEvolution &se) {
  BasicBlock *pre = loop.getLoopPreheader();
  IRBuilder<> b(pre->getTerminator());
  SCEVExpander expander(se, pre->getModule()->getDataLayout(), "npk.ver");
  Value *bad = b.getFalse();
  for (const Check &check : checks) {
    if (check.op == nullptr) {
      bad = b.CreateOr(bad, check.branch->getCondition());
      continue;
    }
    Type *type = check.steps->getType();
    bool isSigned = check.op->isSigned();
    Value *first = expander.expandCodeFor(check.steps->getStart(), type, pre->getTerminator());
    Value *taken = expander.expandCodeFor(se.getTruncateOrZeroExtend(maxTaken, type), type, pre->getTerminator());
    b.SetInsertPoint(pre->getTerminator());
    // The last value: first + taken (or - taken), exactly; a count that does
    // not fit the counter's type, or a last value that overflows, is a "may".
    if (maxTaken->getType()->getIntegerBitWidth() > type->getIntegerBitWidth())
      bad = b.CreateOr(bad, b.CreateICmpNE(expander.expandCodeFor(maxTaken, maxTaken->getType(), pre->getTerminator()),
                                           b.CreateZExt(taken, maxTaken->getType())));
    if (isSigned) bad = b.CreateOr(bad, b.CreateICmpSLT(taken, ConstantInt::get(type, 0)));
    bool up = cast<SCEVConstant>(check.steps->getStepRecurrence(se))->getAPInt().isOne();
    Intrinsic::ID move = isSigned ? (up ? Intrinsic::sadd_with_overflow : Intrinsic::ssub_with_overflow)
                                  : (up ? Intrinsic::uadd_with_overflow : Intrinsic::usub_with_overflow);
    Value *lastPair = b.CreateBinaryIntrinsic(move, first, taken);
    bad = b.CreateOr(bad, b.CreateExtractValue(lastPair, 1));
    Value *last = b.CreateExtractValue(lastPair, 0);
    bad = overflowsAt(b, check.op, check.counter, first, bad);
    bad = overflowsAt(b, check.op, check.counter, last, bad);
  }
  return bad;
}

// Copies L: the copy keeps every check and runs when `bad`; L loses the
// checks `checks` names.
void version(Loop &loop, const std::vector<Check> &checks, Value *bad, LoopInfo &li, DominatorTree &dt) {
  BasicBlock *test = loop.getLoopPreheader();
  BasicBlock *pre = SplitBlock(test, test->getTerminator(), &dt, &li, nullptr, loop.getHeader()->getName() + ".ph");
  SmallVector<BasicBlock *, 16> exits;
  loop.getExitBlocks(exits);
  ValueToValueMapTy map;
  SmallVector<BasicBlock *, 16> blocks;
  Loop *checked = cloneLoopWithPreheader(pre, test, &loop, map, ".checked", &li, &dt, blocks);
  remapInstructionsInBlocks(blocks, map);
  // Each exit is entered from both loops now.
  SmallPtrSet<BasicBlock *, 16> seen;
  for (BasicBlock *exit : exits) {
    if (!seen.insert(exit).second) continue;
    for (PHINode &phi : exit->phis())
      for (unsigned i = 0, e = phi.getNumIncomingValues(); i < e; ++i) {
        BasicBlock *from = phi.getIncomingBlock(i);
        if (!loop.contains(from)) continue;
        Value *v = phi.getIncomingValue(i);
        auto it = map.find(v);
        phi.addIncoming(it != map.end() ? static_cast<Value *>(it->second) : v, cast<BasicBlock>(map[from]));
      }
  }
  Instruction *end = test->getTerminator();
  IRBuilder<> b(end);
  b.CreateCondBr(bad, checked->getLoopPreheader(), pre, MDBuilder(b.getContext()).createBranchWeights(1, 1 << 20));
  end->eraseFromParent();
  MDNode *kept = MDNode::get(b.getContext(), {});
  for (const Check &check : checks) {
    cast<Instruction>(map[check.branch])->setMetadata(kKept, kept);
    BasicBlock *bb = check.branch->getParent();
    BasicBlock *trap = check.branch->getSuccessor(0);
    BasicBlock *next = check.branch->getSuccessor(1);
    trap->removePredecessor(bb);
    BranchInst::Create(next, check.branch);
    check.branch->eraseFromParent();
  }
  dt.recalculate(*test->getParent());
}

} // namespace

PreservedAnalyses VersionLoopChecksPass::run(Function &f, FunctionAnalysisManager &fam) {
  auto &li = fam.getResult<LoopAnalysis>(f);
  auto &dt = fam.getResult<DominatorTreeAnalysis>(f);
  auto &se = fam.getResult<ScalarEvolutionAnalysis>(f);
  struct Plan {
    Loop *loop;
    std::vector<Check> checks;
    Value *bad;
  };
  std::vector<Plan> plans;
  for (Loop *loop : li.getLoopsInPreorder()) {
    if (!loop->isInnermost() || loop->getLoopPreheader() == nullptr || !loop->hasDedicatedExits() ||
        loop->getNumBlocks() > kMaxBlocks || !loop->isLCSSAForm(dt))
      continue;
    std::vector<Check> checks = checksOf(*loop, se);
    bool counted = false;
    for (const Check &c : checks) counted = counted || c.op != nullptr;
    if (!counted) continue;
    // A loop bounded only by a check itself (`steps += 1` until it
    // overflows) would always run its checked copy.
    const SCEV *maxTaken = se.getSymbolicMaxBackedgeTakenCount(loop);
    if (isa<SCEVCouldNotCompute>(maxTaken)) continue;
    if (auto *c = dyn_cast<SCEVConstant>(maxTaken); c != nullptr && c->getAPInt().isNegative()) continue;
    if (auto *c = dyn_cast<SCEVConstant>(maxTaken); c != nullptr && c->getAPInt().isMaxSignedValue()) continue;
    plans.push_back({loop, std::move(checks), nullptr});
  }
  if (plans.empty()) return PreservedAnalyses::all();
  // Every test is built while SCEV still describes the function.
  for (Plan &plan : plans) plan.bad = mayFail(*plan.loop, plan.checks, se.getSymbolicMaxBackedgeTakenCount(plan.loop), se);
  for (Plan &plan : plans) version(*plan.loop, plan.checks, plan.bad, li, dt);
  return PreservedAnalyses::none();
}

} // namespace npk::opt
