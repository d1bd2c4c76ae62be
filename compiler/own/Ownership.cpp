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

constexpr unsigned kNoBinding = ~0u;

// Where the memory a binding holds came from.
struct Held {
  Family family = FamilyNone;
  Span at; // the allocation, or the binding's declaration
  // Known only from the binding's qualifier: a `wild` parameter may hold
  // wild-heap or C-heap memory (qualifierFamilies).
  uint8_t declaredFamilies = FamilyNone;
  uint8_t families() const { return declaredFamilies ? declaredFamilies : static_cast<uint8_t>(family); }
};

struct Finding {
  DiagId id = DiagId::Leak;
  unsigned binding = kNoBinding; // kNoBinding: an allocation no binding holds
  Span primary;
  Span runsAt;
  unsigned block = 0;
  size_t index = 0;
  const Event *event = nullptr;          // null for an allocation no binding holds
  bool afterMove = false;                // DoubleFree of a binding whose allocation went to another binding
  const CallExpr *allocation = nullptr;  // an allocation no binding holds
  const CallExpr *release = nullptr;     // WrongFamily: the deallocator (null: a binding's initialiser)
  Held held;                             // WrongFamily: what is released or bound

  // A finding at event `e` (the `index`th of `block`).
  static Finding at(DiagId id, unsigned binding, Span primary, unsigned block, size_t index, const Event &e) {
    Finding f;
    f.id = id;
    f.binding = binding;
    f.primary = primary;
    f.runsAt = e.runsAt;
    f.block = block;
    f.index = index;
    f.event = &e;
    return f;
  }
};

class FunctionReport {
public:
  FunctionReport(const SourceManager &sm, const Cfg &cfg, const Solution &sol) : sm_(sm), cfg_(cfg), sol_(sol) {}
  void collect();
  void checkMovesOutOfPlace();
  void checkAddressesOfOwned();
  void checkPageBoundEscapes();
  void checkPlainOwners();
  void checkIntoDestructors();
  void emit(DiagEngine &diags, OwnershipReport as);

private:
  void add(DiagId id, unsigned binding, Span primary, unsigned block, size_t index, const Event &e,
           bool afterMove = false);
  void add(Finding f);
  void inspect(unsigned block, size_t index, const Event &e, const OwnState &before);
  void checkReleaseFamily(unsigned block, size_t index, const Event &e, const OwnState &before);
  void checkInitFamily(unsigned block, size_t index, const Event &e);
  void inspectUnbound(const CallExpr &alloc, const CallExpr *release);
  Held heldBy(unsigned block, size_t index, unsigned binding, int depth = 0) const;
  bool heldWithin(unsigned binding, uint8_t accepted, int depth = 0) const;
  Diag leakDiag(const Finding &f) const;
  Diag freedDiag(const Finding &f) const;
  Diag borrowDiag(const Finding &f) const;
  Diag movedDiag(const Finding &f) const;
  Diag borrowedParamDiag(const Finding &f) const;
  const Binding *lentBy(unsigned block, size_t index, unsigned binding) const;
  Diag useAfterMoveDiag(const Finding &f) const;
  Diag afterMoveDiag(const Finding &f, const Origin &moved, std::string useLabel, const char *moveLabel,
                     const std::string &pathPrefix) const;
  Diag familyDiag(const Finding &f) const;
  Diag unboundDiag(const Finding &f) const;
  std::string leakWhere(const Finding &f) const;
  std::string pathText(const std::vector<PathStep> &steps) const;
  Span pathSpan(const std::vector<PathStep> &steps) const;
  std::string code(Span s) const { return "`" + std::string(sm_.text(s)) + "`"; }
  // traceOrigin, where conditions spelled alike test the same thing.
  Origin trace(unsigned block, size_t index, unsigned binding, uint8_t bit) const {
    return traceOrigin(cfg_, sol_, block, index, binding, bit,
                       [this](const Expr &a, const Expr &b) { return sm_.text(a.span) == sm_.text(b.span); });
  }
  const Binding &binding(unsigned id) const { return *cfg_.bindings[id].binding; }
  std::string quoted(unsigned id) const { return "`" + binding(id).name + "`"; }

  const SourceManager &sm_;
  const Cfg &cfg_;
  const Solution &sol_;
  std::vector<Finding> findings_;
  std::vector<Diag> directDiags_; // findings that need no path: ownerless casts, moves out of places
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
  Finding f = Finding::at(id, binding, primary, block, index, e);
  f.afterMove = afterMove;
  add(std::move(f));
}

void FunctionReport::add(Finding f) {
  if (!seen_.insert({static_cast<int>(f.id), f.binding, f.primary.file, f.primary.begin}).second) return;
  findings_.push_back(std::move(f));
}

void FunctionReport::inspect(unsigned block, size_t index, const Event &e, const OwnState &before) {
  auto checkedWith = [&](unsigned id, uint8_t bit) { return cfg_.bindings[id].checked && (before[id] & bit); };
  switch (e.kind) {
  case EventKind::Use:
  case EventKind::Move:
    // A borrowing pointer is freed when its owner is.
    if ((cfg_.bindings[e.binding].checked || cfg_.bindings[e.binding].owner) && (before[e.binding] & kFreed))
      add(DiagId::UseAfterFree, e.binding, e.span, block, index, e);
    else if ((cfg_.bindings[e.binding].moves || cfg_.bindings[e.binding].checked) && (before[e.binding] & kMoved))
      add(DiagId::UseAfterMove, e.binding, e.span, block, index, e);
    else if (e.kind == EventKind::Move && checkedWith(e.binding, kLent) &&
             (cfg_.func->retQuals & (QualWild | QualWildx)))
      add(DiagId::PassOutBorrowed, e.binding, e.span, block, index, e);
    return;
  case EventKind::Release:
    if (e.viaBorrow && !(before[borrowSlot(cfg_.bindings, e.through, e.binding)] & kBorrowed)) return;
    if (checkedWith(e.binding, kFreed)) add(DiagId::DoubleFree, e.binding, e.span, block, index, e);
    else if (checkedWith(e.binding, kMoved)) add(DiagId::DoubleFree, e.binding, e.span, block, index, e, true);
    else if (checkedWith(e.binding, kLent)) add(DiagId::ReleaseOfBorrowed, e.binding, e.span, block, index, e);
    else checkReleaseFamily(block, index, e, before);
    return;
  case EventKind::Init:
    if (e.overwrites && checkedWith(e.binding, kOwned)) add(DiagId::Leak, e.binding, e.span, block, index, e);
    checkInitFamily(block, index, e);
    return;
  case EventKind::Leave: {
    const ExitSite &site = cfg_.sites[e.site];
    for (unsigned id : site.bindings) {
      const TrackedBinding &tb = cfg_.bindings[id];
      // `exit` ends the process: nothing drop.npk or a registered defer releases leaks there.
      bool exempt = site.kind == SiteKind::Exit && (tb.autoReleased || site.releasedByDefer(id));
      if (tb.checked && !exempt && (before[id] & kOwned)) add(DiagId::Leak, id, site.span, block, index, e);
    }
    return;
  }
  case EventKind::DropPoint: return;
  }
}

// The family of what `binding` holds just before event `index`: the
// allocation that reached it (through transfers), else its qualifier's.
Held FunctionReport::heldBy(unsigned block, size_t index, unsigned binding, int depth) const {
  const TrackedBinding &tb = cfg_.bindings[binding];
  Held declared{qualifierFamily(tb.binding->quals), tb.declSpan, qualifierFamilies(tb.binding->quals)};
  if (tb.binding->isParam) return declared;
  Origin o = trace(block, index, binding, kOwned);
  if (!o.event || o.event->kind != EventKind::Init) return declared;
  if (o.event->init == InitKind::Transfer && depth < 16) return heldBy(o.block, o.index, o.event->source, depth + 1);
  Family actual = o.event->expr ? allocationFamily(*o.event->expr) : FamilyNone;
  if (actual != FamilyNone) return Held{actual, o.event->expr->span};
  return Held{declared.family, o.event->span, declared.declaredFamilies};
}

// Whether every family heldBy could find for the binding is in `accepted`
// (or none): then which allocation reached the event needs no tracing back,
// which in a long function costs a walk through every block on the way.
bool FunctionReport::heldWithin(unsigned binding, uint8_t accepted, int depth) const {
  auto within = [&](Family f) { return f == FamilyNone || (f & accepted); };
  const TrackedBinding &tb = cfg_.bindings[binding];
  if (tb.binding->isParam) return within(static_cast<Family>(qualifierFamilies(tb.binding->quals)));
  if (!within(qualifierFamily(tb.binding->quals))) return false;
  for (const Solution::Touch &t : sol_.touches[binding]) {
    const Event &e = cfg_.blocks[t.block].events[t.index];
    if (e.kind != EventKind::Init || e.binding != binding) continue;
    if (e.init == InitKind::Transfer && e.source != binding) {
      if (depth >= 16 || !heldWithin(e.source, accepted, depth + 1)) return false;
    } else if (e.expr && !within(allocationFamily(*e.expr))) {
      return false;
    }
  }
  return true;
}

// NPK-O001 at a release: the deallocator cannot release the binding's family.
void FunctionReport::checkReleaseFamily(unsigned block, size_t index, const Event &e, const OwnState &before) {
  const TrackedBinding &tb = cfg_.bindings[e.binding];
  auto *call = as<CallExpr>(e.expr);
  if (!tb.checked || !call || releasableFamilies(*call) == FamilyAny) return;
  if (!tb.binding->isParam && !(before[e.binding] & kOwned)) return;
  if (heldWithin(e.binding, releasableFamilies(*call))) return;
  Held held = heldBy(block, index, e.binding);
  if (held.family == FamilyNone || (releasableFamilies(*call) & held.families())) return;
  Finding f = Finding::at(DiagId::WrongFamily, e.binding, e.span, block, index, e);
  f.release = call;
  f.held = held;
  add(std::move(f));
}

// NPK-O001 at a binding: a `wild`/`wildx` binding given the other family.
void FunctionReport::checkInitFamily(unsigned block, size_t index, const Event &e) {
  const Binding &b = binding(e.binding);
  uint8_t declared = qualifierFamilies(b.quals);
  if (declared == FamilyNone || b.heapStruct) return;
  Held held;
  if (e.init == InitKind::Owned && e.expr) held = Held{allocationFamily(*e.expr), e.expr->span};
  else if (e.init == InitKind::Transfer && !heldWithin(e.source, declared)) held = heldBy(block, index, e.source);
  if (held.family == FamilyNone || (held.families() & declared)) return;
  Finding f = Finding::at(DiagId::WrongFamily, e.binding, e.span, block, index, e);
  f.held = held;
  add(std::move(f));
}

// An allocation no binding holds leaks at once (ARIA-014); one given
// straight to a deallocator must be of a family it releases (NPK-O001).
void FunctionReport::inspectUnbound(const CallExpr &alloc, const CallExpr *release) {
  Family family = allocationFamily(alloc);
  if (release && (releasableFamilies(*release) & family)) return;
  Finding f;
  f.id = release ? DiagId::WrongFamily : DiagId::Leak;
  f.primary = release ? release->span : alloc.span;
  f.runsAt = alloc.span;
  f.allocation = &alloc;
  f.release = release;
  f.held = Held{family, alloc.span};
  add(std::move(f));
}

void FunctionReport::collect() {
  replay(cfg_, sol_, [&](unsigned block, size_t index, const Event &e, const OwnState &before) {
    inspect(block, index, e, before);
  });
  if (cfg_.func->body)
    forEachUnboundAllocation(*cfg_.func->body,
                             [&](const CallExpr &alloc, const CallExpr *release) { inspectUnbound(alloc, release); });
  std::stable_sort(findings_.begin(), findings_.end(), [](const Finding &a, const Finding &b) {
    return std::tie(a.runsAt.file, a.runsAt.begin, a.primary.begin) <
           std::tie(b.runsAt.file, b.runsAt.begin, b.primary.begin);
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
  case SiteKind::Fall: return "when the arm is left here";
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
  std::vector<std::string> said; // a condition taken the same way twice is said once
  for (const PathStep *d : decisions) {
    std::string part = code(d->decision.cond->span) + " is " + (d->decision.value ? "true" : "false");
    if (std::find(said.begin(), said.end(), part) == said.end()) said.push_back(std::move(part));
  }
  std::string text;
  for (size_t i = 0; i < said.size(); ++i) text += (i == 0 ? "when " : " and ") + said[i];
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
  Origin alloc = trace(f.block, f.index, f.binding, kOwned);
  Diag d;
  d.id = DiagId::Leak;
  d.primary = f.primary;
  d.message = allocationWord(b) + " `" + b.name + "` is never freed";
  d.primaryLabel = f.event->kind == EventKind::Init ? "the only pointer to it is overwritten here"
                                                   : quoted(f.binding) + " is still owned " + leakWhere(f);
  // A deallocator's own parameter: the caller handed its allocation over.
  bool ownedParam = alloc.event && alloc.event->kind == EventKind::Init && !alloc.event->expr && b.isParam;
  std::string fn = "`" + (cfg_.func->typeBlock.empty() ? "" : cfg_.func->typeBlock + ".") + cfg_.func->name + "`";
  if (ownedParam) {
    d.message = "deallocator " + fn + " does not release its parameter `" + b.name + "`";
    d.label(alloc.event->span, fn + " is a deallocator by its name, so callers hand it `" + b.name +
                                   "` to release");
  } else {
    d.label(alloc.event ? alloc.event->span : cfg_.bindings[f.binding].declSpan, "allocated here");
  }
  if (!alloc.steps.empty())
    d.note(quoted(f.binding) + " is still owned " + pathText(alloc.steps), pathSpan(alloc.steps));
  std::string call = releaseCall(b, alloc.event);
  if (alloc.event && alloc.event->expr && allocationFamily(*alloc.event->expr) == FamilyC &&
      !moduleExtern(cfg_.func->module, "free"))
    d.note(quoted(f.binding) + " holds C-heap memory, which only a C deallocator releases: declare libc's `free` "
           "in this module (`extern func:free = void(wild ?*:ptr);`)");
  if (ownedParam && f.event->kind != EventKind::Init) {
    d.withHelp("release it with `" + call + ";` on every path, or rename " + fn +
               " so that its name is not a deallocator's and its callers keep ownership");
    return d;
  }
  if (f.event->kind == EventKind::Init) {
    d.withHelp("release it with `" + call + ";` before assigning a new value");
    return d;
  }
  const Stmt *exit = cfg_.sites[f.event->site].stmt;
  const Expr *value = nullptr;
  if (auto *r = as<ReturnStmt>(exit)) value = r->value.get();
  else if (auto *p = as<PassStmt>(exit)) value = p->value.get();
  if (value && isErrorResultLiteral(*value)) {
    d.note("an error result carries no value: the caller cannot read its `.value`, so nothing releases the "
           "allocation",
           value->span);
    d.withHelp("release it with `" + call + ";` before returning the error, and give `val` a placeholder such "
               "as `NULL`");
    return d;
  }
  d.withHelp("release it with `" + call + ";`, or add `defer " + call + ";` after the allocation");
  return d;
}

// ARIA-022 and ARIA-015: the binding may already be freed here.
Diag FunctionReport::freedDiag(const Finding &f) const {
  const Binding &b = binding(f.binding);
  std::string name = quoted(f.binding);
  bool twice = f.id == DiagId::DoubleFree;
  Origin freed = trace(f.block, f.index, f.binding, kFreed);
  bool automatic = freed.event && freed.event->kind == EventKind::DropPoint;
  Diag d;
  d.id = f.id;
  d.primary = f.primary;
  d.message = twice ? name + " is freed twice" : name + " is used after it was freed";
  d.primaryLabel = twice                                                     ? "freed again here"
                   : f.event->kind == EventKind::Move || f.event->passedOut ? "passed out here"
                                                                            : "used here";
  Origin alloc;
  if (freed.event) alloc = trace(freed.block, freed.index, f.binding, kOwned);
  bool fromCaller = b.isParam && (!alloc.event || (alloc.event->kind == EventKind::Init && !alloc.event->expr));
  if (fromCaller) d.label(b.span, "parameter " + name + " is declared here");
  else if (alloc.event) d.label(alloc.event->span, "allocated here");
  else d.label(cfg_.bindings[f.binding].declSpan, "allocated here");
  if (freed.event)
    d.label(freed.event->span, automatic                ? "released automatically here"
                               : freed.event == f.event ? "freed here in an earlier iteration"
                               : freed.event->viaBorrow ? "first freed here, through `" +
                                                              binding(freed.event->through).name +
                                                              "`, which borrows from " + name
                                                        : "first freed here");
  if (!freed.steps.empty()) d.note(name + " was already freed " + pathText(freed.steps), pathSpan(freed.steps));
  bool inLoop = std::any_of(freed.steps.begin(), freed.steps.end(), [](const PathStep &s) { return s.loop; });
  if (f.event->afterExit)
    d.withHelp(name + " is released when the function returns, so the caller would get freed memory; pass " + name +
               " itself from a function declared to return `" + (b.quals & QualWildx ? "wildx" : "wild") +
               "` to hand over ownership, or copy the data out");
  else if (automatic)
    d.withHelp("drop.npk releases " + name + " when its scope ends, before the defers run; release it explicitly "
               "with `" + releaseCall(b, nullptr) + ";` in the defer instead");
  else if (inLoop) d.withHelp("allocate " + name + " inside the loop, or release it once after the loop");
  else if (twice) d.withHelp("release " + name + " exactly once: remove this call or the earlier one");
  else d.withHelp("use " + name + " before releasing it, or move the release after its last use");
  return d;
}

// ARIA-015 for a borrowing pointer: its owner was released while it
// pointed into the owner's memory.
Diag FunctionReport::borrowDiag(const Finding &f) const {
  std::string name = quoted(f.binding);
  Origin freed = trace(f.block, f.index, f.binding, kFreed);
  // The owner whose release left it dangling (of several it may borrow from).
  const Binding *ownerBinding = cfg_.bindings[f.binding].owner;
  if (freed.event && freed.event->kind == EventKind::Release) ownerBinding = cfg_.bindings[freed.event->binding].binding;
  if (freed.event && freed.event->kind == EventKind::DropPoint)
    for (unsigned id : cfg_.sites[freed.event->site].bindings)
      if (borrowSlot(cfg_.bindings, f.binding, id) < cfg_.bindings.size()) {
        ownerBinding = cfg_.bindings[id].binding;
        break;
      }
  std::string owner = "`" + ownerBinding->name + "`";
  Diag d;
  d.id = f.id;
  d.primary = f.primary;
  d.message = name + " is used after " + owner + ", which it borrows from, was freed";
  d.primaryLabel = f.event->kind == EventKind::Move || f.event->passedOut ? "passed out here" : "used here";
  Origin borrow;
  unsigned slot = borrowSlot(cfg_.bindings, f.binding, ownerBinding->id);
  if (freed.event && slot < cfg_.bindings.size()) borrow = trace(freed.block, freed.index, slot, kBorrowed);
  if (borrow.event) {
    // `q = p`, a copy of another borrow, or a borrow of an allocation that moved on.
    std::string from = owner;
    const Event &b = *borrow.event;
    bool direct = std::find(b.sources.begin(), b.sources.end(), ownerBinding->id) != b.sources.end();
    if (b.kind == EventKind::Init && b.init == InitKind::Borrow && !direct)
      for (unsigned source : b.sources)
        if (borrowSlot(cfg_.bindings, source, ownerBinding->id) < cfg_.bindings.size()) {
          from = "`" + cfg_.bindings[source].binding->name + "`";
          break;
        }
    d.label(borrow.event->span, name + " borrows from " + from + " here");
  }
  if (freed.event)
    d.label(freed.event->span, freed.event->kind == EventKind::DropPoint ? owner + " is released automatically here"
                                                                          : owner + " is freed here");
  if (!freed.steps.empty()) d.note(owner + " was already freed " + pathText(freed.steps), pathSpan(freed.steps));
  if (f.event->afterExit)
    d.withHelp(owner + " is released when the function returns, so the caller would get freed memory; pass " +
               owner + " itself from a function declared to return `wild`/`wildx` to hand over ownership, or "
               "copy the data out");
  else
    d.withHelp("use " + name + " before " + owner + " is released, or point " + name +
               " at memory that is still live");
  return d;
}

// The parameter whose caller owns what `binding` holds before event `index`
// (through the bindings it moved to), or null.
const Binding *FunctionReport::lentBy(unsigned block, size_t index, unsigned binding) const {
  for (int depth = 0; depth < 16; ++depth) {
    Origin o = trace(block, index, binding, kLent);
    if (!o.event || o.event->kind != EventKind::Init) return nullptr;
    if (o.event->init == InitKind::Lent) return &this->binding(o.event->binding);
    if (o.event->init != InitKind::Transfer) return nullptr;
    block = o.block;
    index = o.index;
    binding = o.event->source;
  }
  return nullptr;
}

// NPK-O006 and NPK-O007: a function that is not a deallocator releases, or
// passes out as its owned result, an allocation its caller owns.
Diag FunctionReport::borrowedParamDiag(const Finding &f) const {
  std::string name = quoted(f.binding);
  const Binding *param = lentBy(f.block, f.index, f.binding);
  std::string fn = "`" + (cfg_.func->typeBlock.empty() ? "" : cfg_.func->typeBlock + ".") + cfg_.func->name + "`";
  bool release = f.id == DiagId::ReleaseOfBorrowed;
  Diag d;
  d.id = f.id;
  d.primary = f.primary;
  std::string via = param && param != &binding(f.binding) ? " (it holds parameter `" + param->name + "`)" : "";
  d.message = release ? name + " is borrowed from the caller and cannot be freed here" + via
                      : name + " is borrowed from the caller and cannot be passed out as an owned result" + via;
  d.primaryLabel = release ? "freed here" : "passed out here";
  if (param && ownedParam(*cfg_.func))
    d.label(param->span, "parameter `" + param->name + "` is borrowed: deallocator " + fn +
                             " owns only its first `wild`/`wildx` parameter, so the caller still owns and releases "
                             "this one");
  else if (param)
    d.label(param->span, "parameter `" + param->name + "` is borrowed: " + fn +
                             " is not a deallocator, so the caller still owns and releases it");
  if (release)
    d.withHelp("leave the release to the caller; or, if " + fn + " is meant to take ownership, name it as a "
               "deallocator (`free`, `destroy`, `release`, or ending in `_free`/`_destroy`/`_release`)");
  else
    d.withHelp("declare the result without `wild`/`wildx` to pass a plain pointer the caller keeps owning, or "
               "pass out a new allocation");
  return d;
}

// ARIA-022 for `wild q = p; ... free(p);`: `q` owns the allocation now, so
// releasing it through `p` as well frees it twice.
Diag FunctionReport::movedDiag(const Finding &f) const {
  std::string name = quoted(f.binding);
  Origin moved = trace(f.block, f.index, f.binding, kMoved);
  // `defer { free(p); } ... pass p;` (LANGUAGE-2 A9): `p` is moved out by
  // the exit whose defer bodies then free it, so the caller would receive
  // freed memory. Reported at the `pass` as a use after free.
  const Span exit = f.runsAt;
  bool inDefer = exit.valid() && !(exit.file == f.primary.file && exit.begin == f.primary.begin);
  if (inDefer && moved.event && moved.event->span.file == exit.file && moved.event->span.begin >= exit.begin &&
      moved.event->span.end <= exit.end) {
    Diag d;
    d.id = DiagId::UseAfterFree;
    d.primary = moved.event->span;
    d.primaryLabel = "passed out here";
    d.message = name + " is passed out after a `defer` frees it";
    d.label(f.primary, "freed here, by a `defer` that runs after the value is taken");
    d.note("the caller would receive freed memory: `pass` takes the value first, then the defers run");
    d.withHelp("pass out an allocation that nothing frees here: remove the release from the `defer`, or free " +
               name + " only on the paths that do not pass it out");
    return d;
  }
  Diag d = afterMoveDiag(f, moved, "freed here", "the allocation moved here", name + " gave its allocation away ");
  d.message = name + " is freed after its allocation moved to another binding";
  d.withHelp("release the allocation once, through the binding that owns it now");
  return d;
}

// What every report on a binding whose value moved away shows: the use, the
// move and the path it was made on.
Diag FunctionReport::afterMoveDiag(const Finding &f, const Origin &moved, std::string useLabel,
                                   const char *moveLabel, const std::string &pathPrefix) const {
  Diag d;
  d.id = f.id;
  d.primary = f.primary;
  d.primaryLabel = std::move(useLabel);
  if (moved.event) d.label(moved.event->span, moveLabel);
  if (!moved.steps.empty()) d.note(pathPrefix + pathText(moved.steps), pathSpan(moved.steps));
  return d;
}

// NPK-O004: copying a struct value with a destructor out of a place whose
// owner drops it as well would run its destructor twice.
void FunctionReport::checkMovesOutOfPlace() {
  for (const MoveOutOfPlace &m : cfg_.movesOutOfPlace) {
    std::string what = code(m.value->span);
    Diag d;
    d.id = DiagId::MoveOutOfPlace;
    d.primary = m.value->span;
    d.primaryLabel = "moved " + m.movedTo + " here";
    auto *n = as<NameExpr>(m.value);
    if (n && n->binding->isParam) {
      d.message = "cannot move out of " + what + ", which is borrowed";
      d.label(n->binding->span, "the caller keeps the value and drops it");
      d.withHelp("borrow it on (pass it to a `$$i` or `$$m` parameter), or take the parameter by value "
                 "(`" + n->binding->ty->str() + ":" + n->binding->name + "`) to own it");
    } else if (n) {
      d.message = "cannot move out of " + what + ", which lives on the wild heap";
      d.label(n->binding->span, "declared on the wild heap here");
      d.withHelp("declare it without `wild` (`" + n->binding->ty->str() + ":" + n->binding->name +
                 " = ...;`) so that it moves, or borrow it with a `$$i` parameter");
    } else if (as<IndexExpr>(m.value)) {
      d.message = "cannot move " + what + " out of its array";
      d.withHelp("the array drops its elements when it is dropped; move the whole array, or borrow the element "
                 "with a `$$i` parameter");
    } else {
      d.message = "cannot move " + what + " out of its struct";
      d.withHelp("the struct drops its fields when it is dropped; move the whole struct, or borrow the field "
                 "with a `$$i` parameter");
    }
    directDiags_.push_back(std::move(d));
  }
}

// NPK-O009: tracked memory stored into a struct whose destructor releases
// its fields.
void FunctionReport::checkIntoDestructors() {
  for (const IntoDestructor &i : cfg_.intoDestructors) {
    const Binding &src = *cfg_.bindings[i.source].binding;
    std::string name = "`" + src.name + "`";
    std::string type = "`" + i.decl->name + "`";
    Diag d;
    d.id = DiagId::IntoDestructor;
    d.primary = i.value->span;
    d.message = "the memory of " + name + " is stored into a " + type +
                " value, whose destructor releases its fields";
    d.primaryLabel = "stored here";
    d.label(src.span, name + " is declared here");
    if (i.decl->dropFn) d.note("the destructor of " + type + " is declared here", i.decl->dropFn->nameSpan);
    d.withHelp("the checker follows " + name + ", not the destructor: release " + name +
               " yourself and keep the pointer out of " + type + ", or release the field explicitly instead of in "
               "the destructor");
    directDiags_.push_back(std::move(d));
  }
}

// NPK-O008: an allocation bound to an unqualified pointer has no owner the
// checker follows.
void FunctionReport::checkPlainOwners() {
  for (const PlainOwner &p : cfg_.plainOwners) {
    const CallExpr *call = allocatingCall(*p.value);
    Family family = call ? allocationFamily(*call) : FamilyNone;
    std::string qual = family == FamilyWildx ? "wildx" : "wild";
    std::string name = "`" + p.binding->name + "`";
    Diag d;
    d.id = DiagId::PlainOwner;
    d.primary = p.value->span;
    d.message = "the " + std::string(familyText(family)) + " from " + code(call ? call->span : p.value->span) +
                " is bound to plain pointer " + name + ", which cannot own it";
    d.primaryLabel = "allocated here";
    d.label(p.binding->span, name + " is declared without `" + qual + "` here");
    std::string release = std::string(familyReleaser(family)) + "(" + p.binding->name + ");";
    if (family == FamilyC)
      d.withHelp("keep ownership by declaring it `" + qual + " " + p.binding->ty->str() + ":" + p.binding->name +
                 "`, then " + familyReleaseHelp(family, p.binding->name, cfg_.func->module));
    else if (p.binding->isParam)
      d.withHelp("keep ownership in a `" + qual + "` local, as in `" + qual + " " + p.binding->ty->str() + ":" +
                 p.binding->name + "_own = " + std::string(sm_.text(p.value->span)) + ";`, and release it with `" +
                 familyReleaser(family) + "`");
    else
      d.withHelp("keep ownership by declaring it `" + qual + " " + p.binding->ty->str() + ":" + p.binding->name +
                 "`, then release it with `" + release + "` (a plain pointer may borrow from it)");
    directDiags_.push_back(std::move(d));
  }
}

// NPK-O005: `@p` of a followed pointer binding would let code change or
// release it where the checker cannot see.
void FunctionReport::checkAddressesOfOwned() {
  for (const AddressOfOwned &a : cfg_.addressesOfOwned) {
    const Binding &b = binding(a.binding);
    std::string name = quoted(a.binding);
    Diag d;
    d.id = DiagId::AddressOfOwned;
    d.primary = a.at->span;
    d.message = "cannot take the address of " + name + ", which owns its allocation";
    d.primaryLabel = "address taken here";
    d.label(b.isParam ? b.span : cfg_.bindings[a.binding].declSpan,
            b.isParam ? "parameter " + name + " is declared here" : name + " is declared here");
    d.withHelp("pass " + name + " itself, or let a function change it through a `$$m` parameter");
    directDiags_.push_back(std::move(d));
  }
}

// NPK-O002: a function value converted from JIT code (LANGUAGE-2 A7.1) may
// only be called and copied into locals, where the borrow analysis follows
// it to the release of its code (ARIA-015); every other way out is refused.
void FunctionReport::checkPageBoundEscapes() {
  if (!cfg_.func->body) return;
  auto pageBound = [&](const Expr *e) -> const Binding * {
    if (auto *c = as<CastExpr>(e); c && c->ty && c->ty->isFunc()) {
      auto *n = as<NameExpr>(c->operand.get());
      return n ? n->binding : nullptr;
    }
    auto *n = as<NameExpr>(e);
    if (!n || !n->binding || !n->binding->ty || !n->binding->ty->isFunc() || n->binding->id >= cfg_.bindings.size())
      return nullptr;
    const TrackedBinding &tb = cfg_.bindings[n->binding->id];
    return tb.binding == n->binding && isBorrowing(tb) ? tb.owner : nullptr;
  };
  auto report = [&](const Expr &value, const Binding &code, const std::string &how, const std::string &help) {
    std::string what = "`" + std::string(sm_.text(value.span)) + "`";
    Diag d;
    d.id = DiagId::PageBoundEscape;
    d.primary = value.span;
    d.message = "function value " + what + " of the JIT code in `" + code.name + "` escapes: " + how;
    d.primaryLabel = "escapes here";
    d.label(code.span, "`" + code.name + "` is declared here; the value is valid only while it is live");
    d.withHelp(help);
    directDiags_.push_back(std::move(d));
  };
  forEachExprIn(*cfg_.func->body, [&](const Expr &e) {
    if (auto *call = as<CallExpr>(&e)) {
      for (const ExprPtr &arg : call->args)
        if (const Binding *code = arg ? pageBound(arg.get()) : nullptr)
          report(*arg, *code, "passed as an argument",
                 "call the value where `" + code->name + "` is live instead of handing it on; a function that needs "
                 "the code takes `" + code->name + "` itself and converts it");
    } else if (auto *lit = as<StructLitExpr>(&e)) {
      for (const FieldInit &f : lit->fields)
        if (const Binding *code = f.value ? pageBound(f.value.get()) : nullptr)
          report(*f.value, *code, "stored in field `" + f.name + "`", "keep it in a local binding");
    } else if (auto *u = as<UnaryExpr>(&e); u && u->op == UnaryOp::AddrOf) {
      if (const Binding *code = pageBound(u->operand.get()))
        report(*u->operand, *code, "its address is taken", "call it or copy it into a local binding");
    }
  });
  walkStmts(*cfg_.func->body, [&](const Stmt &s) {
    const Expr *value = nullptr;
    std::string how;
    auto *a = as<AssignStmt>(&s);
    auto *local = a ? as<NameExpr>(a->target.get()) : nullptr;
    if (a && !a->compound && !(local && local->binding)) {
      value = a->value.get();
      how = "stored outside a local binding";
    } else if (auto *p = as<PassStmt>(&s)) {
      value = p->value.get();
      how = "passed out of the function";
    } else if (auto *r = as<ReturnStmt>(&s)) {
      value = r->value.get();
      how = "returned from the function";
    }
    if (const Binding *code = value ? pageBound(value) : nullptr)
      report(*value, *code, how, "keep it in a local binding of the scope that owns the code");
  });
}

// NPK-O003: a struct value with a destructor, or a `wild`/`wildx` binding whose
// allocation went to another binding, is used after it moved.
Diag FunctionReport::useAfterMoveDiag(const Finding &f) const {
  std::string name = quoted(f.binding);
  Origin moved = trace(f.block, f.index, f.binding, kMoved);
  Diag d = afterMoveDiag(f, moved, f.event->kind == EventKind::Move ? "moved again here" : "used here", "moved here",
                         name + " moved ");
  d.message = name + " is used after its value moved";
  bool inLoop = std::any_of(moved.steps.begin(), moved.steps.end(), [](const PathStep &s) { return s.loop; });
  // `wild T->:q = p;` moved the allocation: `q` owns it now.
  if (moved.event && moved.event->kind == EventKind::Init && moved.event->init == InitKind::Transfer &&
      moved.event->binding != f.binding) {
    std::string owner = quoted(moved.event->binding);
    d.message = name + " is used after its allocation moved to " + owner;
    d.withHelp(inLoop ? "the allocation moved to " + owner + " in an earlier iteration; assign " + name +
                            " a new allocation before the next iteration"
                      : "use " + owner + ", which owns the allocation now, or assign " + name + " a new value first");
    return d;
  }
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

// NPK-O001: at a release (of a binding, or of an allocation given straight
// to the deallocator), or at a `wild`/`wildx` binding given the other family.
Diag FunctionReport::familyDiag(const Finding &f) const {
  Family held = f.held.family;
  Diag d;
  d.id = f.id;
  d.primary = f.primary;
  std::string releaser = familyReleaser(held);
  std::string what = familyText(held);
  if (!f.release) {
    const Binding &b = binding(f.binding);
    Family declared = qualifierFamily(b.quals);
    std::string qual = declared == FamilyWildx ? "wildx" : "wild";
    d.message = "`" + qual + "` binding " + quoted(f.binding) + " is given " + what;
    d.primaryLabel = "a `" + qual + "` binding holds " + familyText(declared);
    d.label(f.held.at, what + " allocated here");
    d.withHelp("declare " + quoted(f.binding) + " as `" + std::string(held == FamilyWildx ? "wildx" : "wild") +
               "`, or allocate " + familyText(declared) + " with `" +
               (declared == FamilyWildx ? "wildx_alloc" : "alloc") + "`");
    return d;
  }
  std::string dealloc = "`" + f.release->calleeFullName() + "`";
  std::string subject = f.allocation ? code(f.allocation->span) + " gives " : quoted(f.binding) + " holds ";
  d.message = subject + what + ", which " + dealloc + " cannot release";
  d.primaryLabel = "released with " + dealloc + " here";
  if (f.binding != kNoBinding && binding(f.binding).isParam)
    d.label(f.held.at, "parameter " + quoted(f.binding) + " is declared `" + (held == FamilyWildx ? "wildx" : "wild") +
                           "` here");
  else
    d.label(f.held.at, what + " allocated here");
  std::string help = "release it with `" + releaser + "`" + (held == FamilyWildx ? " or `Jit.free`" : "");
  if (f.allocation) help = held == FamilyC ? familyReleaseHelp(held, "p", cfg_.func->module) : help + " instead";
  else help = familyReleaseHelp(held, binding(f.binding).name, cfg_.func->module);
  // `free` is libc's in this module (A1.5): the builtin that releases the
  // wild heap cannot be called here.
  const ExternDecl *shadow = f.release->ext && f.release->ext->shadowsBuiltin ? f.release->ext : nullptr;
  if (shadow && held != FamilyC) {
    d.note(dealloc + " in this module is the C function declared here, not the builtin", shadow->nameSpan);
    help = std::string("allocate with a C allocator in this module (a `wild` extern such as `malloc`), or ") +
           "release it in a module where " + dealloc + " is the builtin";
  }
  d.withHelp(help);
  return d;
}

// ARIA-014 for an allocation whose pointer is discarded at once.
Diag FunctionReport::unboundDiag(const Finding &f) const {
  const CallExpr &call = *f.allocation;
  Family family = f.held.family;
  std::string qual = family == FamilyWildx ? "wildx" : "wild";
  const Ty *ret = call.func ? call.func->ret : call.ext ? call.ext->ret : nullptr;
  std::string ty = ret && ret->isPtr() ? ret->str() : "int8->";
  std::string value = (call.func ? "raw " : "") + std::string(sm_.text(call.span));
  Diag d;
  d.id = DiagId::Leak;
  d.primary = f.primary;
  d.message = "the " + std::string(familyText(family)) + " from " + code(call.span) + " is never freed";
  d.primaryLabel = "the only pointer to it is discarded here";
  std::string release = family == FamilyC ? familyReleaseHelp(family, "p", cfg_.func->module)
                                          : "release it with `" + std::string(familyReleaser(family)) + "(p);`";
  d.withHelp("keep ownership by binding it, as in `" + qual + " " + ty + ":p = " + value + ";`, then " + release);
  return d;
}

void FunctionReport::emit(DiagEngine &diags, OwnershipReport as) {
  std::vector<Diag> out;
  std::map<unsigned, size_t> leakReport; // binding -> its ARIA-014 in `out`
  std::unordered_set<unsigned> poisoned;  // bindings with an ARIA-015/022 report
  for (const Finding &f : findings_) {
    if (f.binding == kNoBinding) {
      out.push_back(f.id == DiagId::Leak ? unboundDiag(f) : familyDiag(f));
      continue;
    }
    if (poisoned.count(f.binding)) continue;
    if (f.id != DiagId::Leak) {
      if (f.id == DiagId::WrongFamily) out.push_back(familyDiag(f));
      else if (f.id == DiagId::UseAfterMove) out.push_back(useAfterMoveDiag(f));
      else if (f.id == DiagId::ReleaseOfBorrowed || f.id == DiagId::PassOutBorrowed)
        out.push_back(borrowedParamDiag(f));
      else if (f.afterMove) out.push_back(movedDiag(f));
      else if (cfg_.bindings[f.binding].owner) out.push_back(borrowDiag(f));
      else out.push_back(freedDiag(f));
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
  std::stable_sort(directDiags_.begin(), directDiags_.end(),
                   [](const Diag &a, const Diag &b) { return a.primary.begin < b.primary.begin; });
  for (Diag &direct : directDiags_) {
    auto at = std::find_if(out.begin(), out.end(), [&](const Diag &d) {
      return d.primary.file == direct.primary.file && d.primary.begin > direct.primary.begin;
    });
    out.insert(at, std::move(direct));
  }
  for (Diag &d : out) {
    Diag &reported = as == OwnershipReport::Errors ? diags.error(d.id, d.primary, std::move(d.message))
                                                   : diags.warning(d.id, d.primary, std::move(d.message));
    reported.primaryLabel = std::move(d.primaryLabel);
    reported.secondary = std::move(d.secondary);
    reported.notes = std::move(d.notes);
    reported.help = std::move(d.help);
  }
}

// One function: its diagnostics, and (plan) its drops and drop flags.
void checkFunc(const SourceManager &sm, DiagEngine &diags, nir::Func &f, OwnershipReport as, bool plan) {
  Cfg cfg = buildCfg(f);
  Solution sol = solve(cfg);
  FunctionReport report(sm, cfg, sol);
  report.collect();
  report.checkMovesOutOfPlace();
  report.checkAddressesOfOwned();
  report.checkPageBoundEscapes();
  report.checkPlainOwners();
  report.checkIntoDestructors();
  report.emit(diags, as);
  if (plan) planDrops(cfg, sol, f);
}
} // namespace

void checkOwnership(const SourceManager &sm, const Symbols &, DiagEngine &diags, nir::Module &nir,
                    OwnershipReport as) {
  for (nir::Func &f : nir.funcs) checkFunc(sm, diags, f, as, true);
}

void checkOwnershipOnly(const SourceManager &sm, const Symbols &syms, DiagEngine &diags, OwnershipReport as,
                        const std::function<void(nir::Func &)> &checked) {
  nir::forEachBody(syms.allFuncs, [&](const FuncDecl &decl) {
    nir::Func f = nir::buildFunc(decl);
    checkFunc(sm, diags, f, as, false);
    if (checked) checked(f);
  });
}

void planOwnership(nir::Func &f) {
  Cfg cfg = buildCfg(f);
  planDrops(cfg, solve(cfg), f);
}

} // namespace npk
