// Reads the drop plan of one function off the ownership fixpoint (see
// DropPlan.h): at every scope exit, each automatically released binding is
// dropped without a test where every path still owns it, skipped where no
// path does, and guarded by a runtime drop flag only where paths disagree.
#pragma once

#include "own/Dataflow.h"

namespace npk::own {

void planDrops(const Cfg &cfg, const Solution &sol, DropPlan &plan);

} // namespace npk::own
