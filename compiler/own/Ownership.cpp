// The ownership phase's entry point and its diagnostics. For every function
// (the standard library's included) it builds the CFG, solves the dataflow,
// turns the fixpoint into findings — a leak where a scope is left while a
// binding may still own its allocation, a double free where a deallocator
// meets a binding that may already be freed, a use after free likewise — and
// plans the automatic drops from the same fixpoint. Findings are reported in
// source order, one diagnostic per mistake: once a binding has a use-after-free
// or double-free report it is not reported again, and further leaking exits
// of a binding become notes on its first leak report.
#include "own/Ownership.h"

#include "own/DropPlanner.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_set>

namespace npk {

namespace {

using namespace own;

struct Finding {
  DiagId id;
  unsigned binding;
  Span primary;
  unsigned block;
  size_t index;
  const Event *event;
  bool afterMove = false; // DoubleFree of a binding whose allocation went to another binding
};

class FunctionReport {
public:
  FunctionReport(const SourceManager &sm, const Cfg &cfg, const Solution &sol) : sm_(sm), cfg_(cfg), sol_(sol) {}
  void collect();
  void emit(DiagEngine &diags);

private:
  void add(DiagId id, unsigned binding, Span primary, unsigned block, size_t index, const Event &e,
           bool afterMove = false);
  void inspect(unsigned block, size_t index, const Event &e, const OwnState &before);
  Diag leakDiag(const Finding &f) const;
  Diag freedDiag(const Finding &f) const;
  Diag movedDiag(const Finding &f) const;
  Diag useAfterMoveDiag(const Finding &f) const;
  std::string leakWhere(const Finding &f) const;
  std::string pathText(const std::vector<PathStep> &steps) const;
  Span pathSpan(const std::vector<PathStep> &steps) const;
  std::string code(Span s) const { return "`" + std::string(sm_.text(s)) + "`"; }
  const Binding &binding(unsigned id) const { return *cfg_.bindings[id].binding; }
  std::string quoted(unsigned id) const { return "`" + binding(id).name + "`"; }

  const SourceManager &sm_;
  const Cfg &cfg_;
  const Solution &sol_;
  std::vector<Finding> findings_;
  std::set<std::tuple<int, unsigned, uint32_t, uint32_t>> seen_;
};

// `wildx_free(p)` for executable memory, `free(p)` otherwise; an unqualified
// binding is judged by the function its allocation came from.
std::string releaseCall(const Binding &b, const Event *allocation) {
  uint8_t quals = b.quals;
  if (!(quals & (QualWild | QualWildx)) && allocation && allocation->expr) quals = wildResultQuals(*allocation->expr);
  return std::string(quals & QualWildx ? "wildx_free" : "free") + "(" + b.name + ")";
}

std::string allocationWord(const Binding &b) {
  if (b.quals & QualWildx) return "wildx allocation";
  if (b.quals & QualWild) return "wild allocation";
  return "allocation";
}

void FunctionReport::add(DiagId id, unsigned binding, Span primary, unsigned block, size_t index, const Event &e,
                         bool afterMove) {
  if (!seen_.insert({static_cast<int>(id), binding, primary.file, primary.begin}).second) return;
  findings_.push_back(Finding{id, binding, primary, block, index, &e, afterMove});
}

void FunctionReport::inspect(unsigned block, size_t index, const Event &e, const OwnState &before) {
  auto checkedWith = [&](unsigned id, uint8_t bit) { return cfg_.bindings[id].checked && (before[id] & bit); };
  switch (e.kind) {
  case EventKind::Use:
  case EventKind::Move:
    if (checkedWith(e.binding, kFreed)) add(DiagId::UseAfterFree, e.binding, e.span, block, index, e);
    else if (cfg_.bindings[e.binding].moves && (before[e.binding] & kMoved))
      add(DiagId::UseAfterMove, e.binding, e.span, block, index, e);
    return;
  case EventKind::Release:
    if (checkedWith(e.binding, kFreed)) add(DiagId::DoubleFree, e.binding, e.span, block, index, e);
    else if (checkedWith(e.binding, kMoved)) add(DiagId::DoubleFree, e.binding, e.span, block, index, e, true);
    return;
  case EventKind::Init:
    if (e.overwrites && checkedWith(e.binding, kOwned)) add(DiagId::Leak, e.binding, e.span, block, index, e);
    return;
  case EventKind::Leave: {
    const ExitSite &site = cfg_.sites[e.site];
    for (unsigned id : site.bindings) {
      const TrackedBinding &tb = cfg_.bindings[id];
      bool exempt = site.kind == SiteKind::Exit && tb.autoReleased; // exit ends the process: nothing to release
      if (tb.checked && !exempt && (before[id] & kOwned)) add(DiagId::Leak, id, site.span, block, index, e);
    }
    return;
  }
  case EventKind::DropPoint: return;
  }
}

void FunctionReport::collect() {
  replay(cfg_, sol_, [&](unsigned block, size_t index, const Event &e, const OwnState &before) {
    inspect(block, index, e, before);
  });
  std::stable_sort(findings_.begin(), findings_.end(), [](const Finding &a, const Finding &b) {
    return std::tie(a.event->runsAt.file, a.event->runsAt.begin, a.primary.begin) <
           std::tie(b.event->runsAt.file, b.event->runsAt.begin, b.primary.begin);
  });
}

// Completes "`p` is still owned ...".
std::string FunctionReport::leakWhere(const Finding &f) const {
  if (f.event->kind == EventKind::Init) return "when it is overwritten here";
  switch (cfg_.sites[f.event->site].kind) {
  case SiteKind::BlockEnd:
  case SiteKind::Detached: return "when its scope ends here";
  case SiteKind::FunctionEnd: return "when the function ends here";
  case SiteKind::Exit: return "when the program exits here";
  case SiteKind::Break:
  case SiteKind::Continue: return "when the loop body is left here";
  case SiteKind::Pass:
  case SiteKind::Fail:
  case SiteKind::Return: break;
  }
  return "when the function exits here";
}

// "when `c > 0` is false", "in an earlier iteration of the loop", or both.
std::string FunctionReport::pathText(const std::vector<PathStep> &steps) const {
  std::vector<const PathStep *> decisions;
  bool earlierIteration = false;
  for (const PathStep &s : steps) {
    if (s.loop) earlierIteration = true;
    else if (s.decision.cond) decisions.push_back(&s);
  }
  std::stable_sort(decisions.begin(), decisions.end(), [](const PathStep *a, const PathStep *b) {
    return a->decision.cond->span.begin < b->decision.cond->span.begin;
  });
  std::string text;
  for (size_t i = 0; i < decisions.size(); ++i) {
    text += i == 0 ? "when " : " and ";
    text += code(decisions[i]->decision.cond->span) + " is " + (decisions[i]->decision.value ? "true" : "false");
  }
  if (earlierIteration) text += std::string(text.empty() ? "" : ", ") + "in an earlier iteration of the loop";
  return text;
}

Span FunctionReport::pathSpan(const std::vector<PathStep> &steps) const {
  Span best;
  for (const PathStep &s : steps)
    if (s.decision.cond && (!best.valid() || s.decision.cond->span.begin < best.begin)) best = s.decision.cond->span;
  for (const PathStep &s : steps)
    if (!best.valid() && s.loop) best = s.loop->span;
  return best;
}

Diag FunctionReport::leakDiag(const Finding &f) const {
  const Binding &b = binding(f.binding);
  Origin alloc = traceOrigin(cfg_, sol_, f.block, f.index, f.binding, kOwned);
  Diag d;
  d.id = DiagId::Leak;
  d.primary = f.primary;
  d.message = allocationWord(b) + " `" + b.name + "` is never freed";
  d.primaryLabel = f.event->kind == EventKind::Init ? "the only pointer to it is overwritten here"
                                                   : quoted(f.binding) + " is still owned " + leakWhere(f);
  d.label(alloc.event ? alloc.event->span : cfg_.bindings[f.binding].declSpan, "allocated here");
  if (!alloc.steps.empty())
    d.note(quoted(f.binding) + " is still owned " + pathText(alloc.steps), pathSpan(alloc.steps));
  std::string call = releaseCall(b, alloc.event);
  if (f.event->kind == EventKind::Init) d.withHelp("release it with `" + call + ";` before assigning a new value");
  else d.withHelp("release it with `" + call + ";`, or add `defer " + call + ";` after the allocation");
  return d;
}

// ARIA-022 and ARIA-015: the binding may already be freed here.
Diag FunctionReport::freedDiag(const Finding &f) const {
  const Binding &b = binding(f.binding);
  std::string name = quoted(f.binding);
  bool twice = f.id == DiagId::DoubleFree;
  Origin freed = traceOrigin(cfg_, sol_, f.block, f.index, f.binding, kFreed);
  bool automatic = freed.event && freed.event->kind == EventKind::DropPoint;
  Diag d;
  d.id = f.id;
  d.primary = f.primary;
  d.message = twice ? name + " is freed twice" : name + " is used after it was freed";
  d.primaryLabel = twice ? "freed again here" : f.event->kind == EventKind::Move ? "passed out here" : "used here";
  Origin alloc;
  if (freed.event) alloc = traceOrigin(cfg_, sol_, freed.block, freed.index, f.binding, kOwned);
  if (alloc.event) d.label(alloc.event->span, "allocated here");
  else if (b.isParam) d.label(b.span, "parameter " + name + " is declared here");
  else d.label(cfg_.bindings[f.binding].declSpan, "allocated here");
  if (freed.event)
    d.label(freed.event->span, automatic                ? "released automatically here"
                               : freed.event == f.event ? "freed here in an earlier iteration"
                                                        : "first freed here");
  if (!freed.steps.empty()) d.note(name + " was already freed " + pathText(freed.steps), pathSpan(freed.steps));
  bool inLoop = std::any_of(freed.steps.begin(), freed.steps.end(), [](const PathStep &s) { return s.loop; });
  if (automatic)
    d.withHelp("drop.npk releases " + name + " when its scope ends, before the defers run; release it explicitly "
               "with `" + releaseCall(b, nullptr) + ";` in the defer instead");
  else if (inLoop) d.withHelp("allocate " + name + " inside the loop, or release it once after the loop");
  else if (twice) d.withHelp("release " + name + " exactly once: remove this call or the earlier one");
  else d.withHelp("use " + name + " before releasing it, or move the release after its last use");
  return d;
}

// ARIA-022 for `wild q = p; ... free(p);`: `q` owns the allocation now, so
// releasing it through `p` as well frees it twice.
Diag FunctionReport::movedDiag(const Finding &f) const {
  std::string name = quoted(f.binding);
  Origin moved = traceOrigin(cfg_, sol_, f.block, f.index, f.binding, kMoved);
  Diag d;
  d.id = f.id;
  d.primary = f.primary;
  d.message = name + " is freed after its allocation moved to another binding";
  d.primaryLabel = "freed here";
  if (moved.event) d.label(moved.event->span, "the allocation moved here");
  if (!moved.steps.empty()) d.note(name + " gave its allocation away " + pathText(moved.steps), pathSpan(moved.steps));
  d.withHelp("release the allocation once, through the binding that owns it now");
  return d;
}

// NPK-O003: a struct value with a destructor is used after it moved.
Diag FunctionReport::useAfterMoveDiag(const Finding &f) const {
  std::string name = quoted(f.binding);
  Origin moved = traceOrigin(cfg_, sol_, f.block, f.index, f.binding, kMoved);
  Diag d;
  d.id = f.id;
  d.primary = f.primary;
  d.message = name + " is used after its value moved";
  d.primaryLabel = f.event->kind == EventKind::Move ? "moved again here" : "used here";
  if (moved.event) d.label(moved.event->span, "moved here");
  if (!moved.steps.empty()) d.note(name + " moved " + pathText(moved.steps), pathSpan(moved.steps));
  bool inLoop = std::any_of(moved.steps.begin(), moved.steps.end(), [](const PathStep &s) { return s.loop; });
  std::string to = moved.event && !moved.event->movedTo.empty() ? " " + moved.event->movedTo : "";
  if (inLoop)
    d.withHelp("the value moved" + to + " in an earlier iteration; declare " + name +
               " inside the loop, or assign it a new value before the next iteration");
  else if (to.starts_with(" to "))
    d.withHelp("the value moved" + to + "; use" + to.substr(3) + ", or borrow with `$$i`");
  else
    d.withHelp("the value moved" + to + "; borrow it with a `$$i` parameter to keep " + name +
               ", or assign " + name + " a new value first");
  return d;
}

void FunctionReport::emit(DiagEngine &diags) {
  std::vector<Diag> out;
  std::map<unsigned, size_t> leakReport; // binding -> its ARIA-014 in `out`
  std::unordered_set<unsigned> poisoned;  // bindings with an ARIA-015/022 report
  for (const Finding &f : findings_) {
    if (poisoned.count(f.binding)) continue;
    if (f.id != DiagId::Leak) {
      out.push_back(f.id == DiagId::UseAfterMove ? useAfterMoveDiag(f) : f.afterMove ? movedDiag(f) : freedDiag(f));
      poisoned.insert(f.binding);
      continue;
    }
    auto it = leakReport.find(f.binding);
    if (it == leakReport.end()) {
      leakReport[f.binding] = out.size();
      out.push_back(leakDiag(f));
    } else {
      out[it->second].note(quoted(f.binding) + " is also still owned " + leakWhere(f), f.primary);
    }
  }
  for (Diag &d : out) {
    Diag &reported = diags.error(d.id, d.primary, std::move(d.message));
    reported.primaryLabel = std::move(d.primaryLabel);
    reported.secondary = std::move(d.secondary);
    reported.notes = std::move(d.notes);
    reported.help = std::move(d.help);
  }
}

} // namespace

void checkOwnership(const SourceManager &sm, Program &, const Symbols &syms, DiagEngine &diags,
                    ProgramDropPlans &plans) {
  std::unordered_set<const FuncDecl *> done;
  for (FuncDecl *f : syms.allFuncs) {
    if (!f || !f->body || !f->ret || !done.insert(f).second) continue;
    Cfg cfg = buildCfg(*f);
    Solution sol = solve(cfg);
    FunctionReport report(sm, cfg, sol);
    report.collect();
    report.emit(diags);
    DropPlan plan;
    planDrops(cfg, sol, plan);
    if (!plan.blockEnd.empty() || !plan.exits.empty() || !plan.beforeStore.empty()) plans.byFunc[f] = std::move(plan);
  }
}

} // namespace npk
