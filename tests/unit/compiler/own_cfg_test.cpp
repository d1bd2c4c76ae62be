// The ownership CFG: shape of branches and loops, exit sites, defer bodies
// inlined per exit, the deallocator rule and the bindings followed.
#include "own_test_support.h"

#include <algorithm>

namespace npk {
namespace {

using namespace own;
using testing::bindingId;
using testing::Checked;

size_t countEvents(const Cfg &cfg, EventKind kind, unsigned binding) {
  size_t n = 0;
  for (const CfgBlock &b : cfg.blocks)
    for (const Event &e : b.events) n += e.kind == kind && e.binding == binding;
  return n;
}

size_t countSites(const Cfg &cfg, SiteKind kind) {
  return std::count_if(cfg.sites.begin(), cfg.sites.end(), [&](const ExitSite &s) { return s.kind == kind; });
}

TEST(OwnCfg, DeallocatorNamingRule) {
  for (const char *name : {"free", "wildx_free", "destroy", "release", "page_free", "buf_destroy", "pool_release"})
    EXPECT_TRUE(isDeallocatorName(name)) << name;
  for (const char *name : {"freeze", "free_list", "released", "unfree", "drop", "wildx_seal"})
    EXPECT_FALSE(isDeallocatorName(name)) << name;
}

TEST(OwnCfg, FollowsWildBindingsWildResultsAndDestructors) {
  Checked c("struct:S = { int32:v; };\n"
            "impl:Drop:for:S = { func:drop = NIL($$m S:self) { println(\"d\"); }; };\n"
            "func:make = wildx int8->() { wildx int8->:p = wildx_alloc(8); pass p; };\n"
            "func:main = int32() {\n"
            "    wild int8->:a = alloc(4);\n"
            "    int8->:b = alloc(4);\n"
            "    wildx int8->:m = raw make();\n"
            "    int8->:n = raw make();\n"
            "    S:s = S{ v: 1 };\n"
            "    free(a); free(b); wildx_free(m); wildx_free(n);\n"
            "    exit 0;\n"
            "};\n");
  ASSERT_TRUE(c.clean());
  Cfg cfg = buildCfg(c.func("main"));
  EXPECT_TRUE(cfg.bindings[bindingId(cfg, "a")].checked);
  EXPECT_TRUE(cfg.bindings[bindingId(cfg, "m")].checked) << "a wild function's result is";
  // An allocation bound to an unqualified pointer is not followed; it is
  // recorded for NPK-O008 instead.
  EXPECT_FALSE(cfg.bindings[bindingId(cfg, "b")].followed());
  EXPECT_FALSE(cfg.bindings[bindingId(cfg, "n")].followed());
  ASSERT_EQ(cfg.plainOwners.size(), 2u);
  EXPECT_EQ(cfg.plainOwners[0].binding->name, "b");
  EXPECT_EQ(cfg.plainOwners[1].binding->name, "n");
  const TrackedBinding &s = cfg.bindings[bindingId(cfg, "s")];
  EXPECT_FALSE(s.checked);
  ASSERT_EQ(s.autoDrops.size(), 1u);
  EXPECT_EQ(s.autoDrops[0].kind, DropKind::UserDrop);
}

TEST(OwnCfg, DropNpkKindsOnlyWhenEnabled) {
  std::string text = "struct:P = { int32:x; };\n"
                     "func:main = int32() {\n"
                     "    wildx int8->:x = wildx_alloc(8);\n"
                     "    wild int8->:h = alloc(8);\n"
                     "    wild P:s = P{ x: 1 };\n"
                     "    wildx int8->:n = NULL;\n"
                     "};\n";
  Checked off(text, false), on(text, true);
  ASSERT_TRUE(off.clean());
  Cfg plain = buildCfg(off.func("main"));
  Cfg drop = buildCfg(on.func("main"));
  for (const char *name : {"x", "h", "s", "n"})
    EXPECT_FALSE(plain.bindings[bindingId(plain, name)].hasDrops()) << name;
  EXPECT_EQ(drop.bindings[bindingId(drop, "x")].autoDrops.at(0).kind, DropKind::WildxFree);
  EXPECT_EQ(drop.bindings[bindingId(drop, "h")].autoDrops.at(0).kind, DropKind::Free);
  EXPECT_EQ(drop.bindings[bindingId(drop, "s")].autoDrops.at(0).kind, DropKind::Free);
  EXPECT_FALSE(drop.bindings[bindingId(drop, "n")].hasDrops()) << "only the listed initialisers are automatic";
}

TEST(OwnCfg, IfBuildsTwoDecidedEdgesAndAJoin) {
  Checked c("func:f = int32(bool:c) {\n"
            "    wild int8->:p = alloc(4);\n"
            "    if (c) { free(p); } else { free(p); }\n"
            "    pass 0;\n"
            "};\n"
            "func:main = int32() { exit 0; };\n");
  ASSERT_TRUE(c.clean());
  Cfg cfg = buildCfg(c.func("f"));
  size_t decided = std::count_if(cfg.edges.begin(), cfg.edges.end(), [](const Edge &e) { return e.branch.cond; });
  EXPECT_EQ(decided, 2u);
  auto isJoin = [](const CfgBlock &b) { return b.preds.size() == 2; };
  size_t joins = std::count_if(cfg.blocks.begin(), cfg.blocks.end(), isJoin);
  EXPECT_EQ(joins, 1u);
  EXPECT_EQ(countEvents(cfg, EventKind::Release, bindingId(cfg, "p")), 2u);
}

// `is (c) : a : b` (LANGUAGE-2 A8) branches like `if`: one release on each
// decided edge, joined after the expression.
TEST(OwnCfg, IsExpressionBuildsTwoDecidedEdgesAndAJoin) {
  Checked c("func:buf_free = int32(wild int8->:p) { free(p); pass 0; };\n"
            "func:f = int32(bool:c) {\n"
            "    wild int8->:p = alloc(4);\n"
            "    int32:r = is (c) : raw buf_free(p) : raw buf_free(p);\n"
            "    pass r;\n"
            "};\n"
            "func:main = int32() { exit 0; };\n");
  ASSERT_TRUE(c.clean());
  Cfg cfg = buildCfg(c.func("f"));
  size_t decided = std::count_if(cfg.edges.begin(), cfg.edges.end(), [](const Edge &e) { return e.branch.cond; });
  EXPECT_EQ(decided, 2u);
  auto isJoin = [](const CfgBlock &b) { return b.preds.size() == 2; };
  EXPECT_EQ(std::count_if(cfg.blocks.begin(), cfg.blocks.end(), isJoin), 1);
  EXPECT_EQ(countEvents(cfg, EventKind::Release, bindingId(cfg, "p")), 2u);
}

TEST(OwnCfg, ConstantTrueLoopHasNoExitEdge) {
  Checked c("func:main = int32() {\n"
            "    while (true) { exit 1; }\n"
            "};\n");
  ASSERT_TRUE(c.clean());
  Cfg cfg = buildCfg(c.func("main"));
  for (const Edge &e : cfg.edges) {
    if (e.branch.cond) {
      EXPECT_TRUE(e.branch.value);
    }
  }
  Solution sol = solve(cfg);
  // The function's fall-through end is unreachable.
  size_t reachedEnds = 0;
  replay(cfg, sol, [&](unsigned, size_t, const Event &e, const OwnState &) {
    if (e.kind == EventKind::Leave && cfg.sites[e.site].kind == SiteKind::FunctionEnd) ++reachedEnds;
  });
  EXPECT_EQ(reachedEnds, 0u);
}

TEST(OwnCfg, DeferBodyIsInlinedAtEveryExit) {
  Checked c("func:f = int32(int32:n) {\n"
            "    wild int8->:p = alloc(4);\n"
            "    defer free(p);\n"
            "    if (n < 0) { fail 1; }\n"
            "    if (n == 0) { return Result{ val: 0, err: 0, is_error: false }; }\n"
            "    pass n;\n"
            "};\n"
            "func:main = int32() { exit 0; };\n");
  ASSERT_TRUE(c.clean());
  Cfg cfg = buildCfg(c.func("f"));
  // fail, return and pass; the body block ends with `pass`, so it has no
  // fall-through end to run the defer at.
  EXPECT_EQ(countEvents(cfg, EventKind::Release, bindingId(cfg, "p")), 3u);
  EXPECT_EQ(countSites(cfg, SiteKind::Fail), 1u);
  EXPECT_EQ(countSites(cfg, SiteKind::Return), 1u);
  EXPECT_EQ(countSites(cfg, SiteKind::Pass), 1u);
  for (const ExitSite &s : cfg.sites) {
    if (s.kind == SiteKind::Pass) {
      EXPECT_TRUE(s.releasedByDefer(bindingId(cfg, "p")));
    }
  }
}

TEST(OwnCfg, ExitRunsNeitherDropsNorDefers) {
  Checked c("func:main = int32() {\n"
            "    wild int8->:p = alloc(4);\n"
            "    defer free(p);\n"
            "    exit 0;\n"
            "};\n",
            true);
  ASSERT_TRUE(c.clean());
  Cfg cfg = buildCfg(c.func("main"));
  ASSERT_EQ(countSites(cfg, SiteKind::Exit), 1u);
  size_t exitDrops = 0;
  for (const CfgBlock &b : cfg.blocks)
    for (const Event &e : b.events)
      exitDrops += e.kind == EventKind::DropPoint && cfg.sites[e.site].kind == SiteKind::Exit;
  EXPECT_EQ(exitDrops, 0u);
}

TEST(OwnCfg, ExitKnowsTheRegisteredDefersThatRelease) {
  Checked c("func:main = int32() {\n"
            "    wild int8->:p = alloc(4);\n"
            "    wild int8->:q = alloc(4);\n"
            "    int32:n = 2;\n"
            "    if (n > 5) { exit 1; }\n"
            "    defer free(p);\n"
            "    exit 0;\n"
            "};\n");
  ASSERT_TRUE(c.clean());
  Cfg cfg = buildCfg(c.func("main"));
  unsigned p = bindingId(cfg, "p"), q = bindingId(cfg, "q");
  std::vector<const ExitSite *> exits;
  for (const ExitSite &s : cfg.sites)
    if (s.kind == SiteKind::Exit) exits.push_back(&s);
  ASSERT_EQ(exits.size(), 2u);
  EXPECT_FALSE(exits[0]->releasedByDefer(p)) << "the defer is registered after the first exit";
  EXPECT_TRUE(exits[1]->releasedByDefer(p));
  EXPECT_FALSE(exits[1]->releasedByDefer(q));
  EXPECT_EQ(c.ownershipCodes(), (std::vector<std::string>{"ARIA-014", "ARIA-014"})) << "p at `exit 1`, q at both (one report)";
}

// Which allocations no binding keeps, and which deallocator an allocation
// goes to directly.
TEST(OwnCfg, UnboundAllocations) {
  Checked c("func:make = wild int8->() { pass alloc(8); };\n"
            "func:peek = int32(int8->:p) { pass 0; };\n"
            "func:main = int32() {\n"
            "    wild int8->:kept = raw make();\n"
            "    alloc(1);\n"
            "    drop make();\n"
            "    int32:v = raw peek(alloc(2));\n"
            "    bool:b = wildx_alloc(3) == NULL;\n"
            "    free(alloc(4));\n"
            "    wildx_free(alloc(5));\n"
            "    free(kept);\n"
            "    kept = alloc(6) => int8->;\n"
            "    free(kept);\n"
            "    exit 0;\n"
            "};\n");
  ASSERT_TRUE(c.clean());
  std::vector<std::string> lost, released;
  forEachUnboundAllocation(*c.func("main").body, [&](const CallExpr &alloc, const CallExpr *release) {
    std::string text(c.sm.text(alloc.span));
    if (release) released.push_back(text + " -> " + release->calleeName());
    else lost.push_back(text);
  });
  EXPECT_EQ(lost, (std::vector<std::string>{"alloc(1)", "make()", "alloc(2)", "wildx_alloc(3)"}));
  EXPECT_EQ(released, (std::vector<std::string>{"alloc(4) -> free", "alloc(5) -> wildx_free"}));
  EXPECT_EQ(c.ownershipCodes(),
            (std::vector<std::string>{"ARIA-014", "ARIA-014", "ARIA-014", "ARIA-014", "NPK-O001"}));
}

TEST(OwnCfg, AllocationFamiliesAndTheirDeallocators) {
  Checked c("Type:Jit = {\n"
            "    func:compile_nop = wildx int8->() { pass wildx_alloc(64); };\n"
            "    func:free = int32(wildx int8->:f) { pass wildx_free(f); };\n"
            "};\n"
            "func:page_release = NIL(?->:p) { };\n"
            "func:main = int32() {\n"
            "    wild int8->:a = alloc(4);\n"
            "    wildx int8->:x = wildx_alloc(4);\n"
            "    wildx int8->:j = raw Jit.compile_nop();\n"
            "    free(a);\n"
            "    wildx_free(x);\n"
            "    drop Jit.free(j);\n"
            "    drop page_release(a);\n"
            "    exit 0;\n"
            "};\n");
  ASSERT_TRUE(c.clean());
  std::vector<const CallExpr *> inits, releases;
  for (auto &st : c.func("main").body->stmts) {
    if (auto *d = as<VarDeclStmt>(st.get())) inits.push_back(allocatingCall(*d->init));
    else if (auto *e = as<ExprStmt>(st.get())) {
      const Expr *x = e->expr.get();
      if (auto *dr = as<DropExpr>(x)) x = dr->operand.get();
      if (auto *call = as<CallExpr>(x)) releases.push_back(call);
    }
  }
  ASSERT_EQ(inits.size(), 3u);
  ASSERT_TRUE(inits[0] && inits[1] && inits[2]);
  EXPECT_EQ(allocationFamily(*inits[0]), FamilyWildHeap);
  EXPECT_EQ(allocationFamily(*inits[1]), FamilyWildx);
  EXPECT_EQ(allocationFamily(*inits[2]), FamilyWildx) << "a function declared `wildx`";
  ASSERT_EQ(releases.size(), 4u);
  EXPECT_EQ(releasableFamilies(*releases[0]), FamilyWildHeap);
  EXPECT_EQ(releasableFamilies(*releases[1]), FamilyWildx);
  EXPECT_EQ(releasableFamilies(*releases[2]), FamilyWildx) << "Jit.free";
  EXPECT_EQ(releasableFamilies(*releases[3]), FamilyAny) << "a wrapper with a body";
}

TEST(OwnCfg, BreakAndContinueLeaveOnlyTheLoopBody) {
  Checked c("func:main = int32() {\n"
            "    wild int8->:outer = alloc(4);\n"
            "    int32:i = 0;\n"
            "    while (i < 3) {\n"
            "        i += 1;\n"
            "        wild int8->:inner = alloc(4);\n"
            "        if (i == 1) { free(inner); continue; }\n"
            "        free(inner);\n"
            "        break;\n"
            "    }\n"
            "    free(outer);\n"
            "    exit 0;\n"
            "};\n");
  ASSERT_TRUE(c.clean());
  Cfg cfg = buildCfg(c.func("main"));
  unsigned inner = bindingId(cfg, "inner"), outer = bindingId(cfg, "outer");
  for (const ExitSite &s : cfg.sites) {
    if (s.kind != SiteKind::Break && s.kind != SiteKind::Continue) continue;
    EXPECT_EQ(s.bindings, std::vector<unsigned>{inner});
    EXPECT_TRUE(std::find(s.bindings.begin(), s.bindings.end(), outer) == s.bindings.end());
  }
  size_t backEdges = std::count_if(cfg.edges.begin(), cfg.edges.end(), [](const Edge &e) { return e.loopBack; });
  EXPECT_EQ(backEdges, 1u) << "the `continue`; the body ends with `break`, so its end does not loop back";
}

TEST(OwnCfg, NullTestsRefineTheirEdges) {
  Checked c("func:f = int32(int32:n) {\n"
            "    wildx int8->:p = wildx_alloc(8);\n"
            "    if (p == NULL && n > 0) { fail 1; }\n"
            "    if (NULL != p) { wildx_free(p); }\n"
            "    pass 0;\n"
            "};\n"
            "func:main = int32() { exit 0; };\n");
  ASSERT_TRUE(c.clean());
  Cfg cfg = buildCfg(c.func("f"));
  unsigned p = bindingId(cfg, "p");
  size_t refined = 0;
  for (const Edge &e : cfg.edges) {
    if (e.knownNull.empty()) continue;
    ++refined;
    EXPECT_EQ(e.knownNull, std::vector<unsigned>{p});
  }
  // `p == NULL` true (into the `&&`), the whole `&&` true, `NULL != p` false.
  EXPECT_EQ(refined, 3u);
}

} // namespace
} // namespace npk
