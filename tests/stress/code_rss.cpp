// Memory stays flat over many code-memory cycles: after a warm-up, 200,000
// module cycles (8 functions each: add, seal, call, free one alone, free the
// module) and as many jit.npk-style lifecycles may grow the resident set by
// at most 1 MiB. A leak of a slot, a block or a name per cycle would not fit.
//
// usage: npk_stress_code_rss [cycles]
#include <npk/runtime.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

long ResidentKiB() {
  FILE *status = fopen("/proc/self/status", "r");
  char line[256];
  long kib = -1;
  while (status != nullptr && fgets(line, sizeof line, status) != nullptr)
    if (strncmp(line, "VmRSS:", 6) == 0) kib = atol(line + 6);
  if (status != nullptr) fclose(status);
  return kib;
}

bool Cycle(npk_jit_sig sig, long i) {
  static const unsigned char kAdd[] = {0x89, 0xf8, 0x01, 0xf0, 0xc3};
  npk_jit_module *m = npk_jit_module_new();
  npk_jit_fn fns[8];
  for (npk_jit_fn &f : fns) f = npk_jit_module_add(m, kAdd, sizeof kAdd, sig, nullptr);
  if (npk_jit_module_seal(m) != 0) return false;
  for (npk_jit_fn f : fns)
    if (npk_jit_fn_call_i32_i32(f, sig, static_cast<int32_t>(i), 1) != static_cast<int32_t>(i) + 1) return false;
  if (npk_jit_fn_free(fns[i % 8]) != 0 || npk_jit_module_free(m) != 0) return false;
  int32_t out = 0;
  void *f = npk_jit_compile_add_i32(nullptr);
  return f != nullptr && npk_jit_try_call_i32_i32(f, 1, 2, &out) == 0 && out == 3 && npk_wildx_free(f) == 0;
}

}  // namespace

int main(int argc, char **argv) {
  long cycles = argc > 1 ? atol(argv[1]) : 200000;
  npk_jit_sig sig = npk_jit_sig_intern("i32(i32,i32)");
  for (long i = 0; i < 2000; ++i)
    if (!Cycle(sig, i)) return 2;
  long before = ResidentKiB();
  for (long i = 0; i < cycles; ++i)
    if (!Cycle(sig, i)) {
      fprintf(stderr, "cycle %ld failed\n", i);
      return 2;
    }
  long after = ResidentKiB();
  printf("rss: backend %s, %ld cycles, before %ld KiB, after %ld KiB, growth %ld KiB\n", npk_jit_backend(), cycles,
         before, after, after - before);
  return before > 0 && after - before <= 1024 ? 0 : 1;
}
