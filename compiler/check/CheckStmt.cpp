#include "check/Checker.h"

#include "ast/Walk.h"
#include "check/ConstEval.h"

#include <algorithm>
#include <functional>

namespace npk {

Binding *Checker::lookupLocal(const std::string &name) {
  for (auto scope = scopes_.rbegin(); scope != scopes_.rend(); ++scope)
    if (auto it = scope->find(name); it != scope->end()) return it->second.latest;
  return nullptr;
}

void Checker::declareLocal(Binding &b) {
  auto [it, inserted] = scopes_.back().try_emplace(b.name, ScopeEntry{&b, &b});
  if (inserted) return;
  diags_.error(DiagId::Redefinition, b.span, "`" + b.name + "` is already declared in this block")
      .label(it->second.first->span, "first declared here")
      .withHelp("rename one of them, or assign to the existing binding");
  it->second.latest = &b;
}

void Checker::checkFunc(FuncDecl &f) {
  if (!f.ret || !f.body) return;
  func_ = &f;
  module_ = f.module;
  scopes_.clear();
  okResults_.clear();
  loopDepth_ = 0;
  deferDepth_ = 0;
  picks_.clear();
  pushScope();
  for (auto &p : f.params) declareLocal(p->binding);
  checkBlock(*f.body);
  popScope();
  bool mustPass = !f.ret->isNil() && !f.ret->isError() && !f.isMain;
  if (f.isFailsafe && !terminates(*f.body))
    diags_.error(DiagId::BadFailsafe, f.body->closeSpan, "`failsafe` may return without ending the program")
        .withHelp("end every path of `failsafe` with `exit N;` (N > 0)");
  else if (mustPass && !f.isFailsafe && !terminates(*f.body))
    diags_.error(DiagId::MissingPass, f.body->closeSpan,
                 "function `" + f.name + "` may reach its end without `pass`, `fail` or `return`")
        .withHelp("add `pass <" + f.ret->str() + " value>;` or `fail <code>;` before the closing `}`");
  func_ = nullptr;
}

void Checker::checkBlock(BlockStmt &b) {
  pushScope();
  size_t okMark = okResults_.size();
  for (auto &s : b.stmts) checkStmt(*s);
  okResults_.resize(okMark);
  popScope();
}

void Checker::checkStmt(Stmt &s) {
  switch (s.kind) {
  case StmtKind::Block: return checkBlock(static_cast<BlockStmt &>(s));
  case StmtKind::VarDecl: return checkVarDecl(static_cast<VarDeclStmt &>(s));
  case StmtKind::Expr: return checkExprStmt(static_cast<ExprStmt &>(s));
  case StmtKind::Assign: {
    auto &a = static_cast<AssignStmt &>(s);
    checkAssign(a);
    // After the store (the value may still read the old result).
    if (auto *n = as<NameExpr>(a.target.get()); n && n->binding) forget(n->binding);
    return;
  }
  case StmtKind::If: return checkIf(static_cast<IfStmt &>(s));
  case StmtKind::While: {
    auto &w = static_cast<WhileStmt &>(s);
    if (w.when) return checkWhen(w);
    forgetAssignedIn(s); // the condition runs again after the body
    checkCondition(*w.cond, "`while` condition");
    checkLoopBody(w.cond.get(), *w.body, nullptr);
    return;
  }
  case StmtKind::For: {
    auto &f = static_cast<ForStmt &>(s);
    pushScope();
    if (f.init) checkStmt(*f.init);
    forgetAssignedIn(*f.body);
    if (f.step) forgetAssignedIn(*f.step);
    if (f.cond) checkCondition(*f.cond, "`for` condition");
    checkLoopBody(f.cond.get(), *f.body, f.step.get());
    popScope();
    return;
  }
  case StmtKind::Loop: return checkCountedLoop(static_cast<LoopStmt &>(s));
  case StmtKind::Pick: return checkPick(static_cast<PickStmt &>(s));
  case StmtKind::Fall: return checkFall(static_cast<FallStmt &>(s));
  case StmtKind::Break:
  case StmtKind::Continue:
    if (loopDepth_ == 0)
      diags_.error(DiagId::BadControl, s.span,
                   std::string("`") + (s.kind == StmtKind::Break ? "break" : "continue") + "` outside a loop")
          .withHelp(deferDepth_ ? "a `defer` body cannot jump out of its block"
                                : "use it inside `while`, `for`, `loop`, `till` or `when`");
    return;
  case StmtKind::Pass: return checkPass(static_cast<PassStmt &>(s));
  case StmtKind::Fail: return checkFail(static_cast<FailStmt &>(s));
  case StmtKind::Return: return checkReturn(static_cast<ReturnStmt &>(s));
  case StmtKind::Exit: return checkExit(static_cast<ExitStmt &>(s));
  case StmtKind::Defer: {
    auto &d = static_cast<DeferStmt &>(s);
    int savedLoop = loopDepth_;
    loopDepth_ = 0;
    std::vector<PickFrame> savedPicks = std::move(picks_); // nor fall out of it
    picks_.clear();
    ++deferDepth_;
    // The body runs when the block is left, after any later assignment.
    std::vector<const Binding *> savedOk = okResults_;
    forgetAssignedIn(*func_->body);
    if (d.body) checkStmt(*d.body);
    okResults_ = std::move(savedOk);
    --deferDepth_;
    loopDepth_ = savedLoop;
    picks_ = std::move(savedPicks);
    return;
  }
  case StmtKind::Error: return;
  }
}

// The body (and a `for` step) runs while `cond` is true; once the loop ends
// without `break`, `cond` is false.
void Checker::checkLoopBody(const Expr *cond, BlockStmt &body, Stmt *step) {
  size_t mark = okResults_.size();
  if (cond) narrow(*cond, true);
  ++loopDepth_;
  checkBlock(body);
  if (step) checkStmt(*step);
  --loopDepth_;
  okResults_.resize(mark);
  if (cond && !breaksOutOfLoop(body)) narrow(*cond, false);
}

// `when (c) B then T end E` (LANGUAGE-2 A4): B is a loop body; T and E run
// after the loop, outside it (their `break`/`continue` act on the enclosing
// loop). What the condition proves ends with the statement: T and E may
// assign, and E also runs after a `break`.
void Checker::checkWhen(WhileStmt &w) {
  size_t mark = okResults_.size();
  forgetAssignedIn(w);
  checkCondition(*w.cond, "`when` condition");
  checkLoopBody(w.cond.get(), *w.body, nullptr);
  if (w.thenBlock) checkBlock(*w.thenBlock);
  if (w.endBlock) checkBlock(*w.endBlock);
  okResults_.resize(mark);
}

namespace {
// An unsuffixed integer literal (or its negation): it takes the type the
// other operands give it.
bool adaptableLiteral(const Expr &e) {
  if (auto *u = as<UnaryExpr>(&e); u && u->op == UnaryOp::Neg && u->operand) return adaptableLiteral(*u->operand);
  auto *lit = as<IntLitExpr>(&e);
  return lit && lit->suffix == IntSuffix::None;
}
} // namespace

// `loop(start, limit, step)` / `till(limit, step)` (LANGUAGE-2 A4): integer
// operands with a common type (the counter's), a positive step.
void Checker::checkCountedLoop(LoopStmt &l) {
  const char *word = l.start ? "`loop`" : "`till`";
  std::vector<Expr *> operands;
  if (l.start) operands.push_back(l.start.get());
  operands.push_back(l.limit.get());
  operands.push_back(l.step.get());
  const Ty *common = nullptr;
  bool ok = true;
  auto unify = [&](Expr &e, const Ty *t) {
    if (t->isError()) {
      ok = false;
      return;
    }
    if (!t->isInt()) {
      diags_.error(DiagId::TypeMismatch, e.span,
                   std::string(word) + " operand `" + sourceText(e.span) + "` has type `" + t->str() +
                       "`, not an integer type")
          .withHelp("the start, limit and step of a counted loop are integers");
      ok = false;
      return;
    }
    if (!common || convertible(common, t)) common = t;
    else if (!convertible(t, common)) {
      diags_.error(DiagId::TypeMismatch, e.span,
                   std::string(word) + " operands have no common type: `" + common->str() + "` and `" + t->str() + "`")
          .withHelp("convert one explicitly, e.g. `" + sourceText(e.span) + " => " + common->str() + "`");
      ok = false;
    }
  };
  for (Expr *e : operands)
    if (!adaptableLiteral(*e)) unify(*e, checkValue(*e, nullptr));
  if (!common) common = types_.int32();
  for (Expr *e : operands)
    if (adaptableLiteral(*e)) unify(*e, checkValue(*e, common));
  if (ok) {
    if (auto step = constantValue(*l.step); step && *step <= 0)
      diags_.error(DiagId::LiteralRange, l.step->span,
                   std::string(word) + " step `" + sourceText(l.step->span) + "` is not positive")
          .withHelp("the step is a positive magnitude; the loop counts down by itself when start > limit");
  }
  l.counterTy = ok ? common : types_.error();
  forgetAssignedIn(*l.body); // the body runs again after its assignments
  countedLoops_.push_back(&l);
  checkLoopBody(nullptr, *l.body, nullptr);
  countedLoops_.pop_back();
}

const Ty *Checker::checkCounter(CounterExpr &e) {
  if (countedLoops_.empty()) {
    diags_.error(DiagId::UnknownName, e.span, "`$` outside a `loop` or `till`")
        .withHelp("`$` is the counter of the innermost enclosing `loop`/`till`; `while`, `for` and `when` have none");
    return types_.error();
  }
  e.loop = countedLoops_.back();
  return countedLoops_.back()->counterTy;
}

// Whether a value of type `t` contains a function value (itself, or a field
// of a struct at any depth); `path` gets the field path (`ops.cb`). A struct
// already on the way down (a cycle, NPK-T018) is not entered again.
bool Checker::holdsFuncValue(const Ty *t, std::string &path) {
  std::vector<const StructDecl *> onPath;
  std::function<bool(const Ty *, std::string &)> walk = [&](const Ty *ty, std::string &at) {
    if (ty->isFunc()) return true;
    if (ty->isArray()) return walk(ty->element(), at);
    if (!ty->isStruct() || std::find(onPath.begin(), onPath.end(), ty->decl) != onPath.end()) return false;
    onPath.push_back(ty->decl);
    for (const FieldDecl &f : ty->decl->fields) {
      std::string inner;
      if (f.ty && walk(f.ty, inner)) {
        at = inner.empty() ? f.name : f.name + "." + inner;
        return true;
      }
    }
    onPath.pop_back();
    return false;
  };
  return walk(t, path);
}

void Checker::checkVarDecl(VarDeclStmt &s) {
  Binding &b = s.binding;
  b.ty = resolveType(s.type, false);
  b.id = func_->bindingCount++;
  if (b.ty->isNil()) {
    diags_.error(DiagId::TypeMismatch, s.type.span, "a binding cannot have type `NIL`");
    b.ty = types_.error();
  }
  bool wild = b.quals & (QualWild | QualWildx);
  if (b.ty->isArray()) checkLocalArray(s);
  if (wild && b.ty->isArray()) {
    // LANGUAGE-2 A2: the checker follows bindings, not elements.
    diags_.error(DiagId::Unsupported, s.type.span,
                 std::string("a `") + (b.quals & QualWildx ? "wildx" : "wild") + "` array binding is not supported by npk")
        .withHelp("allocate the elements instead: `wild " + b.ty->element()->str() + "->:" + b.name + " = alloc(" +
                  std::to_string(b.ty->length) + " * @sizeof(" + b.ty->element()->str() + "));`");
  } else if (wild && b.ty->isStruct()) {
    if (b.quals & QualWildx)
      diags_.error(DiagId::TypeMismatch, s.type.span, "`wildx` memory holds code, not structs")
          .withHelp("use `wild " + b.ty->str() + ":" + b.name + "` for a heap struct");
    b.heapStruct = true;
  } else if (wild && !b.ty->isPtr() && !b.ty->isError()) {
    diags_.error(DiagId::TypeMismatch, s.type.span, "a `wild`/`wildx` binding must be a pointer or a struct")
        .withHelp("write `" + std::string(b.quals & QualWildx ? "wildx" : "wild") + " int8->:" + b.name + "`");
  }
  if (b.quals & (QualBorrowMut | QualBorrowImm))
    diags_.error(DiagId::TypeMismatch, s.span, "borrow qualifiers `$$m`/`$$i` are for parameters only");
  if (s.init) {
    if (b.ty->isResult()) {
      const Ty *t = checkExpr(*s.init, b.ty);
      if (!t->isError() && t != b.ty)
        diags_.error(DiagId::TypeMismatch, s.init->span,
                     "expected `" + b.ty->str() + "`, found `" + t->str() + "`")
            .withHelp("a `Result<T>` binding takes a call of a function that passes `T`");
    } else {
      unsigned errors = diags_.errorCount();
      checkValue(*s.init, b.ty);
      coerce(*s.init, b.ty, "the initializer");
      if (b.isConst && !b.ty->isError() && !s.init->ty->isError() && diags_.errorCount() == errors) {
        const Expr *why = nullptr;
        if (auto v = constValue(*s.init, b.ty, why)) constLocals_[&b] = std::move(*v);
        else if (why) reportNotConstant(*why, "the value of `const` `" + b.name + "`");
      }
    }
  } else if (b.isConst) {
    diags_.error(DiagId::ConstantExpr, b.span, "`const` `" + b.name + "` needs a value")
        .withHelp("write `const " + b.ty->str() + ":" + b.name + " = ...;`, or declare it without `const`");
  } else if (b.heapStruct) {
    diags_.error(DiagId::TypeMismatch, b.span, "a `wild` struct binding needs an initializer")
        .withHelp("write `wild " + b.ty->str() + ":" + b.name + " = " + b.ty->str() + "{ ... };`");
  } else if (std::string path; holdsFuncValue(b.ty, path)) {
    // There is no null function value (LANGUAGE-2 A7): zero is no function.
    diags_.error(DiagId::ConstantExpr, b.span,
                 "`" + b.name + "` " + (path.empty() ? "is a function value" : "holds a function value in `" + path + "`") +
                     " and needs an initializer")
        .withHelp(b.ty->isFunc() ? "initialise it with a function: `" + b.name + " = @name`"
                                 : "initialise it with a struct literal: `" + b.name + " = " + b.ty->str() + "{ ... }`");
  }
  declareLocal(b);
}

// A local array lives on the stack: at most 1 MiB each (LANGUAGE-2 A2).
void Checker::checkLocalArray(const VarDeclStmt &s) {
  const Ty *t = s.binding.ty;
  uint64_t size = valueBytes(t);
  if (size <= kMaxStackValueBytes) return;
  diags_.error(DiagId::ArraySize, s.type.span,
               "local array `" + s.binding.name + "` of type `" + t->str() + "` takes " + bytesText(size) + ", more than 1 MiB")
      .withHelp("allocate it on the heap: `wild " + t->element()->str() + "->:" + s.binding.name + " = alloc(" +
                std::to_string(t->length) + " * @sizeof(" + t->element()->str() + "));`");
}

void Checker::checkExprStmt(ExprStmt &s) {
  const Ty *t = checkExpr(*s.expr);
  if (t->isResult()) {
    diags_.error(DiagId::UnusedResult, s.expr->span, "unused result of type `" + t->str() + "`")
        .withHelp("use its value with `raw`, test it with a `Result<" + t->resultValue()->str() +
                  ">` binding, or discard it explicitly with `drop`");
    return;
  }
  bool effect = as<CallExpr>(s.expr.get()) || as<DropExpr>(s.expr.get()) || as<RawExpr>(s.expr.get()) ||
                as<ErrorExpr>(s.expr.get()) || as<DefaultExpr>(s.expr.get());
  if (!effect && !t->isError())
    diags_.error(DiagId::InvalidOperation, s.expr->span, "expression statement has no effect")
        .withHelp("assign the value to a binding, or remove the statement");
}

void Checker::checkAssign(AssignStmt &s) {
  const Ty *target = checkExpr(*s.target);
  if (target->isError()) {
    checkExpr(*s.value);
    return;
  }
  if (as<CounterExpr>(s.target.get())) {
    diags_.error(DiagId::NotAssignable, s.target->span, "`$` is read-only")
        .withHelp("it is the loop's counter; copy it first: `int64:i = $;`");
    checkExpr(*s.target);
    checkExpr(*s.value);
    return;
  }
  if (!isLvalue(*s.target)) {
    diags_.error(DiagId::NotAssignable, s.target->span, "cannot assign to this expression")
        .withHelp("assign to a binding, `p[i]`, `<-p` or a struct field");
    checkExpr(*s.value);
    return;
  }
  if (const Binding *root = storageRoot(*s.target)) {
    bool whole = as<NameExpr>(s.target.get()) != nullptr;
    const char *part = as<IndexExpr>(s.target.get()) ? "an element" : "a field";
    if (root->quals & QualFixed) {
      std::string word = root->isConst ? "const" : "fixed";
      diags_.error(DiagId::AssignFixed, s.span,
                   whole ? (root->isConst ? "cannot assign to `const` binding `" : "cannot assign twice to `fixed` binding `") +
                                 root->name + "`"
                         : "cannot assign to " + std::string(part) + " of `" + word + "` binding `" + root->name + "`")
          .label(root->span, "declared `" + word + "` here")
          .withHelp("remove `" + word + "` from the declaration if it must change");
    }
    else if (root->quals & QualBorrowImm)
      diags_.error(DiagId::AssignFixed, s.span, "cannot assign through read-only borrow `" + root->name + "`")
          .label(root->span, "borrowed with `$$i` here")
          .withHelp("take the parameter as `$$m " + root->ty->str() + ":" + root->name + "` to modify it");
  }
  if (s.increment && !target->isInt()) {
    diags_.error(DiagId::BadOperands, s.span,
                 std::string("`") + (s.op == BinaryOp::Sub ? "--" : "++") + "` on `" + target->str() + "`")
        .withHelp(target->isFloat() ? std::string("`++`/`--` need an integer; write `") + sourceText(s.target->span) +
                                          (s.op == BinaryOp::Sub ? " -= 1.0;`" : " += 1.0;`")
                                    : "`++`/`--` need an integer");
    return;
  }
  if (s.compound) {
    checkValue(*s.value, target);
    bool shift = s.op == BinaryOp::Shl || s.op == BinaryOp::Shr;
    if (!target->isNumeric() || (target->isFloat() && (shift || s.op == BinaryOp::Rem || s.op == BinaryOp::BitAnd ||
                                                       s.op == BinaryOp::BitOr || s.op == BinaryOp::BitXor))) {
      diags_.error(DiagId::BadOperands, s.span, "compound assignment on `" + target->str() + "`")
          .withHelp("compound assignment needs integer operands (or float for `+= -= *= /=`)");
      return;
    }
    if (shift) {
      if (!s.value->ty->isInt() && !s.value->ty->isError())
        diags_.error(DiagId::BadOperands, s.value->span, "shift amount must be an integer");
      else if (auto amount = constantValue(*s.value))
        checkKnownTrap(s.op, *s.target, *amount, target, s.span, true);
      return;
    }
    coerce(*s.value, target, "the right-hand side");
    if (auto amount = constantValue(*s.value); amount && target->isInt())
      checkKnownTrap(s.op, *s.target, *amount, target, s.span, true);
    return;
  }
  if (target->isResult()) {
    // `r = f();` takes a new result, unchecked again.
    const Ty *t = checkExpr(*s.value, target);
    if (!t->isError() && t != target)
      diags_.error(DiagId::TypeMismatch, s.value->span, "expected `" + target->str() + "`, found `" + t->str() + "`")
          .withHelp("a `Result<T>` binding takes a call of a function that passes `T`");
    return;
  }
  checkValue(*s.value, target);
  coerce(*s.value, target, "the assigned value");
}

// The binding whose own storage an lvalue writes into: `x`, `x.f.g`. Writes
// through pointers (`p[i]`, `<-p`, `p.f` on a pointer) change other storage.
const Binding *Checker::storageRoot(const Expr &e) const {
  if (auto *n = as<NameExpr>(&e)) return n->global ? &n->global->decl->binding : n->binding;
  if (auto *m = as<MemberExpr>(&e); m && !m->throughPointer) return storageRoot(*m->base);
  if (auto *i = as<IndexExpr>(&e); i && i->base->ty && i->base->ty->isArray()) return storageRoot(*i->base);
  return nullptr;
}

void Checker::checkIf(IfStmt &s) {
  checkCondition(*s.cond, "`if` condition");
  size_t mark = okResults_.size();
  narrow(*s.cond, true);
  checkBlock(*s.thenBlock);
  okResults_.resize(mark);
  narrow(*s.cond, false);
  if (s.elseStmt) checkStmt(*s.elseStmt);
  okResults_.resize(mark);
  // A branch that cannot fall through (`if (r.is_error) { break; }`) leaves
  // the rest of the block to the other outcome.
  bool thenLeaves = terminates(*s.thenBlock), elseLeaves = s.elseStmt && terminates(*s.elseStmt);
  if (thenLeaves && !elseLeaves) narrow(*s.cond, false);
  if (elseLeaves && !thenLeaves) narrow(*s.cond, true);
}

void Checker::checkCondition(Expr &cond, const char *what) {
  const Ty *t = checkValue(cond, types_.boolTy());
  if (t->isError() || t == types_.boolTy()) return;
  Diag &d = diags_.error(DiagId::NonBoolCondition, cond.span,
                         std::string(what) + " has type `" + t->str() + "`, not `bool`");
  if (t->isNumeric()) {
    d.withHelp("compare explicitly: `" + sourceText(cond.span) + " != 0`");
  } else if (t->isPtr()) {
    d.withHelp("compare explicitly: `" + sourceText(cond.span) + " != NULL`");
  }
}

// Whether control cannot fall through `s` to the next statement.
bool Checker::terminates(const Stmt &s) const { return leavingStatement(s) != nullptr; }

void Checker::checkPass(PassStmt &s) {
  if (deferDepth_) {
    diags_.error(DiagId::BadPass, s.span, "`pass` inside a `defer` body")
        .withHelp("a deferred block runs while the function is leaving; it cannot pass a value");
    return;
  }
  if (func_->isMain || func_->isFailsafe) {
    diags_.error(DiagId::BadPass, s.span, std::string("`pass` in `") + func_->name + "`")
        .withHelp("`" + func_->name + "` ends the program with `exit N;`");
    if (s.value) checkExpr(*s.value);
    return;
  }
  const Ty *ret = func_->ret;
  if (s.nil && !ret->isNil() && !ret->isError()) {
    diags_.error(DiagId::TypeMismatch, s.span, "`pass NIL;` in a function returning `" + ret->str() + "`")
        .withHelp("`NIL` is a value only for a `NIL` function; write `pass <" + ret->str() + " value>;`");
    return;
  }
  if (!s.value) {
    if (!ret->isNil() && !ret->isError())
      diags_.error(DiagId::BadPass, s.span, "`pass;` without a value in a function returning `" + ret->str() + "`")
          .withHelp("write `pass <value>;`");
    return;
  }
  if (ret->isNil()) {
    diags_.error(DiagId::BadPass, s.value->span, "`pass` with a value in a `NIL` function")
        .withHelp("write `pass;`, or declare the function's return type");
    checkExpr(*s.value);
    return;
  }
  checkValue(*s.value, ret);
  coerce(*s.value, ret, "the passed value");
}

void Checker::checkFail(FailStmt &s) {
  if (deferDepth_) {
    diags_.error(DiagId::BadPass, s.span, "`fail` inside a `defer` body")
        .withHelp("a deferred block runs while the function is leaving; it cannot fail");
    return;
  }
  if (func_->isMain || func_->isFailsafe) {
    diags_.error(DiagId::BadPass, s.span, std::string("`fail` in `") + func_->name + "`")
        .withHelp("end the program with an error status instead: `exit 1;`");
    if (s.code) checkExpr(*s.code);
    return;
  }
  if (!s.code) return;
  const Ty *t = checkValue(*s.code, types_.int32());
  if (!t->isError() && !t->isIntLike()) {
    diags_.error(DiagId::TypeMismatch, s.code->span, "`fail` takes an integer error code, found `" + t->str() + "`")
        .withHelp("write `fail 1;`");
  } else if (t->isInt() && !convertible(t, types_.int32())) {
    // Any integer type (LANGUAGE-2 A8): `.error` stays `int32`, so the code
    // converts as `code => int32`, a constant at compile time.
    std::optional<__int128> v = constantValue(*s.code);
    if (v && !fits(*v, types_.int32()))
      diags_.error(DiagId::LiteralRange, s.code->span,
                   "error code `" + intText(*v) + "` does not fit `int32` (range " + rangeText(types_.int32()) + ")")
          .withHelp("`.error` is an `int32`; use a code in its range");
  } else {
    coerce(*s.code, types_.int32(), "the error code");
  }
}

void Checker::checkReturn(ReturnStmt &s) {
  if (func_->isMain && !deferDepth_) return checkMainReturn(s);
  if (deferDepth_ || func_->isMain || func_->isFailsafe) {
    diags_.error(DiagId::BadPass, s.span,
                 deferDepth_ ? std::string("`return` inside a `defer` body") : "`return` in `" + func_->name + "`")
        .withHelp(deferDepth_ ? "a deferred block cannot leave the function" : "end the program with `exit N;`");
    return;
  }
  const Ty *resultTy = func_->ret->isError() ? types_.error() : types_.result(func_->ret);
  if (!s.value) {
    if (!func_->ret->isNil())
      diags_.error(DiagId::BadPass, s.span, "`return;` without a value")
          .withHelp("write `return Result{ val: v, err: 0, is_error: false };` or `pass v;`");
    return;
  }
  if (as<StructLitExpr>(s.value.get()) && static_cast<StructLitExpr *>(s.value.get())->name == "Result") {
    checkExpr(*s.value, resultTy);
    return;
  }
  const Ty *t = checkExpr(*s.value, func_->ret);
  if (t->isError() || t == resultTy) return;
  if (t->isResult()) {
    diags_.error(DiagId::TypeMismatch, s.value->span,
                 "returns `" + t->str() + "` from a function yielding `" + resultTy->str() + "`");
    return;
  }
  // `return v;` with a plain value means `pass v;`.
  if (func_->ret->isNil()) {
    diags_.error(DiagId::BadPass, s.value->span, "`return` with a value in a `NIL` function");
    return;
  }
  coerce(*s.value, func_->ret, "the returned value");
}

// `return X;` in `main` (LANGUAGE-2 A8): the drops and defers of `main`
// run, then the process ends with status `X`, an `int32`.
void Checker::checkMainReturn(ReturnStmt &s) {
  if (!s.value) {
    diags_.error(DiagId::BadPass, s.span, "`return;` without a status in `main`")
        .withHelp("write `return 0;`, or `exit 0;` to end at once without drops and defers");
    return;
  }
  checkValue(*s.value, types_.int32());
  coerce(*s.value, types_.int32(), "the status `main` returns");
}

void Checker::checkExit(ExitStmt &s) {
  if (!func_->isMain && !func_->isFailsafe) {
    diags_.error(DiagId::BadExit, s.span, "`exit` in function `" + func_->name + "`")
        .withHelp("report the error to the caller with `fail <code>;`");
    if (s.status) checkExpr(*s.status);
    return;
  }
  if (deferDepth_) {
    diags_.error(DiagId::BadExit, s.span, "`exit` inside a `defer` body");
    return;
  }
  if (s.status) {
    checkValue(*s.status, types_.int32());
    coerce(*s.status, types_.int32(), "the exit status");
  }
  if (func_->isFailsafe) checkFailsafeStatus(s);
}

// failsafe runs because a failure went unhandled, so the process must not end
// with a status that reads as success: a constant N needs N > 0 and N % 256
// != 0 (the OS keeps the low 8 bits). Other values are checked at run time.
void Checker::checkFailsafeStatus(const ExitStmt &s) {
  std::optional<__int128> status = s.status ? constantValue(*s.status) : std::nullopt;
  if (!status || (*status > 0 && *status % 256 != 0)) return;
  std::string why = *status <= 0 ? "the status must be positive"
                                 : "the process status is " + intText(*status) + " modulo 256, which is 0 (success)";
  diags_.error(DiagId::BadFailsafe, s.status->span, "`exit " + sourceText(s.status->span) + ";` in `failsafe`: " + why)
      .withHelp("end `failsafe` with a failure status in 1..255, e.g. `exit 1;`");
}

} // namespace npk
