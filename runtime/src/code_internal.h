/* Private interface of the code-memory arena (code.cpp) for the wildx
 * registry, the JIT helpers and the runtime's own tests. Not installed.
 */
#ifndef NPK_RUNTIME_CODE_INTERNAL_H
#define NPK_RUNTIME_CODE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "npk/runtime.h"

#include <atomic>

namespace npkrt {

/* A JIT function handle travels through Nitpick code as a `wildx int8->`
 * value with this bit set: never a user-space address, so it cannot be
 * confused with a wildx page. */
constexpr uint64_t kHandlePointerTag = uint64_t{1} << 63;

inline bool is_handle_pointer(const void *p) {
  return (reinterpret_cast<uintptr_t>(p) & kHandlePointerTag) != 0;
}
inline npk_jit_fn handle_of_pointer(const void *p) {
  return reinterpret_cast<uintptr_t>(p) & ~kHandlePointerTag;
}
inline void *pointer_of_handle(npk_jit_fn f) {
  return reinterpret_cast<void *>(static_cast<uintptr_t>(f | kHandlePointerTag));
}

/* Frees the function behind a tagged handle pointer; 0, or -1 plus one
 * panic line naming `op`. */
int32_t code_free_pointer(void *p, const char *op);

/* Checks a tagged handle pointer for a call with signature `sig`: 0, or one
 * panic line naming `op` and the failure code (205, 206, 207). */
int32_t code_check_pointer(const void *p, npk_jit_sig sig, const char *op, void **entry);

/* Why function f cannot be called as sig (it is not live, sealed, or of
 * that signature; or it is busy): the failure code (205, 206, 207), the
 * reason (static or in text) and, for a live function of another signature,
 * its tag in *have (else 0). Prints nothing. */
int32_t code_refusal(npk_jit_fn f, npk_jit_sig sig, char (&text)[160], const char **reason, npk_jit_sig *have);

/* Whether p is a module from npk_jit_module_new not yet returned to malloc
 * (live, or freed and still in quarantine). */
bool code_is_module(const void *p);

/* Installs `len` bytes of code as a standalone function of signature `sig`
 * (the Jit.compile_* functions): sealed at once, named "<prefix>#<number>"
 * (prefix: static storage), returned as a handle pointer that
 * npk_wildx_free and the checked calls take. NULL with *err set to
 * NPK_ERR_JIT_ALLOC (sig 0, no slot or arena memory) or NPK_ERR_JIT_INSTALL
 * (the OS refused the write); a failed seal prints one panic line naming
 * `op`. The caller checked code and len (1 byte to 4 MiB). */
void *code_compile_standalone(const void *code, size_t len, npk_jit_sig sig, const char *prefix, uint32_t number,
                              const char *op, int32_t *err);

/* The interned tag of "i32(i32,i32)". */
npk_jit_sig code_sig_i32_i32(void);

/* What JIT code is live, for the accounting mode's report at exit
 * (NPK_AUDIT=1): functions not yet freed (Jit.compile_* results and the
 * functions of modules) and modules from npk_jit_module_new not yet freed.
 * A scan of the slot table and the module registry: for exit, not hot paths. */
void code_live_counts(uint64_t *functions, uint64_t *modules);

/* ---- for the function builder (builder.cpp) ---- */

/* The builder's state of one module; its memory belongs to the module. */
struct Builder;

/* The module's builder field, after checking that `m` is a live module from
 * npk_jit_module_new (a lookup in the module registry) and not sealed. NULL
 * with *code set to NPK_ERR_JIT_MODULE or NPK_ERR_JIT_SEALED otherwise
 * (prints nothing). */
Builder **code_module_builder(npk_jit_module *m, int32_t *code);

/* Bumped whenever a module from npk_jit_module_new is sealed or released:
 * a pointer found live and unsealed stays so while this is unchanged, which
 * lets the builder skip the registry lookup on every call. */
extern std::atomic<uint64_t> g_code_module_epoch;

/* Where in the module's code the next npk_jit_module_add puts its
 * function (the offsets are kept by the seal, so calls between functions of
 * one module can be relative). m must have passed code_module_builder. */
uint32_t code_module_next_offset(npk_jit_module *m);

/* Whether f is a live, not yet sealed function of module m; then its code
 * offset (as code_module_next_offset counts) and signature. */
bool code_module_fn(npk_jit_module *m, npk_jit_fn f, uint32_t *offset, npk_jit_sig *sig);

/* npk_jit_module_add for a module that passed code_module_builder (no
 * second registry lookup); the same refusals of the code itself. */
npk_jit_fn code_module_add_checked(npk_jit_module *m, const void *code, size_t len, npk_jit_sig sig, const char *name);

/* Frees a builder (NULL is fine); called when its module is released. */
void builder_destroy(Builder *b);

/* ---- test hooks ---- */

/* The file descriptor of the memfd arena (-1 for the mprotect backend or
 * before the first install). */
int code_test_memfd(void);

/* Start and length of the code region's mapping (NULL/0 before the first
 * install). */
void code_test_region(char **base, size_t *bytes);

/* Whether mseal protects the code region. */
bool code_test_region_sealed(void);

/* Sends new code to the named backend ("memfd" or "mprotect") from now on;
 * functions already installed stay where they are. False if that backend
 * cannot be opened here. */
bool code_test_use_backend(const char *name);

/* Page-table changes (mmap, mprotect, munmap, madvise) the arena has made
 * since the process started. */
uint64_t code_test_page_table_changes(void);

}  // namespace npkrt

#endif /* NPK_RUNTIME_CODE_INTERNAL_H */
