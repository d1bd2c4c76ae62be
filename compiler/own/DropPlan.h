// The drop plan: which automatic releases (drop.npk bindings, `impl:Drop`
// destructors) the lowering inserts, and where. The ownership phase computes it
// from the same CFG facts it checks, so the checker and the code generator
// never disagree about which binding is owned at an exit.
#pragma once

#include "ast/AST.h"

#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace npk {

enum class DropKind : uint8_t {
  WildxFree, // npk_wildx_free(binding)
  Free,      // npk_free(binding)  (also `wild S:x` heap structs)
  UserDrop,  // T_drop(@binding)   (`impl:Drop:for:T`)
};

struct DropAction {
  const Binding *binding = nullptr;
  DropKind kind = DropKind::Free;
  FuncDecl *userDrop = nullptr; // UserDrop only
  bool guarded = false;         // paths disagree: test the binding's drop flag
};

struct DropPlan {
  // Drops at the fall-through end of a block, in order.
  std::unordered_map<const BlockStmt *, std::vector<DropAction>> blockEnd;
  // Drops on an early exit (`pass`/`fail`/`return`/`break`/`continue`): every
  // scope the statement leaves, innermost first, moved bindings excluded.
  std::unordered_map<const Stmt *, std::vector<DropAction>> exits;
  // Drops before an assignment stores over a live struct value, keyed by the
  // assigned value expression (its destructor runs first, §6.4).
  std::unordered_map<const Expr *, std::vector<DropAction>> beforeStore;
  // Bindings that need a runtime drop flag (set at initialisation).
  std::unordered_set<const Binding *> flagged;
  // Explicit release calls, transfers and moves of flagged bindings: there
  // the flag turns false.
  std::unordered_map<const Expr *, const Binding *> clearsFlag;
};

struct ProgramDropPlans {
  std::unordered_map<const FuncDecl *, DropPlan> byFunc;
  const DropPlan *find(const FuncDecl *f) const {
    auto it = byFunc.find(f);
    return it == byFunc.end() ? nullptr : &it->second;
  }
};

} // namespace npk
