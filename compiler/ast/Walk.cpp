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

namespace {
// The statement's parts (AST.h) split by kind: sub-statements to `onStmt`,
// its own expressions to `onExpr`.
template <class OnStmt, class OnExpr> struct Parts {
  OnStmt onStmt;
  OnExpr onExpr;
  void stmt(const Stmt *s) {
    if (s) onStmt(*s);
  }
  void expr(const Expr *e) {
    if (e) onExpr(*e);
  }
};
template <class OnStmt, class OnExpr> void forEachPart(const Stmt &s, OnStmt onStmt, OnExpr onExpr) {
  Parts<OnStmt, OnExpr> parts{onStmt, onExpr};
  visitStmt(s, [&](const auto &node) { node.parts(parts); });
}
} // namespace

void forEachChildStmt(const Stmt &s, const std::function<void(const Stmt &)> &f) {
  forEachPart(s, [&](const Stmt &child) { f(child); }, [](const Expr &) {});
}

void forEachOwnExpr(const Stmt &s, const std::function<void(const Expr &)> &f) {
  forEachPart(s, [](const Stmt &) {}, [&](const Expr &e) { f(e); });
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
  return visitStmt(s, [](const auto &node) { return node.breaksOut(); });
}

const Stmt *leavingStatement(const Stmt &s) {
  return visitStmt(s, [](const auto &node) -> const Stmt * { return node.leaving(); });
}

const Expr *handedOnValue(const Stmt &s) {
  return visitStmt(s, [](const auto &node) { return node.handedOn(); });
}

bool opensScope(const Stmt &s) {
  return visitStmt(s, [](const auto &node) { return std::decay_t<decltype(node)>::opensScope; });
}

const char *whyLeaves(const Stmt &jump) {
  return visitStmt(jump, [](const auto &node) { return node.whyLeaves(); });
}

} // namespace npk
