// Result elision: a function that can never fail returns its plain value.
//
// A function yields `Result<T>`, and every caller branches on the error
// flag. A function fails only by its own `fail` or by `return` of a Result
// value (which may hold an error): `raw f()` of a failing callee stops the
// program instead of failing the caller, so the property is not transitive.
// A function with neither returns `T` (or nothing) directly; its call sites
// rebuild the never-failing Result, which LLVM folds away, so `raw` and `?`
// on it cost nothing. `main` and `failsafe` keep the Result ABI the entry
// point calls them with.
#include "nir/Passes.h"

#include "check/Types.h"

namespace npk::nir {

namespace {

bool canFail(const Func &f) {
  for (const Block &b : f.blocks) {
    if (b.dead) continue;
    for (const Inst &in : b.insts) {
      if (in.op != Op::Ret) continue;
      if (in.leave == ExitKind::Fail) return true;
      if (in.leave == ExitKind::Return && in.operand != kNoTemp && in.ty && in.ty->isResult()) return true;
    }
  }
  return false;
}

} // namespace

void elideResults(Func &f) { f.plainReturn = !f.decl->isMain && !f.decl->isFailsafe && !canFail(f); }

} // namespace npk::nir
