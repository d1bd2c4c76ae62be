// The compiler's phases recurse along the syntax tree, whose depth the parser
// bounds (kMaxTreeDepth in ast/AST.h). At the bound the deepest phase needs
// some 15 MiB of stack: more than a default main thread has, and far more
// than a `ulimit -s` may allow. The compiler therefore runs its work on a
// thread of its own with a stack that leaves a wide margin, also for
// sanitizer builds, whose frames are larger. The memory is reserved, and only
// used when a deep program needs it. When it cannot be reserved, the work runs
// on the calling thread and the parser's bound shrinks to that thread's stack
// (treeDepthForStack), so deep code is a diagnostic there, never a crash.
#pragma once

#include <cstddef>
#include <functional>

namespace npk {

constexpr size_t kCompilerStackBytes = size_t{256} << 20;

// Runs `work` to completion on a thread with a kCompilerStackBytes stack. When
// no such thread can be started (no address space for the stack, as under a
// tight `ulimit -v`), runs it on the calling thread instead, with the stack
// that thread has (`ulimit -s`).
void runWithCompilerStack(const std::function<void()> &work);

// The stack the compiler's work runs with: kCompilerStackBytes on its own
// thread (and outside runWithCompilerStack), else the calling thread's limit.
size_t compilerStackBytes();

// How deep the syntax tree may nest on the stack the work runs with: `bound`
// with the full stack, proportionally less on a smaller one, with a margin
// for the frames of every phase (also in sanitizer builds).
int treeDepthForStack(int bound);

} // namespace npk
