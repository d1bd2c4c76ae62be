#include "own/DropPlanner.h"

#include <unordered_map>

namespace npk::own {

namespace {

// The lowering finds a site's drops by the block that ends or by the exit
// statement. A site built several times (inside a defer body inlined at
// several exits) shares one key, so its states are joined.
const void *siteKey(const ExitSite &site) {
  switch (site.kind) {
  case SiteKind::BlockEnd: return site.block;
  case SiteKind::Pass:
  case SiteKind::Fail:
  case SiteKind::Return:
  case SiteKind::Break:
  case SiteKind::Continue: return site.stmt;
  default: return nullptr;
  }
}

struct SiteState {
  unsigned site = 0;
  OwnState state;
};

// The binding's drops when it may own its value in `state`: unguarded where
// every path owns it, behind its drop flag where paths disagree.
void addDrops(const TrackedBinding &tb, uint8_t state, DropPlan &plan, std::vector<DropAction> &actions) {
  if (!(state & kOwned)) return;
  bool guarded = state & (kFreed | kMoved);
  if (guarded) plan.flagged.insert(tb.binding);
  for (DropAction a : tb.autoDrops) {
    a.guarded = guarded;
    actions.push_back(a);
  }
}

std::vector<DropAction> dropsAt(const Cfg &cfg, const SiteState &at, DropPlan &plan) {
  const ExitSite &site = cfg.sites[at.site];
  std::vector<DropAction> actions;
  for (unsigned id : site.bindings) {
    const TrackedBinding &tb = cfg.bindings[id];
    if (tb.hasDrops() && !site.releasedByDefer(id)) addDrops(tb, at.state[id], plan, actions);
  }
  return actions;
}

void storeDrops(const ExitSite &site, std::vector<DropAction> actions, DropPlan &plan) {
  if (actions.empty()) return;
  if (site.kind == SiteKind::BlockEnd) plan.blockEnd[site.block] = std::move(actions);
  else plan.exits[site.stmt] = std::move(actions);
}

// A flagged binding's flag must turn false wherever it stops owning: at every
// explicit release and every transfer to another binding.
void clearFlags(const Cfg &cfg, DropPlan &plan) {
  for (const CfgBlock &block : cfg.blocks)
    for (const Event &e : block.events) {
      unsigned from;
      if (e.kind == EventKind::Release || e.kind == EventKind::Move) from = e.binding;
      else if (e.kind == EventKind::Init && e.init == InitKind::Transfer) from = e.source;
      else continue;
      const Binding *b = cfg.bindings[from].binding;
      if (e.expr && plan.flagged.count(b)) plan.clearsFlag[e.expr] = b;
    }
}

} // namespace

void planDrops(const Cfg &cfg, const Solution &sol, DropPlan &plan) {
  std::unordered_map<const void *, SiteState> merged;
  std::unordered_map<const Expr *, std::pair<unsigned, uint8_t>> overwritten; // value -> binding, state
  replay(cfg, sol, [&](unsigned, size_t, const Event &e, const OwnState &before) {
    if (e.kind == EventKind::Init && e.overwrites && e.expr && cfg.bindings[e.binding].moves) {
      auto [it, inserted] = overwritten.try_emplace(e.expr, e.binding, before[e.binding]);
      if (!inserted) it->second.second |= before[e.binding];
      return;
    }
    if (e.kind != EventKind::DropPoint) return;
    const void *key = siteKey(cfg.sites[e.site]);
    if (!key) return;
    auto [it, inserted] = merged.try_emplace(key, SiteState{e.site, before});
    if (!inserted) it->second.state.join(before);
  });
  for (auto &[key, at] : merged) storeDrops(cfg.sites[at.site], dropsAt(cfg, at, plan), plan);
  for (auto &[value, old] : overwritten) {
    std::vector<DropAction> actions;
    addDrops(cfg.bindings[old.first], old.second, plan, actions);
    if (!actions.empty()) plan.beforeStore[value] = std::move(actions);
  }
  clearFlags(cfg, plan);
}

} // namespace npk::own
