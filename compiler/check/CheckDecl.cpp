#include "check/Checker.h"
#include "diag/Unsupported.h"

#include <algorithm>

namespace npk {

namespace {
bool isBuiltinName(const std::string &n) { return builtinNamed(n) != Builtin::None; }
} // namespace

void Checker::run() {
  for (auto &m : program_.modules) collect(*m);
  resolveSignatures();
  resolveGlobals();
  checkExternRedeclarations();
  checkStructCycles();
  for (auto &m : program_.modules) checkImpls(*m);
  checkMainAndFailsafe();
  checkGlobals();
  for (auto &m : program_.modules) {
    module_ = m.get();
    for (auto &f : m->funcs) checkFunc(*f);
    for (auto &t : m->typeBlocks)
      for (auto &f : t->members) checkFunc(*f);
    for (auto &i : m->impls)
      for (auto &f : i->methods)
        if (f->ret) checkFunc(*f);
  }
  module_ = nullptr;
}

bool Checker::declareName(const std::string &name, Span at, Module &m) {
  // `@sizeof`, `@alignof`, `@cast`, `@cast_unchecked` are one token each, so
  // these names could never be taken as function values (LANGUAGE-2 A6).
  if (name == "sizeof" || name == "alignof" || name == "cast" || name == "cast_unchecked") {
    diags_.error(DiagId::Redefinition, at, "`" + name + "` is reserved for the intrinsic `@" + name + "`")
        .withHelp("choose another name");
    return false;
  }
  auto [it, fresh] = syms_.declaredIn.emplace(name, &m);
  if (fresh) syms_.firstDeclared[name] = at;
  if (fresh && !isBuiltinName(name)) return true;
  if (isBuiltinName(name)) {
    diags_.error(DiagId::Redefinition, at, "`" + name + "` is a builtin and cannot be redefined")
        .withHelp("choose another name, or put the function in a `Type:` block (`Mem." + name + "`)");
    return false;
  }
  diags_.error(DiagId::Redefinition, at, "`" + name + "` is defined more than once")
      .note("first defined here", syms_.firstDeclared[name])
      .withHelp("rename one of them");
  return false;
}

void Checker::collectFunc(FuncDecl &f, Module &m) {
  f.module = &m;
  syms_.allFuncs.push_back(&f);
}

// Records every top-level declaration of a module in the program symbols.
void Checker::collect(Module &m) {
  for (auto &e : m.externs) {
    e->module = &m;
    // In its module an extern's name means the C function (A1.5); one that
    // clashes with another declaration does not take the name.
    auto own = [&] {
      syms_.moduleExterns.emplace(std::pair<const Module *, std::string>{&m, e->name}, e.get());
      syms_.externsNamed[e->name].push_back(e.get());
    };
    // Named like a builtin: this module's own, so it neither takes the name
    // program-wide nor reaches importers.
    if (isBuiltinName(e->name)) {
      e->shadowsBuiltin = true;
      own();
      continue;
    }
    if (e->name == "main" || e->name == "failsafe") {
      diags_.error(DiagId::Redefinition, e->nameSpan, "an extern cannot be named `" + e->name + "`")
          .withHelp("`" + e->name + "` is the program's own function; the runtime calls it");
      continue;
    }
    // The same C function may be declared by several modules (the
    // signatures must agree: checkExternRedeclarations).
    if (syms_.externs.count(e->name)) {
      own();
      continue;
    }
    if (!declareName(e->name, e->nameSpan, m)) continue;
    own();
    syms_.externs[e->name] = e.get();
  }
  for (auto &s : m.structs) {
    s->module = &m;
    declareName(s->name, s->nameSpan, m);
    syms_.structs[s->name] = s.get();
    s->ty = types_.structTy(s.get());
  }
  for (auto &f : m.funcs) {
    collectFunc(*f, m);
    f->symbol = f->name == "main" ? "npk_main" : f->name;
    declareName(f->name, f->nameSpan, m);
    syms_.funcs[f->name] = f.get();
  }
  for (auto &t : m.typeBlocks) {
    declareName(t->name, t->nameSpan, m);
    auto &members = syms_.typeBlocks[t->name];
    for (auto &f : t->members) {
      collectFunc(*f, m);
      f->symbol = t->name + "_" + f->name;
      if (auto [first, fresh] = members.emplace(f->name, f.get()); !fresh)
        diags_.error(DiagId::Redefinition, f->nameSpan, "`" + t->name + "." + f->name + "` is defined more than once")
            .note("first defined here", first->second->nameSpan)
            .withHelp("rename one of them");
    }
  }
  collectGlobals(m);
  for (auto &i : m.impls)
    for (auto &f : i->methods) {
      f->module = &m;
      f->symbol = i->target + "_" + f->name;
      f->isDropImpl = true;
    }
}

bool Checker::visible(const Module &from, const std::string &name) const {
  auto it = syms_.declaredIn.find(name);
  if (it == syms_.declaredIn.end()) return false;
  if (it->second == &from) return true;
  for (const UseDecl &u : from.uses)
    if (u.resolved == it->second) return true;
  return false;
}

// The types that cannot cross the C boundary (LANGUAGE-2 A1.1, NPK-T016):
// a Nitpick function value carries the Result ABI, which C cannot call (an
// `extern (R)(P...)` value is a C function pointer and crosses); a struct by
// value (C gets `S*`); `tbb32`, whose error sentinel C does not know.
// `Result` is refused where it is resolved (resolveType).
bool Checker::crossesCBoundary(const Ty *t, Span at) {
  if (t->isFunc() && !t->isExtern) {
    diags_.error(DiagId::CBoundary, at, "a Nitpick function value `" + t->str() + "` cannot cross the C boundary")
        .withHelp("C calls a C function: write the type as `extern " + t->str() +
                  "` and pass an extern's or JIT code's value");
    return false;
  }
  if (t->isStruct()) {
    diags_.error(DiagId::CBoundary, at, "struct `" + t->str() + "` cannot cross the C boundary by value")
        .withHelp("pass a pointer: declare `" + t->str() + "*` and pass `@s`");
    return false;
  }
  if (t->kind == TyKind::Tbb32) {
    diags_.error(DiagId::CBoundary, at, "`tbb32` cannot cross the C boundary")
        .withHelp("C has no error sentinel: declare `int32` and convert with `=> int32`");
    return false;
  }
  return true;
}

// `(R)(P...)` takes and passes Nitpick types; `extern (R)(P...)` is a C
// function, so its types are those an extern declaration may have.
const Ty *Checker::resolveFuncType(const FuncTypeExpr &f) {
  const Ty *ret = resolveType(f.ret, f.isExtern);
  bool ok = !ret->isError() && (!f.isExtern || crossesCBoundary(ret, f.ret.span));
  if (ok && ret->kind == TyKind::Void) ret = types_.nil();
  std::vector<const Ty *> params;
  for (size_t i = 0; i < f.params.size(); ++i) {
    const Ty *p = resolveType(f.params[i], f.isExtern);
    if (f.isExtern && !crossesCBoundary(p, f.params[i].span)) p = types_.error();
    if (p->isError()) {
      ok = false;
      continue;
    }
    if (p->isNil()) {
      diags_.error(DiagId::TypeMismatch, f.params[i].span, "a parameter cannot have type `NIL`")
          .withHelp("leave the parameter out: `(" + ret->str() + ")()`");
      ok = false;
    } else if ((f.quals[i] & (QualBorrowMut | QualBorrowImm)) && !p->isStruct() && !p->isArray()) {
      diags_.error(DiagId::TypeMismatch, f.params[i].span, "`$$i`/`$$m` borrow a struct or an array, not `" + p->str() + "`")
          .withHelp("pass scalars and pointers by value");
      ok = false;
    } else if (f.quals[i] & QualFixed) {
      diags_.error(DiagId::Expected, f.params[i].span, "`fixed` is not part of a function type")
          .withHelp("a parameter's `fixed` belongs to the function's body, not to its type");
      ok = false;
    } else if (!(f.quals[i] & (QualBorrowMut | QualBorrowImm))) {
      checkByValueSize(p, f.params[i].span, false);
    }
    params.push_back(p);
  }
  if (ok) checkByValueSize(ret, f.ret.span, true);
  if (!ok) return types_.error();
  return types_.func(ret, std::move(params), f.quals, f.isExtern);
}

const Ty *Checker::resolveType(const TypeExpr &t, bool inExtern) {
  if (t.cStyle && !inExtern) {
    diags_.error(DiagId::Expected, t.span, "C-style pointer `*` outside an extern signature")
        .withHelp("write pointers as `T->` (and the untyped pointer as `?->`)");
    return types_.error();
  }
  if (t.func) return resolveFuncType(*t.func);
  const Ty *base = nullptr;
  if (t.elementOf) {
    base = resolveArrayType(t, inExtern);
    if (base->isError()) return base;
  } else if (t.name == "Result") {
    if (inExtern) {
      diags_.error(DiagId::CBoundary, t.span, "`Result` cannot cross the C boundary")
          .withHelp("C returns and takes plain values: use the plain C type");
      return types_.error();
    }
    const Ty *inner = resolveType(*t.resultOf, inExtern);
    if (inner->isError()) return inner;
    base = types_.result(inner);
  } else if (t.name == "?") {
    if (t.pointerDepth == 0) {
      diags_.error(DiagId::UnknownType, t.span, "`?` is only a type as the untyped pointer `?->`")
          .withHelp("write `?->`");
      return types_.error();
    }
    const Ty *p = types_.ptr(nullptr);
    for (int i = 1; i < t.pointerDepth; ++i) p = types_.ptr(p);
    return p;
  } else if (const Ty *b = types_.builtinNamed(t.name)) {
    base = b;
  } else if (auto it = syms_.structs.find(t.name); it != syms_.structs.end()) {
    if (module_ && !visible(*module_, t.name)) {
      diags_.error(DiagId::UnknownType, t.span, "struct `" + t.name + "` is not imported here")
          .note("it is declared in " + it->second->module->name)
          .withHelp("add `use \"" + it->second->module->name + "\".*;`");
      return types_.error();
    }
    base = it->second->ty;
  } else if (const char *what = unsupportedType(t.name)) {
    diags_.error(DiagId::Unsupported, t.span, "type `" + t.name + "` (" + what + ") is not supported by npk")
        .withHelp(kUnsupportedHelp);
    return types_.error();
  } else {
    diags_.error(DiagId::UnknownType, t.span, "unknown type `" + t.name + "`")
        .withHelp("builtin types are int8..int64, uint8..uint64, bool, flt32, flt64, string, tbb32; or declare "
                  "`struct:" + t.name + " = { ... };`");
    return types_.error();
  }
  if ((base->isNil() || base->kind == TyKind::Void) && t.pointerDepth > 0) {
    diags_.error(DiagId::UnknownType, t.span, "`" + t.name + "` cannot be pointed to")
        .withHelp("use the untyped pointer `?->`");
    return types_.error();
  }
  if (base->kind == TyKind::Void && !inExtern) {
    diags_.error(DiagId::UnknownType, t.span, "`void` is only allowed as an extern return type")
        .withHelp("a function that returns nothing is declared `NIL`");
    return types_.error();
  }
  for (int i = 0; i < t.pointerDepth; ++i) base = types_.ptr(base);
  return base;
}

// `T[N]` (LANGUAGE-2 A2): T any type that has values except `Result`; N
// an integer constant expression in 1..2^31-1, folded by the checker's one
// constant folder (CheckConst.cpp).
const Ty *Checker::resolveArrayType(const TypeExpr &t, bool inExtern) {
  const Ty *element = resolveType(*t.elementOf, inExtern);
  const Ty *sizeTy = checkValue(*t.arraySize, types_.int64());
  if (element->isError() || sizeTy->isError()) return types_.error();
  if (inExtern) {
    diags_.error(DiagId::CBoundary, t.span, "an array `" + element->str() + "[...]` cannot cross the C boundary by value")
        .withHelp("declare the parameter as a pointer `" + element->str() + "*`; an array binding passed to it "
                  "passes the address of its element 0");
    return types_.error();
  }
  if (element->isNil() || element->isResult()) {
    diags_.error(DiagId::TypeMismatch, t.elementOf->span, "an array cannot hold `" + element->str() + "`")
        .withHelp(element->isResult() ? "store the plain value: `" + element->resultValue()->str() + "[...]`"
                                      : "`NIL` has no values");
    return types_.error();
  }
  std::string size = sourceText(t.arraySize->span);
  if (!sizeTy->isInt()) {
    diags_.error(DiagId::ArraySize, t.arraySize->span, "array size `" + size + "` has type `" + sizeTy->str() +
                                                           "`, not an integer type")
        .withHelp("the size is an integer constant, e.g. `" + element->str() + "[16]`");
    return types_.error();
  }
  std::optional<__int128> n = constantValue(*t.arraySize);
  if (!n) {
    diags_.error(DiagId::ArraySize, t.arraySize->span, "array size `" + size + "` is not a constant expression")
        .withHelp("the size is fixed at compile time; for a size known only at run time use `alloc(n * @sizeof(" +
                  element->str() + "))`");
    return types_.error();
  }
  constexpr __int128 kMaxLength = (__int128{1} << 31) - 1;
  if (*n < 1 || *n > kMaxLength) {
    diags_.error(DiagId::ArraySize, t.arraySize->span,
                 "array size " + intText(*n) + " is out of range (1.." + intText(kMaxLength) + ")")
        .withHelp(*n < 1 ? "an array holds at least one element" : "allocate a larger buffer with `alloc`");
    return types_.error();
  }
  return types_.array(element, static_cast<uint64_t>(*n));
}

// A parameter or return passed by value is a copy on the stack, like a
// local: at most 1 MiB (LANGUAGE-2 A2).
void Checker::checkByValueSize(const Ty *t, Span at, bool isReturn) {
  if (!t->isArray() && !t->isStruct()) return;
  uint64_t bytes = valueBytes(t);
  if (bytes <= kMaxStackValueBytes) return;
  Diag &d = diags_.error(DiagId::ArraySize, at,
                         "`" + t->str() + "` takes " + bytesText(bytes) + ", too large to " +
                             (isReturn ? "return" : "pass") + " by value (more than 1 MiB)");
  if (isReturn)
    d.withHelp("let the caller pass the storage: take a `$$m " + t->str() + ":out` parameter and fill it");
  else
    d.withHelp("pass it by reference: `$$i " + t->str() + "` (or `$$m` to change it), which copies nothing");
}

void Checker::resolveFunc(FuncDecl &f) {
  f.ret = resolveType(f.retType, false);
  if (f.ret->isResult()) {
    diags_.error(DiagId::TypeMismatch, f.retType.span, "a function's return type is the `T` of its `Result<T>`")
        .withHelp("declare `" + f.ret->resultValue()->str() + "`; callers receive `Result<" +
                  f.ret->resultValue()->str() + ">` automatically");
    f.ret = types_.error();
  }
  if ((f.retQuals & (QualWild | QualWildx)) && !f.ret->isPtr() && !f.ret->isError()) {
    diags_.error(DiagId::TypeMismatch, f.retType.span, "a `wild`/`wildx` return type must be a pointer")
        .withHelp("write `wildx int8->`");
  }
  checkByValueSize(f.ret, f.retType.span, true);
  unsigned id = 0;
  for (auto &p : f.params) {
    p->binding.ty = resolveType(p->type, false);
    p->binding.id = id++;
    uint8_t q = p->binding.quals;
    if ((q & (QualBorrowMut | QualBorrowImm)) && !p->binding.ty->isStruct() && !p->binding.ty->isArray() &&
        !p->binding.ty->isError())
      diags_.error(DiagId::TypeMismatch, p->binding.span, "borrows `$$m`/`$$i` pass structs and arrays by reference")
          .withHelp("remove the borrow qualifier for a scalar parameter");
    if ((q & (QualWild | QualWildx)) && p->binding.ty->isArray())
      diags_.error(DiagId::Unsupported, p->binding.span, "a `wild`/`wildx` array binding is not supported by npk")
          .withHelp("the ownership checker follows bindings, not elements; allocate with `alloc(N * @sizeof(T))`");
    else if ((q & (QualWild | QualWildx)) && !p->binding.ty->isPtr() && !p->binding.ty->isError())
      diags_.error(DiagId::TypeMismatch, p->binding.span, "a `wild`/`wildx` parameter must be a pointer")
          .withHelp("write `wildx int8->:" + p->binding.name + "`");
    if (p->binding.ty->isNil() || p->binding.ty->isResult())
      diags_.error(DiagId::TypeMismatch, p->binding.span,
                   "a parameter cannot have type `" + p->binding.ty->str() + "`");
    if (!(q & (QualBorrowMut | QualBorrowImm))) checkByValueSize(p->binding.ty, p->type.span, false);
  }
  f.bindingCount = id;
}

void Checker::resolveSignatures() {
  for (auto &m : program_.modules) {
    module_ = m.get();
    for (auto &s : m->structs) {
      for (size_t i = 0; i < s->fields.size(); ++i) {
        FieldDecl &fd = s->fields[i];
        fd.ty = resolveType(fd.type, false);
        if (fd.ty->isNil() || fd.ty->isResult())
          diags_.error(DiagId::TypeMismatch, fd.span, "a field cannot have type `" + fd.ty->str() + "`");
        for (size_t j = 0; j < i; ++j)
          if (s->fields[j].name == fd.name)
            diags_.error(DiagId::Redefinition, fd.span, "field `" + fd.name + "` is declared twice");
      }
    }
    for (auto &e : m->externs) resolveExtern(*e);
    for (auto &f : m->funcs) resolveFunc(*f);
    for (auto &t : m->typeBlocks)
      for (auto &f : t->members) resolveFunc(*f);
  }
  module_ = nullptr;
}

// An extern's signature (LANGUAGE-2 A1.1): C types only; `wild`/`wildx`
// mark a returned pointer the caller owns, so they need a pointer.
void Checker::resolveExtern(ExternDecl &e) {
  e.ret = resolveType(e.retType, true);
  if (!e.ret->isError() && !crossesCBoundary(e.ret, e.retType.span)) e.ret = types_.error();
  if ((e.retQuals & (QualWild | QualWildx)) && !e.ret->isPtr() && !e.ret->isError()) {
    const char *q = e.retQuals & QualWildx ? "wildx" : "wild";
    diags_.error(DiagId::TypeMismatch, e.retType.span,
                 std::string("a `") + q + "` return type must be a pointer, found `" + e.ret->str() + "`")
        .withHelp(std::string("`") + q + "` says the caller owns the memory C returns: write `" + q +
                  " int8*` (or `" + q + " ?*`), or drop the qualifier");
    e.ret = types_.error();
  }
  e.paramTys.clear();
  for (auto &p : e.params) {
    const Ty *t = resolveType(p.type, true);
    if (!t->isError() && t->isNil()) {
      diags_.error(DiagId::TypeMismatch, p.type.span, "a parameter cannot have type `" + p.type.name + "`")
          .withHelp("leave the parameter out: a C `f(void)` is declared `int32()`");
      t = types_.error();
    } else if (!t->isError() && !crossesCBoundary(t, p.type.span)) {
      t = types_.error();
    } else if ((p.quals & (QualWild | QualWildx)) && !t->isPtr() && !t->isError()) {
      diags_.error(DiagId::TypeMismatch, p.span, "a `wild`/`wildx` parameter must be a pointer, found `" + t->str() + "`")
          .withHelp("drop the qualifier, or declare a pointer such as `wild ?*:" + p.name + "`");
      t = types_.error();
    }
    e.paramTys.push_back(t);
  }
}

// `int32(int32, ..?)`: the resolved signature as a conflict names it.
std::string Checker::externSignature(const ExternDecl &e) const {
  std::string s;
  if (e.retQuals & QualWild) s += "wild ";
  if (e.retQuals & QualWildx) s += "wildx ";
  s += (e.ret ? e.ret->str() : "?") + "(";
  for (size_t i = 0; i < e.paramTys.size(); ++i) s += (i ? ", " : "") + (e.paramTys[i] ? e.paramTys[i]->str() : "?");
  if (e.variadic) s += e.paramTys.empty() ? "..?" : ", ..?";
  return s + ")";
}

// One C symbol has one signature: every declaration of an extern (in any
// module, both forms, named like a builtin or not) must match the first in
// its return type and `wild`/`wildx`, its parameter types and `..?`.
// Parameter names and their qualifiers, `const`, and the block label may
// differ (they change no typing).
void Checker::checkExternRedeclarations() {
  for (auto &[name, decls] : syms_.externsNamed) {
    const ExternDecl *first = decls.front();
    auto same = [&](const ExternDecl &a, const ExternDecl &b) {
      uint8_t owner = QualWild | QualWildx;
      return a.ret == b.ret && (a.retQuals & owner) == (b.retQuals & owner) && a.paramTys == b.paramTys &&
             a.variadic == b.variadic;
    };
    auto hasError = [](const ExternDecl &e) {
      if (!e.ret || e.ret->isError()) return true;
      for (const Ty *t : e.paramTys)
        if (!t || t->isError()) return true;
      return false;
    };
    if (hasError(*first)) continue;
    for (size_t i = 1; i < decls.size(); ++i) {
      const ExternDecl &e = *decls[i];
      if (hasError(e) || same(*first, e)) continue;
      diags_.error(DiagId::Redefinition, e.nameSpan,
                   "extern `" + name + "` is declared as `" + externSignature(e) + "` here and as `" +
                       externSignature(*first) + "` in " + first->module->name)
          .note("the first declaration of `" + name + "` is here", first->nameSpan)
          .withHelp("a C function has one signature: declare `" + name + "` alike in every module");
      decls[i]->ret = types_.error(); // its calls are not checked against either signature
    }
  }
}

// A struct that holds itself by value, directly or through the by-value
// fields of other structs, would have no finite size. A depth-first walk over
// the by-value field edges (iterative: a long chain of structs must not
// exhaust the stack) finds every cycle through its closing edge, so each is
// reported once.
void Checker::checkStructCycles() {
  std::vector<StructDecl *> order; // program order
  std::unordered_map<const StructDecl *, size_t> index;
  for (auto &m : program_.modules)
    for (auto &s : m->structs) {
      index.emplace(s.get(), order.size());
      order.push_back(s.get());
    }
  enum : uint8_t { Unseen, OnPath, Done };
  std::vector<uint8_t> state(order.size(), Unseen);
  for (size_t root = 0; root < order.size(); ++root) {
    if (state[root] != Unseen) continue;
    std::vector<StructPathStep> path{{order[root], 0}};
    state[root] = OnPath;
    while (!path.empty()) {
      StructPathStep &top = path.back();
      if (top.nextField == top.decl->fields.size()) {
        state[index.at(top.decl)] = Done;
        path.pop_back();
        continue;
      }
      const FieldDecl &fd = top.decl->fields[top.nextField++];
      const Ty *held = fd.ty ? innermostElement(fd.ty) : nullptr; // an array of S holds S by value
      if (!held || !held->isStruct()) continue;
      auto it = index.find(held->decl);
      if (it == index.end()) continue;
      if (state[it->second] == Unseen) {
        state[it->second] = OnPath;
        path.push_back({held->decl, 0});
      } else if (state[it->second] == OnPath) {
        auto from = std::find_if(path.begin(), path.end(), [&](const StructPathStep &p) { return p.decl == held->decl; });
        std::vector<StructPathStep> cycle(from, path.end());
        reportStructCycle(cycle, index);
      }
    }
  }
}

// `cycle[i].decl` holds `cycle[i + 1].decl` (the last holds the first) in its
// field `nextField - 1`. Reported at the field of the first-declared struct.
void Checker::reportStructCycle(std::vector<StructPathStep> cycle,
                                const std::unordered_map<const StructDecl *, size_t> &index) {
  auto first = std::min_element(cycle.begin(), cycle.end(), [&](const StructPathStep &a, const StructPathStep &b) {
    return index.at(a.decl) < index.at(b.decl);
  });
  std::rotate(cycle.begin(), first, cycle.end());
  auto fieldOf = [](const StructPathStep &p) -> const FieldDecl & { return p.decl->fields[p.nextField - 1]; };
  std::string names;
  for (const StructPathStep &p : cycle) names += "`" + p.decl->name + "` -> ";
  names += "`" + cycle.front().decl->name + "`";
  const FieldDecl &head = fieldOf(cycle.front());
  Diag &d = diags_.error(DiagId::StructCycle, head.span,
                         "struct `" + cycle.front().decl->name + "` contains itself by value: " + names);
  for (size_t i = 1; i < cycle.size(); ++i) {
    const FieldDecl &f = fieldOf(cycle[i]);
    d.note("`" + cycle[i].decl->name + "` holds `" + innermostElement(f.ty)->decl->name + "` by value in field `" +
               f.name + "`",
           f.span);
  }
  std::string held = innermostElement(head.ty)->decl->name;
  d.withHelp("store a pointer (`" + held + "->`) instead: `" + held + "->:" + head.name + "`");
}

// impl:Drop:for:T — exactly one method `drop`, returning NIL, one parameter.
void Checker::checkImpls(Module &m) {
  module_ = &m;
  for (auto &impl : m.impls) {
    if (impl->trait != "Drop") {
      diags_.error(DiagId::Unsupported, impl->traitSpan, "`impl:" + impl->trait + "` (a trait other than `Drop`) is not supported by npk")
          .withHelp("the core supports `impl:Drop:for:T` only");
      continue;
    }
    auto it = syms_.structs.find(impl->target);
    if (it == syms_.structs.end()) {
      diags_.error(DiagId::DropUnknownType, impl->targetSpan, "`impl:Drop` for unknown type `" + impl->target + "`")
          .withHelp("declare `struct:" + impl->target + " = { ... };` or fix the name");
      continue;
    }
    StructDecl *sd = it->second;
    if (sd->dropFn) {
      diags_.error(DiagId::DropDuplicate, impl->span, "struct `" + sd->name + "` already has a destructor")
          .label(sd->dropFn->span, "the first `impl:Drop` is here")
          .withHelp("merge the two destructors into one");
      continue;
    }
    bool ok = true;
    for (auto &f : impl->methods) {
      resolveFunc(*f);
      if (f->name != "drop") {
        diags_.error(DiagId::DropMethodName, f->nameSpan, "destructor method is named `" + f->name + "`")
            .withHelp("name it `drop`: `func:drop = NIL($$m " + sd->name + ":self) { ... };`");
        ok = false;
      } else if (!f->ret->isNil() || f->retType.name != "NIL") {
        diags_.error(DiagId::DropReturnType, f->retType.span, "destructor returns `" + f->ret->str() + "`")
            .withHelp("declare it `func:drop = NIL($$m " + sd->name + ":self) { ... };`");
        ok = false;
      } else if (f->params.size() != 1 || f->params[0]->binding.ty != sd->ty) {
        diags_.error(DiagId::DropMethodName, f->nameSpan, "destructor must take exactly one `" + sd->name + "` parameter")
            .withHelp("declare it `func:drop = NIL($$m " + sd->name + ":self) { ... };`");
        ok = false;
      }
    }
    if (impl->methods.size() != 1) {
      diags_.error(DiagId::DropMethodName, impl->span, "`impl:Drop` must contain exactly one method, `drop`")
          .withHelp("keep a single `func:drop = NIL($$m " + sd->name + ":self) { ... };`");
      ok = false;
    }
    if (ok) {
      sd->dropFn = impl->methods[0].get();
      syms_.allFuncs.push_back(sd->dropFn);
    } else {
      for (auto &f : impl->methods) f->ret = nullptr; // not checked further
    }
  }
  module_ = nullptr;
}

void Checker::checkMainAndFailsafe() {
  Module *mainMod = program_.main;
  auto it = syms_.funcs.find("main");
  if (it == syms_.funcs.end() || it->second->module != mainMod) {
    uint32_t end = 0;
    diags_.error(DiagId::NoMain, Span{mainMod->fileId, end, end}, "no `main` function in " + mainMod->name)
        .withHelp("add `func:main = int32() { exit 0; };`");
  } else {
    FuncDecl *f = it->second;
    f->isMain = true;
    syms_.main = f;
    if (!f->ret->isError() && (f->ret != types_.int32() || !f->params.empty()))
      diags_.error(DiagId::TypeMismatch, f->retType.span, "`main` must be declared `func:main = int32()`")
          .withHelp("write `func:main = int32() { ... exit 0; };`");
  }
  for (auto &m : program_.modules) {
    for (auto &f : m->funcs) {
      if (f->name == "main" && m.get() != mainMod)
        diags_.error(DiagId::Redefinition, f->nameSpan, "imported module " + m->name + " defines `main`")
            .withHelp("only the main file may define `main`");
    }
  }
  auto fs = syms_.funcs.find("failsafe");
  if (fs == syms_.funcs.end()) return;
  FuncDecl *f = fs->second;
  f->isFailsafe = true;
  syms_.failsafe = f;
  bool ok = f->ret == types_.int32() && f->params.size() == 1 && f->params[0]->binding.ty == types_.tbb32();
  if (!ok)
    diags_.error(DiagId::BadFailsafe, f->nameSpan, "`failsafe` must be declared `func:failsafe = int32(tbb32:err)`")
        .withHelp("write `func:failsafe = int32(tbb32:err) { exit 1; };`");
}

} // namespace npk
