/* Test hooks of the validator (validate.cpp): its tests and fuzz target
 * compare the fast path with Zydis. Not installed. */
#ifndef NPK_RUNTIME_VALIDATE_INTERNAL_H
#define NPK_RUNTIME_VALIDATE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

namespace npkrt {

/* npk_jit_validate with every instruction read by Zydis (no fast path). */
int32_t validate_test_zydis_only(const void *code, size_t len, size_t *bad_offset);

/* The length the fast path reads at code (avail bytes there), or 0 when it
 * leaves the instruction to Zydis. */
size_t validate_test_fast_length(const void *code, size_t avail);

}  // namespace npkrt

#endif /* NPK_RUNTIME_VALIDATE_INTERNAL_H */
