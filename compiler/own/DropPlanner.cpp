#include "own/DropPlanner.h"

#include <map>
#include <set>

namespace npk::own {

namespace {

using Pos = std::pair<unsigned, unsigned>; // NIR block, instruction

nir::Inst dropInst(const DropAction &a, bool guarded, Span at) {
  nir::Inst in;
  in.op = nir::Op::Drop;
  in.span = at;
  in.binding = a.binding;
  in.guarded = guarded;
  in.userDrop = a.userDrop;
  in.dropKind = a.kind;
  return in;
}

nir::Inst flagInst(const Binding *b, Span at) {
  nir::Inst in;
  in.op = nir::Op::Flag;
  in.span = at;
  in.binding = b;
  in.flagValue = true;
  return in;
}

struct Plan {
  std::map<Pos, std::vector<nir::Inst>> after, before;
  std::set<const Binding *> flagged;
};

// The binding's drops when it may own its value in `state`: unguarded where
// every path owns it, behind its drop flag where paths disagree.
void addDrops(const TrackedBinding &tb, uint8_t state, Span at, Plan &plan, std::vector<nir::Inst> &out) {
  if (!(state & kOwned)) return;
  bool guarded = state & (kFreed | kMoved);
  if (guarded) plan.flagged.insert(tb.binding);
  for (const DropAction &a : tb.autoDrops) out.push_back(dropInst(a, guarded, at));
}

} // namespace

void planDrops(const Cfg &cfg, const Solution &sol, nir::Func &f) {
  Plan plan;
  replay(cfg, sol, [&](unsigned, size_t, const Event &e, const OwnState &before) {
    Pos at{e.nirBlock, e.nirInst};
    if (e.kind == EventKind::Init && e.overwrites && e.expr && cfg.bindings[e.binding].moves) {
      addDrops(cfg.bindings[e.binding], before[e.binding], e.span, plan, plan.before[at]); // the old value's destructor
      return;
    }
    if (e.kind != EventKind::DropPoint) return;
    const ExitSite &site = cfg.sites[e.site];
    for (unsigned id : site.bindings) {
      const TrackedBinding &tb = cfg.bindings[id];
      if (tb.hasDrops() && !site.releasedByDefer(id)) addDrops(tb, before[id], site.span, plan, plan.after[at]);
    }
  });
  // A flagged binding's flag turns false wherever it stops owning: at every
  // explicit release, every move and every transfer to another binding.
  std::map<Pos, std::vector<std::pair<const Expr *, const Binding *>>> clears;
  for (const CfgBlock &block : cfg.blocks)
    for (const Event &e : block.events) {
      unsigned from;
      if (e.kind == EventKind::Release || e.kind == EventKind::Move) from = e.binding;
      else if (e.kind == EventKind::Init && e.init == InitKind::Transfer) from = e.source;
      else continue;
      const Binding *b = cfg.bindings[from].binding;
      if (e.expr && plan.flagged.count(b)) clears[{e.nirBlock, e.nirInst}].emplace_back(e.expr, b);
    }
  for (unsigned bi = 0; bi < f.blocks.size(); ++bi) {
    std::vector<nir::Inst> out;
    std::vector<nir::Inst> &insts = f.blocks[bi].insts;
    out.reserve(insts.size());
    for (unsigned ii = 0; ii < insts.size(); ++ii) {
      Pos at{bi, ii};
      nir::Inst &in = insts[ii];
      if (auto it = plan.before.find(at); it != plan.before.end()) out.insert(out.end(), it->second.begin(), it->second.end());
      if (auto it = clears.find(at); it != clears.end()) {
        for (auto &c : it->second) // a defer body read once per exit adds one event per read
          if (std::find(in.clearsFlag.begin(), in.clearsFlag.end(), c) == in.clearsFlag.end()) in.clearsFlag.push_back(c);
      }
      out.push_back(std::move(in));
      // Where a flagged binding gets a value to own, its flag turns true
      // (after the drops placed after the instruction). Read before those
      // are inserted: inserting may move `out`'s elements.
      const nir::Inst &done = out.back();
      const Binding *owns = nullptr;
      if (done.op == nir::Op::Let || done.op == nir::Op::Param) owns = done.binding;
      if (auto *n = done.op == nir::Op::Store ? as<NameExpr>(done.expr) : nullptr; n && n->binding && !n->binding->heapStruct)
        owns = n->binding;
      const Span doneSpan = done.span;
      if (auto it = plan.after.find(at); it != plan.after.end()) out.insert(out.end(), it->second.begin(), it->second.end());
      if (owns && plan.flagged.count(owns)) out.push_back(flagInst(owns, doneSpan));
    }
    insts = std::move(out);
  }
}

} // namespace npk::own
