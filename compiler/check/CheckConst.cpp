// Folding of integer constant expressions while they are typed, and the
// compile-time traps (NPK-T011): an operation on constants that would trap at
// run time, and a division or shift whose constant right operand makes it
// trap whatever the left operand is.
#include "check/Checker.h"
#include "check/ConstEval.h"

namespace npk {

std::optional<__int128> Checker::constantValue(const Expr &e) const {
  // A literal (most constants) carries its value; folded values are kept.
  if (e.kind == ExprKind::IntLit) return static_cast<__int128>(static_cast<const IntLitExpr &>(e).value);
  auto it = constants_.find(&e);
  if (it == constants_.end()) return std::nullopt;
  return it->second;
}

void Checker::foldConstant(Expr &e, const Ty *t) {
  Folded f;
  std::string text; // the operation with its values, as the diagnostic names it
  std::optional<__int128> lhs, rhs;
  switch (e.kind) {
  case ExprKind::IntLit: return; // constantValue reads the node
  case ExprKind::Layout: constants_[&e] = static_cast<__int128>(static_cast<LayoutExpr &>(e).value); return;
  case ExprKind::Unary: {
    auto &u = static_cast<UnaryExpr &>(e);
    if (auto literal = literalValue(e)) { // `-128`: one literal, range-checked already
      constants_[&e] = *literal;
      return;
    }
    rhs = constantValue(*u.operand);
    if (!rhs || (u.op != UnaryOp::Neg && u.op != UnaryOp::BitNot)) return;
    f = foldUnary(u.op, *rhs, t);
    text = (u.op == UnaryOp::Neg ? "-" : "~") + (*rhs < 0 ? "(" + intText(*rhs) + ")" : intText(*rhs));
    break;
  }
  case ExprKind::Binary: {
    auto &b = static_cast<BinaryExpr &>(e);
    lhs = constantValue(*b.lhs);
    rhs = constantValue(*b.rhs);
    if (!rhs) return;
    if (!lhs) return checkKnownTrap(b.op, *b.lhs, *rhs, t, e.span, false);
    f = foldBinary(b.op, *lhs, *rhs, t);
    text = intText(*lhs) + " " + sourceText(b.opSpan) + " " + intText(*rhs);
    break;
  }
  case ExprKind::Cast: {
    auto &c = static_cast<CastExpr &>(e);
    rhs = constantValue(*c.operand);
    if (!rhs || !c.operand->ty || !c.operand->ty->isInt()) return;
    if (c.unchecked) {
      constants_[&e] = wrapToType(*rhs, t);
      return;
    }
    f = foldCast(*rhs, t);
    text = intText(*rhs) + " => " + t->str();
    break;
  }
  case ExprKind::Member: // `a.length` of an array `T[N]` is N (LANGUAGE-2 A2)
    if (auto &m = static_cast<MemberExpr &>(e); m.target == MemberTarget::ArrayLength)
      constants_[&e] = static_cast<__int128>(m.base->ty->length);
    return;
  case ExprKind::FloatLit:
  case ExprKind::BoolLit:
  case ExprKind::StringLit:
  case ExprKind::Template:
  case ExprKind::NullLit:
  case ExprKind::Name:
  case ExprKind::Call:
  case ExprKind::ArrayLit:
  case ExprKind::Index:
  case ExprKind::Raw:
  case ExprKind::Drop:
  case ExprKind::Default:
  case ExprKind::StructLit:
  case ExprKind::IncDec:
  case ExprKind::Counter: // changes every round
  case ExprKind::Is: // not a constant, although both branches may be
  case ExprKind::Error: return;
  }
  if (f.value) constants_[&e] = *f.value;
  else if (f.trap != Folded::Trap::None) reportConstantTrap(e.span, f.trap, text, t, lhs, rhs);
}

// `x / 0`, `x % 0`, `x << 99`: the constant right operand alone decides.
// With `compound`, the operation is `lhs op= rhs`.
void Checker::checkKnownTrap(BinaryOp op, const Expr &lhs, __int128 rhs, const Ty *t, Span at, bool compound) {
  bool division = op == BinaryOp::Div || op == BinaryOp::Rem;
  bool shift = op == BinaryOp::Shl || op == BinaryOp::Shr;
  if (!(division && rhs == 0) && !(shift && (rhs < 0 || rhs >= t->bits))) return;
  static const char *const kSpelling[] = {"/", "%", "<<", ">>"};
  const char *spelling = kSpelling[op == BinaryOp::Div ? 0 : op == BinaryOp::Rem ? 1 : op == BinaryOp::Shl ? 2 : 3];
  std::string text = sourceText(lhs.span) + " " + spelling + (compound ? "= " : " ") + intText(rhs);
  reportConstantTrap(at, division ? Folded::Trap::DivZero : Folded::Trap::ShiftRange, text, t, std::nullopt, rhs);
}

void Checker::reportConstantTrap(Span at, Folded::Trap trap, const std::string &text, const Ty *t,
                                 std::optional<__int128> lhs, std::optional<__int128> rhs) {
  std::string op = "`" + text + "`";
  std::string type = "`" + t->str() + "`";
  switch (trap) {
  case Folded::Trap::Overflow: {
    Diag &d = diags_.error(DiagId::ConstantExpr, at, op + " overflows " + type + " (range " + rangeText(t) + ")");
    if (t->bits < 64 && lhs && rhs)
      d.withHelp("compute in a wider type with a suffix, e.g. `" + intText(*lhs) + (t->isSigned ? "i64" : "u64") +
                 text.substr(intText(*lhs).size()) + "`");
    else if (t->bits < 64)
      d.withHelp("compute in a wider type with a suffix such as `i64`");
    else
      d.withHelp("the result does not fit any integer type; use `+%`, `-%` or `*%` if wrapping is intended");
    return;
  }
  case Folded::Trap::DivZero:
    if (rhs && *rhs == 0)
      diags_.error(DiagId::ConstantExpr, at, op + " divides by zero")
          .withHelp("this traps at run time (code 102); divide by a value that is not zero");
    else
      diags_.error(DiagId::ConstantExpr, at, op + " overflows " + type + " (range " + rangeText(t) + ")")
          .withHelp("the most negative value divided by -1 traps at run time (code 102); use a wider type");
    return;
  case Folded::Trap::ShiftRange:
    diags_.error(DiagId::ConstantExpr, at,
                 op + " shifts " + type + " by " + intText(*rhs) + " bits (range 0.." + std::to_string(t->bits - 1) +
                     ")")
        .withHelp("shift by less than the width, or shift a wider type (e.g. a `i64` suffix on the left operand)");
    return;
  case Folded::Trap::CastRange:
    diags_.error(DiagId::ConstantExpr, at, op + " is out of range for " + type + " (range " + rangeText(t) + ")")
        .withHelp("use a value in range, or convert to a wider type");
    return;
  case Folded::Trap::None: return;
  }
}

} // namespace npk
