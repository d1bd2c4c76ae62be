#include "parse/Parser.h"
#include "support/Stack.h"

#include <gtest/gtest.h>

namespace npk {
namespace {

struct Parsed {
  SourceManager sm;
  DiagEngine diags;
  Module module;
  explicit Parsed(const std::string &text) {
    uint32_t id = sm.add("test.npk", text);
    parseFile(sm, id, diags, module);
  }
  std::vector<DiagId> ids() const {
    std::vector<DiagId> out;
    for (const Diag &d : diags.all()) out.push_back(d.id);
    return out;
  }
  const BlockStmt &mainBody() const { return *module.funcs.at(0)->body; }
};

TEST(Parser, SeedProgramParses) {
  Parsed p("use \"jit.npk\".*;\n"
           "func:main = int32() {\n"
           "    wildx int8->:f = raw Jit.compile_add_i32();\n"
           "    int32:r = raw Jit.call_i32_i32(f, 7i32, 35i32);\n"
           "    fixed int32:rc = raw Jit.free(f);\n"
           "    if (r == 42i32 && rc == 0i32) { exit 0; }\n"
           "    exit 1;\n"
           "};\n");
  EXPECT_FALSE(p.diags.hasErrors());
  ASSERT_EQ(p.module.uses.size(), 1u);
  EXPECT_EQ(p.module.uses[0].path, "jit.npk");
  ASSERT_EQ(p.module.funcs.size(), 1u);
  const BlockStmt &body = p.mainBody();
  ASSERT_EQ(body.stmts.size(), 5u);
  auto *f = as<VarDeclStmt>(body.stmts[0].get());
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->binding.quals, QualWildx);
  EXPECT_EQ(f->type.name, "int8");
  EXPECT_EQ(f->type.pointerDepth, 1);
  auto *raw = as<RawExpr>(f->init.get());
  ASSERT_NE(raw, nullptr);
  auto *call = as<CallExpr>(raw->operand.get());
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->calleeFullName(), "Jit.compile_add_i32");
}

TEST(Parser, DeclarationKinds) {
  Parsed p("extern func:abs = int32(int32:x);\n"
           "struct:Pair = { int32:a; int32:b; };\n"
           "Type:Math = { func:twice = int32(int32:x) { pass x * 2; }; };\n"
           "impl:Drop:for:Pair = { func:drop = NIL($$m Pair:self) { pass; }; };\n"
           "func:main = int32() { exit 0; };\n");
  EXPECT_FALSE(p.diags.hasErrors());
  EXPECT_EQ(p.module.externs.size(), 1u);
  ASSERT_EQ(p.module.structs.size(), 1u);
  EXPECT_EQ(p.module.structs[0]->fields.size(), 2u);
  ASSERT_EQ(p.module.typeBlocks.size(), 1u);
  EXPECT_EQ(p.module.typeBlocks[0]->members[0]->name, "twice");
  ASSERT_EQ(p.module.impls.size(), 1u);
  EXPECT_EQ(p.module.impls[0]->target, "Pair");
  EXPECT_EQ(p.module.impls[0]->methods[0]->params[0]->binding.quals, QualBorrowMut);
}

// The flat form and a block member are parsed by one signature rule
// (LANGUAGE-2 A1.1): the same text gives the same declaration, qualifiers,
// `?*` and `..?` included.
TEST(Parser, ExternFormsShareOneSignatureGrammar) {
  const char *sigs[] = {"wild int8*(const string:s)", "void(wild ?*:p)", "int32(string:fmt, ..?)",
                        "wildx ?*(int64:n, const uint8*:code)", "NIL(uint16:a, bool:b)"};
  for (const char *sig : sigs) {
    Parsed flat(std::string("extern func:f = ") + sig + ";\n");
    Parsed block(std::string("extern \"lib\" {\n    pub func:f = ") + sig + ";\n}\n");
    ASSERT_FALSE(flat.diags.hasErrors()) << sig;
    ASSERT_FALSE(block.diags.hasErrors()) << sig;
    ASSERT_EQ(flat.module.externs.size(), 1u);
    ASSERT_EQ(block.module.externs.size(), 1u);
    const ExternDecl &a = *flat.module.externs[0], &b = *block.module.externs[0];
    EXPECT_EQ(b.label, "lib");
    EXPECT_TRUE(b.isPub);
    EXPECT_TRUE(a.label.empty());
    EXPECT_EQ(a.retQuals, b.retQuals) << sig;
    EXPECT_EQ(a.retType.name, b.retType.name) << sig;
    EXPECT_EQ(a.retType.pointerDepth, b.retType.pointerDepth) << sig;
    EXPECT_EQ(a.variadic, b.variadic) << sig;
    ASSERT_EQ(a.params.size(), b.params.size()) << sig;
    for (size_t i = 0; i < a.params.size(); ++i) {
      EXPECT_EQ(a.params[i].quals, b.params[i].quals) << sig;
      EXPECT_EQ(a.params[i].type.name, b.params[i].type.name) << sig;
      EXPECT_EQ(a.params[i].type.pointerDepth, b.params[i].type.pointerDepth) << sig;
      EXPECT_EQ(a.params[i].name, b.params[i].name) << sig;
    }
  }
  Parsed q("extern func:f = wild int8*(const string:s, ..?);\n");
  ASSERT_EQ(q.module.externs.size(), 1u);
  const ExternDecl &e = *q.module.externs[0];
  EXPECT_EQ(e.retQuals, QualWild);
  EXPECT_EQ(e.params.at(0).quals, QualConst);
  EXPECT_TRUE(e.variadic);
}

TEST(Parser, PrecedenceFollowsTheSpec) {
  Parsed p("func:main = int32() { int32:x = 1 + 2 * 3 << 1; bool:b = x < 3 || x == 4 && true; exit 0; };");
  ASSERT_FALSE(p.diags.hasErrors());
  auto *x = as<VarDeclStmt>(p.mainBody().stmts[0].get());
  auto *shl = as<BinaryExpr>(x->init.get());
  ASSERT_NE(shl, nullptr);
  EXPECT_EQ(shl->op, BinaryOp::Shl);
  auto *add = as<BinaryExpr>(shl->lhs.get());
  ASSERT_NE(add, nullptr);
  EXPECT_EQ(add->op, BinaryOp::Add);
  EXPECT_EQ(as<BinaryExpr>(add->rhs.get())->op, BinaryOp::Mul);
  auto *b = as<VarDeclStmt>(p.mainBody().stmts[1].get());
  auto *orExpr = as<BinaryExpr>(b->init.get());
  ASSERT_NE(orExpr, nullptr);
  EXPECT_EQ(orExpr->op, BinaryOp::Or);
  EXPECT_EQ(as<BinaryExpr>(orExpr->rhs.get())->op, BinaryOp::And);
}

TEST(Parser, RawBindsTighterThanCastAndBinary) {
  Parsed p("func:main = int32() { int64:x = raw f() => int64 + 1; exit 0; };");
  ASSERT_FALSE(p.diags.hasErrors());
  auto *x = as<VarDeclStmt>(p.mainBody().stmts[0].get());
  auto *add = as<BinaryExpr>(x->init.get());
  ASSERT_NE(add, nullptr);
  auto *cast = as<CastExpr>(add->lhs.get());
  ASSERT_NE(cast, nullptr);
  EXPECT_NE(as<RawExpr>(cast->operand.get()), nullptr);
}

TEST(Parser, DefaultOperatorAndResultLiteral) {
  Parsed p("func:f = int32() { return Result{ val: 1, err: 0, is_error: false }; };\n"
           "func:main = int32() { int32:x = f() ? -1; exit 0; };");
  ASSERT_FALSE(p.diags.hasErrors());
  auto *ret = as<ReturnStmt>(p.module.funcs[0]->body->stmts[0].get());
  auto *lit = as<StructLitExpr>(ret->value.get());
  ASSERT_NE(lit, nullptr);
  EXPECT_EQ(lit->name, "Result");
  EXPECT_EQ(lit->fields.size(), 3u);
  auto *x = as<VarDeclStmt>(p.module.funcs[1]->body->stmts[0].get());
  EXPECT_NE(as<DefaultExpr>(x->init.get()), nullptr);
}

TEST(Parser, TemplateSplitsInterpolations) {
  Parsed p("func:main = int32() { println(`a &{x + 1} b`); exit 0; };");
  ASSERT_FALSE(p.diags.hasErrors());
  auto *stmt = as<ExprStmt>(p.mainBody().stmts[0].get());
  auto *call = as<CallExpr>(stmt->expr.get());
  auto *tpl = as<TemplateExpr>(call->args[0].get());
  ASSERT_NE(tpl, nullptr);
  ASSERT_EQ(tpl->parts.size(), 3u);
  EXPECT_EQ(tpl->parts[0].text, "a ");
  EXPECT_NE(as<BinaryExpr>(tpl->parts[1].expr.get()), nullptr);
  EXPECT_EQ(tpl->parts[2].text, " b");
}

TEST(Parser, DeferForms) {
  Parsed p("func:main = int32() { defer { println(\"a\"); } defer println(\"b\"); exit 0; };");
  ASSERT_FALSE(p.diags.hasErrors());
  EXPECT_NE(as<BlockStmt>(as<DeferStmt>(p.mainBody().stmts[0].get())->body.get()), nullptr);
  EXPECT_NE(as<ExprStmt>(as<DeferStmt>(p.mainBody().stmts[1].get())->body.get()), nullptr);
}

TEST(Parser, OneSyntaxErrorGivesOneDiagnostic) {
  Parsed p("func:main = int32() {\n"
           "    int32:x = (1 + ;\n"
           "    int32:y = 2;\n"
           "    exit 0;\n"
           "};\n");
  EXPECT_EQ(p.diags.errorCount(), 1u);
  // Recovery keeps the statements after the error.
  EXPECT_GE(p.mainBody().stmts.size(), 3u);
}

TEST(Parser, MissingDeclarationSemicolon) {
  Parsed p("func:main = int32() { exit 0; }\n");
  EXPECT_EQ(p.ids(), std::vector<DiagId>{DiagId::MissingDeclSemi});
}

TEST(Parser, SemicolonAfterStatementBlock) {
  Parsed p("func:main = int32() { if (true) { exit 1; }; exit 0; };\n");
  EXPECT_EQ(p.ids(), std::vector<DiagId>{DiagId::StrayBlockSemi});
}

TEST(Parser, StatementAtTopLevel) {
  Parsed p("x = 1;\nfunc:main = int32() { exit 0; };\n");
  EXPECT_EQ(p.ids(), std::vector<DiagId>{DiagId::ExpectedDecl});
  EXPECT_EQ(p.module.funcs.size(), 1u);
}

TEST(Parser, TopLevelBindings) {
  // LANGUAGE-2 A5: the kind comes from `const`/`fixed`; the checker judges
  // the rest (a `wild` global is parsed, then refused there).
  Parsed p("int32:x = 1;\nconst int64:K = 2;\npub fixed string:S;\nwild int8->:w;\n"
           "func:main = int32() { exit 0; };\n");
  EXPECT_TRUE(p.ids().empty());
  ASSERT_EQ(p.module.globals.size(), 4u);
  EXPECT_EQ(p.module.globals[0]->kind, GlobalDecl::Kind::Var);
  EXPECT_EQ(p.module.globals[1]->kind, GlobalDecl::Kind::Const);
  EXPECT_TRUE(p.module.globals[1]->decl->binding.isConst);
  EXPECT_EQ(p.module.globals[2]->kind, GlobalDecl::Kind::Fixed);
  EXPECT_TRUE(p.module.globals[2]->isPub);
  EXPECT_EQ(p.module.globals[2]->decl->init, nullptr);
  EXPECT_EQ(p.module.globals[3]->decl->binding.quals, QualWild);
  EXPECT_EQ(p.module.funcs.size(), 1u);
}

TEST(Parser, LessThanNegativeIsSplit) {
  Parsed p("func:main = int32() { bool:b = x<-1; exit 0; };");
  ASSERT_FALSE(p.diags.hasErrors());
  auto *b = as<VarDeclStmt>(p.mainBody().stmts[0].get());
  auto *lt = as<BinaryExpr>(b->init.get());
  ASSERT_NE(lt, nullptr);
  EXPECT_EQ(lt->op, BinaryOp::Lt);
  EXPECT_NE(as<UnaryExpr>(lt->rhs.get()), nullptr);
}

// `x--;` is a decrement statement; `x--y` stays `x - -y` and `--y` is `-(-y)`.
TEST(Parser, DecrementOrMinusNegate) {
  Parsed p("func:main = int32() { x--; c.n++; int32:d = x--y; int32:e = --y; exit 0; };");
  ASSERT_FALSE(p.diags.hasErrors());
  auto &stmts = p.mainBody().stmts;
  for (int i : {0, 1}) {
    auto *a = as<AssignStmt>(stmts[i].get());
    ASSERT_NE(a, nullptr);
    EXPECT_TRUE(a->increment);
    EXPECT_EQ(a->op, i == 0 ? BinaryOp::Sub : BinaryOp::Add);
  }
  auto *sub = as<BinaryExpr>(as<VarDeclStmt>(stmts[2].get())->init.get());
  ASSERT_NE(sub, nullptr);
  EXPECT_EQ(sub->op, BinaryOp::Sub);
  auto *neg = as<UnaryExpr>(sub->rhs.get());
  ASSERT_NE(neg, nullptr);
  EXPECT_EQ(neg->op, UnaryOp::Neg);
  auto *outer = as<UnaryExpr>(as<VarDeclStmt>(stmts[3].get())->init.get());
  ASSERT_NE(outer, nullptr);
  EXPECT_NE(as<UnaryExpr>(outer->operand.get()), nullptr);
}

// Nesting up to the bound takes more stack than a default thread has: the
// parser runs on the compiler's stack, as in npkc.
TEST(Parser, DeepNestingIsAnErrorNotACrash) {
  size_t n = kMaxTreeDepth + 1;
  std::string text = "func:main = int32() { exit " + std::string(n, '(') + "1" + std::string(n, ')') + "; };";
  std::vector<DiagId> ids;
  runWithCompilerStack([&] { ids = Parsed(text).ids(); });
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(ids[0], DiagId::TooDeep);
}

// A chain is as deep as it is long: `1 + 1 + ...` past the bound is one
// NPK-P006, not a tree no later phase could walk.
TEST(Parser, LongOperatorChainIsBounded) {
  std::string sum = "1";
  for (int i = 0; i < kMaxTreeDepth + 10; ++i) sum += " + 1";
  std::vector<DiagId> ids;
  runWithCompilerStack([&] { ids = Parsed("func:main = int32() { exit " + sum + "; };").ids(); });
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(ids[0], DiagId::TooDeep);
}

} // namespace
} // namespace npk
