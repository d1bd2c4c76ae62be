// The warnings of Diagnostics.def (NPK-W...), one function each, over the
// checked tree of one function body at a time. Each finding is precise
// before it is complete: a warning is only reported where the program surely
// has the problem, so a clean program stays silent.
#include "lint/Warnings.h"

#include "ast/Walk.h"
#include "check/ConstEval.h"
#include "own/Tracking.h"

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace npk {

namespace {

bool unusedOnPurpose(const Binding &b) { return !b.name.empty() && b.name[0] == '_'; }

// How a function's body uses each of its bindings.
struct Uses {
  std::unordered_map<const Binding *, unsigned> reads;    // every read, a release included
  std::unordered_map<const Binding *, unsigned> released; // reads that only hand it to a deallocator
  std::unordered_map<const Binding *, const Expr *> firstRelease;
  std::unordered_set<const Binding *> assigned;           // `x = ...;` / `x op= ...;` to the bare name
  std::vector<const VarDeclStmt *> locals;                // in source order
};

Uses collectUses(const BlockStmt &body) {
  Uses u;
  walkStmts(body, [&](const Stmt &s) {
    if (auto *d = as<VarDeclStmt>(&s)) u.locals.push_back(d);
    auto *assign = as<AssignStmt>(&s);
    auto *exprStmt = as<ExprStmt>(&s);
    forEachOwnExpr(s, [&](const Expr &root) {
      // Storing into the bare name only writes the binding; `p[i] = v`,
      // `<-p = v` and `s.f = v` read it (a pointer to write through, or a
      // struct partly overwritten: counted as a read to stay on the safe side).
      if (assign && &root == assign->target.get()) {
        if (auto *n = as<NameExpr>(&root); n && n->binding) {
          u.assigned.insert(n->binding);
          return;
        }
      }
      // `x++;` (only ever a statement) is `x += 1;`: it writes x.
      if (auto *step = as<IncDecExpr>(&root); step && exprStmt) {
        if (auto *n = as<NameExpr>(step->operand.get()); n && n->binding) {
          u.assigned.insert(n->binding);
          return;
        }
      }
      std::unordered_set<const Expr *> releaseArgs;
      walkExprs(root, [&](const Expr &e) {
        auto *call = as<CallExpr>(&e);
        if (!call) return;
        if (const NameExpr *n = own::releasedName(*call)) releaseArgs.insert(n);
      });
      walkExprs(root, [&](const Expr &e) {
        auto *n = as<NameExpr>(&e);
        if (!n || !n->binding) return;
        ++u.reads[n->binding];
        if (releaseArgs.count(n)) {
          ++u.released[n->binding];
          u.firstRelease.try_emplace(n->binding, n);
        }
      });
    });
  });
  return u;
}

// ---- NPK-W001 unused variable, NPK-W002 unused parameter, NPK-W005 unused wild

// A `wild`/`wildx` pointer initialised by `alloc`/`wildx_alloc` whose every
// use releases it: nothing is stored through it, read from it or passed on.
// Memory from a function that returns `wild` (a factory such as
// `Jit.compile_*`) holds what the function made, and calling it may be the
// point: it is not fresh memory, so it does not count.
bool isUnusedWild(const VarDeclStmt &d, const Uses &u) {
  const Binding &b = d.binding;
  if (!(b.quals & (QualWild | QualWildx)) || !b.ty || !b.ty->isPtr() || !d.init) return false;
  const CallExpr *alloc = own::allocatingCall(*d.init);
  if (!alloc || (alloc->builtin != Builtin::Alloc && alloc->builtin != Builtin::WildxAlloc)) return false;
  if (u.assigned.count(&b)) return false;
  auto reads = u.reads.find(&b), released = u.released.find(&b);
  unsigned r = reads == u.reads.end() ? 0 : reads->second;
  unsigned rel = released == u.released.end() ? 0 : released->second;
  return r == rel;
}

void unusedLocals(const Uses &u, DiagEngine &diags) {
  for (const VarDeclStmt *d : u.locals) {
    const Binding &b = d->binding;
    if (unusedOnPurpose(b)) continue;
    if (diags.wants(DiagId::UnusedWild) && isUnusedWild(*d, u)) {
      const char *kind = b.quals & QualWildx ? "wildx" : "wild";
      Diag &w = diags.warning(DiagId::UnusedWild, b.span,
                              std::string("`") + kind + "` allocation `" + b.name + "` is never used");
      w.primaryLabel = "nothing is stored through it or read from it";
      w.label(d->init->span, "allocated here");
      auto release = u.firstRelease.find(&b);
      if (release != u.firstRelease.end()) {
        w.note("it is only released", release->second->span);
        w.withHelp("remove the allocation and its release");
      } else {
        w.withHelp("remove the allocation");
      }
      continue;
    }
    if (!diags.wants(DiagId::UnusedVariable) || u.reads.count(&b)) continue;
    bool assigned = u.assigned.count(&b) > 0;
    Diag &w = diags.warning(DiagId::UnusedVariable, b.span,
                            "variable `" + b.name + "` is " + (assigned ? "assigned but never read" : "never read"));
    w.withHelp("remove it, or name it `_" + b.name + "` if it is unused on purpose");
    if (!assigned) w.fix(b.span, "_" + b.name); // the name appears nowhere else
  }
}

void unusedParams(const FuncDecl &f, const Uses &u, DiagEngine &diags) {
  if (!diags.wants(DiagId::UnusedParameter)) return;
  for (auto &p : f.params) {
    const Binding &b = p->binding;
    if (unusedOnPurpose(b) || u.reads.count(&b)) continue;
    std::string func = f.typeBlock.empty() ? f.name : f.typeBlock + "." + f.name;
    diags.warning(DiagId::UnusedParameter, b.span, "parameter `" + b.name + "` of `" + func + "` is never read")
        .withHelp("remove it, or name it `_" + b.name + "` if it is unused on purpose");
  }
}

// ---- NPK-W003 unreachable code

// One warning per block, at the first statement after the one that leaves;
// the statements after it are not looked into (they are part of the run).
void unreachableIn(const Stmt &s, DiagEngine &diags) {
  auto *block = as<BlockStmt>(&s);
  if (!block) {
    forEachChildStmt(s, [&](const Stmt &child) { unreachableIn(child, diags); });
    return;
  }
  for (size_t i = 0; i < block->stmts.size(); ++i) {
    const Stmt &st = *block->stmts[i];
    unreachableIn(st, diags);
    const Stmt *jump = leavingStatement(st);
    if (!jump || i + 1 == block->stmts.size()) continue;
    const Stmt &dead = *block->stmts[i + 1];
    Diag &w = diags.warning(DiagId::UnreachableCode, dead.span, "unreachable code");
    w.primaryLabel = "never runs";
    w.note(whyLeaves(*jump), jump->span);
    return;
  }
}

// ---- NPK-W004 shadowing

class ShadowCheck {
public:
  explicit ShadowCheck(DiagEngine &diags) : diags_(diags) {}

  void run(const FuncDecl &f) {
    scopes_.assign(1, {});
    for (auto &p : f.params) scopes_.back().push_back(&p->binding);
    visit(*f.body);
  }

private:
  void visit(const Stmt &s) {
    if (auto *v = as<VarDeclStmt>(&s)) declare(v->binding);
    bool scope = opensScope(s); // a block's, and a `for`'s around its init
    if (scope) scopes_.emplace_back();
    forEachChildStmt(s, [&](const Stmt &child) { visit(child); });
    if (scope) scopes_.pop_back();
  }

  void declare(const Binding &b) {
    // A second declaration in the same block is an error (NPK-N002), so only
    // enclosing scopes are searched.
    if (!unusedOnPurpose(b))
      for (size_t i = scopes_.size() - 1; i-- > 0;)
        for (const Binding *outer : scopes_[i])
          if (outer->name == b.name) {
            diags_
                .warning(DiagId::Shadow, b.span,
                         "`" + b.name + "` shadows " + (outer->isParam ? "a parameter" : "a local of an enclosing block"))
                .withHelp("rename one of them")
                .note("the shadowed `" + b.name + "` is declared here", outer->span);
            scopes_.back().push_back(&b);
            return;
          }
    scopes_.back().push_back(&b);
  }

  DiagEngine &diags_;
  std::vector<std::vector<const Binding *>> scopes_;
};

// ---- NPK-W006 shift overflow

// `l << r` on constants: the checker reports a shift amount out of range
// (NPK-T011), but a shift in range that pushes set bits past the top of the
// type wraps silently at run time (LANGUAGE.md §4: only `+ - * / %` trap).
// A shift that loses no set bit is not reported even when a bit lands in
// the sign bit (`1 << 31` in `int32` writes that bit), as in C compilers.
void shiftOverflows(const Checker &checker, const BlockStmt &body, DiagEngine &diags) {
  forEachExprIn(body, [&](const Expr &e) {
    auto *b = as<BinaryExpr>(&e);
    if (!b || b->op != BinaryOp::Shl || !b->ty || !b->ty->isInt()) return;
    std::optional<__int128> l = checker.constantValue(*b->lhs), r = checker.constantValue(*b->rhs);
    const Ty *t = b->ty;
    if (!l || !r || *r < 0 || *r >= t->bits || *l == 0) return;
    // |l| < 2^64 and r < 64, so the exact product fits in 127 bits.
    __int128 exact = *l * (static_cast<__int128>(1) << static_cast<unsigned>(*r));
    __int128 top = static_cast<__int128>(1) << t->bits;
    bool lost = *l > 0 ? exact >= top : exact < -(top / 2);
    if (!lost) return;
    std::optional<__int128> wrapped = checker.constantValue(e);
    std::string text = "`" + intText(*l) + " << " + intText(*r) + "`";
    Diag &w = diags.warning(DiagId::ShiftOverflow, e.span,
                            text + " shifts set bits out of `" + t->str() + "`" +
                                (wrapped ? ": the result is " + intText(*wrapped) : std::string()));
    w.withHelp("shift a wider type (a `" + std::string(t->isSigned ? "i64" : "u64") +
               "` suffix on the left operand), or mask the left operand first");
  });
}

} // namespace

void lintProgram(const Checker &checker, const std::function<bool(const Module &)> &skip, DiagEngine &diags) {
  for (const FuncDecl *f : checker.symbols().allFuncs) {
    if (!f->body || (f->module && skip(*f->module))) continue;
    Uses uses = collectUses(*f->body);
    unusedLocals(uses, diags);
    unusedParams(*f, uses, diags);
    if (diags.wants(DiagId::UnreachableCode)) unreachableIn(*f->body, diags);
    if (diags.wants(DiagId::Shadow)) ShadowCheck(diags).run(*f);
    if (diags.wants(DiagId::ShiftOverflow)) shiftOverflows(checker, *f->body, diags);
  }
}

} // namespace npk
