// Warnings: findings about a program that compiles, reported after the
// ownership phase over the checked tree. Each is a WARN entry of
// diag/Diagnostics.def; the DiagEngine says which are enabled and whether
// -Werror makes them errors. Nothing here changes the program.
#pragma once

#include "ast/AST.h"
#include "check/Checker.h"
#include "diag/Diag.h"

#include <functional>

namespace npk {

// Reports the enabled warnings for every function the checker saw whose
// module `skip` does not exclude (the driver skips the standard library).
void lintProgram(const Checker &checker, const std::function<bool(const Module &)> &skip, DiagEngine &diags);

} // namespace npk
