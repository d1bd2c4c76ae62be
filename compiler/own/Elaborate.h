// Drop elaboration: writes a function's drop plan into its NIR as `drop`
// instructions (after the `scope.exit` of each exit, before a `store` over a
// live struct value) and `flag` instructions (where a flagged binding starts
// or stops owning its value), so that the lowering reads the drops off the
// NIR and nothing else.
#pragma once

#include "nir/NIR.h"
#include "own/DropPlan.h"

namespace npk::own {

void elaborateDrops(nir::Func &f, const DropPlan &plan);

} // namespace npk::own
