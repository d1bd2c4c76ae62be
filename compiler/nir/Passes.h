// The NIR passes that run after drop elaboration and before lowering, in
// the order runPasses applies them. Each lives in its own file; a new one is
// a file, a declaration here and a line in Passes.cpp.
#pragma once

#include "nir/NIR.h"

namespace npk::nir {

// Marks each function that can never fail (no `fail`, no `return` of a
// Result value) `plainReturn`: it returns its value without a Result, and a
// call of it costs what a C call costs (ResultElision.cpp).
void elideResults(Func &f);

// Every pass, on one function (each pass reads and writes its function only).
void runPasses(Func &f);
void runPasses(Module &m);

} // namespace npk::nir
