#include "own/Dataflow.h"

#include <algorithm>
#include <array>
#include <optional>
#include <set>

namespace npk::own {

constexpr unsigned kFanBits = 4;
constexpr size_t kFan = size_t{1} << kFanBits;

struct OwnState::Node {
  std::array<NodePtr, kFan> kids; // interior levels
  std::array<uint8_t, kFan> bits{}; // leaves
};

namespace {

size_t slot(size_t id, unsigned level) { return (id >> (kFanBits * level)) & (kFan - 1); }

OwnState::NodePtr setIn(const OwnState::NodePtr &node, unsigned level, size_t id, uint8_t bits) {
  auto copy = std::make_shared<OwnState::Node>(*node);
  if (level == 0) copy->bits[slot(id, 0)] = bits;
  else copy->kids[slot(id, level)] = setIn(node->kids[slot(id, level)], level - 1, id, bits);
  return copy;
}

// `a` with the bits of `b` added; `a` itself when nothing was added.
OwnState::NodePtr joinIn(const OwnState::NodePtr &a, const OwnState::NodePtr &b, unsigned level) {
  if (a == b) return a;
  std::shared_ptr<OwnState::Node> copy;
  for (size_t i = 0; i < kFan; ++i) {
    if (level == 0) {
      uint8_t merged = a->bits[i] | b->bits[i];
      if (merged == a->bits[i]) continue;
      if (!copy) copy = std::make_shared<OwnState::Node>(*a);
      copy->bits[i] = merged;
      continue;
    }
    OwnState::NodePtr kid = joinIn(a->kids[i], b->kids[i], level - 1);
    if (kid == a->kids[i]) continue;
    if (!copy) copy = std::make_shared<OwnState::Node>(*a);
    copy->kids[i] = std::move(kid);
  }
  return copy ? OwnState::NodePtr(std::move(copy)) : a;
}

} // namespace

OwnState::OwnState(size_t size, uint8_t fill) : size_(size) {
  if (size == 0) return;
  auto leaf = std::make_shared<Node>();
  leaf->bits.fill(fill);
  NodePtr node = std::move(leaf);
  for (size_t covered = kFan; covered < size; covered <<= kFanBits) {
    auto up = std::make_shared<Node>();
    up->kids.fill(node); // identical subtrees are shared
    node = std::move(up);
    ++levels_;
  }
  root_ = std::move(node);
}

uint8_t OwnState::operator[](size_t id) const {
  const Node *node = root_.get();
  for (unsigned level = levels_; level > 0; --level) node = node->kids[slot(id, level)].get();
  return node->bits[slot(id, 0)];
}

void OwnState::set(size_t id, uint8_t bits) {
  if ((*this)[id] != bits) root_ = setIn(root_, levels_, id, bits);
}

bool OwnState::join(const OwnState &other) {
  if (!root_ || !other.root_) return false;
  NodePtr joined = joinIn(root_, other.root_, levels_);
  if (joined == root_) return false;
  root_ = std::move(joined);
  return true;
}

namespace {

// A borrow's pointer state follows its slots: it may point into freed
// memory once one of them may.
void settleBorrow(const BindingTable &table, unsigned borrow, OwnState &s) {
  bool live = false;
  for (unsigned slot : table[borrow].slots) live |= (s[slot] & kBorrowed) != 0;
  uint8_t bits = static_cast<uint8_t>(s[borrow] | kFreed);
  s.set(borrow, live ? bits : static_cast<uint8_t>(bits & ~kBorrowed));
}

// `q = p` (p a possible owner of q), `q = r` (r a borrow: q points where r
// may), or a value that may be any of several of those (`raw id(p, r)`);
// anything else assigned to a borrow ends it.
void initBorrow(const Cfg &cfg, const Event &e, OwnState &s) {
  const BindingTable &table = cfg.bindings;
  std::vector<std::pair<unsigned, uint8_t>> carried; // (slot of e.binding, its new state)
  uint8_t summary = 0;
  if (e.init == InitKind::Borrow) {
    for (unsigned source : e.sources) {
      unsigned direct = borrowSlot(table, e.binding, source);
      if (direct < table.size() && table[source].checked) {
        carried.push_back({direct, kBorrowed});
        summary |= kBorrowed;
      } else if (isBorrowing(table[source])) {
        for (unsigned slot : table[source].slots) {
          unsigned to = borrowSlot(table, e.binding, table[slot].slotOwner);
          if (to < table.size()) carried.push_back({to, s[slot]});
        }
        summary |= s[source];
      }
    }
  }
  if (e.partial) summary |= s[e.binding];
  else
    for (unsigned slot : table[e.binding].slots) s.set(slot, kUnowned);
  for (auto [slot, bits] : carried) s.set(slot, static_cast<uint8_t>((s[slot] & ~kUnowned) | bits));
  s.set(e.binding, summary ? summary : static_cast<uint8_t>(kUnowned));
}

void applyInit(const Cfg &cfg, const Event &e, OwnState &s) {
  if (isBorrowing(cfg.bindings[e.binding])) return initBorrow(cfg, e, s);
  switch (e.init) {
  case InitKind::Null:
  case InitKind::Unowned: s.set(e.binding, kUnowned); return;
  case InitKind::Owned: s.set(e.binding, kOwned); return;
  case InitKind::Borrow: s.set(e.binding, kBorrowed); return;
  case InitKind::Lent: s.set(e.binding, kLent); return;
  case InitKind::Transfer: {
    // A freed source is reported where it is read; the new owner starts clean.
    if (e.source == e.binding || e.source >= s.size()) return;
    uint8_t carried = s[e.source] & ~kFreed;
    s.set(e.binding, carried ? carried : static_cast<uint8_t>(kUnowned));
    s.set(e.source, kMoved);
    // The pointers into the moved allocation now point into what the new
    // owner holds.
    for (unsigned slot : cfg.bindings[e.source].borrowers) {
      const TrackedBinding &from = cfg.bindings[slot];
      unsigned to = borrowSlot(cfg.bindings, from.borrow, e.binding);
      uint8_t bits = s[slot] & (kBorrowed | kFreed);
      if (to >= cfg.bindings.size() || !bits) continue;
      s.set(to, static_cast<uint8_t>((s[to] & ~kUnowned) | bits));
      s.set(slot, kUnowned);
    }
    return;
  }
  }
}

// Releasing an owner leaves the pointers that borrow from it dangling.
void releaseBorrowed(const BindingTable &table, const TrackedBinding &owner, OwnState &s) {
  for (unsigned slot : owner.borrowers) {
    if (!(s[slot] & kBorrowed)) continue;
    s.set(slot, static_cast<uint8_t>((s[slot] & ~kBorrowed) | kFreed));
    unsigned borrow = table[slot].borrow;
    if (s[borrow] & kBorrowed) settleBorrow(table, borrow, s);
  }
}

// An automatic drop releases what the binding still owns, unless a defer
// that runs on this exit releases it explicitly.
void applyDrops(const Cfg &cfg, const ExitSite &site, OwnState &s) {
  for (unsigned id : site.bindings) {
    const TrackedBinding &tb = cfg.bindings[id];
    if (!tb.hasDrops() || !tb.settledByDrop() || site.releasedByDefer(id) || !(s[id] & kOwned)) continue;
    s.set(id, static_cast<uint8_t>((s[id] & ~kOwned) | kFreed));
    releaseBorrowed(cfg.bindings, tb, s);
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

// Calls `touch(id, readsOthers)` for every binding whose state `transfer`
// of `e` can change; `readsOthers`: its new state depends on another
// binding's (a transfer's source, or whether a dropped owner still owns what
// the binding borrows).
template <class Touch> void forEachChanged(const Cfg &cfg, const Event &e, Touch &&touch) {
  switch (e.kind) {
  case EventKind::Init: {
    bool transfer = e.init == InitKind::Transfer && e.source != e.binding && e.source < cfg.bindings.size();
    touch(e.binding, transfer || e.init == InitKind::Borrow);
    for (unsigned slot : cfg.bindings[e.binding].slots) touch(slot, e.init == InitKind::Borrow);
    if (!transfer) return;
    touch(e.source, false);
    for (unsigned slot : cfg.bindings[e.source].borrowers) {
      touch(slot, true);
      unsigned to = borrowSlot(cfg.bindings, cfg.bindings[slot].borrow, e.binding);
      if (to < cfg.bindings.size()) touch(to, true);
    }
    return;
  }
  case EventKind::Release:
    touch(e.binding, e.viaBorrow);
    for (unsigned slot : cfg.bindings[e.binding].borrowers) {
      touch(slot, e.viaBorrow);
      touch(cfg.bindings[slot].borrow, true);
    }
    return;
  case EventKind::Move: touch(e.binding, false); return;
  case EventKind::DropPoint:
    for (unsigned id : cfg.sites[e.site].bindings) {
      touch(id, false);
      for (unsigned slot : cfg.bindings[id].borrowers) {
        touch(slot, true);
        touch(cfg.bindings[slot].borrow, true);
      }
    }
    return;
  case EventKind::Leave:
    for (unsigned id : cfg.sites[e.site].bindings) touch(id, false);
    return;
  case EventKind::Use: return;
  }
}

// The branch an incoming edge of a join stands for.
Decision armOf(const Cfg &cfg, const Edge &edge) {
  return edge.branch.cond ? edge.branch : cfg.blocks[edge.from].context;
}

} // namespace

void transfer(const Cfg &cfg, const Event &e, OwnState &s) {
  switch (e.kind) {
  case EventKind::Init: return applyInit(cfg, e, s);
  case EventKind::Use: return;
  case EventKind::Release:
  {
    // Through a pointer that may point elsewhere, the owner is released on
    // some paths only.
    uint8_t through = e.viaBorrow ? s[borrowSlot(cfg.bindings, e.through, e.binding)] : static_cast<uint8_t>(kBorrowed);
    if (!(through & kBorrowed)) return; // the pointer does not borrow from it here
    s.set(e.binding, through == kBorrowed ? static_cast<uint8_t>(kFreed) : static_cast<uint8_t>(s[e.binding] | kFreed));
  }
    releaseBorrowed(cfg.bindings, cfg.bindings[e.binding], s);
    return;
  case EventKind::Move: s.set(e.binding, kMoved); return;
  case EventKind::DropPoint: return applyDrops(cfg, cfg.sites[e.site], s);
  case EventKind::Leave:
    for (unsigned id : cfg.sites[e.site].bindings) s.set(id, kUnowned);
    return;
  }
}

void alongEdge(const Edge &edge, OwnState &s) {
  for (unsigned id : edge.knownNull)
    if (s[id]) s.set(id, kUnowned);
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
  sol.in[0] = OwnState(cfg.bindings.size(), kUnowned);
  sol.reached[0] = true;
  sol.touches.assign(cfg.bindings.size(), {});
  for (unsigned b = 0; b < n; ++b)
    for (size_t i = 0; i < cfg.blocks[b].events.size(); ++i)
      forEachChanged(cfg, cfg.blocks[b].events[i], [&](unsigned id, bool readsOthers) {
        std::vector<Solution::Touch> &list = sol.touches[id];
        if (!list.empty() && list.back().block == b && list.back().index == i) list.back().readsOthers |= readsOthers;
        else list.push_back({b, static_cast<unsigned>(i), readsOthers});
      });
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
        changed = sol.in[edge.to].join(out);
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

// The binding's state just before events[pos] of `block`. Only the events
// that can change it are replayed, so tracing back through a long block costs
// what concerns the binding; `visit(i, before, after)` sees each of them.
template <class Visit>
uint8_t replayBinding(const Cfg &cfg, const Solution &sol, unsigned block, size_t pos, unsigned binding,
                      Visit &&visit) {
  const std::vector<Event> &events = cfg.blocks[block].events;
  const std::vector<Solution::Touch> &touches = sol.touches[binding];
  auto t = std::lower_bound(touches.begin(), touches.end(), block,
                            [](const Solution::Touch &a, unsigned b) { return a.block < b; });
  if (t == touches.end() || t->block != block || t->index >= pos) return sol.in[block][binding];
  OwnState s = sol.in[block];
  for (; t != touches.end() && t->block == block && t->index < pos && t->index < events.size(); ++t) {
    // The outcome depends on other bindings' states, which the skipped
    // events may have changed: take the exact state here.
    if (t->readsOthers) s = stateBefore(cfg, sol, block, t->index);
    uint8_t before = s[binding];
    transfer(cfg, events[t->index], s);
    visit(t->index, before, s[binding]);
  }
  return s[binding];
}

// Walks back from the event along paths that carry the bit until the event
// that produced it. At each join where some paths lack the bit, the branch
// that separates the carrying path is a step of the explanation. A path is
// only a witness if it can run: where the first carrying edge's branch
// contradicts a decision already on the path (or the branch the event sits
// in), another carrying edge is taken; with none, the path's decisions are
// dropped rather than explained by a path no execution follows.
Origin traceOrigin(const Cfg &cfg, const Solution &sol, unsigned block, size_t index, unsigned binding, uint8_t bit,
                   const SameCondition &same) {
  Origin origin;
  std::vector<bool> visited(cfg.blocks.size(), false);
  std::vector<Decision> taken{cfg.blocks[block].context}; // what the path so far has decided
  bool infeasible = false;
  auto contradicts = [&](const Decision &d) {
    return std::any_of(taken.begin(), taken.end(), [&](const Decision &t) {
      return d.cond && t.cond && d.value != t.value && (d.cond == t.cond || (same && same(*d.cond, *t.cond)));
    });
  };
  auto finish = [&] {
    if (infeasible)
      std::erase_if(origin.steps, [](const PathStep &s) { return s.decision.cond != nullptr; });
    return origin;
  };
  size_t pos = index;
  while (true) {
    // The last event before `pos` that sets the binding's state produced the
    // bit; without one, the bit came in from a predecessor.
    const std::vector<Event> &events = cfg.blocks[block].events;
    replayBinding(cfg, sol, block, pos, binding, [&](size_t i, uint8_t before, uint8_t after) {
      if (!setsState(cfg, events[i], binding) && after == before) return;
      origin.event = (after & bit) ? &events[i] : nullptr;
      origin.block = block;
      origin.index = i;
    });
    if (origin.event || visited[block]) return finish();
    visited[block] = true;
    std::vector<const Edge *> carriers, others;
    for (unsigned edgeId : cfg.blocks[block].preds) {
      const Edge &edge = cfg.edges[edgeId];
      if (!sol.reached[edge.from]) continue;
      uint8_t out = replayBinding(cfg, sol, edge.from, cfg.blocks[edge.from].events.size(), binding,
                                  [](size_t, uint8_t, uint8_t) {});
      if (out && std::find(edge.knownNull.begin(), edge.knownNull.end(), binding) != edge.knownNull.end())
        out = kUnowned; // as alongEdge
      (out & bit ? carriers : others).push_back(&edge);
    }
    if (carriers.empty()) return finish();
    // The step taking `carrier` adds to the explanation, if any.
    auto stepFor = [&](const Edge &carrier) -> std::optional<PathStep> {
      if (carrier.loopBack && !others.empty()) return PathStep{Decision{}, carrier.loop};
      Decision arm = armOf(cfg, carrier);
      for (const Edge *other : others) {
        Decision alt = armOf(cfg, *other);
        if (arm.cond && alt.cond == arm.cond && alt.value != arm.value) return PathStep{arm, nullptr};
      }
      return std::nullopt;
    };
    const Edge *carrier = carriers.front();
    std::optional<PathStep> step = stepFor(*carrier);
    for (const Edge *candidate : carriers) {
      std::optional<PathStep> s = stepFor(*candidate);
      if (s && contradicts(s->decision)) continue;
      carrier = candidate;
      step = s;
      break;
    }
    if (step && contradicts(step->decision)) infeasible = true;
    if (step) {
      origin.steps.push_back(*step);
      if (step->decision.cond) taken.push_back(step->decision);
    }
    // An earlier iteration may decide a condition the other way; the branch
    // the carrying block was built under holds on the path too.
    if (carrier->loopBack) taken.clear();
    taken.push_back(cfg.blocks[carrier->from].context);
    block = carrier->from;
    pos = cfg.blocks[block].events.size();
  }
}

} // namespace npk::own
