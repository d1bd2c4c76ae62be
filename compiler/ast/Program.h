// A whole program: every module the main file reaches, loaded once each
// (driver/Modules.h loads it; every later phase reads it).
#pragma once

#include "ast/AST.h"

#include <memory>
#include <vector>

namespace npk {

struct Program {
  std::vector<std::unique_ptr<Module>> modules; // dependencies before dependents
  Module *main = nullptr;
};

} // namespace npk
