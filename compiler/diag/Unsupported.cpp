#include "diag/Unsupported.h"

#include <cctype>
#include <charconv>

namespace npk {

namespace {
struct Entry {
  std::string_view text;
  const char *what;
};
constexpr Entry kWords[] = {
#define UNSUPPORTED_WORD(Text, What) {Text, What},
#include "diag/Unsupported.def"
};
constexpr Entry kTypes[] = {
#define UNSUPPORTED_TYPE(Text, What) {Text, What},
#include "diag/Unsupported.def"
};
constexpr Entry kPuncts[] = {
#define UNSUPPORTED_PUNCT(Text, What) {Text, What},
#include "diag/Unsupported.def"
};
} // namespace

const char *unsupportedWord(std::string_view word) {
  for (const Entry &e : kWords)
    if (e.text == word) return e.what;
  return nullptr;
}

const char *unsupportedType(std::string_view name) {
  for (const Entry &e : kTypes)
    if (e.text == name) return e.what;
  // `int1`..`int4096`, `uint7`, `flt16`: widths other than the core's.
  for (std::string_view prefix : {std::string_view("uint"), std::string_view("int"), std::string_view("flt")}) {
    if (!name.starts_with(prefix) || name.size() == prefix.size()) continue;
    std::string_view digits = name.substr(prefix.size());
    unsigned width = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), width);
    if (ec != std::errc() || end != digits.data() + digits.size()) continue;
    bool core = prefix == "flt" ? (width == 32 || width == 64) : (width == 8 || width == 16 || width == 32 || width == 64);
    if (!core) return prefix == "flt" ? "float widths other than 32 and 64" : "integer widths other than 8, 16, 32 and 64";
  }
  return nullptr;
}

const char *unsupportedPunct(std::string_view text, size_t &len) {
  const Entry *best = nullptr;
  for (const Entry &e : kPuncts)
    if (text.starts_with(e.text) && (!best || e.text.size() > best->text.size())) best = &e;
  len = best ? best->text.size() : 0;
  if (best) return best->what;
  if (text.size() > 1 && text[0] == '#' && (std::isalpha(static_cast<unsigned char>(text[1])) || text[1] == '_')) {
    len = 1;
    return "a pin `#name`";
  }
  return nullptr;
}

} // namespace npk
