#include "lower/Lowerer.h"

#include "own/Tracking.h"

#include "npk/runtime.h"

#include <llvm/IR/InlineAsm.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/MDBuilder.h>

#include <cmath>
#include <cstddef>

namespace npk {

namespace {
bool isSignedInt(const Ty *t) { return (t->isInt() && t->isSigned) || t->kind == TyKind::Tbb32; }
unsigned intBits(const Ty *t) { return t->kind == TyKind::Tbb32 ? 32 : t->bits; }
} // namespace

llvm::Value *Lowerer::lowerAs(const Expr &e, const Ty *target) { return convert(lowerExpr(e), e.ty, target); }

// Implicit conversions the checker allowed: widening, NULL to a pointer.
llvm::Value *Lowerer::convert(llvm::Value *v, const Ty *from, const Ty *to) {
  if (!from || from == to || !v) return v;
  if (from->isIntLike() && to->isIntLike()) {
    llvm::Type *t = llvmType(to);
    return isSignedInt(from) ? b_.CreateSExtOrTrunc(v, t) : b_.CreateZExtOrTrunc(v, t);
  }
  if (from->isFloat() && to->isFloat()) return b_.CreateFPCast(v, llvmType(to));
  if (from->isIntLike() && to->isFloat())
    return isSignedInt(from) ? b_.CreateSIToFP(v, llvmType(to)) : b_.CreateUIToFP(v, llvmType(to));
  return v; // pointers are opaque
}

uint32_t Lowerer::trapText(const std::string &text) {
  auto [it, added] = trapTextIndex_.try_emplace(text, static_cast<uint32_t>(trapTexts_.size()));
  if (added) trapTexts_.push_back(text);
  return it->second;
}

// The table's layout is the runtime's: npk_trap_table is two pointers and
// two counts, npk_trap_site eight 32-bit words in the order trapSite writes.
constexpr size_t kTrapSiteWords = sizeof(npk_trap_site) / sizeof(uint32_t);
static_assert(kTrapSiteWords == 8 && offsetof(npk_trap_site, type) == 7 * sizeof(uint32_t));
static_assert(sizeof(npk_trap_table) == 2 * sizeof(void *) + 2 * sizeof(uint32_t));

llvm::GlobalVariable *Lowerer::trapTable() {
  if (!trapTable_) {
    llvm::Type *p = b_.getPtrTy(), *i32 = b_.getInt32Ty();
    auto *ty = llvm::StructType::create(ctx_, {p, p, i32, i32}, "npk.trap_table");
    trapTable_ = new llvm::GlobalVariable(*mod_, ty, true, llvm::GlobalValue::PrivateLinkage, nullptr, "npk.traps");
  }
  return trapTable_;
}

// The site's words (npk_trap_site) go into the table; its number is what
// the trap call passes.
llvm::Constant *Lowerer::trapSite(const TrapSite &site) {
  trapTable();
  uint32_t file = NPK_TRAP_NO_TEXT;
  LineCol lc;
  if (site.at.valid()) {
    file = trapText(sm_.file(site.at.file).path);
    lc = sm_.lineCol(site.at.file, site.at.begin);
  }
  auto index = static_cast<uint32_t>(trapSites_.size() / kTrapSiteWords);
  trapSites_.insert(trapSites_.end(), {file, lc.line, lc.charCol, static_cast<uint32_t>(site.code), site.kind,
                                       site.flags, site.op ? trapText(site.op) : NPK_TRAP_NO_TEXT,
                                       site.type ? trapText(site.type->str()) : NPK_TRAP_NO_TEXT});
  return b_.getInt32(index);
}

// After every function: the table's sites (numbers only) and its texts.
void Lowerer::defineTrapTable() {
  if (!trapTable_) return;
  auto *sites = new llvm::GlobalVariable(*mod_, llvm::ArrayType::get(b_.getInt32Ty(), trapSites_.size()), true,
                                         llvm::GlobalValue::PrivateLinkage,
                                         llvm::ConstantDataArray::get(ctx_, trapSites_), "npk.trap_sites");
  sites->setAlignment(llvm::Align(4));
  std::vector<llvm::Constant *> texts;
  for (const std::string &t : trapTexts_) texts.push_back(stringConstant(t));
  auto *textsTy = llvm::ArrayType::get(b_.getPtrTy(), texts.size());
  auto *textArray = new llvm::GlobalVariable(*mod_, textsTy, true, llvm::GlobalValue::PrivateLinkage,
                                             llvm::ConstantArray::get(textsTy, texts), "npk.trap_texts");
  trapTable_->setInitializer(llvm::ConstantStruct::get(
      llvm::cast<llvm::StructType>(trapTable_->getValueType()),
      {sites, textArray, b_.getInt32(static_cast<uint32_t>(trapSites_.size() / kTrapSiteWords)),
       b_.getInt32(static_cast<uint32_t>(texts.size()))}));
}

void Lowerer::emitTrap(llvm::Value *failCond, const TrapSite &site, llvm::function_ref<TrapOperands()> operands) {
  // A check that cannot fail (a constant divisor, a cast that cannot lose
  // bits) costs nothing, not even an -O0 block.
  if (auto *c = llvm::dyn_cast<llvm::ConstantInt>(failCond); c && c->isZero()) return;
  auto widen = [&](llvm::Value *v) -> llvm::Value * { return v ? v : b_.getInt64(0); };
  auto *okBB = newBlock("ok");
  auto *cold = llvm::MDBuilder(ctx_).createBranchWeights(1, 1 << 20);
  if (!options_.optimized && !options_.debugInfo) {
    if (!trapBlock_.block) {
      llvm::IRBuilderBase::InsertPointGuard keep(b_);
      trapBlock_.block = llvm::BasicBlock::Create(ctx_, "trap", fn_);
      b_.SetInsertPoint(trapBlock_.block);
      trapBlock_.site = b_.CreatePHI(b_.getInt32Ty(), 4, "site");
      trapBlock_.a = b_.CreatePHI(b_.getInt64Ty(), 4, "a");
      trapBlock_.b = b_.CreatePHI(b_.getInt64Ty(), 4, "b");
      b_.CreateCall(runtime(RuntimeFn::npk_trap_at), {trapTable(), trapBlock_.site, trapBlock_.a, trapBlock_.b});
      b_.CreateUnreachable();
    }
    TrapOperands ab = operands();
    llvm::BasicBlock *from = b_.GetInsertBlock();
    trapBlock_.site->addIncoming(trapSite(site), from);
    trapBlock_.a->addIncoming(widen(ab.first), from);
    trapBlock_.b->addIncoming(widen(ab.second), from);
    b_.CreateCondBr(failCond, trapBlock_.block, okBB, cold);
  } else {
    static constexpr const char *kBlockNames[] = {"trap", "trap.int", "trap.cast", "trap.cast", "trap.index"};
    auto *trapBB = newBlock(site.kind < std::size(kBlockNames) ? kBlockNames[site.kind] : "trap");
    b_.CreateCondBr(failCond, trapBB, okBB, cold);
    b_.SetInsertPoint(trapBB);
    TrapOperands ab = operands();
    b_.CreateCall(runtime(RuntimeFn::npk_trap_at), {trapTable(), trapSite(site), widen(ab.first), widen(ab.second)});
    b_.CreateUnreachable();
  }
  b_.SetInsertPoint(okBB);
}

// An integer value widened to int64 by its type's signedness (for messages).
llvm::Value *Lowerer::toInt64(llvm::Value *v, const Ty *t) {
  return isSignedInt(t) ? b_.CreateSExtOrTrunc(v, b_.getInt64Ty()) : b_.CreateZExtOrTrunc(v, b_.getInt64Ty());
}

llvm::Value *Lowerer::bindingAddress(const Binding &b) {
  llvm::Value *slot = slots_.at(&b);
  if (b.heapStruct) return b_.CreateLoad(b_.getPtrTy(), slot, b.name + ".heap");
  return slot;
}

// Whether the lvalue `e` lies in a `fixed` global's read-only storage.
bool Lowerer::readOnlyGlobal(const Expr &e) {
  if (auto *n = as<NameExpr>(&e)) return n->global && n->global->kind != GlobalDecl::Kind::Var;
  if (auto *m = as<MemberExpr>(&e); m && !m->throughPointer) return readOnlyGlobal(*m->base);
  return false;
}

llvm::Value *Lowerer::lowerAddress(const Expr &e) {
  if (auto *n = as<NameExpr>(&e)) return n->global ? globals_.at(n->global) : bindingAddress(*n->binding);
  if (auto *idx = as<IndexExpr>(&e)) {
    if (idx->base->ty->isArray()) return arrayElement(*idx);
    llvm::Value *base = lowerExpr(*idx->base);
    llvm::Value *i = lowerExpr(*idx->index);
    i = isSignedInt(idx->index->ty) ? b_.CreateSExtOrTrunc(i, b_.getInt64Ty()) : b_.CreateZExtOrTrunc(i, b_.getInt64Ty());
    return b_.CreateGEP(llvmType(idx->ty), base, i);
  }
  if (auto *u = as<UnaryExpr>(&e); u && u->op == UnaryOp::Deref) return lowerExpr(*u->operand);
  if (auto *m = as<MemberExpr>(&e)) {
    llvm::Value *base = m->throughPointer ? lowerExpr(*m->base) : lowerAddress(*m->base);
    const Ty *st = m->throughPointer ? m->base->ty->pointee : m->base->ty;
    return b_.CreateStructGEP(llvmType(st), base, m->fieldIndex);
  }
  llvm::report_fatal_error("npkc: address of a non-lvalue reached lowering");
}

// The address of `a[i]` of an array `T[N]` (LANGUAGE-2 A2), after the check
// 0 <= i < N in the index's own type (trap 104). An array that is not
// storage (a call's value) is indexed in a temporary copy.
llvm::Value *Lowerer::arrayElement(const IndexExpr &e) {
  const Ty *arrayTy = e.base->ty;
  llvm::Type *llArray = llvmType(arrayTy);
  llvm::Value *base = nullptr;
  if (isLvalue(*e.base)) {
    base = lowerAddress(*e.base);
  } else {
    base = allocas_.CreateAlloca(llArray, nullptr, "array.value");
    storeValue(lowerExpr(*e.base), base);
  }
  llvm::Value *i = lowerExpr(*e.index);
  const Ty *it = e.index->ty;
  auto *iTy = llvm::cast<llvm::IntegerType>(i->getType());
  unsigned bits = iTy->getBitWidth();
  bool isSigned = isSignedInt(it);
  // The largest value of the index type; when N exceeds it, only a negative
  // index can be out of bounds.
  uint64_t typeMax = bits >= 64 ? (isSigned ? INT64_MAX : UINT64_MAX) : (uint64_t{1} << (bits - (isSigned ? 1 : 0))) - 1;
  llvm::Value *bad = nullptr;
  if (arrayTy->length <= typeMax)
    bad = b_.CreateICmpUGE(i, llvm::ConstantInt::get(iTy, arrayTy->length)); // a negative index reads as huge
  else if (isSigned)
    bad = b_.CreateICmpSLT(i, llvm::ConstantInt::get(iTy, 0));
  if (auto *known = llvm::dyn_cast_or_null<llvm::ConstantInt>(bad); known && known->isZero())
    bad = nullptr; // a constant index in range (the checker refused any other constant)
  if (bad)
    emitTrap(bad, {NPK_ERR_INDEX, NPK_TRAP_SITE_INDEX, uint8_t(isSigned ? 1 : 0), e.span, nullptr, arrayTy},
             [&] { return TrapOperands{toInt64(i, it), nullptr}; });
  llvm::Value *wide = isSigned ? b_.CreateSExtOrTrunc(i, b_.getInt64Ty()) : b_.CreateZExtOrTrunc(i, b_.getInt64Ty());
  return b_.CreateInBoundsGEP(llArray, base, {b_.getInt64(0), wide});
}

// `[e0, ...]`: the elements converted to T, in order.
llvm::Value *Lowerer::lowerArrayLit(const ArrayLitExpr &e) {
  llvm::Value *agg = llvm::UndefValue::get(llvmType(e.ty));
  for (unsigned i = 0; i < e.elements.size(); ++i)
    agg = b_.CreateInsertValue(agg, lowerAs(*e.elements[i], e.ty->element()), i);
  return agg;
}

llvm::Value *Lowerer::lowerExpr(const Expr &e) {
  if (llvm::Value *v = nullptr; evaluatedBefore(e, v)) return v;
  switch (e.kind) {
  case ExprKind::IntLit: {
    auto &lit = static_cast<const IntLitExpr &>(e);
    if (e.ty->isFloat()) return llvm::ConstantFP::get(llvmType(e.ty), static_cast<double>(lit.value));
    return llvm::ConstantInt::get(llvmType(e.ty), lit.value);
  }
  case ExprKind::Layout: return b_.getInt64(static_cast<const LayoutExpr &>(e).value);
  case ExprKind::Counter: {
    const Counted &c = counted_.at(static_cast<const CounterExpr &>(e).loop);
    return b_.CreateLoad(llvmType(e.ty), c.counter, "$");
  }
  case ExprKind::FloatLit: return llvm::ConstantFP::get(llvmType(e.ty), static_cast<const FloatLitExpr &>(e).value);
  case ExprKind::BoolLit: return b_.getInt1(static_cast<const BoolLitExpr &>(e).value);
  case ExprKind::StringLit: return stringValue(static_cast<const StringLitExpr &>(e).value);
  case ExprKind::NullLit: return llvm::ConstantPointerNull::get(b_.getPtrTy());
  case ExprKind::Name: {
    auto &n = static_cast<const NameExpr &>(e);
    // `const` and `fixed` globals hold the value the checker computed.
    if (n.global && n.global->kind != GlobalDecl::Kind::Var) return constant(n.global->value, e.ty);
    llvm::Value *v = b_.CreateLoad(llvmType(e.ty), lowerAddress(n), n.name);
    noteRelease(e); // a struct value that moves from here no longer owns its destructor
    return v;
  }
  case ExprKind::Unary: return lowerUnary(static_cast<const UnaryExpr &>(e));
  case ExprKind::Binary: return lowerBinary(static_cast<const BinaryExpr &>(e));
  case ExprKind::Cast: return lowerCast(static_cast<const CastExpr &>(e));
  case ExprKind::Call: return lowerCall(static_cast<const CallExpr &>(e));
  case ExprKind::Index: return b_.CreateLoad(llvmType(e.ty), lowerAddress(e));
  case ExprKind::Member: return lowerMember(static_cast<const MemberExpr &>(e));
  case ExprKind::Raw: return lowerRaw(static_cast<const RawExpr &>(e));
  case ExprKind::Drop: {
    auto &d = static_cast<const DropExpr &>(e);
    dropDiscarded(lowerExpr(*d.operand), d.operand->ty);
    return nullptr;
  }
  case ExprKind::StructLit: return lowerStructLit(static_cast<const StructLitExpr &>(e));
  case ExprKind::ArrayLit: return lowerArrayLit(static_cast<const ArrayLitExpr &>(e));
  case ExprKind::Is: // blocks and a phi in the NIR (nir/Build.cpp), read as a sub above
  case ExprKind::Default:
  case ExprKind::Template:
  case ExprKind::IncDec: // refused by the checker (a statement, not a value)
  case ExprKind::Error: break;
  }
  llvm::report_fatal_error("npkc: unexpected expression in lowering");
}

// `raw r`: an error calls npk_fail_at (failsafe).
llvm::Value *Lowerer::lowerRaw(const RawExpr &e) {
  llvm::Value *result = lowerExpr(*e.operand);
  const Ty *valueTy = e.operand->ty->resultValue();
  llvm::Value *isError = part(result, 0, "is_error");
  // A Result that cannot hold an error (a plain callee's) unwraps for free.
  if (auto *c = llvm::dyn_cast<llvm::ConstantInt>(isError); c && c->isZero())
    return valueTy->isNil() ? nullptr : part(result, 2);
  auto *errBB = newBlock("raw.fail");
  auto *okBB = newBlock("raw.ok");
  b_.CreateCondBr(isError, errBB, okBB);
  b_.SetInsertPoint(errBB);
  std::string what = "the operand";
  if (auto *call = as<CallExpr>(e.operand.get())) what = "call to `" + call->calleeFullName() + "`";
  else if (auto *name = as<NameExpr>(e.operand.get())) what = "`" + name->name + "`";
  b_.CreateCall(runtime(RuntimeFn::npk_fail_at), {part(result, 1), locString(e.span), stringConstant(what)});
  b_.CreateUnreachable();
  b_.SetInsertPoint(okBB);
  return valueTy->isNil() ? nullptr : part(result, 2);
}

llvm::Value *Lowerer::lowerUnary(const UnaryExpr &e) {
  switch (e.op) {
  case UnaryOp::Neg: {
    if (auto *lit = as<IntLitExpr>(e.operand.get())) {
      if (e.ty->isFloat()) return llvm::ConstantFP::get(llvmType(e.ty), -static_cast<double>(lit->value));
      return llvm::ConstantInt::get(llvmType(e.ty), -lit->value);
    }
    llvm::Value *v = lowerAs(*e.operand, e.ty);
    if (e.ty->isFloat()) return b_.CreateFNeg(v);
    return lowerArith(BinaryOp::Sub, llvm::ConstantInt::get(v->getType(), 0), v, e.ty, e.span, nullptr, true);
  }
  case UnaryOp::Not: return b_.CreateNot(lowerExpr(*e.operand));
  case UnaryOp::BitNot: return b_.CreateNot(lowerAs(*e.operand, e.ty));
  case UnaryOp::AddrOf:
    if (e.funcValue) return funcValue(*e.funcValue);
    if (e.externValue) return declareExtern(*e.externValue);
    if (readOnlyGlobal(*e.operand)) {
      // An empty asm statement returns the address unchanged, and LLVM no
      // longer knows it points to constant memory (defineGlobal).
      auto *launder = llvm::InlineAsm::get(llvm::FunctionType::get(b_.getPtrTy(), {b_.getPtrTy()}, false), "",
                                           "=r,0", false);
      return b_.CreateCall(launder, {lowerAddress(*e.operand)});
    }
    return lowerAddress(*e.operand);
  case UnaryOp::Deref: return b_.CreateLoad(llvmType(e.ty), lowerExpr(*e.operand));
  }
  return nullptr;
}

llvm::Value *Lowerer::lowerArith(BinaryOp op, llvm::Value *l, llvm::Value *r, const Ty *t, Span at, const Ty *rt,
                                 bool negate) {
  if (t->isFloat()) {
    switch (op) {
    case BinaryOp::Add: return b_.CreateFAdd(l, r);
    case BinaryOp::Sub: return b_.CreateFSub(l, r);
    case BinaryOp::Mul: return b_.CreateFMul(l, r);
    case BinaryOp::Div: return b_.CreateFDiv(l, r);
    default: break;
    }
  }
  if (!rt) rt = t;
  bool isSigned = isSignedInt(t);
  // Traps 101/102 name the operator, the type and both operands.
  auto trap = [&](llvm::Value *cond, int code) {
    auto flags = uint8_t((isSigned ? NPK_TRAP_LHS_SIGNED : 0) | (isSignedInt(rt) ? NPK_TRAP_RHS_SIGNED : 0) |
                         (negate ? NPK_TRAP_NEGATE : 0));
    emitTrap(cond, {code, NPK_TRAP_SITE_INT_OP, flags, at, binaryText(op), t},
             [&] { return TrapOperands{toInt64(l, t), toInt64(r, rt)}; });
  };
  auto checked = [&](llvm::Intrinsic::ID sid, llvm::Intrinsic::ID uid) {
    llvm::Value *pair = b_.CreateBinaryIntrinsic(isSigned ? sid : uid, l, r);
    trap(b_.CreateExtractValue(pair, 1), NPK_ERR_OVERFLOW);
    return b_.CreateExtractValue(pair, 0);
  };
  switch (op) {
  case BinaryOp::Add: return checked(llvm::Intrinsic::sadd_with_overflow, llvm::Intrinsic::uadd_with_overflow);
  case BinaryOp::Sub: return checked(llvm::Intrinsic::ssub_with_overflow, llvm::Intrinsic::usub_with_overflow);
  case BinaryOp::Mul: return checked(llvm::Intrinsic::smul_with_overflow, llvm::Intrinsic::umul_with_overflow);
  case BinaryOp::AddWrap: return b_.CreateAdd(l, r);
  case BinaryOp::SubWrap: return b_.CreateSub(l, r);
  case BinaryOp::MulWrap: return b_.CreateMul(l, r);
  case BinaryOp::Div:
  case BinaryOp::Rem: {
    llvm::Value *zero = llvm::ConstantInt::get(r->getType(), 0);
    llvm::Value *bad = b_.CreateICmpEQ(r, zero);
    if (auto *divisor = llvm::dyn_cast<llvm::ConstantInt>(r); divisor && !divisor->isZero()) {
      // A constant divisor: only MIN / -1 can fail, and only when it is -1.
      unsigned bits = intBits(t);
      bad = isSigned && divisor->isMinusOne()
                ? b_.CreateICmpEQ(l, llvm::ConstantInt::get(l->getType(), llvm::APInt::getSignedMinValue(bits)))
                : b_.getFalse();
    } else if (isSigned) {
      unsigned bits = intBits(t);
      llvm::Value *minV = llvm::ConstantInt::get(l->getType(), llvm::APInt::getSignedMinValue(bits));
      llvm::Value *minusOne = llvm::ConstantInt::getSigned(r->getType(), -1);
      bad = b_.CreateOr(bad, b_.CreateAnd(b_.CreateICmpEQ(l, minV), b_.CreateICmpEQ(r, minusOne)));
    }
    trap(bad, NPK_ERR_DIV_ZERO);
    if (op == BinaryOp::Div) return isSigned ? b_.CreateSDiv(l, r) : b_.CreateUDiv(l, r);
    return isSigned ? b_.CreateSRem(l, r) : b_.CreateURem(l, r);
  }
  case BinaryOp::Shl:
  case BinaryOp::Shr: {
    // A shift by the width or more (or by a negative amount) has no meaning;
    // it traps like overflow. The amount is compared at its own width, then
    // brought to the width of l.
    unsigned bits = intBits(t);
    trap(b_.CreateICmpUGE(r, llvm::ConstantInt::get(r->getType(), bits)), NPK_ERR_OVERFLOW);
    llvm::Value *amount = b_.CreateZExtOrTrunc(r, l->getType());
    if (op == BinaryOp::Shl) return b_.CreateShl(l, amount);
    return isSigned ? b_.CreateAShr(l, amount) : b_.CreateLShr(l, amount);
  }
  case BinaryOp::BitAnd: return b_.CreateAnd(l, r);
  case BinaryOp::BitOr: return b_.CreateOr(l, r);
  case BinaryOp::BitXor: return b_.CreateXor(l, r);
  default: break;
  }
  llvm::report_fatal_error("npkc: unexpected arithmetic operator");
}

llvm::Value *Lowerer::lowerBinary(const BinaryExpr &e) {
  if (e.op == BinaryOp::And || e.op == BinaryOp::Or) // blocks and a phi in the NIR, read as a sub
    llvm::report_fatal_error("npkc: `&&`/`||` reached lowering unexpanded");
  const Ty *lt = e.lhs->ty, *rt = e.rhs->ty;
  if (e.op == BinaryOp::Shl || e.op == BinaryOp::Shr) {
    llvm::Value *l = lowerExpr(*e.lhs);
    llvm::Value *r = lowerExpr(*e.rhs);
    return lowerArith(e.op, l, r, lt, e.opSpan, rt);
  }
  // The operands' common type: the wider of the two (the checker unified them).
  const Ty *common = lt;
  if (lt->kind == TyKind::Null) common = rt;
  else if ((rt->isNumeric() && lt->isNumeric() && rt->bits > lt->bits)) common = rt;
  llvm::Value *l = lowerAs(*e.lhs, common);
  llvm::Value *r = lowerAs(*e.rhs, common);
  bool isSigned = isSignedInt(common);
  if (common->isFloat()) {
    switch (e.op) {
    case BinaryOp::Lt: return b_.CreateFCmpOLT(l, r);
    case BinaryOp::Le: return b_.CreateFCmpOLE(l, r);
    case BinaryOp::Gt: return b_.CreateFCmpOGT(l, r);
    case BinaryOp::Ge: return b_.CreateFCmpOGE(l, r);
    case BinaryOp::Eq: return b_.CreateFCmpOEQ(l, r);
    case BinaryOp::Ne: return b_.CreateFCmpUNE(l, r);
    default: return lowerArith(e.op, l, r, common, e.opSpan);
    }
  }
  switch (e.op) {
  case BinaryOp::Lt: return isSigned ? b_.CreateICmpSLT(l, r) : b_.CreateICmpULT(l, r);
  case BinaryOp::Le: return isSigned ? b_.CreateICmpSLE(l, r) : b_.CreateICmpULE(l, r);
  case BinaryOp::Gt: return isSigned ? b_.CreateICmpSGT(l, r) : b_.CreateICmpUGT(l, r);
  case BinaryOp::Ge: return isSigned ? b_.CreateICmpSGE(l, r) : b_.CreateICmpUGE(l, r);
  case BinaryOp::Eq: return b_.CreateICmpEQ(l, r);
  case BinaryOp::Ne: return b_.CreateICmpNE(l, r);
  default: return lowerArith(e.op, l, r, common, e.opSpan);
  }
}

// `expr => T`: numeric conversions check that the value fits (trap 103).
llvm::Value *Lowerer::lowerCast(const CastExpr &e) {
  const Ty *from = e.operand->ty, *to = e.ty;
  llvm::Value *v = lowerExpr(*e.operand);
  llvm::Type *toTy = llvmType(to);
  if (to->isFunc()) // JIT code: one checked lookup of its signature tag (LANGUAGE-2 A7.1)
    return b_.CreateCall(runtime(RuntimeFn::npk_jit_convert), {v, stringConstant(jitSignatureTag(to)), locString(e.span)});
  if (e.unchecked && from->isNumeric() && to->isNumeric()) return castUnchecked(v, from, to);
  if (from->isPointerLike() && to->isPtr()) return v;
  if (from->isPtr() && to->isInt()) return b_.CreatePtrToInt(v, toTy);
  if (from->isInt() && to->isPtr()) return b_.CreateIntToPtr(v, toTy);
  if (from == types_->boolTy()) return to->isFloat() ? b_.CreateUIToFP(v, toTy) : b_.CreateZExt(v, toTy);
  if (from->isIntLike() && to->isIntLike()) return castIntChecked(v, from, to, e.span);
  if (from->isIntLike() && to->isFloat())
    return isSignedInt(from) ? b_.CreateSIToFP(v, toTy) : b_.CreateUIToFP(v, toTy);
  if (from->isFloat() && to->isFloat()) return b_.CreateFPCast(v, toTy);
  if (from->isFloat() && to->isIntLike()) {
    // In range when lo <= v < hi (as doubles); NaN fails both comparisons.
    unsigned bits = intBits(to);
    bool toSigned = isSignedInt(to);
    double lo = toSigned ? -std::ldexp(1.0, static_cast<int>(bits) - 1) : -1.0;
    double hi = toSigned ? std::ldexp(1.0, static_cast<int>(bits) - 1) : std::ldexp(1.0, static_cast<int>(bits));
    llvm::Value *d = b_.CreateFPCast(v, b_.getDoubleTy());
    llvm::Value *okLo = toSigned ? b_.CreateFCmpOGE(d, llvm::ConstantFP::get(b_.getDoubleTy(), lo))
                                 : b_.CreateFCmpOGT(d, llvm::ConstantFP::get(b_.getDoubleTy(), lo));
    llvm::Value *okHi = b_.CreateFCmpOLT(d, llvm::ConstantFP::get(b_.getDoubleTy(), hi));
    emitTrap(b_.CreateNot(b_.CreateAnd(okLo, okHi)),
             {NPK_ERR_CAST_RANGE, NPK_TRAP_SITE_CAST_FLOAT, uint8_t(v->getType()->isFloatTy() ? 1 : 0), e.span,
              nullptr, to},
             [&] { return TrapOperands{b_.CreateBitCast(d, b_.getInt64Ty()), nullptr}; });
    return toSigned ? b_.CreateFPToSI(v, toTy) : b_.CreateFPToUI(v, toTy);
  }
  llvm::report_fatal_error("npkc: unexpected cast in lowering");
}

// `@cast_unchecked<to>(v)` between numbers (LANGUAGE-2 A6): integers are
// truncated or extended by the source's signedness, floats to integers
// saturate (NaN gives 0), to floats round to nearest.
llvm::Value *Lowerer::castUnchecked(llvm::Value *v, const Ty *from, const Ty *to) {
  llvm::Type *toTy = llvmType(to);
  if (from->isInt() && to->isInt())
    return isSignedInt(from) ? b_.CreateSExtOrTrunc(v, toTy) : b_.CreateZExtOrTrunc(v, toTy);
  if (from->isInt()) return isSignedInt(from) ? b_.CreateSIToFP(v, toTy) : b_.CreateUIToFP(v, toTy);
  if (to->isFloat()) return b_.CreateFPCast(v, toTy);
  auto id = isSignedInt(to) ? llvm::Intrinsic::fptosi_sat : llvm::Intrinsic::fptoui_sat;
  return b_.CreateIntrinsic(id, {toTy, v->getType()}, {v});
}

// An integer `v => to`: trap 103 (at `at`) unless the value fits.
llvm::Value *Lowerer::castIntChecked(llvm::Value *v, const Ty *from, const Ty *to, Span at) {
  llvm::Type *toTy = llvmType(to);
  bool fromSigned = isSignedInt(from), toSigned = isSignedInt(to);
  llvm::Value *r = fromSigned ? b_.CreateSExtOrTrunc(v, toTy) : b_.CreateZExtOrTrunc(v, toTy);
  llvm::Value *back = toSigned ? b_.CreateSExtOrTrunc(r, v->getType()) : b_.CreateZExtOrTrunc(r, v->getType());
  llvm::Value *bad = b_.CreateICmpNE(back, v);
  if (fromSigned != toSigned) {
    llvm::Value *neg = fromSigned ? b_.CreateICmpSLT(v, llvm::ConstantInt::get(v->getType(), 0))
                                  : b_.CreateICmpSLT(r, llvm::ConstantInt::get(toTy, 0));
    bad = b_.CreateOr(bad, neg);
  }
  emitTrap(bad, {NPK_ERR_CAST_RANGE, NPK_TRAP_SITE_CAST_INT, uint8_t(fromSigned ? 1 : 0), at, nullptr, to},
           [&] { return TrapOperands{toInt64(v, from), nullptr}; });
  return r;
}

llvm::Value *Lowerer::lowerMember(const MemberExpr &e) {
  switch (e.target) {
  case MemberTarget::ResultIsError:
  case MemberTarget::ResultError:
  case MemberTarget::ResultValue: {
    llvm::Value *r = lowerExpr(*e.base);
    unsigned idx = e.target == MemberTarget::ResultIsError ? 0 : e.target == MemberTarget::ResultError ? 1 : 2;
    llvm::Value *v = part(r, idx);
    noteRelease(e); // `r.value` of a value with a destructor moves it out of `r`
    return v;
  }
  case MemberTarget::Field:
    // A field of storage is loaded from its address; a field of a value (a
    // call's struct, say) is extracted from it.
    if (isLvalue(e)) return b_.CreateLoad(llvmType(e.ty), lowerAddress(e));
    return fieldOfTemporary(e);
  case MemberTarget::ArrayLength: return b_.getInt64(e.base->ty->length); // the base is not evaluated
  default: break;
  }
  llvm::report_fatal_error("npkc: unexpected member in lowering");
}

// `(raw make()).id`: the struct value lives only for this read. When its
// type has a destructor, the destructor runs once the field is read, unless
// the field itself moves on (then the field's new owner drops it).
llvm::Value *Lowerer::fieldOfTemporary(const MemberExpr &e) {
  llvm::Value *whole = lowerExpr(*e.base);
  llvm::Value *field = part(whole, e.fieldIndex);
  if (!own::movesByValue(e.ty)) dropDiscarded(whole, e.base->ty);
  return field;
}

llvm::Value *Lowerer::lowerStructLit(const StructLitExpr &e) {
  if (!e.decl) {
    // Result{ val, err, is_error }
    const Ty *value = e.ty->resultValue();
    llvm::Value *val = nullptr, *err = b_.getInt32(0), *isError = b_.getFalse();
    for (const FieldInit &f : e.fields) {
      if (f.name == "val") val = lowerAs(*f.value, value);
      else if (f.name == "err") err = lowerAs(*f.value, types_->int32());
      else isError = lowerExpr(*f.value);
    }
    if (largeValue(value)) { // built in memory (storeValue)
      llvm::StructType *rt = resultType(value);
      llvm::AllocaInst *slot = privateSlot(rt);
      b_.CreateStore(isError, b_.CreateStructGEP(rt, slot, 0));
      b_.CreateStore(err, b_.CreateStructGEP(rt, slot, 1));
      storeValue(val ? val : zeroValue(value), b_.CreateStructGEP(rt, slot, 2));
      return b_.CreateLoad(rt, slot);
    }
    return makeResult(value, isError, err, val);
  }
  if (largeValue(e.ty)) { // built in memory, field by field (storeValue)
    llvm::Type *ty = llvmType(e.ty);
    llvm::AllocaInst *slot = privateSlot(e.ty);
    for (const FieldInit &f : e.fields)
      for (unsigned i = 0; i < e.decl->fields.size(); ++i)
        if (e.decl->fields[i].name == f.name)
          storeValue(lowerAs(*f.value, e.decl->fields[i].ty), b_.CreateStructGEP(ty, slot, i));
    return b_.CreateLoad(ty, slot);
  }
  llvm::Value *agg = llvm::UndefValue::get(llvmType(e.ty));
  for (const FieldInit &f : e.fields) {
    for (unsigned i = 0; i < e.decl->fields.size(); ++i)
      if (e.decl->fields[i].name == f.name) agg = b_.CreateInsertValue(agg, lowerAs(*f.value, e.decl->fields[i].ty), i);
  }
  return agg;
}

llvm::Value *Lowerer::lowerCall(const CallExpr &e) {
  if (e.builtin != Builtin::None) return lowerBuiltin(e);
  if (e.throughValue()) return lowerValueCall(e);
  std::vector<llvm::Value *> args;
  if (e.ext) {
    const ExternDecl &x = *e.ext;
    llvm::Function *fn = declareExtern(*e.ext);
    for (size_t i = 0; i < e.args.size(); ++i) {
      if (i >= x.paramTys.size()) { // an argument of `..?`
        args.push_back(promoteVariadic(lowerExpr(*e.args[i]), e.args[i]->ty));
        continue;
      }
      if (e.args[i]->ty->isArray()) { // decays to the address of element 0, no copy (LANGUAGE-2 A1.3)
        args.push_back(lowerAddress(*e.args[i]));
        continue;
      }
      llvm::Value *arg = lowerAs(*e.args[i], x.paramTys[i]);
      args.push_back(x.paramTys[i] == types_->string() ? cStringArg(arg) : arg);
    }
    llvm::CallInst *call = b_.CreateCall(externType(x), fn, args);
    addCExtensions(*call, x.ret, x.paramTys);
    noteRelease(e);
    if (e.ext->ret->isNil()) return nullptr;
    // A returned `const char*` is copied (NULL becomes "").
    if (e.ext->ret == types_->string()) return b_.CreateCall(runtime(RuntimeFn::npk_string_from_c), {call});
    return call;
  }
  FuncDecl *f = e.func;
  for (size_t i = 0; i < e.args.size(); ++i) {
    const Binding &pb = f->params[i]->binding;
    if (pb.quals & (QualBorrowMut | QualBorrowImm)) args.push_back(lowerAddress(*e.args[i]));
    else args.push_back(lowerAs(*e.args[i], pb.ty));
  }
  llvm::Function *fn = funcs_.at(f);
  llvm::Value *result = callFunction(fn->getFunctionType(), fn, funcType(*f), returnsPlain(*f), std::move(args));
  noteRelease(e);
  return result;
}

// A call through a function value: one indirect call with the ABI of the
// functions the value can hold (a Nitpick function's, or C's for `extern`).
llvm::Value *Lowerer::lowerValueCall(const CallExpr &e) {
  const Ty *fnTy = e.calleeTy;
  llvm::Value *callee = lowerExpr(*e.callee);
  std::vector<llvm::Value *> args;
  for (size_t i = 0; i < e.args.size(); ++i) {
    const Ty *pt = fnTy->params[i];
    if (fnTy->paramQuals[i] & (QualBorrowMut | QualBorrowImm)) {
      args.push_back(lowerAddress(*e.args[i]));
      continue;
    }
    llvm::Value *arg = lowerAs(*e.args[i], pt);
    args.push_back(fnTy->isExtern && pt == types_->string() ? cStringArg(arg) : arg);
  }
  if (!fnTy->isExtern) return callFunction(funcValueType(fnTy), callee, fnTy, false, std::move(args));
  llvm::CallInst *call = b_.CreateCall(funcValueType(fnTy), callee, args);
  addCExtensions(*call, fnTy->funcRet(), fnTy->params);
  if (fnTy->funcRet()->isNil()) return nullptr;
  if (fnTy->funcRet() == types_->string()) return b_.CreateCall(runtime(RuntimeFn::npk_string_from_c), {call});
  return call;
}

// C's default argument promotions for what `..?` takes (LANGUAGE-2 A1.4):
// `int8`/`int16` sign-extend and `uint8`/`uint16`/`bool` zero-extend to
// `int32`, `flt32` becomes `double`, a `string` its `const char*`; other
// integers, `flt64` and pointers pass as they are.
llvm::Value *Lowerer::promoteVariadic(llvm::Value *v, const Ty *t) {
  if (t == types_->string()) return cStringArg(v);
  if (t->kind == TyKind::Bool) return b_.CreateZExt(v, b_.getInt32Ty());
  if (t->isInt() && t->bits < 32) return t->isSigned ? b_.CreateSExt(v, b_.getInt32Ty()) : b_.CreateZExt(v, b_.getInt32Ty());
  if (t->isFloat() && t->bits == 32) return b_.CreateFPExt(v, b_.getDoubleTy());
  return v;
}

// A string passes its NUL-terminated bytes (LANGUAGE-2 A1.2). All-zero
// bytes, which only memory from `alloc` that was never written can hold,
// read as "", the zero value of a string; a literal folds to its constant.
llvm::Value *Lowerer::cStringArg(llvm::Value *str) {
  llvm::Value *bytes = b_.CreateExtractValue(str, 0, "cstr");
  return b_.CreateSelect(b_.CreateIsNull(bytes), stringConstant(""), bytes);
}

llvm::Value *Lowerer::lowerBuiltin(const CallExpr &e) {
  auto pointerArg = [&](const Expr &arg) -> llvm::Value * {
    if (auto *n = as<NameExpr>(&arg); n && n->binding && n->binding->heapStruct)
      return b_.CreateLoad(b_.getPtrTy(), slots_.at(n->binding));
    return lowerExpr(arg);
  };
  llvm::Value *result = nullptr;
  switch (e.builtin) {
  case Builtin::Alloc:
  case Builtin::WildxAlloc: {
    llvm::Value *n = lowerExpr(*e.args[0]);
    n = isSignedInt(e.args[0]->ty) ? b_.CreateSExtOrTrunc(n, b_.getInt64Ty()) : b_.CreateZExtOrTrunc(n, b_.getInt64Ty());
    result = b_.CreateCall(runtime(e.builtin == Builtin::Alloc ? RuntimeFn::npk_alloc : RuntimeFn::npk_wildx_alloc), {n});
    break;
  }
  case Builtin::Free: result = b_.CreateCall(runtime(RuntimeFn::npk_free), {pointerArg(*e.args[0])}); break;
  case Builtin::WildxSeal: result = b_.CreateCall(runtime(RuntimeFn::npk_wildx_seal), {pointerArg(*e.args[0])}); break;
  case Builtin::WildxFree: result = b_.CreateCall(runtime(RuntimeFn::npk_wildx_free), {pointerArg(*e.args[0])}); break;
  case Builtin::Print:
  case Builtin::Println:
  case Builtin::Eprint:
  case Builtin::Eprintln: return lowerPrint(e);
  case Builtin::GetArgc: return b_.CreateCall(runtime(RuntimeFn::npk_get_argc), {});
  case Builtin::GetArgv: {
    // The runtime keeps argv for the whole process: the string is its bytes, not a copy.
    llvm::Value *len = allocas_.CreateAlloca(b_.getInt64Ty(), nullptr, "argv.len");
    llvm::Value *bytes = b_.CreateCall(runtime(RuntimeFn::npk_get_argv), {lowerAs(*e.args[0], types_->int32()), len, locString(e.span)});
    llvm::Value *str = llvm::UndefValue::get(llvmType(types_->string()));
    str = b_.CreateInsertValue(str, bytes, 0);
    return b_.CreateInsertValue(str, b_.CreateLoad(b_.getInt64Ty(), len), 1);
  }
  case Builtin::None: return nullptr;
  }
  noteRelease(e);
  return result;
}

llvm::Value *Lowerer::lowerPrint(const CallExpr &e) {
  int stream = e.builtin == Builtin::Eprint || e.builtin == Builtin::Eprintln ? 2 : 1;
  llvm::Value *streamV = b_.getInt32(stream);
  auto printText = [&](const std::string &s) {
    if (!s.empty()) b_.CreateCall(runtime(RuntimeFn::npk_print_str), {streamV, stringConstant(s), b_.getInt64(s.size())});
  };
  auto printValue = [&](const Expr &x) {
    llvm::Value *v = lowerExpr(x);
    const Ty *t = x.ty;
    if (t == types_->string()) {
      b_.CreateCall(runtime(RuntimeFn::npk_print_str), {streamV, b_.CreateExtractValue(v, 0), b_.CreateExtractValue(v, 1)});
    } else if (t->isIntLike()) {
      bool s = isSignedInt(t);
      llvm::Value *wide = s ? b_.CreateSExtOrTrunc(v, b_.getInt64Ty()) : b_.CreateZExtOrTrunc(v, b_.getInt64Ty());
      b_.CreateCall(runtime(s ? RuntimeFn::npk_print_i64 : RuntimeFn::npk_print_u64), {streamV, wide});
    } else if (t == types_->boolTy()) {
      b_.CreateCall(runtime(RuntimeFn::npk_print_bool), {streamV, b_.CreateZExt(v, b_.getInt32Ty())});
    } else if (t->isFloat()) {
      // Each float type prints in its own precision (flt32 as a float).
      bool f32 = v->getType()->isFloatTy();
      b_.CreateCall(runtime(f32 ? RuntimeFn::npk_print_f32 : RuntimeFn::npk_print_f64), {streamV, v});
    } else {
      b_.CreateCall(runtime(RuntimeFn::npk_print_ptr), {streamV, v});
    }
  };
  const Expr &arg = *e.args[0];
  if (auto *tpl = as<TemplateExpr>(&arg)) {
    for (const TemplatePart &p : tpl->parts) {
      if (p.expr) printValue(*p.expr);
      else printText(p.text);
    }
  } else {
    printValue(arg);
  }
  if (e.builtin == Builtin::Println || e.builtin == Builtin::Eprintln) printText("\n");
  return nullptr;
}

} // namespace npk
