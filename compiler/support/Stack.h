// The compiler's phases recurse along the syntax tree, whose depth the parser
// bounds (kMaxTreeDepth in ast/AST.h). At the bound the deepest phase needs
// some 15 MiB of stack: more than a default main thread has, and far more
// than a `ulimit -s` may allow. The compiler therefore runs its work on a
// thread of its own with a stack that leaves a wide margin, also for
// sanitizer builds, whose frames are larger. The memory is reserved, and only
// used when a deep program needs it.
#pragma once

#include <cstddef>
#include <functional>

namespace npk {

constexpr size_t kCompilerStackBytes = size_t{256} << 20;

// Runs `work` to completion on a thread with a kCompilerStackBytes stack. When
// no such thread can be started (no memory for the stack), runs it on the
// calling thread instead, where shallow programs still compile.
void runWithCompilerStack(const std::function<void()> &work);

} // namespace npk
