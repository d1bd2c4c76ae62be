// Checked accumulator recursion (opt/Passes.h).
//
// LLVM turns `return a + f(n - 2)` into a loop that adds up the `a`s
// (tail-recursion elimination with an accumulator), but not when the add is
// checked: reassociating the sums could trap where the program does not, or
// not where it does. This pass makes the loop and keeps the program's traps
// exactly, by running the function the original way whenever the loop cannot
// vouch for its answer.
//
// The shape: f's value at a site is `a + f(args)` with a trapping add, `a`
// computed before the call. Unrolled, f(n) = a0 + (a1 + (a2 + ... + x)),
// where x is the value of the level that returns without recursing there
// (through any of f's other paths, or the site's own code, below). The
// program adds from the inside out after every `a` and `x` is computed, in
// the order the loop computes them, so the loop runs the same code in the
// same order and only the adds differ. It adds from the outside in,
// acc = a0 + a1 + ..., and returns acc + x. If every `a` is non-negative
// (unsigned adds always are) and neither acc nor acc + x overflows, every
// partial sum the program forms, x + (a_k + ... + a_j), lies between
// min(x, 0) and acc + x: none overflows, and the program's answer is the
// loop's. Otherwise:
// - an `a` below zero: that level runs the site's own code, which calls f
//   for the rest and adds with its own check, so a trap there is the
//   program's own; its value is then that level's x;
// - acc or acc + x overflowing: the loop gives up.
//
// The functions: f.loop is the loop, returning {value, gave up}; f.checked
// is f's original body calling itself; each call of f (the recursive ones in
// f.loop and f's callers') calls f.loop and, if it gave up, f.checked with
// the same arguments, which then traps exactly where the program does, or
// returns its value. f stays, doing the same, for calls through a pointer.
// Running f again the original way is unobservable only because f has no
// effect but ending the program: it writes and reads no memory, makes no
// call but to itself, to intrinsics without effects and to functions that
// never return (the traps). A first run that ended the program never gets to
// the second; one that gave up did nothing anyone can see.

#include "opt/Passes.h"
#include "opt/Traps.h"

#include <llvm/IR/Dominators.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/IntrinsicInst.h>
#include <llvm/IR/MDBuilder.h>
#include <llvm/IR/Module.h>
#include <llvm/Analysis/ValueTracking.h>
#include <llvm/Transforms/Utils/BasicBlockUtils.h>
#include <llvm/Transforms/Utils/Cloning.h>

#include <vector>

namespace npk::opt {

namespace {

using namespace llvm;

// One `pass a + f(...)` of f.
struct Site {
  CallInst *call;     // f(...)
  WithOverflowInst *sum; // llvm.{s,u}add.with.overflow of the call and `a`
  unsigned other;     // which operand of sum is `a`
};

// Whether f can run again from its start unseen (see the file's comment).
bool repeatable(Function &f) {
  for (BasicBlock &bb : f)
    for (Instruction &i : bb) {
      if (isa<AllocaInst>(i)) return false;
      if (auto *call = dyn_cast<CallBase>(&i)) {
        Function *callee = call->getCalledFunction();
        if (callee == &f || call->doesNotReturn()) continue;
        if (callee != nullptr && callee->isIntrinsic() && !call->mayHaveSideEffects() && !call->mayReadFromMemory())
          continue;
        return false;
      }
      if (i.mayHaveSideEffects() || i.mayReadFromMemory()) return false;
    }
  return true;
}

bool pure(const Instruction &i) { return !i.mayHaveSideEffects() && !i.mayReadFromMemory(); }

// Whether, from `from` going on to `ok` (the branch taken when the add did
// not overflow), f returns the sum and does nothing else on the way.
bool returnsSum(IntrinsicInst *sum, BasicBlock *from, BasicBlock *ok) {
  SmallPtrSet<Value *, 8> same;
  for (User *u : sum->users())
    if (auto *ev = dyn_cast<ExtractValueInst>(u); ev != nullptr && ev->getIndices()[0] == 0) same.insert(ev);
  BasicBlock *prev = from;
  BasicBlock *cur = ok;
  for (int step = 0; step < 8; ++step) {
    for (PHINode &phi : cur->phis())
      if (same.count(phi.getIncomingValueForBlock(prev)) != 0) same.insert(&phi);
    for (Instruction &i : *cur)
      if (!i.isTerminator() && !pure(i)) return false;
    Instruction *end = cur->getTerminator();
    if (auto *ret = dyn_cast<ReturnInst>(end)) return same.count(ret->getReturnValue()) != 0;
    auto *br = dyn_cast<BranchInst>(end);
    if (br == nullptr || br->isConditional()) return false;
    prev = cur;
    cur = br->getSuccessor(0);
  }
  return false;
}

// f's `pass a + f(...)` sites: a block that branches on the overflow of a
// checked add of a recursive call made in it, after `a`, with nothing but
// pure work after the call.
std::vector<Site> findSites(Function &f) {
  std::vector<Site> sites;
  std::unique_ptr<DominatorTree> dt;
  for (BasicBlock &bb : f) {
    auto *br = dyn_cast<BranchInst>(bb.getTerminator());
    WithOverflowInst *sum = testedOverflow(br);
    if (sum == nullptr || sum->getParent() != &bb) continue;
    if (sum->getIntrinsicID() != Intrinsic::sadd_with_overflow &&
        sum->getIntrinsicID() != Intrinsic::uadd_with_overflow)
      continue;
    if (sum->getType()->getStructElementType(0) != f.getReturnType()) continue;
    for (unsigned k = 0; k < 2; ++k) {
      auto *call = dyn_cast<CallInst>(sum->getArgOperand(k));
      if (call == nullptr || call->getCalledFunction() != &f || call->getParent() != &bb ||
          call->getFunctionType() != f.getFunctionType() || call->isMustTailCall())
        continue;
      if (auto *other = dyn_cast<Instruction>(sum->getArgOperand(1 - k))) {
        if (!dt) dt = std::make_unique<DominatorTree>(f);
        if (!dt->dominates(other, call)) continue;
      }
      bool quiet = true;
      for (Instruction *i = call->getNextNode(); i != br; i = i->getNextNode()) quiet = quiet && pure(*i);
      if (!quiet || !returnsSum(sum, &bb, br->getSuccessor(1))) continue;
      sites.push_back({call, sum, 1 - k});
      break;
    }
  }
  return sites;
}

// A call of f becomes f.loop's, then f.checked's if f.loop gave up. An
// argument that is a constant step from another value (`n - 1`) is computed
// again for f.checked: kept through the call it would hold a register in
// every frame of the recursion.
void expandCall(CallBase &cb, Function &loop, Function &original, MDNode *unlikely) {
  IRBuilder<> b(&cb);
  std::vector<Value *> args(cb.arg_begin(), cb.arg_end());
  CallInst *result = b.CreateCall(&loop, args);
  result->setCallingConv(loop.getCallingConv());
  result->setDebugLoc(cb.getDebugLoc());
  Value *value = b.CreateExtractValue(result, 0);
  Instruction *slowEnd = SplitBlockAndInsertIfThen(b.CreateExtractValue(result, 1), &cb, false, unlikely);
  b.SetInsertPoint(slowEnd);
  for (Value *&arg : args) {
    auto *step = dyn_cast<BinaryOperator>(arg);
    if (step != nullptr && (isa<Constant>(step->getOperand(0)) || isa<Constant>(step->getOperand(1))) &&
        isSafeToSpeculativelyExecute(step)) {
      Instruction *copy = step->clone();
      b.Insert(copy);
      arg = copy;
    }
  }
  CallInst *slow = b.CreateCall(&original, args);
  slow->setCallingConv(original.getCallingConv());
  slow->setDebugLoc(cb.getDebugLoc());
  b.SetInsertPoint(&cb);
  PHINode *phi = b.CreatePHI(value->getType(), 2);
  phi->addIncoming(value, result->getParent());
  phi->addIncoming(slow, slow->getParent());
  cb.replaceAllUsesWith(phi);
  cb.eraseFromParent();
}

void makeLoop(Function &f, const std::vector<Site> &sites) {
  LLVMContext &ctx = f.getContext();
  Type *type = f.getReturnType();
  Intrinsic::ID add = sites.front().sum->getIntrinsicID();
  bool isSigned = add == Intrinsic::sadd_with_overflow;
  MDNode *unlikely = MDBuilder(ctx).createBranchWeights(1, 1 << 20);
  IRBuilder<> b(ctx);

  // f.checked: the original body, run when the loop gives up. It calls
  // itself: once the loop gave up, the rest runs the original way, which
  // costs at most what the program did before the loop gave up. (Calling the
  // loop again would give up again at each level on the way to a trap.)
  ValueToValueMapTy map;
  Function *original = CloneFunction(&f, map);
  original->setName(f.getName() + ".checked");
  for (BasicBlock &bb : *original)
    for (Instruction &i : bb)
      if (auto *call = dyn_cast<CallBase>(&i); call != nullptr && call->getCalledFunction() == &f)
        call->setCalledFunction(original);
  original->setLinkage(GlobalValue::InternalLinkage);
  original->removeFnAttr(Attribute::AlwaysInline);
  original->addFnAttr(Attribute::NoInline);
  original->addFnAttr(Attribute::Cold);

  // f.loop: f's body, returning {value, gave up}. It gives up where it can
  // not vouch for its value, and its caller then runs f.checked from the
  // same arguments: those are at hand in the caller, while f.loop would
  // have to keep its own arguments through every call it makes.
  auto *pair = StructType::get(type, Type::getInt1Ty(ctx));
  Function *loop = Function::Create(FunctionType::get(pair, f.getFunctionType()->params(), false),
                                    GlobalValue::InternalLinkage, f.getName() + ".loop", f.getParent());
  loop->setCallingConv(CallingConv::Fast);
  std::vector<AttributeSet> paramAttrs;
  for (unsigned i = 0; i < f.arg_size(); ++i) paramAttrs.push_back(f.getAttributes().getParamAttrs(i));
  loop->setAttributes(AttributeList::get(ctx, f.getAttributes().getFnAttrs(), AttributeSet(), paramAttrs));
  loop->splice(loop->begin(), &f);
  for (unsigned i = 0; i < f.arg_size(); ++i) {
    f.getArg(i)->replaceAllUsesWith(loop->getArg(i));
    loop->getArg(i)->takeName(f.getArg(i));
  }
  loop->setSubprogram(f.getSubprogram());
  f.setSubprogram(nullptr);

  std::vector<ReturnInst *> returns;
  for (BasicBlock &bb : *loop)
    if (auto *ret = dyn_cast<ReturnInst>(bb.getTerminator())) returns.push_back(ret);

  // entry -> the old entry, now the loop's header: each parameter and the
  // accumulator are phis there.
  BasicBlock *header = &loop->getEntryBlock();
  BasicBlock *entry = BasicBlock::Create(ctx, "entry", loop, header);
  header->setName("recur");
  b.SetInsertPoint(entry);
  b.CreateBr(header);
  b.SetInsertPoint(header, header->begin());
  std::vector<PHINode *> params;
  for (Argument &a : loop->args()) {
    PHINode *phi = b.CreatePHI(a.getType(), 2, a.getName());
    a.replaceAllUsesWith(phi);
    phi->addIncoming(&a, entry);
    params.push_back(phi);
  }
  PHINode *acc = b.CreatePHI(type, 2, "acc");
  acc->addIncoming(ConstantInt::get(type, 0), entry);

  BasicBlock *giveUp = BasicBlock::Create(ctx, "give_up", loop);
  b.SetInsertPoint(giveUp);
  b.CreateRet(ConstantStruct::get(pair, {PoisonValue::get(type), ConstantInt::getTrue(ctx)}));

  // Every return adds the accumulator: acc + x.
  BasicBlock *exit = BasicBlock::Create(ctx, "exit", loop);
  BasicBlock *done = BasicBlock::Create(ctx, "done", loop);
  b.SetInsertPoint(exit);
  PHINode *x = b.CreatePHI(type, static_cast<unsigned>(returns.size()), "x");
  for (ReturnInst *ret : returns) {
    x->addIncoming(ret->getReturnValue(), ret->getParent());
    BranchInst::Create(exit, ret->getParent());
    ret->eraseFromParent();
  }
  Value *total = b.CreateBinaryIntrinsic(add, acc, x);
  Value *value = b.CreateExtractValue(total, 0);
  b.CreateCondBr(b.CreateExtractValue(total, 1), giveUp, done, unlikely);
  b.SetInsertPoint(done);
  b.CreateRet(b.CreateInsertValue(ConstantStruct::get(pair, {PoisonValue::get(type), ConstantInt::getFalse(ctx)}),
                                  value, 0));

  // Each site: a non-negative `a` joins the accumulator and the loop goes
  // round with the call's arguments; a negative one runs the site's code.
  for (const Site &site : sites) {
    BasicBlock *bb = site.call->getParent();
    BasicBlock *own = bb->splitBasicBlock(site.call, bb->getName() + ".own");
    bb->getTerminator()->eraseFromParent();
    BasicBlock *more = BasicBlock::Create(ctx, "accumulate", loop, own);
    Value *a = site.sum->getArgOperand(site.other);
    b.SetInsertPoint(bb);
    if (isSigned)
      b.CreateCondBr(b.CreateICmpSLT(a, ConstantInt::get(type, 0)), own, more, unlikely);
    else
      b.CreateBr(more);
    b.SetInsertPoint(more);
    Value *sum = b.CreateBinaryIntrinsic(add, acc, a);
    acc->addIncoming(b.CreateExtractValue(sum, 0), more);
    for (size_t i = 0; i < params.size(); ++i) params[i]->addIncoming(site.call->getArgOperand(i), more);
    b.CreateCondBr(b.CreateExtractValue(sum, 1), giveUp, header, unlikely);
  }

  // f itself: f.loop, and f.checked if it gave up.
  BasicBlock *call = BasicBlock::Create(ctx, "entry", &f);
  BasicBlock *again = BasicBlock::Create(ctx, "again", &f);
  BasicBlock *vouched = BasicBlock::Create(ctx, "vouched", &f);
  std::vector<Value *> args;
  for (Argument &a : f.args()) args.push_back(&a);
  b.SetInsertPoint(call);
  CallInst *result = b.CreateCall(loop, args);
  result->setCallingConv(loop->getCallingConv());
  b.CreateCondBr(b.CreateExtractValue(result, 1), again, vouched, unlikely);
  b.SetInsertPoint(vouched);
  b.CreateRet(b.CreateExtractValue(result, 0));
  b.SetInsertPoint(again);
  CallInst *slow = b.CreateCall(original, args);
  slow->setCallingConv(original->getCallingConv());
  b.CreateRet(slow);

  // ... and the same spelled out where f is called: the recursive calls in
  // f.loop, and f's callers.
  std::vector<CallBase *> calls;
  for (User *u : f.users())
    if (auto *cb = dyn_cast<CallBase>(u); cb != nullptr && cb->getCalledFunction() == &f) calls.push_back(cb);
  for (CallBase *cb : calls) expandCall(*cb, *loop, *original, unlikely);
}

} // namespace

PreservedAnalyses CheckedRecursionPass::run(Module &m, ModuleAnalysisManager &) {
  std::vector<std::pair<Function *, std::vector<Site>>> work;
  for (Function &f : m) {
    if (f.isDeclaration() || f.isVarArg() || !f.getReturnType()->isIntegerTy()) continue;
    std::vector<Site> sites = findSites(f);
    if (sites.empty() || !repeatable(f)) continue;
    // One kind of add per function: the accumulator is signed or not.
    bool mixed = false;
    for (const Site &s : sites) mixed = mixed || s.sum->getIntrinsicID() != sites.front().sum->getIntrinsicID();
    if (!mixed) work.emplace_back(&f, std::move(sites));
  }
  for (auto &[f, sites] : work) makeLoop(*f, sites);
  return work.empty() ? PreservedAnalyses::all() : PreservedAnalyses::none();
}

} // namespace npk::opt
