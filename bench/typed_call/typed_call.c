/* bench/typed_call.sh: the baseline of typed_call.npk — the same JIT code
 * (npk_jit_compile_add_i32) called CALLS times through a C function pointer,
 * the loop carried through the result as in the Nitpick program. */
#include "npk/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  const char *calls = getenv("CALLS");
  long long n = calls ? atoll(calls) : 0;
  int32_t err = 0;
  void *f = npk_jit_compile_add_i32(&err);
  if (f == NULL) return 1;
  void *entry = npk_jit_convert(f, "i32(i32,i32)", "typed_call.c");
  int32_t (*add)(int32_t, int32_t);
  memcpy(&add, &entry, sizeof add);
  int32_t acc = 0;
  for (long long i = 0; i < n; ++i) acc = add(acc, 1);
  printf("%d\n", acc);
  return npk_wildx_free(f) == 0 ? 0 : 1;
}
