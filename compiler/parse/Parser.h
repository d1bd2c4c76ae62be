// Recursive-descent parser. The grammar rule a function parses is written
// above it. The parser always returns a well-formed tree: a construct that
// fails to parse becomes an Error node, the parser re-synchronises at the next
// `;`, `}` or declaration keyword, and reports nothing more until it has, so
// one typo gives one diagnostic.
#pragma once

#include "ast/AST.h"
#include "diag/Diag.h"
#include "lex/Token.h"

#include <vector>

namespace npk {

class Parser {
public:
  Parser(const SourceManager &sm, uint32_t fileId, std::vector<Token> tokens, DiagEngine &diags);

  // Parses a whole file into `out` (uses, externs, structs, functions, ...).
  void parseModule(Module &out);
  // Parses one expression filling the whole token stream (template parts).
  ExprPtr parseStandaloneExpr();

private:
  // Token access.
  const Token &cur() const { return tokens_[pos_]; }
  const Token &peekTok(size_t ahead = 1) const;
  bool at(Tok k) const { return cur().kind == k; }
  bool atAny(std::initializer_list<Tok> ks) const;
  Token advance();
  bool accept(Tok k);
  bool expect(Tok k, const char *context);
  bool expectClosing(Tok k, const char *context, Span open);
  bool unsupported(Span at, const char *what);
  void splitCurrent(Tok first, Tok second, uint32_t firstLen);

  // Error reporting and recovery.
  Diag *errorAt(Span s, DiagId id, std::string message);
  Diag *errorExpected(std::string what);
  // Reports NPK-P006, with `help`, when depth_ exceeds kMaxTreeDepth (ast/AST.h).
  bool tooDeep(Span at, const char *help);
  void syncStatement();
  void skipIfChain();
  void syncDecl();

  // Declarations.
  void parseDecl(Module &m);
  bool parseDeclName(const char *keyword, const char *what, Span &nameSpan, std::string &name);
  void parseUse(Module &m);
  void parseExtern(Module &m, bool isPub);
  std::unique_ptr<ExternDecl> parseExternFunc(Span start, bool isPub, const std::string &label);
  std::unique_ptr<FuncDecl> parseFunc(bool isPub, const std::string &typeBlock);
  std::unique_ptr<StructDecl> parseStruct(bool isPub);
  std::unique_ptr<TypeBlockDecl> parseTypeBlock(bool isPub);
  std::unique_ptr<ImplDecl> parseImpl();
  void expectDeclEnd(const char *what);
  uint8_t parseQualifiers();
  bool parseType(TypeExpr &out);
  bool parsePointerSuffix(TypeExpr &out);
  bool parseFuncType(TypeExpr &out);
  bool atFuncTypeDecl() const;
  bool atArrayTypeDecl() const;
  bool lambdaAhead();
  void skipLambdaRest();
  std::unique_ptr<Param> parseParam();

  // Statements.
  std::unique_ptr<BlockStmt> parseBlock();
  StmtPtr parseStmt();
  StmtPtr parseIf();
  StmtPtr parseWhile();
  StmtPtr parseFor();
  StmtPtr parseLoop();
  StmtPtr parsePick();
  bool atWord(std::string_view word) const;
  static bool isKeyword(Tok k);
  StmtPtr parseDefer();
  StmtPtr parseSimpleStmt();
  StmtPtr parseVarDecl();
  void parseGlobal(Module &m, bool isPub);
  bool atVarDeclStart() const;
  void rejectBlockSemi();

  // Expressions, loosest first.
  ExprPtr parseExpr();
  ExprPtr parseBinary(int minPrec);
  ExprPtr parseCast();
  ExprPtr parseRawDrop();
  ExprPtr parseUnary();
  ExprPtr parsePostfix();
  ExprPtr parsePrimary();
  ExprPtr parseStructLit();
  ExprPtr parseTemplate(const Token &t);
  ExprPtr errorExpr(Span s);

  const SourceManager &sm_;
  uint32_t fileId_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  DiagEngine &diags_;
  bool panicking_ = false; // an error was reported and we have not re-synchronised
  int depth_ = 0;          // levels of the tree above the node being parsed
  // Every block closed so far, (`{`, `}`): an unclosed block at the end of
  // the file points at the first inner one whose `}` is indented unlike its
  // `{` line, the likely missing brace.
  std::vector<std::pair<Span, Span>> closedBlocks_;
  uint32_t indentOf(Span s) const;
  void noteMisindentedBlock(Diag &d, Span open) const;
};

// Lexes and parses one file.
void parseFile(const SourceManager &sm, uint32_t fileId, DiagEngine &diags, Module &out);

} // namespace npk
