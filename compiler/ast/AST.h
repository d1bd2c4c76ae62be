// The syntax tree. The parser builds it; the checker annotates it in place
// (types on expressions, resolved symbols on names and calls); the ownership
// checker and the lowering read the annotated tree. Nodes are owned by their
// parent through unique_ptr; cross references (symbols) are plain pointers.
#pragma once

#include "lex/Token.h"
#include "support/Source.h"

#include <memory>
#include <string_view>
#include <functional>
#include <string>
#include <vector>

namespace npk {

struct Ty;
struct FuncDecl;
struct ExternDecl;
struct StructDecl;
struct Module;

// The bound on nesting that every phase relies on. The parser counts one level
// for each nested construct (block, parenthesised or unary operand, type
// argument, `defer`, `else if` arm) and one for each link of a chain (binary
// operator, `=>` cast, call, index, member access), so a left-deep chain like
// `a + b + c` counts its length. Past the bound it reports NPK-P006 and builds
// no deeper tree. Every later phase (checker, ownership, lowering, the AST
// dump, the tree's destructors) recurses only along the tree, so its recursion
// depth is at most a small multiple of this bound; the driver runs the phases
// on a stack sized for that (support/Stack.h).
constexpr int kMaxTreeDepth = 10000;

// ---- syntactic types -------------------------------------------------------------

// The base of every expression node (declared before the types: an array
// type's size is an expression).
enum class ExprKind : uint8_t {
#define EXPR(Kind) Kind,
#include "ast/AST.def"
};

struct Expr {
  ExprKind kind;
  Span span;
  const Ty *ty = nullptr; // set by the checker
  explicit Expr(ExprKind k, Span s) : kind(k), span(s) {}
  virtual ~Expr() = default;
};
using ExprPtr = std::unique_ptr<Expr>;


struct FuncTypeExpr;

// `int8->`, `?->`, `Result<int32>`, `Pair`, C-style `int8*` / `?*` in externs,
// a function type `(R)(P...)` / `extern (R)(P...)`.
struct TypeExpr {
  Span span;
  std::string name;                   // "int32", "?", "Result", a struct name; empty for a function type
  int pointerDepth = 0;               // number of `->` (or `*`)
  bool cStyle = false;                // written with `*` (extern signatures)
  std::unique_ptr<TypeExpr> resultOf; // for Result<T>
  std::unique_ptr<FuncTypeExpr> func; // for a function type
  // `T[N]` (LANGUAGE-2 A2): `elementOf` is T and `arraySize` the constant
  // expression N; `name` is empty. `pointerDepth` then counts the `->`
  // after the brackets (a pointer to the array).
  std::unique_ptr<TypeExpr> elementOf;
  ExprPtr arraySize;
};

// `[extern] (R)(P, ...)` (LANGUAGE-2 A7): each parameter a type with qualifiers.
struct FuncTypeExpr {
  bool isExtern = false;
  TypeExpr ret;
  std::vector<uint8_t> quals;
  std::vector<TypeExpr> params;
};

enum Qual : uint8_t {
  QualNone = 0,
  QualFixed = 1,
  QualWild = 2,
  QualWildx = 4,
  QualBorrowMut = 8,
  QualBorrowImm = 16,
  QualConst = 32, // extern signatures only: documentation (and `fixed` arrays decay to `const T*`)
};

// `wild `, `fixed $$i `, ...: the qualifiers as written before a type.
std::string qualifierText(uint8_t quals);

// A local variable or parameter; names resolve to one of these.
struct Binding {
  Span span;        // the declaring name/statement
  std::string name;
  uint8_t quals = QualNone;
  const Ty *ty = nullptr;
  bool isParam = false;
  bool heapStruct = false; // `wild S:x = S{...}`: storage lives on the wild heap
  bool isConst = false;    // `const` (LANGUAGE-2 A5): a compile-time value; also QualFixed
  unsigned id = 0;         // dense per function, for dataflow
};

struct GlobalDecl;

// ---- expressions -----------------------------------------------------------------


struct IntLitExpr : Expr {
  uint64_t value = 0;
  IntSuffix suffix = IntSuffix::None;
  IntLitExpr(Span s) : Expr(ExprKind::IntLit, s) {}
};
struct FloatLitExpr : Expr {
  double value = 0;
  IntSuffix suffix = IntSuffix::None;
  FloatLitExpr(Span s) : Expr(ExprKind::FloatLit, s) {}
};
struct BoolLitExpr : Expr {
  bool value = false;
  BoolLitExpr(Span s) : Expr(ExprKind::BoolLit, s) {}
};
struct StringLitExpr : Expr {
  std::string value;
  StringLitExpr(Span s) : Expr(ExprKind::StringLit, s) {}
};
// `text &{expr} text`: parts alternate; a null expr part is a text part.
struct TemplatePart {
  std::string text;
  ExprPtr expr;
};
struct TemplateExpr : Expr {
  std::vector<TemplatePart> parts;
  TemplateExpr(Span s) : Expr(ExprKind::Template, s) {}
};
struct NullLitExpr : Expr {
  NullLitExpr(Span s) : Expr(ExprKind::NullLit, s) {}
};

// What a bare or dotted name refers to after checking.
enum class NameTarget : uint8_t { Unresolved, Local, Global, Func, Extern, Builtin, TypeBlock };

enum class Builtin : uint8_t {
  None,
#define BUILTIN(Kind, Spelling) Kind,
#include "ast/Builtins.def"
};
// The deallocator naming rule (LANGUAGE.md §6.2): `free`, `destroy`,
// `release`, or a name ending in `_free`/`_destroy`/`_release`.
bool isDeallocatorName(std::string_view plainName);

// The builtin a name spells, or Builtin::None.
Builtin builtinNamed(std::string_view name);

struct NameExpr : Expr {
  std::string name;
  NameTarget target = NameTarget::Unresolved;
  Binding *binding = nullptr;  // a local or parameter
  GlobalDecl *global = nullptr; // a module-level binding (LANGUAGE-2 A5)
  FuncDecl *func = nullptr;
  ExternDecl *ext = nullptr;
  Builtin builtin = Builtin::None;
  NameExpr(Span s) : Expr(ExprKind::Name, s) {}
};

enum class UnaryOp : uint8_t { Neg, Not, BitNot, AddrOf, Deref };
struct UnaryExpr : Expr {
  UnaryOp op;
  ExprPtr operand;
  // `@f`, `@Block.member`, `@e`: the function value's declaration (checker).
  FuncDecl *funcValue = nullptr;
  ExternDecl *externValue = nullptr;
  UnaryExpr(Span s, UnaryOp o, ExprPtr e) : Expr(ExprKind::Unary, s), op(o), operand(std::move(e)) {}
};

enum class BinaryOp : uint8_t {
#define BINARY_OP(Op, Spelling, Token, Precedence) Op,
#include "ast/Operators.def"
};
struct BinaryExpr : Expr {
  BinaryOp op;
  Span opSpan;
  ExprPtr lhs, rhs;
  BinaryExpr(Span s, BinaryOp o, ExprPtr l, ExprPtr r)
      : Expr(ExprKind::Binary, s), op(o), lhs(std::move(l)), rhs(std::move(r)) {}
};

// `e => T`, also `@cast<T>(e)` (the same conversion, LANGUAGE-2 A6) and
// `@cast_unchecked<T>(e)` (numbers convert without a range check).
struct CastExpr : Expr {
  ExprPtr operand;
  TypeExpr target;
  bool intrinsic = false; // written `@cast<T>(e)` or `@cast_unchecked<T>(e)`
  bool unchecked = false; // `@cast_unchecked`
  CastExpr(Span s) : Expr(ExprKind::Cast, s) {}
};

struct CallExpr : Expr {
  ExprPtr callee; // NameExpr, or MemberExpr for `Type.m(...)`
  std::vector<ExprPtr> args;
  // Resolved by the checker:
  FuncDecl *func = nullptr;
  ExternDecl *ext = nullptr;
  Builtin builtin = Builtin::None;
  const Ty *calleeTy = nullptr; // a call through a function value: the callee's function type
  CallExpr(Span s) : Expr(ExprKind::Call, s) {}
  bool throughValue() const { return calleeTy != nullptr; }
  // The plain name of the callee as written (`free`, `Jit.free` -> "free").
  std::string calleeName() const;
  std::string calleeFullName() const; // "Jit.free"
};

struct IndexExpr : Expr {
  ExprPtr base, index;
  IndexExpr(Span s) : Expr(ExprKind::Index, s) {}
};

enum class MemberTarget : uint8_t { Unresolved, Field, ResultIsError, ResultValue, ResultError, TypeMember, ArrayLength };
struct MemberExpr : Expr {
  ExprPtr base;
  std::string member;
  Span memberSpan;
  MemberTarget target = MemberTarget::Unresolved;
  unsigned fieldIndex = 0;
  bool throughPointer = false; // base is a pointer or a borrowed/heap struct
  MemberExpr(Span s) : Expr(ExprKind::Member, s) {}
};

struct RawExpr : Expr {
  ExprPtr operand;
  RawExpr(Span s, ExprPtr e) : Expr(ExprKind::Raw, s), operand(std::move(e)) {}
};
struct DropExpr : Expr {
  ExprPtr operand;
  DropExpr(Span s, ExprPtr e) : Expr(ExprKind::Drop, s), operand(std::move(e)) {}
};
// `call(...) ? default`
struct DefaultExpr : Expr {
  ExprPtr operand, fallback;
  DefaultExpr(Span s) : Expr(ExprKind::Default, s) {}
};

struct FieldInit {
  Span span;
  std::string name;
  ExprPtr value;
};
// `[e0, e1, ...]` (LANGUAGE-2 A2): only where a `T[N]` is expected, which
// gives it its type.
struct ArrayLitExpr : Expr {
  std::vector<ExprPtr> elements;
  ArrayLitExpr(Span s) : Expr(ExprKind::ArrayLit, s) {}
};

// `Name{ f: e, ... }`, also `Result{ val: v, err: e, is_error: b }`.
struct StructLitExpr : Expr {
  std::string name;
  Span nameSpan;
  std::vector<FieldInit> fields;
  StructDecl *decl = nullptr; // null for Result{...}
  StructLitExpr(Span s) : Expr(ExprKind::StructLit, s) {}
};

// `is (cond) : a : b` (LANGUAGE-2 A8): `a` when `cond` holds, else `b`;
// only the chosen branch is evaluated.
struct IsExpr : Expr {
  ExprPtr cond, ifTrue, ifFalse;
  IsExpr(Span s) : Expr(ExprKind::Is, s) {}
};

// `$`: the counter of the innermost enclosing `loop`/`till` (the checker
// resolves it; a forward declaration: LoopStmt is a statement).
struct LoopStmt;
struct CounterExpr : Expr {
  const LoopStmt *loop = nullptr;
  CounterExpr(Span s) : Expr(ExprKind::Counter, s) {}
};

// `@sizeof(T)` / `@alignof(T)` (LANGUAGE-2 A6): an `int64` constant.
struct LayoutExpr : Expr {
  bool align = false; // `@alignof`
  TypeExpr type;
  uint64_t value = 0; // set by the checker
  LayoutExpr(Span s) : Expr(ExprKind::Layout, s) {}
};

// `x++` / `x--` where a value is expected: the increment is a statement
// (LANGUAGE-2 A8), so the checker refuses this node (NPK-T008). As a
// statement of its own the parser makes it an AssignStmt instead.
struct IncDecExpr : Expr {
  ExprPtr operand;
  bool decrement = false;
  Span opSpan;
  IncDecExpr(Span s) : Expr(ExprKind::IncDec, s) {}
};

// Placeholder for an expression that failed to parse; silences follow-ons.
struct ErrorExpr : Expr {
  ErrorExpr(Span s) : Expr(ExprKind::Error, s) {}
};

// ---- statements ------------------------------------------------------------------

enum class StmtKind : uint8_t {
#define STMT(Kind) Kind,
#include "ast/AST.def"
};

// Every statement kind describes itself here, once. The walker (ast/Walk.cpp),
// the dumper (ast/Dump.cpp) and the phases that ask about a statement's
// control flow or scopes dispatch on AST.def to these members, so a new kind
// is its entry in AST.def and its node here (a missing member is a compile
// error where it is asked for):
//   parts(v)      its own expressions, `v.expr(e)`, in evaluation order, and
//                 its sub-statements, `v.stmt(s)`, in order (either may be
//                 null; the visitor skips those);
//   leaving()     the statement that keeps control from falling through this
//                 one (itself, or a jump inside it), or null (leavingStatement);
//   breaksOut()   whether it holds a `break` of the loop around it, not one of
//                 a nested loop (breaksOutOfLoop);
//   handedOn()    the expression whose value it hands to a binding or to the
//                 caller, or null (an allocation there is bound, not lost);
//   opensScope    whether the bindings declared in it live in a scope of their
//                 own (NPK-W004);
//   whyLeaves()   NPK-W003's reason when it is the leaving statement;
//   dump(d)       its `--emit=ast` form, through the dumper's `d.line`,
//                 `d.expr`, `d.type`, `d.quals`, `d.child` and `d.indented`.
struct Stmt {
  StmtKind kind;
  Span span;
  explicit Stmt(StmtKind k, Span s) : kind(k), span(s) {}
  virtual ~Stmt() = default;
};
using StmtPtr = std::unique_ptr<Stmt>;

// The operator as written in source ("+", "<<", "&&", ...).
const char *binaryText(BinaryOp op);
// Control flow read off the tree alone (the checker's NPK-R008 and
// narrowing, the unreachable-code warning); defined in ast/Walk.cpp, and the
// nodes' leaving() and breaksOut() recurse through them:
// whether `s` holds a `break` of the loop whose body holds `s` (not one of a
// nested loop);
bool breaksOutOfLoop(const Stmt &s);
// the statement that keeps control from falling through `s` to the next one
// (a jump, possibly inside a nested block; an `if` whose branches all leave;
// a loop that never ends), or null when `s` may fall through.
const Stmt *leavingStatement(const Stmt &s);

// A statement that never leaves and holds no statement.
struct SimpleStmt : Stmt {
  using Stmt::Stmt;
  const Stmt *leaving() const { return nullptr; }
  bool breaksOut() const { return false; }
  const Expr *handedOn() const { return nullptr; }
  static constexpr bool opensScope = false;
  const char *whyLeaves() const { return "control leaves the block here"; }
};

// A jump: control never falls through it.
struct JumpStmt : Stmt {
  using Stmt::Stmt;
  const Stmt *leaving() const { return this; }
  bool breaksOut() const { return false; }
  const Expr *handedOn() const { return nullptr; }
  static constexpr bool opensScope = false;
};

struct BlockStmt : Stmt {
  std::vector<StmtPtr> stmts;
  Span closeSpan; // the closing brace
  BlockStmt(Span s) : Stmt(StmtKind::Block, s) {}
  template <class V> void parts(V &v) const {
    for (auto &st : stmts) v.stmt(st.get());
  }
  const Stmt *leaving() const {
    for (auto &st : stmts)
      if (const Stmt *jump = leavingStatement(*st)) return jump;
    return nullptr;
  }
  bool breaksOut() const {
    for (auto &st : stmts)
      if (breaksOutOfLoop(*st)) return true;
    return false;
  }
  const Expr *handedOn() const { return nullptr; }
  static constexpr bool opensScope = true;
  const char *whyLeaves() const { return "control leaves the block here"; }
  template <class D> void dump(D &d) const {
    d.line("block");
    for (auto &st : stmts) d.child(st.get());
  }
};

struct VarDeclStmt : SimpleStmt {
  TypeExpr type;
  Binding binding;
  ExprPtr init; // may be null: zero-initialised
  VarDeclStmt(Span s) : SimpleStmt(StmtKind::VarDecl, s) {}
  template <class V> void parts(V &v) const { v.expr(init.get()); }
  const Expr *handedOn() const { return init.get(); }
  template <class D> void dump(D &d) const {
    d.line("let " + (binding.isConst ? std::string("const ") : d.quals(binding.quals)) + d.type(type) + ":" +
           binding.name + (init ? " = " + d.expr(init.get()) : ""));
  }
};

struct ExprStmt : SimpleStmt {
  ExprPtr expr;
  ExprStmt(Span s, ExprPtr e) : SimpleStmt(StmtKind::Expr, s), expr(std::move(e)) {}
  template <class V> void parts(V &v) const { v.expr(expr.get()); }
  template <class D> void dump(D &d) const { d.line("expr " + d.expr(expr.get())); }
};

// `target op= value`; op is nullopt-like via `compound == false`.
// `x++;` / `x--;` are `x += 1;` / `x -= 1;` with `increment` set (the value
// is the literal 1 at the operator).
struct AssignStmt : SimpleStmt {
  ExprPtr target, value;
  bool compound = false;
  bool increment = false;
  BinaryOp op = BinaryOp::Add;
  AssignStmt(Span s) : SimpleStmt(StmtKind::Assign, s) {}
  template <class V> void parts(V &v) const { // the value is evaluated first
    v.expr(value.get());
    v.expr(target.get());
  }
  // A plain assignment to a name binds the value; one through a field, an
  // element or a pointer does not.
  const Expr *handedOn() const {
    return !compound && target && target->kind == ExprKind::Name ? value.get() : nullptr;
  }
  template <class D> void dump(D &d) const {
    if (increment) {
      d.line(std::string(op == BinaryOp::Sub ? "decrement " : "increment ") + d.expr(target.get()));
      return;
    }
    d.line("assign" + std::string(compound ? binaryText(op) : "") + " " + d.expr(target.get()) + " " +
           d.expr(value.get()));
  }
};

struct IfStmt : Stmt {
  ExprPtr cond;
  std::unique_ptr<BlockStmt> thenBlock;
  StmtPtr elseStmt; // BlockStmt or IfStmt, or null
  IfStmt(Span s) : Stmt(StmtKind::If, s) {}
  template <class V> void parts(V &v) const {
    v.expr(cond.get());
    v.stmt(thenBlock.get());
    v.stmt(elseStmt.get());
  }
  const Stmt *leaving() const {
    return elseStmt && leavingStatement(*thenBlock) && leavingStatement(*elseStmt) ? this : nullptr;
  }
  bool breaksOut() const { return breaksOutOfLoop(*thenBlock) || (elseStmt && breaksOutOfLoop(*elseStmt)); }
  const Expr *handedOn() const { return nullptr; }
  static constexpr bool opensScope = false;
  const char *whyLeaves() const { return "every branch of this `if` leaves the block"; }
  template <class D> void dump(D &d) const {
    d.line("if " + d.expr(cond.get()));
    d.child(thenBlock.get());
    if (elseStmt) {
      d.line("else");
      d.child(elseStmt.get());
    }
  }
};

// `while (c) body`, or `when (c) body then T end E` (LANGUAGE-2 A4): T runs
// when `c` turns false after at least one round, E when `c` is false at the
// first test or the body ends with `break`.
struct WhileStmt : Stmt {
  ExprPtr cond;
  std::unique_ptr<BlockStmt> body;
  bool when = false;
  std::unique_ptr<BlockStmt> thenBlock, endBlock; // `when` only; each may be null
  WhileStmt(Span s) : Stmt(StmtKind::While, s) {}
  template <class V> void parts(V &v) const {
    v.expr(cond.get());
    v.stmt(body.get());
    v.stmt(thenBlock.get());
    v.stmt(endBlock.get());
  }
  // `while (true)` without a `break` of its own never ends.
  const Stmt *leaving() const {
    bool forever = cond && cond->kind == ExprKind::BoolLit && static_cast<const BoolLitExpr &>(*cond).value;
    return forever && body && !breaksOutOfLoop(*body) ? this : nullptr;
  }
  // A `break` in the body leaves this loop; one in `then`/`end`, the loop around it.
  bool breaksOut() const {
    return (thenBlock && breaksOutOfLoop(*thenBlock)) || (endBlock && breaksOutOfLoop(*endBlock));
  }
  const Expr *handedOn() const { return nullptr; }
  static constexpr bool opensScope = false;
  const char *whyLeaves() const { return "this loop has no `break`: it ends only by leaving the function"; }
  template <class D> void dump(D &d) const {
    d.line((when ? "when " : "while ") + d.expr(cond.get()));
    d.child(body.get());
    if (thenBlock) {
      d.line("then");
      d.child(thenBlock.get());
    }
    if (endBlock) {
      d.line("end");
      d.child(endBlock.get());
    }
  }
};

// `for (init; cond; step) body` — init/step may be null; cond null = true.
struct ForStmt : Stmt {
  StmtPtr init;
  ExprPtr cond;
  StmtPtr step;
  std::unique_ptr<BlockStmt> body;
  ForStmt(Span s) : Stmt(StmtKind::For, s) {}
  template <class V> void parts(V &v) const {
    v.expr(cond.get());
    v.stmt(init.get());
    v.stmt(body.get());
    v.stmt(step.get());
  }
  const Stmt *leaving() const { return !cond && !breaksOutOfLoop(*body) ? this : nullptr; }
  bool breaksOut() const { return false; } // a `break` inside leaves this loop
  const Expr *handedOn() const { return nullptr; }
  static constexpr bool opensScope = true; // the init's binding lives around the loop
  const char *whyLeaves() const { return "this loop has no `break`: it ends only by leaving the function"; }
  template <class D> void dump(D &d) const {
    d.line("for " + d.expr(cond.get()));
    d.child(init.get());
    d.child(step.get());
    d.child(body.get());
  }
};

// `loop(start, limit, step) body` and `till(limit, step) body` (LANGUAGE-2
// A4): the operands are evaluated once; `$` counts from start towards the
// exclusive limit by step in either direction. `till` has no start (0).
struct LoopStmt : Stmt {
  ExprPtr start; // null for `till`
  ExprPtr limit, step;
  std::unique_ptr<BlockStmt> body;
  const Ty *counterTy = nullptr; // the counter's type (checker)
  LoopStmt(Span s) : Stmt(StmtKind::Loop, s) {}
  template <class V> void parts(V &v) const { // evaluated once, left to right, before the first round
    v.expr(start.get());
    v.expr(limit.get());
    v.expr(step.get());
    v.stmt(body.get());
  }
  const Stmt *leaving() const { return nullptr; } // always ends
  bool breaksOut() const { return false; }        // a `break` inside leaves this loop
  const Expr *handedOn() const { return nullptr; }
  static constexpr bool opensScope = false;
  const char *whyLeaves() const { return "control leaves the block here"; } // not reached: leaving() is null
  template <class D> void dump(D &d) const {
    d.line("loop " + (start ? d.expr(start.get()) : std::string("0")) + " " + d.expr(limit.get()) + " " +
           d.expr(step.get()));
    d.child(body.get());
  }
};

// One arm of a `pick` (LANGUAGE-2 A3): `[label:] (pattern) { body }`. The
// pattern is `*`, a constant `lo`, or a range `lo..hi` / `lo...hi`.
struct PickArm {
  Span span;      // the pattern, `(` to `)`
  std::string label;
  Span labelSpan; // invalid without a label
  bool wildcard = false;
  ExprPtr lo, hi; // hi: ranges only
  bool exclusive = false; // `lo...hi`
  std::unique_ptr<BlockStmt> body;
  // Set by the checker: the values this arm is tested for, those no earlier
  // arm matches (inclusive, disjoint, ascending; bool: 0 false, 1 true),
  // and whether a `fall` enters it.
  std::vector<std::pair<__int128, __int128>> matches;
  bool fallenInto = false;
};

// `pick (selector) { arm, ... }` (LANGUAGE-2 A3): the selector is evaluated
// once, the first arm whose pattern matches runs, then control goes on after
// the `pick`.
struct PickStmt : Stmt {
  ExprPtr selector;
  std::vector<PickArm> arms;
  const Ty *selectorTy = nullptr; // checker: an integer type or bool; null if in error
  PickStmt(Span s) : Stmt(StmtKind::Pick, s) {}
  // Patterns are constants: they are never evaluated.
  template <class V> void parts(V &v) const {
    v.expr(selector.get());
    for (const PickArm &arm : arms) v.stmt(arm.body.get());
  }
  // Every arm leaves, or falls into a later arm, which leaves too (the
  // checker rejects a non-exhaustive `pick`, so some arm always runs).
  const Stmt *leaving() const {
    for (const PickArm &arm : arms)
      if (!arm.body || !leavingStatement(*arm.body)) return nullptr;
    return arms.empty() ? nullptr : this;
  }
  bool breaksOut() const { // not a loop: a `break` in an arm leaves the loop around it
    for (const PickArm &arm : arms)
      if (arm.body && breaksOutOfLoop(*arm.body)) return true;
    return false;
  }
  const Expr *handedOn() const { return nullptr; }
  static constexpr bool opensScope = false;
  const char *whyLeaves() const { return "every arm of this `pick` leaves the block"; }
  template <class D> void dump(D &d) const {
    d.line("pick " + d.expr(selector.get()));
    d.indented([&] {
      for (const PickArm &arm : arms) {
        std::string pattern = arm.wildcard ? "*" : d.expr(arm.lo.get());
        if (arm.hi) pattern += (arm.exclusive ? "..." : "..") + d.expr(arm.hi.get());
        d.line("arm " + (arm.label.empty() ? std::string() : arm.label + ": ") + "(" + pattern + ")");
        d.child(arm.body.get());
      }
    });
  }
};

// `fall label;`: leaves the arm and enters a later arm of the innermost
// `pick` without testing its pattern.
struct FallStmt : JumpStmt {
  std::string label;
  Span labelSpan;
  const PickStmt *pick = nullptr; // checker: the target is pick->arms[arm]
  size_t arm = 0;
  FallStmt(Span s) : JumpStmt(StmtKind::Fall, s) {}
  template <class V> void parts(V &) const {}
  const char *whyLeaves() const { return "`fall` goes to another arm of the `pick` here"; }
  template <class D> void dump(D &d) const { d.line("fall " + label); }
};

struct BreakStmt : JumpStmt {
  BreakStmt(Span s) : JumpStmt(StmtKind::Break, s) {}
  template <class V> void parts(V &) const {}
  bool breaksOut() const { return true; }
  const char *whyLeaves() const { return "`break` leaves the loop here"; }
  template <class D> void dump(D &d) const { d.line("break"); }
};
struct ContinueStmt : JumpStmt {
  ContinueStmt(Span s) : JumpStmt(StmtKind::Continue, s) {}
  template <class V> void parts(V &) const {}
  const char *whyLeaves() const { return "`continue` goes to the loop's next round here"; }
  template <class D> void dump(D &d) const { d.line("continue"); }
};
// `pass [expr];`, or `pass NIL;` (LANGUAGE-2 A8: `pass;` in a `NIL` function).
struct PassStmt : JumpStmt {
  ExprPtr value;
  bool nil = false; // written `pass NIL;` (value is null)
  PassStmt(Span s) : JumpStmt(StmtKind::Pass, s) {}
  template <class V> void parts(V &v) const { v.expr(value.get()); }
  const Expr *handedOn() const { return value.get(); }
  const char *whyLeaves() const { return "`pass` leaves the function here"; }
  template <class D> void dump(D &d) const { d.line("pass" + (value ? " " + d.expr(value.get()) : std::string())); }
};
struct FailStmt : JumpStmt {
  ExprPtr code;
  FailStmt(Span s) : JumpStmt(StmtKind::Fail, s) {}
  template <class V> void parts(V &v) const { v.expr(code.get()); }
  const char *whyLeaves() const { return "`fail` leaves the function here"; }
  template <class D> void dump(D &d) const { d.line("fail " + d.expr(code.get())); }
};
// `return expr;` where expr is normally `Result{...}`.
struct ReturnStmt : JumpStmt {
  ExprPtr value;
  ReturnStmt(Span s) : JumpStmt(StmtKind::Return, s) {}
  template <class V> void parts(V &v) const { v.expr(value.get()); }
  const Expr *handedOn() const { return value.get(); }
  const char *whyLeaves() const { return "`return` leaves the function here"; }
  template <class D> void dump(D &d) const { d.line("return " + d.expr(value.get())); }
};
struct ExitStmt : JumpStmt {
  ExprPtr status;
  ExitStmt(Span s) : JumpStmt(StmtKind::Exit, s) {}
  template <class V> void parts(V &v) const { v.expr(status.get()); }
  const char *whyLeaves() const { return "`exit` ends the program here"; }
  template <class D> void dump(D &d) const { d.line("exit " + d.expr(status.get())); }
};
// `defer { ... }` or `defer stmt;`: its body runs at the scope's exits, not
// here, so control falls through it.
struct DeferStmt : SimpleStmt {
  StmtPtr body;
  DeferStmt(Span s) : SimpleStmt(StmtKind::Defer, s) {}
  template <class V> void parts(V &v) const { v.stmt(body.get()); }
  template <class D> void dump(D &d) const {
    d.line("defer");
    d.child(body.get());
  }
};
struct ErrorStmt : SimpleStmt {
  ErrorStmt(Span s) : SimpleStmt(StmtKind::Error, s) {}
  template <class V> void parts(V &) const {}
  template <class D> void dump(D &d) const { d.line("<error>"); }
};

// Calls `f(node)` with `s` as its own node type (one case per AST.def entry).
template <class F> decltype(auto) visitStmt(const Stmt &s, F &&f) {
  switch (s.kind) {
#define STMT(Kind)                                                                                                     \
  case StmtKind::Kind: return f(static_cast<const Kind##Stmt &>(s));
#include "ast/AST.def"
  }
  return f(static_cast<const ErrorStmt &>(s)); // not reached: the switch names every kind
}

// ---- declarations ----------------------------------------------------------------

struct Param {
  TypeExpr type;
  Binding binding;
};

struct FuncDecl {
  Span span;     // the whole declaration
  Span nameSpan;
  std::string name;       // as written (`free`)
  std::string symbol;     // link name (`Jit_free`, `main` -> `npk_main`)
  std::string typeBlock;  // enclosing `Type:` block name, or empty
  bool isPub = false;
  uint8_t retQuals = QualNone;
  TypeExpr retType;
  std::vector<std::unique_ptr<Param>> params;
  std::unique_ptr<BlockStmt> body;
  Module *module = nullptr;
  // Set by the checker.
  const Ty *ret = nullptr;       // declared T (the function yields Result<T>)
  unsigned bindingCount = 0;     // dense Binding ids 0..n-1
  bool isMain = false;
  bool isFailsafe = false;
  bool isDropImpl = false;       // `impl:Drop:for:T` method
};

// One parameter of an extern signature: `{wild|wildx|const} CType:name`.
struct ExternParam {
  Span span; // qualifiers to name
  uint8_t quals = QualNone;
  TypeExpr type;
  std::string name;
};
// `extern func:NAME = Sig;`, or one `[pub] func:NAME = Sig;` of an
// `extern "label" { ... }` block (LANGUAGE-2 A1.1): both forms build this.
struct ExternDecl {
  Span span;
  Span nameSpan;
  std::string name; // the C symbol, unmangled
  std::string label; // the block's label; empty for the flat form
  bool isPub = false;
  uint8_t retQuals = QualNone; // `wild` (C family), `wildx` (W^X) or `const` (documentation)
  TypeExpr retType;
  std::vector<ExternParam> params;
  bool variadic = false; // `..?` after the named parameters
  Span variadicSpan;
  Module *module = nullptr;
  // Named like a builtin (`free`, `print`, ...): the declaring module's own,
  // which means the C function there; importers keep the builtin (A1.5).
  bool shadowsBuiltin = false;
  // Set by the checker.
  const Ty *ret = nullptr; // `void` and `NIL` are both Nil-like (Ty::isNil)
  std::vector<const Ty *> paramTys;
};

struct FieldDecl {
  Span span;
  TypeExpr type;
  std::string name;
  const Ty *ty = nullptr;
};
struct StructDecl {
  Span span;
  Span nameSpan;
  std::string name;
  bool isPub = false;
  std::vector<FieldDecl> fields;
  Module *module = nullptr;
  const Ty *ty = nullptr;
  FuncDecl *dropFn = nullptr; // impl:Drop:for:Name, if any
};

// A value computed at compile time (LANGUAGE-2 A5): what a module-level
// binding holds before `main` runs. The checker computes it once; the
// lowering turns it into static data of the binding's type.
struct ConstValue {
  enum class Kind : uint8_t { Zero, Int, Float, Bool, String, Null, Aggregate, Func } kind = Kind::Zero;
  __int128 i = 0;
  double f = 0;
  std::string s;
  std::vector<ConstValue> elems;  // Aggregate: a struct's fields in declaration order, an array's elements
  FuncDecl *func = nullptr;       // Func: `@f`
  ExternDecl *ext = nullptr;      // Func: `@e` of an extern
};

// `[pub] [const | fixed] T:name [= expr];` at the top level (LANGUAGE-2 A5).
struct GlobalDecl {
  enum class Kind : uint8_t { Var, Fixed, Const };
  Span span;
  Kind kind = Kind::Var;
  bool isPub = false;
  std::unique_ptr<VarDeclStmt> decl; // type, name, qualifiers as written, initializer
  Module *module = nullptr;
  // Set by the checker.
  enum class State : uint8_t { Unchecked, Checking, Done } state = State::Unchecked;
  ConstValue value;
  std::string symbol; // the name of its static storage (not a C symbol)
  const std::string &name() const { return decl->binding.name; }
  const Ty *ty() const { return decl->binding.ty; }
};

struct TypeBlockDecl {
  Span span;
  Span nameSpan;
  std::string name;
  bool isPub = false;
  std::vector<std::unique_ptr<FuncDecl>> members;
};

// `impl:Trait:for:Target = { func... };`
struct ImplDecl {
  Span span;
  std::string trait;
  Span traitSpan;
  std::string target;
  Span targetSpan;
  std::vector<std::unique_ptr<FuncDecl>> methods;
};

struct UseDecl {
  Span span;
  Span pathSpan;
  std::string path;
  Module *resolved = nullptr;
};

struct Module {
  uint32_t fileId = 0;
  std::string path;       // canonical path
  std::string name;       // file name, e.g. "jit.npk"
  bool isMain = false;
  bool dropEnabled = false; // imports drop.npk (directly)
  std::vector<UseDecl> uses;
  std::vector<std::unique_ptr<ExternDecl>> externs;
  std::vector<std::unique_ptr<StructDecl>> structs;
  std::vector<std::unique_ptr<TypeBlockDecl>> typeBlocks;
  std::vector<std::unique_ptr<FuncDecl>> funcs;
  std::vector<std::unique_ptr<ImplDecl>> impls;
  std::vector<std::unique_ptr<GlobalDecl>> globals;
};

// Downcast helpers: `as<CallExpr>(e)` is null when the kind differs.
template <typename T> struct KindOf;
#define EXPR(Kind) \
  struct Kind##Expr; \
  template <> struct KindOf<Kind##Expr> { static constexpr ExprKind value = ExprKind::Kind; };
#include "ast/AST.def"
#define STMT(Kind) \
  struct Kind##Stmt; \
  template <> struct KindOf<Kind##Stmt> { static constexpr StmtKind value = StmtKind::Kind; };
#include "ast/AST.def"

template <typename T> T *as(Expr *e) { return e && e->kind == KindOf<T>::value ? static_cast<T *>(e) : nullptr; }
template <typename T> const T *as(const Expr *e) {
  return e && e->kind == KindOf<T>::value ? static_cast<const T *>(e) : nullptr;
}
template <typename T> T *as(Stmt *s) { return s && s->kind == KindOf<T>::value ? static_cast<T *>(s) : nullptr; }
template <typename T> const T *as(const Stmt *s) {
  return s && s->kind == KindOf<T>::value ? static_cast<const T *>(s) : nullptr;
}

// Whether an annotated expression denotes storage: a binding, `p[i]`, `<-p`,
// or a field of one of those (or reached through a pointer).
bool isLvalue(const Expr &e);

// Prints the tree for `--emit=ast`.
std::string dumpModule(const Module &m);
// One expression as `--emit=ast` prints it (`(+ a b)`); where `hook`
// returns a text for a part, that text stands for the part.
using ExprTextHook = std::function<std::string(const Expr &)>;
std::string exprText(const Expr &e, const ExprTextHook &hook = {});
} // namespace npk
