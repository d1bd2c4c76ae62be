/* Links like npkc's output does (`cc prog.o libnpkrt.a -lpthread`, no C++
 * runtime) and walks the whole C ABI once. Exit 0 means all is well. */
#include <npk/runtime.h>

#include <stdio.h>
#include <string.h>

static int failures;

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "c_abi_smoke: FAILED: %s\n", what);
    ++failures;
  }
}

/* Generated code has no -fsanitize=function type data in front of it. */
static NPK_CALLS_JIT_CODE int64_t call_built(void *entry, int64_t a, int64_t b) {
  int64_t (*fn)(int64_t, int64_t);
  memcpy(&fn, &entry, sizeof fn);
  return fn(a, b);
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

  /* The function builder, as a C program (and the Nitpick wrapper's externs) calls it. */
  npk_jit_module *m = npk_jit_module_new();
  check(npk_jit_begin(m, "i64(i64,i64)", "smoke_mul_add") == 0, "jit_begin");
  int32_t prod = npk_jit_op(m, NPK_JIT_OP_mul, npk_jit_param(m, 0), npk_jit_param(m, 1));
  check(npk_jit_ret(m, npk_jit_op(m, NPK_JIT_OP_add, prod, npk_jit_const_i64(m, 3))) == 0, "jit_ret");
  int32_t err = -1;
  npk_jit_fn built = npk_jit_end(m, &err);
  check(built != 0 && err == 0, "jit_end");
  check(npk_jit_module_seal(m) == 0, "jit_module_seal");
  void *entry = npk_jit_fn_entry(built, npk_jit_sig_intern("i64(i64,i64)"));
  check(entry != NULL, "jit_fn_entry");
  if (entry != NULL) check(call_built(entry, 6, 7) == 45, "built function runs");
  check(npk_jit_module_free(m) == 0, "jit_module_free");

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
