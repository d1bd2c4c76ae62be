#include "own/Dataflow.h"

#include <algorithm>
#include <set>

namespace npk::own {

namespace {

void applyInit(const Event &e, OwnState &s) {
  switch (e.init) {
  case InitKind::Null:
  case InitKind::Unowned: s[e.binding] = kUnowned; return;
  case InitKind::Owned: s[e.binding] = kOwned; return;
  case InitKind::Borrow: s[e.binding] = kBorrowed; return;
  case InitKind::Transfer: {
    // A freed source is reported where it is read; the new owner starts clean.
    if (e.source == e.binding || e.source >= s.size()) return;
    uint8_t carried = s[e.source] & ~kFreed;
    s[e.binding] = carried ? carried : static_cast<uint8_t>(kUnowned);
    s[e.source] = kMoved;
    return;
  }
  }
}

// Releasing an owner leaves the pointers that borrow from it dangling.
void releaseBorrowed(const TrackedBinding &owner, OwnState &s) {
  for (unsigned id : owner.borrowers)
    if (s[id] & kBorrowed) s[id] = static_cast<uint8_t>((s[id] & ~kBorrowed) | kFreed);
}

// An automatic drop releases what the binding still owns, unless a defer
// that runs on this exit releases it explicitly.
void applyDrops(const Cfg &cfg, const ExitSite &site, OwnState &s) {
  for (unsigned id : site.bindings) {
    const TrackedBinding &tb = cfg.bindings[id];
    if (!tb.hasDrops() || !tb.settledByDrop() || site.releasedByDefer(id) || !(s[id] & kOwned)) continue;
    s[id] = static_cast<uint8_t>((s[id] & ~kOwned) | kFreed);
    releaseBorrowed(tb, s);
  }
}

// Blocks reachable from the entry in reverse post-order (iterative DFS: the
// graph of a long function is deep).
std::vector<unsigned> reversePostOrder(const Cfg &cfg) {
  std::vector<unsigned> post;
  std::vector<bool> seen(cfg.blocks.size(), false);
  std::vector<std::pair<unsigned, size_t>> stack{{0, 0}};
  seen[0] = true;
  while (!stack.empty()) {
    auto &[block, next] = stack.back();
    const std::vector<unsigned> &succs = cfg.blocks[block].succs;
    if (next == succs.size()) {
      post.push_back(block);
      stack.pop_back();
      continue;
    }
    unsigned to = cfg.edges[succs[next++]].to;
    if (!seen[to]) {
      seen[to] = true;
      stack.push_back({to, 0});
    }
  }
  return {post.rbegin(), post.rend()};
}

// Joins `incoming` into `into`; true when `into` grew.
bool join(OwnState &into, const OwnState &incoming) {
  bool grew = false;
  for (size_t i = 0; i < into.size(); ++i) {
    uint8_t merged = into[i] | incoming[i];
    grew |= merged != into[i];
    into[i] = merged;
  }
  return grew;
}

bool setsState(const Cfg &cfg, const Event &e, unsigned binding) {
  switch (e.kind) {
  case EventKind::Init: return e.binding == binding || (e.init == InitKind::Transfer && e.source == binding);
  case EventKind::Release:
  case EventKind::Move: return e.binding == binding;
  case EventKind::Leave: {
    const std::vector<unsigned> &ids = cfg.sites[e.site].bindings;
    return std::find(ids.begin(), ids.end(), binding) != ids.end();
  }
  case EventKind::Use:
  case EventKind::DropPoint: return false; // a drop's effect shows as a change
  }
  return false;
}

// The branch an incoming edge of a join stands for.
Decision armOf(const Cfg &cfg, const Edge &edge) {
  return edge.branch.cond ? edge.branch : cfg.blocks[edge.from].context;
}

} // namespace

void transfer(const Cfg &cfg, const Event &e, OwnState &s) {
  switch (e.kind) {
  case EventKind::Init: return applyInit(e, s);
  case EventKind::Use: return;
  case EventKind::Release:
    s[e.binding] = kFreed;
    releaseBorrowed(cfg.bindings[e.binding], s);
    return;
  case EventKind::Move: s[e.binding] = kMoved; return;
  case EventKind::DropPoint: return applyDrops(cfg, cfg.sites[e.site], s);
  case EventKind::Leave:
    for (unsigned id : cfg.sites[e.site].bindings) s[id] = kUnowned;
    return;
  }
}

void alongEdge(const Edge &edge, OwnState &s) {
  for (unsigned id : edge.knownNull)
    if (s[id]) s[id] = kUnowned;
}

Solution solve(const Cfg &cfg) {
  Solution sol;
  size_t n = cfg.blocks.size();
  sol.in.assign(n, OwnState());
  sol.reached.assign(n, false);
  if (n == 0) return sol;
  std::vector<unsigned> order = reversePostOrder(cfg);
  std::vector<size_t> rank(n, 0);
  for (size_t i = 0; i < order.size(); ++i) rank[order[i]] = i;
  sol.in[0].assign(cfg.bindings.size(), kUnowned);
  sol.reached[0] = true;
  std::set<size_t> work{rank[0]}; // by rank: loops settle before the code after them
  while (!work.empty()) {
    unsigned block = order[*work.begin()];
    work.erase(work.begin());
    OwnState s = sol.in[block];
    for (const Event &e : cfg.blocks[block].events) transfer(cfg, e, s);
    for (unsigned edgeId : cfg.blocks[block].succs) {
      const Edge &edge = cfg.edges[edgeId];
      OwnState out = s;
      alongEdge(edge, out);
      bool changed = !sol.reached[edge.to];
      if (changed) {
        sol.in[edge.to] = std::move(out);
        sol.reached[edge.to] = true;
      } else {
        changed = join(sol.in[edge.to], out);
      }
      if (changed) work.insert(rank[edge.to]);
    }
  }
  return sol;
}

OwnState stateBefore(const Cfg &cfg, const Solution &sol, unsigned block, size_t index) {
  OwnState s = sol.in[block];
  const std::vector<Event> &events = cfg.blocks[block].events;
  for (size_t i = 0; i < index && i < events.size(); ++i) transfer(cfg, events[i], s);
  return s;
}

void replay(const Cfg &cfg, const Solution &sol, const EventVisitor &visit) {
  for (unsigned b = 0; b < cfg.blocks.size(); ++b) {
    if (!sol.reached[b]) continue;
    OwnState s = sol.in[b];
    const std::vector<Event> &events = cfg.blocks[b].events;
    for (size_t i = 0; i < events.size(); ++i) {
      visit(b, i, events[i], s);
      transfer(cfg, events[i], s);
    }
  }
}

// Walks back from the event along paths that carry the bit until the event
// that produced it. At each join where some paths lack the bit, the branch
// that separates the carrying path is a step of the explanation.
Origin traceOrigin(const Cfg &cfg, const Solution &sol, unsigned block, size_t index, unsigned binding, uint8_t bit) {
  Origin origin;
  std::vector<bool> visited(cfg.blocks.size(), false);
  size_t pos = index;
  while (true) {
    // The last event before `pos` that sets the binding's state produced the
    // bit; without one, the bit came in from a predecessor.
    OwnState s = sol.in[block];
    const std::vector<Event> &events = cfg.blocks[block].events;
    for (size_t i = 0; i < pos && i < events.size(); ++i) {
      uint8_t before = s[binding];
      transfer(cfg, events[i], s);
      if (!setsState(cfg, events[i], binding) && s[binding] == before) continue;
      origin.event = (s[binding] & bit) ? &events[i] : nullptr;
      origin.block = block;
      origin.index = i;
    }
    if (origin.event || visited[block]) return origin;
    visited[block] = true;
    const Edge *carrier = nullptr;
    std::vector<const Edge *> others;
    for (unsigned edgeId : cfg.blocks[block].preds) {
      const Edge &edge = cfg.edges[edgeId];
      if (!sol.reached[edge.from]) continue;
      OwnState out = stateBefore(cfg, sol, edge.from, cfg.blocks[edge.from].events.size());
      alongEdge(edge, out);
      if (!(out[binding] & bit)) others.push_back(&edge);
      else if (!carrier) carrier = &edge;
    }
    if (!carrier) return origin;
    if (carrier->loopBack && !others.empty()) {
      origin.steps.push_back(PathStep{Decision{}, carrier->loop});
    } else {
      Decision arm = armOf(cfg, *carrier);
      for (const Edge *other : others) {
        Decision alt = armOf(cfg, *other);
        if (arm.cond && alt.cond == arm.cond && alt.value != arm.value) {
          origin.steps.push_back(PathStep{arm, nullptr});
          break;
        }
      }
    }
    block = carrier->from;
    pos = cfg.blocks[block].events.size();
  }
}

} // namespace npk::own
