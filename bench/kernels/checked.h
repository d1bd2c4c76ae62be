/* bench/kernels.sh: the checks a trapping Nitpick program makes, for the
 * C twins NAME_checked.c: `+ - *` stop the program on an overflow, `/ %` on
 * a zero divisor or MIN / -1 (clang's __builtin_*_overflow, the way a careful
 * C programmer, or -ftrapv, writes it). They show what the same checks cost
 * C, beside what they cost npkc. */
#ifndef NPK_BENCH_CHECKED_H
#define NPK_BENCH_CHECKED_H

#include <limits.h>

static inline long long add_(long long a, long long b) {
  long long r;
  if (__builtin_add_overflow(a, b, &r)) __builtin_trap();
  return r;
}
static inline long long sub_(long long a, long long b) {
  long long r;
  if (__builtin_sub_overflow(a, b, &r)) __builtin_trap();
  return r;
}
static inline long long mul_(long long a, long long b) {
  long long r;
  if (__builtin_mul_overflow(a, b, &r)) __builtin_trap();
  return r;
}
static inline long long div_(long long a, long long b) {
  if (b == 0 || (a == LLONG_MIN && b == -1)) __builtin_trap();
  return a / b;
}
static inline long long rem_(long long a, long long b) {
  if (b == 0 || (a == LLONG_MIN && b == -1)) __builtin_trap();
  return a % b;
}

#endif
