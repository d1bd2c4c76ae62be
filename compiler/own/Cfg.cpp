#include "own/Cfg.h"

#include "check/Types.h"

#include <algorithm>
#include <functional>

namespace npk::own {

bool ExitSite::releasedByDefer(unsigned id) const {
  return std::find(deferReleased.begin(), deferReleased.end(), id) != deferReleased.end();
}

namespace {

// Where an assignment stores a value (`s`, `s.f`, a field), for a diagnostic
// that says where a value went.
std::string placeText(const Expr *target) {
  if (auto *n = as<NameExpr>(target)) return "`" + n->name + "`";
  if (auto *m = as<MemberExpr>(target); m && as<NameExpr>(m->base.get()))
    return "`" + static_cast<const NameExpr &>(*m->base).name + "." + m->member + "`";
  if (auto *m = as<MemberExpr>(target)) return "field `" + m->member + "`";
  return "the place it is assigned to";
}

// Builds the CFG of one function from its NIR. Scopes, exits and defer
// bodies are already explicit there; the builder turns each instruction into
// the ownership events it causes, and each terminator into edges.
class CfgBuilder {
public:
  explicit CfgBuilder(const nir::Func &f) : nir_(f) {
    cfg_.func = f.decl;
    cfg_.bindings = collectBindings(*f.decl);
  }
  Cfg build();

private:
  // ---- graph
  unsigned newBlock(Decision context);
  unsigned addEdge(unsigned from, unsigned to);
  void branch(const Expr &cond, unsigned from, unsigned ifTrue, unsigned ifFalse);
  void switchEdges(const nir::Inst &in);
  void collectNull(const Expr &cond, bool value, std::vector<unsigned> &out) const;
  void emit(EventKind kind, Span span, unsigned binding, const Expr *expr);
  void emitSite(EventKind kind, Span span, unsigned site);
  const TrackedBinding *followed(const Expr *e) const { return followedName(e, cfg_.bindings); }

  // ---- instructions
  void site(unsigned index);
  void inst(const nir::Inst &in);
  void evalFor(const nir::Inst &in);
  void initEvent(const Binding &b, const Expr *value, Span span, bool overwrites);
  std::vector<unsigned> borrowSources(const Binding &b, const Expr *value) const;
  void fieldStore(const Expr &place, const Expr *value, Span span);
  void intoDestructor(const Ty *structTy, const Expr &value);
  const TrackedBinding *borrowingField(const Expr &place) const;
  void moveOrEval(const Expr *value);
  void consume(const Expr &value, std::string movedTo);
  void addressOf(const UnaryExpr &u);
  void plainOwner(const Binding &b, const Expr &value, Span at, bool assigned);
  void passOut(const Expr &value);

  // ---- expressions
  // While the walk of an instruction's expression is inside a part that
  // was evaluated before it (a sub: nir/NIR.h), its events happen where
  // that part is evaluated: in that block, at that instruction.
  class At {
  public:
    At(CfgBuilder &b, const Expr &e);
    ~At();
    At(const At &) = delete;
    At &operator=(const At &) = delete;

  private:
    CfgBuilder &b_;
    unsigned cur_, nirBlock_, nirInst_;
    const nir::Inst *active_;
  };
  void expr(const Expr &e);
  void call(const CallExpr &c);
  void structLit(const StructLitExpr &lit);
  void choice(const IsExpr &is, const std::function<void(const Expr &)> &onBranch);
  void useAgain(const Expr &value);

  const nir::Func &nir_;
  Cfg cfg_;
  unsigned cur_ = 0;
  unsigned nirBlock_ = 0, nirInst_ = 0; // the instruction being read
  const nir::Inst *active_ = nullptr;   // the instruction whose subs the walk reads
  std::vector<std::pair<unsigned, unsigned>> defs_; // per temporary: the block and instruction defining it
  Span runningDefersAt_; // the exit whose defer bodies are being read
  const Binding *ownedParam_ = nullptr; // the `wild` parameter a deallocator releases
  std::pair<unsigned, const Expr *> passedOut_{0, nullptr}; // for the exit being read
  unsigned releases_ = 0; // Release events emitted so far
};

Cfg CfgBuilder::build() {
  ownedParam_ = ownedParam(*nir_.decl);
  for (const nir::Block &b : nir_.blocks) newBlock(Decision{b.context.cond, b.context.value});
  for (unsigned i = 0; i < nir_.sites.size(); ++i) site(i);
  defs_.assign(nir_.temps, {~0u, ~0u});
  for (unsigned b = 0; b < nir_.blocks.size(); ++b)
    for (unsigned i = 0; i < nir_.blocks[b].insts.size(); ++i)
      if (nir_.blocks[b].insts[i].result != nir::kNoTemp) defs_[nir_.blocks[b].insts[i].result] = {b, i};
  for (unsigned b = 0; b < nir_.blocks.size(); ++b) {
    for (unsigned i = 0; i < nir_.blocks[b].insts.size(); ++i) {
      cur_ = nirBlock_ = b;
      nirInst_ = i;
      active_ = &nir_.blocks[b].insts[i];
      inst(*active_);
    }
  }
  // A part's events were added when the walk of its consumer reached it:
  // each block's events go in the order of the instructions they belong to.
  for (CfgBlock &block : cfg_.blocks)
    std::stable_sort(block.events.begin(), block.events.end(),
                     [](const Event &a, const Event &b) { return a.nirInst < b.nirInst; });
  return std::move(cfg_);
}

CfgBuilder::At::At(CfgBuilder &b, const Expr &e)
    : b_(b), cur_(b.cur_), nirBlock_(b.nirBlock_), nirInst_(b.nirInst_), active_(b.active_) {
  // A part may itself be evaluated by a phi (a value that branches).
  for (nir::Temp t; b.active_ && (t = b.nir_.subFor(*b.active_, e)) != nir::kNoTemp;) {
    auto [block, inst] = t < b.defs_.size() ? b.defs_[t] : std::pair<unsigned, unsigned>{~0u, ~0u};
    if (block == ~0u) break;
    const nir::Inst *def = &b.nir_.blocks[block].insts[inst];
    if (def == b.active_) break;
    b.cur_ = b.nirBlock_ = block;
    b.nirInst_ = inst;
    b.active_ = def;
  }
}

CfgBuilder::At::~At() {
  b_.cur_ = cur_;
  b_.nirBlock_ = nirBlock_;
  b_.nirInst_ = nirInst_;
  b_.active_ = active_;
}

// ---- graph -----------------------------------------------------------------------

unsigned CfgBuilder::newBlock(Decision context) {
  cfg_.blocks.emplace_back();
  cfg_.blocks.back().context = context;
  return static_cast<unsigned>(cfg_.blocks.size() - 1);
}

unsigned CfgBuilder::addEdge(unsigned from, unsigned to) {
  Edge e;
  e.from = from;
  e.to = to;
  cfg_.edges.push_back(e);
  unsigned id = static_cast<unsigned>(cfg_.edges.size() - 1);
  cfg_.blocks[from].succs.push_back(id);
  cfg_.blocks[to].preds.push_back(id);
  return id;
}

// Both edges of a condition; a constant condition (`while (true)`) has one.
void CfgBuilder::branch(const Expr &cond, unsigned from, unsigned ifTrue, unsigned ifFalse) {
  auto *constant = as<BoolLitExpr>(&cond);
  for (bool value : {true, false}) {
    if (constant && constant->value != value) continue;
    unsigned id = addEdge(from, value ? ifTrue : ifFalse);
    cfg_.edges[id].branch = Decision{&cond, value};
    collectNull(cond, value, cfg_.edges[id].knownNull);
  }
}

// A `pick`: one edge per arm the selector can reach. With a `bool`
// selector, an edge that one value takes is that decision of the selector,
// like a branch of `if`.
void CfgBuilder::switchEdges(const nir::Inst &in) {
  bool isBool = in.ty && !in.ty->isInt();
  std::vector<unsigned> targets;
  std::vector<std::vector<std::pair<__int128, __int128>>> values; // per target
  auto reach = [&](unsigned target, __int128 lo, __int128 hi) {
    size_t i = std::find(targets.begin(), targets.end(), target) - targets.begin();
    if (i == targets.size()) {
      targets.push_back(target);
      values.emplace_back();
    }
    values[i].push_back({lo, hi});
  };
  for (const nir::SwitchCase &c : in.cases) reach(c.target, c.lo, c.hi);
  if (!in.exhaustive) {
    // The `else` takes the values no case holds: with a `bool` selector,
    // the one value left, if one is.
    bool holds[2] = {false, false};
    for (const nir::SwitchCase &c : in.cases)
      for (int b = 0; b <= 1; ++b) holds[b] |= c.lo <= b && b <= c.hi;
    if (isBool && holds[0] != holds[1]) reach(in.elseTarget, holds[0] ? 1 : 0, holds[0] ? 1 : 0);
    else reach(in.elseTarget, 0, 1);
  }
  for (size_t i = 0; i < targets.size(); ++i) {
    unsigned id = addEdge(cur_, targets[i]);
    if (!isBool || values[i].size() != 1 || values[i][0].first != values[i][0].second) continue;
    bool value = values[i][0].first != 0;
    cfg_.edges[id].branch = Decision{in.expr, value};
    collectNull(*in.expr, value, cfg_.edges[id].knownNull);
  }
}

// Bindings that are NULL whenever `cond` evaluates to `value`.
void CfgBuilder::collectNull(const Expr &cond, bool value, std::vector<unsigned> &out) const {
  if (auto *u = as<UnaryExpr>(&cond); u && u->op == UnaryOp::Not && u->operand)
    return collectNull(*u->operand, !value, out);
  auto *b = as<BinaryExpr>(&cond);
  if (!b || !b->lhs || !b->rhs) return;
  if ((b->op == BinaryOp::And && value) || (b->op == BinaryOp::Or && !value)) {
    collectNull(*b->lhs, value, out);
    collectNull(*b->rhs, value, out);
    return;
  }
  if (b->op != BinaryOp::Eq && b->op != BinaryOp::Ne) return;
  bool isNull = (b->op == BinaryOp::Eq) == value;
  const TrackedBinding *lhs = followed(b->lhs.get()), *rhs = followed(b->rhs.get());
  if (isNull && lhs && as<NullLitExpr>(b->rhs.get())) out.push_back(lhs->binding->id);
  if (isNull && rhs && as<NullLitExpr>(b->lhs.get())) out.push_back(rhs->binding->id);
}

void CfgBuilder::emit(EventKind kind, Span span, unsigned binding, const Expr *e) {
  Event ev;
  ev.kind = kind;
  ev.span = span;
  ev.binding = binding;
  ev.expr = e;
  ev.runsAt = runningDefersAt_.valid() ? runningDefersAt_ : span;
  ev.nirBlock = nirBlock_;
  ev.nirInst = nirInst_;
  cfg_.blocks[cur_].events.push_back(ev);
  if (kind == EventKind::Release) ++releases_;
}

void CfgBuilder::emitSite(EventKind kind, Span span, unsigned site) {
  Event ev;
  ev.kind = kind;
  ev.span = span;
  ev.site = site;
  ev.runsAt = runningDefersAt_.valid() ? runningDefersAt_ : span;
  ev.nirBlock = nirBlock_;
  ev.nirInst = nirInst_;
  cfg_.blocks[cur_].events.push_back(ev);
}

// ---- instructions ----------------------------------------------------------------

// The site of a `scope.exit`/`scope.end`, as the analysis sees it: only the
// bindings it follows, and the releases of the defer bodies registered there.
void CfgBuilder::site(unsigned index) {
  const nir::ExitSite &ns = nir_.sites[index];
  ExitSite site;
  switch (ns.kind) {
  case nir::ExitKind::BlockEnd: site.kind = SiteKind::BlockEnd; break;
  case nir::ExitKind::FunctionEnd: site.kind = SiteKind::FunctionEnd; break;
  case nir::ExitKind::Detached: site.kind = SiteKind::Detached; break;
  case nir::ExitKind::Pass: site.kind = SiteKind::Pass; break;
  case nir::ExitKind::Fail: site.kind = SiteKind::Fail; break;
  case nir::ExitKind::Return: site.kind = SiteKind::Return; break;
  case nir::ExitKind::Exit: site.kind = SiteKind::Exit; break;
  case nir::ExitKind::Break: site.kind = SiteKind::Break; break;
  case nir::ExitKind::Continue: site.kind = SiteKind::Continue; break;
  case nir::ExitKind::Fall: site.kind = SiteKind::Fall; break;
  }
  site.stmt = ns.stmt;
  site.block = ns.block;
  site.span = ns.span;
  for (const Binding *b : ns.bindings)
    if (b->id < cfg_.bindings.size() && cfg_.bindings[b->id].binding == b && cfg_.bindings[b->id].followed())
      site.bindings.push_back(b->id);
  for (const CallExpr *call : ns.deferReleases)
    if (const TrackedBinding *tb = followed(releasedName(*call))) site.deferReleased.push_back(tb->binding->id);
  cfg_.sites.push_back(std::move(site));
}

void CfgBuilder::inst(const nir::Inst &in) {
  runningDefersAt_ = in.runsAt;
  switch (in.op) {
  case nir::Op::Param: {
    unsigned id = in.binding->id;
    if (id >= cfg_.bindings.size()) return;
    // A `wild`/`wildx` parameter holds the caller's allocation: borrowed,
    // except the one a deallocator releases, which it owns.
    if (cfg_.bindings[id].checked) {
      emit(EventKind::Init, in.binding->span, id, nullptr);
      cfg_.blocks[cur_].events.back().init = in.binding == ownedParam_ ? InitKind::Owned : InitKind::Lent;
    }
    if (cfg_.bindings[id].moves)
      initEvent(*in.binding, nullptr, in.binding->span, false); // a struct passed by value arrives owned (§6.4)
    return;
  }
  case nir::Op::Eval:
    if (in.use == nir::Use::Part) return; // read where its consumer's walk reaches it (At)
    return evalFor(in);
  case nir::Op::Phi:
  case nir::Op::Unwrap: return; // their parts are read with their consumer
  case nir::Op::Let: {
    const Binding &b = *in.binding;
    if (b.id >= cfg_.bindings.size() || !cfg_.bindings[b.id].followed()) return;
    initEvent(b, static_cast<const VarDeclStmt *>(in.stmt)->init.get(), in.span, false);
    return;
  }
  case nir::Op::Store: {
    const TrackedBinding *target = followed(in.expr);
    if (!target || target->binding->heapStruct) {
      // A write through the binding uses it; writing a field of a struct
      // value that borrows reads none of the pointers it holds.
      if (!borrowingField(*in.expr)) expr(*in.expr);
      return fieldStore(*in.expr, in.value, in.span);
    }
    initEvent(*target->binding, in.value, in.span, true);
    return;
  }
  case nir::Op::Update:
    consume(*in.value, "into " + placeText(in.expr));
    expr(*in.expr);
    return;
  case nir::Op::ScopeExit: return emitSite(EventKind::DropPoint, in.span, in.site);
  case nir::Op::ScopeEnd:
    if (passedOut_.second) {
      emit(EventKind::Use, passedOut_.second->span, passedOut_.first, passedOut_.second);
      cfg_.blocks[cur_].events.back().passedOut = true;
      cfg_.blocks[cur_].events.back().afterExit = true;
      passedOut_ = {0, nullptr};
    }
    return emitSite(EventKind::Leave, in.span, in.site);
  case nir::Op::Br: {
    unsigned id = addEdge(cur_, in.target);
    cfg_.edges[id].loop = in.loop;
    cfg_.edges[id].loopBack = in.loopBack;
    return;
  }
  case nir::Op::CondBr:
    if (in.onError) { // `r ? d`: whether r holds an error decides no condition the analysis follows
      addEdge(cur_, in.target);
      addEdge(cur_, in.elseTarget);
      return;
    }
    return branch(*in.expr, cur_, in.target, in.elseTarget);
  case nir::Op::CountBr: // a counted loop may run no round
    addEdge(cur_, in.target);
    addEdge(cur_, in.elseTarget);
    return;
  case nir::Op::Switch: return switchEdges(in);
  case nir::Op::CountInit:
  case nir::Op::CountStep: return; // integers only
  case nir::Op::Drop:
  case nir::Op::Flag:
  case nir::Op::Ret:
  case nir::Op::Exit:
  case nir::Op::FallOff:
  case nir::Op::Unreachable: return;
  }
}

// An `eval`: what its value does depends on the statement that consumes it.
void CfgBuilder::evalFor(const nir::Inst &in) {
  const Expr &e = *in.expr;
  switch (in.use) {
  case nir::Use::Bind: {
    auto *d = static_cast<const VarDeclStmt *>(in.stmt);
    consume(e, "to `" + d->binding.name + "`");
    return plainOwner(d->binding, e, d->span, false);
  }
  case nir::Use::Store: {
    auto *a = static_cast<const AssignStmt *>(in.stmt);
    const Expr *target = a->target.get();
    if (auto *name = as<NameExpr>(target); name && name->binding) plainOwner(*name->binding, e, a->span, true);
    const TrackedBinding *tb = followed(target);
    if (!tb || tb->binding->heapStruct) return consume(e, "into " + placeText(target));
    return consume(e, "to `" + tb->binding->name + "`");
  }
  case nir::Use::Return:
    moveOrEval(&e);
    return passOut(e);
  case nir::Use::Operand:
  case nir::Use::Discard: return expr(e);
  case nir::Use::Part: return; // read with its consumer (inst)
  }
}

// An allocation may only be owned by a `wild`/`wildx` binding: one bound to
// an unqualified pointer is recorded for NPK-O008.
void CfgBuilder::plainOwner(const Binding &b, const Expr &value, Span at, bool assigned) {
  if (b.quals & (QualWild | QualWildx) || b.heapStruct || !b.ty || !b.ty->isPtr() || !allocatingCall(value)) return;
  auto &list = cfg_.plainOwners;
  bool seen = std::any_of(list.begin(), list.end(), [&](const PlainOwner &p) { return p.value == &value; });
  if (!seen) list.push_back(PlainOwner{&value, &b, at, assigned}); // a defer body is read once per exit
}

// A plain pointer into a binding's memory (a borrow, a pointer cast of the
// owner, or a call's plain-pointer result that may be either) that
// `pass`/`return` hands out is used by the caller, after the
// exit's drops and defers (at the `scope.end` that follows).
void CfgBuilder::passOut(const Expr &value) {
  // `Result{ val: v, ... }` hands out `v` (moveOrEval moved an owner there).
  if (auto *lit = as<StructLitExpr>(&value); lit && !lit->decl) {
    for (const FieldInit &f : lit->fields)
      if (f.name == "val" && f.value && !isErrorResultLiteral(*lit)) passOut(*f.value);
    return;
  }
  const TrackedBinding *into = followed(&value);
  if (!into || !into->owner) {
    into = nullptr; // `pass p;` of the owner itself moves it (moveOrEval)
    for (const Binding *src : as<NameExpr>(&value) ? std::vector<const Binding *>{} : pointerSources(&value)) {
      const TrackedBinding *tb = src->id < cfg_.bindings.size() ? &cfg_.bindings[src->id] : nullptr;
      if (tb && tb->binding == src && (tb->checked || isBorrowing(*tb))) {
        into = tb;
        break;
      }
    }
  }
  if (into) passedOut_ = {into->binding->id, &value};
}

void CfgBuilder::initEvent(const Binding &b, const Expr *value, Span span, bool overwrites) {
  emit(EventKind::Init, span, b.id, value);
  Event &ev = cfg_.blocks[cur_].events.back();
  ev.init = classifyInit(value, b, cfg_.bindings);
  ev.overwrites = overwrites;
  if (ev.init == InitKind::Transfer) ev.source = static_cast<const NameExpr *>(value)->binding->id;
  if (ev.init == InitKind::Borrow) ev.sources = borrowSources(b, value);
}

// The owners and borrows among the bindings `value` may point into that
// `b` can borrow from.
std::vector<unsigned> CfgBuilder::borrowSources(const Binding &b, const Expr *value) const {
  const BindingTable &table = cfg_.bindings;
  std::vector<unsigned> out;
  for (const Binding *src : pointerSources(value)) {
    bool tracked = src->id < table.size() && table[src->id].binding == src;
    if (tracked && (borrowSlot(table, b.id, src->id) < table.size() || isBorrowing(table[src->id])))
      out.push_back(src->id);
  }
  return out;
}

// `s.ptr` (a field path of a struct local that borrows): the local, or null.
const TrackedBinding *CfgBuilder::borrowingField(const Expr &place) const {
  const Binding *root = as<NameExpr>(&place) ? nullptr : storedInto(&place);
  if (!root || root->id >= cfg_.bindings.size() || cfg_.bindings[root->id].binding != root) return nullptr;
  return isBorrowing(cfg_.bindings[root->id]) ? &cfg_.bindings[root->id] : nullptr;
}

// `s.ptr = p;` of a struct local: `s` may now also point into what `p` may.
// `T{ f: p }` or `t.f = p;` where dropping a `T` releases its fields: `p`'s
// memory would be released by the destructor, out of the checker's sight.
void CfgBuilder::intoDestructor(const Ty *structTy, const Expr &value) {
  if (!destructorReleasesFields(structTy)) return;
  const BindingTable &table = cfg_.bindings;
  for (const Binding *src : pointerSources(&value)) {
    if (src->id >= table.size() || table[src->id].binding != src) continue;
    auto &list = cfg_.intoDestructors;
    bool seen = std::any_of(list.begin(), list.end(), [&](const IntoDestructor &d) { return d.value == &value; });
    if (!seen) list.push_back(IntoDestructor{&value, structTy->decl, src->id}); // a defer body is read once per exit
    return;
  }
}

void CfgBuilder::fieldStore(const Expr &place, const Expr *value, Span span) {
  if (value) // every struct on the path may own the field (`g.inner.ptr = p;`)
    for (auto *m = as<MemberExpr>(&place); m && m->base && m->base->ty; m = as<MemberExpr>(m->base.get()))
      intoDestructor(m->base->ty->isPtr() ? m->base->ty->pointee : m->base->ty, *value);
  const TrackedBinding *tb = borrowingField(place);
  if (!tb) return;
  const Binding *root = tb->binding;
  std::vector<unsigned> sources = borrowSources(*root, value);
  if (sources.empty()) return;
  emit(EventKind::Init, span, root->id, value);
  Event &ev = cfg_.blocks[cur_].events.back();
  ev.init = InitKind::Borrow;
  ev.partial = true;
  ev.sources = std::move(sources);
}

// `pass p;`, `return p;` and `return Result{ val: p, ... };` move `p` out,
// but not the `val` of an error result (isErrorResultLiteral), which is only
// read. A heap struct is copied out instead: its heap memory stays to be
// released.
void CfgBuilder::moveOrEval(const Expr *value) {
  if (!value) return;
  At at(*this, *value);
  if (auto *is = as<IsExpr>(value)) return choice(*is, [&](const Expr &x) { moveOrEval(&x); });
  const TrackedBinding *tb = followed(value);
  if (tb && tb->owner && !tb->checked) { // a borrow owns nothing to move
    emit(EventKind::Use, value->span, tb->binding->id, value);
    cfg_.blocks[cur_].events.back().passedOut = true;
    return;
  }
  if (tb && !tb->binding->heapStruct) return emit(EventKind::Move, value->span, tb->binding->id, value);
  auto *lit = as<StructLitExpr>(value);
  if (!lit || lit->decl) return consume(*value, "out of the function");
  for (const FieldInit &f : lit->fields) {
    if (!f.value) continue;
    if (f.name == "val" && !isErrorResultLiteral(*lit)) moveOrEval(f.value.get());
    else expr(*f.value);
  }
}

// A value that is bound, stored or passed by value: a struct local with a
// destructor moves (§6.4); anything else is evaluated.
void CfgBuilder::consume(const Expr &value, std::string movedTo) {
  At at(*this, value);
  if (auto *is = as<IsExpr>(&value)) // the chosen branch's value moves on
    return choice(*is, [&](const Expr &x) { consume(x, movedTo); });
  // `r.value` of a `Result<T>` binding hands on the value `r` holds.
  auto *member = as<MemberExpr>(&value);
  bool resultValue = member && member->target == MemberTarget::ResultValue;
  const TrackedBinding *tb = followed(resultValue ? member->base.get() : &value);
  if (tb && tb->moves) {
    emit(EventKind::Move, value.span, tb->binding->id, &value);
    cfg_.blocks[cur_].events.back().movedTo = std::move(movedTo);
    return;
  }
  if (!resultValue && keepsItsValue(value) && movesByValue(value.ty)) {
    auto &list = cfg_.movesOutOfPlace;
    bool seen = std::any_of(list.begin(), list.end(), [&](const MoveOutOfPlace &m) { return m.value == &value; });
    if (!seen) list.push_back(MoveOutOfPlace{&value, std::move(movedTo)}); // a defer body is built once per exit
  }
  expr(value);
}

// ---- expressions -------------------------------------------------------------------

void CfgBuilder::expr(const Expr &e) {
  At at(*this, e);
  switch (e.kind) {
  case ExprKind::Name:
    if (const TrackedBinding *tb = followed(&e)) emit(EventKind::Use, e.span, tb->binding->id, &e);
    return;
  case ExprKind::Call: return call(static_cast<const CallExpr &>(e));
  case ExprKind::StructLit: return structLit(static_cast<const StructLitExpr &>(e));
  case ExprKind::ArrayLit: // each element moves into the array, as into a struct's field
    for (const ExprPtr &el : static_cast<const ArrayLitExpr &>(e).elements)
      if (el) consume(*el, "into the array");
    return;
  case ExprKind::Binary:  // `&&`, `||`: the NIR's blocks, each operand where it is evaluated (At)
  case ExprKind::Default: // the same for `? default`
    break;
  case ExprKind::Is: return choice(static_cast<const IsExpr &>(e), [&](const Expr &x) { expr(x); });
  case ExprKind::Drop: {
    // `drop v;` of a plain value runs its destructor (LANGUAGE-2 A8): the
    // value moves into the `drop`, which a place that keeps it may not give.
    auto &d = static_cast<const DropExpr &>(e);
    if (d.operand && d.operand->ty && !d.operand->ty->isResult()) return consume(*d.operand, "into `drop`");
    break;
  }
  case ExprKind::Unary: addressOf(static_cast<const UnaryExpr &>(e)); break;
  case ExprKind::Index: {
    // The base is read first, and used to index after the index is evaluated.
    auto &ix = static_cast<const IndexExpr &>(e);
    unsigned before = releases_;
    forEachChildExpr(e, [&](const Expr &child) { expr(child); });
    if (releases_ != before && ix.base) useAgain(*ix.base);
    return;
  }
  case ExprKind::IntLit:
  case ExprKind::FloatLit:
  case ExprKind::BoolLit:
  case ExprKind::StringLit:
  case ExprKind::Template:
  case ExprKind::NullLit:
  case ExprKind::Cast:
  case ExprKind::Member:
  case ExprKind::Raw:
  case ExprKind::IncDec:
  case ExprKind::Layout:
  case ExprKind::Counter:
  case ExprKind::Error: break;
  }
  forEachChildExpr(e, [&](const Expr &child) { expr(child); });
}

// A pointer evaluated before a release in a later operand is used once more
// where the call or the indexing happens, after every operand.
void CfgBuilder::useAgain(const Expr &value) {
  const Binding *b = copiedPointer(&value);
  if (!b || b->id >= cfg_.bindings.size() || cfg_.bindings[b->id].binding != b || !cfg_.bindings[b->id].followed())
    return;
  emit(EventKind::Use, value.span, b->id, &value);
}

// `@p` of a followed pointer binding could change or release it out of the
// checker's sight: recorded for NPK-O005.
void CfgBuilder::addressOf(const UnaryExpr &u) {
  if (u.op != UnaryOp::AddrOf) return;
  const TrackedBinding *tb = followed(u.operand.get());
  if (!tb || !tb->checked || !tb->binding->ty || !tb->binding->ty->isPtr()) return;
  auto &list = cfg_.addressesOfOwned;
  bool seen = std::any_of(list.begin(), list.end(), [&](const AddressOfOwned &a) { return a.at == &u; });
  if (!seen) list.push_back(AddressOfOwned{&u, tb->binding->id}); // a defer body is built once per exit
}

// A deallocator call releases its bare first argument after evaluating the
// other arguments; any other call uses every binding it is passed, and a
// struct passed by value (not to a `$$i`/`$$m` borrow) moves into the callee.
void CfgBuilder::call(const CallExpr &c) {
  const TrackedBinding *released = followed(releasedName(c));
  // Releasing through a field of a struct value that borrows (`free(s.ptr)`)
  // releases what the struct may point into.
  if (!released && !c.args.empty() && c.args[0] && isDeallocatorCall(c))
    released = borrowingField(*c.args[0]);
  // Releasing a borrowing pointer releases the memory of the owner it points
  // into: one release per possible owner, each applying where it does.
  const TrackedBinding *through = released && isBorrowing(*released) ? released : nullptr;
  if (through) released = &cfg_.bindings[through->owner->id];
  if (released && !released->checked) released = nullptr;
  unsigned before = releases_;
  if (c.throughValue()) expr(*c.callee); // the function value is read first, then the arguments
  for (size_t i = 0; i < c.args.size(); ++i) {
    if (!c.args[i] || (i == 0 && released)) continue;
    bool byValue = c.func && i < c.func->params.size() &&
                   !(c.func->params[i]->binding.quals & (QualBorrowMut | QualBorrowImm));
    if (byValue) consume(*c.args[i], "into `" + c.calleeFullName() + "`");
    else expr(*c.args[i]);
  }
  // The call receives its arguments after all are evaluated: one released
  // by a later argument reaches it freed.
  if (releases_ != before)
    for (size_t i = 0; i < c.args.size(); ++i)
      if (c.args[i] && !(i == 0 && released)) useAgain(*c.args[i]);
  if (through && released) emit(EventKind::Use, c.args[0]->span, through->binding->id, c.args[0].get());
  if (released && !through) emit(EventKind::Release, c.span, released->binding->id, &c);
  if (through && released)
    for (unsigned slot : through->slots) {
      emit(EventKind::Release, c.span, cfg_.bindings[slot].slotOwner, &c);
      cfg_.blocks[cur_].events.back().viaBorrow = true;
      cfg_.blocks[cur_].events.back().through = through->binding->id;
    }
}

// `S{ f: v }`: each field value is stored into the new struct (moved).
void CfgBuilder::structLit(const StructLitExpr &lit) {
  for (const FieldInit &f : lit.fields) {
    if (!f.value) continue;
    if (lit.decl) intoDestructor(lit.ty, *f.value);
    if (lit.decl) consume(*f.value, "into the `" + lit.decl->name + "` value");
    else expr(*f.value);
  }
}

// `is (c) : a : b`: `a` runs on the true edge of `c`, `b` on the false one
// (the NIR's blocks); `onBranch` reads each (as an operand, or as a value
// that moves on).
void CfgBuilder::choice(const IsExpr &is, const std::function<void(const Expr &)> &onBranch) {
  expr(*is.cond);
  onBranch(*is.ifTrue);
  onBranch(*is.ifFalse);
}

} // namespace

Cfg buildCfg(const nir::Func &f) { return CfgBuilder(f).build(); }

Cfg buildCfg(const FuncDecl &f) {
  nir::Func nf = nir::buildFunc(f);
  return CfgBuilder(nf).build(); // the CFG keeps no pointer into the NIR
}

} // namespace npk::own
