// JIT helpers: the one signature the runtime can emit and call. Contract:
// npk/runtime.h.
#include "npk/runtime.h"
#include "wildx_internal.h"
#include "code_internal.h"
#include "core_internal.h"

#include <dlfcn.h>
#include <stdio.h>

#include <string.h>

namespace {

#if defined(__x86_64__)
constexpr unsigned char kAddI32Code[] = {0x89, 0xf8, 0x01, 0xf0, 0xc3};  // mov eax, edi; add eax, esi; ret
#elif defined(__aarch64__)
constexpr unsigned char kAddI32Code[] = {0x00, 0x00, 0x01, 0x0b,   // add w0, w0, w1
                                         0xc0, 0x03, 0x5f, 0xd6};  // ret
#else
#error "npk_jit_install_add_i32 has no encoding for this architecture"
#endif

using I32BinaryFn = int32_t (*)(int32_t, int32_t);

// Not instrumented by -fsanitize=function (npk/runtime.h, NPK_CALLS_JIT_CODE).
NPK_CALLS_JIT_CODE int32_t call_sealed_i32_i32(void *page, int32_t a, int32_t b) {
  // An object pointer cannot be cast to a function pointer in ISO C++;
  // copying the representation is the portable way.
  I32BinaryFn fn;
  static_assert(sizeof fn == sizeof page, "function and data pointers differ in size");
  memcpy(&fn, &page, sizeof fn);
  return fn(a, b);
}

}  // namespace

extern "C" int32_t npk_jit_install_add_i32(void *page) {
  size_t bytes = 0;
  if (npkrt::is_handle_pointer(page)) {
    npkrt::wildx_panic("jit_install_add_i32", page, "a JIT function is sealed when it is installed");
    return -1;
  }
  if (!npkrt::wildx_begin_write(page, "jit_install_add_i32", &bytes)) return -1;
  static_assert(sizeof kAddI32Code <= 4096, "code must fit the smallest page");
  memcpy(page, kAddI32Code, sizeof kAddI32Code);
  npkrt::wildx_end_write(page);
  return 0;
}

extern "C" int32_t npk_jit_call_i32_i32(void *page, int32_t a, int32_t b) {
  if (npkrt::is_handle_pointer(page)) {
    void *entry = nullptr;
    if (npkrt::code_check_pointer(page, npkrt::code_sig_i32_i32(), "jit_call_i32_i32", &entry) != 0) return -1;
    return call_sealed_i32_i32(entry, a, b);
  }
  if (npkrt::wildx_check_callable(page, "jit_call_i32_i32") != 0) return -1;
  return call_sealed_i32_i32(page, a, b);
}

extern "C" int32_t npk_jit_try_call_i32_i32(void *page, int32_t a, int32_t b, int32_t *out) {
  static const char kOp[] = "jit_try_call_i32_i32";
  if (out == nullptr) {
    npkrt::wildx_panic(kOp, page, "null result pointer");
    return -1;
  }
  *out = 0;
  if (npkrt::is_handle_pointer(page)) {
    void *entry = nullptr;
    int32_t refused = npkrt::code_check_pointer(page, npkrt::code_sig_i32_i32(), kOp, &entry);
    if (refused != 0) return refused;
    *out = call_sealed_i32_i32(entry, a, b);
    return 0;
  }
  // One registry lookup decides, and the call follows it at once: a page freed
  // by another thread in between is the caller's race, as with any callee.
  int32_t refused = npkrt::wildx_check_callable(page, kOp);
  if (refused != 0) return refused;
  *out = call_sealed_i32_i32(page, a, b);
  return 0;
}

extern "C" void *npk_jit_convert(void *p, const char *sig, const char *loc) {
  char what[240];
  npk_jit_sig want = sig != nullptr ? npk_jit_sig_intern(sig) : 0;
  const char *target = sig != nullptr ? sig : "?";
  if (npkrt::is_handle_pointer(p)) {
    npk_jit_fn f = npkrt::handle_of_pointer(p);
    void *entry = want != 0 ? npk_jit_fn_lookup(f, want) : nullptr;
    if (entry != nullptr) return entry;
    char text[160];
    const char *reason = nullptr;
    npk_jit_sig have = 0;
    int32_t code = npkrt::code_refusal(f, want, text, &reason, &have);
    if (code == NPK_ERR_JIT_SIGNATURE) {
      const char *name = npk_jit_sig_name(have);
      snprintf(what, sizeof what, "JIT code has signature %s, converted to %s", name ? name : "?", target);
      npkrt::trap_with(NPK_ERR_JIT_CONVERT, loc, what);
    }
    snprintf(what, sizeof what, "JIT code converted to %s: %s", target, reason ? reason : "not callable");
    npkrt::trap_with(code, loc, what);
  }
  const char *reason = nullptr;
  int32_t code = npkrt::wildx_callable_refusal(p, &reason);
  if (code != 0) {
    snprintf(what, sizeof what, "JIT page converted to %s: %s", target, reason);
    npkrt::trap_with(code, loc, what);
  }
  snprintf(what, sizeof what,
           "JIT page has no signature (sealed by wildx_seal), converted to %s; only Jit.compile_*, builder and "
           "compile_bytes code is tagged",
           target);
  npkrt::trap_with(NPK_ERR_JIT_CONVERT, loc, what);
}

extern "C" void *npk_jit_end_pointer(npk_jit_module *m, int32_t *err) {
  npk_jit_fn f = npk_jit_end(m, err);
  return f != 0 ? npkrt::pointer_of_handle(f) : nullptr;
}

extern "C" int32_t npk_jit_call_fn_pointer(npk_jit_module *m, void *callee) {
  if (!npkrt::is_handle_pointer(callee)) {
    npkrt::wildx_panic("jit_call_fn", callee, "not a function of a module (Jit.end's pointer)");
    return -NPK_ERR_JIT_CALLEE;
  }
  return npk_jit_call_fn(m, npkrt::handle_of_pointer(callee));
}

extern "C" int32_t npk_jit_call_c_symbol(npk_jit_module *m, const char *name, const char *sig) {
  void *addr = name != nullptr ? dlsym(RTLD_DEFAULT, name) : nullptr;
  if (addr == nullptr) {
    char what[160];
    snprintf(what, sizeof what, "no C function named %s", name != nullptr ? name : "(null)");
    npkrt::wildx_panic("jit_call_c", m, what);
    return -NPK_ERR_JIT_CALLEE;
  }
  return npk_jit_call_c(m, addr, sig);
}
