// Lookups over Unsupported.def: what construct outside npk's core a word, a
// type name or a run of punctuation starts (LANGUAGE.md §9). Each returns a
// description for "<what> is not supported by npk" (a type's: for "type
// `NAME` (<what>) is not supported by npk"), or null.
#pragma once

#include <string_view>

namespace npk {

const char *unsupportedWord(std::string_view word);
const char *unsupportedType(std::string_view name);
// The longest entry `text` starts with; its length goes to `len`.
const char *unsupportedPunct(std::string_view text, size_t &len);
// The help line every NPK-P005 carries.
inline constexpr const char *kUnsupportedHelp =
    "npk implements the memory-and-JIT core of Nitpick; LANGUAGE.md §9 lists what is outside it";

} // namespace npk
