// The ownership phase (LANGUAGE.md §6.2-6.4): one forward dataflow analysis
// per function over a control-flow graph read off the function's NIR. It
// reports leaks (ARIA-014), use after free (ARIA-015) and double frees
// (ARIA-022), and writes into the NIR the drops of drop.npk bindings and
// `impl:Drop` destructors that the lowering emits.
#pragma once

#include "check/Checker.h"
#include "nir/NIR.h"

namespace npk {

// Checks every function of `nir` and writes its drops and drop flags into it
// (own/DropPlanner.h).
void checkOwnership(const SourceManager &sm, const Symbols &syms, DiagEngine &diags, nir::Module &nir);

} // namespace npk
