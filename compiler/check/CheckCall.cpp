#include "check/Checker.h"

namespace npk {

std::string CallExpr::calleeName() const {
  if (auto *n = as<NameExpr>(callee.get())) return n->name;
  if (auto *m = as<MemberExpr>(callee.get())) return m->member;
  return {};
}

std::string CallExpr::calleeFullName() const {
  if (auto *n = as<NameExpr>(callee.get())) return n->name;
  if (auto *m = as<MemberExpr>(callee.get()))
    if (auto *base = as<NameExpr>(m->base.get())) return base->name + "." + m->member;
  return {};
}


FuncDecl *Checker::lookupMember(const std::string &block, const std::string &member, Span at) {
  auto &members = syms_.typeBlocks[block];
  auto it = members.find(member);
  if (it != members.end()) return it->second;
  std::string names;
  std::vector<std::string_view> candidates;
  for (auto &[n, f] : members) {
    names += (names.empty() ? "`" : ", `") + n + "`";
    candidates.push_back(n);
  }
  Diag &d = diags_.error(DiagId::UnknownMember, at, "`Type:` block `" + block + "` has no member `" + member + "`");
  std::string near = closestName(member, candidates);
  if (!near.empty())
    d.note("`" + block + "." + near + "` is declared here", members.at(near)->nameSpan)
        .withHelp("did you mean `" + block + "." + near + "`?");
  else d.withHelp(names.empty() ? "the block is empty" : "its members are " + names);
  return nullptr;
}

// The function or extern a bare name in callee position names (reports
// unknown and unimported names); false after an error.
bool Checker::resolveFunctionName(NameExpr &n, FuncDecl *&f, ExternDecl *&x) {
  f = nullptr;
  x = nullptr;
  if (auto it = syms_.funcs.find(n.name); it != syms_.funcs.end()) {
    f = it->second;
    if (!visible(*module_, n.name)) {
      diags_.error(DiagId::UnknownName, n.span, "function `" + n.name + "` is not imported here")
          .note("it is declared in " + f->module->name)
          .withHelp("add `use \"" + f->module->name + "\".*;`");
      return false;
    }
    n.target = NameTarget::Func;
    n.func = f;
    return true;
  }
  if (auto ex = syms_.externs.find(n.name); ex != syms_.externs.end()) {
    x = ex->second;
    if (!visible(*module_, n.name) && x->module != module_) {
      diags_.error(DiagId::UnknownName, n.span, "extern `" + n.name + "` is not imported here")
          .note("it is declared in " + x->module->name)
          .withHelp("add `use \"" + x->module->name + "\".*;` or declare the extern in this file");
      return false;
    }
    n.ext = x;
    n.target = NameTarget::Extern;
    return true;
  }
  Diag &d = diags_.error(DiagId::UnknownName, n.span, "unknown function `" + n.name + "`");
  std::vector<std::string_view> names;
  for (const auto &entry : syms_.funcs)
    if (visible(*module_, entry.first)) names.push_back(entry.first);
  std::string near = closestName(n.name, names);
  if (!near.empty())
    d.note("`" + near + "` is declared here", syms_.funcs.at(near)->nameSpan).withHelp("did you mean `" + near + "`?");
  else
    d.withHelp("declare it with `func:" + n.name + " = ...;`, or import the module that defines it");
  return false;
}

// Whether `m` spells `Block.member` of a `Type:` block (not a field of a local).
bool Checker::namesTypeMember(const MemberExpr &m) {
  auto *base = as<NameExpr>(m.base.get());
  return base && !lookupLocal(base->name) && syms_.typeBlocks.count(base->name);
}

// The member `Block.member` names (reports unknown and unimported blocks and
// members); null after an error.
FuncDecl *Checker::resolveTypeMember(MemberExpr &m) {
  auto *base = as<NameExpr>(m.base.get());
  if (!base || lookupLocal(base->name) || !syms_.typeBlocks.count(base->name)) {
    if (base && !lookupLocal(base->name))
      diags_.error(DiagId::UnknownName, base->span, "unknown `Type:` block `" + base->name + "`")
          .withHelp("declare `Type:" + base->name + " = { ... };` or import the module that defines it");
    else
      diags_.error(DiagId::InvalidOperation, m.span, "only `Type:` block members can be called with `.`")
          .withHelp("methods have no implicit `self`; call `Block.member(value, ...)`");
    return nullptr;
  }
  if (!visible(*module_, base->name)) {
    Module *where = syms_.declaredIn[base->name];
    diags_.error(DiagId::UnknownName, base->span, "`" + base->name + "` is not imported here")
        .note("it is declared in " + where->name)
        .withHelp("add `use \"" + where->name + "\".*;`");
    return nullptr;
  }
  base->target = NameTarget::TypeBlock;
  m.target = MemberTarget::TypeMember;
  return lookupMember(base->name, m.member, m.memberSpan);
}

// The type of `@f`: a function value of `f`'s signature (LANGUAGE-2 A7).
const Ty *Checker::funcValueType(const FuncDecl &f) {
  std::vector<const Ty *> params;
  std::vector<uint8_t> quals;
  for (auto &p : f.params) {
    if (!p->binding.ty || p->binding.ty->isError()) return types_.error();
    params.push_back(p->binding.ty);
    quals.push_back(p->binding.quals & ~QualFixed);
  }
  if (!f.ret || f.ret->isError()) return types_.error();
  return types_.func(f.ret, std::move(params), std::move(quals), false);
}

const Ty *Checker::funcValueType(const ExternDecl &x) {
  for (const Ty *p : x.paramTys)
    if (!p || p->isError()) return types_.error();
  if (!x.ret || x.ret->isError()) return types_.error();
  return types_.func(x.ret->kind == TyKind::Void ? types_.nil() : x.ret, x.paramTys,
                     std::vector<uint8_t>(x.paramTys.size(), QualNone), true);
}

const Ty *Checker::checkCall(CallExpr &e) {
  std::vector<const Ty *> params;
  std::vector<uint8_t> quals;
  auto fail = [&] {
    for (auto &a : e.args) checkExpr(*a);
    return types_.error();
  };
  FuncDecl *f = nullptr;
  auto *n = as<NameExpr>(e.callee.get());
  auto *m = as<MemberExpr>(e.callee.get());
  if (n && !lookupLocal(n->name) && !syms_.globals.count(n->name)) {
    // An extern of this module, even one named like a builtin (A1.5).
    if (ExternDecl *own = ownExtern(n->name)) {
      n->ext = own;
      n->target = NameTarget::Extern;
      return checkExternCall(e, *own);
    }
    if (Builtin b = builtinNamed(n->name); b != Builtin::None) {
      e.builtin = n->builtin = b;
      n->target = NameTarget::Builtin;
      return checkBuiltinCall(e);
    }
    ExternDecl *x = nullptr;
    if (n->name == "sizeof" || n->name == "alignof") {
      // The reference's bare names (LANGUAGE-2 A6), which nothing may
      // declare; the operand is a type, so it is not checked as an expression.
      diags_.error(DiagId::UnknownName, n->span, "unknown function `" + n->name + "`")
          .withHelp("the intrinsic is spelled `@" + n->name + "(T)`");
      return types_.error();
    }
    if (!resolveFunctionName(*n, f, x)) return fail();
    if (x) return checkExternCall(e, *x);
  } else if (m && namesTypeMember(*m)) {
    f = resolveTypeMember(*m);
    if (!f) return fail();
  } else {
    return checkValueCall(e);
  }
  e.func = f;
  for (auto &p : f->params) {
    params.push_back(p->binding.ty ? p->binding.ty : types_.error());
    quals.push_back(p->binding.quals);
  }
  checkArgs(e, params, quals, "`" + e.calleeFullName() + "`", f->nameSpan);
  if (!f->ret || f->ret->isError()) return types_.error();
  return types_.result(f->ret);
}

// `fp(args)`, `s.cb(args)`: a call through a function value. It checks its
// arguments like a direct call; a Nitpick function value's call yields a
// `Result`, an `extern` one's the plain value.
const Ty *Checker::checkValueCall(CallExpr &e) {
  auto fail = [&] {
    for (auto &a : e.args) checkExpr(*a);
    return types_.error();
  };
  const Ty *t = checkValue(*e.callee);
  if (t->isError()) return fail();
  if (!t->isFunc()) {
    if (auto *n = as<NameExpr>(e.callee.get()))
      diags_.error(DiagId::InvalidOperation, n->span, "`" + n->name + "` is a binding of type `" + t->str() +
                                                          "`, not a function")
          .withHelp("only functions and function values can be called");
    else if (auto *m = as<MemberExpr>(e.callee.get()); m && m->target == MemberTarget::Field)
      diags_.error(DiagId::InvalidOperation, m->span, "field `" + m->member + "` has type `" + t->str() +
                                                          "`, not a function type")
          .withHelp("methods have no implicit `self`; call `Block.member(value, ...)`");
    else
      diags_.error(DiagId::InvalidOperation, e.callee->span, "a value of type `" + t->str() + "` cannot be called");
    return fail();
  }
  e.calleeTy = t;
  Span declaredAt = e.callee->span;
  if (auto *n = as<NameExpr>(e.callee.get()); n && n->binding) declaredAt = n->binding->span;
  checkArgs(e, t->params, t->paramQuals, "a function value of type `" + t->str() + "`", declaredAt);
  if (t->isExtern) return t->funcRet();
  return types_.result(t->funcRet());
}

// LANGUAGE-2 A1.3: at an extern call, an array binding or field passed to a
// `T*` or `?*` parameter passes the address of its element 0 (no copy, so C
// may fill it); a `fixed` array (or a `$$i` one) only to `const T*`. True
// when `arg` is such an array (reported or accepted); the lowering sees an
// array argument for a pointer parameter and passes its address.
void Checker::checkArrayDecay(Expr &arg, const Ty *t, const Ty *param, bool constParam, const std::string &what) {
  if (param->pointee && param->pointee != t->element()) {
    diags_.error(DiagId::TypeMismatch, arg.span,
                 "expected `" + param->str() + "` for " + what + ", found an array of `" + t->element()->str() + "`")
        .withHelp("an array decays to a pointer to its element type `" + t->element()->str() + "*` (or `?*`)");
    return;
  }
  if (!isLvalue(arg)) {
    diags_.error(DiagId::InvalidOperation, arg.span, "only an array binding or field decays to a pointer")
        .withHelp("bind the array first: `" + t->str() + ":buf = ...;`, then pass `buf`");
    return;
  }
  const Binding *root = storageRoot(arg);
  if (!constParam && root && (root->quals & (QualFixed | QualBorrowImm)))
    diags_.error(DiagId::AssignFixed, arg.span,
                 std::string(root->quals & QualFixed ? "`fixed` array `" : "read-only borrowed array `") + root->name +
                     "` passed to a pointer C may write through")
        .label(root->span, "declared here")
        .withHelp("declare the parameter `const " + t->element()->str() + "*` if C only reads it");
}

void Checker::checkArgs(CallExpr &e, const std::vector<const Ty *> &params, const std::vector<uint8_t> &quals,
                        const std::string &what, Span declaredAt) {
  if (e.args.size() != params.size()) {
    diags_.error(DiagId::ArgCount, e.span,
                 what + " takes " + std::to_string(params.size()) + " argument" + (params.size() == 1 ? "" : "s") +
                     ", but " + std::to_string(e.args.size()) + (e.args.size() == 1 ? " was" : " were") + " given")
        .note(what + " is declared here", declaredAt)
        .withHelp("match the declaration's parameter list");
    for (auto &a : e.args) checkExpr(*a);
    return;
  }
  for (size_t i = 0; i < params.size(); ++i) {
    Expr &arg = *e.args[i];
    if (quals[i] & (QualBorrowMut | QualBorrowImm)) {
      const Ty *t = checkValue(arg);
      if (t->isError() || params[i]->isError()) continue;
      if (t != params[i] || !isLvalue(arg)) {
        diags_.error(DiagId::TypeMismatch, arg.span,
                     "a borrowed `" + params[i]->str() + "` parameter needs a `" + params[i]->str() + "` binding")
            .withHelp("pass a local binding or field of that struct type");
        continue;
      }
      const Binding *root = storageRoot(arg);
      if (root && (quals[i] & QualBorrowMut) && (root->quals & (QualFixed | QualBorrowImm)))
        diags_.error(DiagId::AssignFixed, arg.span,
                     std::string(root->quals & QualFixed ? "`fixed` binding `" : "read-only borrow `") + root->name +
                         "` passed as a mutable borrow")
            .label(root->span, "declared here")
            .withHelp("pass it to a `$$i` parameter, or make the binding mutable");
      continue;
    }
    std::string argWhat = "argument " + std::to_string(i + 1) + " of " + what;
    checkValue(arg, params[i]);
    coerce(arg, params[i], argWhat.c_str());
  }
}

ExternDecl *Checker::ownExtern(const std::string &name) const {
  if (!module_) return nullptr;
  auto it = syms_.moduleExterns.find(std::pair<const Module *, std::string>{module_, name});
  return it == syms_.moduleExterns.end() ? nullptr : it->second;
}

// A call of an extern (LANGUAGE-2 A1.1, A1.4): the named arguments convert
// to the parameter types as any call's do; the arguments `..?` takes keep
// their own types, which C's default promotions widen (lowering), and must
// be C scalars, pointers or strings. The call yields the plain C value.
const Ty *Checker::checkExternCall(CallExpr &e, ExternDecl &x) {
  e.ext = &x;
  bool refused = !x.ret || x.ret->isError();
  for (const Ty *t : x.paramTys) refused |= !t || t->isError();
  if (refused) { // its declaration is in error: the call says nothing more
    for (auto &a : e.args) checkExpr(*a);
    return types_.error();
  }
  std::string what = "extern `" + x.name + "`";
  size_t named = x.paramTys.size();
  if (x.variadic ? e.args.size() < named : e.args.size() != named) {
    std::string count = std::to_string(named) + " argument" + (named == 1 ? "" : "s");
    diags_.error(DiagId::ArgCount, e.span,
                 what + " takes " + (x.variadic ? "at least " : "") + count + ", but " + std::to_string(e.args.size()) +
                     (e.args.size() == 1 ? " was" : " were") + " given")
        .note(what + " is declared here", x.nameSpan)
        .withHelp(x.variadic ? "pass every named parameter; `..?` takes the arguments after them"
                             : "match the declaration's parameter list");
    for (auto &a : e.args) checkExpr(*a);
    return x.ret;
  }
  for (size_t i = 0; i < e.args.size(); ++i) {
    Expr &arg = *e.args[i];
    if (as<TemplateExpr>(&arg)) {
      diags_.error(DiagId::CBoundary, arg.span, "a template string cannot cross the C boundary")
          .withHelp(i < named ? "pass a `string`; to format, print the template with `print` or let C format it "
                                "(`printf(\"%d\", n)`)"
                              : "let C format it: pass the values after a format, as in `printf(\"n=%d\", n)`");
      arg.ty = types_.error();
      continue;
    }
    if (i >= named) {
      checkVariadicArg(arg, x, i);
      continue;
    }
    const Ty *t = checkValue(arg, x.paramTys[i]);
    if (t->isArray() && x.paramTys[i]->isPtr()) {
      checkArrayDecay(arg, t, x.paramTys[i], x.params[i].quals & QualConst,
                      "argument " + std::to_string(i + 1) + " of extern `" + x.name + "`");
      continue;
    }
    coerceToExtern(arg, x.paramTys[i], i, x);
  }
  checkCStringLiterals(e, x);
  return x.ret;
}

// An argument `..?` takes: the types a C variadic function can read with
// `va_arg` (integers, `bool`, floats, pointers, `string` as `const char*`).
void Checker::checkVariadicArg(Expr &arg, const ExternDecl &x, size_t index) {
  const Ty *t = checkExpr(arg);
  if (t->isError()) return;
  std::string where = "argument " + std::to_string(index + 1) + " of extern `" + x.name + "` (passed through `..?`)";
  const char *why = nullptr;
  std::string help;
  if (t->isResult()) {
    why = "a `Result`";
    help = "pass its value: `raw " + sourceText(arg.span) + "` or `" + sourceText(arg.span) + " ? <default>`";
  } else if (t->isStruct()) {
    why = "a struct value";
    help = "pass a pointer to it: `@" + sourceText(arg.span) + "`";
  } else if (t->isFunc() && !t->isExtern) {
    why = "a Nitpick function value";
    help = "C can call only C functions: pass an extern's value";
  } else if (t->isArray()) {
    why = "an array";
    help = "pass the address of an element: `@" + sourceText(arg.span) + "[0]`";
  } else if (t->kind == TyKind::Tbb32) {
    why = "a `tbb32`";
    help = "convert it: `" + sourceText(arg.span) + " => int32`";
  } else if (t->isNil()) {
    diags_.error(DiagId::InvalidOperation, arg.span, "`" + sourceText(arg.span) + "` returns nothing, so it has no value")
        .withHelp("call it as a statement of its own");
    arg.ty = types_.error();
    return;
  }
  if (!why) return;
  diags_.error(DiagId::CBoundary, arg.span, std::string(why) + " cannot cross the C boundary as " + where)
      .withHelp(help);
  arg.ty = types_.error();
}

// coerce, with the C boundary's own hint: `string` and `int8*` are different
// types (A1.3), one a Nitpick string, the other a C pointer.
bool Checker::coerceToExtern(Expr &arg, const Ty *param, size_t index, const ExternDecl &x) {
  const Ty *from = arg.ty;
  std::string context = "argument " + std::to_string(index + 1) + " of extern `" + x.name + "`";
  if (from && !from->isError() && !param->isError() && !convertible(from, param)) {
    bool toPtr = from == types_.string() && param->isPtr();
    bool toString = from->isPointerLike() && param == types_.string();
    if (toPtr || toString) {
      diags_.error(DiagId::TypeMismatch, arg.span,
                   "expected `" + param->str() + "` for " + context + ", found `" + from->str() + "`")
          .note("a `string` and a C pointer do not convert into each other")
          .withHelp(toPtr ? "declare the parameter `string` (C receives `const char*`)"
                          : "declare the parameter `int8*` to pass a pointer, or pass a `string`");
      return false;
    }
  }
  coerce(arg, param, context.c_str());
  return true;
}

// A `string` reaches C as a pointer to its NUL-terminated bytes (LANGUAGE-2
// A1.2), so C would stop at a NUL inside a literal; so would a variadic
// function reading it as `%s`.
void Checker::checkCStringLiterals(const CallExpr &e, const ExternDecl &x) {
  for (size_t i = 0; i < e.args.size(); ++i) {
    auto *lit = as<StringLitExpr>(e.args[i].get());
    if (!lit || (i < x.paramTys.size() && x.paramTys[i] != types_.string())) continue;
    size_t nul = lit->value.find('\0');
    if (nul == std::string::npos) continue;
    diags_.error(DiagId::CBoundary, lit->span,
                 "string literal passed to extern `" + x.name + "` contains a NUL byte at index " +
                     std::to_string(nul))
        .note("C reads a `string` parameter up to its first NUL, so `" + x.name + "` would see only " +
              (nul == 0 ? std::string("an empty string") : "the first " + std::to_string(nul) + " byte" + (nul == 1 ? "" : "s")))
        .withHelp("remove the NUL (`\\0`, `\\x00` or `\\u{0}`), or pass the text before and after it in separate calls");
  }
}

const Ty *Checker::checkBuiltinCall(CallExpr &e) {
  std::string name = e.calleeName();
  auto arity = [&](size_t n) {
    if (e.args.size() == n) return true;
    diags_.error(DiagId::ArgCount, e.span,
                 "`" + name + "` takes " + std::to_string(n) + " argument" + (n == 1 ? "" : "s") + ", but " +
                     std::to_string(e.args.size()) + (e.args.size() == 1 ? " was" : " were") + " given");
    for (auto &a : e.args) checkExpr(*a);
    return false;
  };
  switch (e.builtin) {
  case Builtin::Alloc:
  case Builtin::WildxAlloc: {
    if (!arity(1)) return types_.error();
    const Ty *t = checkValue(*e.args[0], types_.int64());
    if (!t->isError() && !t->isInt())
      diags_.error(DiagId::TypeMismatch, e.args[0]->span, "`" + name + "` takes a byte count, found `" + t->str() + "`");
    return types_.ptr(nullptr); // `?->`: converts to any `T->` without a cast (§6.1)
  }
  case Builtin::Free:
  case Builtin::WildxSeal:
  case Builtin::WildxFree: {
    if (!arity(1)) return types_.error();
    const Ty *t = checkValue(*e.args[0]);
    bool heapStruct = false;
    if (auto *n = as<NameExpr>(e.args[0].get()); n && n->binding) heapStruct = n->binding->heapStruct;
    bool ok = t->isError() || t->isPointerLike() || (heapStruct && e.builtin == Builtin::Free);
    if (!ok)
      diags_.error(DiagId::TypeMismatch, e.args[0]->span, "`" + name + "` takes a pointer, found `" + t->str() + "`")
          .withHelp(t->isStruct() ? "only a `wild` struct binding lives on the heap and can be freed"
                                  : "pass the pointer returned by the allocation");
    return types_.int32();
  }
  case Builtin::Print:
  case Builtin::Println:
  case Builtin::Eprint:
  case Builtin::Eprintln: {
    if (!arity(1)) return types_.voidTy();
    if (auto *tpl = as<TemplateExpr>(e.args[0].get())) {
      tpl->ty = checkTemplate(*tpl);
      return types_.voidTy();
    }
    const Ty *t = checkValue(*e.args[0]);
    if (!t->isError() && t != types_.string())
      diags_.error(DiagId::TypeMismatch, e.args[0]->span, "`" + name + "` prints a string, found `" + t->str() + "`")
          .withHelp("interpolate it in a template string: `" + name + "(`&{" + sourceText(e.args[0]->span) + "}`)`");
    return types_.voidTy();
  }
  case Builtin::GetArgc:
    if (!arity(0)) return types_.error();
    return types_.int32();
  case Builtin::GetArgv: {
    if (!arity(1)) return types_.error();
    checkValue(*e.args[0], types_.int32());
    coerce(*e.args[0], types_.int32(), "the argument index of `get_argv`");
    return types_.string();
  }
  case Builtin::None: break;
  }
  return types_.error();
}

} // namespace npk
