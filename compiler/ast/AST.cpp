#include "ast/AST.h"

namespace npk {

Builtin builtinNamed(std::string_view name) {
#define BUILTIN(Kind, Spelling)                                                                                         \
  if (name == Spelling) return Builtin::Kind;
#include "ast/Builtins.def"
  return Builtin::None;
}

bool isDeallocatorName(std::string_view name) {
  for (std::string_view word : {"free", "destroy", "release"}) {
    if (name == word) return true;
    if (name.size() > word.size() && name.ends_with(word) && name[name.size() - word.size() - 1] == '_') return true;
  }
  return false;
}

std::string qualifierText(uint8_t q) {
  std::string s;
  if (q & QualFixed) s += "fixed ";
  if (q & QualWild) s += "wild ";
  if (q & QualWildx) s += "wildx ";
  if (q & QualBorrowMut) s += "$$m ";
  if (q & QualBorrowImm) s += "$$i ";
  if (q & QualConst) s += "const ";
  return s;
}

} // namespace npk
