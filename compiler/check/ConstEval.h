// Compile-time integer arithmetic with the run-time semantics of npk: the
// operations that would trap at run time (overflow, division by zero,
// INT_MIN / -1, a shift amount out of range, a cast out of range) are
// reported instead of computed. The checker folds every integer expression
// whose operands are constants through here; later constant contexts
// (`const`, array sizes) read the same values.
#pragma once

#include "ast/AST.h"
#include "check/Types.h"

#include <optional>
#include <string>

namespace npk {

// A folded value, or why the operation has none. `value` is the
// mathematical integer, always within the range of the result type.
struct Folded {
  std::optional<__int128> value;
  enum class Trap : uint8_t { None, Overflow, DivZero, ShiftRange, CastRange } trap = Trap::None;
};

bool fitsType(__int128 v, const Ty *t);        // t an integer type (or tbb32)
std::string rangeText(const Ty *t);            // "-128..127"
std::string intText(__int128 v);               // decimal, with a sign

// `l op r` in the integer type `t` (for shifts, `t` is the left operand's).
Folded foldBinary(BinaryOp op, __int128 l, __int128 r, const Ty *t);
// `-v` / `~v` in `t`.
Folded foldUnary(UnaryOp op, __int128 v, const Ty *t);
// `v => to` between integer types.
Folded foldCast(__int128 v, const Ty *to);
// `@cast_unchecked<to>(v)` between integer types: the two's complement bits
// of `v` truncated or extended to `to`'s width, read in `to`'s signedness.
__int128 wrapToType(__int128 v, const Ty *to);

} // namespace npk
