// Module-level bindings and `const` (LANGUAGE-2 A5): their declaration
// rules, their initializers, which are constant expressions evaluated here
// once with run-time semantics, and the cycles between them. The lowering
// lays the values out as static data; no code runs before `main`.
#include "ast/Walk.h"
#include "check/Checker.h"

namespace npk {

namespace {
// The longest cycle followed around before it is reported as too long.
constexpr size_t kMaxGlobalCycle = 1000;

const char *kindWord(GlobalDecl::Kind k) {
  switch (k) {
  case GlobalDecl::Kind::Var: return "global";
  case GlobalDecl::Kind::Fixed: return "`fixed` global";
  case GlobalDecl::Kind::Const: return "`const`";
  }
  return "global";
}
} // namespace

void Checker::collectGlobals(Module &m) {
  for (auto &g : m.globals) {
    g->module = &m;
    g->symbol = "npk.global." + g->name();
    declareName(g->name(), g->decl->binding.span, m);
    syms_.globals.emplace(g->name(), g.get());
  }
}

// The type of each global and what its qualifiers allow; before any
// initializer is read, so that initializers may name globals declared later.
void Checker::resolveGlobals() {
  for (auto &m : program_.modules)
    for (auto &g : m->globals)
      if (!g->decl->binding.ty) resolveGlobalType(*g);
}

// Also called earlier, from checkGlobal, when an array size in a struct or a
// signature names the global (`int64[STACK_SIZE]:stack;`).
void Checker::resolveGlobalType(GlobalDecl &g) {
  Module *savedModule = module_;
  module_ = g.module;
  Binding &b = g.decl->binding;
  b.ty = types_.error(); // while its own type is resolved (`int32[N]:N`)
  b.ty = resolveType(g.decl->type, false);
  if (uint8_t q = b.quals & (QualWild | QualWildx | QualBorrowMut | QualBorrowImm)) {
    std::string word = qualifierText(q);
    diags_.error(DiagId::Unsupported, g.decl->span, "a `" + word.substr(0, word.size() - 1) + "` binding at the top level")
        .withHelp("the ownership checker follows locals only: allocate in a function and keep the pointer in a local");
    b.ty = types_.error();
  } else if (b.ty->isResult() || b.ty->kind == TyKind::Tbb32 || b.ty->isNil()) {
    diags_.error(DiagId::TypeMismatch, g.decl->type.span, "a module-level binding cannot have type `" + b.ty->str() + "`")
        .withHelp("use an integer, `bool`, a float, `string`, a pointer, a struct, an array or a function type");
    b.ty = types_.error();
  }
  module_ = savedModule;
}

void Checker::checkGlobals() {
  std::unordered_map<const GlobalDecl *, std::vector<GlobalDecl *>> deps;
  std::vector<GlobalDecl *> all;
  for (auto &m : program_.modules)
    for (auto &g : m->globals) {
      all.push_back(g.get());
      std::vector<GlobalDecl *> &d = deps[g.get()];
      if (g->decl->init)
        walkExprs(*g->decl->init, [&](const Expr &e) {
          if (auto *n = as<NameExpr>(&e))
            if (auto it = syms_.globals.find(n->name); it != syms_.globals.end()) d.push_back(it->second);
        });
    }
  enum : uint8_t { Unseen, Open, Closed };
  std::unordered_map<const GlobalDecl *, uint8_t> mark;
  std::vector<GlobalDecl *> order;
  for (GlobalDecl *root : all) {
    if (mark[root] != Unseen) continue;
    std::vector<std::pair<GlobalDecl *, size_t>> stack{{root, 0}};
    mark[root] = Open;
    while (!stack.empty()) {
      auto &[g, next] = stack.back();
      const std::vector<GlobalDecl *> &d = deps[g];
      if (next < d.size()) {
        GlobalDecl *dep = d[next++];
        if (mark[dep] == Unseen) {
          mark[dep] = Open;
          stack.emplace_back(dep, 0);
        }
        continue;
      }
      mark[g] = Closed;
      order.push_back(g);
      stack.pop_back();
    }
  }
  for (GlobalDecl *g : order) checkGlobal(*g);
}

// Checks `g`'s initializer and computes its value; a name in it that refers
// to a global not yet checked checks that one first (checkName).
void Checker::checkGlobal(GlobalDecl &g) {
  if (g.state != GlobalDecl::State::Unchecked) return;
  g.state = GlobalDecl::State::Checking;
  globalsInProgress_.push_back(&g);
  if (!g.decl->binding.ty) resolveGlobalType(g);
  Module *savedModule = module_;
  module_ = g.module;
  Binding &b = g.decl->binding;
  Expr *init = g.decl->init.get();
  std::string path;
  // Static data is addressed PC-relative (x86-64's small code model: 2 GiB
  // for all of it), so one global is at most 1 GiB.
  if (uint64_t bytes = b.ty->isError() ? 0 : valueBytes(b.ty); bytes > kMaxGlobalBytes)
    diags_.error(DiagId::ArraySize, g.decl->type.span,
                 std::string(kindWord(g.kind)) + " `" + b.name + "` of type `" + b.ty->str() + "` takes " +
                     bytesText(bytes) + ", more than 1 GiB")
        .withHelp("allocate it on the heap when the program starts, with `alloc`");
  if (!init) {
    if (g.kind == GlobalDecl::Kind::Const)
      diags_.error(DiagId::ConstantExpr, b.span, "`const` `" + b.name + "` needs a value")
          .withHelp("write `const " + b.ty->str() + ":" + b.name + " = ...;`, or declare it without `const`");
    else if (holdsFuncValue(b.ty, path))
      diags_.error(DiagId::ConstantExpr, b.span,
                   "`" + b.name + "` " +
                       (path.empty() ? "is a function value" : "holds a function value in `" + path + "`") +
                       " and needs an initializer")
          .withHelp("initialise it with `@name` of a function; there is no null function value");
    g.value.kind = ConstValue::Kind::Zero;
  } else if (!b.ty->isError()) {
    unsigned errors = diags_.errorCount();
    checkValue(*init, b.ty);
    coerce(*init, b.ty, "the initializer");
    if (!init->ty->isError() && diags_.errorCount() == errors) { // (a folding error is reported already)
      const Expr *why = nullptr;
      if (auto v = constValue(*init, b.ty, why)) g.value = std::move(*v);
      else if (why) reportNotConstant(*why, "the initializer of " + std::string(kindWord(g.kind)) + " `" + b.name + "`");
    }
  }
  module_ = savedModule;
  globalsInProgress_.pop_back();
  g.state = GlobalDecl::State::Done;
}

// `A` is used while `A`'s own initializer is being checked.
void Checker::reportGlobalCycle(GlobalDecl &g, Span use) {
  size_t from = 0;
  while (from < globalsInProgress_.size() && globalsInProgress_[from] != &g) ++from;
  std::string chain;
  for (size_t i = from; i < globalsInProgress_.size(); ++i) chain += "`" + globalsInProgress_[i]->name() + "` -> ";
  chain += "`" + g.name() + "`";
  Diag &d = diags_.error(DiagId::ConstantExpr, use, "`" + g.name() + "` is defined in terms of itself: " + chain);
  for (size_t i = from + 1; i < globalsInProgress_.size(); ++i)
    d.note("`" + globalsInProgress_[i]->name() + "` is declared here", globalsInProgress_[i]->decl->binding.span);
  d.withHelp("give one of them a value that does not depend on the others");
}

// A name that refers to a module-level binding (after locals).
const Ty *Checker::checkGlobalName(NameExpr &e, GlobalDecl &g) {
  if (!visible(*module_, g.name())) {
    diags_.error(DiagId::UnknownName, e.span, "`" + e.name + "` is not imported here")
        .note("it is declared in " + g.module->name)
        .withHelp("add `use \"" + g.module->name + "\".*;`");
    return types_.error();
  }
  if (g.state == GlobalDecl::State::Checking) {
    reportGlobalCycle(g, e.span);
    return types_.error();
  }
  if (g.state == GlobalDecl::State::Unchecked && globalsInProgress_.size() >= kMaxGlobalCycle) {
    // Only a cycle gets here (checkGlobals orders the rest): stop following it.
    diags_.error(DiagId::ConstantExpr, e.span,
                 "`" + g.name() + "` is part of a cycle of more than " + std::to_string(kMaxGlobalCycle) +
                     " module-level bindings")
        .withHelp("give one of them a value that does not depend on the others");
    return types_.error();
  }
  checkGlobal(g);
  e.target = NameTarget::Global;
  e.global = &g;
  const Ty *t = g.ty() ? g.ty() : types_.error();
  // `const` and `fixed` names are constants (A5); their integer values fold.
  if (g.kind != GlobalDecl::Kind::Var && t->isInt()) {
    if (g.value.kind == ConstValue::Kind::Int) constants_[&e] = g.value.i;
    else if (g.value.kind == ConstValue::Kind::Zero) constants_[&e] = 0;
  }
  return t;
}

void Checker::reportNotConstant(const Expr &why, const std::string &what) {
  std::string reason = "is not a constant";
  if (auto *n = as<NameExpr>(&why)) {
    if (n->global && n->global->kind == GlobalDecl::Kind::Var)
      reason = "is a mutable global; only `const` and `fixed` bindings are constants";
    else if (n->binding && !n->binding->isConst)
      reason = "is a local binding; only `const` bindings are constants";
  } else if (as<CallExpr>(&why)) {
    reason = "is a call, which runs only at run time";
  } else if (as<TemplateExpr>(&why)) {
    reason = "is a template string, which is built at run time";
  }
  diags_.error(DiagId::ConstantExpr, why.span, what + " must be a constant expression: `" + sourceText(why.span) + "` " + reason)
      .withHelp("a constant is made of literals, `const` and `fixed` names, operators, `=>`, `@sizeof`, `.length`, "
                "array and struct literals and `@f`; compute other values at run time in a function");
}

// The value of a checked expression of type `t` made of constants, or null
// with `why` the first part that is not one (null when an error was already
// reported). Integers come from the checker's folding (CheckConst.cpp), so
// they have the run-time semantics and its compile-time traps.
std::optional<ConstValue> Checker::constValue(const Expr &e, const Ty *t, const Expr *&why) {
  ConstValue v;
  if (e.ty && e.ty->isError()) return std::nullopt;
  if (auto *n = as<NameExpr>(&e)) {
    // The checker converted nothing: a name has exactly its binding's type.
    if (n->global && n->global->kind != GlobalDecl::Kind::Var) return n->global->value;
    if (n->binding && n->binding->isConst)
      if (auto it = constLocals_.find(n->binding); it != constLocals_.end()) return it->second;
  }
  switch (t->kind) {
  case TyKind::Int:
  case TyKind::Tbb32:
    if (auto i = constantValue(e)) {
      v.kind = ConstValue::Kind::Int;
      v.i = *i;
      return v;
    }
    break;
  case TyKind::Bool:
    if (auto b = boolConstant(e)) {
      v.kind = ConstValue::Kind::Bool;
      v.i = *b;
      return v;
    }
    break;
  case TyKind::Float:
    if (auto f = floatConstant(e, why)) {
      v.kind = ConstValue::Kind::Float;
      v.f = t->bits == 32 ? static_cast<double>(static_cast<float>(*f)) : *f;
      return v;
    }
    if (!why) return std::nullopt;
    break;
  case TyKind::String:
    if (auto *s = as<StringLitExpr>(&e)) {
      v.kind = ConstValue::Kind::String;
      v.s = s->value;
      return v;
    }
    break;
  case TyKind::Ptr:
  case TyKind::Null:
    if (as<NullLitExpr>(&e)) {
      v.kind = ConstValue::Kind::Null;
      return v;
    }
    break;
  case TyKind::Func:
    if (auto *u = as<UnaryExpr>(&e); u && (u->funcValue || u->externValue)) {
      v.kind = ConstValue::Kind::Func;
      v.func = u->funcValue;
      v.ext = u->externValue;
      return v;
    }
    break;
  case TyKind::Struct:
    if (auto *lit = as<StructLitExpr>(&e)) {
      v.kind = ConstValue::Kind::Aggregate;
      for (const FieldDecl &f : t->decl->fields) {
        const FieldInit *init = nullptr;
        for (const FieldInit &fi : lit->fields)
          if (fi.name == f.name) init = &fi;
        if (!init || !init->value) {
          v.elems.emplace_back(); // a field left out is zero
          continue;
        }
        auto fv = constValue(*init->value, f.ty, why);
        if (!fv) return std::nullopt;
        v.elems.push_back(std::move(*fv));
      }
      return v;
    }
    break;
  case TyKind::Array:
    if (auto *lit = as<ArrayLitExpr>(&e)) {
      v.kind = ConstValue::Kind::Aggregate;
      for (const ExprPtr &el : lit->elements) {
        auto ev = constValue(*el, t->element(), why);
        if (!ev) return std::nullopt;
        v.elems.push_back(std::move(*ev));
      }
      return v;
    }
    break;
  case TyKind::Result:
  case TyKind::Nil:
  case TyKind::Void:
  case TyKind::Error: return std::nullopt;
  }
  if (!why) why = firstNonConstant(e);
  return std::nullopt;
}

// Float constants: literals (an unsuffixed integer literal adapts), `-`,
// `+ - * /` over them, `=>` from an integer or float constant, and `const`
// or `fixed` names. Arithmetic is IEEE double (float for flt32 operands, as
// at run time).
std::optional<double> Checker::floatConstant(const Expr &e, const Expr *&why) {
  auto round = [&](double d) { return e.ty && e.ty->isFloat() && e.ty->bits == 32 ? double(float(d)) : d; };
  if (auto *f = as<FloatLitExpr>(&e)) return round(f->value);
  if (auto *i = as<IntLitExpr>(&e)) return round(static_cast<double>(i->value));
  if (auto *n = as<NameExpr>(&e)) {
    if (n->global && n->global->kind != GlobalDecl::Kind::Var) {
      const ConstValue &v = n->global->value;
      if (v.kind == ConstValue::Kind::Float) return v.f;
      if (v.kind == ConstValue::Kind::Zero) return 0.0;
      return std::nullopt; // an error was reported on its declaration
    }
    if (n->binding && n->binding->isConst) {
      auto it = constLocals_.find(n->binding);
      if (it != constLocals_.end() && it->second.kind == ConstValue::Kind::Float) return it->second.f;
    }
  }
  if (auto *u = as<UnaryExpr>(&e); u && u->op == UnaryOp::Neg) {
    if (auto v = floatConstant(*u->operand, why)) return -*v;
    return std::nullopt;
  }
  if (auto *b = as<BinaryExpr>(&e)) {
    auto l = floatConstant(*b->lhs, why);
    if (!l) return std::nullopt;
    auto r = floatConstant(*b->rhs, why);
    if (!r) return std::nullopt;
    switch (b->op) {
    case BinaryOp::Add: return round(*l + *r);
    case BinaryOp::Sub: return round(*l - *r);
    case BinaryOp::Mul: return round(*l * *r);
    case BinaryOp::Div: return round(*l / *r);
    default: break;
    }
  }
  if (auto *c = as<CastExpr>(&e); c && c->operand->ty) {
    if (c->operand->ty->isInt()) {
      if (auto i = constantValue(*c->operand)) return round(static_cast<double>(*i));
    } else if (c->operand->ty->isFloat()) {
      if (auto v = floatConstant(*c->operand, why)) return round(*v);
      return std::nullopt;
    }
  }
  if (!why) why = firstNonConstant(e);
  return std::nullopt;
}

// The part of `e` that keeps it from being a constant: a name that is not a
// constant, a call, a template; or `e` itself.
const Expr *Checker::firstNonConstant(const Expr &e) const {
  if (auto *n = as<NameExpr>(&e)) {
    if (n->global) return n->global->kind == GlobalDecl::Kind::Var ? &e : nullptr;
    if (n->binding) return n->binding->isConst ? nullptr : &e;
    return nullptr; // a function named by `@f`
  }
  if (as<IntLitExpr>(&e) || as<FloatLitExpr>(&e) || as<BoolLitExpr>(&e) || as<StringLitExpr>(&e) ||
      as<NullLitExpr>(&e) || as<LayoutExpr>(&e))
    return nullptr;
  if (as<CallExpr>(&e) || as<TemplateExpr>(&e) || as<CounterExpr>(&e)) return &e;
  const Expr *found = nullptr;
  forEachChildExpr(e, [&](const Expr &c) {
    if (!found) found = firstNonConstant(c);
  });
  return found ? found : &e;
}

} // namespace npk
