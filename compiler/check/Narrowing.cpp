// `r.value` is readable only where the checker sees `r.is_error` is false
// (LANGUAGE.md §5). The facts live in okResults_, a stack that mirrors the
// block structure: a condition pushes what it proves for the region it
// guards, the region's end pops it. An assignment to `r` clears every fact
// about `r` in place (the slot stays, so the stack marks stay valid), and a
// region that may run again after an assignment — a loop body, a deferred
// block — starts without the facts its assignments could break.
#include "check/Checker.h"
#include "ast/Walk.h"

#include <set>

namespace npk {

namespace {
// Names assigned anywhere in a statement (by name, so a shadowing binding
// counts too: forgetting a fact is always safe).
void collectAssigned(const Stmt &s, std::set<std::string> &names) {
  walkStmts(s, [&](const Stmt &st) {
    if (auto *a = as<AssignStmt>(&st))
      if (auto *n = as<NameExpr>(a->target.get())) names.insert(n->name);
  });
}
} // namespace

// The Result bindings that are not errors when `cond` evaluates to `outcome`:
// `r.is_error` (false), `!c`, `c == true/false`, `c != true/false`, both
// sides of a true `&&` and of a false `||`.
void Checker::okWhen(const Expr &cond, bool outcome, std::vector<const Binding *> &ok) const {
  if (auto *m = as<MemberExpr>(&cond); m && m->target == MemberTarget::ResultIsError) {
    if (auto *n = as<NameExpr>(m->base.get()); n && n->binding && !outcome) ok.push_back(n->binding);
    return;
  }
  if (auto *u = as<UnaryExpr>(&cond); u && u->op == UnaryOp::Not) return okWhen(*u->operand, !outcome, ok);
  auto *b = as<BinaryExpr>(&cond);
  if (!b) return;
  if ((b->op == BinaryOp::And && outcome) || (b->op == BinaryOp::Or && !outcome)) {
    okWhen(*b->lhs, outcome, ok);
    okWhen(*b->rhs, outcome, ok);
    return;
  }
  if (b->op != BinaryOp::Eq && b->op != BinaryOp::Ne) return;
  if (auto *lit = as<BoolLitExpr>(b->rhs.get()))
    okWhen(*b->lhs, ((b->op == BinaryOp::Eq) == lit->value) == outcome, ok);
  else if (auto *lhsLit = as<BoolLitExpr>(b->lhs.get()))
    okWhen(*b->rhs, ((b->op == BinaryOp::Eq) == lhsLit->value) == outcome, ok);
}

void Checker::narrow(const Expr &cond, bool outcome) {
  std::vector<const Binding *> ok;
  okWhen(cond, outcome, ok);
  okResults_.insert(okResults_.end(), ok.begin(), ok.end());
}

bool Checker::knownOk(const Binding *b) const {
  for (const Binding *ok : okResults_)
    if (ok == b) return true;
  return false;
}

void Checker::forget(const Binding *b) {
  for (const Binding *&ok : okResults_)
    if (ok == b) ok = nullptr;
}

void Checker::forgetAssignedIn(const Stmt &region) {
  std::set<std::string> names;
  collectAssigned(region, names);
  for (const Binding *&ok : okResults_)
    if (ok && names.count(ok->name)) ok = nullptr;
}

} // namespace npk
