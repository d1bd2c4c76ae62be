// The ownership phase (LANGUAGE.md §6.2-6.4): one forward dataflow analysis
// per function over a control-flow graph built from the typed AST. It reports
// leaks (ARIA-014), use after free (ARIA-015) and double frees (ARIA-022), and
// computes the drop plan that the lowering uses for drop.npk bindings and
// `impl:Drop` destructors.
#pragma once

#include "check/Checker.h"
#include "own/DropPlan.h"

namespace npk {

void checkOwnership(const SourceManager &sm, Program &program, const Symbols &syms, DiagEngine &diags,
                    ProgramDropPlans &plans);

} // namespace npk
