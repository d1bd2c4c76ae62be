/* A program for the tool tests (jit_tools_test.sh): installs named JIT code
 * through the C API and runs it.
 *   jit_tools_target trap      calls npk_tools_trap (int3; ret): a debugger
 *                              stops inside the JIT frame
 *   jit_tools_target spin MS   calls npk_tools_spin (a count-down loop) for
 *                              about MS milliseconds, for perf record
 * Prints the backend, then exits 0. */
#include <npk/runtime.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  static const unsigned char kTrap[] = {0xcc, 0xc3};                   /* int3; ret */
  static const unsigned char kSpin[] = {0xff, 0xcf, 0x75, 0xfc, 0xc3}; /* L: dec edi; jnz L; ret */
  static const unsigned char kAdd[] = {0x89, 0xf8, 0x01, 0xf0, 0xc3};
  if (argc < 2) return 2;
  npk_jit_sig i32 = npk_jit_sig_intern("i32(i32)");
  npk_jit_module *m = npk_jit_module_new();
  /* A neighbour first, so the named function does not start the module. */
  npk_jit_module_add(m, kAdd, sizeof kAdd, npk_jit_sig_intern("i32(i32,i32)"), "npk_tools_neighbour");
  npk_jit_fn trap = npk_jit_module_add(m, kTrap, sizeof kTrap, i32, "npk_tools_trap");
  npk_jit_fn spin = npk_jit_module_add(m, kSpin, sizeof kSpin, i32, "npk_tools_spin");
  if (npk_jit_module_seal(m) != 0) return 3;
  printf("backend %s pid %d\n", npk_jit_backend(), (int)getpid());
  fflush(stdout);
  int32_t (*fn)(int32_t);
  if (strcmp(argv[1], "trap") == 0) {
    void *entry = npk_jit_fn_entry(trap, i32);
    memcpy(&fn, &entry, sizeof fn);
    fn(1);
  } else if (strcmp(argv[1], "spin") == 0 && argc > 2) {
    void *entry = npk_jit_fn_entry(spin, i32);
    memcpy(&fn, &entry, sizeof fn);
    double until = now_ms() + atof(argv[2]);
    while (now_ms() < until) fn(1000000);
  } else {
    return 2;
  }
  return npk_jit_module_free(m) == 0 ? 0 : 4;
}
