#pragma once

#include "support/Source.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace npk {

enum class Tok : uint8_t {
#define TOK(Id, Text) Id,
#include "lex/Tokens.def"
};

std::string_view tokSpelling(Tok t);
std::string_view tokName(Tok t); // the enumerator name, for --emit=tokens

// Integer literal suffix (or None for a plain literal).
enum class IntSuffix : uint8_t { None, I8, I16, I32, I64, U8, U16, U32, U64, Tbb32, F32, F64 };

struct Token {
  Tok kind = Tok::Eof;
  Span span;
  std::string_view text; // raw source text of the token
  // Literal payloads.
  uint64_t intValue = 0;
  double floatValue = 0;
  IntSuffix suffix = IntSuffix::None;
  std::string str; // decoded string literal / raw template body
};

} // namespace npk
