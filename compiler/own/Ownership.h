// The ownership phase (LANGUAGE.md §6.2-6.4): one forward dataflow analysis
// per function over a control-flow graph read off the function's NIR. It
// reports leaks (ARIA-014), use after free (ARIA-015) and double frees
// (ARIA-022), and writes into the NIR the drops of drop.npk bindings and
// `impl:Drop` destructors that the lowering emits.
#pragma once

#include "check/Checker.h"
#include "nir/NIR.h"

#include <functional>

namespace npk {

// How the phase reports what it finds: as errors (the language's rule), or,
// for `--ownership-errors=warn` (a developer option: the soundness oracle
// builds rejected programs with it to measure the checker's precision), as
// warnings with the same codes, so the program is lowered and built. The
// drops and drop flags written into the NIR are the same either way.
enum class OwnershipReport { Errors, Warnings };

// Checks every function of `nir` and writes its drops and drop flags into it
// (own/DropPlanner.h).
void checkOwnership(const SourceManager &sm, const Symbols &syms, DiagEngine &diags, nir::Module &nir,
                    OwnershipReport report = OwnershipReport::Errors);
// The same diagnostics without a whole module: each function's NIR is
// built, checked, handed to `checked` (if any) and released in turn, and no
// drops are planned (`npkc check`; `npkc build` before it lowers).
void checkOwnershipOnly(const SourceManager &sm, const Symbols &syms, DiagEngine &diags,
                        OwnershipReport report = OwnershipReport::Errors,
                        const std::function<void(nir::Func &)> &checked = {});
// The drops and drop flags of one checked function, written into its NIR
// (its diagnostics were reported when it was checked).
void planOwnership(nir::Func &f);

} // namespace npk
