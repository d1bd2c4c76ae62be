// NIR: the typed, per-function control-flow IR between checking and
// lowering. nir/Build.cpp builds it once from the checked AST; every later
// phase reads it: the ownership checker takes its events from it, drop
// elaboration writes drops and drop flags into it, and the lowering
// translates it block by block, instruction by instruction.
//
// What is explicit here and implicit in the AST:
//  - control flow: basic blocks ending in one terminator (`br`, `condbr`,
//    `ret`, `exit`, `unreachable`, `falloff`);
//  - scopes: every way out of a scope (a block's end, `pass`, `fail`,
//    `return`, `exit`, `break`, `continue`) is a `scope.exit` / `scope.end`
//    pair around the code that runs there, with the bindings that go out of
//    scope in drop order;
//  - defers: each defer body is expanded once at every exit that runs it;
//  - evaluation order between statements and their parts: a value that a
//    statement consumes is computed by its own `eval` into a numbered
//    temporary before the statement's effects (drops, stores, defers) run;
//  - drops and drop flags: `drop` and `flag` instructions, placed by drop
//    elaboration (own/DropPlanner.cpp).
//  - expressions, flattened: each operand of an expression is evaluated
//    first, in evaluation order, by its own `eval` (Use::Part) into a
//    temporary; the instruction that consumes it names it in its `subs` and
//    reads the temporary. An `eval` computes one operation of its operands
//    (a place operand, `a[i]` say, is the address of its own operands'
//    temporaries). A move or a release is at the instruction of the name it
//    moves (`clears(b)`), a call at its own instruction;
//  - control flow inside expressions: `&&`, `||`, `is` and `? default`
//    become blocks, with a `phi` where the paths meet.
// Each instruction carries its type and source span.
#pragma once

#include "ast/AST.h"

#include <functional>
#include <string>
#include <vector>

namespace npk {
struct Program;
namespace nir {

enum class Op : uint8_t {
#define NIR_OP(Name, Text) Name,
#include "nir/Ops.def"
};
const char *opText(Op op);

// How an automatic drop releases its binding.
enum class DropKind : uint8_t {
  WildxFree, // npk_wildx_free(binding)
  Free,      // npk_free(binding)  (also `wild S:x` heap structs)
  UserDrop,  // T_drop(@binding)   (`impl:Drop:for:T`), fields after
};

// The kinds of scope exit (see NIR.h's header comment).
enum class ExitKind : uint8_t { BlockEnd, FunctionEnd, Detached, Pass, Fail, Return, Exit, Break, Continue, Fall };

// What the statement does with an `eval`'s value.
enum class Use : uint8_t {
  Operand, // read: a condition, a `fail` code, an `exit` status
  Discard, // an expression statement: no one owns the value after it
  Bind,    // the initial value of the `let` that follows (stmt: the declaration)
  Store,   // the value of the `store` that follows (stmt: the assignment)
  Return,  // the value `pass`/`return` hands to the caller
  Part,    // a part of a later instruction's expression, evaluated first (it names the part in its subs)
};

using Temp = unsigned;
constexpr Temp kNoTemp = ~0u;

// One case of a `switch`: the operand's values lo..hi (inclusive; a bool is
// 0/1) go to `target`. The cases of one `switch` are disjoint.
struct SwitchCase {
  __int128 lo = 0, hi = 0;
  unsigned target = 0;
};

struct Inst {
  Op op = Op::Eval;
  Span span;
  Span runsAt;                     // inside an expanded defer body: the exit that runs it (else invalid)
  const Ty *ty = nullptr;          // the value's type (Eval, Let, Store), or null
  Temp result = kNoTemp;           // Eval: the temporary it defines
  Use use = Use::Operand;          // Eval: what the statement does with the value
  Temp operand = kNoTemp;          // Let, Store, CondBr, Ret, Exit, Unwrap, Phi: the value used
  Temp other = kNoTemp;            // Phi: the value from elseTarget
  // The parts of this instruction's expressions evaluated before it:
  // Func::subs[subsBegin, subsBegin + subsCount). A phi names its
  // expression's operands there (for the ownership phase).
  uint32_t subsBegin = 0, subsCount = 0;
  Temp counts[3] = {kNoTemp, kNoTemp, kNoTemp}; // CountInit: start (none: `till`, 0), limit, step
  const Expr *expr = nullptr;      // Eval: the expression; Store, Update: the target place (Update: its old value is a sub)
  const Expr *value = nullptr;     // Store: the stored value's expression; Update: the value (its parts are subs)
  const Stmt *stmt = nullptr;      // the statement it comes from (Eval of a statement, Ret, Exit, Store)
  const Binding *binding = nullptr; // Param, Let, Drop, Flag
  bool discard = false;            // Eval: the value has no owner after it (an expression statement)
  bool compound = false;           // Store: `target op= value`
  bool onError = false;            // CondBr: operand is a Result; to target when it holds an error
  BinaryOp compoundOp = BinaryOp::Add;
  // Drop
  DropKind dropKind = DropKind::Free;
  const FuncDecl *userDrop = nullptr;
  bool guarded = false;            // Drop: test the binding's drop flag first
  bool flagValue = false;          // Flag: the value stored
  // Scope exits
  unsigned site = 0;               // ScopeExit, ScopeEnd: index into Func::sites
  // Terminators
  unsigned target = 0, elseTarget = 0; // Br / CondBr successors, Phi predecessors (block indices)
  std::vector<SwitchCase> cases;       // Switch (expr: the selector, operand: its value)
  bool exhaustive = false;             // Switch: the cases hold every value; elseTarget is unused
  ExitKind leave = ExitKind::Pass;     // Ret: which statement returns
  const Stmt *loop = nullptr;          // Br, CondBr: the loop whose entry or back edge this is
  bool loopBack = false;               // Br: from the end of an iteration (or `continue`) to the next
  // Where a binding that has a drop flag stops owning (drop elaboration
  // fills it): in an Eval, the flag turns false right after the listed
  // expression (a release, a move); after a Let or a Store, once it is done
  // (a transfer to the new binding).
  std::vector<std::pair<const Expr *, const Binding *>> clearsFlag;

  bool isTerminator() const;
};

// A branch decision: `cond` evaluated to `value`.
struct Decision {
  const Expr *cond = nullptr;
  bool value = false;
};

struct Block {
  std::string name;   // the label, as the lowering names the LLVM block
  std::vector<Inst> insts; // the last one is the terminator
  Decision context;   // the innermost branch this block was built under
  bool dead = false;  // code after a jump or an exit: no edge reaches it
  const Inst &terminator() const { return insts.back(); }
};

// A way out of one or more scopes; `scope.exit` and `scope.end` name it.
struct ExitSite {
  ExitKind kind = ExitKind::BlockEnd;
  const Stmt *stmt = nullptr;       // the exit statement (pass, fail, ..., continue)
  const BlockStmt *block = nullptr; // BlockEnd: the block that ends
  Span span;                        // the statement, or the block's closing brace
  std::vector<const Binding *> bindings; // whose scope ends here, in drop order
  std::vector<const CallExpr *> deferReleases; // the calls in the defer bodies registered at this exit
  bool runsDefers = false;          // the defer bodies follow the `scope.exit`
};

// A part of an expression evaluated before the instruction that consumes it.
struct Sub {
  const Expr *expr = nullptr;
  Temp temp = kNoTemp;
};

struct Func {
  const FuncDecl *decl = nullptr;
  std::vector<Block> blocks; // blocks[0] is the entry
  std::vector<ExitSite> sites;
  std::vector<Sub> subs;     // Inst::subsBegin/subsCount index here
  // The temporary `in` reads for `e`, when `e` was evaluated before it.
  Temp subFor(const Inst &in, const Expr &e) const {
    for (uint32_t i = in.subsBegin; i < in.subsBegin + in.subsCount; ++i)
      if (subs[i].expr == &e) return subs[i].temp;
    return kNoTemp;
  }
  unsigned temps = 0;        // temporaries %0..%temps-1
  bool plainReturn = false;  // never fails: returns its value without a Result (nir/ResultElision.cpp)
};

struct Module {
  std::vector<Func> funcs; // one per function with a body, in program order
  const Func *find(const FuncDecl *f) const;
  Func *find(const FuncDecl *f);
};

// Builds the NIR of every function with a body (`funcs`: the checker's
// Symbols::allFuncs order); forEachBody visits those functions in that order.
Module build(const std::vector<FuncDecl *> &funcs);
void forEachBody(const std::vector<FuncDecl *> &funcs, const std::function<void(const FuncDecl &)> &visit);
Func buildFunc(const FuncDecl &f);

// `--emit=nir`: the readable text of the module's functions (all, or those of
// `only` when it is not null).
std::string print(const Module &m, const npk::Module *only = nullptr);
std::string print(const Func &f);

} // namespace nir
} // namespace npk
