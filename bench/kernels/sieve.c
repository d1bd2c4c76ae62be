/* bench/kernels.sh: the C twin of sieve.npk and sieve_wrap.npk (malloc'd
 * memory, one byte a number).
 * Its integer operations: checked.h. */
#include "checked.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  long long n = argc > 1 ? atoll(argv[1]) : 100000000;
  signed char *composite = malloc(add_(n, 1));
  if (composite == NULL) return 1;
  for (long long i = 0; i <= n; i = add_(i, 1)) composite[i] = 0;
  long long count = 0, largest = 0;
  for (long long i = 2; i <= n; i = add_(i, 1)) {
    if (composite[i] == 0) {
      count = add_(count, 1);
      largest = i;
      for (long long j = mul_(i, i); j <= n; j = add_(j, i)) composite[j] = 1;
    }
  }
  printf("%lld %lld\n", count, largest);
  free(composite);
  return 0;
}
