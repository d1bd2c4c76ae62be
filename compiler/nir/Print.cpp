// `--emit=nir`: one function after another, each block under its label, one
// instruction a line. Expressions print as `--emit=ast` prints them.
#include "nir/NIR.h"

#include "check/ConstEval.h"

#include "ast/Program.h"
#include "check/Types.h"

namespace npk::nir {

namespace {

const char *exitText(ExitKind k) {
  switch (k) {
  case ExitKind::BlockEnd: return "block-end";
  case ExitKind::FunctionEnd: return "function-end";
  case ExitKind::Detached: return "detached";
  case ExitKind::Pass: return "pass";
  case ExitKind::Fail: return "fail";
  case ExitKind::Return: return "return";
  case ExitKind::Exit: return "exit";
  case ExitKind::Break: return "break";
  case ExitKind::Continue: return "continue";
  case ExitKind::Fall: return "fall";
  }
  return "?";
}

const char *dropText(DropKind k) {
  switch (k) {
  case DropKind::WildxFree: return "wildx_free";
  case DropKind::Free: return "free";
  case DropKind::UserDrop: return "destructor";
  }
  return "?";
}

std::string temp(Temp t) { return t == kNoTemp ? "-" : "%" + std::to_string(t); }
std::string typeSuffix(const Ty *t) { return t ? " : " + t->str() : ""; }

class Printer {
public:
  explicit Printer(const Func &f) : f_(f) {}

  std::string label(unsigned b) const { return f_.blocks[b].name + "." + std::to_string(b); }

  std::string site(unsigned index) const {
    const ExitSite &s = f_.sites[index];
    std::string r = "#" + std::to_string(index) + " " + exitText(s.kind) + " [";
    for (size_t i = 0; i < s.bindings.size(); ++i) r += (i ? ", " : "") + s.bindings[i]->name;
    return r + "]";
  }

  static std::string clears(const Inst &in) {
    std::string r;
    for (auto &[e, b] : in.clearsFlag) r += " clears(" + b->name + ")";
    return r;
  }

  // An expression of `in`, with its parts evaluated before as their
  // temporaries (`whole`: the expression itself too).
  std::string text(const Inst &in, const Expr &e, bool whole = true) const {
    if (!in.subsCount) return exprText(e);
    return exprText(e, [&](const Expr &x) {
      Temp t = !whole && &x == &e ? kNoTemp : f_.subFor(in, x);
      return t == kNoTemp ? std::string() : temp(t);
    });
  }

  std::string inst(const Inst &in) const {
    std::string r = opText(in.op);
    switch (in.op) {
    case Op::Param: return r + " " + in.binding->name + typeSuffix(in.ty);
    case Op::Eval:
      r = temp(in.result) + " = " + r + " " + text(in, *in.expr) + typeSuffix(in.ty ? in.ty : in.expr->ty);
      if (in.use == Use::Part) r += " part";
      if (in.discard) r += " discard";
      return r + clears(in);
    case Op::Phi:
      return temp(in.result) + " = " + r + " [" + label(in.target) + ": " + temp(in.operand) + "] [" +
             label(in.elseTarget) + ": " + temp(in.other) + "]" + typeSuffix(in.ty);
    case Op::Unwrap: return temp(in.result) + " = " + r + " " + temp(in.operand) + typeSuffix(in.ty);
    case Op::Let:
      return r + " " + in.binding->name + typeSuffix(in.ty) + (in.operand == kNoTemp ? " = zero" : " = " + temp(in.operand)) +
             clears(in);
    case Op::Store: return r + " " + text(in, *in.expr) + " = " + temp(in.operand) + clears(in);
    case Op::Update: {
      // The place prints as a place (its old value, read first, is its sub).
      Temp old = f_.subFor(in, *in.expr);
      return r + " " + text(in, *in.expr, false) + (old == kNoTemp ? "" : " (old " + temp(old) + ")") + " " +
             binaryText(in.compoundOp) + "= " + text(in, *in.value);
    }
    case Op::Drop:
      return r + (in.guarded ? " if-flag " : " ") + std::string(dropText(in.dropKind)) + " " + in.binding->name;
    case Op::Flag: return r + " " + in.binding->name + " = " + (in.flagValue ? "true" : "false");
    case Op::ScopeExit:
    case Op::ScopeEnd: return r + " " + site(in.site);
    case Op::CountInit:
      return r + " " + (in.counts[0] == kNoTemp ? std::string("0") : temp(in.counts[0])) + ", " + temp(in.counts[1]) +
             ", " + temp(in.counts[2]) + typeSuffix(in.ty);
    case Op::CountStep: return r;
    case Op::CountBr: return r + " " + label(in.target) + ", " + label(in.elseTarget);
    case Op::Br:
      r += " " + label(in.target);
      if (in.loopBack) r += " loop-back";
      return r;
    case Op::CondBr:
      return r + (in.onError ? " is_error " : " ") + temp(in.operand) + ", " + label(in.target) + ", " +
             label(in.elseTarget);
    case Op::Switch: {
      bool isBool = in.ty && !in.ty->isInt();
      auto value = [&](__int128 v) { return isBool ? std::string(v ? "true" : "false") : intText(v); };
      r += " " + temp(in.operand) + typeSuffix(in.ty);
      for (const SwitchCase &c : in.cases)
        r += " [" + value(c.lo) + (c.hi != c.lo ? ".." + value(c.hi) : "") + " -> " + label(c.target) + "]";
      return r + (in.exhaustive ? " exhaustive" : " else " + label(in.elseTarget));
    }
    case Op::Ret: return r + " " + exitText(in.leave) + " " + temp(in.operand);
    case Op::Exit: return r + " " + temp(in.operand);
    case Op::FallOff:
    case Op::Unreachable: return r;
    }
    return r;
  }

  std::string print() const {
    const FuncDecl &d = *f_.decl;
    std::string params;
    for (auto &p : d.params)
      params += (params.empty() ? "" : ", ") + (p->binding.ty ? p->binding.ty->str() : "?") + ":" + p->binding.name;
    std::string out = "func " + d.symbol + " = " + (d.ret ? d.ret->str() : "?") + "(" + params + ")" +
                      (f_.plainReturn ? " plain-return" : "") + " {\n";
    for (unsigned b = 0; b < f_.blocks.size(); ++b) {
      out += label(b) + ":" + (f_.blocks[b].dead ? " ; unreachable" : "") + "\n";
      for (const Inst &in : f_.blocks[b].insts) out += "  " + inst(in) + "\n";
    }
    return out + "}\n";
  }

private:
  const Func &f_;
};

} // namespace

std::string print(const Func &f) { return Printer(f).print(); }

std::string print(const Module &m, const npk::Module *only) {
  std::string out;
  for (const Func &f : m.funcs)
    if (!only || f.decl->module == only) out += print(f);
  return out;
}

} // namespace npk::nir
