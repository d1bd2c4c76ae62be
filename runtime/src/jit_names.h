/* Names of JIT code for tools: perf map, perf jitdump, GDB's JIT interface.
 * Private to the runtime (code.cpp). */
#ifndef NPK_RUNTIME_JIT_NAMES_H
#define NPK_RUNTIME_JIT_NAMES_H

#include <stddef.h>
#include <stdint.h>

namespace npkrt {

struct NamedCode {
  const void *entry;
  uint32_t size;
  const char *name;
};

/* Whether any tool wants names now: NPK_JIT_PERFMAP, NPK_JIT_DUMP,
 * NPK_JIT_GDB=1, or (NPK_JIT_GDB unset) a debugger with its breakpoint in
 * __jit_debug_register_code. Cheap: checked once per seal. */
bool jit_names_wanted(void);

/* Announces the functions of one seal (code occupying [start, start+bytes))
 * to every tool switched on: a perf-map line each (NPK_JIT_PERFMAP=1), a
 * jitdump load record each (NPK_JIT_DUMP=1), and one GDB JIT registration
 * for the whole seal. Returns the GDB registration (or NULL) to pass to
 * jit_names_release when the code goes away. */
void *jit_names_announce(const void *start, size_t bytes, const NamedCode *fns, uint32_t count);

/* Withdraws a GDB registration (NULL is ignored). */
void jit_names_release(void *registration);

/* Fork: the prepare handler holds the names lock; both sides release it. */
void jit_names_before_fork(void);
void jit_names_after_fork(bool child);

}  // namespace npkrt

#endif /* NPK_RUNTIME_JIT_NAMES_H */
