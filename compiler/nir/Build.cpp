// Builds the NIR of one function from its checked AST. This is the one place
// that knows how statements become control flow: which scopes a jump or an
// exit leaves, in which order the drops and the defer bodies run there, and
// where dead code starts. Depth: the builder recurses along the tree only, so
// its depth is bounded by kMaxTreeDepth like every other phase.
#include "nir/NIR.h"

#include "ast/Walk.h"
#include "check/Types.h"

#include <unordered_set>

namespace npk::nir {

namespace {

// Where a block ends: its closing brace (the block itself when the parser
// recovered without one).
Span endOf(const BlockStmt &b) { return b.closeSpan.valid() ? b.closeSpan : b.span; }

// The calls anywhere inside a defer body (the ownership phase counts its
// deallocator calls as releases at every exit that registers the body).
void collectCalls(const Stmt &s, std::vector<const CallExpr *> &out) {
  forEachExprIn(s, [&](const Expr &e) {
    if (auto *call = as<CallExpr>(&e)) out.push_back(call);
  });
}

class Builder {
public:
  explicit Builder(const FuncDecl &f) { fn_.decl = &f; }
  Func build();

private:
  struct Frame {
    std::vector<const Binding *> bindings; // declaration order
    std::vector<const DeferStmt *> defers;
  };
  struct Loop {
    unsigned breakTo, continueTo;
    size_t frameDepth; // frames outside the loop body
    const Stmt *stmt;
    bool continueIsBack; // `while`: continue jumps straight back to the condition
  };
  struct Pick {
    const PickStmt *stmt;
    std::vector<unsigned> arms; // each arm's body block
    size_t frameDepth;          // frames outside the arms' bodies
  };

  // ---- blocks and instructions
  unsigned newBlock(const char *name, Decision context);
  Inst &add(Op op, Span span);
  void terminate(Inst inst);
  // Ends the block with a branch on `c`, the value of `cond`.
  void condBranch(const Expr &cond, Temp c, unsigned ifTrue, unsigned ifFalse);
  void branch(unsigned target, Span at, const Stmt *loop = nullptr, bool back = false);
  // Code after a jump or an exit goes to a block no edge reaches.
  void ensureOpen();
  Temp eval(const Expr &e, const Ty *as, const Stmt *from, Use use);
  // The same with `e`'s parts already evaluated (`subs`).
  Temp evalWith(const Expr &e, const Ty *as, const Stmt *from, Use use, const std::vector<Sub> &subs);

  // ---- expressions
  using Subs = std::vector<Sub>;
  // How the lowering evaluates an operand of its parent: as a value, in
  // pieces (a place: its address from its own operands; a template: each of
  // its values), or not at all.
  enum class Role : uint8_t { Value, Pieces, Unevaluated };
  template <class F> static void forEachOperand(const Expr &e, F &&f);
  static bool branches(const Expr &e);
  static bool constantRead(const Expr &e);
  void settle(const Expr &e, Role role, Subs &subs);
  Temp part(const Expr &e, const Ty *as);
  Temp branchValue(const Expr &e);
  void attach(Inst &in, const Subs &subs);
  Inst &phi(const Expr &e, const Ty *ty, unsigned fromA, Temp a, unsigned fromB, Temp b, const Subs &operands);

  // ---- statements
  void stmt(const Stmt &s);
  void block(const BlockStmt &b);
  void detached(const Stmt &s);
  void varDecl(const VarDeclStmt &d);
  void assign(const AssignStmt &a);
  void ifStmt(const IfStmt &s);
  void whileStmt(const WhileStmt &s);
  void forStmt(const ForStmt &s);
  void whenStmt(const WhileStmt &s);
  // The body of loop `s` in block `bodyBlock`: `break` goes to `breakTo`,
  // `continue` and the end of a round to `continueTo` (a back edge when
  // `continueIsBack`).
  void loopRounds(const Stmt &s, const BlockStmt &body, unsigned bodyBlock, Decision inBody, unsigned breakTo,
                  unsigned continueTo, bool continueIsBack);
  void loopStmt(const LoopStmt &s);
  void pickStmt(const PickStmt &s);
  void fall(const FallStmt &s);
  void jump(const Stmt &s);
  void leave(const Stmt &s, ExitKind kind, Temp value, const Ty *ty);

  // ---- scopes
  void leaveScopes(ExitKind kind, const Stmt *exitStmt, const BlockStmt *ended, Span span, size_t downTo,
                   bool runsDropsAndDefers);
  void runDefers(size_t downTo);

  Func fn_;
  unsigned cur_ = 0;
  bool terminated_ = false;
  Span deferExit_; // while defer bodies are expanded: the exit that runs them
  Decision context_;
  std::vector<Frame> frames_;
  std::vector<Loop> loops_;
  std::vector<Pick> picks_;
};

Func Builder::build() {
  const FuncDecl &f = *fn_.decl;
  cur_ = newBlock("body", context_);
  frames_.push_back(Frame{}); // the parameters
  for (auto &p : f.params) {
    Inst &in = add(Op::Param, p->binding.span);
    in.binding = &p->binding;
    in.ty = p->binding.ty;
    frames_.back().bindings.push_back(&p->binding);
  }
  if (f.body) {
    block(*f.body);
    if (!terminated_) {
      Span end = endOf(*f.body);
      leaveScopes(ExitKind::FunctionEnd, nullptr, nullptr, end, 0, false);
      Inst t;
      t.op = Op::FallOff;
      t.span = end;
      terminate(t);
    }
  }
  if (!terminated_) { // no body
    Inst t;
    t.op = Op::Unreachable;
    t.span = f.span;
    terminate(t);
  }
  return std::move(fn_);
}

// ---- blocks and instructions -----------------------------------------------------

unsigned Builder::newBlock(const char *name, Decision context) {
  fn_.blocks.emplace_back();
  fn_.blocks.back().name = name;
  fn_.blocks.back().context = context;
  return static_cast<unsigned>(fn_.blocks.size() - 1);
}

Inst &Builder::add(Op op, Span span) {
  ensureOpen();
  Block &b = fn_.blocks[cur_];
  b.insts.emplace_back();
  b.insts.back().op = op;
  b.insts.back().span = span;
  b.insts.back().runsAt = deferExit_;
  return b.insts.back();
}

void Builder::terminate(Inst inst) {
  ensureOpen();
  fn_.blocks[cur_].insts.push_back(std::move(inst));
  terminated_ = true;
}

// `at`: the source the jump belongs to (a closing brace, the loop statement,
// `break`), so that every instruction has a location.
void Builder::branch(unsigned target, Span at, const Stmt *loop, bool back) {
  Inst t;
  t.op = Op::Br;
  t.span = at;
  t.target = target;
  t.loop = loop;
  t.loopBack = back;
  terminate(t);
}

void Builder::ensureOpen() {
  if (!terminated_) return;
  cur_ = newBlock("dead", context_);
  fn_.blocks[cur_].dead = true;
  terminated_ = false;
}

Temp Builder::eval(const Expr &e, const Ty *as, const Stmt *from, Use use) {
  Subs subs;
  if (branches(e)) subs.push_back(Sub{&e, branchValue(e)});
  else forEachOperand(e, [&](const Expr &operand, Role role) { settle(operand, role, subs); });
  return evalWith(e, as, from, use, subs);
}

Temp Builder::evalWith(const Expr &e, const Ty *as, const Stmt *from, Use use, const Subs &subs) {
  Inst &in = add(Op::Eval, e.span);
  in.use = use;
  in.expr = &e;
  in.ty = as ? as : e.ty;
  in.stmt = from;
  in.result = fn_.temps++;
  attach(in, subs);
  return in.result;
}

// ---- expressions --------------------------------------------------------------------
// An expression is flattened: its operands are evaluated first, each by its
// own `eval ... part` (or, when it branches, by blocks and a phi), in
// evaluation order, and the expression's own `eval` reads their temporaries
// (its subs).

// The operands of `e` in evaluation order (left to right; a function value
// before the arguments), each with the way the lowering uses it: a value
// (a temporary), a place whose address it computes from the place's own
// operands (`@x`, an array indexed in place, a field of storage, a borrowed
// argument), a template whose values print one by one, or nothing (`.length`
// of an array).
template <class F> void Builder::forEachOperand(const Expr &e, F &&f) {
  auto visit = [&](const ExprPtr &child, Role role) {
    if (child) f(*child, role);
  };
  switch (e.kind) {
  case ExprKind::Unary: {
    auto &u = static_cast<const UnaryExpr &>(e);
    if (u.op != UnaryOp::AddrOf) return visit(u.operand, Role::Value);
    return visit(u.operand, u.funcValue || u.externValue ? Role::Unevaluated : Role::Pieces);
  }
  case ExprKind::Index: {
    auto &i = static_cast<const IndexExpr &>(e);
    bool place = i.base && i.base->ty && i.base->ty->isArray() && isLvalue(*i.base);
    visit(i.base, place ? Role::Pieces : Role::Value);
    return visit(i.index, Role::Value);
  }
  case ExprKind::Member: {
    auto &m = static_cast<const MemberExpr &>(e);
    if (m.target == MemberTarget::ArrayLength) return visit(m.base, Role::Unevaluated);
    bool place = m.target == MemberTarget::Field && !m.throughPointer && isLvalue(e);
    return visit(m.base, place ? Role::Pieces : Role::Value);
  }
  case ExprKind::Call: {
    auto &c = static_cast<const CallExpr &>(e);
    if (c.throughValue()) visit(c.callee, Role::Value);
    for (size_t i = 0; i < c.args.size(); ++i) {
      Role role = Role::Value;
      if (c.builtin != Builtin::None) {
        if (as<TemplateExpr>(c.args[i].get())) role = Role::Pieces; // print: each value in turn
      } else if (c.throughValue()) {
        if (c.calleeTy && i < c.calleeTy->paramQuals.size() && c.calleeTy->paramQuals[i] & (QualBorrowMut | QualBorrowImm))
          role = Role::Pieces;
      } else if (c.ext) {
        if (i < c.ext->paramTys.size() && c.args[i] && c.args[i]->ty && c.args[i]->ty->isArray()) role = Role::Pieces;
      } else if (c.func && i < c.func->params.size() &&
                 c.func->params[i]->binding.quals & (QualBorrowMut | QualBorrowImm)) {
        role = Role::Pieces;
      }
      visit(c.args[i], role);
    }
    return;
  }
  case ExprKind::Binary:
  case ExprKind::Cast:
  case ExprKind::Raw:
  case ExprKind::Drop:
  case ExprKind::IncDec:
  case ExprKind::Is:
  case ExprKind::Default:
  case ExprKind::StructLit:
  case ExprKind::Template:
  case ExprKind::ArrayLit: return forEachChildExpr(e, [&](const Expr &child) { f(child, Role::Value); });
  case ExprKind::IntLit:
  case ExprKind::FloatLit:
  case ExprKind::BoolLit:
  case ExprKind::StringLit:
  case ExprKind::NullLit:
  case ExprKind::Name:
  case ExprKind::Layout:
  case ExprKind::Counter:
  case ExprKind::Error: return;
  }
}

// `&&`, `||`, `is` and `? default`: a part of the expression runs on one
// path only.
bool Builder::branches(const Expr &e) {
  if (auto *b = as<BinaryExpr>(&e)) return (b->op == BinaryOp::And || b->op == BinaryOp::Or) && b->lhs && b->rhs;
  if (auto *d = as<DefaultExpr>(&e)) return d->operand && d->fallback;
  if (auto *i = as<IsExpr>(&e)) return i->cond && i->ifTrue && i->ifFalse;
  return false;
}

// Evaluates `e` now, for an instruction that follows: a value into a
// temporary (a literal needs none); a place or a template piece by piece.
void Builder::settle(const Expr &e, Role role, Subs &subs) {
  switch (role) {
  case Role::Unevaluated: return;
  case Role::Pieces: return forEachOperand(e, [&](const Expr &child, Role r) { settle(child, r, subs); });
  case Role::Value:
    if (!constantRead(e)) subs.push_back(Sub{&e, part(e, e.ty)});
    return;
  }
}

// A literal reads the same at any time: it needs no temporary.
bool Builder::constantRead(const Expr &e) {
  if (as<IntLitExpr>(&e) || as<FloatLitExpr>(&e) || as<BoolLitExpr>(&e) || as<StringLitExpr>(&e) ||
      as<NullLitExpr>(&e) || as<LayoutExpr>(&e))
    return true;
  auto *u = as<UnaryExpr>(&e);
  return u && u->op == UnaryOp::Neg && as<IntLitExpr>(u->operand.get());
}

// `%t = eval e` of a part of a later instruction's expression.
Temp Builder::part(const Expr &e, const Ty *as) {
  if (branches(e) && as == e.ty) return branchValue(e);
  return eval(e, as, nullptr, Use::Part);
}

void Builder::attach(Inst &in, const Subs &subs) {
  in.subsBegin = static_cast<uint32_t>(fn_.subs.size());
  in.subsCount = static_cast<uint32_t>(subs.size());
  fn_.subs.insert(fn_.subs.end(), subs.begin(), subs.end());
}

Inst &Builder::phi(const Expr &e, const Ty *ty, unsigned fromA, Temp a, unsigned fromB, Temp b, const Subs &operands) {
  Inst &in = add(Op::Phi, e.span);
  in.expr = &e;
  in.ty = ty;
  in.result = fn_.temps++;
  in.target = fromA;
  in.operand = a;
  in.elseTarget = fromB;
  in.other = b;
  attach(in, operands);
  return in;
}

// The blocks of a part that branches, and the temporary its value meets in.
// Each join block is made after the blocks that reach it, so the lowering,
// which goes through the blocks in order, has lowered them when it meets the
// phi.
Temp Builder::branchValue(const Expr &e) {
  Decision outer = context_;
  auto jumpLater = [&](Span at) { // the open block ends in a branch to the join, set once it exists
    branch(0, at);
    return std::pair<unsigned, size_t>{cur_, fn_.blocks[cur_].insts.size() - 1};
  };
  auto open = [&](unsigned b, Decision context) {
    cur_ = b;
    terminated_ = false;
    context_ = context;
  };
  if (auto *b = as<BinaryExpr>(&e)) { // `a && b`: the value is a's when b is not evaluated
    bool isAnd = b->op == BinaryOp::And;
    Temp l = part(*b->lhs, b->lhs->ty);
    unsigned from = cur_;
    unsigned rhs = newBlock(isAnd ? "and.rhs" : "or.rhs", Decision{b->lhs.get(), isAnd});
    condBranch(*b->lhs, l, rhs, rhs); // the other edge goes to the join, once it exists
    open(rhs, Decision{b->lhs.get(), isAnd});
    Temp r = part(*b->rhs, b->rhs->ty);
    auto [rhsEnd, br] = jumpLater(b->span);
    unsigned join = newBlock(isAnd ? "and.end" : "or.end", outer);
    fn_.blocks[rhsEnd].insts[br].target = join;
    Inst &cb = fn_.blocks[from].insts.back();
    (isAnd ? cb.elseTarget : cb.target) = join;
    open(join, outer);
    return phi(e, e.ty, from, l, rhsEnd, r, {Sub{b->lhs.get(), l}, Sub{b->rhs.get(), r}}).result;
  }
  if (auto *is = as<IsExpr>(&e)) { // `is (c) : a : b`: only the chosen value is evaluated
    Temp c = part(*is->cond, is->cond->ty);
    unsigned ifTrue = newBlock("is.true", Decision{is->cond.get(), true});
    unsigned ifFalse = newBlock("is.false", Decision{is->cond.get(), false});
    condBranch(*is->cond, c, ifTrue, ifFalse);
    open(ifTrue, Decision{is->cond.get(), true});
    Temp a = part(*is->ifTrue, e.ty);
    auto [trueEnd, trueBr] = jumpLater(is->ifTrue->span);
    open(ifFalse, Decision{is->cond.get(), false});
    Temp f = part(*is->ifFalse, e.ty);
    auto [falseEnd, falseBr] = jumpLater(is->ifFalse->span);
    unsigned join = newBlock("is.end", outer);
    fn_.blocks[trueEnd].insts[trueBr].target = join;
    fn_.blocks[falseEnd].insts[falseBr].target = join;
    open(join, outer);
    return phi(e, e.ty, trueEnd, a, falseEnd, f,
               {Sub{is->cond.get(), c}, Sub{is->ifTrue.get(), a}, Sub{is->ifFalse.get(), f}})
        .result;
  }
  // `r ? d`: r's value, or d when r holds an error.
  auto &d = static_cast<const DefaultExpr &>(e);
  const Ty *valueTy = d.operand->ty->resultValue();
  Temp r = part(*d.operand, d.operand->ty);
  Inst &unwrap = add(Op::Unwrap, d.operand->span);
  unwrap.operand = r;
  unwrap.ty = valueTy;
  unwrap.result = fn_.temps++;
  Temp value = unwrap.result;
  unsigned from = cur_;
  unsigned fallback = newBlock("default", outer);
  Inst cb;
  cb.op = Op::CondBr;
  cb.span = d.operand->span;
  cb.expr = d.operand.get();
  cb.operand = r;
  cb.onError = true;
  cb.target = fallback;
  terminate(cb);
  open(fallback, outer);
  Temp alt = part(*d.fallback, valueTy);
  auto [altEnd, altBr] = jumpLater(d.fallback->span);
  unsigned join = newBlock("default.end", outer);
  fn_.blocks[altEnd].insts[altBr].target = join;
  fn_.blocks[from].insts.back().elseTarget = join;
  open(join, outer);
  return phi(e, valueTy, from, value, altEnd, alt, {Sub{d.operand.get(), r}, Sub{d.fallback.get(), alt}}).result;
}

// ---- statements ------------------------------------------------------------------

void Builder::stmt(const Stmt &s) {
  ensureOpen();
  switch (s.kind) {
  case StmtKind::Block: return block(static_cast<const BlockStmt &>(s));
  case StmtKind::VarDecl: return varDecl(static_cast<const VarDeclStmt &>(s));
  case StmtKind::Expr: {
    auto &e = static_cast<const ExprStmt &>(s);
    if (!e.expr) return;
    eval(*e.expr, nullptr, &s, Use::Discard);
    fn_.blocks[cur_].insts.back().discard = true;
    return;
  }
  case StmtKind::Assign: return assign(static_cast<const AssignStmt &>(s));
  case StmtKind::If: return ifStmt(static_cast<const IfStmt &>(s));
  case StmtKind::While: {
    auto &w = static_cast<const WhileStmt &>(s);
    return w.when ? whenStmt(w) : whileStmt(w);
  }
  case StmtKind::Loop: return loopStmt(static_cast<const LoopStmt &>(s));
  case StmtKind::Pick: return pickStmt(static_cast<const PickStmt &>(s));
  case StmtKind::Fall: return fall(static_cast<const FallStmt &>(s));
  case StmtKind::For: return forStmt(static_cast<const ForStmt &>(s));
  case StmtKind::Break:
  case StmtKind::Continue: return jump(s);
  case StmtKind::Pass: {
    auto &p = static_cast<const PassStmt &>(s);
    Temp v = p.value ? eval(*p.value, fn_.decl->ret, &s, Use::Return) : kNoTemp;
    return leave(s, ExitKind::Pass, v, fn_.decl->ret);
  }
  case StmtKind::Fail: {
    auto &f = static_cast<const FailStmt &>(s);
    Temp v = f.code ? eval(*f.code, nullptr, &s, Use::Operand) : kNoTemp;
    if (f.code) fn_.blocks[cur_].insts.back().ty = nullptr; // converted to int32 by the lowering
    return leave(s, ExitKind::Fail, v, nullptr);
  }
  case StmtKind::Return: {
    auto &r = static_cast<const ReturnStmt &>(s);
    // A `Result` value is returned as it is; a plain value is the success value.
    const Ty *ty = r.value && r.value->ty && r.value->ty->isResult() ? r.value->ty : fn_.decl->ret;
    Temp v = r.value ? eval(*r.value, ty, &s, Use::Return) : kNoTemp;
    return leave(s, ExitKind::Return, v, ty);
  }
  case StmtKind::Exit: {
    auto &e = static_cast<const ExitStmt &>(s);
    Temp v = e.status ? eval(*e.status, nullptr, &s, Use::Operand) : kNoTemp;
    if (e.status) fn_.blocks[cur_].insts.back().ty = nullptr;
    return leave(s, ExitKind::Exit, v, nullptr);
  }
  case StmtKind::Defer: frames_.back().defers.push_back(static_cast<const DeferStmt *>(&s)); return;
  case StmtKind::Error: return;
  }
}

void Builder::block(const BlockStmt &b) {
  frames_.push_back(Frame{});
  for (auto &s : b.stmts)
    if (s) stmt(*s);
  // A block whose last statement jumps or exits has no fall-through end.
  if (!terminated_) {
    Span end = endOf(b);
    leaveScopes(ExitKind::BlockEnd, nullptr, &b, end, frames_.size() - 1, true);
  }
  frames_.pop_back();
}

// A statement outside any block (a `defer` body, a `for` step): a binding it
// declares ends with it and gets no automatic drop.
void Builder::detached(const Stmt &s) {
  frames_.push_back(Frame{});
  stmt(s);
  if (!frames_.back().bindings.empty() && !terminated_)
    leaveScopes(ExitKind::Detached, &s, nullptr, s.span, frames_.size() - 1, false);
  frames_.pop_back();
}

void Builder::varDecl(const VarDeclStmt &d) {
  Temp v = d.init ? eval(*d.init, d.binding.ty, &d, Use::Bind) : kNoTemp;
  Inst &in = add(Op::Let, d.span);
  in.binding = &d.binding;
  in.ty = d.binding.ty;
  in.operand = v;
  in.stmt = &d;
  frames_.back().bindings.push_back(&d.binding);
}

void Builder::assign(const AssignStmt &a) {
  if (!a.target || !a.value) return;
  if (a.compound) {
    // The place's parts and old value come first, then the value; the
    // update reads the parts again for the place's address.
    Subs subs;
    settle(*a.target, Role::Pieces, subs);
    subs.push_back(Sub{a.target.get(), evalWith(*a.target, a.target->ty, nullptr, Use::Part, subs)});
    settle(*a.value, Role::Value, subs);
    Inst &in = add(Op::Update, a.span);
    attach(in, subs);
    in.expr = a.target.get();
    in.value = a.value.get();
    in.ty = a.target->ty;
    in.compound = true;
    in.compoundOp = a.op;
    in.stmt = &a;
    return;
  }
  Temp v = eval(*a.value, a.target->ty, &a, Use::Store);
  Subs subs;
  settle(*a.target, Role::Pieces, subs);
  Inst &in = add(Op::Store, a.span);
  attach(in, subs);
  in.expr = a.target.get();
  in.value = a.value.get();
  in.ty = a.target->ty;
  in.operand = v;
  in.stmt = &a;
}

void Builder::condBranch(const Expr &cond, Temp c, unsigned ifTrue, unsigned ifFalse) {
  Inst br;
  br.op = Op::CondBr;
  br.span = cond.span;
  br.expr = &cond;
  br.operand = c;
  br.target = ifTrue;
  br.elseTarget = ifFalse;
  terminate(br);
}

void Builder::ifStmt(const IfStmt &s) {
  if (!s.cond || !s.thenBlock) return;
  Temp c = eval(*s.cond, nullptr, &s, Use::Operand);
  Decision outer = context_;
  unsigned thenB = newBlock("if.then", Decision{s.cond.get(), true});
  unsigned elseB = s.elseStmt ? newBlock("if.else", Decision{s.cond.get(), false}) : 0;
  unsigned join = newBlock("if.end", outer);
  condBranch(*s.cond, c, thenB, s.elseStmt ? elseB : join);
  context_ = Decision{s.cond.get(), true};
  cur_ = thenB;
  terminated_ = false;
  block(*s.thenBlock);
  if (!terminated_) branch(join, endOf(*s.thenBlock));
  if (s.elseStmt) {
    context_ = Decision{s.cond.get(), false};
    cur_ = elseB;
    terminated_ = false;
    stmt(*s.elseStmt);
    auto *elseBlock = as<BlockStmt>(s.elseStmt.get());
    if (!terminated_) branch(join, elseBlock ? endOf(*elseBlock) : s.elseStmt->span);
  }
  context_ = outer;
  cur_ = join;
  terminated_ = false;
}

void Builder::loopRounds(const Stmt &s, const BlockStmt &body, unsigned bodyBlock, Decision inBody,
                         unsigned breakTo, unsigned continueTo, bool continueIsBack) {
  loops_.push_back(Loop{breakTo, continueTo, frames_.size(), &s, continueIsBack});
  context_ = inBody;
  cur_ = bodyBlock;
  terminated_ = false;
  block(body);
  if (!terminated_) branch(continueTo, endOf(body), continueIsBack ? &s : nullptr, continueIsBack);
  loops_.pop_back();
}

void Builder::whileStmt(const WhileStmt &s) {
  if (!s.cond || !s.body) return;
  Decision outer = context_;
  unsigned head = newBlock("while.cond", outer);
  unsigned body = newBlock("while.body", Decision{s.cond.get(), true});
  unsigned exit = newBlock("while.end", outer);
  branch(head, s.span, &s);
  cur_ = head;
  terminated_ = false;
  Temp c = eval(*s.cond, nullptr, &s, Use::Operand);
  condBranch(*s.cond, c, body, exit);
  loopRounds(s, *s.body, body, Decision{s.cond.get(), true}, exit, head, true);
  context_ = outer;
  cur_ = exit;
  terminated_ = false;
}

void Builder::forStmt(const ForStmt &s) {
  if (!s.body) return;
  if (s.init) stmt(*s.init); // lives in the enclosing block
  Decision outer = context_;
  Decision inBody = s.cond ? Decision{s.cond.get(), true} : outer;
  unsigned head = newBlock("for.cond", outer);
  unsigned body = newBlock("for.body", inBody);
  unsigned step = newBlock("for.step", inBody);
  unsigned exit = newBlock("for.end", outer);
  if (!terminated_) branch(head, s.span, &s);
  cur_ = head;
  terminated_ = false;
  if (s.cond) {
    Temp c = eval(*s.cond, nullptr, &s, Use::Operand);
    condBranch(*s.cond, c, body, exit);
  } else {
    branch(body, s.span);
  }
  loopRounds(s, *s.body, body, inBody, exit, step, false);
  cur_ = step;
  terminated_ = false;
  if (s.step) detached(*s.step);
  if (!terminated_) branch(head, s.step ? s.step->span : endOf(*s.body), &s, true);
  context_ = outer;
  cur_ = exit;
  terminated_ = false;
}

// `when (c) B then T end E`: the first test decides between B and E; after
// each round of B the test decides between B and T. `break` in B goes to E;
// T and E run outside the loop.
void Builder::whenStmt(const WhileStmt &s) {
  if (!s.cond || !s.body) return;
  Decision outer = context_;
  unsigned first = newBlock("when.first", outer);
  unsigned body = newBlock("when.body", Decision{s.cond.get(), true});
  unsigned again = newBlock("when.cond", outer);
  unsigned thenB = newBlock("when.then", Decision{s.cond.get(), false});
  unsigned endB = newBlock("when.else", outer);
  unsigned join = newBlock("when.end", outer);
  branch(first, s.span, &s);
  cur_ = first;
  terminated_ = false;
  condBranch(*s.cond, eval(*s.cond, nullptr, &s, Use::Operand), body, endB);
  loopRounds(s, *s.body, body, Decision{s.cond.get(), true}, endB, again, true);
  context_ = outer;
  cur_ = again;
  terminated_ = false;
  condBranch(*s.cond, eval(*s.cond, nullptr, &s, Use::Operand), body, thenB);
  for (auto [at, part] : {std::pair{thenB, s.thenBlock.get()}, std::pair{endB, s.endBlock.get()}}) {
    context_ = at == thenB ? Decision{s.cond.get(), false} : outer;
    cur_ = at;
    terminated_ = false;
    if (part) block(*part);
    if (!terminated_) branch(join, part ? endOf(*part) : s.span);
  }
  context_ = outer;
  cur_ = join;
  terminated_ = false;
}

// `loop(start, limit, step)` / `till(limit, step)`: the operands once, left to
// right, then `count.init`; the head tests the rounds left, `continue` goes
// to the step.
void Builder::loopStmt(const LoopStmt &s) {
  if (!s.limit || !s.step || !s.body) return;
  Temp start = s.start ? eval(*s.start, s.counterTy, &s, Use::Operand) : kNoTemp;
  Temp limit = eval(*s.limit, s.counterTy, &s, Use::Operand);
  Temp stepBy = eval(*s.step, s.counterTy, &s, Use::Operand);
  Inst &init = add(Op::CountInit, s.span);
  init.stmt = &s;
  init.ty = s.counterTy;
  init.counts[0] = start;
  init.counts[1] = limit;
  init.counts[2] = stepBy;
  Decision outer = context_;
  unsigned head = newBlock("loop.cond", outer);
  unsigned body = newBlock("loop.body", outer);
  unsigned step = newBlock("loop.step", outer);
  unsigned exit = newBlock("loop.end", outer);
  branch(head, s.span, &s);
  cur_ = head;
  terminated_ = false;
  Inst test;
  test.op = Op::CountBr;
  test.span = s.span;
  test.stmt = &s;
  test.ty = s.counterTy;
  test.target = body;
  test.elseTarget = exit;
  terminate(test);
  loopRounds(s, *s.body, body, outer, exit, step, false);
  context_ = outer;
  cur_ = step;
  terminated_ = false;
  Inst &next = add(Op::CountStep, s.span);
  next.stmt = &s;
  next.ty = s.counterTy;
  branch(head, endOf(*s.body), &s, true);
  cur_ = exit;
  terminated_ = false;
}

// `pick (v) { arms }`: the selector once into a temporary, then one
// `switch` to the arms' bodies: each case holds the values an arm is tested
// for that no earlier arm matches, so the cases are disjoint and the first
// matching arm wins. `(*)` is the `else`; without it the cases cover the
// selector's type. An arm of a `bool` selector that one value reaches is
// built under that decision, unless a `fall` enters it too.
void Builder::pickStmt(const PickStmt &s) {
  if (!s.selector || !s.selectorTy) return;
  Temp v = eval(*s.selector, s.selectorTy, &s, Use::Operand);
  Decision outer = context_;
  bool isBool = !s.selectorTy->isInt();
  std::vector<Decision> contexts;
  Pick pick{&s, {}, frames_.size()};
  for (const PickArm &arm : s.arms) {
    Decision d = outer;
    if (isBool && !arm.fallenInto && arm.matches.size() == 1 && arm.matches[0].first == arm.matches[0].second)
      d = Decision{s.selector.get(), arm.matches[0].first != 0};
    contexts.push_back(d);
    pick.arms.push_back(newBlock(arm.wildcard ? "pick.else" : "pick.arm", d));
  }
  unsigned join = newBlock("pick.end", outer);
  Inst sw;
  sw.op = Op::Switch;
  sw.span = s.selector->span;
  sw.stmt = &s;
  sw.expr = s.selector.get();
  sw.operand = v;
  sw.ty = s.selectorTy;
  sw.exhaustive = true;
  for (size_t i = 0; i < s.arms.size(); ++i) {
    if (s.arms[i].wildcard) {
      sw.exhaustive = false;
      sw.elseTarget = pick.arms[i];
      continue;
    }
    for (auto [lo, hi] : s.arms[i].matches) sw.cases.push_back(SwitchCase{lo, hi, pick.arms[i]});
  }
  terminate(sw);
  picks_.push_back(pick);
  for (size_t i = 0; i < s.arms.size(); ++i) {
    context_ = contexts[i];
    cur_ = pick.arms[i];
    terminated_ = false;
    if (s.arms[i].body) block(*s.arms[i].body);
    if (!terminated_) branch(join, s.arms[i].body ? endOf(*s.arms[i].body) : s.span);
  }
  picks_.pop_back();
  context_ = outer;
  cur_ = join;
  terminated_ = false;
}

// `fall L;`: the drops and defers of the arm's scopes, as for `break`, then
// the jump into L's body.
void Builder::fall(const FallStmt &s) {
  if (picks_.empty() || picks_.back().stmt != s.pick) return;
  Pick pick = picks_.back(); // a copy: a defer body with a `pick` in it grows picks_
  leaveScopes(ExitKind::Fall, &s, nullptr, s.span, pick.frameDepth, true);
  branch(pick.arms[s.arm], s.span);
}

// `break` / `continue`: the drops and defers of the loop body's scopes, then
// the jump.
void Builder::jump(const Stmt &s) {
  if (loops_.empty()) return;
  Loop loop = loops_.back(); // a copy: a defer body with a loop in it grows loops_
  bool isBreak = s.kind == StmtKind::Break;
  leaveScopes(isBreak ? ExitKind::Break : ExitKind::Continue, &s, nullptr, s.span, loop.frameDepth, true);
  bool back = !isBreak && loop.continueIsBack;
  branch(isBreak ? loop.breakTo : loop.continueTo, s.span, back ? loop.stmt : nullptr, back);
}

// `pass`/`fail`/`return`: the value is computed first, then every scope's
// drops and defers run, then the function returns it. `exit` ends the process
// at once: neither drops nor defers.
void Builder::leave(const Stmt &s, ExitKind kind, Temp value, const Ty *ty) {
  leaveScopes(kind, &s, nullptr, s.span, 0, kind != ExitKind::Exit);
  Inst t;
  t.op = kind == ExitKind::Exit ? Op::Exit : Op::Ret;
  t.span = s.span;
  t.stmt = &s;
  t.leave = kind;
  t.operand = value;
  t.ty = ty;
  terminate(t);
}

// ---- scopes ------------------------------------------------------------------------

// Leaves frames [downTo, top): `scope.exit` (where drop elaboration puts the
// drops), the defer bodies, then `scope.end`.
void Builder::leaveScopes(ExitKind kind, const Stmt *exitStmt, const BlockStmt *ended, Span span, size_t downTo,
                          bool runsDropsAndDefers) {
  ExitSite site;
  site.kind = kind;
  site.stmt = exitStmt;
  site.block = ended;
  site.span = span;
  site.runsDefers = runsDropsAndDefers;
  for (size_t i = frames_.size(); i-- > downTo;)
    site.bindings.insert(site.bindings.end(), frames_[i].bindings.rbegin(), frames_[i].bindings.rend());
  // `exit` runs no defer, yet a registered `defer free(p);` discharges `p`
  // there as at every other exit (LANGUAGE.md §6.2).
  if (runsDropsAndDefers || kind == ExitKind::Exit)
    for (size_t i = frames_.size(); i-- > downTo;)
      for (const DeferStmt *d : frames_[i].defers)
        if (d->body) collectCalls(*d->body, site.deferReleases);
  unsigned index = static_cast<unsigned>(fn_.sites.size());
  fn_.sites.push_back(std::move(site));
  if (runsDropsAndDefers) {
    add(Op::ScopeExit, span).site = index;
    Span outer = deferExit_;
    if (!outer.valid()) deferExit_ = span;
    runDefers(downTo);
    deferExit_ = outer;
  }
  add(Op::ScopeEnd, span).site = index;
}

// Defer bodies of frames [downTo, top), innermost frame first, LIFO within a
// frame. A defer body cannot jump out of itself, so loops outside it are
// hidden while it is built.
void Builder::runDefers(size_t downTo) {
  std::vector<Loop> outerLoops = std::move(loops_);
  loops_.clear();
  std::vector<Pick> outerPicks = std::move(picks_);
  picks_.clear();
  for (size_t i = frames_.size(); i-- > downTo;) {
    std::vector<const DeferStmt *> defers = frames_[i].defers; // building may grow frames_
    for (auto d = defers.rbegin(); d != defers.rend(); ++d)
      if ((*d)->body) detached(*(*d)->body);
  }
  loops_ = std::move(outerLoops);
  picks_ = std::move(outerPicks);
}

} // namespace

Func buildFunc(const FuncDecl &f) { return Builder(f).build(); }

void forEachBody(const std::vector<FuncDecl *> &funcs, const std::function<void(const FuncDecl &)> &visit) {
  std::unordered_set<const FuncDecl *> done;
  for (const FuncDecl *f : funcs)
    if (f && f->body && f->ret && done.insert(f).second) visit(*f);
}

Module build(const std::vector<FuncDecl *> &funcs) {
  Module m;
  forEachBody(funcs, [&](const FuncDecl &f) { m.funcs.push_back(buildFunc(f)); });
  return m;
}

const Func *Module::find(const FuncDecl *f) const {
  for (const Func &fn : funcs)
    if (fn.decl == f) return &fn;
  return nullptr;
}
Func *Module::find(const FuncDecl *f) {
  for (Func &fn : funcs)
    if (fn.decl == f) return &fn;
  return nullptr;
}

bool Inst::isTerminator() const { return op >= Op::Br; }

const char *opText(Op op) {
  switch (op) {
#define NIR_OP(Name, Text) \
  case Op::Name: return Text;
#include "nir/Ops.def"
  }
  return "?";
}

} // namespace npk::nir
