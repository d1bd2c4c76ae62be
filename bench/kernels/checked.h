/* bench/kernels.sh: the integer operations of the C twins NAME.c, named
 * after the Nitpick program's: add_ sub_ mul_ for `+ - *`, div_ rem_ for
 * `/ %`. Built plain they are C's operators (what the twin is timed as,
 * "C"); built with -DNPK_CHECKED they make the trapping program's checks
 * (clang's __builtin_*_overflow, a zero divisor or MIN / -1 tested: what a
 * careful C programmer, or -ftrapv, writes), timed as "C checked": what the
 * same checks cost C, beside what they cost npkc. */
#ifndef NPK_BENCH_CHECKED_H
#define NPK_BENCH_CHECKED_H

#include <limits.h>

#ifdef NPK_CHECKED
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
#else
static inline long long add_(long long a, long long b) { return a + b; }
static inline long long sub_(long long a, long long b) { return a - b; }
static inline long long mul_(long long a, long long b) { return a * b; }
static inline long long div_(long long a, long long b) { return a / b; }
static inline long long rem_(long long a, long long b) { return a % b; }
#endif

#endif
