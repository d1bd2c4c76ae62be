/* The reference runtime's JIT lifecycle, reproduced as the baseline the npk
 * runtime is measured against: a fresh mapping at a random placement hint per
 * page, an FNV-1a hash of the whole page, mprotect to R+X, call, munmap. */
#ifndef NPK_BENCH_REFERENCE_LIFECYCLE_H
#define NPK_BENCH_REFERENCE_LIFECYCLE_H

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const unsigned char kReferenceAddI32[] = {0x89, 0xf8, 0x01, 0xf0, 0xc3};

static inline uint64_t reference_fnv1a(const unsigned char *bytes, size_t n) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) {
    hash ^= bytes[i];
    hash *= 0x100000001b3ull;
  }
  return hash;
}

/* One lifecycle; returns a + b from the generated code, or -1 if the OS
 * refused. *rng is the caller's xorshift state for the placement hint. */
static inline int32_t reference_lifecycle(uint64_t *rng, int32_t a, int32_t b, uint64_t *hash_sink) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  *rng ^= *rng << 13;
  *rng ^= *rng >> 7;
  *rng ^= *rng << 17;
  void *hint = (void *)(uintptr_t)(0x100000000000ull + (*rng % (1ull << 28)) * page);
  unsigned char *p = (unsigned char *)mmap(hint, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return -1;
  memcpy(p, kReferenceAddI32, sizeof kReferenceAddI32);
  *hash_sink += reference_fnv1a(p, page);
  int32_t result = -1;
  if (mprotect(p, page, PROT_READ | PROT_EXEC) == 0) {
    int32_t (*fn)(int32_t, int32_t);
    memcpy(&fn, &p, sizeof fn);
    result = fn(a, b);
  }
  munmap(p, page);
  return result;
}

#endif /* NPK_BENCH_REFERENCE_LIFECYCLE_H */
