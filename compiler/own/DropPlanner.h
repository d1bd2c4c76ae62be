// Drop elaboration: reads the drops of one function off the ownership
// fixpoint and writes them into its NIR. At every scope exit, each
// automatically released binding is dropped (a `drop` after the
// `scope.exit`) without a test where every path still owns it, skipped where
// no path does, and guarded by a runtime drop flag only where paths disagree;
// a struct value overwritten by a `store` is dropped before it. A flagged
// binding's flag turns true where it starts owning (`flag` after its `let`,
// `param` or `store`) and false where it is released, moved or transferred
// (listed on the instruction that does it).
#pragma once

#include "own/Dataflow.h"

namespace npk::own {

void planDrops(const Cfg &cfg, const Solution &sol, nir::Func &f);

} // namespace npk::own
