/* Private interface between the wildx registry (wildx.cpp), the JIT helpers
 * (jit.cpp), the wild heap (core.cpp) and the runtime's own unit tests. Not installed, not part of the
 * C ABI: code compiled by npkc never sees it.
 */
#ifndef NPK_RUNTIME_WILDX_INTERNAL_H
#define NPK_RUNTIME_WILDX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

namespace npkrt {

/* Prints exactly one "[WildX] panic: <op>(<ptr>) rejected: <reason>" line to
 * stderr. */
void wildx_panic(const char *op, const void *p, const char *reason);

/* Starts a write into the WRITABLE allocation that begins at p: on success
 * the allocation is held in the INSTALLING state (seal and free are refused
 * as busy) until wildx_end_write(p); *bytes is set to its size. On refusal
 * prints one panic line naming `op` and returns false (*bytes = 0). */
bool wildx_begin_write(void *p, const char *op, size_t *bytes);

/* Ends a write started by a successful wildx_begin_write(p). */
void wildx_end_write(void *p);

/* 0 when p is the start of an EXECUTABLE allocation (and, with
 * NPK_WILDX_VERIFY, its bytes still hash to the value recorded at seal).
 * Otherwise prints one panic line naming `op` and returns why:
 * NPK_ERR_JIT_NOT_SEALED for an allocation that is still writable (or being
 * installed or sealed), NPK_ERR_JIT_NOT_LIVE for anything else (null, foreign,
 * interior, freed or being freed, or code changed since it was sealed). */
int32_t wildx_check_callable(const void *p, const char *op);
/* The same check without the panic line: 0, or the code with *reason set. */
int32_t wildx_callable_refusal(const void *p, const char **reason);

/* Bounds of the cache of freed blocks kept mapped for reuse. Past either,
 * the oldest blocks go back to the OS until half of each is left; a block
 * larger than a quarter of the byte bound is never cached. */
constexpr uint32_t kWildxCacheMaxBlocks = 64;
constexpr size_t kWildxCacheMaxBytes = size_t{4} << 20;

/* ---- test hooks ------------------------------------------------------- */

/* Parses a byte count: decimal digits with an optional K, M or G suffix
 * (powers of 1024, either case, optionally followed by "B" or "iB"). Returns
 * false for anything else, for negative values and on overflow. */
bool wildx_parse_byte_count(const char *text, int64_t *out);

/* Replaces the live-bytes quota (normally read once from NPK_WILDX_QUOTA) and
 * returns the previous one. For tests only; racing allocations see either. */
int64_t wildx_test_set_quota(int64_t bytes);

/* Bytes currently held by live (not freed) wildx allocations. */
int64_t wildx_live_bytes(void);

/* The page size the registry rounds to. */
size_t wildx_page_size(void);

/* Whether p is the start of a live npk_alloc block; then *bytes is its size
 * (core.cpp; the validator checks a code length against it). */
bool heap_block_bytes(const void *p, int64_t *bytes);

/* Slots of the npk_alloc registry's tables, all shards together (core.cpp). */
size_t heap_test_registry_slots(void);

/* 64-bit FNV-1a over n bytes (the NPK_WILDX_VERIFY hash). */
uint64_t wildx_fnv1a(const void *data, size_t n);

}  // namespace npkrt

#endif /* NPK_RUNTIME_WILDX_INTERNAL_H */
