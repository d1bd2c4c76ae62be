/* bench/kernels.sh: the C twin of collatz.npk and collatz_wrap.npk
 * (signed overflow would be undefined in C; the inputs never reach it).
 * Its integer operations: checked.h. */
#include "checked.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  long long limit = argc > 1 ? atoll(argv[1]) : 3000000;
  long long best = 0, best_start = 0;
  for (long long start = 1; start < limit; start = add_(start, 1)) {
    long long x = start, steps = 0;
    while (x != 1) {
      if (rem_(x, 2) == 0) x = div_(x, 2);
      else x = add_(mul_(3, x), 1);
      steps = add_(steps, 1);
    }
    if (steps > best) {
      best = steps;
      best_start = start;
    }
  }
  printf("%lld %lld\n", best_start, best);
  return 0;
}
