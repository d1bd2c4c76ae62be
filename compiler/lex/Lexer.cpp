#include "lex/Lexer.h"

#include "diag/Unsupported.h"

#include <array>
#include <cctype>
#include <cstdlib>

namespace npk {

namespace {
constexpr std::string_view kSpellings[] = {
#define TOK(Id, Text) Text,
#include "lex/Tokens.def"
};
constexpr std::string_view kNames[] = {
#define TOK(Id, Text) #Id,
#include "lex/Tokens.def"
};
struct Keyword {
  std::string_view text;
  Tok kind;
};
constexpr Keyword kKeywords[] = {
#define KEYWORD(Id, Text) {Text, Tok::Id},
#include "lex/Tokens.def"
};

bool isIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool isIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

void appendUtf8(std::string &out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}
} // namespace

std::string_view tokSpelling(Tok t) { return kSpellings[static_cast<int>(t)]; }
std::string_view tokName(Tok t) { return kNames[static_cast<int>(t)]; }

Lexer::Lexer(const SourceManager &sm, uint32_t fileId, DiagEngine &diags)
    : Lexer(sm, fileId, 0, static_cast<uint32_t>(sm.file(fileId).text.size()), diags) {}

Lexer::Lexer(const SourceManager &sm, uint32_t fileId, uint32_t begin, uint32_t end, DiagEngine &diags)
    : sm_(sm), fileId_(fileId), text_(sm.file(fileId).text), pos_(begin), end_(end), diags_(diags) {}

char Lexer::peek(uint32_t ahead) const { return pos_ + ahead < end_ ? text_[pos_ + ahead] : '\0'; }

Token Lexer::make(Tok kind, uint32_t begin) {
  Token t;
  t.kind = kind;
  t.span = spanAt(begin, pos_);
  t.text = text_.substr(begin, pos_ - begin);
  return t;
}

std::vector<Token> Lexer::lexAll() {
  std::vector<Token> out;
  // Code averages more than four bytes per token (with its white space), so
  // this reserves once and never moves the tokens; pages never touched cost
  // nothing.
  out.reserve((end_ - pos_) / 4 + 2);
  for (;;) {
    out.push_back(next());
    if (out.back().kind == Tok::Eof) return out;
    if (diags_.limitReached()) { // the rest of the file is not worth reading
      pos_ = end_;
      out.push_back(next());
      return out;
    }
  }
}

std::string Lexer::decodeText(uint32_t begin, uint32_t end) {
  std::string out;
  uint32_t savedPos = pos_, savedEnd = end_;
  pos_ = begin;
  end_ = end;
  while (!atEnd()) {
    if (peek() == '\\')
      lexEscape(out);
    else
      out += text_[pos_++];
  }
  pos_ = savedPos;
  end_ = savedEnd;
  return out;
}

void Lexer::skipTrivia() {
  while (!atEnd()) {
    char c = peek();
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++pos_;
    } else if (c == '/' && peek(1) == '/') {
      while (!atEnd() && peek() != '\n' && peek() != '\r') ++pos_; // a line comment ends at any line end
    } else if (c == '/' && peek(1) == '*') {
      uint32_t start = pos_;
      pos_ += 2;
      while (!atEnd() && !(peek() == '*' && peek(1) == '/')) ++pos_;
      if (atEnd()) {
        diags_.error(DiagId::UnterminatedComment, spanAt(start, start + 2), "unterminated block comment")
            .withHelp("close it with `*/`; block comments do not nest");
        return;
      }
      pos_ += 2;
    } else {
      return;
    }
  }
}

Token Lexer::next() {
  skipTrivia();
  uint32_t begin = pos_;
  if (atEnd()) return make(Tok::Eof, begin);
  char c = peek();
  if (isIdentStart(c)) return lexIdentOrKeyword(begin);
  if (std::isdigit(static_cast<unsigned char>(c))) return lexNumber(begin);
  if (c == '"') return lexString(begin);
  if (c == '`') return lexTemplate(begin);
  return lexPunct(begin);
}

Token Lexer::lexIdentOrKeyword(uint32_t begin) {
  while (!atEnd() && isIdentChar(peek())) ++pos_;
  Token t = make(Tok::Ident, begin);
  for (const Keyword &k : kKeywords)
    if (k.text == t.text) t.kind = k.kind;
  return t;
}

// int-lit = digits [suffix] | ("0x"|"0b"|"0o") digits [suffix]; float-lit = digits "." digits [exp] [suffix]
Token Lexer::lexNumber(uint32_t begin) {
  int base = 10;
  if (peek() == '0' && (peek(1) == 'x' || peek(1) == 'X')) base = 16;
  if (peek() == '0' && (peek(1) == 'b' || peek(1) == 'B')) base = 2;
  if (peek() == '0' && (peek(1) == 'o' || peek(1) == 'O')) base = 8;
  if (base != 10) pos_ += 2;
  auto isDigitOf = [&](char ch) {
    if (ch == '_') return true;
    if (base == 16) return std::isxdigit(static_cast<unsigned char>(ch)) != 0;
    if (base == 10) return std::isdigit(static_cast<unsigned char>(ch)) != 0;
    if (base == 8) return ch >= '0' && ch <= '9'; // 8/9 diagnosed below
    return ch >= '0' && ch <= '9';
  };
  std::string digits;
  while (!atEnd() && isDigitOf(peek())) {
    if (peek() != '_') digits += peek();
    ++pos_;
  }
  bool isFloat = false;
  if (base == 10 && peek() == '.' && std::isdigit(static_cast<unsigned char>(peek(1)))) {
    isFloat = true;
    digits += '.';
    ++pos_;
    while (!atEnd() && (std::isdigit(static_cast<unsigned char>(peek())) || peek() == '_')) {
      if (peek() != '_') digits += peek();
      ++pos_;
    }
  }
  if (base == 10 && (peek() == 'e' || peek() == 'E') &&
      (std::isdigit(static_cast<unsigned char>(peek(1))) ||
       ((peek(1) == '-' || peek(1) == '+') && std::isdigit(static_cast<unsigned char>(peek(2)))))) {
    isFloat = true;
    digits += 'e';
    ++pos_;
    if (peek() == '-' || peek() == '+') digits += text_[pos_++];
    while (!atEnd() && std::isdigit(static_cast<unsigned char>(peek()))) digits += text_[pos_++];
  }
  uint32_t suffixBegin = pos_;
  while (!atEnd() && isIdentChar(peek())) ++pos_;
  std::string_view suffix = text_.substr(suffixBegin, pos_ - suffixBegin);
  Token t = make(isFloat ? Tok::FloatLit : Tok::IntLit, begin);

  auto bad = [&](std::string msg, std::string help) {
    diags_.error(DiagId::MalformedNumber, t.span, std::move(msg)).withHelp(std::move(help));
    t.kind = Tok::Error;
    return t;
  };
  static const std::pair<std::string_view, IntSuffix> kSuffixes[] = {
      {"i8", IntSuffix::I8},   {"i16", IntSuffix::I16}, {"i32", IntSuffix::I32}, {"i64", IntSuffix::I64},
      {"u8", IntSuffix::U8},   {"u16", IntSuffix::U16}, {"u32", IntSuffix::U32}, {"u64", IntSuffix::U64},
      {"tbb32", IntSuffix::Tbb32}, {"f32", IntSuffix::F32}, {"f64", IntSuffix::F64}};
  if (!suffix.empty()) {
    bool found = false;
    for (auto &[s, k] : kSuffixes)
      if (s == suffix) { t.suffix = k; found = true; }
    if (!found)
      return bad("unknown number suffix `" + std::string(suffix) + "`",
                 "integer suffixes are i8 i16 i32 i64 u8 u16 u32 u64 tbb32; float suffixes are f32 f64");
    bool floatSuffix = t.suffix == IntSuffix::F32 || t.suffix == IntSuffix::F64;
    if (floatSuffix && base != 10)
      return bad("float suffix on a non-decimal literal", "write the value in decimal");
    if (floatSuffix) t.kind = Tok::FloatLit;
    if (isFloat && !floatSuffix)
      return bad("integer suffix `" + std::string(suffix) + "` on a float literal", "use `f32` or `f64`");
  }
  if (digits.empty() || digits == ".")
    return bad("number literal has no digits", "write at least one digit after the base prefix");
  if (t.kind == Tok::FloatLit) {
    t.floatValue = std::strtod(digits.c_str(), nullptr);
    return t;
  }
  uint64_t value = 0;
  for (char ch : digits) {
    int d = std::isdigit(static_cast<unsigned char>(ch)) ? ch - '0' : std::tolower(ch) - 'a' + 10;
    if (d >= base)
      return bad(std::string("digit `") + ch + "` is not valid in a base-" + std::to_string(base) + " literal",
                 "use only digits of the literal's base");
    if (value > (UINT64_MAX - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base)) {
      diags_.error(DiagId::NumberTooLarge, t.span, "integer literal does not fit in 64 bits")
          .withHelp("the largest literal is 18446744073709551615u64");
      t.kind = Tok::Error;
      return t;
    }
    value = value * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  t.intValue = value;
  return t;
}

// Decodes one escape after the backslash at pos_. Returns false (and reports)
// on an invalid escape; the offending characters are skipped either way.
bool Lexer::lexEscape(std::string &out) {
  uint32_t start = pos_;
  ++pos_; // backslash
  char c = peek();
  if (atEnd()) return false;
  ++pos_;
  switch (c) {
  case 'n': out += '\n'; return true;
  case 't': out += '\t'; return true;
  case 'r': out += '\r'; return true;
  case '\\': out += '\\'; return true;
  case '"': out += '"'; return true;
  case '`': out += '`'; return true;
  case '0': out += '\0'; return true;
  case 'x': {
    if (std::isxdigit(static_cast<unsigned char>(peek())) && std::isxdigit(static_cast<unsigned char>(peek(1)))) {
      out += static_cast<char>(std::strtoul(std::string(text_.substr(pos_, 2)).c_str(), nullptr, 16));
      pos_ += 2;
      return true;
    }
    break;
  }
  case 'u': {
    if (peek() != '{') break;
    uint32_t close = pos_ + 1;
    while (close < end_ && std::isxdigit(static_cast<unsigned char>(text_[close])) && close - pos_ <= 7) ++close;
    if (close < end_ && text_[close] == '}' && close > pos_ + 1) {
      uint32_t cp = static_cast<uint32_t>(std::strtoul(std::string(text_.substr(pos_ + 1, close - pos_ - 1)).c_str(), nullptr, 16));
      pos_ = close + 1;
      if (cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF)) {
        appendUtf8(out, cp);
        return true;
      }
    }
    break;
  }
  default:
    break;
  }
  diags_.error(DiagId::InvalidEscape, spanAt(start, pos_),
               "invalid escape `" + std::string(text_.substr(start, pos_ - start)) + "`")
      .withHelp("valid escapes are \\n \\t \\r \\\\ \\\" \\0 \\xNN \\u{...}; write `\\\\` for a backslash");
  return false;
}

Token Lexer::lexString(uint32_t begin) {
  ++pos_; // opening quote
  std::string value;
  bool ok = true;
  while (!atEnd() && peek() != '"' && peek() != '\n' && peek() != '\r') {
    if (peek() == '\\') {
      ok = lexEscape(value) && ok;
    } else {
      value += text_[pos_++];
    }
  }
  if (atEnd() || peek() != '"') {
    diags_.error(DiagId::UnterminatedString, spanAt(begin, begin + 1), "unterminated string literal")
        .withHelp("close the string with `\"` on the same line");
    Token t = make(Tok::Error, begin);
    return t;
  }
  ++pos_;
  Token t = make(ok ? Tok::StringLit : Tok::Error, begin);
  t.str = std::move(value);
  return t;
}

// Template strings keep their raw body; the parser splits out `&{expr}` parts
// and lexes them again from their source range, so spans stay exact.
Token Lexer::lexTemplate(uint32_t begin) {
  ++pos_;
  while (!atEnd() && peek() != '`') {
    if (peek() == '\\' && pos_ + 1 < end_) ++pos_;
    ++pos_;
  }
  if (atEnd()) {
    diags_.error(DiagId::UnterminatedString, spanAt(begin, begin + 1), "unterminated template string")
        .withHelp("close the template string with a backquote");
    return make(Tok::Error, begin);
  }
  ++pos_;
  Token t = make(Tok::TemplateLit, begin);
  t.str = std::string(text_.substr(begin + 1, pos_ - begin - 2));
  return t;
}

Token Lexer::lexPunct(uint32_t begin) {
  // `@` immediately followed by one of the intrinsics' names is one token
  // (LANGUAGE-2 A6); `@name` of anything else is `@` and a name.
  if (peek() == '@' && isIdentStart(peek(1))) {
    static const std::pair<std::string_view, Tok> kIntrinsics[] = {
        {"sizeof", Tok::AtSizeof}, {"alignof", Tok::AtAlignof}, {"cast", Tok::AtCast},
        {"cast_unchecked", Tok::AtCastUnchecked}};
    uint32_t end = pos_ + 1;
    while (end < end_ && isIdentChar(text_[end])) ++end;
    std::string_view word = text_.substr(pos_ + 1, end - pos_ - 1);
    for (auto &[name, kind] : kIntrinsics) {
      if (word != name) continue;
      pos_ = end;
      return make(kind, begin);
    }
  }
  // Longest match first.
  static const std::pair<std::string_view, Tok> kPuncts[] = {
      {"...", Tok::DotDotDot}, {"..", Tok::DotDot}, {"<<=", Tok::ShlAssign}, {">>=", Tok::ShrAssign}, {"$$m", Tok::BorrowMut}, {"$$i", Tok::BorrowImm}, {"$", Tok::Dollar},
      {"->", Tok::Arrow},      {"<-", Tok::LArrow},     {"=>", Tok::FatArrow},   {".*", Tok::DotStar},
      {"+=", Tok::PlusAssign}, {"-=", Tok::MinusAssign}, {"*=", Tok::StarAssign}, {"/=", Tok::SlashAssign},
      {"%=", Tok::PercentAssign}, {"&=", Tok::AmpAssign}, {"|=", Tok::PipeAssign}, {"^=", Tok::CaretAssign},
      {"?!", Tok::QuestionBang}, {"++", Tok::PlusPlus},   {"--", Tok::MinusMinus},
      {"+%", Tok::PlusWrap},   {"-%", Tok::MinusWrap},  {"*%", Tok::StarWrap},   {"<<", Tok::Shl},
      {">>", Tok::Shr},        {"<=", Tok::Le},         {">=", Tok::Ge},         {"==", Tok::EqEq},
      {"!=", Tok::NotEq},      {"&&", Tok::AmpAmp},     {"||", Tok::PipePipe},   {"(", Tok::LParen},
      {")", Tok::RParen},      {"{", Tok::LBrace},      {"}", Tok::RBrace},      {"[", Tok::LBracket},
      {"]", Tok::RBracket},    {";", Tok::Semi},        {":", Tok::Colon},       {",", Tok::Comma},
      {".", Tok::Dot},         {"?", Tok::Question},    {"@", Tok::At},          {"=", Tok::Assign},
      {"+", Tok::Plus},        {"-", Tok::Minus},       {"*", Tok::Star},        {"/", Tok::Slash},
      {"%", Tok::Percent},     {"&", Tok::Amp},         {"|", Tok::Pipe},        {"^", Tok::Caret},
      {"~", Tok::Tilde},       {"!", Tok::Bang},        {"<", Tok::Lt},          {">", Tok::Gt},
  };
  // The entries by first byte, in the table's (longest first) order: a
  // token is compared only with the few that can match.
  static const auto kByFirst = [] {
    std::array<std::vector<uint8_t>, 128> index;
    for (size_t i = 0; i < std::size(kPuncts); ++i)
      index[static_cast<unsigned char>(kPuncts[i].first[0]) & 127].push_back(static_cast<uint8_t>(i));
    return index;
  }();
  std::string_view rest = text_.substr(pos_, end_ - pos_);
  if (auto first = rest.empty() ? 255 : static_cast<unsigned char>(rest[0]); first < 128) {
    for (uint8_t i : kByFirst[first]) {
      auto &[text, kind] = kPuncts[i];
      if (rest.substr(0, text.size()) == text) {
        pos_ += static_cast<uint32_t>(text.size());
        return make(kind, begin);
      }
    }
  }
  size_t punctLen = 0;
  if (const char *what = unsupportedPunct(rest, punctLen)) { // `#[...]`, `#pin`: outside the core
    pos_ += static_cast<uint32_t>(punctLen);
    Token t = make(Tok::Error, begin);
    diags_.error(DiagId::Unsupported, t.span, std::string(what) + " is not supported by npk").withHelp(kUnsupportedHelp);
    return t;
  }
  // Skip one whole UTF-8 sequence so the caret covers the character.
  unsigned char c = static_cast<unsigned char>(peek());
  uint32_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
  pos_ = std::min(pos_ + len, end_);
  Token t = make(Tok::Error, begin);
  std::string shown = c >= 0x20 && c < 0x7F ? "`" + std::string(t.text) + "`"
                                            : "byte 0x" + std::string(1, "0123456789abcdef"[c >> 4]) +
                                                  std::string(1, "0123456789abcdef"[c & 15]);
  diags_.error(DiagId::UnexpectedChar, t.span, "unexpected character " + shown)
      .withHelp("remove it, or put it inside a string literal");
  return t;
}

} // namespace npk
