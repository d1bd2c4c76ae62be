/* Links like npkc's output does (`cc prog.o libnpkrt.a -lpthread`, no C++
 * runtime) and walks the whole C ABI once. Exit 0 means all is well. */
#include <npk/runtime.h>

#include <stdio.h>

static int failures;

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "c_abi_smoke: FAILED: %s\n", what);
    ++failures;
  }
}

int main(void) {
  void *page = npk_wildx_alloc(64);
  check(page != NULL, "wildx_alloc");
  check(npk_jit_install_add_i32(page) == 0, "jit_install_add_i32");
  check(npk_wildx_seal(page) == 0, "wildx_seal");
  check(npk_jit_call_i32_i32(page, 7, 35) == 42, "jit_call_i32_i32");
  int32_t result = 0;
  check(npk_jit_try_call_i32_i32(page, 20, 22, &result) == 0 && result == 42, "jit_try_call_i32_i32");
  check(npk_wildx_free(page) == 0, "wildx_free");
  check(npk_wildx_free(page) == -1, "wildx_free refuses a double free");

  char *heap = npk_alloc(16);
  check(heap != NULL && heap[15] == 0, "alloc");
  check(npk_free(heap) == 0, "free");
  check(npk_free(heap) == -1, "free refuses a double free");

  npk_print_str(1, "smoke ", -1);
  npk_print_i64(1, -1);
  npk_print_u64(1, 2);
  npk_print_f64(1, 1.5);
  npk_print_bool(1, 1);
  npk_print_ptr(1, NULL);
  npk_print_str(1, "\n", 1);
  npk_set_failsafe(NULL);
  if (failures != 0) npk_fail(failures);
  npk_exit(0);
}
