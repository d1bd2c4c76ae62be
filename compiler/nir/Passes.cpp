#include "nir/Passes.h"

namespace npk::nir {

void runPasses(Func &f) { elideResults(f); }

void runPasses(Module &m) {
  for (Func &f : m.funcs) runPasses(f);
}

} // namespace npk::nir
