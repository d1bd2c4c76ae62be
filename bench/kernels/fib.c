/* bench/kernels.sh: the C twin of fib.npk and fib_wrap.npk.
 * Its integer operations: checked.h. */
#include "checked.h"

#include <stdio.h>
#include <stdlib.h>

static long long fib(long long n) { return n < 2 ? n : add_(fib(sub_(n, 1)), fib(sub_(n, 2))); }

int main(int argc, char **argv) {
  long long n = argc > 1 ? atoll(argv[1]) : 40;
  printf("%lld\n", fib(n));
  return 0;
}
