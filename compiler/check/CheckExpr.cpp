#include "check/Checker.h"
#include "check/ConstEval.h"

namespace npk {

namespace {
bool isShift(BinaryOp op) { return op == BinaryOp::Shl || op == BinaryOp::Shr; }
bool isComparison(BinaryOp op) {
  return op == BinaryOp::Lt || op == BinaryOp::Le || op == BinaryOp::Gt || op == BinaryOp::Ge ||
         op == BinaryOp::Eq || op == BinaryOp::Ne;
}
bool isBitwise(BinaryOp op) { return op == BinaryOp::BitAnd || op == BinaryOp::BitOr || op == BinaryOp::BitXor; }
bool isLogical(BinaryOp op) { return op == BinaryOp::And || op == BinaryOp::Or; }
} // namespace

std::optional<__int128> Checker::literalValue(const Expr &e) const {
  if (auto *lit = as<IntLitExpr>(&e)) return static_cast<__int128>(lit->value);
  if (auto *u = as<UnaryExpr>(&e); u && u->op == UnaryOp::Neg) {
    if (auto v = literalValue(*u->operand)) return -*v;
  }
  return std::nullopt;
}

bool Checker::fits(__int128 v, const Ty *t) const { return fitsType(v, t); }

namespace {
// The field of `sd` whose name is closest to a misspelt `name`, or null.
const FieldDecl *closestField(const StructDecl &sd, const std::string &name) {
  std::vector<std::string_view> candidates;
  for (const FieldDecl &f : sd.fields) candidates.push_back(f.name);
  std::string near = closestName(name, candidates);
  for (const FieldDecl &f : sd.fields)
    if (!near.empty() && f.name == near) return &f;
  return nullptr;
}
} // namespace

const Ty *Checker::checkExpr(Expr &e, const Ty *expected) {
  const Ty *t = types_.error();
  switch (e.kind) {
  case ExprKind::IntLit: t = checkIntLit(static_cast<IntLitExpr &>(e), expected); break;
  case ExprKind::FloatLit: t = checkFloatLit(static_cast<FloatLitExpr &>(e), expected); break;
  case ExprKind::BoolLit: t = types_.boolTy(); break;
  case ExprKind::StringLit: t = types_.string(); break;
  case ExprKind::Template:
    diags_.error(DiagId::Unsupported, e.span, "template strings can only be printed")
        .withHelp("pass it straight to `print`, `println`, `eprint` or `eprintln`");
    t = types_.error();
    break;
  case ExprKind::NullLit: t = expected && expected->isPtr() ? expected : types_.null(); break;
  case ExprKind::Name: t = checkName(static_cast<NameExpr &>(e)); break;
  case ExprKind::Unary: t = checkUnary(static_cast<UnaryExpr &>(e), expected); break;
  case ExprKind::Binary: t = checkBinary(static_cast<BinaryExpr &>(e), expected); break;
  case ExprKind::Cast: t = checkCast(static_cast<CastExpr &>(e)); break;
  case ExprKind::Call: t = checkCall(static_cast<CallExpr &>(e)); break;
  case ExprKind::Index: t = checkIndex(static_cast<IndexExpr &>(e)); break;
  case ExprKind::Member: t = checkMember(static_cast<MemberExpr &>(e)); break;
  case ExprKind::Raw: t = checkRaw(static_cast<RawExpr &>(e)); break;
  case ExprKind::Drop: t = checkDrop(static_cast<DropExpr &>(e)); break;
  case ExprKind::Default: t = checkDefault(static_cast<DefaultExpr &>(e)); break;
  case ExprKind::StructLit: t = checkStructLit(static_cast<StructLitExpr &>(e), expected); break;
  case ExprKind::ArrayLit: t = checkArrayLit(static_cast<ArrayLitExpr &>(e), expected); break;
  case ExprKind::Layout: t = checkLayout(static_cast<LayoutExpr &>(e)); break;
  case ExprKind::Is: t = checkIs(static_cast<IsExpr &>(e), expected); break;
  case ExprKind::Counter: t = checkCounter(static_cast<CounterExpr &>(e)); break;
  case ExprKind::IncDec: {
    auto &i = static_cast<IncDecExpr &>(e);
    checkExpr(*i.operand);
    std::string place = sourceText(i.operand->span);
    const char *op = i.decrement ? "--" : "++";
    diags_.error(DiagId::InvalidOperation, e.span, "`" + place + op + "` is a statement, not a value")
        .withHelp("write `" + place + op + ";` on its own, then use `" + place + "`; or use `" + place +
                  (i.decrement ? " - 1" : " + 1") + "` here");
    t = types_.error();
    break;
  }
  case ExprKind::Error: t = types_.error(); break;
  }
  e.ty = t;
  if (t->isInt()) foldConstant(e, t);
  return t;
}

void Checker::resultAsValueError(Expr &e, const char *context) {
  std::string text = sourceText(e.span);
  diags_.error(DiagId::ResultAsValue, e.span,
               "`" + text + "` is a `" + e.ty->str() + "`, not a plain value, in " + context)
      .withHelp("extract the value with `raw " + text + "`, or `" + text + " ? <default>`, or bind it to `" +
                e.ty->str() + ":r` and test `r.is_error`");
}

const Ty *Checker::checkValue(Expr &e, const Ty *expected) {
  const Ty *t = checkExpr(e, expected);
  if (t->isResult()) {
    resultAsValueError(e, "a value position");
    e.ty = types_.error();
    return e.ty;
  }
  if (t->isNil()) {
    // A builtin such as `print`, or an extern returning `void`/`NIL`.
    diags_.error(DiagId::InvalidOperation, e.span, "`" + sourceText(e.span) + "` returns nothing, so it has no value")
        .withHelp("call it as a statement of its own");
    e.ty = types_.error();
    return e.ty;
  }
  return t;
}

bool Checker::convertible(const Ty *from, const Ty *to) const {
  if (from == to) return true;
  if (from->isInt() && to->isInt()) return from->isSigned == to->isSigned && to->bits >= from->bits;
  if (from->isFloat() && to->isFloat()) return to->bits >= from->bits;
  if (from->kind == TyKind::Null && to->isPtr()) return true;
  if (from->isPtr() && to->isPtr()) return !from->pointee || !to->pointee || from->pointee == to->pointee;
  return false;
}

void Checker::coerce(Expr &e, const Ty *target, const char *context) {
  const Ty *from = e.ty;
  if (!from || from->isError() || target->isError()) return;
  if (convertible(from, target)) return;
  if (from->isResult()) {
    resultAsValueError(e, context);
    return;
  }
  Diag &d = diags_.error(DiagId::TypeMismatch, e.span,
                         "expected `" + target->str() + "` for " + context + ", found `" + from->str() + "`");
  if ((from->isNumeric() || from->kind == TyKind::Tbb32) && target->isNumeric())
    d.withHelp("convert explicitly: `" + sourceText(e.span) + " => " + target->str() + "`");
  else if (from->isPtr() && target->isPtr())
    d.withHelp("pointer types differ; cast with `=> " + target->str() + "` if that is intended");
  else if (from->isArray() && target->isPtr()) // no decay outside extern calls (LANGUAGE-2 A2)
    d.withHelp("an array does not decay to a pointer; pass the address of its first element: `@" +
               sourceText(e.span) + "[0]`");
  else if (from->isArray() && target->isArray())
    d.withHelp("an array copies only into an array of the same element type and length");
}

const Ty *Checker::checkIntLit(IntLitExpr &e, const Ty *expected) {
  const Ty *t = suffixType(e.suffix);
  if (!t) {
    if (expected && (expected->isInt() || expected->kind == TyKind::Tbb32)) t = expected;
    else if (expected && expected->isFloat()) return expected;
    else t = types_.int32();
  }
  if (!fits(static_cast<__int128>(e.value), t)) {
    Diag &d = diags_.error(DiagId::LiteralRange, e.span,
                           "literal `" + std::to_string(e.value) + "` does not fit `" + t->str() + "` (range " +
                               rangeText(t) + ")");
    if (e.suffix == IntSuffix::None && t == types_.int32())
      d.withHelp("give it a wider type with a suffix, e.g. `" + std::to_string(e.value) + "i64`");
    else
      d.withHelp("use a value in range, or a wider type");
    return types_.error();
  }
  return t;
}

const Ty *Checker::suffixType(IntSuffix suffix) {
  static const std::pair<IntSuffix, std::pair<unsigned, bool>> kSuffix[] = {
      {IntSuffix::I8, {8, true}},   {IntSuffix::I16, {16, true}},   {IntSuffix::I32, {32, true}},
      {IntSuffix::I64, {64, true}}, {IntSuffix::U8, {8, false}},    {IntSuffix::U16, {16, false}},
      {IntSuffix::U32, {32, false}}, {IntSuffix::U64, {64, false}}};
  for (auto &[s, info] : kSuffix)
    if (suffix == s) return types_.intTy(info.first, info.second);
  if (suffix == IntSuffix::Tbb32) return types_.tbb32();
  return nullptr;
}

const Ty *Checker::checkFloatLit(FloatLitExpr &e, const Ty *expected) {
  if (e.suffix == IntSuffix::F32) return types_.floatTy(32);
  if (e.suffix == IntSuffix::F64) return types_.floatTy(64);
  if (expected && expected->isFloat()) return expected;
  return types_.floatTy(64);
}

const Ty *Checker::checkName(NameExpr &e) {
  if (e.name == "NIL") { // the keyword (no binding can have that name)
    diags_.error(DiagId::TypeMismatch, e.span, "`NIL` is not a value")
        .withHelp("`NIL` is the return type of a function that passes nothing; it ends with `pass;` or `pass NIL;`");
    return types_.error();
  }
  if (Binding *b = lookupLocal(e.name)) {
    e.target = NameTarget::Local;
    e.binding = b;
    if (b->isConst)
      if (auto it = constLocals_.find(b); it != constLocals_.end() && it->second.kind == ConstValue::Kind::Int)
        constants_[&e] = it->second.i;
    return b->ty ? b->ty : types_.error();
  }
  if (auto g = syms_.globals.find(e.name); g != syms_.globals.end()) return checkGlobalName(e, *g->second);
  if (syms_.funcs.count(e.name) || syms_.externs.count(e.name) || ownExtern(e.name)) {
    diags_.error(DiagId::InvalidOperation, e.span, "function `" + e.name + "` used as a value")
        .withHelp("take its function value with `@" + e.name + "`, or call it: `" + e.name + "(...)`");
    return types_.error();
  }
  if (syms_.typeBlocks.count(e.name)) {
    diags_.error(DiagId::InvalidOperation, e.span, "`Type:` block `" + e.name + "` used as a value")
        .withHelp("call one of its members: `" + e.name + ".member(...)`");
    return types_.error();
  }
  Diag &d = diags_.error(DiagId::UnknownName, e.span, "unknown name `" + e.name + "`");
  std::vector<std::string_view> visibleNames;
  for (const auto &scope : scopes_)
    for (const auto &entry : scope) visibleNames.push_back(entry.first);
  std::string near = closestName(e.name, visibleNames);
  if (Binding *b = near.empty() ? nullptr : lookupLocal(near)) {
    d.note("`" + near + "` is declared here", b->span).withHelp("did you mean `" + near + "`?");
    return types_.error();
  }
  d.withHelp("declare it before use, e.g. `int32:" + e.name + " = 0;`");
  return types_.error();
}

const Ty *Checker::checkUnary(UnaryExpr &e, const Ty *expected) {
  switch (e.op) {
  case UnaryOp::Neg: {
    if (auto v = literalValue(e)) {
      // A negative literal is checked as one value, so `-128` fits int8.
      const Ty *t = expected && (expected->isInt() || expected->isFloat() || expected->kind == TyKind::Tbb32)
                        ? expected
                        : types_.int32();
      if (auto *lit = as<IntLitExpr>(e.operand.get()))
        if (const Ty *suffixed = suffixType(lit->suffix)) t = suffixed;
      if (t->isFloat()) {
        e.operand->ty = t;
        return t;
      }
      if (t->isInt() && !t->isSigned) {
        diags_.error(DiagId::LiteralRange, e.span, "negative literal for unsigned type `" + t->str() + "`")
            .withHelp("use a signed type");
        return types_.error();
      }
      if (!fits(*v, t)) {
        diags_.error(DiagId::LiteralRange, e.span,
                     "literal `" + intText(*v) + "` does not fit `" + t->str() + "` (range " + rangeText(t) + ")")
            .withHelp("use a value in range, or a wider type");
        return types_.error();
      }
      markLiteral(*e.operand, t);
      return t;
    }
    const Ty *t = checkValue(*e.operand, expected);
    if (t->isError()) return t;
    if ((t->isInt() && t->isSigned) || t->isFloat()) return t;
    diags_.error(DiagId::BadOperands, e.span, "cannot negate a value of type `" + t->str() + "`")
        .withHelp(t->isInt() ? "unsigned values cannot be negative; use `0 -% x` for wrapping negation"
                             : "negation needs a signed integer or a float");
    return types_.error();
  }
  case UnaryOp::Not: {
    const Ty *t = checkValue(*e.operand, types_.boolTy());
    if (t->isError() || t == types_.boolTy()) return t;
    diags_.error(DiagId::NonBoolCondition, e.operand->span, "operand of `!` has type `" + t->str() + "`, not `bool`")
        .withHelp(t->isNumeric() ? "compare explicitly: `" + sourceText(e.operand->span) + " == 0`"
                                 : "`!` needs a `bool`");
    return types_.error();
  }
  case UnaryOp::BitNot: {
    const Ty *t = checkValue(*e.operand, expected);
    if (t->isError() || t->isInt()) return t;
    diags_.error(DiagId::BadOperands, e.span, "`~` needs an integer, found `" + t->str() + "`");
    return types_.error();
  }
  case UnaryOp::AddrOf: {
    if (const Ty *fn = checkFuncValue(e)) return fn;
    const Ty *t = checkValue(*e.operand);
    if (t->isError()) return t;
    if (auto *n = as<NameExpr>(e.operand.get());
        n && ((n->binding && n->binding->isConst) || (n->global && n->global->kind == GlobalDecl::Kind::Const))) {
      diags_.error(DiagId::InvalidOperation, e.span, "cannot take the address of `const` `" + n->name + "`")
          .withHelp("a `const` is a value without storage; declare it `fixed` to take its address");
      return types_.error();
    }
    if (t->isArray()) { // LANGUAGE-2 A2: the address of an element, never of the whole array
      std::string a = sourceText(e.operand->span);
      diags_.error(DiagId::InvalidOperation, e.span, "`@" + a + "` takes the address of a whole array `" + t->str() + "`")
          .withHelp("take the address of an element: `@" + a + "[0]`");
      return types_.error();
    }
    if (!isLvalue(*e.operand)) {
      diags_.error(DiagId::InvalidOperation, e.span, "cannot take the address of this expression")
          .withHelp("`@` applies to bindings, fields and `p[i]`");
      return types_.error();
    }
    return types_.ptr(t);
  }
  case UnaryOp::Deref: {
    const Ty *t = checkValue(*e.operand);
    if (t->isError()) return t;
    if (!t->isPtr() || !t->pointee) {
      diags_.error(DiagId::InvalidOperation, e.span, "cannot dereference a value of type `" + t->str() + "`")
          .withHelp(t->isPtr() ? "cast the untyped pointer first: `<-(p => int8->)`" : "`<-` needs a typed pointer");
      return types_.error();
    }
    return t->pointee;
  }
  }
  return types_.error();
}

// `@f`, `@Block.member`, `@e` (LANGUAGE-2 A7): the value of a top-level
// function, a `Type:` member or an extern. Null when the operand does not
// name a function (then `@` takes an address).
const Ty *Checker::checkFuncValue(UnaryExpr &e) {
  FuncDecl *f = nullptr;
  ExternDecl *x = nullptr;
  if (auto *n = as<NameExpr>(e.operand.get())) {
    if (lookupLocal(n->name) || syms_.globals.count(n->name)) return nullptr;
    if (ExternDecl *own = ownExtern(n->name)) { // this module's, even one named like a builtin (A1.5)
      x = own;
      n->ext = own;
      n->target = NameTarget::Extern;
    } else if (builtinNamed(n->name) != Builtin::None) {
      diags_.error(DiagId::InvalidOperation, e.span, "builtin `" + n->name + "` has no function value")
          .withHelp("call it directly, or wrap it in a function and take that one's value");
      return types_.error();
    } else {
      if (!syms_.funcs.count(n->name) && !syms_.externs.count(n->name)) return nullptr;
      if (!resolveFunctionName(*n, f, x)) return types_.error();
    }
  } else if (auto *m = as<MemberExpr>(e.operand.get()); m && namesTypeMember(*m)) {
    f = resolveTypeMember(*m);
    if (!f) return types_.error();
  } else {
    return nullptr;
  }
  if (f && (f->isMain || f == syms_.failsafe)) {
    diags_.error(DiagId::InvalidOperation, e.span, "`" + f->name + "` has no function value")
        .withHelp("`main` and `failsafe` are called by the runtime only");
    return types_.error();
  }
  // A call through a function value neither releases nor allocates for the
  // ownership checker (A7), so a function that does either has no value.
  const std::string &name = f ? f->name : x->name;
  if (isDeallocatorName(name)) {
    diags_.error(DiagId::InvalidOperation, e.span, "deallocator `" + name + "` has no function value")
        .note("a call through a function value never releases, so the release would be invisible to the ownership checker")
        .withHelp("call `" + sourceText(e.operand->span) + "(...)` directly");
    return types_.error();
  }
  if (x && x->variadic) {
    diags_.error(DiagId::InvalidOperation, e.span, "variadic extern `" + name + "` has no function value")
        .note("a function type lists every parameter; `..?` has no type to list")
        .withHelp("call `" + name + "(...)` directly, or wrap the call in a function and take that one's value");
    return types_.error();
  }
  uint8_t retQuals = f ? f->retQuals : x->retQuals;
  if (retQuals & (QualWild | QualWildx)) {
    diags_.error(DiagId::InvalidOperation, e.span, "allocator `" + name + "` has no function value")
        .note("its result is a `" + std::string(retQuals & QualWildx ? "wildx" : "wild") +
                  "` allocation the caller must release; through a function value the ownership checker would not see it")
        .withHelp("call `" + sourceText(e.operand->span) + "(...)` directly");
    return types_.error();
  }
  e.funcValue = f;
  e.externValue = x;
  e.operand->ty = f ? funcValueType(*f) : funcValueType(*x);
  return e.operand->ty;
}

// Gives a literal operand (possibly under `-`) its final type.
void Checker::markLiteral(Expr &e, const Ty *t) {
  e.ty = t;
  if (auto *u = as<UnaryExpr>(&e)) markLiteral(*u->operand, t);
}

const Ty *Checker::checkBinary(BinaryExpr &e, const Ty *expected) {
  BinaryOp op = e.op;
  if (isLogical(op)) {
    const Ty *lt = checkValue(*e.lhs, types_.boolTy());
    // `!r.is_error && r.value > 0`: the right side sees r as ok.
    size_t mark = okResults_.size();
    narrow(*e.lhs, op == BinaryOp::And);
    const Ty *rt = checkValue(*e.rhs, types_.boolTy());
    okResults_.resize(mark);
    for (auto [side, t] : {std::pair{e.lhs.get(), lt}, std::pair{e.rhs.get(), rt}}) {
      if (t->isError() || t == types_.boolTy()) continue;
      diags_.error(DiagId::NonBoolCondition, side->span,
                   std::string("operand of `") + (op == BinaryOp::And ? "&&" : "||") + "` has type `" + t->str() +
                       "`, not `bool`")
          .withHelp(t->isNumeric() ? "compare explicitly: `" + sourceText(side->span) + " != 0`" : "use a `bool`");
      return types_.error();
    }
    return lt->isError() || rt->isError() ? types_.error() : types_.boolTy();
  }
  const Ty *hint = isComparison(op) ? nullptr : expected;
  const Ty *lt, *rt;
  bool lhsLiteral = literalValue(*e.lhs).has_value() || as<NullLitExpr>(e.lhs.get());
  bool rhsLiteral = literalValue(*e.rhs).has_value() || as<NullLitExpr>(e.rhs.get());
  if (isShift(op)) {
    lt = checkValue(*e.lhs, hint);
    rt = checkValue(*e.rhs, nullptr);
  } else if (lhsLiteral && !rhsLiteral) {
    rt = checkValue(*e.rhs, hint);
    lt = checkValue(*e.lhs, rt->isError() ? hint : rt);
  } else {
    lt = checkValue(*e.lhs, hint);
    rt = checkValue(*e.rhs, lt->isError() ? hint : lt);
  }
  if (lt->isError() || rt->isError()) return types_.error();
  auto bad = [&](std::string help) {
    diags_.error(DiagId::BadOperands, e.opSpan,
                 "operator `" + sourceText(e.opSpan) + "` cannot combine `" + lt->str() + "` and `" + rt->str() + "`")
        .withHelp(std::move(help));
    return types_.error();
  };
  if (isShift(op)) {
    if (!lt->isInt() || !rt->isInt()) return bad("shifts need integer operands");
    return lt;
  }
  // Unify the operand types: identical, or implicit widening either way.
  const Ty *common = nullptr;
  if (convertible(rt, lt)) common = lt;
  else if (convertible(lt, rt)) common = rt;
  if (!common) {
    if (lt->isNumeric() && rt->isNumeric())
      return bad("convert one side explicitly, e.g. `" + sourceText(e.rhs->span) + " => " + lt->str() + "`");
    return bad("both sides need the same type");
  }
  if (isComparison(op)) {
    bool ordered = op != BinaryOp::Eq && op != BinaryOp::Ne;
    if (common->isNumeric() || (!ordered && (common->isPointerLike() || common == types_.boolTy())))
      return types_.boolTy();
    return bad(ordered ? "ordering comparisons need numbers" : "`==`/`!=` compare numbers, bools and pointers");
  }
  if (isBitwise(op)) {
    if (common->isInt() || (common == types_.boolTy())) return common;
    return bad("bitwise operators need integers");
  }
  if (op == BinaryOp::AddWrap || op == BinaryOp::SubWrap || op == BinaryOp::MulWrap) {
    if (common->isInt()) return common;
    return bad("wrapping operators need integers");
  }
  if (common->isNumeric() && !(op == BinaryOp::Rem && common->isFloat())) return common;
  return bad(common->isPtr() ? "pointer arithmetic is not supported; index with `p[i]` instead"
                             : "arithmetic needs numbers");
}

// `is (c) : a : b` (LANGUAGE-2 A8): `c` is a `bool`; the branches need a
// common type, as the operands of `+` do. Each branch sees what `c` proves
// (`is (!r.is_error) : r.value : 0`).
const Ty *Checker::checkIs(IsExpr &e, const Ty *expected) {
  checkCondition(*e.cond, "`is` condition");
  auto branch = [&](Expr &x, bool outcome, const Ty *hint) {
    size_t mark = okResults_.size();
    narrow(*e.cond, outcome);
    const Ty *t = checkValue(x, hint);
    okResults_.resize(mark);
    return t;
  };
  auto isLiteral = [&](const Expr &x) { return literalValue(x).has_value() || as<NullLitExpr>(&x); };
  const Ty *ta, *tb;
  if (isLiteral(*e.ifTrue) && !isLiteral(*e.ifFalse)) { // `is (c) : 0 : n`: the literal takes n's type
    tb = branch(*e.ifFalse, false, expected);
    ta = branch(*e.ifTrue, true, tb->isError() ? expected : tb);
  } else {
    ta = branch(*e.ifTrue, true, expected);
    tb = branch(*e.ifFalse, false, ta->isError() ? expected : ta);
  }
  if (ta->isError() || tb->isError() || e.cond->ty == nullptr || e.cond->ty->isError()) return types_.error();
  if (convertible(tb, ta)) return ta;
  if (convertible(ta, tb)) return tb;
  Diag &d = diags_.error(DiagId::TypeMismatch, e.span,
                         "the branches of `is` have different types, `" + ta->str() + "` and `" + tb->str() + "`");
  if (ta->isNumeric() && tb->isNumeric())
    d.withHelp("convert one of them: `" + sourceText(e.ifFalse->span) + " => " + ta->str() + "`");
  else
    d.withHelp("both branches need one type");
  return types_.error();
}

// `@sizeof(T)`, `@alignof(T)` (LANGUAGE-2 A6): int64 constants of T's
// System V layout.
const Ty *Checker::checkLayout(LayoutExpr &e) {
  const char *op = e.align ? "@alignof" : "@sizeof";
  const TypeExpr &te = e.type;
  if (!te.func && !te.resultOf && te.pointerDepth == 0) {
    if (Binding *b = lookupLocal(te.name)) {
      diags_.error(DiagId::InvalidOperation, te.span,
                   std::string("`") + op + "` takes a type, and `" + te.name + "` is a binding")
          .withHelp(std::string("name its type: `") + op + "(" + (b->ty ? b->ty->str() : std::string("int32")) + ")`");
      return types_.error();
    }
  }
  const Ty *t = resolveType(te, false);
  if (t->isError()) return t;
  uint64_t size = 0, align = 1;
  std::string why;
  if (!typeLayout(t, size, align, why)) {
    if (why.empty()) return types_.error(); // a struct that holds itself: NPK-T018 says so
    bool field = why.find(" of `") != std::string::npos;
    diags_.error(DiagId::InvalidOperation, te.span,
                 "`" + t->str() + "` has no stable layout" + (field ? ": " + why : std::string()))
        .withHelp("`string`, `Result<T>` and `NIL` have no fixed size; a pointer to one has (`" + std::string(op) +
                  "(int8->)`)");
    return types_.error();
  }
  if (size > static_cast<uint64_t>(INT64_MAX)) {
    diags_.error(DiagId::ArraySize, te.span,
                 "`" + t->str() + "` takes " + bytesText(size) + ", more than `@sizeof`'s int64 can count")
        .withHelp("no value of this type can exist; use a smaller array");
    return types_.error();
  }
  e.value = e.align ? align : size;
  return types_.int64();
}

const Ty *Checker::checkCast(CastExpr &e) {
  const Ty *from = checkValue(*e.operand);
  const Ty *to = resolveType(e.target, false);
  if (from->isError() || to->isError()) return types_.error();
  if (e.unchecked) {
    // Exactly these conversions (LANGUAGE-2 A6): between integers and
    // floats without a check, and pointers as with `=>`.
    bool ok = (from->isNumeric() && to->isNumeric()) || (from->isPointerLike() && to->isPtr()) ||
              (from->isPtr() && to->isInt() && to->bits == 64) || (from->isInt() && from->bits == 64 && to->isPtr());
    if (!ok) {
      diags_.error(DiagId::BadCast, e.span, "`@cast_unchecked` cannot convert `" + from->str() + "` to `" + to->str() + "`")
          .withHelp("it converts between integers and floats, and pointers as `=>` does; use `=> " + to->str() +
                    "` for other conversions");
      return types_.error();
    }
    return to;
  }
  if (to->isFunc()) return checkJitConversion(e, from, to);
  bool fromNum = from->isNumeric() || from->kind == TyKind::Tbb32 || from == types_.boolTy();
  bool toNum = to->isNumeric() || to->kind == TyKind::Tbb32;
  bool ok = (fromNum && toNum) || (from->isPointerLike() && to->isPtr()) ||
            (from->isPtr() && to->isInt() && to->bits == 64) || (from->isInt() && from->bits == 64 && to->isPtr());
  if (!ok) {
    diags_.error(DiagId::BadCast, e.span, "cannot cast `" + from->str() + "` to `" + to->str() + "`")
        .withHelp("casts convert between numbers, between pointers, and between pointers and 64-bit integers");
    return types_.error();
  }
  return to;
}

// `p => extern (R)(P...)` (LANGUAGE-2 A7.1): JIT code becomes a typed C
// function value through one run-time check of its signature tag.
const Ty *Checker::checkJitConversion(CastExpr &e, const Ty *from, const Ty *to) {
  if (!from->isPtr()) {
    diags_.error(DiagId::BadCast, e.span, "cannot cast `" + from->str() + "` to `" + to->str() + "`")
        .withHelp("only a pointer to JIT code converts to a function value; take a function's value with `@name`");
    return types_.error();
  }
  if (!to->isExtern) {
    diags_.error(DiagId::BadCast, e.span, "JIT code converts to an `extern` function type, not `" + to->str() + "`")
        .withHelp("JIT code follows the C calling convention: write `=> extern " + to->str() + "`");
    return types_.error();
  }
  auto *n = as<NameExpr>(e.operand.get());
  if (!n || !n->binding) {
    diags_.error(DiagId::BadCast, e.operand->span, "JIT code converts to a function value from a pointer binding's name")
        .withHelp("bind the code first: `wildx int8->:f = raw Jit.compile_add_i32();`, then `f => " + to->str() + "`");
    return types_.error();
  }
  if (jitSignatureTag(to).empty()) {
    diags_.error(DiagId::BadCast, e.target.span, "`" + to->str() + "` has no JIT signature tag")
        .withHelp("JIT code takes and returns integers, `flt32`/`flt64` and pointers (and may return `NIL`)");
    return types_.error();
  }
  return to;
}

const Ty *Checker::checkIndex(IndexExpr &e) {
  const Ty *base = checkValue(*e.base);
  const Ty *idx = checkValue(*e.index, types_.int64());
  if (base->isError() || idx->isError()) return types_.error();
  if (base->isArray()) { // LANGUAGE-2 A2: any integer type, checked against N in its own type
    if (!idx->isInt()) {
      diags_.error(DiagId::TypeMismatch, e.index->span, "index has type `" + idx->str() + "`, not an integer")
          .withHelp("index an array with an integer: `" + sourceText(e.base->span) + "[0]`");
      return types_.error();
    }
    checkConstantIndex(e, base);
    return base->element();
  }
  if (!base->isPtr() || !base->pointee) {
    diags_.error(DiagId::InvalidOperation, e.base->span, "cannot index a value of type `" + base->str() + "`")
        .withHelp(base->isPtr() ? "cast the untyped pointer to a typed one: `(p => int8->)[i]`"
                                : "indexing needs a typed pointer `T->`");
    return types_.error();
  }
  if (!idx->isInt()) {
    diags_.error(DiagId::TypeMismatch, e.index->span, "index has type `" + idx->str() + "`, not an integer");
    return types_.error();
  }
  return base->pointee;
}

// A constant index out of `0..N-1` is NPK-T013.
void Checker::checkConstantIndex(IndexExpr &e, const Ty *array) {
  std::optional<__int128> i = constantValue(*e.index);
  if (!i || (*i >= 0 && *i < static_cast<__int128>(array->length))) return;
  diags_.error(DiagId::IndexOutOfBounds, e.index->span,
               "index " + intText(*i) + " is out of bounds for `" + array->str() + "` (0.." +
                   std::to_string(array->length - 1) + ")")
      .withHelp("`" + sourceText(e.base->span) + "` has " + std::to_string(array->length) + " element" +
                (array->length == 1 ? "" : "s") + "; the last is `" + sourceText(e.base->span) + "[" +
                std::to_string(array->length - 1) + "]`");
}

const Ty *Checker::checkMember(MemberExpr &e) {
  if (auto *n = as<NameExpr>(e.base.get()); n && !lookupLocal(n->name) && syms_.typeBlocks.count(n->name)) {
    diags_.error(DiagId::InvalidOperation, e.span, "`" + n->name + "." + e.member + "` is a function")
        .withHelp("call it: `" + n->name + "." + e.member + "(...)`");
    return types_.error();
  }
  const Ty *base = checkExpr(*e.base);
  if (base->isError()) return base;
  if (base->isResult()) {
    if (e.member == "is_error") {
      e.target = MemberTarget::ResultIsError;
      return types_.boolTy();
    }
    if (e.member == "error") {
      e.target = MemberTarget::ResultError;
      return types_.int32();
    }
    if (e.member == "value") {
      e.target = MemberTarget::ResultValue;
      auto *n = as<NameExpr>(e.base.get());
      if (!n || !n->binding || !knownOk(n->binding)) {
        std::string r = n ? n->name : "r";
        diags_.error(DiagId::UncheckedValue, e.span, "`" + sourceText(e.span) + "` is read without checking `" + r +
                                                         ".is_error`")
            .withHelp("read it inside `if (!" + r + ".is_error) { ... }`, after `if (" + r +
                      ".is_error) { fail ...; }`, or use `raw` at the call");
        return types_.error();
      }
      return base->resultValue();
    }
    diags_.error(DiagId::UnknownMember, e.memberSpan, "`Result` has no member `" + e.member + "`")
        .withHelp("a `Result` has `.is_error`, `.value` and `.error`");
    return types_.error();
  }
  if (base->isArray()) { // `a.length` (LANGUAGE-2 A2): the outer dimension, an int64 constant
    if (e.member == "length") {
      e.target = MemberTarget::ArrayLength;
      return types_.int64();
    }
    diags_.error(DiagId::UnknownMember, e.memberSpan, "an array has no member `" + e.member + "`")
        .withHelp("an array `" + base->str() + "` has `.length` and its elements `" + sourceText(e.base->span) + "[i]`");
    return types_.error();
  }
  const Ty *structTy = base;
  if (base->isPtr() && base->pointee && base->pointee->isStruct()) {
    structTy = base->pointee;
    e.throughPointer = true;
  }
  if (!structTy->isStruct()) {
    if (base->isPtr())
      diags_.error(DiagId::InvalidOperation, e.span, "`.` on a pointer to `" +
                                                       (base->pointee ? base->pointee->str() : std::string("?")) +
                                                       "`, which is not a struct");
    else if (base == types_.string()) // LANGUAGE.md §9
      diags_.error(DiagId::Unsupported, e.memberSpan, "a string method or property (`." + e.member + "`) is not supported by npk")
          .withHelp("a `string` is for printing and for C; pass it to a C function such as `strlen`");
    else
      diags_.error(DiagId::InvalidOperation, e.span, "`" + base->str() + "` has no fields");
    return types_.error();
  }
  StructDecl *sd = structTy->decl;
  for (unsigned i = 0; i < sd->fields.size(); ++i) {
    if (sd->fields[i].name != e.member) continue;
    e.target = MemberTarget::Field;
    e.fieldIndex = i;
    return sd->fields[i].ty ? sd->fields[i].ty : types_.error();
  }
  std::string names;
  for (auto &f : sd->fields) names += (names.empty() ? "`" : ", `") + f.name + "`";
  Diag &d = diags_.error(DiagId::UnknownMember, e.memberSpan,
                         "struct `" + sd->name + "` has no field `" + e.member + "`");
  if (const FieldDecl *near = closestField(*sd, e.member))
    d.note("field `" + near->name + "` is declared here", near->span).withHelp("did you mean `" + near->name + "`?");
  else d.withHelp(names.empty() ? "the struct has no fields" : "its fields are " + names);
  return types_.error();
}

// NPK-R003's message for `raw`, `drop` or `?` on a plain value.
static std::string notAResultText(const char *op, const Ty *t) {
  return std::string("`") + op + "` applied to a value of type `" + t->str() + "`, which is not a `Result`";
}

const Ty *Checker::checkRaw(RawExpr &e) {
  const Ty *t = checkExpr(*e.operand);
  if (t->isError()) return t;
  if (!t->isResult()) {
    diags_.error(DiagId::NotAResult, e.span, notAResultText("raw", t))
        .withHelp("remove `raw`: builtins and externs return plain values");
    return types_.error();
  }
  return t->resultValue();
}

// `drop e;` evaluates `e` and discards it, whatever its type (LANGUAGE-2
// A8). A binding's name is refused: discarding it would release nothing,
// though it reads as if it did.
const Ty *Checker::checkDrop(DropExpr &e) {
  const Ty *t = checkExpr(*e.operand);
  if (t->isError()) return t;
  auto *n = as<NameExpr>(e.operand.get());
  if (!t->isResult() && n && n->binding) {
    diags_.error(DiagId::NotAResult, e.span, notAResultText("drop", t))
        .withHelp("`drop` discards a value and releases nothing; use `free(" + n->name + ")`");
    return types_.error();
  }
  return types_.voidTy();
}

const Ty *Checker::checkDefault(DefaultExpr &e) {
  const Ty *t = checkExpr(*e.operand);
  if (t->isError()) {
    checkExpr(*e.fallback);
    return t;
  }
  if (!t->isResult()) {
    diags_.error(DiagId::NotAResult, e.operand->span, notAResultText("?", t))
        .withHelp("`call(...) ? default` takes the value of a call that returns a `Result`");
    checkExpr(*e.fallback);
    return types_.error();
  }
  const Ty *value = t->resultValue();
  checkValue(*e.fallback, value);
  coerce(*e.fallback, value, "the `?` default");
  return value;
}

const Ty *Checker::checkStructLit(StructLitExpr &e, const Ty *expected) {
  if (e.name == "Result") {
    if (!expected || !expected->isResult()) {
      diags_.error(DiagId::InvalidOperation, e.span, "`Result{...}` literal outside `return`")
          .withHelp("write `return Result{ val: v, err: 0, is_error: false };`");
      for (auto &f : e.fields) checkExpr(*f.value);
      return types_.error();
    }
    const Ty *value = expected->resultValue();
    bool seen[3] = {false, false, false};
    for (auto &f : e.fields) {
      int idx = f.name == "val" ? 0 : f.name == "err" ? 1 : f.name == "is_error" ? 2 : -1;
      const Ty *ft = idx == 0 ? value : idx == 1 ? types_.int32() : types_.boolTy();
      if (idx < 0 || (idx == 0 && value->isNil())) {
        diags_.error(DiagId::UnknownMember, f.span, "`Result` literal has no field `" + f.name + "`")
            .withHelp(value->isNil() ? "a `Result<NIL>` has `err` and `is_error`"
                                     : "a `Result` literal has `val`, `err` and `is_error`");
        checkExpr(*f.value);
        continue;
      }
      if (seen[idx])
        diags_.error(DiagId::Redefinition, f.span, "field `" + f.name + "` given twice");
      seen[idx] = true;
      checkValue(*f.value, ft);
      coerce(*f.value, ft, ("field `" + f.name + "`").c_str());
    }
    const char *names[3] = {"val", "err", "is_error"};
    for (int i = 0; i < 3; ++i) {
      if (seen[i] || (i == 0 && value->isNil())) continue;
      diags_.error(DiagId::TypeMismatch, e.span, std::string("`Result` literal is missing field `") + names[i] + "`")
          .withHelp("give every field: `Result{ val: v, err: 0, is_error: false }`");
    }
    return expected;
  }
  auto it = syms_.structs.find(e.name);
  if (it == syms_.structs.end()) {
    diags_.error(DiagId::UnknownType, e.nameSpan, "unknown struct `" + e.name + "`")
        .withHelp("declare `struct:" + e.name + " = { ... };`");
    for (auto &f : e.fields) checkExpr(*f.value);
    return types_.error();
  }
  StructDecl *sd = it->second;
  e.decl = sd;
  std::vector<bool> seen(sd->fields.size(), false);
  for (auto &f : e.fields) {
    size_t idx = sd->fields.size();
    for (size_t i = 0; i < sd->fields.size(); ++i)
      if (sd->fields[i].name == f.name) idx = i;
    if (idx == sd->fields.size()) {
      Diag &d = diags_.error(DiagId::UnknownMember, f.span, "struct `" + sd->name + "` has no field `" + f.name + "`");
      if (const FieldDecl *near = closestField(*sd, f.name)) {
        d.note("field `" + near->name + "` is declared here", near->span)
            .withHelp("did you mean `" + near->name + "`?");
        seen[static_cast<size_t>(near - sd->fields.data())] = true; // not reported missing as well
      }
      checkExpr(*f.value);
      continue;
    }
    if (seen[idx]) diags_.error(DiagId::Redefinition, f.span, "field `" + f.name + "` given twice");
    seen[idx] = true;
    const Ty *ft = sd->fields[idx].ty;
    checkValue(*f.value, ft);
    coerce(*f.value, ft, ("field `" + f.name + "`").c_str());
  }
  for (size_t i = 0; i < seen.size(); ++i)
    if (!seen[i])
      diags_.error(DiagId::TypeMismatch, e.span, "struct literal is missing field `" + sd->fields[i].name + "`")
          .withHelp("every field must be given: `" + sd->name + "{ " + sd->fields[i].name + ": ..., ... }`");
  return sd->ty;
}

// `[e0, ...]` (LANGUAGE-2 A2): exactly N elements, each converted to T as
// an initializer is; the expected `T[N]` gives the literal its type.
const Ty *Checker::checkArrayLit(ArrayLitExpr &e, const Ty *expected) {
  if (!expected || !expected->isArray()) {
    diags_.error(DiagId::TypeMismatch, e.span,
                 expected && !expected->isError() ? "an array literal where `" + expected->str() + "` is expected"
                                                  : "an array literal needs a place that expects an array `T[N]`")
        .withHelp("use it as the initializer, assigned value, argument, field or passed value of an array: "
                  "`int32[3]:a = [1, 2, 3];`");
    return types_.error();
  }
  const Ty *element = expected->element();
  if (e.elements.size() != expected->length) {
    diags_.error(DiagId::ArraySize, e.span,
                 "array literal has " + std::to_string(e.elements.size()) + " element" +
                     (e.elements.size() == 1 ? "" : "s") + ", `" + expected->str() + "` needs " +
                     std::to_string(expected->length))
        .withHelp("give exactly " + std::to_string(expected->length) + " elements, or change the array's length");
    for (auto &el : e.elements) checkValue(*el, element);
    return types_.error();
  }
  for (size_t i = 0; i < e.elements.size(); ++i) {
    checkValue(*e.elements[i], element);
    coerce(*e.elements[i], element, ("element " + std::to_string(i) + " of the array literal").c_str());
  }
  return expected;
}

const Ty *Checker::checkTemplate(TemplateExpr &e) {
  for (auto &part : e.parts) {
    if (!part.expr) continue;
    const Ty *t = checkValue(*part.expr);
    if (t->isError()) continue;
    if (!(t->isNumeric() || t == types_.boolTy() || t == types_.string() || t->isPointerLike() ||
          t->kind == TyKind::Tbb32))
      diags_.error(DiagId::TypeMismatch, part.expr->span, "cannot interpolate a value of type `" + t->str() + "`")
          .withHelp("interpolate integers, floats, bools, strings or pointers; print struct fields one by one");
  }
  return types_.string();
}

bool isLvalue(const Expr &e) {
  if (auto *n = as<NameExpr>(&e)) return n->binding != nullptr || n->global != nullptr;
  if (auto *i = as<IndexExpr>(&e)) // `p[i]` is storage; an array's element is when the array is
    return !(i->base->ty && i->base->ty->isArray()) || isLvalue(*i->base);
  if (auto *u = as<UnaryExpr>(&e)) return u->op == UnaryOp::Deref;
  if (auto *m = as<MemberExpr>(&e)) return m->target == MemberTarget::Field && (m->throughPointer || isLvalue(*m->base));
  return false;
}

} // namespace npk
