// The ownership dataflow: states at a program point, the fixpoint through
// loops, path explanations, the findings it reports and the drop plan.
#include "own_test_support.h"

#include "own/DropPlanner.h"

namespace npk {
namespace {

using namespace own;
using testing::bindingId;
using testing::Checked;

// The state of `name` just before the function's first `pass` site.
uint8_t stateAtPass(const Cfg &cfg, const Solution &sol, const std::string &name) {
  uint8_t state = 0;
  unsigned id = bindingId(cfg, name);
  replay(cfg, sol, [&](unsigned, size_t, const Event &e, const OwnState &before) {
    if (e.kind == EventKind::DropPoint && cfg.sites[e.site].kind == SiteKind::Pass) state |= before[id];
  });
  return state;
}

// The persistent state: copies are independent values, a join adds bits and
// reports growth, across several levels of the tree.
TEST(OwnDataflow, StateCopiesAreIndependentAndJoinsAddBits) {
  const size_t n = 5000; // three interior levels over the leaves
  OwnState a(n, kUnowned);
  ASSERT_EQ(a.size(), n);
  for (size_t id : {size_t{0}, size_t{15}, size_t{16}, size_t{4095}, size_t{4999}}) EXPECT_EQ(a[id], kUnowned);
  OwnState b = a;
  b.set(4096, kOwned);
  b.set(17, kFreed);
  EXPECT_EQ(a[4096], kUnowned) << "a copy does not see a change made after it";
  EXPECT_EQ(a[17], kUnowned);
  EXPECT_EQ(b[4096], kOwned);
  EXPECT_EQ(b[4097], kUnowned);
  OwnState same = b;
  EXPECT_FALSE(same.join(b)) << "a state joined with itself does not grow";
  OwnState c = a;
  EXPECT_TRUE(c.join(b));
  EXPECT_EQ(c[4096], kUnowned | kOwned);
  EXPECT_EQ(c[17], kUnowned | kFreed);
  EXPECT_EQ(c[18], kUnowned);
  EXPECT_FALSE(c.join(b)) << "joining the same bits again adds nothing";
  EXPECT_FALSE(c.join(a));
  EXPECT_EQ(b[4096], kOwned) << "a join changes only its target";
}

TEST(OwnDataflow, BranchesJoinBySetUnion) {
  Checked c("func:one = int32(bool:c) {\n"
            "    wild int8->:p = alloc(4);\n"
            "    if (c) { free(p); }\n"
            "    pass 0;\n"
            "};\n"
            "func:both = int32(bool:c) {\n"
            "    wild int8->:p = alloc(4);\n"
            "    if (c) { free(p); } else { free(p); }\n"
            "    pass 0;\n"
            "};\n"
            "func:leaving = int32(bool:c) {\n"
            "    wild int8->:p = alloc(4);\n"
            "    if (c) { free(p); fail 1; }\n"
            "    pass 0;\n"
            "};\n"
            "func:main = int32() { exit 0; };\n");
  ASSERT_TRUE(c.clean());
  Cfg one = buildCfg(c.func("one")), both = buildCfg(c.func("both")), leaving = buildCfg(c.func("leaving"));
  EXPECT_EQ(stateAtPass(one, solve(one), "p"), kOwned | kFreed);
  EXPECT_EQ(stateAtPass(both, solve(both), "p"), kFreed);
  EXPECT_EQ(stateAtPass(leaving, solve(leaving), "p"), kOwned) << "an exiting branch does not reach the join";
}

TEST(OwnDataflow, LoopFixpointCarriesTheFreeRoundTheBackEdge) {
  Checked c("func:main = int32() {\n"
            "    wild int8->:p = alloc(4);\n"
            "    int32:i = 0;\n"
            "    while (i < 3) { free(p); i += 1; }\n"
            "    exit 0;\n"
            "};\n");
  ASSERT_TRUE(c.clean());
  Cfg cfg = buildCfg(c.func("main"));
  Solution sol = solve(cfg);
  unsigned p = bindingId(cfg, "p");
  bool sawReleaseOfFreed = false;
  replay(cfg, sol, [&](unsigned block, size_t index, const Event &e, const OwnState &before) {
    if (e.kind != EventKind::Release) return;
    EXPECT_EQ(before[p], kOwned | kFreed);
    sawReleaseOfFreed = true;
    Origin o = traceOrigin(cfg, sol, block, index, p, kFreed);
    ASSERT_EQ(o.steps.size(), 1u);
    EXPECT_NE(o.steps[0].loop, nullptr) << "explained as an earlier iteration";
  });
  EXPECT_TRUE(sawReleaseOfFreed);
}

TEST(OwnDataflow, OriginNamesTheDecidingCondition) {
  Checked c("func:f = int32(int32:c) {\n"
            "    wild int8->:p = alloc(4);\n"
            "    if (c > 0) { free(p); }\n"
            "    pass 0;\n"
            "};\n"
            "func:main = int32() { exit 0; };\n");
  ASSERT_TRUE(c.clean());
  Cfg cfg = buildCfg(c.func("f"));
  Solution sol = solve(cfg);
  unsigned p = bindingId(cfg, "p");
  replay(cfg, sol, [&](unsigned block, size_t index, const Event &e, const OwnState &) {
    if (e.kind != EventKind::Leave || cfg.sites[e.site].kind != SiteKind::Pass) return;
    Origin o = traceOrigin(cfg, sol, block, index, p, kOwned);
    ASSERT_NE(o.event, nullptr);
    EXPECT_EQ(o.event->kind, EventKind::Init);
    ASSERT_EQ(o.steps.size(), 1u);
    EXPECT_EQ(c.sm.text(o.steps[0].decision.cond->span), "c > 0");
    EXPECT_FALSE(o.steps[0].decision.value);
  });
}

TEST(OwnDataflow, ReportsOneDiagnosticPerMistake) {
  Checked c("func:main = int32() {\n"
            "    wild int8->:a = alloc(4);\n"
            "    wild int8->:b = alloc(4);\n"
            "    free(a); free(a); free(a);\n"
            "    int32:x = a[0];\n"
            "    if (x > 0) { exit 1; }\n"
            "    exit 2;\n"
            "};\n");
  ASSERT_TRUE(c.clean());
  EXPECT_EQ(c.ownershipCodes(), (std::vector<std::string>{"ARIA-022", "ARIA-014"}));
  const Diag &leak = c.lastDiag();
  EXPECT_EQ(leak.message, "wild allocation `b` is never freed");
  ASSERT_EQ(leak.notes.size(), 1u) << "the second leaking exit is a note";
  EXPECT_EQ(leak.secondary.at(0).text, "allocated here");
}

TEST(OwnDataflow, UseAfterFreeAndCleanPrograms) {
  Checked bad("func:peek = int32(int8->:p) { pass p[0]; };\n"
              "func:main = int32() {\n"
              "    wildx int8->:p = wildx_alloc(8);\n"
              "    wildx_free(p);\n"
              "    exit raw peek(p);\n"
              "};\n");
  ASSERT_TRUE(bad.clean());
  EXPECT_EQ(bad.ownershipCodes(), std::vector<std::string>{"ARIA-015"});
  Checked good("func:make = wildx int8->() {\n"
               "    wildx int8->:p = wildx_alloc(8);\n"
               "    if (p == NULL) { fail 201; }\n"
               "    pass p;\n"
               "};\n"
               "func:main = int32() {\n"
               "    wildx int8->:p = raw make();\n"
               "    defer wildx_free(p);\n"
               "    p[0] = 1;\n"
               "};\n");
  ASSERT_TRUE(good.clean());
  EXPECT_TRUE(good.ownershipCodes().empty());
}

TEST(OwnDataflow, DropPlanUsesFlagsOnlyWherePathsDisagree) {
  Checked c("func:one = int32(bool:c) {\n"
            "    wild int8->:p = alloc(4);\n"
            "    if (c) { free(p); }\n"
            "    pass 0;\n"
            "};\n"
            "func:owned = int32() {\n"
            "    wild int8->:p = alloc(4);\n"
            "    pass 0;\n"
            "};\n"
            "func:freed = int32() {\n"
            "    wild int8->:p = alloc(4);\n"
            "    free(p);\n"
            "    pass 0;\n"
            "};\n"
            "func:main = int32() { exit 0; };\n",
            true);
  ASSERT_TRUE(c.clean());
  nir::Module nir;
  EXPECT_TRUE(c.ownershipCodes(&nir).empty());
  const nir::Func *one = nir.find(&c.func("one"));
  ASSERT_NE(one, nullptr);
  auto drops = testing::insts(*one, nir::Op::Drop);
  ASSERT_EQ(drops.size(), 1u);
  EXPECT_TRUE(drops[0]->guarded);
  EXPECT_EQ(testing::insts(*one, nir::Op::Flag).size(), 1u) << "set where `p` is declared";
  size_t clears = 0;
  for (const nir::Inst *e : testing::insts(*one, nir::Op::Eval)) clears += e->clearsFlag.size();
  EXPECT_EQ(clears, 1u) << "the `free(p)` call clears the flag";
  const nir::Func *owned = nir.find(&c.func("owned"));
  ASSERT_NE(owned, nullptr);
  ASSERT_EQ(testing::insts(*owned, nir::Op::Drop).size(), 1u);
  EXPECT_FALSE(testing::insts(*owned, nir::Op::Drop)[0]->guarded);
  EXPECT_TRUE(testing::insts(*owned, nir::Op::Flag).empty());
  EXPECT_TRUE(testing::insts(*nir.find(&c.func("freed")), nir::Op::Drop).empty()) << "nothing left to drop";
}

TEST(OwnDataflow, MovedBindingsAreNotDropped) {
  Checked c("struct:S = { int32:v; };\n"
            "impl:Drop:for:S = { func:drop = NIL($$m S:self) { println(\"d\"); }; };\n"
            "func:make = S() {\n"
            "    S:keep = S{ v: 1 };\n"
            "    S:out = S{ v: 2 };\n"
            "    pass out;\n"
            "};\n"
            "func:main = int32() { exit 0; };\n");
  ASSERT_TRUE(c.clean());
  nir::Module nir;
  EXPECT_TRUE(c.ownershipCodes(&nir).empty());
  const nir::Func *make = nir.find(&c.func("make"));
  ASSERT_NE(make, nullptr);
  auto drops = testing::insts(*make, nir::Op::Drop);
  ASSERT_EQ(drops.size(), 1u);
  EXPECT_EQ(drops[0]->binding->name, "keep");
  EXPECT_EQ(drops[0]->dropKind, nir::DropKind::UserDrop);
}

TEST(OwnDataflow, TransferMovesOwnershipToTheNewBinding) {
  Checked c("func:f = int32() {\n"
            "    wildx int8->:p = wildx_alloc(8);\n"
            "    wildx int8->:q = p;\n"
            "    pass 0;\n"
            "};\n"
            "func:main = int32() { exit 0; };\n");
  ASSERT_TRUE(c.clean());
  Cfg cfg = buildCfg(c.func("f"));
  Solution sol = solve(cfg);
  EXPECT_EQ(stateAtPass(cfg, sol, "p"), kMoved);
  EXPECT_EQ(stateAtPass(cfg, sol, "q"), kOwned);
  EXPECT_EQ(c.ownershipCodes(), std::vector<std::string>{"ARIA-014"}) << "q leaks, p does not";
}

TEST(OwnDataflow, BorrowDanglesWhenItsOwnerIsReleased) {
  Checked c("func:dangling = int32() {\n"
            "    wild int8->:p = alloc(8);\n"
            "    int8->:q = p;\n"
            "    free(p);\n"
            "    pass 0;\n"
            "};\n"
            "func:repointed = int32(bool:c) {\n"
            "    wild int8->:p = alloc(8);\n"
            "    int8->:q = p => int8->;\n"
            "    if (c) { q = NULL; }\n"
            "    free(p);\n"
            "    pass 0;\n"
            "};\n"
            "func:several = int32() {\n"
            "    wild int8->:a = alloc(8);\n"
            "    wild int8->:b = alloc(8);\n"
            "    int8->:q = a;\n"
            "    q = b;\n"
            "    free(a); free(b);\n"
            "    pass 0;\n"
            "};\n"
            "func:main = int32() { exit 0; };\n");
  ASSERT_TRUE(c.clean());
  Cfg dangling = buildCfg(c.func("dangling")), repointed = buildCfg(c.func("repointed"));
  EXPECT_EQ(dangling.bindings[bindingId(dangling, "q")].owner, dangling.bindings[bindingId(dangling, "p")].binding);
  EXPECT_EQ(stateAtPass(dangling, solve(dangling), "q"), kFreed);
  EXPECT_EQ(stateAtPass(repointed, solve(repointed), "q"), kUnowned | kFreed) << "freed only where still borrowing";
  Cfg several = buildCfg(c.func("several"));
  EXPECT_EQ(several.bindings[bindingId(several, "q")].slots.size(), 2u) << "two possible owners";
  EXPECT_EQ(stateAtPass(several, solve(several), "q"), kFreed) << "points into `b`, released";
  EXPECT_TRUE(c.ownershipCodes().empty());
}

// Deep nesting of every construct the CFG handles: no crash, a clean result.
TEST(OwnDataflow, DeepNestingIsHandled) {
  std::string body;
  int depth = 60;
  for (int i = 0; i < depth; ++i) {
    std::string n = std::to_string(i);
    body += "int32:i" + n + " = 0;\nwhile (i" + n + " < 2) {\ni" + n + " += 1;\nwild int8->:p" + n +
            " = alloc(1);\ndefer free(p" + n + ");\nif (i" + n + " == 1) { continue; }\n";
  }
  for (int i = 0; i < depth; ++i) body += "}\n";
  Checked c("func:main = int32() {\n" + body + "exit 0;\n};\n");
  ASSERT_TRUE(c.clean());
  EXPECT_TRUE(c.ownershipCodes().empty());
}

} // namespace
} // namespace npk
