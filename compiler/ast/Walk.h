// The one generic walker over the syntax tree. Every phase that visits
// children without caring about their kind goes through it. Expressions: the
// switches here name every kind (no `default:`), so a new kind is a compile
// error until the walker knows its children. Statements: each node describes
// its parts and control flow itself (AST.h), and this dispatches on AST.def.
#pragma once

#include "ast/AST.h"

#include <functional>

namespace npk {

// Direct sub-expressions in evaluation order (a call's callee is a value
// only when the call goes through a function value; a named callee is skipped).
void forEachChildExpr(const Expr &e, const std::function<void(const Expr &)> &f);
// Direct sub-statements (a block's statements, branches, loop parts, a
// defer body).
void forEachChildStmt(const Stmt &s, const std::function<void(const Stmt &)> &f);
// The expressions a statement evaluates itself (not those of sub-statements).
void forEachOwnExpr(const Stmt &s, const std::function<void(const Expr &)> &f);
// Pre-order walks: `s` and every statement inside it; `e` and every
// expression inside it.
void walkStmts(const Stmt &s, const std::function<void(const Stmt &)> &f);
void walkExprs(const Expr &e, const std::function<void(const Expr &)> &f);
// Every expression anywhere inside `s`, sub-expressions and nested
// statements included.
void forEachExprIn(const Stmt &s, const std::function<void(const Expr &)> &f);

// What a statement's node says of itself (AST.h; breaksOutOfLoop and
// leavingStatement are declared there, beside the nodes that answer them):
// the expression whose value `s` hands to a binding or the caller (AST.h,
// `handedOn`), or null;
const Expr *handedOnValue(const Stmt &s);
// whether the bindings declared in `s` live in a scope of their own;
bool opensScope(const Stmt &s);
// why control does not fall through `jump`, a statement leavingStatement
// returned (NPK-W003's note).
const char *whyLeaves(const Stmt &jump);

} // namespace npk
