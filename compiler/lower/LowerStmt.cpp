#include "lower/Lowerer.h"

#include "own/Tracking.h"

namespace npk {

bool Lowerer::terminated() const { return b_.GetInsertBlock()->getTerminator() != nullptr; }

// Code after `pass`/`exit`/`break` is unreachable; it still gets lowered (so
// every construct is checked the same way) into a block with no predecessors.
void Lowerer::startDeadBlock() { b_.SetInsertPoint(llvm::BasicBlock::Create(ctx_, "dead", fn_)); }

void Lowerer::lowerBlock(const BlockStmt &b) {
  scopes_.push_back(Scope{&b, {}});
  for (auto &s : b.stmts) {
    lowerStmt(*s);
  }
  if (!terminated()) runBlockEnd(b);
  scopes_.pop_back();
}

// One automatic drop (DropPlan.h). A guarded drop first tests the binding's
// drop flag, because the paths reaching it disagree on whether the binding
// still owns its memory.
void Lowerer::emitDrop(const DropAction &a) {
  if (!a.binding || !slots_.count(a.binding)) return; // not declared on this lowering path
  llvm::BasicBlock *after = nullptr;
  if (a.guarded) {
    auto it = dropFlags_.find(a.binding);
    if (it == dropFlags_.end()) return;
    llvm::Value *flag = b_.CreateLoad(b_.getInt1Ty(), it->second, a.binding->name + ".owned");
    after = blockAfterCurrent("dropped." + a.binding->name);
    auto *doDrop = llvm::BasicBlock::Create(ctx_, "drop." + a.binding->name, fn_, after);
    b_.CreateCondBr(flag, doDrop, after);
    b_.SetInsertPoint(doDrop);
  }
  emitRelease(a);
  if (after) {
    b_.CreateBr(after);
    b_.SetInsertPoint(after);
  }
}

// A struct value's destructor (`T_drop(@x)`, by value when it takes
// `T:self`), or the runtime release of a pointer. A NULL pointer (a failed
// allocation) is skipped: the runtime would refuse it with a panic line.
void Lowerer::emitRelease(const DropAction &a) {
  if (a.kind == DropKind::UserDrop) return emitValueDrop(bindingAddress(*a.binding), a.binding->ty);
  llvm::Value *ptr = b_.CreateLoad(b_.getPtrTy(), slots_.at(a.binding), a.binding->name);
  auto *done = blockAfterCurrent("released." + a.binding->name);
  auto *release = llvm::BasicBlock::Create(ctx_, "release." + a.binding->name, fn_, done);
  b_.CreateCondBr(b_.CreateIsNotNull(ptr), release, done);
  b_.SetInsertPoint(release);
  b_.CreateCall(runtime(a.kind == DropKind::WildxFree ? "npk_wildx_free" : "npk_free"), {ptr});
  b_.CreateBr(done);
  b_.SetInsertPoint(done);
}

// The value at `addr`: its own destructor first, then its fields' in
// declaration order (each field that owns one, at any depth).
void Lowerer::emitValueDrop(llvm::Value *addr, const Ty *ty) {
  const StructDecl *sd = ty->decl;
  if (FuncDecl *dropFn = sd->dropFn) {
    auto fn = funcs_.find(dropFn);
    if (fn != funcs_.end() && dropFn->params.size() == 1) {
      bool byRef = dropFn->params[0]->binding.quals & (QualBorrowMut | QualBorrowImm);
      llvm::Value *self = byRef ? addr : b_.CreateLoad(llvmType(ty), addr, sd->name);
      b_.CreateCall(fn->second, {self});
    }
  }
  for (unsigned i = 0; i < sd->fields.size(); ++i)
    if (own::movesByValue(sd->fields[i].ty))
      emitValueDrop(b_.CreateStructGEP(llvmType(ty), addr, i), sd->fields[i].ty);
}

// Drop code is placed right after the block it starts in, so the IR reads in
// the order the drops run on each exit path.
llvm::BasicBlock *Lowerer::blockAfterCurrent(const std::string &name) {
  llvm::BasicBlock *next = b_.GetInsertBlock()->getNextNode();
  return llvm::BasicBlock::Create(ctx_, name, fn_, next);
}

// An explicit release (or a transfer to another binding) of a flagged
// binding: from here on its automatic drop must not run.
void Lowerer::noteRelease(const Expr &e) {
  if (!plan_) return;
  auto it = plan_->clearsFlag.find(&e);
  if (it != plan_->clearsFlag.end()) setDropFlag(*it->second, false);
}

// The flag reads false on paths that never reach the binding's declaration.
void Lowerer::setDropFlag(const Binding &b, bool owned) {
  if (!plan_ || !plan_->flagged.count(&b)) return;
  llvm::Value *&flag = dropFlags_[&b];
  if (!flag) {
    flag = allocas_.CreateAlloca(b_.getInt1Ty(), nullptr, b.name + ".flag");
    allocas_.CreateStore(b_.getFalse(), flag);
  }
  b_.CreateStore(b_.getInt1(owned), flag);
}

// Fall-through end of a block: its drops, then its defers (LIFO).
void Lowerer::runBlockEnd(const BlockStmt &b) {
  if (plan_) {
    auto it = plan_->blockEnd.find(&b);
    if (it != plan_->blockEnd.end())
      for (const DropAction &a : it->second) emitDrop(a);
  }
  // Copied: lowering a defer body may push scopes and reallocate the stack.
  runDefers(std::vector<const Stmt *>(scopes_.back().defers));
}

// The defer bodies of one scope, last registered first. `defer ;` has no
// body and runs nothing (as in the ownership CFG).
void Lowerer::runDefers(const std::vector<const Stmt *> &defers) {
  for (auto d = defers.rbegin(); d != defers.rend(); ++d)
    if (const Stmt *body = static_cast<const DeferStmt *>(*d)->body.get()) lowerStmt(*body);
}

// The drops the plan puts on an early exit (`pass`, `fail`, `return`,
// `break`, `continue`), or null.
const std::vector<DropAction> *Lowerer::plannedExitDrops(const Stmt &s) const {
  if (!plan_) return nullptr;
  auto it = plan_->exits.find(&s);
  return it == plan_->exits.end() ? nullptr : &it->second;
}

// Leaving scopes down to (not including) depth `downTo`: the planned drops of
// every scope left, then the defers of those scopes, innermost first.
void Lowerer::runScopeExit(size_t downTo, const std::vector<DropAction> *drops) {
  if (drops)
    for (const DropAction &a : *drops) emitDrop(a);
  // Defer bodies are lowered with the scope stack cut back to their own
  // scope, so a nested block inside a defer pushes and pops normally.
  std::vector<Scope> saved = scopes_;
  for (size_t i = saved.size(); i > downTo; --i) {
    scopes_.resize(i);
    runDefers(saved[i - 1].defers);
  }
  scopes_ = std::move(saved);
}

void Lowerer::lowerStmt(const Stmt &s) {
  if (terminated()) startDeadBlock();
  switch (s.kind) {
  case StmtKind::Block: return lowerBlock(static_cast<const BlockStmt &>(s));
  case StmtKind::VarDecl: return lowerVarDecl(static_cast<const VarDeclStmt &>(s));
  case StmtKind::Expr: lowerExpr(*static_cast<const ExprStmt &>(s).expr); return;
  case StmtKind::Assign: return lowerAssign(static_cast<const AssignStmt &>(s));
  case StmtKind::If: return lowerIf(static_cast<const IfStmt &>(s));
  case StmtKind::While: return lowerWhile(static_cast<const WhileStmt &>(s));
  case StmtKind::For: return lowerFor(static_cast<const ForStmt &>(s));
  case StmtKind::Break:
  case StmtKind::Continue: return lowerBreakContinue(s);
  case StmtKind::Pass: {
    auto &p = static_cast<const PassStmt &>(s);
    llvm::Value *val = p.value ? lowerAs(*p.value, func_->ret) : nullptr;
    return lowerLeave(s, makeResult(func_->ret, b_.getFalse(), b_.getInt32(0), val));
  }
  case StmtKind::Fail: {
    auto &f = static_cast<const FailStmt &>(s);
    llvm::Value *code = f.code ? lowerAs(*f.code, types_->int32()) : b_.getInt32(1);
    return lowerLeave(s, makeResult(func_->ret, b_.getTrue(), code, nullptr));
  }
  case StmtKind::Return: {
    auto &r = static_cast<const ReturnStmt &>(s);
    llvm::Value *result;
    if (!r.value) result = makeResult(func_->ret, b_.getFalse(), b_.getInt32(0), nullptr);
    else if (r.value->ty && r.value->ty->isResult()) result = lowerExpr(*r.value);
    else result = makeResult(func_->ret, b_.getFalse(), b_.getInt32(0), lowerAs(*r.value, func_->ret));
    return lowerLeave(s, result);
  }
  case StmtKind::Exit: {
    auto &e = static_cast<const ExitStmt &>(s);
    llvm::Value *status = e.status ? lowerAs(*e.status, types_->int32()) : b_.getInt32(0);
    b_.CreateCall(runtime("npk_exit"), {status});
    b_.CreateUnreachable();
    return;
  }
  case StmtKind::Defer:
    scopes_.back().defers.push_back(&s);
    return;
  case StmtKind::Error: return;
  }
}

// `pass`/`fail`/`return`: the result is computed first, then every scope's
// drops and defers run, then the function returns it.
void Lowerer::lowerLeave(const Stmt &s, llvm::Value *result) {
  runScopeExit(0, plannedExitDrops(s));
  b_.CreateRet(result);
}

void Lowerer::lowerBreakContinue(const Stmt &s) {
  if (loops_.empty()) return;
  Loop loop = loops_.back(); // a copy: lowering a defer body with a loop in it grows loops_
  runScopeExit(loop.scopeDepth, plannedExitDrops(s));
  b_.CreateBr(s.kind == StmtKind::Break ? loop.breakTo : loop.continueTo);
}

void Lowerer::lowerVarDecl(const VarDeclStmt &s) {
  const Binding &b = s.binding;
  llvm::Type *valueTy = llvmType(b.ty);
  llvm::Type *slotTy = b.heapStruct ? b_.getPtrTy() : valueTy;
  llvm::AllocaInst *slot = allocas_.CreateAlloca(slotTy, nullptr, b.name);
  slots_[&b] = slot;
  llvm::Value *init = s.init ? lowerAs(*s.init, b.ty) : zeroValue(b.ty);
  if (b.heapStruct) {
    llvm::Value *size = b_.getInt64(mod_->getDataLayout().getTypeAllocSize(valueTy));
    llvm::Value *mem = b_.CreateCall(runtime("npk_alloc"), {size}, b.name + ".heap");
    b_.CreateStore(init, mem);
    b_.CreateStore(mem, slot);
  } else {
    b_.CreateStore(init, slot);
  }
  if (s.init) noteRelease(*s.init);
  setDropFlag(b, true);
}

void Lowerer::lowerAssign(const AssignStmt &s) {
  const Ty *t = s.target->ty;
  if (!s.compound) {
    llvm::Value *v = lowerAs(*s.value, t);
    if (plan_)
      if (auto it = plan_->beforeStore.find(s.value.get()); it != plan_->beforeStore.end())
        for (const DropAction &a : it->second) emitDrop(a); // the old value's destructor
    b_.CreateStore(v, lowerAddress(*s.target));
    noteRelease(*s.value);
    if (auto *n = as<NameExpr>(s.target.get()); n && n->binding && !n->binding->heapStruct)
      setDropFlag(*n->binding, true); // a new value to own
    return;
  }
  llvm::Value *addr = lowerAddress(*s.target);
  llvm::Value *cur = b_.CreateLoad(llvmType(t), addr);
  bool shift = s.op == BinaryOp::Shl || s.op == BinaryOp::Shr;
  llvm::Value *rhs = shift ? lowerExpr(*s.value) : lowerAs(*s.value, t);
  if (shift) rhs = b_.CreateZExtOrTrunc(rhs, cur->getType());
  b_.CreateStore(lowerArith(s.op, cur, rhs, t, s.span), addr);
}

void Lowerer::lowerIf(const IfStmt &s) {
  llvm::Value *cond = lowerExpr(*s.cond);
  auto *thenBB = llvm::BasicBlock::Create(ctx_, "if.then", fn_);
  auto *elseBB = s.elseStmt ? llvm::BasicBlock::Create(ctx_, "if.else", fn_) : nullptr;
  auto *endBB = llvm::BasicBlock::Create(ctx_, "if.end", fn_);
  b_.CreateCondBr(cond, thenBB, elseBB ? elseBB : endBB);
  b_.SetInsertPoint(thenBB);
  lowerBlock(*s.thenBlock);
  if (!terminated()) b_.CreateBr(endBB);
  if (elseBB) {
    b_.SetInsertPoint(elseBB);
    lowerStmt(*s.elseStmt);
    if (!terminated()) b_.CreateBr(endBB);
  }
  b_.SetInsertPoint(endBB);
}

void Lowerer::lowerWhile(const WhileStmt &s) {
  auto *condBB = llvm::BasicBlock::Create(ctx_, "while.cond", fn_);
  auto *bodyBB = llvm::BasicBlock::Create(ctx_, "while.body", fn_);
  auto *endBB = llvm::BasicBlock::Create(ctx_, "while.end", fn_);
  b_.CreateBr(condBB);
  b_.SetInsertPoint(condBB);
  b_.CreateCondBr(lowerExpr(*s.cond), bodyBB, endBB);
  b_.SetInsertPoint(bodyBB);
  loops_.push_back(Loop{endBB, condBB, scopes_.size()});
  lowerBlock(*s.body);
  loops_.pop_back();
  if (!terminated()) b_.CreateBr(condBB);
  b_.SetInsertPoint(endBB);
}

void Lowerer::lowerFor(const ForStmt &s) {
  if (s.init) lowerStmt(*s.init);
  auto *condBB = llvm::BasicBlock::Create(ctx_, "for.cond", fn_);
  auto *bodyBB = llvm::BasicBlock::Create(ctx_, "for.body", fn_);
  auto *stepBB = llvm::BasicBlock::Create(ctx_, "for.step", fn_);
  auto *endBB = llvm::BasicBlock::Create(ctx_, "for.end", fn_);
  if (!terminated()) b_.CreateBr(condBB);
  b_.SetInsertPoint(condBB);
  if (s.cond) b_.CreateCondBr(lowerExpr(*s.cond), bodyBB, endBB);
  else b_.CreateBr(bodyBB);
  b_.SetInsertPoint(bodyBB);
  loops_.push_back(Loop{endBB, stepBB, scopes_.size()});
  lowerBlock(*s.body);
  loops_.pop_back();
  if (!terminated()) b_.CreateBr(stepBB);
  b_.SetInsertPoint(stepBB);
  if (s.step) lowerStmt(*s.step);
  if (!terminated()) b_.CreateBr(condBB);
  b_.SetInsertPoint(endBB);
}

} // namespace npk
