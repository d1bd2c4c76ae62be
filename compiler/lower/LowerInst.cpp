// Translates NIR to LLVM IR: each NIR block becomes one LLVM block (plus the
// cold blocks of checks that stop the program, a switch's range tests and
// the blocks of a drop, placed right after it), each instruction its code.
// Nothing here knows about scopes, defers or which bindings to drop: the NIR
// says it.
#include "lower/Lowerer.h"

#include "own/Tracking.h"

#include <npk/runtime.h>

namespace npk {

bool Lowerer::terminated() const { return b_.GetInsertBlock()->getTerminator() != nullptr; }

// A block for code inside the NIR block being lowered: after what is there
// already, before the next NIR block.
llvm::BasicBlock *Lowerer::newBlock(const std::string &name) {
  return llvm::BasicBlock::Create(ctx_, name, fn_, anchor_);
}

void Lowerer::lowerBody(const nir::Func &f) {
  temps_.assign(f.temps, nullptr);
  tempTys_.assign(f.temps, nullptr);
  blocks_.clear();
  for (const nir::Block &b : f.blocks) blocks_.push_back(llvm::BasicBlock::Create(ctx_, b.name, fn_));
  blockEnds_.assign(f.blocks.size(), nullptr);
  nirFunc_ = &f;
  for (size_t i = 0; i < f.blocks.size(); ++i) {
    anchor_ = i + 1 < blocks_.size() ? blocks_[i + 1] : nullptr;
    b_.SetInsertPoint(blocks_[i]);
    for (const nir::Inst &in : f.blocks[i].insts) {
      if (terminated()) break; // only after a noreturn trap inside an expression
      clears_ = &in.clearsFlag;
      inst_ = &in;
      if (debug_) b_.SetCurrentDebugLocation(debug_->location(in));
      lowerInst(f, in);
      clears_ = nullptr;
      inst_ = nullptr;
    }
    blockEnds_[i] = b_.GetInsertBlock();
  }
  anchor_ = nullptr;
  nirFunc_ = nullptr;
}

bool Lowerer::evaluatedBefore(const Expr &e, llvm::Value *&value) const {
  if (!inst_ || !inst_->subsCount) return false;
  nir::Temp t = nirFunc_->subFor(*inst_, e);
  if (t == nir::kNoTemp) return false;
  value = temps_[t]; // null for a NIL value
  return true;
}

// `%t = phi`: the value of the path the block was entered by. The NIR makes
// the join after both paths, so both are lowered; a path whose end does not
// reach the join (it stopped the program) adds nothing. A large value
// (storeValue) meets in memory instead.
void Lowerer::lowerPhi(const nir::Inst &in) {
  llvm::BasicBlock *join = b_.GetInsertBlock();
  std::pair<llvm::BasicBlock *, llvm::Value *> paths[2] = {{blockEnds_[in.target], temps_[in.operand]},
                                                           {blockEnds_[in.elseTarget], temps_[in.other]}};
  auto reaches = [&](llvm::BasicBlock *from) {
    return from && from->getTerminator() && llvm::is_contained(llvm::successors(from), join);
  };
  llvm::Value *v = nullptr;
  if (largeValue(in.ty)) {
    llvm::AllocaInst *slot = privateSlot(in.ty);
    for (auto &[from, value] : paths) {
      if (!reaches(from)) continue;
      b_.SetInsertPoint(from->getTerminator());
      storeValue(value, slot);
    }
    b_.SetInsertPoint(join);
    v = b_.CreateLoad(llvmType(in.ty), slot);
  } else {
    llvm::PHINode *phi = b_.CreatePHI(llvmType(in.ty), 2);
    for (auto &[from, value] : paths)
      if (reaches(from)) phi->addIncoming(value, from);
    v = phi;
  }
  temps_[in.result] = v;
  tempTys_[in.result] = in.ty;
}

llvm::Value *Lowerer::temp(nir::Temp t, const Ty *to) {
  if (t == nir::kNoTemp) return nullptr;
  return to ? convert(temps_[t], tempTys_[t], to) : temps_[t];
}

void Lowerer::lowerInst(const nir::Func &f, const nir::Inst &in) {
  switch (in.op) {
  case nir::Op::Param: return lowerParam(in);
  case nir::Op::Eval: {
    llvm::Value *v = nullptr;
    if ((!in.ty || in.ty == in.expr->ty) && largeValue(in.expr->ty) && isLvalue(*in.expr)) {
      v = privateCopy(lowerAddress(*in.expr), in.expr->ty); // never a first-class aggregate (storeValue)
      noteRelease(*in.expr);
    } else {
      v = in.ty && in.ty != in.expr->ty ? lowerAs(*in.expr, in.ty) : lowerExpr(*in.expr);
    }
    temps_[in.result] = v;
    tempTys_[in.result] = in.ty ? in.ty : in.expr->ty;
    if (in.discard) dropDiscarded(v, in.expr->ty);
    return;
  }
  case nir::Op::Let: return lowerLet(in);
  case nir::Op::Store: {
    llvm::Value *addr = lowerAddress(*in.expr);
    // A field or a borrowed value always holds a live value (moving out of
    // it is refused): its destructor runs before it is overwritten.
    if (own::movesByValue(in.ty) && own::keepsItsValue(*in.expr)) emitValueDrop(addr, in.ty);
    storeValue(temp(in.operand), addr);
    for (auto &[e, b] : in.clearsFlag) setDropFlag(*b, false); // a transfer out of `b`
    return;
  }
  case nir::Op::Update: {
    const Ty *t = in.ty;
    llvm::Value *addr = lowerAddress(*in.expr);
    llvm::Value *cur = nullptr; // the old value, read before the value (nir/Build.cpp)
    if (!evaluatedBefore(*in.expr, cur)) llvm::report_fatal_error("npkc: an update without its old value");
    bool shift = in.compoundOp == BinaryOp::Shl || in.compoundOp == BinaryOp::Shr;
    llvm::Value *rhs = shift ? lowerExpr(*in.value) : lowerAs(*in.value, t);
    b_.CreateStore(lowerArith(in.compoundOp, cur, rhs, t, in.span, shift ? in.value->ty : nullptr), addr);
    return;
  }
  case nir::Op::Drop: return emitDrop(in);
  case nir::Op::Flag: return setDropFlag(*in.binding, in.flagValue);
  case nir::Op::ScopeExit:
  case nir::Op::ScopeEnd: return; // markers for the ownership phase and drop elaboration
  case nir::Op::CountInit: return lowerCountInit(in);
  case nir::Op::CountStep: {
    // The counter moves on, wrapping: only after the last round can it pass
    // the limit (or the type's range), and nothing reads it then. A plain
    // induction variable lets LLVM prove `$`'s range (bounds checks on
    // `a[$]` in `till(a.length, 1)` go).
    const Counted &c = counted_.at(static_cast<const LoopStmt *>(in.stmt));
    llvm::Type *t = llvmType(in.ty);
    b_.CreateStore(b_.CreateSub(b_.CreateLoad(t, c.left), llvm::ConstantInt::get(t, 1)), c.left);
    b_.CreateStore(b_.CreateAdd(b_.CreateLoad(t, c.counter), b_.CreateLoad(t, c.delta)), c.counter);
    return;
  }
  case nir::Op::CountBr: {
    const Counted &c = counted_.at(static_cast<const LoopStmt *>(in.stmt));
    llvm::Type *t = llvmType(in.ty);
    llvm::Value *more = b_.CreateICmpNE(b_.CreateLoad(t, c.left), llvm::ConstantInt::get(t, 0));
    b_.CreateCondBr(more, blocks_[in.target], blocks_[in.elseTarget]);
    return;
  }
  case nir::Op::Switch: return lowerSwitch(in);
  case nir::Op::Br: b_.CreateBr(blocks_[in.target]); return;
  case nir::Op::CondBr: {
    llvm::Value *c = in.onError ? part(temp(in.operand), 0, "is_error") : temp(in.operand);
    b_.CreateCondBr(c, blocks_[in.target], blocks_[in.elseTarget]);
    return;
  }
  case nir::Op::Phi: return lowerPhi(in);
  case nir::Op::Unwrap:
    temps_[in.result] = in.ty->isNil() ? nullptr : part(temp(in.operand), 2);
    tempTys_[in.result] = in.ty;
    return;
  case nir::Op::Ret: {
    if (f.plainReturn) { // never a failure here (nir/ResultElision.cpp)
      llvm::Value *v = f.decl->ret->isNil()           ? nullptr
                       : in.operand == nir::kNoTemp ? zeroValue(f.decl->ret)
                                                    : temp(in.operand);
      if (v && resultOut_) storeValue(v, resultOut_);
      if (v && !resultOut_) b_.CreateRet(v);
      else b_.CreateRetVoid();
      return;
    }
    llvm::Value *whole = nullptr; // a Result passed on as it is
    llvm::Value *isError = b_.getFalse(), *code = b_.getInt32(0), *value = nullptr;
    switch (in.leave) {
    case nir::ExitKind::Fail: {
      // Any integer code converts as `code => int32` (LANGUAGE-2 A8); one
      // of a type int32 cannot hold every value of is checked.
      const Ty *codeTy = in.operand == nir::kNoTemp ? nullptr : tempTys_[in.operand];
      const Expr *codeExpr = in.stmt ? static_cast<const FailStmt *>(in.stmt)->code.get() : nullptr;
      bool narrows = codeTy && codeTy->isInt() && (codeTy->bits > 32 || (!codeTy->isSigned && codeTy->bits == 32));
      code = in.operand == nir::kNoTemp ? b_.getInt32(1)
             : narrows && codeExpr ? castIntChecked(temp(in.operand), codeTy, types_->int32(), codeExpr->span)
                                   : temp(in.operand, types_->int32());
      isError = b_.getTrue();
      break;
    }
    case nir::ExitKind::Return:
      if (in.operand != nir::kNoTemp && in.ty && in.ty->isResult()) {
        whole = temp(in.operand);
        break;
      }
      [[fallthrough]];
    default: value = temp(in.operand); break;
    }
    if (!resultOut_) {
      b_.CreateRet(whole ? whole : makeResult(func_->ret, isError, code, value));
      return;
    }
    if (whole) {
      storeValue(whole, resultOut_);
    } else {
      llvm::StructType *rt = resultType(func_->ret);
      b_.CreateStore(isError, b_.CreateStructGEP(rt, resultOut_, 0));
      b_.CreateStore(code, b_.CreateStructGEP(rt, resultOut_, 1));
      storeValue(value ? value : zeroValue(func_->ret), b_.CreateStructGEP(rt, resultOut_, 2));
    }
    b_.CreateRetVoid();
    return;
  }
  case nir::Op::Exit: {
    llvm::Value *status = in.operand == nir::kNoTemp ? b_.getInt32(0) : temp(in.operand, types_->int32());
    b_.CreateCall(runtime(RuntimeFn::npk_exit), {status});
    b_.CreateUnreachable();
    return;
  }
  case nir::Op::FallOff:
    if (f.plainReturn && f.decl->ret->isNil()) b_.CreateRetVoid();
    else if (f.decl->ret->isNil() || f.decl->isMain) b_.CreateRet(makeResult(f.decl->ret, b_.getFalse(), b_.getInt32(0), nullptr));
    else b_.CreateUnreachable();
    return;
  case nir::Op::Unreachable: b_.CreateUnreachable(); return;
  }
}

// A `pick`'s `switch`: small cases become LLVM `switch` cases; a range of
// more values is one unsigned comparison (`v - lo <= hi - lo`) ahead of it.
// The cases are disjoint, so their order does not matter. Without an
// `else`, the cases hold every value and the default is unreachable.
void Lowerer::lowerSwitch(const nir::Inst &in) {
  constexpr __int128 kMaxExpanded = 16; // values a range may spread into cases
  llvm::Value *v = temp(in.operand);
  auto *t = llvm::cast<llvm::IntegerType>(v->getType());
  unsigned width = t->getBitWidth();
  auto constant = [&](__int128 x) {
    uint64_t bits = static_cast<uint64_t>(static_cast<unsigned __int128>(x));
    if (width < 64) bits &= (uint64_t{1} << width) - 1;
    return llvm::ConstantInt::get(t, bits);
  };
  for (const nir::SwitchCase &c : in.cases) {
    if (c.hi - c.lo < kMaxExpanded) continue;
    llvm::BasicBlock *next = llvm::BasicBlock::Create(ctx_, "pick.test", fn_, anchor_);
    llvm::Value *inRange = b_.CreateICmpULE(b_.CreateSub(v, constant(c.lo)), constant(c.hi - c.lo));
    b_.CreateCondBr(inRange, blocks_[c.target], next);
    b_.SetInsertPoint(next);
  }
  llvm::BasicBlock *otherwise = nullptr;
  if (in.exhaustive) {
    otherwise = llvm::BasicBlock::Create(ctx_, "pick.none", fn_, anchor_);
    llvm::IRBuilder<> none(otherwise);
    none.CreateUnreachable();
  } else {
    otherwise = blocks_[in.elseTarget];
  }
  llvm::SwitchInst *sw = b_.CreateSwitch(v, otherwise);
  for (const nir::SwitchCase &c : in.cases)
    if (c.hi - c.lo < kMaxExpanded)
      for (__int128 x = c.lo; x <= c.hi; ++x) sw->addCase(constant(x), blocks_[c.target]);
}

// `loop(start, limit, step)` (LANGUAGE-2 A4): a step that is not positive is
// trap 105; the body runs ceil(|limit - start| / step) times, counted in the
// counter's width as unsigned (the distance always fits), so `$` counts up
// or down towards the exclusive limit and never overflows.
void Lowerer::lowerCountInit(const nir::Inst &in) {
  const Ty *ty = in.ty;
  llvm::Type *t = llvmType(ty);
  llvm::Value *zero = llvm::ConstantInt::get(t, 0);
  llvm::Value *start = in.counts[0] == nir::kNoTemp ? zero : temp(in.counts[0]);
  llvm::Value *limit = temp(in.counts[1]);
  llvm::Value *step = temp(in.counts[2]);
  emitTrap(ty->isSigned ? b_.CreateICmpSLE(step, zero) : b_.CreateICmpEQ(step, zero),
           {NPK_ERR_LOOP_STEP, NPK_TRAP_SITE_PLAIN, 0, static_cast<const LoopStmt *>(in.stmt)->step->span});
  llvm::Value *up = ty->isSigned ? b_.CreateICmpSLE(start, limit) : b_.CreateICmpULE(start, limit);
  llvm::Value *distance = b_.CreateSelect(up, b_.CreateSub(limit, start), b_.CreateSub(start, limit));
  llvm::Value *rounds = b_.CreateAdd(b_.CreateUDiv(distance, step),
                                     b_.CreateZExt(b_.CreateICmpNE(b_.CreateURem(distance, step), zero), t));
  // One set of slots per loop, also when a defer body holding it is expanded
  // at several exits.
  auto [it, fresh] = counted_.try_emplace(static_cast<const LoopStmt *>(in.stmt));
  Counted &c = it->second;
  if (fresh) {
    c.counter = allocas_.CreateAlloca(t, nullptr, "loop.counter");
    c.left = allocas_.CreateAlloca(t, nullptr, "loop.left");
    c.delta = allocas_.CreateAlloca(t, nullptr, "loop.delta");
  }
  b_.CreateStore(start, c.counter);
  b_.CreateStore(rounds, c.left);
  b_.CreateStore(b_.CreateSelect(up, step, b_.CreateNeg(step)), c.delta);
}

void Lowerer::lowerParam(const nir::Inst &in) {
  const Binding &pb = *in.binding;
  unsigned i = 0;
  while (i < func_->params.size() && &func_->params[i]->binding != &pb) ++i;
  llvm::Argument *arg = fn_->getArg(i + (resultOut_ ? 1 : 0));
  if (passesInMemory(funcType(*func_), i)) { // the function's own copy (`byval`) is the parameter's storage
    slots_[&pb] = arg;
    if (debug_) debug_->declareVariable(pb, arg, false, i + 1, allocas_.GetInsertBlock());
    return;
  }
  if (pb.quals & (QualBorrowMut | QualBorrowImm)) {
    slots_[&pb] = arg; // the caller's storage
    if (debug_) { // a debugger reads the value through the address, kept in a slot of its own
      llvm::AllocaInst *addr = allocas_.CreateAlloca(arg->getType(), nullptr, pb.name + ".addr");
      allocas_.CreateStore(arg, addr);
      debug_->declareVariable(pb, addr, true, i + 1, allocas_.GetInsertBlock());
    }
    return;
  }
  llvm::AllocaInst *slot = allocas_.CreateAlloca(arg->getType(), nullptr, pb.name);
  b_.CreateStore(arg, slot);
  slots_[&pb] = slot;
  if (debug_) debug_->declareVariable(pb, slot, false, i + 1, allocas_.GetInsertBlock());
}

// Stores `v` to `addr`. A struct or array value that was just loaded from
// memory nothing has written since is copied with one memmove instead, and
// a large zero one is one memset: LLVM's instruction selection splits a
// first-class aggregate into every element, which for a large array takes
// seconds or runs out of stack.
void Lowerer::storeValue(llvm::Value *v, llvm::Value *addr) {
  const llvm::DataLayout &dl = mod_->getDataLayout();
  if (llvm::Value *src = unchangedSource(v)) {
    llvm::Align align = dl.getABITypeAlign(v->getType());
    b_.CreateMemMove(addr, align, src, align, dl.getTypeAllocSize(v->getType()));
    if (auto *load = llvm::cast<llvm::LoadInst>(v); load->use_empty()) load->eraseFromParent();
    return;
  }
  if (llvm::isa<llvm::InsertValueInst>(v)) { // built from parts: stored part by part, when every part is known
    auto *ty = v->getType();
    unsigned n = ty->isStructTy() ? ty->getStructNumElements() : static_cast<unsigned>(ty->getArrayNumElements());
    llvm::SmallVector<llvm::Value *, 8> fields;
    for (unsigned i = 0; i < n && fields.size() == i; ++i)
      if (llvm::Value *field = builtPart(v, i)) fields.push_back(field);
    if (fields.size() == n) {
      for (unsigned i = 0; i < n; ++i)
        if (!llvm::isa<llvm::UndefValue>(fields[i]))
          storeValue(fields[i], b_.CreateConstInBoundsGEP2_32(ty, addr, 0, i));
      return;
    }
  }
  auto *zero = llvm::dyn_cast<llvm::Constant>(v);
  if (zero && zero->isNullValue() && v->getType()->isAggregateType() &&
      dl.getTypeAllocSize(v->getType()) > kLargeValueBytes) {
    b_.CreateMemSet(addr, b_.getInt8(0), dl.getTypeAllocSize(v->getType()), dl.getABITypeAlign(v->getType()));
    return;
  }
  b_.CreateStore(v, addr);
}

// The memory a struct or array value loaded from it (see storeValue) can
// still be read from here: a private copy, or memory nothing has written
// since the load in this block. Null for any other value.
llvm::Value *Lowerer::unchangedSource(llvm::Value *v) {
  auto *load = llvm::dyn_cast<llvm::LoadInst>(v);
  if (!load || !v->getType()->isAggregateType()) return nullptr;
  if (privateCopies_.count(load->getPointerOperand())) return load->getPointerOperand();
  if (load->getParent() != b_.GetInsertBlock()) return nullptr;
  for (llvm::Instruction *i = load->getNextNode(); i; i = i->getNextNode())
    if (i->mayWriteToMemory()) return nullptr;
  return load->getPointerOperand();
}

// Memory that holds the large value `v` of type `t` here: where it was
// loaded from, when unchanged, else a private copy. `v` is used up.
llvm::Value *Lowerer::valueInMemory(llvm::Value *v, const Ty *t) {
  if (llvm::Value *src = unchangedSource(v)) {
    if (v->use_empty()) llvm::cast<llvm::LoadInst>(v)->eraseFromParent();
    return src;
  }
  llvm::AllocaInst *slot = privateSlot(t);
  storeValue(v, slot);
  return slot;
}

// Part `idx` of an aggregate built here from parts (a struct or array
// literal, a Result made for a callee that returns its plain value), read
// off the `insertvalue`s that built it; null for any other value. Reading
// parts this way, and storing them one by one, leaves the aggregate unused
// (lowerFunc erases it): -O0 instruction selection (FastISel) handles no
// `insertvalue` and no aggregate store, and falls back to the slow selector
// for the whole block.
llvm::Value *Lowerer::builtPart(llvm::Value *agg, unsigned idx) {
  for (llvm::Value *v = agg;;) {
    if (auto *ins = llvm::dyn_cast<llvm::InsertValueInst>(v)) {
      if (ins->getNumIndices() == 1 && ins->getIndices()[0] == idx) return ins->getInsertedValueOperand();
      if (ins->getNumIndices() != 1) return nullptr;
      v = ins->getAggregateOperand();
      continue;
    }
    if (auto *c = llvm::dyn_cast<llvm::Constant>(v); c && v != agg) return c->getAggregateElement(idx);
    return nullptr;
  }
}

// Part `idx` of a struct or Result value. A large one (see storeValue) is
// read from its memory, the part alone; a small one is extracted.
llvm::Value *Lowerer::part(llvm::Value *agg, unsigned idx, const llvm::Twine &name) {
  auto *sty = llvm::cast<llvm::StructType>(agg->getType());
  if (llvm::Value *known = builtPart(agg, idx)) return known;
  llvm::Value *src = mod_->getDataLayout().getTypeAllocSize(sty) > kLargeValueBytes ? unchangedSource(agg) : nullptr;
  if (!src) return b_.CreateExtractValue(agg, idx, name);
  llvm::Value *addr = b_.CreateStructGEP(sty, src, idx);
  if (privateCopies_.count(src)) privateCopies_.insert(addr);
  return b_.CreateLoad(sty->getElementType(idx), addr, name);
}

// Whether values of `t` are large enough to be kept in memory between their
// evaluation and their use (see storeValue).
bool Lowerer::largeValue(const Ty *t) {
  if (!t || (!t->isArray() && !t->isStruct())) return false;
  return mod_->getDataLayout().getTypeAllocSize(llvmType(t)) > kLargeValueBytes;
}

// The value of `t` at `addr`, copied now into a stack slot of its own: the
// returned load names the slot, which storeValue copies from with memmove.
llvm::Value *Lowerer::privateCopy(llvm::Value *addr, const Ty *t) {
  llvm::Type *ty = llvmType(t);
  const llvm::DataLayout &dl = mod_->getDataLayout();
  llvm::AllocaInst *slot = privateSlot(t);
  llvm::Align align = dl.getABITypeAlign(ty);
  b_.CreateMemMove(slot, align, addr, align, dl.getTypeAllocSize(ty));
  return b_.CreateLoad(ty, slot);
}

llvm::AllocaInst *Lowerer::privateSlot(const Ty *t) { return privateSlot(llvmType(t)); }

llvm::AllocaInst *Lowerer::privateSlot(llvm::Type *ty) {
  llvm::AllocaInst *slot = allocas_.CreateAlloca(ty, nullptr, "value");
  privateCopies_.insert(slot);
  return slot;
}

void Lowerer::lowerLet(const nir::Inst &in) {
  const Binding &b = *in.binding;
  llvm::Type *valueTy = llvmType(b.ty);
  llvm::Type *slotTy = b.heapStruct ? b_.getPtrTy() : valueTy;
  llvm::AllocaInst *slot = allocas_.CreateAlloca(slotTy, nullptr, b.name);
  slots_[&b] = slot;
  if (debug_) debug_->declareVariable(b, slot, b.heapStruct, 0, allocas_.GetInsertBlock());
  llvm::Value *init = in.operand != nir::kNoTemp ? temp(in.operand) : zeroValue(b.ty);
  if (b.heapStruct) {
    llvm::Value *size = b_.getInt64(mod_->getDataLayout().getTypeAllocSize(valueTy));
    llvm::Value *mem = b_.CreateCall(runtime(RuntimeFn::npk_alloc), {size}, b.name + ".heap");
    storeValue(init, mem);
    b_.CreateStore(mem, slot);
  } else if (auto *c = llvm::dyn_cast<llvm::Constant>(init); c && b.ty->isArray() && c->isNullValue()) {
    // A zero-filled array (LANGUAGE-2 A2) is one memset, whatever its length.
    const llvm::DataLayout &dl = mod_->getDataLayout();
    b_.CreateMemSet(slot, b_.getInt8(0), dl.getTypeAllocSize(valueTy), dl.getABITypeAlign(valueTy));
  } else {
    storeValue(init, slot);
  }
  for (auto &[e, from] : in.clearsFlag) setDropFlag(*from, false); // a transfer out of `from`
}

// One automatic drop (a NIR `drop`). A guarded drop first tests the
// binding's drop flag, because the paths reaching it disagree on whether the
// binding still owns its memory.
void Lowerer::emitDrop(const nir::Inst &a) {
  if (!a.binding || !slots_.count(a.binding)) return; // not declared on this lowering path
  // Every call this drop makes carries `!npk.drop !{i32 N}` (N counts the
  // function's drops), so a test can match the IR's drops to the NIR's.
  dropTag_ = llvm::MDNode::get(ctx_, {llvm::ConstantAsMetadata::get(b_.getInt32(dropCount_++))});
  struct Untag {
    llvm::MDNode *&tag;
    ~Untag() { tag = nullptr; }
  } untag{dropTag_};
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
void Lowerer::emitRelease(const nir::Inst &a) {
  if (a.dropKind == nir::DropKind::UserDrop) return emitValueDrop(bindingAddress(*a.binding), a.binding->ty);
  llvm::Value *ptr = b_.CreateLoad(b_.getPtrTy(), slots_.at(a.binding), a.binding->name);
  auto *done = blockAfterCurrent("released." + a.binding->name);
  auto *release = llvm::BasicBlock::Create(ctx_, "release." + a.binding->name, fn_, done);
  b_.CreateCondBr(b_.CreateIsNotNull(ptr), release, done);
  b_.SetInsertPoint(release);
  tagDrop(b_.CreateCall(runtime(a.dropKind == nir::DropKind::WildxFree ? RuntimeFn::npk_wildx_free : RuntimeFn::npk_free), {ptr}));
  b_.CreateBr(done);
  b_.SetInsertPoint(done);
}

// The value at `addr`: its own destructor first, then its fields' in
// declaration order (each field that owns one, at any depth).
void Lowerer::emitValueDrop(llvm::Value *addr, const Ty *ty) {
  if (ty->isResult()) {
    // A `Result<T>` holds a value only when it is not an error.
    llvm::StructType *rt = resultType(ty->resultValue());
    llvm::Value *isError = b_.CreateLoad(b_.getInt1Ty(), b_.CreateStructGEP(rt, addr, 0));
    auto *done = blockAfterCurrent("result.dropped");
    auto *holds = llvm::BasicBlock::Create(ctx_, "result.drop", fn_, done);
    b_.CreateCondBr(isError, done, holds);
    b_.SetInsertPoint(holds);
    emitValueDrop(b_.CreateStructGEP(rt, addr, 2), ty->resultValue());
    b_.CreateBr(done);
    b_.SetInsertPoint(done);
    return;
  }
  if (ty->isArray()) return emitArrayDrop(addr, ty);
  const StructDecl *sd = ty->decl;
  if (FuncDecl *dropFn = sd->dropFn) {
    auto fn = funcs_.find(dropFn);
    if (fn != funcs_.end() && dropFn->params.size() == 1) {
      bool byRef = dropFn->params[0]->binding.quals & (QualBorrowMut | QualBorrowImm);
      llvm::Value *self = byRef ? addr : b_.CreateLoad(llvmType(ty), addr, sd->name);
      tagDrop(b_.CreateCall(fn->second, {self}));
    }
  }
  for (unsigned i = 0; i < sd->fields.size(); ++i)
    if (own::movesByValue(sd->fields[i].ty))
      emitValueDrop(b_.CreateStructGEP(llvmType(ty), addr, i), sd->fields[i].ty);
}

// An array's elements, highest index first (LANGUAGE-2 A2): one loop over
// the indexes N-1 down to 0.
void Lowerer::emitArrayDrop(llvm::Value *addr, const Ty *ty) {
  llvm::Type *llArray = llvmType(ty);
  llvm::BasicBlock *before = b_.GetInsertBlock();
  auto *done = blockAfterCurrent("array.dropped");
  auto *loop = llvm::BasicBlock::Create(ctx_, "array.drop", fn_, done);
  b_.CreateBr(loop);
  b_.SetInsertPoint(loop);
  llvm::PHINode *i = b_.CreatePHI(b_.getInt64Ty(), 2, "drop.index");
  i->addIncoming(b_.getInt64(ty->length - 1), before);
  emitValueDrop(b_.CreateInBoundsGEP(llArray, addr, {b_.getInt64(0), i}), ty->element());
  llvm::Value *last = b_.CreateICmpEQ(i, b_.getInt64(0));
  i->addIncoming(b_.CreateSub(i, b_.getInt64(1)), b_.GetInsertBlock());
  b_.CreateCondBr(last, done, loop);
  b_.SetInsertPoint(done);
}

// A discarded struct value with a destructor (`raw make();`, `drop make();`
// on success) has no owner after this statement: its destructor runs now.
void Lowerer::dropDiscarded(llvm::Value *v, const Ty *ty) {
  if (!v || !ty || !own::movesByValue(ty)) return;
  llvm::Value *slot = allocas_.CreateAlloca(v->getType(), nullptr, "discarded");
  storeValue(v, slot);
  emitValueDrop(slot, ty);
}

void Lowerer::tagDrop(llvm::CallInst *call) {
  if (dropTag_) call->setMetadata("npk.drop", dropTag_);
}

// Drop code is placed right after the block it starts in, so the IR reads in
// the order the drops run on each exit path.
llvm::BasicBlock *Lowerer::blockAfterCurrent(const std::string &name) {
  llvm::BasicBlock *next = b_.GetInsertBlock()->getNextNode();
  return llvm::BasicBlock::Create(ctx_, name, fn_, next);
}

// An explicit release (or a transfer to another binding) of a flagged
// binding inside the instruction being lowered: from here on its automatic
// drop must not run (drop elaboration lists these on the instruction).
void Lowerer::noteRelease(const Expr &e) {
  if (!clears_) return;
  for (auto &[at, b] : *clears_)
    if (at == &e) setDropFlag(*b, false);
}

// The flag reads false on paths that never reach the binding's declaration.
void Lowerer::setDropFlag(const Binding &b, bool owned) {
  llvm::Value *&flag = dropFlags_[&b];
  if (!flag) {
    flag = allocas_.CreateAlloca(b_.getInt1Ty(), nullptr, b.name + ".flag");
    allocas_.CreateStore(b_.getFalse(), flag);
  }
  b_.CreateStore(b_.getInt1(owned), flag);
}

} // namespace npk
