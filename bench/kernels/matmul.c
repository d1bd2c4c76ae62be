/* bench/kernels.sh: the C twin of matmul.npk and matmul_wrap.npk.
 * Its integer operations: checked.h. */
#include "checked.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  long long n = argc > 1 ? atoll(argv[1]) : 1000;
  long long bytes = mul_(mul_(8, n), n);
  long long *a = malloc(bytes), *b = malloc(bytes), *c = malloc(bytes);
  if (a == NULL || b == NULL || c == NULL) return 1;
  for (long long i = 0; i < n; i = add_(i, 1)) {
    for (long long j = 0; j < n; j = add_(j, 1)) {
      a[add_(mul_(i, n), j)] = sub_(rem_(add_(i, mul_(2, j)), 7), 3);
      b[add_(mul_(i, n), j)] = sub_(rem_(add_(mul_(3, i), j), 11), 5);
      c[add_(mul_(i, n), j)] = 0;
    }
  }
  for (long long i = 0; i < n; i = add_(i, 1)) {
    for (long long k = 0; k < n; k = add_(k, 1)) {
      long long aik = a[add_(mul_(i, n), k)];
      for (long long j = 0; j < n; j = add_(j, 1)) {
        long long x = add_(mul_(i, n), j);
        /* As clang compiles `c[x] += aik * b[y]`: b loaded before c. */
        c[x] = add_(mul_(aik, b[add_(mul_(k, n), j)]), c[x]);
      }
    }
  }
  long long sum = 0;
  for (long long i = 0; i < mul_(n, n); i = add_(i, 1)) sum = add_(sum, c[i]);
  printf("%lld %lld\n", sum, c[sub_(mul_(n, n), 1)]);
  free(a);
  free(b);
  free(c);
  return 0;
}
