/* C's layout of the structs in run/sizeof_alignof.npk, the same fields in
 * the same order: @sizeof/@alignof must agree (LANGUAGE-2 A6). */
#include <stdalign.h>
#include <stdint.h>

struct Mixed { int8_t a; int64_t b; int16_t c; };
struct Small { uint8_t a; uint16_t b; uint8_t c; };
struct Nested { int32_t n; struct Small s; double f; _Bool flag; };
struct Ptrs { void *p; int32_t (*fn)(int32_t); float x; };

int64_t c_size(int32_t which) {
  switch (which) {
  case 0: return sizeof(struct Mixed);
  case 1: return sizeof(struct Small);
  case 2: return sizeof(struct Nested);
  case 3: return sizeof(struct Ptrs);
  default: return -1;
  }
}

int64_t c_align(int32_t which) {
  switch (which) {
  case 0: return alignof(struct Mixed);
  case 1: return alignof(struct Small);
  case 2: return alignof(struct Nested);
  case 3: return alignof(struct Ptrs);
  default: return -1;
  }
}
