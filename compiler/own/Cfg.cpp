#include "own/Cfg.h"

#include "check/Types.h"

#include <algorithm>

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

// Builds the CFG of one function. The builder mirrors the lowering's scope
// stack (one frame per BlockStmt; `for` initialisers live in the enclosing
// block) so that the drop plan computed from the CFG fits the code emitted.
class CfgBuilder {
public:
  explicit CfgBuilder(const FuncDecl &f) {
    cfg_.func = &f;
    cfg_.bindings = collectBindings(f);
  }
  Cfg build();

private:
  struct Frame {
    std::vector<unsigned> bindings; // declaration order
    std::vector<const DeferStmt *> defers;
  };
  struct Loop {
    unsigned breakTo, continueTo;
    size_t frameDepth; // frames outside the loop body
    const Stmt *stmt;
    bool continueIsBack; // `while`: continue jumps straight back to the condition
  };

  // ---- graph
  unsigned newBlock(Decision context);
  unsigned addEdge(unsigned from, unsigned to);
  void branch(const Expr &cond, unsigned from, unsigned ifTrue, unsigned ifFalse);
  void collectNull(const Expr &cond, bool value, std::vector<unsigned> &out) const;
  void emit(EventKind kind, Span span, unsigned binding, const Expr *expr);
  void emitSite(EventKind kind, Span span, unsigned site);
  const TrackedBinding *followed(const Expr *e) const { return followedName(e, cfg_.bindings); }
  // Code after a jump or an exit: a block no edge reaches.
  void startDeadCode() { cur_ = newBlock(context_); }

  // ---- statements
  void stmt(const Stmt &s);
  void block(const BlockStmt &b);
  void detached(const Stmt &s);
  void varDecl(const VarDeclStmt &d);
  void assign(const AssignStmt &a);
  void initEvent(const Binding &b, const Expr *value, Span span, bool overwrites);
  void ifStmt(const IfStmt &s);
  void whileStmt(const WhileStmt &s);
  void forStmt(const ForStmt &s);
  void jump(const Stmt &s);
  void leaveFunction(const Stmt &s, SiteKind kind, const Expr *value);
  void moveOrEval(const Expr *value);
  void consume(const Expr &value, std::string movedTo);
  void addressOf(const UnaryExpr &u);
  void plainOwner(const Binding &b, const Expr &value, Span at, bool assigned);

  // ---- scopes
  void leaveScopes(SiteKind kind, const Stmt *exitStmt, const BlockStmt *ended, Span span, size_t downTo,
                   bool runsDropsAndDefers);
  void runDefers(size_t downTo);

  // ---- expressions
  void expr(const Expr &e);
  void call(const CallExpr &c);
  void structLit(const StructLitExpr &lit);
  void shortCircuit(const BinaryExpr &b);
  void withDefault(const DefaultExpr &d);
  void useAgain(const Expr &value);

  Cfg cfg_;
  unsigned cur_ = 0;
  Span runningDefersAt_; // the exit whose defer bodies are being built
  Decision context_;
  std::vector<Frame> frames_;
  std::vector<Loop> loops_;
  std::pair<unsigned, const Expr *> passedOut_{0, nullptr}; // for the exit being built
  unsigned releases_ = 0; // Release events emitted so far
};

Cfg CfgBuilder::build() {
  const FuncDecl &f = *cfg_.func;
  cur_ = newBlock(context_);
  frames_.push_back(Frame{}); // the parameters
  for (auto &p : f.params)
    if (p->binding.id < cfg_.bindings.size() && cfg_.bindings[p->binding.id].followed())
      frames_.back().bindings.push_back(p->binding.id);
  // A `wild`/`wildx` parameter holds the caller's allocation: borrowed,
  // except the one a deallocator releases, which it owns.
  const Binding *owned = ownedParam(f);
  for (auto &p : f.params) {
    unsigned id = p->binding.id;
    if (id >= cfg_.bindings.size() || !cfg_.bindings[id].checked) continue;
    emit(EventKind::Init, p->binding.span, id, nullptr);
    cfg_.blocks[cur_].events.back().init = &p->binding == owned ? InitKind::Owned : InitKind::Lent;
  }
  // A struct passed by value arrives owned: the callee drops it (§6.4).
  for (auto &p : f.params)
    if (p->binding.id < cfg_.bindings.size() && cfg_.bindings[p->binding.id].moves)
      initEvent(p->binding, nullptr, p->binding.span, false);
  if (f.body) {
    block(*f.body);
    Span end = f.body->closeSpan.valid() ? f.body->closeSpan : f.body->span;
    leaveScopes(SiteKind::FunctionEnd, nullptr, nullptr, end, 0, false);
  }
  return std::move(cfg_);
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
  cfg_.blocks[cur_].events.push_back(ev);
  if (kind == EventKind::Release) ++releases_;
}

void CfgBuilder::emitSite(EventKind kind, Span span, unsigned site) {
  Event ev;
  ev.kind = kind;
  ev.span = span;
  ev.site = site;
  ev.runsAt = runningDefersAt_.valid() ? runningDefersAt_ : span;
  cfg_.blocks[cur_].events.push_back(ev);
}

// ---- statements ------------------------------------------------------------------

void CfgBuilder::stmt(const Stmt &s) {
  switch (s.kind) {
  case StmtKind::Block: return block(static_cast<const BlockStmt &>(s));
  case StmtKind::VarDecl: return varDecl(static_cast<const VarDeclStmt &>(s));
  case StmtKind::Assign: return assign(static_cast<const AssignStmt &>(s));
  case StmtKind::If: return ifStmt(static_cast<const IfStmt &>(s));
  case StmtKind::While: return whileStmt(static_cast<const WhileStmt &>(s));
  case StmtKind::For: return forStmt(static_cast<const ForStmt &>(s));
  case StmtKind::Break:
  case StmtKind::Continue: return jump(s);
  case StmtKind::Pass: return leaveFunction(s, SiteKind::Pass, static_cast<const PassStmt &>(s).value.get());
  case StmtKind::Fail: return leaveFunction(s, SiteKind::Fail, static_cast<const FailStmt &>(s).code.get());
  case StmtKind::Return: return leaveFunction(s, SiteKind::Return, static_cast<const ReturnStmt &>(s).value.get());
  case StmtKind::Exit: return leaveFunction(s, SiteKind::Exit, static_cast<const ExitStmt &>(s).status.get());
  case StmtKind::Defer:
    frames_.back().defers.push_back(static_cast<const DeferStmt *>(&s));
    return;
  case StmtKind::Expr:
  case StmtKind::Error: forEachOwnExpr(s, [&](const Expr &e) { expr(e); }); return;
  }
}

void CfgBuilder::block(const BlockStmt &b) {
  frames_.push_back(Frame{});
  for (auto &s : b.stmts)
    if (s) stmt(*s);
  Span end = b.closeSpan.valid() ? b.closeSpan : b.span;
  leaveScopes(SiteKind::BlockEnd, nullptr, &b, end, frames_.size() - 1, true);
  frames_.pop_back();
}

// A statement outside any block (a `defer` body, a `for` step): a binding it
// declares ends with it and gets no automatic drop.
void CfgBuilder::detached(const Stmt &s) {
  frames_.push_back(Frame{});
  stmt(s);
  if (!frames_.back().bindings.empty())
    leaveScopes(SiteKind::Detached, &s, nullptr, s.span, frames_.size() - 1, false);
  frames_.pop_back();
}

void CfgBuilder::varDecl(const VarDeclStmt &d) {
  if (d.init) consume(*d.init, "to `" + d.binding.name + "`");
  if (d.init) plainOwner(d.binding, *d.init, d.span, false);
  unsigned id = d.binding.id;
  if (id >= cfg_.bindings.size() || !cfg_.bindings[id].followed()) return;
  initEvent(d.binding, d.init.get(), d.span, false);
  frames_.back().bindings.push_back(id);
}

void CfgBuilder::assign(const AssignStmt &a) {
  auto *name = as<NameExpr>(a.target.get());
  if (name && name->binding && !a.compound && a.value) plainOwner(*name->binding, *a.value, a.span, true);
  const TrackedBinding *target = followed(a.target.get());
  if (!target || a.compound || target->binding->heapStruct) {
    // A write through the binding (`p[i] = v`, a heap struct) uses it.
    if (a.value) consume(*a.value, "into " + placeText(a.target.get()));
    if (a.target) expr(*a.target);
    return;
  }
  if (a.value) consume(*a.value, "to `" + target->binding->name + "`");
  initEvent(*target->binding, a.value.get(), a.span, true);
}

// An allocation may only be owned by a `wild`/`wildx` binding: one bound to
// an unqualified pointer is recorded for NPK-O008.
void CfgBuilder::plainOwner(const Binding &b, const Expr &value, Span at, bool assigned) {
  if (b.quals & (QualWild | QualWildx) || b.heapStruct || !b.ty || !b.ty->isPtr() || !allocatingCall(value)) return;
  auto &list = cfg_.plainOwners;
  bool seen = std::any_of(list.begin(), list.end(), [&](const PlainOwner &p) { return p.value == &value; });
  if (!seen) list.push_back(PlainOwner{&value, &b, at, assigned}); // a defer body is built once per exit
}

void CfgBuilder::initEvent(const Binding &b, const Expr *value, Span span, bool overwrites) {
  emit(EventKind::Init, span, b.id, value);
  Event &ev = cfg_.blocks[cur_].events.back();
  ev.init = classifyInit(value, b, cfg_.bindings);
  ev.overwrites = overwrites;
  if (ev.init == InitKind::Transfer) ev.source = static_cast<const NameExpr *>(value)->binding->id;
  if (ev.init == InitKind::Borrow) ev.source = copiedPointer(value)->id;
}

void CfgBuilder::ifStmt(const IfStmt &s) {
  if (!s.cond || !s.thenBlock) return;
  expr(*s.cond);
  Decision outer = context_;
  unsigned from = cur_;
  unsigned join = newBlock(outer);
  unsigned thenB = newBlock(Decision{s.cond.get(), true});
  unsigned elseB = s.elseStmt ? newBlock(Decision{s.cond.get(), false}) : join;
  branch(*s.cond, from, thenB, elseB);
  context_ = Decision{s.cond.get(), true};
  cur_ = thenB;
  block(*s.thenBlock);
  addEdge(cur_, join);
  if (s.elseStmt) {
    context_ = Decision{s.cond.get(), false};
    cur_ = elseB;
    stmt(*s.elseStmt);
    addEdge(cur_, join);
  }
  context_ = outer;
  cur_ = join;
}

void CfgBuilder::whileStmt(const WhileStmt &s) {
  if (!s.cond || !s.body) return;
  Decision outer = context_;
  unsigned head = newBlock(outer);
  cfg_.edges[addEdge(cur_, head)].loop = &s;
  cur_ = head;
  expr(*s.cond);
  unsigned body = newBlock(Decision{s.cond.get(), true});
  unsigned exit = newBlock(outer);
  branch(*s.cond, cur_, body, exit);
  loops_.push_back(Loop{exit, head, frames_.size(), &s, true});
  context_ = Decision{s.cond.get(), true};
  cur_ = body;
  block(*s.body);
  unsigned back = addEdge(cur_, head);
  cfg_.edges[back].loop = &s;
  cfg_.edges[back].loopBack = true;
  loops_.pop_back();
  context_ = outer;
  cur_ = exit;
}

void CfgBuilder::forStmt(const ForStmt &s) {
  if (!s.body) return;
  if (s.init) stmt(*s.init); // lives in the enclosing block, as in the lowering
  Decision outer = context_;
  Decision inBody = s.cond ? Decision{s.cond.get(), true} : outer;
  unsigned head = newBlock(outer);
  cfg_.edges[addEdge(cur_, head)].loop = &s;
  cur_ = head;
  if (s.cond) expr(*s.cond);
  unsigned body = newBlock(inBody);
  unsigned exit = newBlock(outer);
  unsigned step = newBlock(inBody);
  if (s.cond) branch(*s.cond, cur_, body, exit);
  else addEdge(cur_, body);
  loops_.push_back(Loop{exit, step, frames_.size(), &s, false});
  context_ = inBody;
  cur_ = body;
  block(*s.body);
  addEdge(cur_, step);
  loops_.pop_back();
  cur_ = step;
  if (s.step) detached(*s.step);
  unsigned back = addEdge(cur_, head);
  cfg_.edges[back].loop = &s;
  cfg_.edges[back].loopBack = true;
  context_ = outer;
  cur_ = exit;
}

// `break` / `continue`: the drops and defers of the loop body's scopes, then
// the jump.
void CfgBuilder::jump(const Stmt &s) {
  if (loops_.empty()) return;
  Loop loop = loops_.back();
  bool isBreak = s.kind == StmtKind::Break;
  leaveScopes(isBreak ? SiteKind::Break : SiteKind::Continue, &s, nullptr, s.span, loop.frameDepth, true);
  unsigned id = addEdge(cur_, isBreak ? loop.breakTo : loop.continueTo);
  if (!isBreak && loop.continueIsBack) {
    cfg_.edges[id].loop = loop.stmt;
    cfg_.edges[id].loopBack = true;
  }
  startDeadCode();
}

// `pass`/`fail`/`return` leave every scope (drops, then defers); `exit` ends
// the process at once (neither).
void CfgBuilder::leaveFunction(const Stmt &s, SiteKind kind, const Expr *value) {
  if (kind == SiteKind::Pass || kind == SiteKind::Return) moveOrEval(value);
  else if (value) expr(*value);
  // A plain pointer into a binding's memory (a borrow, or a pointer cast of
  // the owner) is used by the caller, after this exit's drops and defers.
  if ((kind == SiteKind::Pass || kind == SiteKind::Return) && value) {
    const TrackedBinding *into = followed(value);
    if (!into || !into->owner) {
      const Binding *copied = copiedPointer(value);
      const TrackedBinding *owner = copied && !as<NameExpr>(value) && copied->id < cfg_.bindings.size()
                                        ? &cfg_.bindings[copied->id] : nullptr;
      into = owner && owner->binding == copied && owner->checked ? owner : nullptr;
    }
    if (into) passedOut_ = {into->binding->id, value};
  }
  leaveScopes(kind, &s, nullptr, s.span, 0, kind != SiteKind::Exit);
  startDeadCode();
}

// `pass p;`, `return p;` and `return Result{ val: p, ... };` move `p` out,
// but not the `val` of an error result (isErrorResultLiteral), which is only
// read. A heap struct is copied out instead: its heap memory stays to be
// released.
void CfgBuilder::moveOrEval(const Expr *value) {
  if (!value) return;
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

// ---- scopes ------------------------------------------------------------------------

// Leaves frames [downTo, top): one ExitSite whose DropPoint, defer bodies and
// Leave (leak check) follow on the current path.
void CfgBuilder::leaveScopes(SiteKind kind, const Stmt *exitStmt, const BlockStmt *ended, Span span, size_t downTo,
                             bool runsDropsAndDefers) {
  ExitSite site;
  site.kind = kind;
  site.stmt = exitStmt;
  site.block = ended;
  site.span = span;
  for (size_t i = frames_.size(); i-- > downTo;)
    site.bindings.insert(site.bindings.end(), frames_[i].bindings.rbegin(), frames_[i].bindings.rend());
  // `exit` runs no defer, yet a registered `defer free(p);` discharges `p`
  // there as at every other exit (LANGUAGE.md §6.2).
  if (runsDropsAndDefers || kind == SiteKind::Exit) {
    for (size_t i = frames_.size(); i-- > downTo;)
      for (const DeferStmt *d : frames_[i].defers)
        if (d->body)
          forEachRelease(*d->body, [&](const CallExpr &call) {
            if (const TrackedBinding *tb = followed(releasedName(call))) site.deferReleased.push_back(tb->binding->id);
          });
  }
  unsigned index = static_cast<unsigned>(cfg_.sites.size());
  cfg_.sites.push_back(std::move(site));
  if (runsDropsAndDefers) {
    emitSite(EventKind::DropPoint, span, index);
    Span outer = runningDefersAt_;
    if (!outer.valid()) runningDefersAt_ = span;
    runDefers(downTo);
    runningDefersAt_ = outer;
  }
  if (passedOut_.second) {
    emit(EventKind::Use, passedOut_.second->span, passedOut_.first, passedOut_.second);
    cfg_.blocks[cur_].events.back().passedOut = true;
    cfg_.blocks[cur_].events.back().afterExit = true;
    passedOut_ = {0, nullptr};
  }
  emitSite(EventKind::Leave, span, index);
}

// Defer bodies of frames [downTo, top), innermost frame first, LIFO within a
// frame. A defer body cannot jump out of itself, so loops outside it are
// hidden while it is built.
void CfgBuilder::runDefers(size_t downTo) {
  std::vector<Loop> outerLoops = std::move(loops_);
  loops_.clear();
  for (size_t i = frames_.size(); i-- > downTo;) {
    std::vector<const DeferStmt *> defers = frames_[i].defers; // building may grow frames_
    for (auto d = defers.rbegin(); d != defers.rend(); ++d)
      if ((*d)->body) detached(*(*d)->body);
  }
  loops_ = std::move(outerLoops);
}

// ---- expressions -------------------------------------------------------------------

void CfgBuilder::expr(const Expr &e) {
  switch (e.kind) {
  case ExprKind::Name:
    if (const TrackedBinding *tb = followed(&e)) emit(EventKind::Use, e.span, tb->binding->id, &e);
    return;
  case ExprKind::Call: return call(static_cast<const CallExpr &>(e));
  case ExprKind::StructLit: return structLit(static_cast<const StructLitExpr &>(e));
  case ExprKind::Binary: {
    auto &b = static_cast<const BinaryExpr &>(e);
    if ((b.op == BinaryOp::And || b.op == BinaryOp::Or) && b.lhs && b.rhs) return shortCircuit(b);
    break;
  }
  case ExprKind::Default: {
    auto &d = static_cast<const DefaultExpr &>(e);
    if (d.operand && d.fallback) return withDefault(d);
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
  default: break;
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
  // Releasing a borrowing pointer releases the memory of the owner it points
  // into: one release per possible owner, each applying where it does.
  const TrackedBinding *through = released && isBorrowing(*released) ? released : nullptr;
  if (through) released = &cfg_.bindings[through->owner->id];
  if (released && !released->checked) released = nullptr;
  unsigned before = releases_;
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
    if (lit.decl) consume(*f.value, "into the `" + lit.decl->name + "` value");
    else expr(*f.value);
  }
}

// `a && b`, `a || b`: `b` runs on one edge of `a` only.
void CfgBuilder::shortCircuit(const BinaryExpr &b) {
  expr(*b.lhs);
  bool isAnd = b.op == BinaryOp::And;
  Decision outer = context_;
  unsigned from = cur_;
  unsigned rhs = newBlock(Decision{b.lhs.get(), isAnd});
  unsigned join = newBlock(outer);
  branch(*b.lhs, from, isAnd ? rhs : join, isAnd ? join : rhs);
  context_ = Decision{b.lhs.get(), isAnd};
  cur_ = rhs;
  expr(*b.rhs);
  addEdge(cur_, join);
  context_ = outer;
  cur_ = join;
}

// `call ? fallback`: the fallback runs only when the call fails.
void CfgBuilder::withDefault(const DefaultExpr &d) {
  expr(*d.operand);
  unsigned from = cur_;
  unsigned fallback = newBlock(context_);
  unsigned join = newBlock(context_);
  addEdge(from, fallback);
  addEdge(from, join);
  cur_ = fallback;
  expr(*d.fallback);
  addEdge(cur_, join);
  cur_ = join;
}

} // namespace

Cfg buildCfg(const FuncDecl &f) { return CfgBuilder(f).build(); }

} // namespace npk::own
