// The one generic walker over the syntax tree (see Walk.h).
#include "ast/Walk.h"

namespace npk {

void forEachChildExpr(const Expr &e, const std::function<void(const Expr &)> &f) {
  auto visit = [&](const ExprPtr &child) {
    if (child) f(*child);
  };
  switch (e.kind) {
  case ExprKind::Unary: visit(static_cast<const UnaryExpr &>(e).operand); return;
  case ExprKind::Binary: {
    auto &b = static_cast<const BinaryExpr &>(e);
    visit(b.lhs);
    visit(b.rhs);
    return;
  }
  case ExprKind::Cast: visit(static_cast<const CastExpr &>(e).operand); return;
  case ExprKind::Call: {
    auto &c = static_cast<const CallExpr &>(e);
    if (c.throughValue()) visit(c.callee); // a function value is read before the arguments
    for (auto &arg : c.args) visit(arg);
    return;
  }
  case ExprKind::Index: {
    auto &i = static_cast<const IndexExpr &>(e);
    visit(i.base);
    visit(i.index);
    return;
  }
  case ExprKind::Member: visit(static_cast<const MemberExpr &>(e).base); return;
  case ExprKind::Raw: visit(static_cast<const RawExpr &>(e).operand); return;
  case ExprKind::Drop: visit(static_cast<const DropExpr &>(e).operand); return;
  case ExprKind::IncDec: visit(static_cast<const IncDecExpr &>(e).operand); return;
  case ExprKind::Is: {
    auto &i = static_cast<const IsExpr &>(e);
    visit(i.cond);
    visit(i.ifTrue);
    visit(i.ifFalse);
    return;
  }
  case ExprKind::Default: {
    auto &d = static_cast<const DefaultExpr &>(e);
    visit(d.operand);
    visit(d.fallback);
    return;
  }
  case ExprKind::StructLit:
    for (const FieldInit &fi : static_cast<const StructLitExpr &>(e).fields) visit(fi.value);
    return;
  case ExprKind::Template:
    for (const TemplatePart &p : static_cast<const TemplateExpr &>(e).parts) visit(p.expr);
    return;
  case ExprKind::ArrayLit:
    for (const ExprPtr &el : static_cast<const ArrayLitExpr &>(e).elements) visit(el);
    return;
  case ExprKind::IntLit:
  case ExprKind::FloatLit:
  case ExprKind::BoolLit:
  case ExprKind::StringLit:
  case ExprKind::NullLit:
  case ExprKind::Layout:
  case ExprKind::Counter:
  case ExprKind::Name:
  case ExprKind::Error: return;
  }
}

void forEachChildStmt(const Stmt &s, const std::function<void(const Stmt &)> &f) {
  auto visit = [&](const Stmt *child) {
    if (child) f(*child);
  };
  switch (s.kind) {
  case StmtKind::Block:
    for (auto &st : static_cast<const BlockStmt &>(s).stmts) visit(st.get());
    return;
  case StmtKind::If: {
    auto &i = static_cast<const IfStmt &>(s);
    visit(i.thenBlock.get());
    visit(i.elseStmt.get());
    return;
  }
  case StmtKind::While: {
    auto &w = static_cast<const WhileStmt &>(s);
    visit(w.body.get());
    visit(w.thenBlock.get());
    visit(w.endBlock.get());
    return;
  }
  case StmtKind::Loop: visit(static_cast<const LoopStmt &>(s).body.get()); return;
  case StmtKind::Pick:
    for (const PickArm &arm : static_cast<const PickStmt &>(s).arms) visit(arm.body.get());
    return;
  case StmtKind::For: {
    auto &fs = static_cast<const ForStmt &>(s);
    visit(fs.init.get());
    visit(fs.body.get());
    visit(fs.step.get());
    return;
  }
  case StmtKind::Defer: visit(static_cast<const DeferStmt &>(s).body.get()); return;
  case StmtKind::VarDecl:
  case StmtKind::Expr:
  case StmtKind::Assign:
  case StmtKind::Break:
  case StmtKind::Continue:
  case StmtKind::Fall:
  case StmtKind::Pass:
  case StmtKind::Fail:
  case StmtKind::Return:
  case StmtKind::Exit:
  case StmtKind::Error: return;
  }
}

void forEachOwnExpr(const Stmt &s, const std::function<void(const Expr &)> &f) {
  auto visit = [&](const ExprPtr &e) {
    if (e) f(*e);
  };
  switch (s.kind) {
  case StmtKind::VarDecl: visit(static_cast<const VarDeclStmt &>(s).init); return;
  case StmtKind::Expr: visit(static_cast<const ExprStmt &>(s).expr); return;
  case StmtKind::Assign: {
    auto &a = static_cast<const AssignStmt &>(s);
    visit(a.value);
    visit(a.target);
    return;
  }
  case StmtKind::If: visit(static_cast<const IfStmt &>(s).cond); return;
  case StmtKind::While: visit(static_cast<const WhileStmt &>(s).cond); return;
  case StmtKind::For: visit(static_cast<const ForStmt &>(s).cond); return;
  case StmtKind::Loop: { // evaluated once, left to right, before the first round
    auto &l = static_cast<const LoopStmt &>(s);
    visit(l.start);
    visit(l.limit);
    visit(l.step);
    return;
  }
  // Patterns are constants: they are never evaluated.
  case StmtKind::Pick: visit(static_cast<const PickStmt &>(s).selector); return;
  case StmtKind::Pass: visit(static_cast<const PassStmt &>(s).value); return;
  case StmtKind::Fail: visit(static_cast<const FailStmt &>(s).code); return;
  case StmtKind::Return: visit(static_cast<const ReturnStmt &>(s).value); return;
  case StmtKind::Exit: visit(static_cast<const ExitStmt &>(s).status); return;
  case StmtKind::Block:
  case StmtKind::Break:
  case StmtKind::Continue:
  case StmtKind::Fall:
  case StmtKind::Defer:
  case StmtKind::Error: return;
  }
}

void walkStmts(const Stmt &s, const std::function<void(const Stmt &)> &f) {
  f(s);
  forEachChildStmt(s, [&](const Stmt &child) { walkStmts(child, f); });
}

void walkExprs(const Expr &e, const std::function<void(const Expr &)> &f) {
  f(e);
  forEachChildExpr(e, [&](const Expr &child) { walkExprs(child, f); });
}

void forEachExprIn(const Stmt &s, const std::function<void(const Expr &)> &f) {
  walkStmts(s, [&](const Stmt &st) { forEachOwnExpr(st, [&](const Expr &root) { walkExprs(root, f); }); });
}

bool breaksOutOfLoop(const Stmt &s) {
  switch (s.kind) {
  case StmtKind::Break: return true;
  case StmtKind::Block:
    for (auto &st : static_cast<const BlockStmt &>(s).stmts)
      if (breaksOutOfLoop(*st)) return true;
    return false;
  case StmtKind::If: {
    auto &i = static_cast<const IfStmt &>(s);
    return breaksOutOfLoop(*i.thenBlock) || (i.elseStmt && breaksOutOfLoop(*i.elseStmt));
  }
  case StmtKind::While: { // a `break` in the body leaves that loop; in `then`/`end`, the enclosing one
    auto &w = static_cast<const WhileStmt &>(s);
    return (w.thenBlock && breaksOutOfLoop(*w.thenBlock)) || (w.endBlock && breaksOutOfLoop(*w.endBlock));
  }
  case StmtKind::Pick: // not a loop: a `break` in an arm leaves the enclosing loop
    for (const PickArm &arm : static_cast<const PickStmt &>(s).arms)
      if (arm.body && breaksOutOfLoop(*arm.body)) return true;
    return false;
  case StmtKind::VarDecl:
  case StmtKind::Expr:
  case StmtKind::Assign:
  case StmtKind::Fall:
  case StmtKind::For: // a `break` in a nested loop leaves that loop
  case StmtKind::Loop:
  case StmtKind::Continue:
  case StmtKind::Pass:
  case StmtKind::Fail:
  case StmtKind::Return:
  case StmtKind::Exit:
  case StmtKind::Defer:
  case StmtKind::Error: return false;
  }
  return false; // not reached: the switch names every kind
}

const Stmt *leavingStatement(const Stmt &s) {
  switch (s.kind) {
  case StmtKind::Break:
  case StmtKind::Continue:
  case StmtKind::Pass:
  case StmtKind::Fail:
  case StmtKind::Return:
  case StmtKind::Exit:
  case StmtKind::Fall: return &s;
  case StmtKind::Block:
    for (auto &st : static_cast<const BlockStmt &>(s).stmts)
      if (const Stmt *jump = leavingStatement(*st)) return jump;
    return nullptr;
  case StmtKind::If: {
    auto &i = static_cast<const IfStmt &>(s);
    return i.elseStmt && leavingStatement(*i.thenBlock) && leavingStatement(*i.elseStmt) ? &s : nullptr;
  }
  case StmtKind::While: {
    auto &w = static_cast<const WhileStmt &>(s);
    auto *lit = as<BoolLitExpr>(w.cond.get());
    return lit && lit->value && w.body && !breaksOutOfLoop(*w.body) ? &s : nullptr;
  }
  case StmtKind::Loop: return nullptr; // always ends
  case StmtKind::Pick: {
    // Every arm leaves, or falls into a later arm, which leaves too (the
    // checker rejects a non-exhaustive `pick`, so some arm always runs).
    auto &p = static_cast<const PickStmt &>(s);
    for (const PickArm &arm : p.arms)
      if (!arm.body || !leavingStatement(*arm.body)) return nullptr;
    return p.arms.empty() ? nullptr : &s;
  }
  case StmtKind::For: {
    auto &f = static_cast<const ForStmt &>(s);
    return !f.cond && !breaksOutOfLoop(*f.body) ? &s : nullptr;
  }
  case StmtKind::VarDecl:
  case StmtKind::Expr:
  case StmtKind::Assign:
  case StmtKind::Defer:
  case StmtKind::Error: return nullptr;
  }
  return nullptr; // not reached: the switch names every kind
}


} // namespace npk
