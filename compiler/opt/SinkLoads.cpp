// Loads placed where they are used (opt/Passes.h).
//
// Nitpick evaluates left to right and a compound assignment reads its old
// value before its value, so `c[x] += aik * b[y]` loads c[x] first; C's
// compilers load b[y] first and c[x] right before the add. LLVM keeps a
// block's loads in the order it got them, and in matmul's vectorised loop
// the early loads of c cost 5%: the same loop with c loaded just before the
// add ran as fast as C's (bench/README.md). A load has no effect, so within
// a block it may move down to its first use past anything that writes no
// memory and has no effect (the pass keeps loads that may be volatile or
// atomic, and stops at any store, call or other effect). Runs last.

#include "opt/Passes.h"

#include <llvm/IR/Instructions.h>

#include <vector>

namespace npk::opt {

using namespace llvm;

namespace {

// How far a load is moved at most, in instructions (a bound on the work).
constexpr int kReach = 32;

// The instruction of bb the load may move to: its first user in bb, when
// every user is in bb (and none is a phi), and nothing on the way writes
// memory or has an effect. Null when it stays.
Instruction *firstUse(LoadInst &load) {
  BasicBlock *bb = load.getParent();
  for (User *u : load.users()) {
    auto *i = dyn_cast<Instruction>(u);
    if (i == nullptr || i->getParent() != bb || isa<PHINode>(i)) return nullptr;
  }
  int steps = 0;
  for (Instruction *i = load.getNextNode(); i != nullptr && steps < kReach; i = i->getNextNode(), ++steps) {
    if (is_contained(load.users(), i)) return i == load.getNextNode() ? nullptr : i;
    if (i->mayWriteToMemory() || i->mayHaveSideEffects() || i->isTerminator()) return nullptr;
  }
  return nullptr;
}

} // namespace

PreservedAnalyses SinkLoadsPass::run(Function &f, FunctionAnalysisManager &) {
  bool changed = false;
  for (BasicBlock &bb : f) {
    std::vector<LoadInst *> loads;
    for (Instruction &i : bb)
      if (auto *load = dyn_cast<LoadInst>(&i); load != nullptr && load->isSimple() && !load->use_empty())
        loads.push_back(load);
    // Last first: a load that feeds another's address moves after it.
    for (auto it = loads.rbegin(); it != loads.rend(); ++it)
      if (Instruction *use = firstUse(**it)) {
        (*it)->moveBefore(use);
        changed = true;
      }
  }
  if (!changed) return PreservedAnalyses::all();
  PreservedAnalyses kept;
  kept.preserveSet<CFGAnalyses>();
  return kept;
}

} // namespace npk::opt
