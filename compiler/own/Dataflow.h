// The ownership lattice and the forward analysis over a Cfg. On one path a
// followed binding is in one of four states; where paths meet, the analysis
// keeps the set of states the binding may be in (one bit each), so "freed on
// some path" is a bit test and "owned on every path" is a set equal to
// {Owned}. The transfer functions are monotone over this finite lattice, so
// the worklist reaches its fixpoint through loops. Findings and the drop plan
// are read off the fixpoint by replaying each block from its entry state.
#pragma once

#include "own/Cfg.h"

#include <functional>
#include <memory>

namespace npk::own {

enum OwnBit : uint8_t {
  kUnowned = 1, // holds nothing it must release: NULL, a caller's pointer, out of scope
  kOwned = 2,   // holds an allocation it must release
  kFreed = 4,   // released, explicitly or by an automatic drop
  kMoved = 8,   // ownership left with `pass`/`return` or went to another binding
  kBorrowed = 16, // a borrowing pointer points into what its owner holds
  kLent = 32,     // holds an allocation the caller owns (a borrowed parameter)
};
// A set of OwnBits per Binding::id, persistent: copying shares the storage
// and a change copies only the path to one small leaf. Most blocks change a
// few bindings, so the state on entry of every block costs memory for what
// differs, and a join skips the subtrees both sides share — the analysis of
// a function with many bindings and many blocks stays near-linear.
class OwnState {
public:
  OwnState() = default;
  OwnState(size_t size, uint8_t fill);
  size_t size() const { return size_; }
  uint8_t operator[](size_t id) const;
  void set(size_t id, uint8_t bits);
  // Adds the bits of `other` (of the same size); true when this grew.
  bool join(const OwnState &other);

  struct Node;
  using NodePtr = std::shared_ptr<const Node>;

private:
  NodePtr root_;
  size_t size_ = 0;
  unsigned levels_ = 0; // interior levels above the leaves
};

struct Solution {
  std::vector<OwnState> in;  // state on entry of each block
  std::vector<bool> reached; // false: no path from the entry (dead code)
  // Per binding, in block and event order, the events that can change its
  // state: tracing a binding back replays only these.
  struct Touch {
    unsigned block = 0, index = 0;
    bool readsOthers = false; // the change depends on other bindings' states
  };
  std::vector<std::vector<Touch>> touches;
};

Solution solve(const Cfg &cfg);
void transfer(const Cfg &cfg, const Event &e, OwnState &s);
// Refines a state flowing along an edge (`p == NULL` proves p holds nothing).
void alongEdge(const Edge &edge, OwnState &s);
// State just before blocks[block].events[index] (index == size: at its end).
OwnState stateBefore(const Cfg &cfg, const Solution &sol, unsigned block, size_t index);

// Calls `visit` for every event of every reached block with the state just
// before the event.
using EventVisitor = std::function<void(unsigned block, size_t index, const Event &e, const OwnState &before)>;
void replay(const Cfg &cfg, const Solution &sol, const EventVisitor &visit);

// A branch on the way that other paths did not take.
struct PathStep {
  Decision decision;              // `cond` evaluated to `value`, or:
  const Stmt *loop = nullptr;     // the state came round this loop's back edge
};

// Where a state bit of a binding came from: the event that produced it (null
// when it held on function entry) and the distinguishing branches on the way.
struct Origin {
  const Event *event = nullptr;
  unsigned block = 0;
  size_t index = 0;
  std::vector<PathStep> steps;
};
// Whether two conditions test the same thing (two `if (c)` in a row); by
// default only the same expression does.
using SameCondition = std::function<bool(const Expr &, const Expr &)>;
Origin traceOrigin(const Cfg &cfg, const Solution &sol, unsigned block, size_t index, unsigned binding, uint8_t bit,
                   const SameCondition &same = {});

} // namespace npk::own
