/* libnpkrt — the C ABI that code compiled by npkc links against.
 *
 * Every entry point validates its arguments. Misuse is answered with a return
 * code (-1 or NULL) and exactly one line on stderr; nothing here aborts or
 * crashes on a bad pointer. No C++ exception crosses this boundary.
 */
#ifndef NPK_RUNTIME_H
#define NPK_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- wildx: W^X executable pages ------------------------------------- */

/* Returns a page-aligned, zero-filled, WRITABLE (RW, never X) region of at
 * least n bytes (rounded up to whole pages; n == 0 counts as one byte), or
 * NULL when the process quota (NPK_WILDX_QUOTA, default 64 MiB) is exhausted
 * or the OS refuses. Also NULL for n < 0. Returning NULL prints nothing. */
void *npk_wildx_alloc(int64_t n);

/* WRITABLE -> EXECUTABLE (R+X). 0 on success; -1 plus one
 * "[WildX] panic: wildx_seal(<ptr>) rejected: <reason>" line for a null,
 * unknown, interior, already sealed or freed pointer, or a JIT function
 * handle (Jit.compile_*). Normally one mprotect; where the kernel refuses
 * W->X (PR_SET_MDWE) the page is copied into a memfd and that range mapped
 * r-x at the same address instead (one mmap). */
int32_t npk_wildx_seal(void *p);

/* Releases a page from either state. 0 on success; -1 plus one
 * "[WildX] panic: wildx_free(<ptr>) rejected: <reason>" line for a null,
 * unknown/foreign, interior or already freed pointer. A freed page is never
 * left executable. A JIT function handle pointer (from
 * npk_jit_compile_add_i32) is freed like npk_jit_fn_free; a module from
 * npk_jit_module_new (Jit.module_new) like npk_jit_module_free. */
int32_t npk_wildx_free(void *p);

/* The wildx registry's accounting, as of the call:
 *   live_bytes      bytes of allocations not yet freed (whole pages, guard
 *                   pages not counted): what the quota limits;
 *   quota_bytes     the limit on live_bytes (NPK_WILDX_QUOTA, default 64 MiB);
 *   cached_bytes    freed pages kept mapped (never executable) for reuse,
 *                   guard pages included; bounded, not counted by the quota;
 *   cached_blocks   the freed blocks holding them;
 *   reserved_bytes  address space reserved for wildx pages (PROT_NONE and
 *                   uncommitted where neither live nor cached).
 * The fields are read one by one without stopping other threads. */
typedef struct npk_wildx_stats_t {
  int64_t live_bytes;
  int64_t quota_bytes;
  int64_t cached_bytes;
  int64_t cached_blocks;
  int64_t reserved_bytes;
} npk_wildx_stats_t;

/* Fills *out. 0, or -1 plus one
 * "[WildX] panic: wildx_stats((nil)) rejected: null pointer" line. */
int32_t npk_wildx_stats(npk_wildx_stats_t *out);

/* ---- jit helpers ------------------------------------------------------ */

/* Writes `mov eax, edi; add eax, esi; ret` (89 f8 01 f0 c3) at the start of a
 * WRITABLE page. 0, or -1 plus a panic line if the page is not a WRITABLE
 * wildx page. */
int32_t npk_jit_install_add_i32(void *page);

/* Calls an EXECUTABLE page (or a JIT function handle pointer of signature
 * "i32(i32,i32)") as int32_t (*)(int32_t, int32_t) and returns what it
 * returns. A page that is not EXECUTABLE is refused: -1 plus a panic line
 * (ambiguous with a real -1 result; use npk_jit_try_call_i32_i32 to tell). */
int32_t npk_jit_call_i32_i32(void *page, int32_t a, int32_t b);

/* Checked form: 0 and *out set to the result; when the call is refused,
 * *out = 0, one panic line, and the reason as a failure code:
 * NPK_ERR_JIT_NOT_SEALED (205) for a page that is still writable,
 * NPK_ERR_JIT_NOT_LIVE (206) for a null, foreign, interior or freed pointer
 * (or, with NPK_WILDX_VERIFY, code changed since the seal). -1 for
 * out == NULL. `page` may also be a JIT function handle pointer
 * (npk_jit_compile_add_i32): then the function must be live, sealed and of
 * signature "i32(i32,i32)" (206 when freed, also after its memory was
 * reused; 207 NPK_ERR_JIT_SIGNATURE for another signature). */
int32_t npk_jit_try_call_i32_i32(void *page, int32_t a, int32_t b, int32_t *out);

/* ---- code memory: modules, signatures, checked calls ------------------- */
/*
 * The runtime keeps code it installs itself (Jit.compile_*, modules) in a
 * code arena that no mapping ever makes writable. Two backends:
 *   "memfd"    (default) code lives in a memfd mapped only r-x (MAP_SHARED,
 *              mseal'd where the kernel has it); installs and frees are
 *              pwrite/pwritev into the file: no page-table change at all;
 *   "mprotect" (fallback, chosen when an executable memfd is refused, or by
 *              NPK_JIT_BACKEND=mprotect) anonymous pages, RW while written,
 *              R+X after one mprotect per seal.
 * NPK_JIT_BACKEND=memfd|mprotect selects one (read once, at the first use).
 * Contracts: docs/runtime.md, "Code memory".
 */

/* A function handle: generation << 32 | slot. 0 is never a valid handle. A
 * handle stays refused forever once its function is freed, also after the
 * slot and the memory were reused for another function. */
typedef uint64_t npk_jit_fn;

/* An interned signature tag; 0 is "no signature". */
typedef uint32_t npk_jit_sig;

/* A set of functions sealed together. Opaque. */
typedef struct npk_jit_module npk_jit_module;

/* "memfd" or "mprotect": the backend new code goes to. Never NULL. */
const char *npk_jit_backend(void);

/* Interns a canonical signature "ret(arg,arg,...)": types are void (return
 * only), i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 ptr; no spaces; "()" is no
 * arguments. The same string always gives the same tag. 0 plus one
 * "[WildX] panic: jit_sig(<ptr>) rejected: <reason>" line for NULL or a
 * string that is not canonical. */
npk_jit_sig npk_jit_sig_intern(const char *canonical);

/* The canonical string of a tag (static storage), or NULL for an unknown tag. */
const char *npk_jit_sig_name(npk_jit_sig sig);

/* A new, empty module, or NULL when out of memory. */
npk_jit_module *npk_jit_module_new(void);

/* Adds a function: copies len (1..4 MiB) bytes of machine code, records its
 * signature and its name (copied; NULL gives "jit_fn#N") and returns its
 * handle, which no call accepts before npk_jit_module_seal. The entry is the
 * first byte. 0 plus one panic line for a NULL/sealed/freed module, NULL
 * code, len out of range, a bad signature or no free slot. */
npk_jit_fn npk_jit_module_add(npk_jit_module *m, const void *code, size_t len, npk_jit_sig sig,
                              const char *name);

/* Makes every added function callable at once: one pwritev (memfd) or one
 * mprotect (mprotect backend) for the whole module, and one registration
 * with perf/GDB. 0, or -1 plus one panic line (NULL, empty, already sealed or
 * freed module, arena full, or the OS refused; the module stays unsealed
 * and may be freed). */
int32_t npk_jit_module_seal(npk_jit_module *m);

/* Frees one function: overwrites its code with trap bytes (int3), so a raw
 * call of the old entry traps, and refuses the handle from then on. Its
 * memory returns to the arena with its module (a standalone function's at
 * once). 0, or -1 plus one panic line for a handle that is not live. */
int32_t npk_jit_fn_free(npk_jit_fn f);

/* Frees a module and every function of it still live (one write of trap
 * bytes over the module's code), sealed or not. 0, or -1 plus one panic line
 * for NULL, a module already freed or a pointer that is not a module (each
 * module pointer is looked up before it is read). The pointer is invalid
 * afterwards. */
int32_t npk_jit_module_free(npk_jit_module *m);

/* The entry of a live, sealed function with signature sig, or NULL plus one
 * "[WildX] panic: jit_fn_entry(<handle>) rejected: <reason>" line. The
 * pointer is valid until the function is freed. */
void *npk_jit_fn_entry(npk_jit_fn f, npk_jit_sig sig);

/* The name a function was given (or got automatically), NULL when not live.
 * Valid until the function is freed. */
const char *npk_jit_fn_name(npk_jit_fn f);

/* Why a checked call was refused: prints one
 * "[WildX] panic: <op>(<handle>) rejected: <reason>" line and returns
 * NPK_ERR_JIT_NOT_SEALED, NPK_ERR_JIT_NOT_LIVE or NPK_ERR_JIT_SIGNATURE. */
int32_t npk_jit_refuse(npk_jit_fn f, npk_jit_sig sig, const char *op);

/* `p => extern (R)(P...)` (LANGUAGE-2 A7.1): the entry address of the JIT
 * code p — a function handle (Jit.compile_*, modules) or a page sealed with
 * npk_wildx_seal — if it is live, sealed and tagged with the canonical
 * signature `sig` (npk_jit_sig_intern's syntax). Otherwise a trap: one
 * "<loc>: runtime error: ..." line and the failure path with 206 (not a live
 * function or page: null, foreign, freed, stale), 205 (not sealed) or 204
 * (untagged: a wildx_seal page; or tagged with another signature, which the
 * line names). The address stays valid until the code is freed. */
void *npk_jit_convert(void *p, const char *sig, const char *loc);

/* The slot table npk_jit_fn_lookup reads. Not for other use. */
typedef struct npk_jit_slot_entry {
  uint64_t key;   /* generation << 32 | signature << 8 | state */
  void *entry;
} npk_jit_slot_entry;
typedef struct npk_jit_slot_table {
  npk_jit_slot_entry *slots; /* stride NPK_JIT_SLOT_STRIDE bytes */
  uint32_t count;
} npk_jit_slot_table;
extern npk_jit_slot_table npk_jit_slots;
#define NPK_JIT_SLOT_STRIDE 32
#define NPK_JIT_STATE_SEALED 2u

/* The unchecked-cost check: the entry of f if it is live, sealed and has
 * signature sig, else NULL (no output). One compare of a 64-bit key; costs
 * about as much as the indirect call it guards. Code sealed on another
 * thread is callable once the handle was handed over with release/acquire
 * ordering (a mutex, an atomic store/load pair, a thread join). */
static inline void *npk_jit_fn_lookup(npk_jit_fn f, npk_jit_sig sig) {
  uint32_t index = (uint32_t)f;
  if (index >= __atomic_load_n(&npk_jit_slots.count, __ATOMIC_ACQUIRE)) return NULL;
  const npk_jit_slot_entry *slot =
      (const npk_jit_slot_entry *)((const char *)npk_jit_slots.slots + (size_t)index * NPK_JIT_SLOT_STRIDE);
  uint64_t expect = (f & ~(uint64_t)0xffffffffu) | ((uint64_t)sig << 8) | NPK_JIT_STATE_SEALED;
  if (__atomic_load_n(&slot->key, __ATOMIC_ACQUIRE) != expect) return NULL;
  return slot->entry;
}

/* Generated code carries none of the type data clang's -fsanitize=function
 * (part of -fsanitize=undefined) reads in front of a callee, and the byte
 * before a code page may not be mapped: a call into JIT code built with it
 * would fault in the check. The calls into JIT code in this header are
 * therefore not instrumented; a program that calls an npk_jit_fn_entry
 * pointer itself needs the same attribute on the calling function. */
#if defined(__clang__)
#define NPK_CALLS_JIT_CODE __attribute__((no_sanitize("function")))
#else
#define NPK_CALLS_JIT_CODE
#endif

/* Checked call of an i32(i32,i32) function: its result, or -1 plus one
 * "[WildX] panic: jit_fn_call_i32_i32(<handle>) rejected: <reason>" line
 * when the handle is not live, not sealed or of another signature. */
static inline NPK_CALLS_JIT_CODE int32_t npk_jit_fn_call_i32_i32(npk_jit_fn f, npk_jit_sig sig_i32_i32, int32_t a, int32_t b) {
  void *entry = npk_jit_fn_lookup(f, sig_i32_i32);
  if (entry == NULL) {
    npk_jit_refuse(f, sig_i32_i32, "jit_fn_call_i32_i32");
    return -1;
  }
  int32_t (*fn)(int32_t, int32_t);
  __builtin_memcpy(&fn, &entry, sizeof fn);
  return fn(a, b);
}

/* Jit.compile_add_i32's runtime half: a standalone function
 * `mov eax, edi; add eax, esi; ret` named "compile_add_i32#N", installed and
 * sealed, returned as a handle pointer (bit 63 set: not an address) that
 * Jit.call_i32_i32, npk_jit_try_call_i32_i32, npk_wildx_free and Jit.free
 * accept. NULL on failure with *err set to NPK_ERR_JIT_ALLOC (no slot or
 * arena memory) or NPK_ERR_JIT_INSTALL (the OS refused the write); err may
 * be NULL. */
void *npk_jit_compile_add_i32(int32_t *err);

/* ---- validated bytes: caller-supplied x86-64 machine code --------------- */
/*
 * Code from outside the runtime is decoded (Zydis) before it is installed,
 * and refused unless: every byte decodes, as complete instructions; no
 * instruction is privileged or system-level (syscall, int n, in/out, hlt,
 * cli/sti, segment, control or debug register moves, wrpkru, xrstor*,
 * wr[fg]sbase, VMX/SVM, far branches, ...: runtime/src/jit_bytes_rules.def);
 * no jmp or call is indirect; every direct branch (jmp, jcc, call, loop,
 * jrcxz, xbegin) lands on the first byte of an instruction of the code; the
 * last instruction is ret or jmp. int3 is allowed (a trap). This confines
 * control flow; it does not make loads and stores memory-safe.
 * Contracts and the error table: docs/runtime.md, "Validated bytes".
 * The codes (npk/jit_bytes_errors.def):
 *   230 LENGTH, 231 TRUNCATED, 232 UNDECODABLE, 233 FORBIDDEN,
 *   234 INDIRECT_BRANCH, 235 BRANCH_OUTSIDE, 236 BRANCH_INSIDE, 237 NO_END,
 *   238 SIGNATURE.
 * These functions exist on x86-64 hosts only and need libZydis at link
 * time (`libnpkrt.a -lZydis`; npkc adds it, as needed).
 */

/* Checks len bytes at code against the rules without printing anything:
 * 0 when they pass, else the NPK_ERR_JIT_BYTES_* code of the first refusal
 * (in decode order: the first instruction that is truncated, undecodable,
 * forbidden, an indirect branch or a branch out of the code; then the first
 * branch into the middle of an instruction; then the end rule) and, when
 * bad_offset is not NULL, its offset in *bad_offset (0 for LENGTH). NULL
 * code or len outside 1 byte..4 MiB is LENGTH; NPK_ERR_JIT_ALLOC (201) when
 * memory for the check runs out (more than 8 KiB of code). */
int32_t npk_jit_validate(const void *code, size_t len, size_t *bad_offset);

/* npk_jit_validate, then npk_jit_module_add (same arguments and result).
 * A refusal prints one line
 *   "[WildX] panic: jit_module_add_bytes rejected: <reason> at offset <N>: <instruction>"
 * (the instruction in Intel syntax, branch targets as offsets into the code;
 * the bytes in hex when they do not decode; no " at offset" part for
 * LENGTH), returns 0 and sets *err (err may be NULL) to the code. Code that
 * starts a live npk_alloc block (a Nitpick `wild` buffer) is also LENGTH
 * when len exceeds the block; other memory must hold len readable bytes.
 * A NULL or non-canonical sig is NPK_ERR_JIT_BYTES_SIGNATURE (238, the
 * signature check's line). When npk_jit_module_add refuses (it prints why),
 * *err is NPK_ERR_JIT_INSTALL. */
npk_jit_fn npk_jit_module_add_bytes(npk_jit_module *m, const void *code, size_t len, const char *sig,
                                    const char *name, int32_t *err);

/* Jit.compile_bytes's runtime half: validates len bytes at code (as
 * npk_jit_module_add_bytes, naming "jit_compile_bytes" in its line) and
 * installs them as a standalone function of signature sig (canonical, see
 * npk_jit_sig_intern) named "compile_bytes#N", sealed, returned as a handle
 * pointer exactly like npk_jit_compile_add_i32's: called with
 * Jit.call_i32_i32 / npk_jit_try_call_i32_i32 when sig is "i32(i32,i32)",
 * freed with npk_wildx_free / Jit.free. NULL on failure with *err set (err
 * may be NULL): a refusal's code (230..237), NPK_ERR_JIT_BYTES_SIGNATURE
 * (238) for a NULL or non-canonical sig (npk_jit_sig_intern prints its
 * line), NPK_ERR_JIT_ALLOC or NPK_ERR_JIT_INSTALL as for compile_add_i32. */
void *npk_jit_compile_bytes(const void *code, int64_t len, const char *sig, int32_t *err);

/* ---- function builder --------------------------------------------------- */
/*
 * Builds x86-64 code for one function at a time inside a module and adds it
 * with npk_jit_module_add (sealed, tagged, named and freed like any module
 * function). No writable pointer to code is ever handed out. Contract and
 * examples: docs/runtime.md, "Builder".
 *
 * Values are int32 ids > 0 naming mutable virtual registers ("variables")
 * of one type: NPK_JIT_TYPE_i32, _i64, _f64 or _ptr (npk/jit_ops.def). An
 * id names its function: an id of another function (or any other number)
 * is refused. Labels have ids of their own.
 *
 * Returns: calls that make a value or label return its id, or the NEGATED
 * refusal code; the others return 0 or the (positive) refusal code. Codes
 * are NPK_ERR_JIT_* from npk/jit_errors.def (210...). Each refusal prints
 * exactly one "[WildX] panic: jit_<op>(<module>) rejected: <reason>" line.
 * A refusal while a function is open poisons it: every later call on it
 * returns the same code (and prints one line) until npk_jit_end, which then
 * returns 0 with *err set and closes it; the module stays usable.
 * (npk_jit_begin while a function is open is refused with
 * NPK_ERR_JIT_OPEN, poisoned or not.) NULL,
 * freed or foreign module pointers are refused (NPK_ERR_JIT_MODULE), a
 * sealed module too (NPK_ERR_JIT_SEALED). One module is built by one thread
 * at a time.
 *
 * Traps of generated code: add_trap/sub_trap/mul_trap overflow executes ud2
 * (SIGILL); sdiv/srem/udiv/urem by zero and sdiv/srem of INT_MIN by -1 fault
 * in the division (SIGFPE).
 */
enum {
#define NPK_JIT_TYPE(name, number) NPK_JIT_TYPE_##name = number,
#define NPK_JIT_MEM(name, number, bytes, is_signed, type) NPK_JIT_MEM_##name = number,
#define NPK_JIT_OP(name, number, class) NPK_JIT_OP_##name = number,
#include "npk/jit_ops.def"
  NPK_JIT_MAX_PARAMS = 6
};
enum {
#define NPK_JIT_ERROR(name, code, reason) NPK_ERR_JIT_##name = code,
#include "npk/jit_errors.def"
  NPK_ERR_JIT_LAST
};

/* Opens a function in m with signature `sig` ("ret(params)": ret is void,
 * i32, i64, f64 or ptr; 0..6 params of i32, i64, f64, ptr; the canonical
 * syntax of npk_jit_sig_intern) and name (copied; NULL or "" gives
 * "jit_fn#N"). 0, or NPK_ERR_JIT_MODULE/SEALED, _OPEN (a function is open
 * in m), _BAD_SIG, _COUNT (more than 6 parameters), _LIMIT (no memory),
 * _UNSUPPORTED (a host other than x86-64). */
int32_t npk_jit_begin(npk_jit_module *m, const char *sig, const char *name);

/* The value of parameter `index` (0-based; the same id every call), or
 * -NPK_ERR_JIT_COUNT when out of range. */
int32_t npk_jit_param(npk_jit_module *m, int32_t index);

/* A new variable holding a constant, of type i32, i64 or f64. */
int32_t npk_jit_const_i32(npk_jit_module *m, int32_t value);
int32_t npk_jit_const_i64(npk_jit_module *m, int64_t value);
int32_t npk_jit_const_f64(npk_jit_module *m, double value);

/* A new variable of `type` (NPK_JIT_TYPE_*), 0 (0.0, null) until set. */
int32_t npk_jit_var(npk_jit_module *m, int32_t type);

/* dst := src; both of one type (NPK_ERR_JIT_TYPE otherwise). */
int32_t npk_jit_set(npk_jit_module *m, int32_t dst, int32_t src);

/* A new variable := a `op` b, op one of NPK_JIT_OP_* (npk/jit_ops.def says
 * the operand types of each class; add and sub also take ptr, i64 giving
 * ptr). */
int32_t npk_jit_op(npk_jit_module *m, int32_t op, int32_t a, int32_t b);

/* A new variable := c != 0 ? a : b; c is i32, a and b of one type. */
int32_t npk_jit_select(npk_jit_module *m, int32_t c, int32_t a, int32_t b);

/* A new variable of `type` := value converted: i32 -> i64 sign-extends,
 * i64 -> i32 truncates, i32/i64 -> f64 rounds, f64 -> i32/i64 truncates
 * toward zero (out of range or NaN gives INT_MIN / INT64_MIN), i64 <-> ptr
 * keeps the bits. Other pairs (and a type to itself) are NPK_ERR_JIT_TYPE. */
int32_t npk_jit_cast(npk_jit_module *m, int32_t type, int32_t value);

/* A new variable := the `mem` (NPK_JIT_MEM_*) at ptr + offset: i32 for the
 * 8-, 16- and 32-bit kinds (sign- or zero-extended), i64, f64 or ptr. ptr
 * must be of type ptr. Memory is not checked: a bad address faults. */
int32_t npk_jit_load(npk_jit_module *m, int32_t mem, int32_t ptr, int32_t offset);

/* Stores value (of the type npk_jit_load would give for `mem`; the 8- and
 * 16-bit kinds keep its low bits) at ptr + offset. */
int32_t npk_jit_store(npk_jit_module *m, int32_t mem, int32_t ptr, int32_t offset, int32_t value);

/* A new label (id), placed later with npk_jit_place (once: a second place is
 * NPK_ERR_JIT_LABEL_TWICE). Jumping to a label never placed is
 * NPK_ERR_JIT_LABEL_UNPLACED at npk_jit_end. */
int32_t npk_jit_label(npk_jit_module *m);
int32_t npk_jit_place(npk_jit_module *m, int32_t label);
int32_t npk_jit_jump(npk_jit_module *m, int32_t label);
/* Jumps to label when cond (i32) != 0. */
int32_t npk_jit_branch(npk_jit_module *m, int32_t cond, int32_t label);

/* Pushes an argument of the next call (at most 6 pending). */
int32_t npk_jit_arg(npk_jit_module *m, int32_t value);

/* Calls with the pending arguments, which must match the callee's
 * signature in number and types (NPK_ERR_JIT_COUNT, _TYPE). Returns the
 * result's new variable, or 0 for a void callee.
 * npk_jit_call_fn: a function of the same module added earlier and not yet
 * sealed (NPK_ERR_JIT_CALLEE otherwise; calls to it trap (int3) once it is
 * freed). npk_jit_call_self: the function being built (recursion).
 * npk_jit_call_c: the C function at addr (non-NULL) with builder signature
 * sig; variadic callees work (al holds the number of f64 arguments). */
int32_t npk_jit_call_fn(npk_jit_module *m, npk_jit_fn callee);
int32_t npk_jit_call_self(npk_jit_module *m);
int32_t npk_jit_call_c(npk_jit_module *m, void *addr, const char *sig);

/* Returns value (of the signature's return type) or nothing (void). */
int32_t npk_jit_ret(npk_jit_module *m, int32_t value);
int32_t npk_jit_ret_void(npk_jit_module *m);

/* Finishes the open function: checks labels and that no path reaches the
 * end without a return, allocates registers, encodes and adds the code to m
 * (npk_jit_module_add). The handle, callable after npk_jit_module_seal; or 0
 * with *err (may be NULL) set to the refusal code: NPK_ERR_JIT_NO_FUNCTION
 * (nothing open, e.g. a second end), _LABEL_UNPLACED, _NO_RETURN, _LIMIT,
 * _ADD (npk_jit_module_add refused; it printed the line) or the code
 * that poisoned the function. The function is closed either way. */
npk_jit_fn npk_jit_end(npk_jit_module *m, int32_t *err);

/* The builder as jit.npk reaches it, where a function is a pointer (the
 * handle pointer npk_wildx_free and npk_jit_convert take):
 * npk_jit_end_pointer is npk_jit_end passing the handle as a pointer (NULL
 * on a refusal); npk_jit_call_fn_pointer is npk_jit_call_fn of such a
 * pointer (a pointer that is not one is -NPK_ERR_JIT_CALLEE with one panic
 * line); npk_jit_call_c_symbol is npk_jit_call_c of the C function `name`
 * as the dynamic linker finds it from the program (dlsym RTLD_DEFAULT: the
 * program's libraries, e.g. libc's "abs"), -NPK_ERR_JIT_CALLEE with one
 * panic line when there is none. */
void *npk_jit_end_pointer(npk_jit_module *m, int32_t *err);
int32_t npk_jit_call_fn_pointer(npk_jit_module *m, void *callee);
int32_t npk_jit_call_c_symbol(npk_jit_module *m, const char *name, const char *sig);

/* ---- wild heap ------------------------------------------------------- */

/* n bytes of zeroed heap memory, or NULL (n < 0 or out of memory). */
void *npk_alloc(int64_t n);

/* Releases npk_alloc memory. 0, or -1 plus one
 * "[Wild] panic: free(<ptr>) rejected: <reason>" line for null, foreign,
 * interior or already freed pointers. */
int32_t npk_free(void *p);

/* ---- failure, traps, exit ---------------------------------------------- */

/* Error codes the runtime and the compiler use. Programs see them as the
 * argument of failsafe(). */
enum {
  NPK_ERR_OVERFLOW = 101,    /* integer + - * overflowed */
  NPK_ERR_DIV_ZERO = 102,    /* integer / or % by zero (or INT_MIN / -1, INT_MIN % -1) */
  NPK_ERR_CAST_RANGE = 103,  /* `expr => T` value does not fit T */
  NPK_ERR_INDEX = 104,       /* index out of bounds (`T[N]` element, get_argv) */
  NPK_ERR_LOOP_STEP = 105,   /* `loop`/`till` step is not positive */
  NPK_ERR_JIT_ALLOC = 201,   /* Jit.compile_*: wildx_alloc returned NULL */
  NPK_ERR_JIT_INSTALL = 202, /* Jit.compile_*: installing code failed */
  NPK_ERR_JIT_SEAL = 203,    /* Jit.compile_*: sealing failed */
  NPK_ERR_JIT_CONVERT = 204, /* `p => extern (R)(P...)`: the code has no or another signature tag */
  NPK_ERR_JIT_NOT_SEALED = 205, /* a JIT page called before it was sealed */
  NPK_ERR_JIT_NOT_LIVE = 206,   /* not a live JIT page or function (null, freed, stale, foreign) */
  NPK_ERR_JIT_SIGNATURE = 207,  /* a JIT function called with another signature */
  /* NPK_ERR_JIT_BYTES_<NAME>: refusals of caller-supplied code (230..239) */
#define NPK_JIT_BYTES_ERROR(name, code, reason) NPK_ERR_JIT_BYTES_##name = code,
#include "npk/jit_bytes_errors.def"
#undef NPK_JIT_BYTES_ERROR
};

/* Called first by the `main` that npkc generates (not by other users of the
 * library): installs handlers for SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT
 * that write what stdout still holds in its buffer, then re-raise the signal
 * with the default disposition, so the process still dies by that signal.
 * They run on an alternate stack (a stack overflow is a SIGSEGV too). */
void npk_start(void);

/* The program's arguments (C main's argc/argv, kept for the whole process):
 * npk_set_args stores them (the generated main calls it after npk_start);
 * npk_get_argc is the number of user arguments, the program name not
 * counted; npk_get_argv(i, len, loc) is user argument i (0-based) with its
 * byte count in *len, or trap 104 (NPK_ERR_INDEX) at loc when i is out of
 * range (LANGUAGE-2 A8, get_argc/get_argv). */
void npk_set_args(int32_t argc, char **argv);
int32_t npk_get_argc(void);
const char *npk_get_argv(int32_t i, int64_t *len, const char *loc);

/* Registers the program's failsafe(tbb32) function; NULL means none. */
void npk_set_failsafe(int32_t (*failsafe)(int32_t code));

/* An error reached `raw` unhandled: calls failsafe(code) if registered (and
 * exits 1 should it return), otherwise prints
 * "error: unhandled failure (code N)" to stderr and exits 1. */
__attribute__((noreturn)) void npk_fail(int32_t code);

/* A runtime trap at source location `loc` ("file:line:col"): prints
 * "<loc>: runtime error: <what>" to stderr, then npk_fail(code). */
__attribute__((noreturn)) void npk_trap(int32_t code, const char *loc);

/* Traps that name their operands. Each prints one
 * "<loc>: runtime error: <what>" line like npk_trap, then npk_fail(code).
 * NULL strings print as "<unknown>" / "?".
 *
 * npk_trap_int_op: an integer operator `op` ("+", "-", "*", "/", "%", "<<",
 * ">>") on `type` ("int32", ...) with operands lhs and rhs, each printed as
 * signed when its NPK_TRAP_*_SIGNED bit is set in `flags`:
 *   101 "integer overflow: 2147483647 + 1 (int32)"
 *   101 with NPK_TRAP_NEGATE (unary minus of rhs): "integer overflow: -(-128) (int8)"
 *   101 for << and >>: "shift amount 32 out of range for int32 (<<)"
 *   102 "division by zero: 7 / 0", "remainder by zero: 7 % 0",
 *       "division overflow: -2147483648 / -1", "remainder overflow: ... % -1"
 * npk_trap_cast_int / npk_trap_cast_float (code 103): `value => type` does not
 * fit: "value 300 out of range for uint8 (=> uint8)"; a float value prints
 * like npk_print_f64 (npk_print_f32 when is_float). */
enum { NPK_TRAP_LHS_SIGNED = 1, NPK_TRAP_RHS_SIGNED = 2, NPK_TRAP_NEGATE = 4 };
__attribute__((noreturn)) void npk_trap_int_op(int32_t code, const char *loc, const char *op, const char *type,
                                               int64_t lhs, int64_t rhs, int32_t flags);
__attribute__((noreturn)) void npk_trap_cast_int(const char *loc, const char *type, int64_t value, int32_t is_signed);
__attribute__((noreturn)) void npk_trap_cast_float(const char *loc, const char *type, double value, int32_t is_float);

/* Trap 104 (NPK_ERR_INDEX) for an index outside 0..N-1 of an array `type`
 * ("int32[5]"): "index 7 out of bounds for int32[5]", the index printed as
 * signed when is_signed is not 0; then npk_fail(104) like npk_trap. */
__attribute__((noreturn)) void npk_trap_index(const char *loc, const char *type, int64_t index, int32_t is_signed);

/* What npkc-generated code knows about its trap sites: one table per
 * program, written by the compiler's lowering (nothing else need), of sites
 * and of the texts they name by index (NPK_TRAP_NO_TEXT: none). A site is
 * its place (file, line, column), its trap code, which of the traps above
 * prints it (kind), their flags (NPK_TRAP_*_SIGNED, NPK_TRAP_NEGATE for an
 * integer operator; 1 for a signed value or index, or a float32 value), the
 * operator and the type. The table holds numbers and one array of text
 * pointers, so a program's checks need no relocation per site. */
enum {
  NPK_TRAP_SITE_PLAIN,      /* npk_trap(code, loc) */
  NPK_TRAP_SITE_INT_OP,     /* npk_trap_int_op: a = lhs, b = rhs */
  NPK_TRAP_SITE_CAST_INT,   /* npk_trap_cast_int: a = value */
  NPK_TRAP_SITE_CAST_FLOAT, /* npk_trap_cast_float: a = the double's bits */
  NPK_TRAP_SITE_INDEX       /* npk_trap_index: a = index */
};
#define NPK_TRAP_NO_TEXT 0xffffffffu
struct npk_trap_site {
  uint32_t file, line, column;
  int32_t code;
  uint32_t kind, flags, op, type;
};
struct npk_trap_table {
  const struct npk_trap_site *sites;
  const char *const *texts;
  uint32_t sites_count, texts_count;
};

/* The one trap generated code calls: site number `site` of the table, with
 * its operands a and b; prints "<file>:<line>:<column>" as the loc and
 * otherwise what the trap the site names prints. A NULL table, a site or
 * text index out of range, or an unknown kind still reports one line
 * (npk_trap with the site's code, 0 without a site). */
__attribute__((noreturn)) void npk_trap_at(const struct npk_trap_table *table, uint32_t site, int64_t a, int64_t b);

/* `raw` met an error at `loc`; `what` names the operand ("call to `f`").
 * With a failsafe registered (and not running) this is npk_fail(code).
 * Otherwise it first prints "<loc>: runtime error: raw: <what> failed with
 * code N", then npk_fail(code) prints "error: unhandled failure (code N)". */
__attribute__((noreturn)) void npk_fail_at(int32_t code, const char *loc, const char *what);

/* `exit N;` — flushes output and ends the process. No drops, no defers.
 * Inside failsafe (called by npk_fail), a status whose low 8 bits are 0
 * would report success: it prints one "error: failsafe exited with status N,
 * which reports success; exiting with 1" line and exits 1 instead. */
__attribute__((noreturn)) void npk_exit(int32_t status);

/* ---- strings ---------------------------------------------------------- */

/* A Nitpick `string` value: `len` bytes at `ptr`, followed by a NUL byte that
 * `len` does not count. Every string value a program holds keeps that NUL
 * (literals, copies made by npk_string_from_c, zero-initialised bindings,
 * which are ""), so a `string` passes to a C `const char*` parameter as `ptr`
 * without a copy; {NULL, 0}, which only zeroed memory read as a string can
 * hold, passes as "". C must not write through it, free it or keep it. */
typedef struct npk_string {
  const char *ptr;
  int64_t len;
} npk_string;

/* The value of a call to an extern declared to return `string`: copies the
 * bytes of s up to its NUL into memory that lives until the process ends
 * (each call makes its own copy; nothing frees it) and returns them, NUL
 * included. NULL and "" give "" (len 0) without a copy. Out of memory gives ""
 * plus one "[String] panic: string_from_c(<ptr>) rejected: ..." line. A
 * non-NULL s must point at a NUL-terminated string, which is C's contract
 * for a `const char*` result. */
npk_string npk_string_from_c(const char *s);

/* ---- output (stream 1 = stdout, 2 = stderr) --------------------------- */
/* Any other stream number prints nothing. npk_print_str writes len bytes of s
 * (len < 0: up to the NUL; s == NULL: nothing). npk_print_f64 and
 * npk_print_f32 print the fewest digits that read back as the same double or
 * float: plain decimal with at least one digit after the point ("10.0",
 * "1.1", "-0.0", "0.0001") when 1e-4 <= |v| < 1e21, else d[.ddd]e(+|-)xx
 * ("1e+21", "1.5e-05", "5e-324"); "inf", "-inf", "nan".
 * npk_print_bool prints "true"/"false"; npk_print_ptr "0x" + lowercase hex. */

void npk_print_str(int32_t stream, const char *s, int64_t len);
void npk_print_i64(int32_t stream, int64_t v);
void npk_print_u64(int32_t stream, uint64_t v);
void npk_print_f64(int32_t stream, double v);
void npk_print_f32(int32_t stream, float v);
void npk_print_bool(int32_t stream, int32_t v);
void npk_print_ptr(int32_t stream, const void *p);

#ifdef __cplusplus
}
#endif

#endif /* NPK_RUNTIME_H */
