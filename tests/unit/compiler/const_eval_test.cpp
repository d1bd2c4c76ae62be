#include "check/ConstEval.h"

#include <gtest/gtest.h>

namespace npk {
namespace {

using Trap = Folded::Trap;

struct ConstEval : testing::Test {
  TypeContext types;
  const Ty *i8 = types.intTy(8, true), *u8 = types.intTy(8, false), *i32 = types.int32(), *i64 = types.int64(),
           *u64 = types.intTy(64, false);
  static constexpr __int128 kI64Max = 9223372036854775807;
};

void ExpectValue(const Folded &f, __int128 v) {
  ASSERT_TRUE(f.value.has_value());
  EXPECT_TRUE(*f.value == v);
  EXPECT_EQ(f.trap, Trap::None);
}
void ExpectTrap(const Folded &f, Trap t) {
  EXPECT_FALSE(f.value.has_value());
  EXPECT_EQ(f.trap, t);
}

TEST_F(ConstEval, CheckedArithmeticTrapsOutsideTheType) {
  ExpectValue(foldBinary(BinaryOp::Add, 2147483646, 1, i32), 2147483647);
  ExpectTrap(foldBinary(BinaryOp::Add, 2147483647, 1, i32), Trap::Overflow);
  ExpectTrap(foldBinary(BinaryOp::Sub, 0, 1, u8), Trap::Overflow);
  ExpectTrap(foldBinary(BinaryOp::Mul, kI64Max, kI64Max, i64), Trap::Overflow);
  ExpectTrap(foldBinary(BinaryOp::Mul, 18446744073709551615ULL, 18446744073709551615ULL, u64), Trap::Overflow);
  ExpectValue(foldBinary(BinaryOp::Mul, -128, 1, i8), -128);
  ExpectTrap(foldUnary(UnaryOp::Neg, -128, i8), Trap::Overflow);
}

TEST_F(ConstEval, WrappingOperatorsWrap) {
  ExpectValue(foldBinary(BinaryOp::AddWrap, 2147483647, 1, i32), -2147483648LL);
  ExpectValue(foldBinary(BinaryOp::SubWrap, 0, 1, u8), 255);
  ExpectValue(foldBinary(BinaryOp::MulWrap, kI64Max, 2, i64), -2);
  ExpectValue(foldBinary(BinaryOp::MulWrap, 18446744073709551615ULL, 18446744073709551615ULL, u64), 1);
}

TEST_F(ConstEval, DivisionTruncatesAndTrapsOnZeroAndMinByMinusOne) {
  ExpectValue(foldBinary(BinaryOp::Div, -7, 2, i32), -3);
  ExpectValue(foldBinary(BinaryOp::Rem, -7, 2, i32), -1);
  ExpectTrap(foldBinary(BinaryOp::Div, 1, 0, i32), Trap::DivZero);
  ExpectTrap(foldBinary(BinaryOp::Rem, 1, 0, u8), Trap::DivZero);
  ExpectTrap(foldBinary(BinaryOp::Div, -128, -1, i8), Trap::DivZero);
  ExpectTrap(foldBinary(BinaryOp::Rem, -128, -1, i8), Trap::DivZero);
}

TEST_F(ConstEval, ShiftsDropBitsAndTrapOutsideTheWidth) {
  ExpectValue(foldBinary(BinaryOp::Shl, 1, 31, i32), -2147483648LL);
  ExpectValue(foldBinary(BinaryOp::Shl, 0xFF, 4, u8), 0xF0);
  ExpectValue(foldBinary(BinaryOp::Shr, -8, 1, i32), -4);
  ExpectValue(foldBinary(BinaryOp::Shl, -1, 63, i64), static_cast<__int128>(INT64_MIN));
  ExpectTrap(foldBinary(BinaryOp::Shl, 1, 32, i32), Trap::ShiftRange);
  ExpectTrap(foldBinary(BinaryOp::Shr, 1, -1, i32), Trap::ShiftRange);
}

TEST_F(ConstEval, BitwiseAndCasts) {
  ExpectValue(foldUnary(UnaryOp::BitNot, 0, u8), 255);
  ExpectValue(foldUnary(UnaryOp::BitNot, 0, i8), -1);
  ExpectValue(foldBinary(BinaryOp::BitXor, -1, 0x0F, i8), -16);
  ExpectValue(foldCast(127, i8), 127);
  ExpectTrap(foldCast(128, i8), Trap::CastRange);
  ExpectTrap(foldCast(-1, u64), Trap::CastRange);
}

TEST_F(ConstEval, RangeText) {
  EXPECT_EQ(rangeText(i8), "-128..127");
  EXPECT_EQ(rangeText(u64), "0..18446744073709551615");
  EXPECT_EQ(rangeText(i64), "-9223372036854775808..9223372036854775807");
}

} // namespace
} // namespace npk
