/* bench/kernels.sh: the C twin of matmul.npk and matmul_wrap.npk. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  long long n = argc > 1 ? atoll(argv[1]) : 1000;
  long long *a = malloc(8 * n * n), *b = malloc(8 * n * n), *c = malloc(8 * n * n);
  if (a == NULL || b == NULL || c == NULL) return 1;
  for (long long i = 0; i < n; ++i) {
    for (long long j = 0; j < n; ++j) {
      a[i * n + j] = (i + 2 * j) % 7 - 3;
      b[i * n + j] = (3 * i + j) % 11 - 5;
      c[i * n + j] = 0;
    }
  }
  for (long long i = 0; i < n; ++i) {
    for (long long k = 0; k < n; ++k) {
      long long aik = a[i * n + k];
      for (long long j = 0; j < n; ++j) c[i * n + j] += aik * b[k * n + j];
    }
  }
  long long sum = 0;
  for (long long i = 0; i < n * n; ++i) sum += c[i];
  printf("%lld %lld\n", sum, c[n * n - 1]);
  free(a);
  free(b);
  free(c);
  return 0;
}
