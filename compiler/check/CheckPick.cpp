// `pick` and `fall` (LANGUAGE-2 A3): the selector's type, the patterns as
// constants of that type, which values each arm is tested for, the
// unreachable arms, exhaustiveness, and the targets of `fall`.
//
// Values are sets of inclusive intervals of __int128, which holds every
// value of every integer type (uint64 included) exactly; a bool is 0/1.
#include "check/Checker.h"

#include "check/ConstEval.h"

#include <algorithm>

namespace npk {

namespace {

using Interval = std::pair<__int128, __int128>; // inclusive
using IntervalSet = std::vector<Interval>;      // disjoint, ascending

void addInterval(IntervalSet &set, Interval iv) {
  IntervalSet out;
  for (const Interval &x : set) {
    if (x.second + 1 < iv.first || iv.second + 1 < x.first) out.push_back(x);
    else iv = {std::min(iv.first, x.first), std::max(iv.second, x.second)};
  }
  out.push_back(iv);
  std::sort(out.begin(), out.end());
  set = std::move(out);
}

// The values of `iv` that `covered` does not hold.
IntervalSet subtract(Interval iv, const IntervalSet &covered) {
  IntervalSet out;
  __int128 from = iv.first;
  for (const Interval &c : covered) {
    if (c.second < from) continue;
    if (c.first > iv.second) break;
    if (c.first > from) out.push_back({from, c.first - 1});
    from = c.second + 1;
    if (from > iv.second) return out;
  }
  if (from <= iv.second) out.push_back({from, iv.second});
  return out;
}

Interval fullRange(const Ty *t) {
  if (!t->isInt()) return {0, 1}; // bool
  if (!t->isSigned) return {0, (static_cast<__int128>(1) << t->bits) - 1};
  __int128 half = static_cast<__int128>(1) << (t->bits - 1);
  return {-half, half - 1};
}

std::string caseText(const Interval &iv, const Ty *t) {
  if (!t->isInt()) return iv.first == iv.second ? (iv.first ? "true" : "false") : "false, true";
  if (iv.first == iv.second) return intText(iv.first);
  return intText(iv.first) + ".." + intText(iv.second);
}

// At most this many missing cases are listed; the rest are counted.
constexpr size_t kMissingListed = 8;

} // namespace

// A `bool` constant expression: literals, `!`, `&&`, `||`, `==`/`!=` of
// bools, and comparisons of integer constants.
std::optional<bool> Checker::boolConstant(const Expr &e) const {
  if (auto *lit = as<BoolLitExpr>(&e)) return lit->value;
  if (auto *n = as<NameExpr>(&e)) { // a `const`, or a top-level `fixed` (LANGUAGE-2 A5)
    const ConstValue *v = nullptr;
    if (n->global && n->global->kind != GlobalDecl::Kind::Var) v = &n->global->value;
    else if (auto it = n->binding && n->binding->isConst ? constLocals_.find(n->binding) : constLocals_.end();
             it != constLocals_.end())
      v = &it->second;
    if (v && v->kind == ConstValue::Kind::Bool) return v->i != 0;
    if (v && v->kind == ConstValue::Kind::Zero) return false;
    return std::nullopt;
  }
  if (auto *u = as<UnaryExpr>(&e); u && u->op == UnaryOp::Not && u->operand) {
    if (auto v = boolConstant(*u->operand)) return !*v;
    return std::nullopt;
  }
  auto *b = as<BinaryExpr>(&e);
  if (!b || !b->lhs || !b->rhs) return std::nullopt;
  if (auto l = boolConstant(*b->lhs)) {
    auto r = boolConstant(*b->rhs);
    if (!r) return std::nullopt;
    switch (b->op) {
    case BinaryOp::And: return *l && *r;
    case BinaryOp::Or: return *l || *r;
    case BinaryOp::Eq: return *l == *r;
    case BinaryOp::Ne: return *l != *r;
    default: return std::nullopt;
    }
  }
  auto l = constantValue(*b->lhs), r = constantValue(*b->rhs);
  if (!l || !r) return std::nullopt;
  switch (b->op) {
  case BinaryOp::Eq: return *l == *r;
  case BinaryOp::Ne: return *l != *r;
  case BinaryOp::Lt: return *l < *r;
  case BinaryOp::Le: return *l <= *r;
  case BinaryOp::Gt: return *l > *r;
  case BinaryOp::Ge: return *l >= *r;
  default: return std::nullopt;
  }
}

// One bound of a pattern: a constant of the selector's type `t` (a literal
// of another integer type is fine when its value fits).
std::optional<__int128> Checker::patternValue(Expr &e, const Ty *t) {
  const Ty *pt = checkValue(e, t);
  if (pt->isError()) return std::nullopt;
  auto wrongType = [&](const char *help) {
    diags_.error(DiagId::TypeMismatch, e.span,
                 "pattern `" + sourceText(e.span) + "` has type `" + pt->str() + "`, the selector `" + t->str() + "`")
        .withHelp(help);
    return std::nullopt;
  };
  auto notConstant = [&](const char *help) {
    diags_.error(DiagId::ConstantExpr, e.span, "pattern `" + sourceText(e.span) + "` is not a constant expression")
        .withHelp(help);
    return std::nullopt;
  };
  if (!t->isInt()) { // bool
    if (pt != types_.boolTy()) return wrongType("a `bool` selector takes the arms `(true)` and `(false)`");
    std::optional<bool> v = boolConstant(e);
    if (!v) return notConstant("a pattern is a value known at compile time: `(true)` or `(false)`");
    return *v ? 1 : 0;
  }
  if (!pt->isInt()) return wrongType("the patterns of a `pick` are constants of the selector's type");
  std::optional<__int128> v = constantValue(e);
  if (!v) return notConstant("a pattern is built from literals and operators on them; compare run-time values with `if`");
  if (!fits(*v, t)) {
    diags_.error(DiagId::LiteralRange, e.span,
                 "pattern `" + sourceText(e.span) + "` (" + intText(*v) + ") is out of range for the `" + t->str() +
                     "` selector (range " + rangeText(t) + ")")
        .withHelp("no value of the selector can match it; remove the arm or widen the selector");
    return std::nullopt;
  }
  return v;
}

void Checker::checkPick(PickStmt &p) {
  const Ty *t = p.selector ? checkValue(*p.selector, nullptr) : types_.error();
  if (!t->isError() && !t->isInt() && t != types_.boolTy()) {
    diags_.error(DiagId::TypeMismatch, p.selector->span,
                 "pick selects on integers and bool, not `" + t->str() + "`")
        .withHelp("compare other values with `if`/`else if`");
    t = types_.error();
  }
  p.selectorTy = t->isError() ? nullptr : t;

  // Labels are unique within the `pick`.
  for (size_t i = 0; i < p.arms.size(); ++i) {
    const PickArm &arm = p.arms[i];
    if (arm.label.empty()) continue;
    for (size_t j = 0; j < i; ++j)
      if (p.arms[j].label == arm.label) {
        diags_.error(DiagId::Redefinition, arm.labelSpan, "label `" + arm.label + "` is already used in this `pick`")
            .label(p.arms[j].labelSpan, "first used here")
            .withHelp("give each arm its own label");
        break;
      }
  }

  // The patterns, in order: what each arm adds to what earlier arms match.
  IntervalSet covered;
  bool wildcardSeen = false, patternsOk = p.selectorTy != nullptr;
  for (size_t i = 0; i < p.arms.size(); ++i) {
    PickArm &arm = p.arms[i];
    if (arm.wildcard) {
      if (wildcardSeen) {
        diags_.error(DiagId::PickArm, arm.span, "a second `(*)` arm")
            .withHelp("a `pick` has at most one `(*)` arm, the last one");
        patternsOk = false;
      } else if (i + 1 != p.arms.size()) {
        diags_.error(DiagId::PickArm, arm.span, "`(*)` must be the last arm")
            .withHelp("arms are tried top to bottom, so no arm after `(*)` could run; move `(*)` last");
        patternsOk = false;
      }
      wildcardSeen = true;
      if (p.selectorTy) arm.matches = subtract(fullRange(p.selectorTy), covered);
      continue;
    }
    if (!p.selectorTy) { // still check the expressions
      if (arm.lo) checkExpr(*arm.lo);
      if (arm.hi) checkExpr(*arm.hi);
      continue;
    }
    if (arm.hi && !p.selectorTy->isInt()) {
      diags_.error(DiagId::PickArm, arm.span, "a range pattern on a `bool` selector")
          .withHelp("ranges are for integers; a `bool` selector takes `(true)` and `(false)`");
      checkExpr(*arm.lo);
      checkExpr(*arm.hi);
      patternsOk = false;
      continue;
    }
    std::optional<__int128> lo = arm.lo ? patternValue(*arm.lo, p.selectorTy) : std::nullopt;
    std::optional<__int128> hi = lo;
    if (arm.hi) hi = patternValue(*arm.hi, p.selectorTy);
    if (!lo || !hi) {
      patternsOk = false;
      continue;
    }
    if (arm.hi && arm.exclusive) --*hi;
    if (*lo > *hi) {
      diags_.error(DiagId::PickArm, arm.span,
                   "empty range `" + sourceText(arm.span) + "`: no value is " +
                       (arm.exclusive ? "at least " + intText(*lo) + " and below " + intText(*hi + 1)
                                      : "from " + intText(*lo) + " to " + intText(*hi)))
          .withHelp(arm.exclusive ? "`a...b` excludes `b`; `a..b` includes it" : "write the lower bound first");
      patternsOk = false;
      continue;
    }
    if (wildcardSeen) continue; // reported at the `(*)`
    arm.matches = subtract({*lo, *hi}, covered);
    if (arm.matches.empty()) {
      diags_.error(DiagId::PickArm, arm.span,
                   "unreachable arm: earlier arms already match every value of `" + sourceText(arm.span) + "`")
          .withHelp("arms are tried top to bottom; remove this arm or move it before the arms that cover it");
      patternsOk = false;
      continue;
    }
    addInterval(covered, {*lo, *hi});
  }

  // Exhaustiveness: without `(*)`, the arms cover the whole type.
  if (patternsOk && !wildcardSeen) {
    IntervalSet missing = subtract(fullRange(p.selectorTy), covered);
    if (!missing.empty()) {
      std::string list;
      for (size_t i = 0; i < missing.size() && i < kMissingListed; ++i)
        list += (i ? ", " : "") + caseText(missing[i], p.selectorTy);
      if (missing.size() > kMissingListed) list += ", and " + std::to_string(missing.size() - kMissingListed) + " more";
      diags_.error(DiagId::PickNotExhaustive, p.span, "non-exhaustive pick: missing cases: " + list)
          .withHelp("add arms for the missing cases, or a last arm `(*) { ... }`");
    }
  }

  // The bodies. An arm of a `bool` selector that only `true` (or `false`)
  // reaches narrows like an `if` branch, unless a `fall` enters it too.
  picks_.push_back(PickFrame{&p, 0});
  for (size_t i = 0; i < p.arms.size(); ++i) {
    PickArm &arm = p.arms[i];
    picks_.back().arm = i;
    size_t mark = okResults_.size();
    if (p.selectorTy == types_.boolTy() && !arm.fallenInto && arm.matches.size() == 1 &&
        arm.matches[0].first == arm.matches[0].second)
      narrow(*p.selector, arm.matches[0].first != 0);
    if (arm.body) checkBlock(*arm.body);
    okResults_.resize(mark);
  }
  picks_.pop_back();
}

// `fall L;`: L labels a later arm of the innermost `pick`.
void Checker::checkFall(FallStmt &f) {
  if (picks_.empty()) {
    diags_.error(DiagId::BadFall, f.span, "`fall` outside a `pick` arm")
        .withHelp(deferDepth_ ? "a `defer` body cannot jump out of its block"
                              : "`fall L;` goes from one arm of a `pick` to a later arm labelled `L`");
    return;
  }
  PickFrame &frame = picks_.back();
  const PickStmt &p = *frame.pick;
  size_t target = p.arms.size();
  for (size_t i = 0; i < p.arms.size() && target == p.arms.size(); ++i)
    if (p.arms[i].label == f.label) target = i;
  if (target == p.arms.size()) {
    diags_.error(DiagId::BadFall, f.labelSpan, "no arm of this `pick` is labelled `" + f.label + "`")
        .withHelp("label a later arm: `" + f.label + ": (pattern) { ... }`");
    return;
  }
  if (target <= frame.arm) {
    diags_.error(DiagId::BadFall, f.labelSpan,
                 target == frame.arm ? "`fall " + f.label + "` names its own arm"
                                     : "`fall " + f.label + "` goes back to an earlier arm")
        .label(p.arms[target].labelSpan, "the arm labelled `" + f.label + "`")
        .withHelp("`fall` only goes forward, to a later arm; use a loop to repeat");
    return;
  }
  f.pick = &p;
  f.arm = target;
  frame.pick->arms[target].fallenInto = true;
}

} // namespace npk
