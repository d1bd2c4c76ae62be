// The lexer turns one file (or a byte range of it, for template-string
// interpolations) into tokens. It never stops early: bad input becomes an
// Error token plus a diagnostic, and lexing goes on.
#pragma once

#include "diag/Diag.h"
#include "lex/Token.h"

#include <vector>

namespace npk {

class Lexer {
public:
  Lexer(const SourceManager &sm, uint32_t fileId, DiagEngine &diags);
  Lexer(const SourceManager &sm, uint32_t fileId, uint32_t begin, uint32_t end, DiagEngine &diags);

  Token next();
  // All tokens up to and including Eof.
  std::vector<Token> lexAll();
  // Decodes the escapes of a template string's text part [begin, end).
  std::string decodeText(uint32_t begin, uint32_t end);

private:
  char peek(uint32_t ahead = 0) const;
  bool atEnd() const { return pos_ >= end_; }
  Token make(Tok kind, uint32_t begin);
  void skipTrivia();
  Token lexIdentOrKeyword(uint32_t begin);
  Token lexNumber(uint32_t begin);
  Token lexString(uint32_t begin);
  Token lexTemplate(uint32_t begin);
  Token lexPunct(uint32_t begin);
  bool lexEscape(std::string &out);
  Span spanAt(uint32_t begin, uint32_t end) const { return Span{fileId_, begin, end}; }

  const SourceManager &sm_;
  uint32_t fileId_;
  std::string_view text_;
  uint32_t pos_;
  uint32_t end_;
  DiagEngine &diags_;
};

} // namespace npk
