// A checked multiplication by 3, 5 or 9 tests its operand's range (opt/Passes.h).
//
// x86 multiplies by 3, 5 and 9 with one `lea` (one cycle), and tests a
// checked product's overflow with `imul` (three cycles) and `jo`. When the
// product is on a loop's critical path (`x = 3 * x + 1`), the `imul` sets
// its pace. The overflow of x * c is known before the product: it is x
// outside [MIN / c, MAX / c] (0..MAX / c unsigned), one compare on x that
// runs beside the `lea`. Only x86 and only these factors: elsewhere `imul`'s
// flag is the cheaper test.

#include "opt/Passes.h"

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/IntrinsicInst.h>
#include <llvm/IR/Module.h>
#include <llvm/TargetParser/Triple.h>

#include <vector>

namespace npk::opt {

using namespace llvm;

PreservedAnalyses ConstantMulCheckPass::run(Function &f, FunctionAnalysisManager &) {
  if (!Triple(f.getParent()->getTargetTriple()).isX86()) return PreservedAnalyses::all();
  std::vector<WithOverflowInst *> ops;
  for (BasicBlock &bb : f)
    for (Instruction &i : bb)
      if (auto *op = dyn_cast<WithOverflowInst>(&i); op != nullptr && op->getBinaryOp() == Instruction::Mul)
        if (auto *c = dyn_cast<ConstantInt>(op->getRHS()); c != nullptr && (c->equalsInt(3) || c->equalsInt(5) ||
                                                                             c->equalsInt(9)))
          ops.push_back(op);
  bool changed = false;
  for (WithOverflowInst *op : ops) {
    bool parts = true;
    for (User *u : op->users()) parts = parts && isa<ExtractValueInst>(u);
    if (!parts) continue;
    IRBuilder<> b(op);
    Value *x = op->getLHS();
    const APInt &c = cast<ConstantInt>(op->getRHS())->getValue();
    unsigned width = c.getBitWidth();
    Value *product = b.CreateMul(x, op->getRHS());
    Value *overflow;
    if (op->isSigned()) {
      APInt lo = APInt::getSignedMinValue(width).sdiv(c);
      APInt hi = APInt::getSignedMaxValue(width).sdiv(c);
      overflow = b.CreateICmpUGT(b.CreateSub(x, b.getInt(lo)), b.getInt(hi - lo));
    } else {
      overflow = b.CreateICmpUGT(x, b.getInt(APInt::getMaxValue(width).udiv(c)));
    }
    std::vector<ExtractValueInst *> partsOf;
    for (User *u : op->users()) partsOf.push_back(cast<ExtractValueInst>(u));
    for (ExtractValueInst *part : partsOf) {
      part->replaceAllUsesWith(part->getIndices()[0] == 0 ? product : overflow);
      part->eraseFromParent();
    }
    op->eraseFromParent();
    changed = true;
  }
  return changed ? PreservedAnalyses::none() : PreservedAnalyses::all();
}

} // namespace npk::opt
