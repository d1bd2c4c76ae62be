/* bench/kernels.sh: the C twin of collatz.npk and collatz_wrap.npk
 * (signed overflow would be undefined in C; the inputs never reach it). */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  long long limit = argc > 1 ? atoll(argv[1]) : 3000000;
  long long best = 0, best_start = 0;
  for (long long start = 1; start < limit; ++start) {
    long long x = start, steps = 0;
    while (x != 1) {
      x = x % 2 == 0 ? x / 2 : 3 * x + 1;
      ++steps;
    }
    if (steps > best) {
      best = steps;
      best_start = start;
    }
  }
  printf("%lld %lld\n", best_start, best);
  return 0;
}
