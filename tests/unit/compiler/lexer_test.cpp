#include "lex/Lexer.h"

#include <gtest/gtest.h>

namespace npk {
namespace {

struct Lexed {
  SourceManager sm;
  DiagEngine diags;
  std::vector<Token> tokens;
  explicit Lexed(const std::string &text) {
    uint32_t id = sm.add("test.npk", text);
    tokens = Lexer(sm, id, diags).lexAll();
  }
  std::vector<Tok> kinds() const {
    std::vector<Tok> out;
    for (const Token &t : tokens) out.push_back(t.kind);
    return out;
  }
};

TEST(Lexer, DeclarationPunctuation) {
  Lexed l("func:main = int32() { exit 0; };");
  std::vector<Tok> expected = {Tok::KwFunc, Tok::Colon,  Tok::Ident,  Tok::Assign, Tok::Ident,
                               Tok::LParen, Tok::RParen, Tok::LBrace, Tok::KwExit, Tok::IntLit,
                               Tok::Semi,   Tok::RBrace, Tok::Semi,   Tok::Eof};
  EXPECT_EQ(l.kinds(), expected);
  EXPECT_FALSE(l.diags.hasErrors());
}

TEST(Lexer, PointerTypesAndArrows) {
  Lexed l("wildx int8->:f ?->:p <-p x => int64 $$m $$i");
  std::vector<Tok> expected = {Tok::KwWildx, Tok::Ident,     Tok::Arrow, Tok::Colon, Tok::Ident,
                               Tok::Question, Tok::Arrow,    Tok::Colon, Tok::Ident, Tok::LArrow,
                               Tok::Ident,   Tok::Ident,     Tok::FatArrow, Tok::Ident, Tok::BorrowMut,
                               Tok::BorrowImm, Tok::Eof};
  EXPECT_EQ(l.kinds(), expected);
}

TEST(Lexer, IntegerBasesSeparatorsAndSuffixes) {
  Lexed l("0x1F 0b1010 0o17 1_000_000 42i64 255u8 7tbb32");
  ASSERT_EQ(l.tokens.size(), 8u);
  EXPECT_EQ(l.tokens[0].intValue, 31u);
  EXPECT_EQ(l.tokens[1].intValue, 10u);
  EXPECT_EQ(l.tokens[2].intValue, 15u);
  EXPECT_EQ(l.tokens[3].intValue, 1000000u);
  EXPECT_EQ(l.tokens[4].suffix, IntSuffix::I64);
  EXPECT_EQ(l.tokens[5].suffix, IntSuffix::U8);
  EXPECT_EQ(l.tokens[6].suffix, IntSuffix::Tbb32);
  EXPECT_FALSE(l.diags.hasErrors());
}

TEST(Lexer, FloatLiterals) {
  Lexed l("1.5 2.0e-3 3f32");
  ASSERT_EQ(l.tokens[0].kind, Tok::FloatLit);
  EXPECT_DOUBLE_EQ(l.tokens[0].floatValue, 1.5);
  EXPECT_DOUBLE_EQ(l.tokens[1].floatValue, 0.002);
  EXPECT_EQ(l.tokens[2].kind, Tok::FloatLit);
  EXPECT_EQ(l.tokens[2].suffix, IntSuffix::F32);
}

TEST(Lexer, MinusOneIsUnaryMinusThenLiteral) {
  Lexed l("-1");
  EXPECT_EQ(l.kinds(), (std::vector<Tok>{Tok::Minus, Tok::IntLit, Tok::Eof}));
}

TEST(Lexer, IncrementDecrementAndDefaultBangAreOneToken) {
  Lexed l("x++ y-- a- -b ?!c");
  EXPECT_EQ(l.kinds(), (std::vector<Tok>{Tok::Ident, Tok::PlusPlus, Tok::Ident, Tok::MinusMinus, Tok::Ident, Tok::Minus,
                                         Tok::Minus, Tok::Ident, Tok::QuestionBang, Tok::Ident, Tok::Eof}));
}

TEST(Lexer, StringEscapesDecode) {
  Lexed l(R"("a\n\t\\\"\x41\u{e9}\0")");
  ASSERT_EQ(l.tokens[0].kind, Tok::StringLit);
  EXPECT_EQ(l.tokens[0].str, std::string("a\n\t\\\"A\xc3\xa9") + '\0');
}

TEST(Lexer, InvalidEscapeIsReported) {
  Lexed l(R"("bad \q escape")");
  ASSERT_EQ(l.diags.errorCount(), 1u);
  EXPECT_EQ(l.diags.all()[0].id, DiagId::InvalidEscape);
}

TEST(Lexer, UnterminatedStringAndComment) {
  Lexed s("\"never closed\nx");
  ASSERT_EQ(s.diags.errorCount(), 1u);
  EXPECT_EQ(s.diags.all()[0].id, DiagId::UnterminatedString);
  Lexed c("x /* never closed");
  ASSERT_EQ(c.diags.errorCount(), 1u);
  EXPECT_EQ(c.diags.all()[0].id, DiagId::UnterminatedComment);
}

TEST(Lexer, CommentsAreSkipped) {
  Lexed l("a // line comment\n/* block\n comment */ b");
  EXPECT_EQ(l.kinds(), (std::vector<Tok>{Tok::Ident, Tok::Ident, Tok::Eof}));
}

TEST(Lexer, MalformedNumbers) {
  for (const char *text : {"0x", "12q", "7i33", "0b102"}) {
    Lexed l(text);
    ASSERT_EQ(l.diags.errorCount(), 1u) << text;
    EXPECT_EQ(l.diags.all()[0].id, DiagId::MalformedNumber) << text;
  }
  Lexed big("99999999999999999999999");
  ASSERT_EQ(big.diags.errorCount(), 1u);
  EXPECT_EQ(big.diags.all()[0].id, DiagId::NumberTooLarge);
}

TEST(Lexer, UnexpectedCharacterKeepsGoing) {
  Lexed l("a # b");
  EXPECT_EQ(l.diags.errorCount(), 1u);
  EXPECT_EQ(l.diags.all()[0].id, DiagId::UnexpectedChar);
  EXPECT_EQ(l.kinds(), (std::vector<Tok>{Tok::Ident, Tok::Error, Tok::Ident, Tok::Eof}));
}

TEST(Lexer, TemplateKeepsRawBody) {
  Lexed l("`x = &{x}`");
  ASSERT_EQ(l.tokens[0].kind, Tok::TemplateLit);
  EXPECT_EQ(l.tokens[0].str, "x = &{x}");
}

TEST(Lexer, SpansGiveLineAndColumn) {
  Lexed l("a\n  bb");
  LineCol lc = l.sm.lineCol(1, l.tokens[1].span.begin);
  EXPECT_EQ(lc.line, 2u);
  EXPECT_EQ(lc.col, 3u);
  EXPECT_EQ(l.tokens[1].text, "bb");
}

} // namespace
} // namespace npk
