/* Private interface between core.cpp and the runtime's own unit tests. Not
 * installed, not part of the C ABI.
 */
#ifndef NPK_RUNTIME_CORE_INTERNAL_H
#define NPK_RUNTIME_CORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

namespace npkrt {

/* The shortest decimal digits (no leading or trailing zeros, at least one)
 * that read back as `v` in its own type: float when `is_float`, else double.
 * `v` is finite and not zero. Sets *exponent so that v ~ 0.d1d2... * 10^(*exponent + 1),
 * i.e. d1.d2... * 10^*exponent. Returns the number of digits written. */
size_t shortest_digits(double v, bool is_float, char digits[32], int *exponent);

/* Formats `v` as the runtime prints it (npk/runtime.h, npk_print_f64). The
 * buffer must hold 48 bytes. */
void format_float(char buffer[48], double v, bool is_float);

/* A trap: "<loc>: runtime error: <what>" on stderr, then the failure path
 * with `code` (failsafe, or exit 1). */
[[noreturn]] void trap_with(int32_t code, const char *loc, const char *what);

/* Whether the accounting mode (NPK_AUDIT=1, docs/runtime.md) is on; read once.
 * wildx.cpp retires freed pages in it. */
bool audit_enabled();

}  // namespace npkrt

#endif
