#include "parse/Parser.h"

#include "diag/Unsupported.h"
#include "lex/Lexer.h"
#include "support/Stack.h"

#include <cctype>

namespace npk {

namespace {
const char *const kSplitExpr = "split the expression: bind parts of it to names first";
const char *const kSplitStmt = "move the inner part into a function of its own";
const char *const kSplitType = "name the inner type: a struct field can hold it";

// Restores the parser's depth when the construct being parsed is complete: one
// level for a nested construct, plus one for each link a chain has added.
struct DepthGuard {
  int &depth;
  int saved;
  explicit DepthGuard(int &d, int levels = 1) : depth(d), saved(d) { depth += levels; }
  ~DepthGuard() { depth = saved; }
};

// Whether `t` can begin an operand: after `x`, `--` followed by one is a
// minus and a negation (`x--y` is `x - -y`), otherwise a decrement.
bool startsOperand(Tok t) {
  switch (t) {
  case Tok::IntLit:
  case Tok::FloatLit:
  case Tok::StringLit:
  case Tok::TemplateLit:
  case Tok::Ident:
  case Tok::LParen:
  case Tok::Minus:
  case Tok::MinusMinus:
  case Tok::Bang:
  case Tok::Tilde:
  case Tok::At:
  case Tok::LArrow:
  case Tok::KwTrue:
  case Tok::KwFalse:
  case Tok::KwNull:
  case Tok::KwNil:
  case Tok::KwRaw:
  case Tok::KwDrop:
  case Tok::KwResult:
  case Tok::AtSizeof:
  case Tok::AtAlignof:
  case Tok::AtCast:
  case Tok::AtCastUnchecked:
  case Tok::KwIs: return true;
  default: return false;
  }
}

std::string describeTok(const Token &t) {
  switch (t.kind) {
  case Tok::Eof: return "end of file";
  case Tok::Ident: return "identifier `" + std::string(t.text) + "`";
  case Tok::IntLit:
  case Tok::FloatLit: return "number `" + std::string(t.text) + "`";
  case Tok::StringLit: return "string literal";
  case Tok::TemplateLit: return "template string";
  case Tok::Error: return "invalid token";
  default: return "`" + std::string(t.text) + "`";
  }
}
} // namespace

void parseFile(const SourceManager &sm, uint32_t fileId, DiagEngine &diags, Module &out) {
  Lexer lexer(sm, fileId, diags);
  Parser parser(sm, fileId, lexer.lexAll(), diags);
  parser.parseModule(out);
}

Parser::Parser(const SourceManager &sm, uint32_t fileId, std::vector<Token> tokens, DiagEngine &diags)
    : sm_(sm), fileId_(fileId), tokens_(std::move(tokens)), diags_(diags) {
  if (tokens_.empty() || tokens_.back().kind != Tok::Eof) {
    Token eof;
    eof.kind = Tok::Eof;
    uint32_t end = static_cast<uint32_t>(sm.file(fileId).text.size());
    eof.span = Span{fileId, end, end};
    tokens_.push_back(eof);
  }
}

const Token &Parser::peekTok(size_t ahead) const {
  size_t i = pos_ + ahead;
  return i < tokens_.size() ? tokens_[i] : tokens_.back();
}

bool Parser::atAny(std::initializer_list<Tok> ks) const {
  for (Tok k : ks)
    if (at(k)) return true;
  return false;
}

Token Parser::advance() {
  Token t = cur();
  if (pos_ + 1 < tokens_.size()) ++pos_;
  return t;
}

bool Parser::accept(Tok k) {
  if (!at(k)) return false;
  advance();
  return true;
}

bool Parser::expect(Tok k, const char *context) {
  if (accept(k)) return true;
  // A `;` missing at the end of a line: reported where it belongs, at the
  // end of the previous token, with a fix-it, and parsing goes on as if it
  // were there (the next line is a statement of its own).
  if (k == Tok::Semi && !panicking_ && pos_ > 0 && !at(Tok::Eof) && !at(Tok::Error)) {
    Span prev = tokens_[pos_ - 1].span;
    if (sm_.lineCol(prev.file, prev.end).line < sm_.lineCol(cur().span.file, cur().span.begin).line) {
      Span after{prev.file, prev.end, prev.end};
      if (Diag *d = errorAt(after, DiagId::Expected, std::string("expected `;` ") + context))
        d->withHelp("end the line with `;`").fix(after, ";");
      return true;
    }
  }
  errorExpected("`" + std::string(tokSpelling(k)) + "` " + context);
  return false;
}

// `}` or `)` closing what `open` opened: a mistake notes the opening one.
bool Parser::expectClosing(Tok k, const char *context, Span open) {
  if (accept(k)) return true;
  if (Diag *d = errorExpected("`" + std::string(tokSpelling(k)) + "` " + context))
    d->note(std::string("to match this `") + (k == Tok::RBrace ? "{" : "(") + "`", open);
  return false;
}

// The indentation (in bytes) of the line `s` starts on.
uint32_t Parser::indentOf(Span s) const {
  std::string_view line = sm_.lineText(s.file, sm_.lineCol(s.file, s.begin).line);
  uint32_t n = 0;
  while (n < line.size() && (line[n] == ' ' || line[n] == '\t')) ++n;
  return n;
}

// At the end of the file inside the block opened at `open`: the first block
// within it whose `}` starts a line indented unlike the line of its `{` most
// likely took the brace that was meant for an inner block.
void Parser::noteMisindentedBlock(Diag &d, Span open) const {
  for (auto [lbrace, rbrace] : closedBlocks_) {
    if (lbrace.file != open.file || lbrace.begin <= open.begin) continue;
    uint32_t closeCol = sm_.lineCol(rbrace.file, rbrace.begin).col - 1;
    if (closeCol != indentOf(rbrace) || closeCol == indentOf(lbrace)) continue;
    d.note("this `{` may be the one left unclosed: the `}` that closes it is indented differently", lbrace);
    d.note("closes the `{` above, though its indentation matches an outer block", rbrace);
    return;
  }
}

// Splits the current token in two (`>>` into `>` `>`, `<-` into `<` `-`).
void Parser::splitCurrent(Tok first, Tok second, uint32_t firstLen) {
  Token a = cur(), b = cur();
  a.kind = first;
  a.span.end = a.span.begin + firstLen;
  a.text = a.text.substr(0, firstLen);
  b.kind = second;
  b.span.begin = a.span.end;
  b.text = b.text.substr(firstLen);
  tokens_[pos_] = a;
  tokens_.insert(tokens_.begin() + static_cast<long>(pos_) + 1, b);
}

Diag *Parser::errorAt(Span s, DiagId id, std::string message) {
  if (panicking_) return nullptr;
  panicking_ = true;
  // The lexer already reported the invalid token the parser stumbled on, or
  // an unterminated string or comment that swallowed the rest of the file.
  if (cur().kind == Tok::Error) return nullptr;
  if (cur().kind == Tok::Eof) {
    for (const Diag &d : diags_.all())
      if (d.id == DiagId::UnterminatedComment || d.id == DiagId::UnterminatedString || d.id == DiagId::BadTemplate)
        return nullptr;
  }
  return &diags_.error(id, s, std::move(message));
}

// NPK-P005 for a construct outside npk's core at `at`; false when `what` is null.
bool Parser::unsupported(Span at, const char *what) {
  if (!what) return false;
  if (Diag *d = errorAt(at, DiagId::Unsupported, std::string(what) + " is not supported by npk")) d->withHelp(kUnsupportedHelp);
  return true;
}

Diag *Parser::errorExpected(std::string what) {
  // A construct outside the core reads as a mistake here: an operator split
  // into tokens (`|>` is `|` `>`), or a word followed by more (`await f()`).
  if (!panicking_ && pos_ > 0 && !at(Tok::Eof)) {
    const Token &prev = tokens_[pos_ - 1];
    uint32_t end = pos_ + 1 < tokens_.size() ? tokens_[pos_ + 1].span.end : cur().span.end;
    // The longest entry starting at `t` that spans more than `t` alone.
    auto spanning = [&](const Token &t, Span &at) -> const char * {
      size_t len = 0;
      const char *op = unsupportedPunct(sm_.text(Span{t.span.file, t.span.begin, end}), len);
      at = Span{t.span.file, t.span.begin, static_cast<uint32_t>(t.span.begin + len)};
      return op && len > t.text.size() ? op : nullptr;
    };
    // (`spanning` sets `at`: it runs before `unsupported` reads it.)
    Span at;
    if (prev.span.end == cur().span.begin) {
      const char *what = spanning(prev, at);
      if (unsupported(at, what)) return nullptr;
    }
    if (const char *what = spanning(cur(), at); unsupported(at, what)) return nullptr;
    size_t len = 0; // a whole token that starts a construct: `$$i T:x = y;`
    if (const char *own = unsupportedPunct(cur().text, len); own && len == cur().text.size() && unsupported(cur().span, own))
      return nullptr;
    if (prev.kind == Tok::Ident && unsupported(prev.span, unsupportedWord(prev.text))) return nullptr;
    if (lambdaAhead()) return nullptr;
  }
  Diag *d = errorAt(cur().span, DiagId::Expected, "expected " + what + ", found " + describeTok(cur()));
  if (d && what.find("name") != std::string::npos && isKeyword(cur().kind))
    d->withHelp("`" + std::string(cur().text) + "` is a keyword; choose another name");
  return d;
}

bool Parser::isKeyword(Tok k) {
  switch (k) {
#define KEYWORD(Name, Text) case Tok::Name:
#include "lex/Tokens.def"
    return true;
  default: return false;
  }
}

// Lambdas and closures (LANGUAGE.md §9, LANGUAGE-2 A7) where an expression
// goes wrong: `|a| a + 1` (or `|| e`) at the start of an expression, and a
// literal `int32(int32:x) { ... }`, which reads as a call until the `:` of its
// first typed parameter. Reports NPK-P005 at the construct's first token.
bool Parser::lambdaAhead() {
  if ((at(Tok::Pipe) || at(Tok::PipePipe)) && pos_ > 0) {
    Tok before = tokens_[pos_ - 1].kind;
    bool startsExpr = before == Tok::Assign || before == Tok::LParen || before == Tok::Comma || before == Tok::KwPass;
    if (startsExpr) return unsupported(cur().span, "a closure (`|a| ...`)");
  }
  if (at(Tok::Colon) && pos_ >= 3 && tokens_[pos_ - 1].kind == Tok::Ident && peekTok().kind == Tok::Ident) {
    // Back to the unmatched `(` of the argument list; its callee starts the literal.
    int depth = 0;
    for (size_t i = pos_ - 1; i > 0; --i) {
      Tok k = tokens_[i].kind;
      if (k == Tok::RParen) ++depth;
      else if (k == Tok::LParen && depth-- == 0) {
        if (tokens_[i - 1].kind != Tok::Ident) return false;
        unsupported(Span::cover(tokens_[i - 1].span, tokens_[pos_ + 1].span), "a lambda literal (`int32(int32:x) { ... }`)");
        skipLambdaRest();
        return true;
      } else if (k == Tok::Semi || k == Tok::LBrace || k == Tok::RBrace) {
        return false;
      }
    }
  }
  return false;
}

// Past the rest of a lambda literal's parameter list and its `{ ... }` body,
// so that parsing goes on after it (`apply(int32(int32:x) { ... }, 1)`).
void Parser::skipLambdaRest() {
  int depth = 1;
  while (!at(Tok::Eof) && depth > 0) {
    if (at(Tok::LParen)) ++depth;
    else if (at(Tok::RParen)) --depth;
    else if (at(Tok::Semi) || at(Tok::LBrace) || at(Tok::RBrace)) return;
    if (depth > 0) advance();
  }
  if (!at(Tok::RParen)) return;
  advance();
  if (!at(Tok::LBrace)) return;
  int braces = 0;
  do {
    if (at(Tok::LBrace)) ++braces;
    else if (at(Tok::RBrace)) --braces;
    advance();
  } while (!at(Tok::Eof) && braces > 0);
  panicking_ = false;
}

bool Parser::tooDeep(Span at, const char *help) {
  // Below kMaxTreeDepth only when npkc runs on a smaller stack than its own.
  int bound = treeDepthForStack(kMaxTreeDepth);
  if (depth_ <= bound) return false;
  if (Diag *d = errorAt(at, DiagId::TooDeep, "code nested more than " + std::to_string(bound) + " levels deep")) {
    d->note("each nested block, statement, parenthesis and type counts one level, and so does each operator, "
            "`=>`, call, index and `.` of a chain");
    if (bound < kMaxTreeDepth)
      d->note("npkc could not reserve its own " + std::to_string(kCompilerStackBytes >> 20) +
              " MiB stack, so the bound is lowered from " + std::to_string(kMaxTreeDepth) + " for the " +
              std::to_string(compilerStackBytes() >> 10) + " KiB stack it runs on (raise `ulimit -v` or `ulimit -s`)");
    d->withHelp(help);
  }
  return true;
}

// Skips to just after the next `;` at this nesting level, or to a `}` that
// closes it, so the statement list can go on.
void Parser::syncStatement() {
  int depth = 0;
  while (!at(Tok::Eof)) {
    if (at(Tok::LBrace)) ++depth;
    if (at(Tok::RBrace)) {
      if (depth == 0) break;
      --depth;
      advance();
      if (depth == 0 && at(Tok::Semi)) advance();
      if (depth == 0) break;
      continue;
    }
    if (at(Tok::Semi) && depth == 0) {
      advance();
      break;
    }
    advance();
  }
  panicking_ = false;
}

// Skips the rest of an `if` statement from inside its head: up to the end of
// its block, then each `else if` / `else` arm, so a mistake in one arm is not
// followed by a report for each later arm.
void Parser::skipIfChain() {
  do {
    syncStatement(); // up to and including the arm's block
  } while (accept(Tok::KwElse));
}

// Skips to the next token that can start a top-level declaration.
void Parser::syncDecl() {
  while (!at(Tok::Eof) &&
         !atAny({Tok::KwFunc, Tok::KwStruct, Tok::KwType, Tok::KwUse, Tok::KwExtern, Tok::KwImpl, Tok::KwPub}))
    advance();
  panicking_ = false;
}

// ---- declarations ------------------------------------------------------------------

// module = { decl } EOF
void Parser::parseModule(Module &out) {
  while (!at(Tok::Eof) && !diags_.limitReached()) {
    size_t before = pos_;
    panicking_ = false;
    parseDecl(out);
    if (pos_ == before) advance(); // guarantee progress
  }
}

// decl = use-decl | ["pub"] (extern-decl | func-decl | struct-decl | type-block) | impl-decl
void Parser::parseDecl(Module &m) {
  if (at(Tok::KwUse)) return parseUse(m);
  bool isPub = accept(Tok::KwPub);
  switch (cur().kind) {
  case Tok::KwExtern:
    if (peekTok().kind == Tok::LParen) break; // a global of type `extern (R)(P...)`
    return parseExtern(m, isPub);
  case Tok::KwFunc:
    if (auto f = parseFunc(isPub, "")) m.funcs.push_back(std::move(f));
    return;
  case Tok::KwStruct:
    if (auto s = parseStruct(isPub)) m.structs.push_back(std::move(s));
    return;
  case Tok::KwType:
    if (auto t = parseTypeBlock(isPub)) m.typeBlocks.push_back(std::move(t));
    return;
  case Tok::KwImpl:
    if (auto i = parseImpl()) m.impls.push_back(std::move(i));
    return;
  default:
    break;
  }
  if (at(Tok::Ident) && unsupported(cur().span, unsupportedWord(cur().text))) {
    syncDecl();
    return;
  }
  if (atVarDeclStart() || atAny({Tok::BorrowMut, Tok::BorrowImm})) return parseGlobal(m, isPub);
  if (Diag *d = errorAt(cur().span, DiagId::ExpectedDecl, "expected a declaration, found " + describeTok(cur())))
    d->withHelp("top-level code goes inside a function, e.g. `func:main = int32() { ... };`");
  syncDecl();
}

// global = [ "const" ] qualifiers type ":" IDENT [ "=" expr ] ";"   (LANGUAGE-2 A5)
// The checker decides what the qualifiers and the initializer may be.
void Parser::parseGlobal(Module &m, bool isPub) {
  auto g = std::make_unique<GlobalDecl>();
  g->span = cur().span;
  g->isPub = isPub;
  StmtPtr decl = parseVarDecl();
  if (!decl) return syncDecl();
  g->decl.reset(static_cast<VarDeclStmt *>(decl.release()));
  const Binding &b = g->decl->binding;
  g->kind = b.isConst ? GlobalDecl::Kind::Const : (b.quals & QualFixed) ? GlobalDecl::Kind::Fixed : GlobalDecl::Kind::Var;
  g->span = Span::cover(g->span, g->decl->span);
  if (!expect(Tok::Semi, "after the declaration")) return syncDecl();
  m.globals.push_back(std::move(g));
}

// use-decl = "use" STRING ".*" ";"
void Parser::parseUse(Module &m) {
  UseDecl u;
  u.span = advance().span;
  if (!at(Tok::StringLit)) {
    if (at(Tok::Ident) && peekTok().kind == Tok::Dot) {
      if (Diag *d = errorAt(cur().span, DiagId::Unsupported, "a dotted import (`use std.io`) is not supported by npk"))
        d->withHelp("import a file with `use \"file.npk\".*;`");
    } else {
      errorExpected("a module path string after `use`");
    }
    return syncStatement();
  }
  Token path = advance();
  u.path = path.str;
  u.pathSpan = path.span;
  if (!accept(Tok::DotStar)) {
    if (Diag *d = errorExpected("`.*` after the module path")) d->withHelp("import a module with `use \"file.npk\".*;`");
    return syncStatement();
  }
  u.span = Span::cover(u.span, cur().span);
  if (!expect(Tok::Semi, "after the import")) return syncStatement();
  m.uses.push_back(std::move(u));
}

// qualifiers = { "fixed" | "wild" | "wildx" | "$$m" | "$$i" }
uint8_t Parser::parseQualifiers() {
  uint8_t q = QualNone;
  for (;;) {
    if (accept(Tok::KwFixed)) q |= QualFixed;
    else if (accept(Tok::KwWild)) q |= QualWild;
    else if (accept(Tok::KwWildx)) q |= QualWildx;
    else if (accept(Tok::BorrowMut)) q |= QualBorrowMut;
    else if (accept(Tok::BorrowImm)) q |= QualBorrowImm;
    else return q;
  }
}

// type = ( IDENT | "?" | "NIL" | "Result" "<" type ">" ) { "->" | "*" } [ "[" expr "]" { "[" expr "]" } { "->" } ]
bool Parser::parseType(TypeExpr &out) {
  DepthGuard guard(depth_);
  if (tooDeep(cur().span, kSplitType)) return false;
  out.span = cur().span;
  if (at(Tok::KwExtern) || at(Tok::LParen)) return parseFuncType(out);
  if (at(Tok::Ident) || at(Tok::KwNil)) {
    out.name = std::string(advance().text);
  } else if (at(Tok::Question)) {
    advance();
    out.name = "?";
  } else if (at(Tok::KwResult)) {
    advance();
    out.name = "Result";
    if (!expect(Tok::Lt, "after `Result`")) return false;
    out.resultOf = std::make_unique<TypeExpr>();
    if (!parseType(*out.resultOf)) return false;
    if (at(Tok::Shr)) splitCurrent(Tok::Gt, Tok::Gt, 1);
    out.span = Span::cover(out.span, cur().span);
    if (!expect(Tok::Gt, "to close `Result<...>`")) return false;
  } else {
    errorExpected("a type");
    return false;
  }
  if (!parsePointerSuffix(out)) return false;
  if (!at(Tok::LBracket)) return true;
  // `T[N][M]` (LANGUAGE-2 A2): N arrays of `T[M]`, so the last bracket wraps
  // T first and the first bracket is the outermost type.
  std::vector<ExprPtr> sizes;
  while (at(Tok::LBracket)) {
    Span open = advance().span;
    if (at(Tok::RBracket)) {
      unsupported(Span::cover(open, cur().span), "an unsized array type `T[]`");
      return false;
    }
    ++depth_;
    if (tooDeep(open, kSplitType)) return false;
    sizes.push_back(parseExpr());
    out.span = Span::cover(out.span, cur().span);
    if (!expectClosing(Tok::RBracket, "to close the array size", open)) return false;
  }
  for (size_t i = sizes.size(); i-- > 0;) {
    auto element = std::make_unique<TypeExpr>(std::move(out));
    out = TypeExpr{};
    out.span = element->span;
    out.elementOf = std::move(element);
    out.arraySize = std::move(sizes[i]);
  }
  return parsePointerSuffix(out);
}

// { "->" | "*" }
bool Parser::parsePointerSuffix(TypeExpr &out) {
  while (at(Tok::Arrow) || at(Tok::Star)) {
    if (at(Tok::Star)) out.cStyle = true;
    ++depth_; // a pointer is one level around its pointee
    if (tooDeep(cur().span, kSplitType)) return false;
    out.span = Span::cover(out.span, advance().span);
    ++out.pointerDepth;
  }
  return true;
}

// func-type = [ "extern" ] "(" type ")" "(" [ qualifiers type { "," qualifiers type } ] ")"
bool Parser::parseFuncType(TypeExpr &out) {
  out.func = std::make_unique<FuncTypeExpr>();
  FuncTypeExpr &f = *out.func;
  f.isExtern = accept(Tok::KwExtern);
  Span open = cur().span;
  if (!expect(Tok::LParen, "before the return type of a function type")) return false;
  if (!parseType(f.ret)) return false;
  if (!expectClosing(Tok::RParen, "after the return type of a function type", open)) return false;
  open = cur().span;
  if (!expect(Tok::LParen, "to start the parameter types of a function type")) return false;
  while (!at(Tok::RParen) && !at(Tok::Eof)) {
    f.quals.push_back(parseQualifiers());
    f.params.emplace_back();
    if (!parseType(f.params.back())) return false;
    if (at(Tok::Colon)) {
      if (Diag *d = errorAt(cur().span, DiagId::Expected, "parameter names are not part of a function type"))
        d->withHelp("write only the parameter's type, e.g. `(int32)(int32, int32)`");
      return false;
    }
    if (!accept(Tok::Comma)) break;
  }
  out.span = Span::cover(out.span, cur().span);
  if (!expectClosing(Tok::RParen, "to close the parameter types of a function type", open)) return false;
  if (at(Tok::Arrow) || at(Tok::Star)) {
    if (Diag *d = errorAt(cur().span, DiagId::Expected, "a pointer to a function value is not supported"))
      d->withHelp("a function value is already a code pointer; store it by value");
    return false;
  }
  return true;
}

// Whether the tokens from the current one spell `( ... ) ( ... ) :` — the
// start of a declaration whose type is a function type (also with `->`
// after it, which parseFuncType then refuses).
bool Parser::atFuncTypeDecl() const {
  size_t i = pos_;
  for (int group = 0; group < 2; ++group) {
    if (i >= tokens_.size() || tokens_[i].kind != Tok::LParen) return false;
    int depth = 0;
    for (; i < tokens_.size(); ++i) {
      Tok k = tokens_[i].kind;
      if (k == Tok::LParen) ++depth;
      else if (k == Tok::RParen && --depth == 0) break;
      else if (k == Tok::Eof || k == Tok::Semi || k == Tok::LBrace) return false;
    }
    ++i;
  }
  while (i < tokens_.size() && (tokens_[i].kind == Tok::Arrow || tokens_[i].kind == Tok::Star)) ++i; // refused later
  return i < tokens_.size() && tokens_[i].kind == Tok::Colon;
}

// The `;` that must follow the `}` of a declaration.
void Parser::expectDeclEnd(const char *what) {
  if (accept(Tok::Semi)) return;
  Span brace = tokens_[pos_ > 0 ? pos_ - 1 : 0].span;
  if (Diag *d = errorAt(brace, DiagId::MissingDeclSemi, std::string("missing `;` after the `}` of ") + what))
    d->withHelp("declarations end with `};`").fix(Span{brace.file, brace.end, brace.end}, ";");
  panicking_ = false; // the tree is complete; keep reporting later errors
}

// decl-name = ":" IDENT "="   — shared head of extern, func, struct and Type
// declarations. Reports, re-synchronises and returns false on a mistake.
bool Parser::parseDeclName(const char *keyword, const char *what, Span &nameSpan, std::string &name) {
  if (!expect(Tok::Colon, keyword)) {
    syncStatement();
    return false;
  }
  // `drop` is a keyword but also the name of the destructor method.
  if (!at(Tok::Ident) && !at(Tok::KwDrop)) {
    errorExpected(std::string("the ") + what + " name");
    syncStatement();
    return false;
  }
  nameSpan = cur().span;
  name = std::string(advance().text);
  if (at(Tok::Lt)) {
    if (Diag *d = errorAt(cur().span, DiagId::Unsupported, "a generic parameter list (`func<T>`, `struct<T>`) is not supported by npk"))
      d->withHelp(kUnsupportedHelp);
    syncStatement();
    return false;
  }
  if (!expect(Tok::Assign, (std::string("after the ") + what + " name").c_str())) {
    syncStatement();
    return false;
  }
  return true;
}

// extern-decl  = "extern" "func" ":" IDENT "=" sig ";"
//              | "extern" STRING "{" { ["pub"] "func" ":" IDENT "=" sig ";" } "}"
// Both forms declare the same thing through parseExternFunc, so they share
// one signature grammar (LANGUAGE-2 A1.1).
void Parser::parseExtern(Module &m, bool isPub) {
  Span start = advance().span;
  if (at(Tok::KwFunc)) {
    if (auto e = parseExternFunc(start, isPub, "")) m.externs.push_back(std::move(e));
    return;
  }
  if (!at(Tok::StringLit)) {
    if (Diag *d = errorExpected("`func` or a label string after `extern`"))
      d->withHelp("declare `extern func:NAME = int32(int32:n);`, or a group `extern \"libc\" { func:NAME = ...; }`");
    return syncStatement();
  }
  Token label = advance();
  if (label.str.empty()) {
    if (Diag *d = errorAt(label.span, DiagId::Expected, "an extern block's label is empty"))
      d->withHelp("name the group, e.g. `extern \"libc\" { ... }`; the label does not affect linking");
  }
  Span open = cur().span;
  if (!expect(Tok::LBrace, "after the extern block's label")) return syncStatement();
  while (!at(Tok::RBrace) && !at(Tok::Eof) && !diags_.limitReached()) {
    size_t before = pos_;
    panicking_ = false;
    bool memberPub = accept(Tok::KwPub);
    if (at(Tok::KwFunc)) {
      if (auto e = parseExternFunc(cur().span, memberPub, label.str)) m.externs.push_back(std::move(e));
    } else {
      // `opaque struct`, `struct`, an extern variable (`int32:errno;`):
      // the reference's block accepts them, npk declares only functions.
      Span what = cur().span;
      bool known = at(Tok::KwStruct) || atWord("opaque") || at(Tok::Ident) || at(Tok::KwExtern) || at(Tok::KwConst);
      if (Diag *d = known ? errorAt(what, DiagId::Unsupported,
                                    "only `func:` declarations can be inside an extern block, found " + describeTok(cur()))
                          : errorExpected("`func` or `}` in the extern block"))
        d->withHelp("declare C functions as `func:NAME = int32(int32:n);`; structs and variables go outside the block "
                    "(or are not supported)");
      // Skip the member: up to its `;` (or a nested `{...}` and its `;`), not past the block's `}`.
      int depth = 0;
      while (!at(Tok::Eof)) {
        if (at(Tok::LBrace)) ++depth;
        else if (at(Tok::RBrace)) {
          if (depth == 0) break;
          --depth;
        } else if (at(Tok::Semi) && depth == 0) {
          advance();
          break;
        }
        advance();
      }
    }
    if (pos_ == before) advance(); // guarantee progress
  }
  panicking_ = false;
  if (!expectClosing(Tok::RBrace, "to close the extern block", open)) return;
  if (at(Tok::Semi)) {
    Span semi = advance().span;
    if (Diag *d = errorAt(semi, DiagId::StrayBlockSemi, "`;` after the `}` of an extern block"))
      d->withHelp("remove the `;`: an extern block ends with its `}`").fix(semi, "");
  }
}

// extern-func = "func" ":" IDENT "=" sig ";"
// sig         = [ "wild" | "wildx" | "const" ] type "(" [ cparam { "," cparam } [ "," "..?" ] ] ")"
// cparam      = { "wild" | "wildx" | "const" } type ":" IDENT
std::unique_ptr<ExternDecl> Parser::parseExternFunc(Span start, bool isPub, const std::string &label) {
  auto e = std::make_unique<ExternDecl>();
  e->span = start;
  e->isPub = isPub;
  e->label = label;
  if (!expect(Tok::KwFunc, "after `extern`")) {
    syncStatement();
    return nullptr;
  }
  // The name is the C symbol: no keyword can be one (`drop`, which a method
  // may be named, included).
  if (at(Tok::Colon) && isKeyword(peekTok().kind)) {
    advance();
    Token kw = cur();
    if (Diag *d = errorAt(kw.span, DiagId::Expected, "`" + std::string(kw.text) + "` is a keyword and cannot name an extern"))
      d->withHelp("the C function cannot be called from Nitpick under that name; wrap it in C under another name");
    syncStatement();
    return nullptr;
  }
  if (!parseDeclName("after `extern func`", "extern", e->nameSpan, e->name)) return nullptr;
  auto fail = [&]() -> std::unique_ptr<ExternDecl> {
    syncStatement();
    return nullptr;
  };
  // Return qualifiers: one of `wild`, `wildx`, `const`.
  for (;;) {
    uint8_t q = QualNone;
    if (at(Tok::KwWild)) q = QualWild;
    else if (at(Tok::KwWildx)) q = QualWildx;
    else if (at(Tok::KwConst)) q = QualConst;
    else if (atAny({Tok::BorrowMut, Tok::BorrowImm, Tok::KwFixed})) {
      if (Diag *d = errorAt(cur().span, DiagId::Expected,
                            "`" + std::string(cur().text) + "` is not a qualifier of an extern's return type"))
        d->withHelp("an extern returns a plain C value; its return type may be marked `wild`, `wildx` or `const`");
      return fail();
    } else break;
    if (e->retQuals != QualNone) {
      if (Diag *d = errorAt(cur().span, DiagId::Expected, "an extern's return type takes one qualifier"))
        d->withHelp("keep one of `wild`, `wildx` and `const`");
      return fail();
    }
    e->retQuals = q;
    advance();
  }
  if (!parseType(e->retType) || !expect(Tok::LParen, "to start the parameter list")) return fail();
  while (!at(Tok::RParen) && !at(Tok::Eof)) {
    if (at(Tok::DotDot) && peekTok().kind == Tok::Question) {
      Span dots = advance().span;
      e->variadicSpan = Span::cover(dots, advance().span);
      e->variadic = true;
      if (e->params.empty()) {
        if (Diag *d = errorAt(e->variadicSpan, DiagId::Expected, "`..?` needs a named parameter before it"))
          d->withHelp("C variadic functions take at least one named parameter, e.g. `int32(string:fmt, ..?)`");
        return fail();
      }
      if (!at(Tok::RParen)) {
        if (Diag *d = errorAt(cur().span, DiagId::Expected, "`..?` must be the last parameter"))
          d->withHelp("move `..?` to the end of the parameter list");
        return fail();
      }
      break;
    }
    ExternParam p;
    p.span = cur().span;
    for (;;) {
      if (accept(Tok::KwWild)) p.quals |= QualWild;
      else if (accept(Tok::KwWildx)) p.quals |= QualWildx;
      else if (accept(Tok::KwConst)) p.quals |= QualConst;
      else if (atAny({Tok::BorrowMut, Tok::BorrowImm, Tok::KwFixed})) {
        if (Diag *d = errorAt(cur().span, DiagId::Expected,
                              "`" + std::string(cur().text) + "` is not a qualifier of an extern parameter"))
          d->withHelp("C takes values and pointers: pass a struct as `S*` (`@s`); the qualifiers are `wild`, "
                      "`wildx` and `const`");
        return fail();
      } else break;
    }
    if (!parseType(p.type)) return fail();
    if (!at(Tok::Colon)) {
      if (Diag *d = errorExpected("`:` and a name after the parameter type"))
        d->withHelp("every extern parameter is named, e.g. `int32:n`");
      return fail();
    }
    advance();
    if (!at(Tok::Ident)) {
      errorExpected("a parameter name");
      return fail();
    }
    p.span = Span::cover(p.span, cur().span);
    p.name = std::string(advance().text);
    e->params.push_back(std::move(p));
    if (!accept(Tok::Comma)) break;
  }
  if (!expect(Tok::RParen, "to close the parameter list")) return fail();
  e->span = Span::cover(e->span, tokens_[pos_ - 1].span);
  if (!expect(Tok::Semi, "after the extern declaration")) syncStatement();
  return e;
}

// param = qualifiers type ":" IDENT
std::unique_ptr<Param> Parser::parseParam() {
  auto p = std::make_unique<Param>();
  Span start = cur().span;
  p->binding.quals = parseQualifiers();
  if (!parseType(p->type)) return nullptr;
  if (!expect(Tok::Colon, "between the parameter type and its name")) return nullptr;
  if (!at(Tok::Ident)) {
    errorExpected("a parameter name");
    return nullptr;
  }
  p->binding.span = Span::cover(start, cur().span);
  p->binding.name = std::string(advance().text);
  p->binding.isParam = true;
  return p;
}

// func-decl = "func" ":" IDENT "=" qualifiers type "(" [param {"," param}] ")" block ";"
std::unique_ptr<FuncDecl> Parser::parseFunc(bool isPub, const std::string &typeBlock) {
  auto f = std::make_unique<FuncDecl>();
  f->isPub = isPub;
  f->typeBlock = typeBlock;
  f->span = advance().span;
  if (!parseDeclName("after `func`", "function", f->nameSpan, f->name)) return nullptr;
  f->retQuals = parseQualifiers();
  if (!parseType(f->retType) || !expect(Tok::LParen, "to start the parameter list")) {
    syncStatement();
    return nullptr;
  }
  while (!at(Tok::RParen) && !at(Tok::Eof)) {
    auto p = parseParam();
    if (!p) {
      syncStatement();
      return nullptr;
    }
    f->params.push_back(std::move(p));
    if (!accept(Tok::Comma)) break;
  }
  if (!expect(Tok::RParen, "to close the parameter list")) {
    syncStatement();
    return nullptr;
  }
  if (!at(Tok::LBrace)) {
    errorExpected("`{` to start the function body");
    syncStatement();
    return nullptr;
  }
  f->body = parseBlock();
  f->span = Span::cover(f->span, f->body->closeSpan);
  expectDeclEnd("a function");
  return f;
}

// struct-decl = "struct" ":" IDENT "=" "{" { type ":" IDENT ";" } "}" ";"
std::unique_ptr<StructDecl> Parser::parseStruct(bool isPub) {
  auto s = std::make_unique<StructDecl>();
  s->isPub = isPub;
  s->span = advance().span;
  if (!parseDeclName("after `struct`", "struct", s->nameSpan, s->name)) return nullptr;
  Span openBrace = cur().span;
  if (!expect(Tok::LBrace, "to start the fields")) {
    syncStatement();
    return nullptr;
  }
  while (!at(Tok::RBrace) && !at(Tok::Eof)) {
    FieldDecl fd;
    fd.span = cur().span;
    if (!parseType(fd.type) || !expect(Tok::Colon, "between the field type and its name")) {
      syncStatement();
      continue;
    }
    if (!at(Tok::Ident)) {
      errorExpected("a field name");
      syncStatement();
      continue;
    }
    fd.span = Span::cover(fd.span, cur().span);
    fd.name = std::string(advance().text);
    if (!expect(Tok::Semi, "after the field")) syncStatement();
    s->fields.push_back(std::move(fd));
  }
  s->span = Span::cover(s->span, cur().span);
  if (!expectClosing(Tok::RBrace, "to close the struct", openBrace)) return s;
  expectDeclEnd("a struct");
  return s;
}

// type-block = "Type" ":" IDENT "=" "{" { ["pub"] func-decl } "}" ";"
std::unique_ptr<TypeBlockDecl> Parser::parseTypeBlock(bool isPub) {
  auto t = std::make_unique<TypeBlockDecl>();
  t->isPub = isPub;
  t->span = advance().span;
  if (!parseDeclName("after `Type`", "Type block", t->nameSpan, t->name)) return nullptr;
  Span openBrace = cur().span;
  if (!expect(Tok::LBrace, "to start the Type block")) {
    syncStatement();
    return nullptr;
  }
  while (!at(Tok::RBrace) && !at(Tok::Eof)) {
    bool memberPub = accept(Tok::KwPub);
    if (!at(Tok::KwFunc)) {
      errorExpected("`func` inside a Type block");
      syncStatement();
      continue;
    }
    if (auto f = parseFunc(memberPub, t->name)) t->members.push_back(std::move(f));
  }
  t->span = Span::cover(t->span, cur().span);
  if (!expectClosing(Tok::RBrace, "to close the Type block", openBrace)) return t;
  expectDeclEnd("a Type block");
  return t;
}

// impl-decl = "impl" ":" IDENT ":" "for" ":" IDENT "=" "{" { func-decl } "}" ";"
std::unique_ptr<ImplDecl> Parser::parseImpl() {
  auto impl = std::make_unique<ImplDecl>();
  impl->span = advance().span;
  if (!expect(Tok::Colon, "after `impl`")) {
    syncStatement();
    return nullptr;
  }
  if (!at(Tok::Ident)) {
    errorExpected("a trait name such as `Drop`");
    syncStatement();
    return nullptr;
  }
  impl->traitSpan = cur().span;
  impl->trait = std::string(advance().text);
  if (!expect(Tok::Colon, "after the trait name") || !expect(Tok::KwFor, "in `impl:Trait:for:Type`") ||
      !expect(Tok::Colon, "after `for`")) {
    syncStatement();
    return nullptr;
  }
  if (!at(Tok::Ident)) {
    errorExpected("the type name");
    syncStatement();
    return nullptr;
  }
  impl->targetSpan = cur().span;
  impl->target = std::string(advance().text);
  if (!expect(Tok::Assign, "after the impl header") || !expect(Tok::LBrace, "to start the impl body")) {
    syncStatement();
    return nullptr;
  }
  while (!at(Tok::RBrace) && !at(Tok::Eof)) {
    if (!at(Tok::KwFunc)) {
      errorExpected("`func` inside an impl block");
      syncStatement();
      continue;
    }
    if (auto f = parseFunc(false, impl->target)) impl->methods.push_back(std::move(f));
  }
  impl->span = Span::cover(impl->span, cur().span);
  if (!expect(Tok::RBrace, "to close the impl block")) return impl;
  expectDeclEnd("an impl block");
  return impl;
}

// ---- statements --------------------------------------------------------------------

// block = "{" { stmt } "}"
std::unique_ptr<BlockStmt> Parser::parseBlock() {
  auto block = std::make_unique<BlockStmt>(cur().span);
  Span openBrace = cur().span;
  DepthGuard guard(depth_);
  if (!expect(Tok::LBrace, "to start a block")) {
    block->closeSpan = block->span;
    return block;
  }
  if (tooDeep(block->span, kSplitStmt)) {
    int nest = 1;
    while (!at(Tok::Eof) && nest > 0) {
      if (at(Tok::LBrace)) ++nest;
      if (at(Tok::RBrace)) --nest;
      advance();
    }
    block->closeSpan = tokens_[pos_ > 0 ? pos_ - 1 : 0].span;
    return block;
  }
  while (!at(Tok::RBrace) && !at(Tok::Eof)) {
    size_t before = pos_;
    panicking_ = false; // every statement may report its own first error
    if (StmtPtr s = parseStmt()) block->stmts.push_back(std::move(s));
    if (pos_ == before) advance();
  }
  block->closeSpan = cur().span;
  block->span = Span::cover(block->span, cur().span);
  if (!at(Tok::RBrace)) {
    if (Diag *d = errorExpected("`}` to close the block")) {
      d->note("to match this `{`", openBrace);
      if (at(Tok::Eof)) noteMisindentedBlock(*d, openBrace);
    }
    return block;
  }
  closedBlocks_.push_back({openBrace, advance().span});
  return block;
}

// After a statement block, a `;` is a mistake (declarations take `};`).
void Parser::rejectBlockSemi() {
  if (!at(Tok::Semi)) return;
  Span semi = advance().span;
  diags_.error(DiagId::StrayBlockSemi, semi, "`;` after a statement block")
      .withHelp("remove the `;`; only declarations end with `};`")
      .fix(semi, "");
}

// stmt = block | if-stmt | while-stmt | when-stmt | for-stmt | loop-stmt | till-stmt | pick-stmt
//      | defer-stmt | "break" ";" | "continue" ";" | "fall" name ";"
//      | "pass" [expr] ";" | "fail" expr ";" | "return" [expr] ";" | "exit" expr ";"
//      | simple-stmt ";"
StmtPtr Parser::parseStmt() {
  Span start = cur().span;
  switch (cur().kind) {
  case Tok::LBrace: {
    StmtPtr b = parseBlock();
    rejectBlockSemi();
    return b;
  }
  case Tok::KwIf: return parseIf();
  case Tok::KwWhile:
  case Tok::KwWhen: return parseWhile();
  case Tok::KwFor: return parseFor();
  case Tok::KwLoop:
  case Tok::KwTill: return parseLoop();
  case Tok::KwPick: return parsePick();
  case Tok::KwFall: {
    advance();
    auto s = std::make_unique<FallStmt>(start);
    if (at(Tok::Ident)) {
      s->label = std::string(cur().text);
      s->labelSpan = advance().span;
    } else {
      errorExpected("the label of an arm after `fall`");
      syncStatement();
      return std::make_unique<ErrorStmt>(start);
    }
    s->span = Span::cover(start, s->labelSpan);
    if (!expect(Tok::Semi, "after `fall label`")) syncStatement();
    return s;
  }
  case Tok::KwExtern:
    // `extern (R)(P):f = ...;` declares a local function value; an extern
    // function is declared at the top level only (LANGUAGE-2 A1.1).
    if (peekTok().kind == Tok::KwFunc || peekTok().kind == Tok::StringLit) {
      if (Diag *d = errorAt(start, DiagId::Expected, "an extern declaration cannot be inside a function body"))
        d->withHelp("move `extern` to the top level of the file, outside every function");
      syncStatement(); // up to the `;`, or past a block's `}`
      return std::make_unique<ErrorStmt>(start);
    }
    break;
  case Tok::KwDefer: return parseDefer();
  case Tok::KwBreak:
  case Tok::KwContinue: {
    bool isBreak = advance().kind == Tok::KwBreak;
    StmtPtr s = isBreak ? StmtPtr(std::make_unique<BreakStmt>(start)) : StmtPtr(std::make_unique<ContinueStmt>(start));
    if (at(Tok::LParen) && unsupported(cur().span, "a loop label (`break(name);`)")) { // LANGUAGE-2 A4
      syncStatement();
      return s;
    }
    if (!expect(Tok::Semi, isBreak ? "after `break`" : "after `continue`")) syncStatement();
    return s;
  }
  case Tok::KwPass: {
    advance();
    auto s = std::make_unique<PassStmt>(start);
    if (at(Tok::KwNil) && peekTok().kind == Tok::Semi) {
      advance();
      s->nil = true;
    } else if (!at(Tok::Semi)) {
      s->value = parseExpr();
    }
    s->span = Span::cover(start, cur().span);
    if (!expect(Tok::Semi, "after `pass`")) syncStatement();
    return s;
  }
  case Tok::KwFail: {
    advance();
    auto s = std::make_unique<FailStmt>(start);
    if (at(Tok::Semi)) {
      if (Diag *d = errorExpected("an error code after `fail`")) d->withHelp("write `fail 1;` with an integer code");
    } else {
      s->code = parseExpr();
    }
    s->span = Span::cover(start, cur().span);
    if (!expect(Tok::Semi, "after `fail`")) syncStatement();
    return s;
  }
  case Tok::KwReturn: {
    advance();
    auto s = std::make_unique<ReturnStmt>(start);
    if (!at(Tok::Semi)) s->value = parseExpr();
    s->span = Span::cover(start, cur().span);
    if (!expect(Tok::Semi, "after `return`")) syncStatement();
    return s;
  }
  case Tok::KwExit: {
    advance();
    auto s = std::make_unique<ExitStmt>(start);
    if (at(Tok::Semi)) {
      if (Diag *d = errorExpected("an exit status after `exit`")) d->withHelp("write `exit 0;`");
    } else {
      s->status = parseExpr();
    }
    s->span = Span::cover(start, cur().span);
    if (!expect(Tok::Semi, "after `exit`")) syncStatement();
    return s;
  }
  case Tok::Semi:
    advance();
    return nullptr; // empty statement
  default:
    break;
  }
  StmtPtr s = parseSimpleStmt();
  if (!s) {
    syncStatement();
    return std::make_unique<ErrorStmt>(start);
  }
  if (!expect(Tok::Semi, "after the statement")) {
    syncStatement();
  }
  return s;
}

// if-stmt = "if" "(" expr ")" block [ "else" ( if-stmt | block ) ]
StmtPtr Parser::parseIf() {
  DepthGuard guard(depth_); // an `else if` chain nests one level per arm
  auto s = std::make_unique<IfStmt>(advance().span);
  if (tooDeep(s->span, kSplitStmt)) {
    skipIfChain();
    return std::make_unique<ErrorStmt>(s->span);
  }
  if (!expect(Tok::LParen, "after `if`")) {
    skipIfChain();
    return std::make_unique<ErrorStmt>(s->span);
  }
  s->cond = parseExpr();
  if (!expect(Tok::RParen, "to close the `if` condition")) {
    skipIfChain();
    return std::make_unique<ErrorStmt>(s->span);
  }
  s->thenBlock = parseBlock();
  if (accept(Tok::KwElse)) {
    if (at(Tok::KwIf)) {
      s->elseStmt = parseIf();
      return s;
    }
    s->elseStmt = parseBlock();
  }
  rejectBlockSemi();
  return s;
}

// while-stmt = "while" "(" expr ")" block
// when-stmt = "when" "(" expr ")" block [ "then" block ] [ "end" block ]
// (`then` and `end` are words only here, so `Jit.end` stays a name.)
StmtPtr Parser::parseWhile() {
  auto s = std::make_unique<WhileStmt>(cur().span);
  s->when = advance().kind == Tok::KwWhen;
  const char *word = s->when ? "`when`" : "`while`";
  if (!expect(Tok::LParen, (std::string("after ") + word).c_str())) {
    syncStatement();
    return std::make_unique<ErrorStmt>(s->span);
  }
  s->cond = parseExpr();
  if (!expect(Tok::RParen, (std::string("to close the ") + word + " condition").c_str())) {
    syncStatement();
    return std::make_unique<ErrorStmt>(s->span);
  }
  s->body = parseBlock();
  if (s->when && atWord("then")) {
    advance();
    s->thenBlock = parseBlock();
  }
  if (s->when && atWord("end")) {
    advance();
    s->endBlock = parseBlock();
  }
  rejectBlockSemi();
  return s;
}

// pick-stmt = "pick" "(" expr ")" "{" arm { "," arm } [ "," ] "}"
// arm = [ name ":" ] "(" pattern ")" block
// pattern = "*" | expr | expr ".." expr | expr "..." expr
// The patterns of the wider language (struct patterns, `(ERR)`, `(unknown)`,
// `(!)`, comparisons such as `(< 10)`) are NPK-P005 at their first token.
StmtPtr Parser::parsePick() {
  auto s = std::make_unique<PickStmt>(advance().span);
  DepthGuard guard(depth_);
  auto fail = [&] {
    syncStatement();
    return std::make_unique<ErrorStmt>(s->span);
  };
  if (!expect(Tok::LParen, "after `pick`")) return fail();
  s->selector = parseExpr();
  if (!expect(Tok::RParen, "to close the `pick` selector")) return fail();
  Span open = cur().span;
  if (!expect(Tok::LBrace, "to start the arms of `pick`")) return fail();
  // After a mistake inside the braces: past the `pick`'s closing `}`.
  auto skipArms = [&] {
    int nest = 0;
    while (!at(Tok::Eof)) {
      if (at(Tok::LBrace)) ++nest;
      if (at(Tok::RBrace) && nest-- == 0) {
        advance();
        break;
      }
      advance();
    }
    panicking_ = false;
    return std::make_unique<ErrorStmt>(s->span);
  };
  while (true) {
    PickArm arm;
    if (at(Tok::Ident) && peekTok().kind == Tok::Colon) {
      arm.label = std::string(cur().text);
      arm.labelSpan = advance().span;
      advance();
    }
    Span lparen = cur().span;
    if (!expect(Tok::LParen, "to start a `pick` arm's pattern")) return skipArms();
    const char *outside = nullptr;
    if (atAny({Tok::Lt, Tok::Le, Tok::Gt, Tok::Ge, Tok::EqEq, Tok::NotEq}))
      outside = "a comparison pattern (`(< 10)`)";
    else if (at(Tok::Bang) && peekTok().kind == Tok::RParen) outside = "the pattern `(!)`";
    else if (atWord("ERR") && peekTok().kind == Tok::RParen) outside = "the pattern `(ERR)`";
    else if (atWord("unknown") && peekTok().kind == Tok::RParen) outside = "the pattern `(unknown)`";
    else if (at(Tok::Ident) && peekTok().kind == Tok::LBrace) outside = "a struct pattern (`(Point{ x, y })`)";
    if (outside) {
      unsupported(cur().span, outside);
      return skipArms();
    }
    if (at(Tok::Star) && peekTok().kind == Tok::RParen) {
      arm.wildcard = true;
      advance();
    } else {
      arm.lo = parseExpr();
      if (at(Tok::DotDot) || at(Tok::DotDotDot)) {
        arm.exclusive = advance().kind == Tok::DotDotDot;
        arm.hi = parseExpr();
      }
    }
    arm.span = Span::cover(lparen, cur().span);
    if (!expect(Tok::RParen, "to close the `pick` pattern")) return skipArms();
    if (!at(Tok::LBrace)) {
      errorExpected("`{` to start the arm's body");
      return skipArms();
    }
    arm.body = parseBlock();
    s->arms.push_back(std::move(arm));
    if (accept(Tok::Comma)) {
      if (at(Tok::RBrace)) break; // a trailing comma
      continue;
    }
    if (at(Tok::RBrace)) break;
    if (Diag *d = errorExpected("`,` between `pick` arms or `}` to close the `pick`"))
      d->note("to match this `{`", open);
    return skipArms();
  }
  advance(); // `}`
  rejectBlockSemi();
  return s;
}

bool Parser::atWord(std::string_view word) const { return at(Tok::Ident) && cur().text == word; }

// loop-stmt = "loop" "(" expr "," expr "," expr ")" block
// till-stmt = "till" "(" expr "," expr ")" block
StmtPtr Parser::parseLoop() {
  auto s = std::make_unique<LoopStmt>(cur().span);
  bool till = advance().kind == Tok::KwTill;
  const char *word = till ? "`till`" : "`loop`";
  auto fail = [&] {
    syncStatement();
    return std::make_unique<ErrorStmt>(s->span);
  };
  if (!expect(Tok::LParen, (std::string("after ") + word).c_str())) return fail();
  if (!till) {
    s->start = parseExpr();
    if (!expect(Tok::Comma, "after the start of `loop(start, limit, step)`")) return fail();
  }
  s->limit = parseExpr();
  if (!expect(Tok::Comma, till ? "after the limit of `till(limit, step)`" : "after the limit of `loop(start, limit, step)`"))
    return fail();
  s->step = parseExpr();
  if (!expect(Tok::RParen, (std::string("to close the ") + word + " header").c_str())) return fail();
  s->body = parseBlock();
  rejectBlockSemi();
  return s;
}

// for-stmt = "for" "(" [simple-stmt] ";" [expr] ";" [simple-stmt] ")" block
StmtPtr Parser::parseFor() {
  auto s = std::make_unique<ForStmt>(advance().span);
  if (!expect(Tok::LParen, "after `for`")) {
    syncStatement();
    return std::make_unique<ErrorStmt>(s->span);
  }
  if (at(Tok::Ident) && peekTok().kind == Tok::Ident && peekTok().text == "in") {
    unsupported(Span::cover(cur().span, peekTok().span), "a `for (x in a)` loop");
    syncStatement();
    return std::make_unique<ErrorStmt>(s->span);
  }
  if (!at(Tok::Semi)) s->init = parseSimpleStmt();
  if (!expect(Tok::Semi, "after the `for` initialiser")) {
    syncStatement();
    return std::make_unique<ErrorStmt>(s->span);
  }
  if (!at(Tok::Semi)) s->cond = parseExpr();
  if (!expect(Tok::Semi, "after the `for` condition")) {
    syncStatement();
    return std::make_unique<ErrorStmt>(s->span);
  }
  if (!at(Tok::RParen)) s->step = parseSimpleStmt();
  if (!expect(Tok::RParen, "to close the `for` header")) {
    syncStatement();
    return std::make_unique<ErrorStmt>(s->span);
  }
  s->body = parseBlock();
  rejectBlockSemi();
  return s;
}

// defer-stmt = "defer" ( block | stmt )
StmtPtr Parser::parseDefer() {
  DepthGuard guard(depth_); // `defer defer ...` nests one level per `defer`
  auto s = std::make_unique<DeferStmt>(advance().span);
  if (tooDeep(s->span, kSplitStmt)) {
    syncStatement();
    return std::make_unique<ErrorStmt>(s->span);
  }
  if (at(Tok::LBrace)) {
    s->body = parseBlock();
    rejectBlockSemi();
  } else {
    s->body = parseStmt();
  }
  if (s->body) s->span = Span::cover(s->span, s->body->span);
  return s;
}

bool Parser::atVarDeclStart() const {
  if (atAny({Tok::KwConst, Tok::KwFixed, Tok::KwWild, Tok::KwWildx, Tok::KwExtern})) return true;
  if (at(Tok::LParen)) return atFuncTypeDecl();
  if (at(Tok::KwResult)) return peekTok().kind == Tok::Lt;
  if (at(Tok::Question)) return peekTok().kind == Tok::Arrow || peekTok().kind == Tok::Star;
  if (at(Tok::Ident)) {
    Tok next = peekTok().kind;
    if (next == Tok::LBracket) return atArrayTypeDecl();
    return next == Tok::Colon || next == Tok::Arrow;
  }
  return false;
}

// `T[N]...:name` rather than the index `a[i] ...`: past the brackets (and
// pointer arrows), a `:` and a name follow.
bool Parser::atArrayTypeDecl() const {
  size_t i = pos_ + 1;
  while (i < tokens_.size()) {
    Tok k = tokens_[i].kind;
    if (k == Tok::Arrow || k == Tok::Star) {
      ++i;
      continue;
    }
    if (k != Tok::LBracket) break;
    int depth = 0;
    for (; i < tokens_.size(); ++i) {
      Tok t = tokens_[i].kind;
      if (t == Tok::LBracket) ++depth;
      else if (t == Tok::RBracket && --depth == 0) break;
      else if (t == Tok::Eof || t == Tok::Semi || t == Tok::LBrace || t == Tok::RBrace) return false;
    }
    ++i;
  }
  return i + 1 < tokens_.size() && tokens_[i].kind == Tok::Colon && tokens_[i + 1].kind == Tok::Ident;
}

// var-decl = ( "const" | qualifiers ) type ":" IDENT [ "=" expr ]
StmtPtr Parser::parseVarDecl() {
  auto s = std::make_unique<VarDeclStmt>(cur().span);
  if (at(Tok::KwConst)) {
    // A compile-time value (LANGUAGE-2 A5): immutable like `fixed`.
    Span constSpan = advance().span;
    if (parseQualifiers() != QualNone) {
      if (Diag *d = errorAt(Span::cover(constSpan, tokens_[pos_ - 1].span), DiagId::Expected,
                            "`const` takes no other qualifier"))
        d->withHelp("a `const` is a value known at compile time; write `const " +
                    std::string(cur().text) + ":name = ...;`");
      return nullptr;
    }
    s->binding.isConst = true;
    s->binding.quals = QualFixed;
  } else {
    s->binding.quals = parseQualifiers();
  }
  if (!parseType(s->type)) return nullptr;
  if (!expect(Tok::Colon, "between the type and the binding name")) return nullptr;
  if (!at(Tok::Ident)) {
    errorExpected("a binding name");
    return nullptr;
  }
  s->binding.span = cur().span;
  s->binding.name = std::string(advance().text);
  if (accept(Tok::Assign)) s->init = parseExpr();
  s->span = Span::cover(s->span, tokens_[pos_ > 0 ? pos_ - 1 : 0].span);
  return s;
}

// simple-stmt = var-decl | expr [ assign-op expr ]
StmtPtr Parser::parseSimpleStmt() {
  if (atVarDeclStart()) return parseVarDecl();
  Span start = cur().span;
  ExprPtr e = parseExpr();
  static const std::pair<Tok, BinaryOp> kCompound[] = {
#define COMPOUND_ASSIGN(Op, Token) {Tok::Token, BinaryOp::Op},
#include "ast/Operators.def"
  };
  if (at(Tok::Assign)) {
    advance();
    auto a = std::make_unique<AssignStmt>(start);
    a->target = std::move(e);
    a->value = parseExpr();
    a->span = Span::cover(start, a->value->span);
    return a;
  }
  for (auto &[tok, op] : kCompound) {
    if (!at(tok)) continue;
    advance();
    auto a = std::make_unique<AssignStmt>(start);
    a->compound = true;
    a->op = op;
    a->target = std::move(e);
    a->value = parseExpr();
    a->span = Span::cover(start, a->value->span);
    return a;
  }
  if (auto *inc = as<IncDecExpr>(e.get())) {
    // `x++;` / `x--;` (LANGUAGE-2 A8): `x += 1;` / `x -= 1;`.
    auto a = std::make_unique<AssignStmt>(inc->span);
    a->compound = true;
    a->increment = true;
    a->op = inc->decrement ? BinaryOp::Sub : BinaryOp::Add;
    auto one = std::make_unique<IntLitExpr>(inc->opSpan);
    one->value = 1;
    a->value = std::move(one);
    a->target = std::move(inc->operand);
    return a;
  }
  Span sp = e->span;
  return std::make_unique<ExprStmt>(sp, std::move(e));
}

// ---- expressions -------------------------------------------------------------------

ExprPtr Parser::errorExpr(Span s) { return std::make_unique<ErrorExpr>(s); }

// expr = or-expr [ ( "?" | "?!" ) or-expr ]
ExprPtr Parser::parseExpr() {
  DepthGuard guard(depth_);
  if (tooDeep(cur().span, kSplitExpr)) return errorExpr(cur().span);
  ExprPtr e = parseBinary(0);
  if (at(Tok::Question) || at(Tok::QuestionBang)) {
    // `r ?! d` is `r ? d` (LANGUAGE-2 A8); without a default it is no
    // shorthand for reaching failsafe, which `raw` is.
    if (at(Tok::QuestionBang) && !startsOperand(peekTok().kind)) {
      advance();
      if (Diag *d = errorExpected("a default value after `?!`"))
        d->withHelp("`raw " + std::string(sm_.text(e->span)) + "` reaches failsafe on error (§5)");
      return errorExpr(e->span);
    }
    advance();
    auto d = std::make_unique<DefaultExpr>(e->span);
    d->operand = std::move(e);
    d->fallback = parseBinary(0);
    d->span = Span::cover(d->span, d->fallback->span);
    return d;
  }
  return e;
}

namespace {
struct BinaryInfo {
  Tok tok;
  BinaryOp op;
  int prec; // higher binds tighter
};
constexpr BinaryInfo kBinary[] = {
#define BINARY_OP(Op, Spelling, Token, Precedence) {Tok::Token, BinaryOp::Op, Precedence},
#include "ast/Operators.def"
};
const BinaryInfo *binaryInfo(Tok t) {
  for (const BinaryInfo &b : kBinary)
    if (b.tok == t) return &b;
  return nullptr;
}
} // namespace

// binary = cast-expr { binop cast-expr }   (precedence climbing; all left-assoc)
ExprPtr Parser::parseBinary(int minPrec) {
  DepthGuard chain(depth_, 0);
  ExprPtr lhs = parseCast();
  for (;;) {
    // `a<-1` lexes as `a` `<-` `1`; in operator position it means `a < -1`.
    if (at(Tok::LArrow)) splitCurrent(Tok::Lt, Tok::Minus, 1);
    // `x--y` (parsePostfix left the `--`): `x - -y`.
    if (at(Tok::MinusMinus)) splitCurrent(Tok::Minus, Tok::Minus, 1);
    const BinaryInfo *info = binaryInfo(cur().kind);
    if (!info || info->prec < minPrec) return lhs;
    Span opSpan = advance().span;
    ++depth_; // the tree grows one level to the left per operator
    if (tooDeep(opSpan, kSplitExpr)) return errorExpr(Span::cover(lhs->span, opSpan));
    ExprPtr rhs = parseBinary(info->prec + 1);
    Span whole = Span::cover(lhs->span, rhs->span);
    auto b = std::make_unique<BinaryExpr>(whole, info->op, std::move(lhs), std::move(rhs));
    b->opSpan = opSpan;
    lhs = std::move(b);
  }
}

// cast-expr = raw-expr { "=>" type }
ExprPtr Parser::parseCast() {
  DepthGuard chain(depth_, 0);
  ExprPtr e = parseRawDrop();
  while (at(Tok::FatArrow)) {
    Span arrow = advance().span;
    ++depth_;
    if (tooDeep(arrow, kSplitExpr)) return errorExpr(Span::cover(e->span, arrow));
    auto c = std::make_unique<CastExpr>(e->span);
    c->operand = std::move(e);
    if (!parseType(c->target)) return c;
    c->span = Span::cover(c->span, c->target.span);
    e = std::move(c);
  }
  return e;
}

// raw-expr = ( "raw" | "drop" ) raw-expr | unary
ExprPtr Parser::parseRawDrop() {
  if (at(Tok::KwRaw) || at(Tok::KwDrop)) {
    DepthGuard guard(depth_);
    Token kw = advance();
    if (tooDeep(kw.span, kSplitExpr)) return errorExpr(kw.span);
    ExprPtr inner = parseRawDrop();
    Span s = Span::cover(kw.span, inner->span);
    if (kw.kind == Tok::KwRaw) return std::make_unique<RawExpr>(s, std::move(inner));
    return std::make_unique<DropExpr>(s, std::move(inner));
  }
  return parseUnary();
}

// unary = ( "-" | "!" | "~" | "@" | "<-" ) unary | postfix
ExprPtr Parser::parseUnary() {
  static const std::pair<Tok, UnaryOp> kUnary[] = {{Tok::Minus, UnaryOp::Neg},  {Tok::Bang, UnaryOp::Not},
                                                   {Tok::Tilde, UnaryOp::BitNot}, {Tok::At, UnaryOp::AddrOf},
                                                   {Tok::LArrow, UnaryOp::Deref}};
  if (at(Tok::MinusMinus)) splitCurrent(Tok::Minus, Tok::Minus, 1); // `--x` is `-(-x)`
  for (auto &[tok, op] : kUnary) {
    if (!at(tok)) continue;
    DepthGuard guard(depth_);
    Span opSpan = advance().span;
    if (tooDeep(opSpan, kSplitExpr)) return errorExpr(opSpan);
    ExprPtr operand = parseUnary();
    Span s = Span::cover(opSpan, operand->span);
    return std::make_unique<UnaryExpr>(s, op, std::move(operand));
  }
  return parsePostfix();
}

// postfix = primary { "(" [expr {"," expr}] ")" | "[" expr "]" | "." IDENT } [ "++" | "--" ]
ExprPtr Parser::parsePostfix() {
  DepthGuard chain(depth_, 0);
  ExprPtr e = parsePrimary();
  for (;;) {
    if (at(Tok::PlusPlus) || (at(Tok::MinusMinus) && !startsOperand(peekTok().kind))) {
      // Ends the chain: a statement takes it apart (parseSimpleStmt), and
      // anywhere else the checker refuses it.
      Token op = advance();
      auto inc = std::make_unique<IncDecExpr>(Span::cover(e->span, op.span));
      inc->operand = std::move(e);
      inc->decrement = op.kind == Tok::MinusMinus;
      inc->opSpan = op.span;
      return inc;
    }
    if (atAny({Tok::LParen, Tok::LBracket, Tok::Dot})) {
      ++depth_; // each call, index or member access is one level more
      if (tooDeep(cur().span, kSplitExpr)) return errorExpr(Span::cover(e->span, cur().span));
    }
    if (at(Tok::LParen)) {
      Span open = advance().span;
      auto call = std::make_unique<CallExpr>(e->span);
      call->callee = std::move(e);
      while (!at(Tok::RParen) && !at(Tok::Eof)) {
        call->args.push_back(parseExpr());
        if (!accept(Tok::Comma)) break;
      }
      call->span = Span::cover(call->span, cur().span);
      if (!expectClosing(Tok::RParen, "to close the argument list", open)) return call;
      e = std::move(call);
    } else if (at(Tok::LBracket)) {
      advance();
      auto idx = std::make_unique<IndexExpr>(e->span);
      idx->base = std::move(e);
      idx->index = parseExpr();
      if ((at(Tok::DotDot) || at(Tok::DotDotDot)) && unsupported(Span::cover(idx->index->span, cur().span), "an array slice (`a[0..4]`)"))
        return errorExpr(idx->span);
      idx->span = Span::cover(idx->span, cur().span);
      if (!expect(Tok::RBracket, "to close the index")) return idx;
      e = std::move(idx);
    } else if (at(Tok::Dot)) {
      advance();
      auto m = std::make_unique<MemberExpr>(e->span);
      m->base = std::move(e);
      if (!at(Tok::Ident)) {
        errorExpected("a member name after `.`");
        return m;
      }
      m->memberSpan = cur().span;
      m->member = std::string(advance().text);
      m->span = Span::cover(m->span, m->memberSpan);
      e = std::move(m);
    } else {
      return e;
    }
  }
}

// struct-lit = ( IDENT | "Result" ) "{" [ IDENT ":" expr { "," IDENT ":" expr } [","] ] "}"
ExprPtr Parser::parseStructLit() {
  Token name = advance();
  auto lit = std::make_unique<StructLitExpr>(name.span);
  lit->name = std::string(name.text);
  lit->nameSpan = name.span;
  advance(); // {
  while (!at(Tok::RBrace) && !at(Tok::Eof)) {
    FieldInit fi;
    if (!at(Tok::Ident)) {
      errorExpected("a field name in the struct literal");
      return lit;
    }
    fi.span = cur().span;
    fi.name = std::string(advance().text);
    if (!expect(Tok::Colon, "after the field name")) return lit;
    fi.value = parseExpr();
    lit->fields.push_back(std::move(fi));
    if (!accept(Tok::Comma) && !accept(Tok::Semi)) break;
  }
  lit->span = Span::cover(lit->span, cur().span);
  expect(Tok::RBrace, "to close the struct literal");
  return lit;
}

// primary = INT | FLOAT | STRING | TEMPLATE | "true" | "false" | "NULL" | IDENT | struct-lit | "(" expr ")"
ExprPtr Parser::parsePrimary() {
  const Token &t = cur();
  switch (t.kind) {
  case Tok::IntLit: {
    auto e = std::make_unique<IntLitExpr>(t.span);
    e->value = t.intValue;
    e->suffix = t.suffix;
    advance();
    return e;
  }
  case Tok::FloatLit: {
    auto e = std::make_unique<FloatLitExpr>(t.span);
    e->value = t.floatValue;
    e->suffix = t.suffix;
    advance();
    return e;
  }
  case Tok::StringLit: {
    auto e = std::make_unique<StringLitExpr>(t.span);
    e->value = t.str;
    advance();
    return e;
  }
  case Tok::TemplateLit: {
    Token tok = advance();
    return parseTemplate(tok);
  }
  case Tok::KwTrue:
  case Tok::KwFalse: {
    auto e = std::make_unique<BoolLitExpr>(t.span);
    e->value = t.kind == Tok::KwTrue;
    advance();
    return e;
  }
  case Tok::KwNull: {
    auto e = std::make_unique<NullLitExpr>(t.span);
    advance();
    return e;
  }
  case Tok::Dollar: {
    auto e = std::make_unique<CounterExpr>(t.span);
    advance();
    return e;
  }
  case Tok::KwIs: {
    // `is (c) : a : b` (LANGUAGE-2 A8): the false branch extends as far
    // right as an expression goes.
    DepthGuard guard(depth_);
    auto e = std::make_unique<IsExpr>(t.span);
    Span open = advance().span;
    if (tooDeep(e->span, kSplitExpr)) return errorExpr(e->span);
    open = cur().span;
    if (!expect(Tok::LParen, "after `is`")) return errorExpr(e->span);
    e->cond = parseExpr();
    if (!expectClosing(Tok::RParen, "to close the `is` condition", open)) return errorExpr(e->span);
    if (!expect(Tok::Colon, "before the value when the condition holds")) return errorExpr(e->span);
    e->ifTrue = parseExpr();
    if (!expect(Tok::Colon, "before the value when the condition fails")) return errorExpr(e->span);
    e->ifFalse = parseExpr();
    e->span = Span::cover(e->span, e->ifFalse->span);
    return e;
  }
  case Tok::AtSizeof:
  case Tok::AtAlignof: {
    // `@sizeof(T)` / `@alignof(T)`: the operand is a type (LANGUAGE-2 A6).
    auto e = std::make_unique<LayoutExpr>(t.span);
    e->align = advance().kind == Tok::AtAlignof;
    Span open = cur().span;
    if (!expect(Tok::LParen, e->align ? "after `@alignof`" : "after `@sizeof`") || !parseType(e->type))
      return errorExpr(e->span);
    e->span = Span::cover(e->span, cur().span);
    if (!expectClosing(Tok::RParen, "to close the type", open)) return errorExpr(e->span);
    return e;
  }
  case Tok::AtCast:
  case Tok::AtCastUnchecked: {
    // `@cast<T>(e)` is `(e) => T`; `@cast_unchecked<T>(e)` converts without
    // checks (LANGUAGE-2 A6).
    auto c = std::make_unique<CastExpr>(t.span);
    c->intrinsic = true;
    c->unchecked = advance().kind == Tok::AtCastUnchecked;
    const char *name = c->unchecked ? "after `@cast_unchecked`" : "after `@cast`";
    if (!expect(Tok::Lt, name) || !parseType(c->target)) return errorExpr(c->span);
    if (at(Tok::Shr)) splitCurrent(Tok::Gt, Tok::Gt, 1); // `@cast<Result<T>>`
    if (!expect(Tok::Gt, "to close the target type")) return errorExpr(c->span);
    Span open = cur().span;
    if (!expect(Tok::LParen, "before the operand")) return errorExpr(c->span);
    c->operand = parseExpr();
    c->span = Span::cover(c->span, cur().span);
    if (!expectClosing(Tok::RParen, "to close the operand", open)) return errorExpr(c->span);
    return c;
  }
  case Tok::KwNil: {
    // A type, not a value: the checker refuses the name (only `pass NIL;`
    // spells it as one, LANGUAGE-2 A8).
    auto e = std::make_unique<NameExpr>(t.span);
    e->name = "NIL";
    advance();
    return e;
  }
  case Tok::KwResult:
    if (peekTok().kind == Tok::LBrace) return parseStructLit();
    break;
  case Tok::Ident: {
    bool upper = std::isupper(static_cast<unsigned char>(t.text[0])) != 0;
    if (upper && peekTok().kind == Tok::LBrace) return parseStructLit();
    auto e = std::make_unique<NameExpr>(t.span);
    e->name = std::string(t.text);
    advance();
    return e;
  }
  case Tok::Error: {
    // Already diagnosed by the lexer (a malformed literal, say): stands in
    // for the expression, and the rest of the statement is not reported.
    Span s = advance().span;
    panicking_ = true;
    return errorExpr(s);
  }
  case Tok::LBracket: {
    // `[e0, e1, ...]` (LANGUAGE-2 A2); the checker gives it its `T[N]`.
    DepthGuard guard(depth_);
    auto lit = std::make_unique<ArrayLitExpr>(t.span);
    Span open = advance().span;
    if (tooDeep(open, kSplitExpr)) return errorExpr(open);
    while (!at(Tok::RBracket) && !at(Tok::Eof)) {
      lit->elements.push_back(parseExpr());
      if (!accept(Tok::Comma)) break;
    }
    lit->span = Span::cover(lit->span, cur().span);
    if (!expectClosing(Tok::RBracket, "to close the array literal", open)) return errorExpr(lit->span);
    return lit;
  }
  case Tok::LParen: {
    Span open = advance().span;
    ExprPtr inner = parseExpr();
    expectClosing(Tok::RParen, "to close the parenthesis", open);
    return inner;
  }
  default:
    break;
  }
  Span s = t.span;
  errorExpected("an expression");
  return errorExpr(s);
}

// template = "`" { text | "&{" expr "}" } "`" — the token holds the raw body;
// each interpolation is lexed and parsed again from its own source range.
ExprPtr Parser::parseTemplate(const Token &t) {
  auto e = std::make_unique<TemplateExpr>(t.span);
  const std::string &text = sm_.file(fileId_).text;
  uint32_t bodyBegin = t.span.begin + 1, bodyEnd = t.span.end - 1;
  Lexer decoder(sm_, fileId_, bodyBegin, bodyEnd, diags_);
  uint32_t textStart = bodyBegin;
  uint32_t i = bodyBegin;
  auto flushText = [&](uint32_t end) {
    if (end > textStart) e->parts.push_back(TemplatePart{decoder.decodeText(textStart, end), nullptr});
  };
  while (i < bodyEnd) {
    if (text[i] == '\\') {
      i += 2;
      continue;
    }
    if (text[i] == '&' && i + 1 < bodyEnd && text[i + 1] == '{') {
      flushText(i);
      uint32_t exprBegin = i + 2, j = exprBegin;
      int nest = 0;
      while (j < bodyEnd && !(text[j] == '}' && nest == 0)) {
        if (text[j] == '{') ++nest;
        if (text[j] == '}') --nest;
        ++j;
      }
      if (j >= bodyEnd) {
        diags_.error(DiagId::BadTemplate, Span{fileId_, i, i + 2}, "`&{` has no closing `}` in the template string")
            .withHelp("close the interpolation: `&{name}`");
        return e;
      }
      Lexer sub(sm_, fileId_, exprBegin, j, diags_);
      std::vector<Token> toks = sub.lexAll();
      if (toks.size() <= 1) {
        diags_.error(DiagId::BadTemplate, Span{fileId_, i, j + 1}, "empty interpolation `&{}` in the template string")
            .withHelp("put an expression inside the braces: `&{x}`");
        return e;
      }
      Parser subParser(sm_, fileId_, std::move(toks), diags_);
      subParser.depth_ = depth_;
      e->parts.push_back(TemplatePart{"", subParser.parseStandaloneExpr()});
      i = j + 1;
      textStart = i;
      continue;
    }
    ++i;
  }
  flushText(bodyEnd);
  return e;
}

ExprPtr Parser::parseStandaloneExpr() {
  ExprPtr e = parseExpr();
  if (!at(Tok::Eof)) {
    if (Diag *d = errorAt(cur().span, DiagId::BadTemplate, "unexpected " + describeTok(cur()) + " in the interpolation"))
      d->withHelp("an interpolation holds exactly one expression: `&{a + b}`");
  }
  return e;
}

} // namespace npk
