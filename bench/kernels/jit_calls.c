/* bench/kernels.sh: the C twin of jit_calls.npk and jit_calls_wrap.npk. The
 * same function, mix(a, b) = (a * 31 + b) & 65535, built by the same builder
 * (libnpkrt's npk_jit_* C API, the calls jit.npk makes) and so the same
 * machine code, converted once with npk_jit_convert and called N times
 * through a plain C function pointer. Its integer operations: checked.h. */
#include "checked.h"
#include "npk/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  long long n = argc > 1 ? atoll(argv[1]) : 200000000;
  npk_jit_module *m = npk_jit_module_new();
  if (m == NULL || npk_jit_begin(m, "i64(i64,i64)", "mix") != 0) return 1;
  int32_t a = npk_jit_param(m, 0), b = npk_jit_param(m, 1);
  int32_t k31 = npk_jit_const_i64(m, 31), mask = npk_jit_const_i64(m, 65535);
  int32_t product = npk_jit_op(m, NPK_JIT_OP_mul, a, k31);
  int32_t sum = npk_jit_op(m, NPK_JIT_OP_add, product, b);
  if (npk_jit_ret(m, npk_jit_op(m, NPK_JIT_OP_and, sum, mask)) != 0) return 1;
  int32_t err = 0;
  void *code = npk_jit_end_pointer(m, &err);
  if (code == NULL || npk_jit_module_seal(m) != 0) return 1;
  void *entry = npk_jit_convert(code, "i64(i64,i64)", "jit_calls.c");
  int64_t (*mix)(int64_t, int64_t);
  memcpy(&mix, &entry, sizeof mix);
  long long acc = 0, total = 0;
  for (long long i = 0; i < n; i = add_(i, 1)) {
    acc = mix(acc, i);
    total = add_(total, acc);
  }
  printf("%lld %lld\n", acc, total);
  return npk_jit_module_free(m) == 0 ? 0 : 1;
}
