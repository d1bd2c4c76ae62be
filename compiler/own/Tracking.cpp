#include "own/Tracking.h"

#include "check/Types.h"

namespace npk::own {

namespace {

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// `raw f()`, `f() ? d` and `f() => T` yield what `f()` yields.
const Expr *stripValueWrappers(const Expr *e) {
  while (e) {
    if (auto *r = as<RawExpr>(e)) e = r->operand.get();
    else if (auto *d = as<DefaultExpr>(e)) e = d->operand.get();
    else if (auto *c = as<CastExpr>(e)) e = c->operand.get();
    else break;
  }
  return e;
}

bool isBuiltinCall(const Expr *e, Builtin which) {
  auto *call = as<CallExpr>(e);
  return call && call->builtin == which;
}

bool isJitCompile(const Expr *e) {
  auto *call = as<CallExpr>(stripValueWrappers(e));
  return call && call->calleeFullName().starts_with("Jit.compile_");
}

bool isWild(const Binding &b) { return b.quals & (QualWild | QualWildx); }

DropAction dropOf(const Binding &b, DropKind kind, FuncDecl *userDrop = nullptr) {
  DropAction a;
  a.binding = &b;
  a.kind = kind;
  a.userDrop = userDrop;
  return a;
}

bool isBorrow(const Binding &b) { return b.quals & (QualBorrowMut | QualBorrowImm); }

bool movesByValue(const Ty *ty, unsigned depth) {
  if (!ty || !ty->isStruct() || !ty->decl || depth > 64) return false;
  if (ty->decl->dropFn) return true;
  for (const FieldDecl &f : ty->decl->fields)
    if (movesByValue(f.ty, depth + 1)) return true;
  return false;
}

// A struct value with a destructor (§6.4): its destructor, then its fields'.
void addValueDrop(const Binding &b, TrackedBinding &tb) {
  if (!movesByValue(b.ty, 0)) return;
  tb.autoDrops.push_back(dropOf(b, DropKind::UserDrop, b.ty->decl->dropFn));
  tb.moves = !b.heapStruct;
}

// LANGUAGE.md §6.3 (drop.npk, per module) and §6.4 (`impl:Drop`, everywhere).
void addAutoDrops(const VarDeclStmt &decl, bool dropEnabled, TrackedBinding &tb) {
  const Binding &b = decl.binding;
  addValueDrop(b, tb);
  if (!dropEnabled || !decl.init) return;
  const Expr *init = decl.init.get();
  DropKind kind;
  if (b.heapStruct) kind = DropKind::Free;
  else if ((b.quals & QualWildx) && (isBuiltinCall(init, Builtin::WildxAlloc) || isJitCompile(init)))
    kind = DropKind::WildxFree;
  else if ((b.quals & QualWild) && isBuiltinCall(init, Builtin::Alloc)) kind = DropKind::Free;
  else return;
  tb.autoDrops.push_back(dropOf(b, kind));
  tb.autoReleased = true;
}

TrackedBinding &slotFor(BindingTable &table, const Binding &b) {
  if (b.id >= table.size()) table.resize(b.id + 1);
  TrackedBinding &tb = table[b.id];
  tb.binding = &b;
  if (!tb.declSpan.valid()) tb.declSpan = b.span;
  return tb;
}

void walkStmts(const Stmt &s, const std::function<void(const Stmt &)> &f) {
  f(s);
  forEachChildStmt(s, [&](const Stmt &child) { walkStmts(child, f); });
}

void walkExprs(const Expr &e, const std::function<void(const Expr &)> &f) {
  f(e);
  forEachChildExpr(e, [&](const Expr &child) { walkExprs(child, f); });
}

} // namespace

bool movesByValue(const Ty *ty) { return movesByValue(ty, 0); }

bool isDeallocatorName(std::string_view name) {
  for (std::string_view word : {"free", "destroy", "release"})
    if (name == word || endsWith(name, "_" + std::string(word))) return true;
  return false;
}

const NameExpr *releasedName(const CallExpr &call) {
  if (call.args.empty() || !isDeallocatorName(call.calleeName())) return nullptr;
  auto *n = as<NameExpr>(call.args[0].get());
  return n && n->binding ? n : nullptr;
}

uint8_t wildResultQuals(const Expr &e) {
  auto *call = as<CallExpr>(stripValueWrappers(&e));
  return call && call->func ? call->func->retQuals & (QualWild | QualWildx) : 0;
}

bool isWildResult(const Expr &e) { return wildResultQuals(e) != 0; }

const TrackedBinding *followedName(const Expr *e, const BindingTable &table) {
  auto *n = as<NameExpr>(e);
  if (!n || !n->binding || n->binding->id >= table.size()) return nullptr;
  const TrackedBinding &tb = table[n->binding->id];
  return tb.binding == n->binding && tb.followed() ? &tb : nullptr;
}

InitKind classifyInit(const Expr *value, const Binding &dest, const BindingTable &table) {
  if (dest.heapStruct || (dest.ty && dest.ty->isStruct())) return InitKind::Owned;
  const Expr *v = stripValueWrappers(value);
  if (!v || as<NullLitExpr>(v)) return InitKind::Null;
  if (isWild(dest)) {
    const TrackedBinding *src = followedName(value, table);
    if (src && src->checked && src->binding != &dest) return InitKind::Transfer;
  }
  if (isWild(dest) || isWildResult(*value)) return InitKind::Owned;
  return InitKind::Unowned;
}

BindingTable collectBindings(const FuncDecl &f) {
  BindingTable table(f.bindingCount);
  for (auto &p : f.params) {
    TrackedBinding &tb = slotFor(table, p->binding);
    tb.checked = isWild(p->binding) && p->binding.ty && p->binding.ty->isPtr();
    // A struct passed by value moved into the callee, which drops it; a
    // destructor's own `self` is the value being destroyed.
    if (!isBorrow(p->binding) && !f.isDropImpl) addValueDrop(p->binding, tb);
  }
  if (!f.body) return table;
  bool dropEnabled = f.module && f.module->dropEnabled;
  std::vector<const Binding *> assignedAllocations;
  walkStmts(*f.body, [&](const Stmt &s) {
    if (auto *decl = as<VarDeclStmt>(&s)) {
      TrackedBinding &tb = slotFor(table, decl->binding);
      tb.declSpan = decl->span;
      bool pointer = decl->binding.ty && decl->binding.ty->isPtr();
      tb.checked = isWild(decl->binding) || (pointer && decl->init && isWildResult(*decl->init));
      addAutoDrops(*decl, dropEnabled, tb);
    } else if (auto *assign = as<AssignStmt>(&s)) {
      auto *target = as<NameExpr>(assign->target.get());
      if (target && target->binding && assign->value && isWildResult(*assign->value))
        assignedAllocations.push_back(target->binding);
    }
  });
  for (const Binding *b : assignedAllocations)
    if (b->ty && b->ty->isPtr()) slotFor(table, *b).checked = true;
  return table;
}

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
  case ExprKind::Call:
    for (auto &arg : static_cast<const CallExpr &>(e).args) visit(arg);
    return;
  case ExprKind::Index: {
    auto &i = static_cast<const IndexExpr &>(e);
    visit(i.base);
    visit(i.index);
    return;
  }
  case ExprKind::Member: visit(static_cast<const MemberExpr &>(e).base); return;
  case ExprKind::Raw: visit(static_cast<const RawExpr &>(e).operand); return;
  case ExprKind::Drop: visit(static_cast<const DropExpr &>(e).operand); return;
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
  case ExprKind::IntLit:
  case ExprKind::FloatLit:
  case ExprKind::BoolLit:
  case ExprKind::StringLit:
  case ExprKind::NullLit:
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
  case StmtKind::While: visit(static_cast<const WhileStmt &>(s).body.get()); return;
  case StmtKind::For: {
    auto &fs = static_cast<const ForStmt &>(s);
    visit(fs.init.get());
    visit(fs.body.get());
    visit(fs.step.get());
    return;
  }
  case StmtKind::Defer: visit(static_cast<const DeferStmt &>(s).body.get()); return;
  default: return;
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
  case StmtKind::Pass: visit(static_cast<const PassStmt &>(s).value); return;
  case StmtKind::Fail: visit(static_cast<const FailStmt &>(s).code); return;
  case StmtKind::Return: visit(static_cast<const ReturnStmt &>(s).value); return;
  case StmtKind::Exit: visit(static_cast<const ExitStmt &>(s).status); return;
  default: return;
  }
}

void forEachRelease(const Stmt &s, const std::function<void(const CallExpr &)> &f) {
  walkStmts(s, [&](const Stmt &st) {
    forEachOwnExpr(st, [&](const Expr &root) {
      walkExprs(root, [&](const Expr &e) {
        if (auto *call = as<CallExpr>(&e); call && releasedName(*call)) f(*call);
      });
    });
  });
}

} // namespace npk::own
