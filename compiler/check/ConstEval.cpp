#include "check/ConstEval.h"

namespace npk {

namespace {
using U128 = unsigned __int128;

// Two's complement truncation to t's width (what wrapping operators and
// shifts do at run time).
__int128 wrapTo(U128 bits, const Ty *t) {
  bits &= (U128(1) << t->bits) - 1; // integer types are at most 64 bits wide
  if (t->isSigned && (bits >> (t->bits - 1)) != 0)
    return static_cast<__int128>(bits) - (static_cast<__int128>(1) << t->bits);
  return static_cast<__int128>(bits);
}

Folded value(__int128 v) { return Folded{v, Folded::Trap::None}; }
Folded trap(Folded::Trap t) { return Folded{std::nullopt, t}; }
Folded checked(__int128 v, const Ty *t) { return fitsType(v, t) ? value(v) : trap(Folded::Trap::Overflow); }
} // namespace

bool fitsType(__int128 v, const Ty *t) {
  if (t->kind == TyKind::Tbb32) return v >= INT32_MIN && v <= INT32_MAX;
  if (!t->isInt()) return true;
  if (t->isSigned) {
    __int128 hi = (static_cast<__int128>(1) << (t->bits - 1)) - 1;
    return v >= -hi - 1 && v <= hi;
  }
  __int128 hi = (static_cast<__int128>(1) << t->bits) - 1;
  return v >= 0 && v <= hi;
}

std::string intText(__int128 v) {
  if (v < 0) return "-" + std::to_string(static_cast<unsigned long long>(-v));
  return std::to_string(static_cast<unsigned long long>(v));
}

std::string rangeText(const Ty *t) {
  if (t->kind == TyKind::Tbb32) return "-2147483648..2147483647";
  if (!t->isInt()) return "";
  if (t->isSigned) {
    __int128 hi = (static_cast<__int128>(1) << (t->bits - 1)) - 1;
    return intText(-hi - 1) + ".." + intText(hi);
  }
  return "0.." + intText((static_cast<__int128>(1) << t->bits) - 1);
}

Folded foldBinary(BinaryOp op, __int128 l, __int128 r, const Ty *t) {
  switch (op) {
  case BinaryOp::Add: return checked(l + r, t);
  case BinaryOp::Sub: return checked(l - r, t);
  case BinaryOp::Mul: {
    __int128 product; // two uint64 values can overflow even __int128
    if (__builtin_mul_overflow(l, r, &product)) return trap(Folded::Trap::Overflow);
    return checked(product, t);
  }
  case BinaryOp::AddWrap: return value(wrapTo(U128(l) + U128(r), t));
  case BinaryOp::SubWrap: return value(wrapTo(U128(l) - U128(r), t));
  case BinaryOp::MulWrap: return value(wrapTo(U128(l) * U128(r), t));
  case BinaryOp::Div:
  case BinaryOp::Rem:
    if (r == 0) return trap(Folded::Trap::DivZero);
    // INT_MIN / -1 traps like division by zero; C++ truncates toward zero as
    // the generated code does.
    if (!fitsType(l / r, t)) return trap(Folded::Trap::DivZero);
    return value(op == BinaryOp::Div ? l / r : l % r);
  case BinaryOp::Shl:
  case BinaryOp::Shr:
    if (r < 0 || r >= t->bits) return trap(Folded::Trap::ShiftRange);
    if (op == BinaryOp::Shl) return value(wrapTo(U128(l) << static_cast<unsigned>(r), t));
    return value(l >> static_cast<unsigned>(r)); // arithmetic on signed; unsigned values are non-negative
  case BinaryOp::BitAnd: return value(wrapTo(U128(l) & U128(r), t));
  case BinaryOp::BitOr: return value(wrapTo(U128(l) | U128(r), t));
  case BinaryOp::BitXor: return value(wrapTo(U128(l) ^ U128(r), t));
  default: return Folded{};
  }
}

Folded foldUnary(UnaryOp op, __int128 v, const Ty *t) {
  if (op == UnaryOp::Neg) return checked(-v, t);
  if (op == UnaryOp::BitNot) return value(wrapTo(~U128(v), t));
  return Folded{};
}

Folded foldCast(__int128 v, const Ty *to) { return fitsType(v, to) ? value(v) : trap(Folded::Trap::CastRange); }

__int128 wrapToType(__int128 v, const Ty *to) {
  unsigned bits = to->kind == TyKind::Tbb32 ? 32 : to->bits;
  unsigned __int128 mask = (static_cast<unsigned __int128>(1) << bits) - 1;
  unsigned __int128 low = static_cast<unsigned __int128>(v) & mask; // v mod 2^bits
  bool isSigned = to->kind == TyKind::Tbb32 || to->isSigned;
  if (isSigned && (low >> (bits - 1)) & 1) return static_cast<__int128>(low) - (static_cast<__int128>(1) << bits);
  return static_cast<__int128>(low);
}

} // namespace npk
