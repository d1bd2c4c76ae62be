// The control-flow graph the ownership phase analyses, read off the NIR of
// one function (nir/NIR.h): one CFG block per NIR block (expressions that
// skip code, `&&`, `||`, `is` and `? default`, are NIR blocks too). A block
// holds ownership events in execution order (an allocation, a use, a
// release, a move). Every way out of
// a scope — a block's end, `pass`, `fail`, `return`, `exit`, `break`,
// `continue` — is an ExitSite, and its effects appear on that path in the
// order the lowering emits them: the automatic drops, then the defer bodies
// (inlined once per exit, so a `defer wildx_free(p);` discharges `p` on every
// later exit), then the leak check of the bindings whose scope ends. Branch
// edges carry the condition they decide, which lets the analysis refine
// `p == NULL` and name the path in a diagnostic's note.
#pragma once

#include "nir/NIR.h"
#include "own/Tracking.h"

#include <vector>

namespace npk::own {

enum class EventKind : uint8_t {
  Init,      // binding gets a value (declaration or assignment); see InitKind
  Use,       // binding is read, indexed, passed or written through
  Release,   // a deallocator call releases the binding
  Move,      // `pass b;` / `return b;`, or a struct value that moves (§6.4): ownership leaves with the value
  DropPoint, // the site's automatic drops run (drop.npk, impl:Drop)
  Leave,     // the site's bindings go out of scope: leak check
};

struct Event {
  EventKind kind = EventKind::Use;
  unsigned binding = 0;          // Init, Use, Release, Move: Binding::id
  unsigned site = 0;             // DropPoint, Leave: index into Cfg::sites
  Span span;                     // where it happens
  Span runsAt;                   // where it runs in source order: inside a defer body, the exit that runs it
  const Expr *expr = nullptr;    // Use/Move: the name; Release: the call; Init: the value (may be null)
  InitKind init = InitKind::Null;
  unsigned source = 0;           // Init Transfer: the binding ownership comes from
  // Init Borrow: the owners and borrows the pointer copies, as
  // pointerSources finds them (`q = p;` one; `q = raw pick_one(p, r);` two).
  std::vector<unsigned> sources;
  // Init Borrow by a store to a field (`s.ptr = p;`): adds to what the
  // binding may point into instead of replacing it.
  bool partial = false;
  bool overwrites = false;       // Init by assignment: the old value is lost
  std::string movedTo;           // Move of a struct value: where it went ("to `b`"), for diagnostics
  unsigned nirBlock = 0, nirInst = 0; // the NIR instruction it comes from (drop elaboration writes there)
  // Release through a borrowing pointer (`free(q)` of `int8->:q = p;`):
  // releases the owner `binding` when `through` still borrows from it.
  bool viaBorrow = false;
  unsigned through = 0;
  // Use of a pointer the function passes out (`pass q;` of a borrow, `pass p
  // => T->;`): `afterExit` is the caller's use, after the drops and defers.
  bool passedOut = false;
  bool afterExit = false;
};

enum class SiteKind : uint8_t { BlockEnd, FunctionEnd, Detached, Pass, Fail, Return, Exit, Break, Continue, Fall };

// A way out of one or more scopes.
struct ExitSite {
  SiteKind kind = SiteKind::BlockEnd;
  const Stmt *stmt = nullptr;        // the exit statement (pass, fail, ..., continue)
  const BlockStmt *block = nullptr;  // BlockEnd: the block that ends
  Span span;                         // the statement, or the block's closing brace
  std::vector<unsigned> bindings;    // whose scope ends here, in drop order
  std::vector<unsigned> deferReleased; // released by a defer registered at this exit (`exit`: not run)
  bool releasedByDefer(unsigned id) const;
};

// A branch decision: `cond` evaluated to `value`.
struct Decision {
  const Expr *cond = nullptr;
  bool value = false;
};

struct Edge {
  unsigned from = 0, to = 0;
  Decision branch;                 // set on the two edges of a condition
  const Stmt *loop = nullptr;      // set on a loop's entry and back edges
  bool loopBack = false;           // from the end of an iteration to the next
  std::vector<unsigned> knownNull; // bindings this branch proves to be NULL
};

struct CfgBlock {
  std::vector<Event> events;
  std::vector<unsigned> preds, succs; // edge indices
  Decision context;                   // the innermost branch this block was built under
};

// A struct value with a destructor copied out of a place that keeps its own
// copy and drops it: a borrowed parameter, a field, a `wild S:x` heap struct.
struct MoveOutOfPlace {
  const Expr *value = nullptr;
  std::string movedTo; // as Event::movedTo
};

// `@p` of a binding the checker follows (NPK-O005).
struct AddressOfOwned {
  const Expr *at = nullptr; // the `@p` expression
  unsigned binding = 0;
};

// An allocation bound to an unqualified pointer (NPK-O008).
struct PlainOwner {
  const Expr *value = nullptr; // the allocating value
  const Binding *binding = nullptr;
  Span at;                     // the declaration or assignment
  bool assigned = false;       // by assignment, not at the declaration
};

// Tracked memory stored into a struct value whose destructor releases its
// fields (NPK-O009): the checker does not follow it there.
struct IntoDestructor {
  const Expr *value = nullptr; // the stored value
  const StructDecl *decl = nullptr;
  unsigned source = 0;         // the tracked binding it points into
};

struct Cfg {
  const FuncDecl *func = nullptr;
  BindingTable bindings;
  std::vector<MoveOutOfPlace> movesOutOfPlace; // in source order, once each
  std::vector<AddressOfOwned> addressesOfOwned; // in source order, once each
  std::vector<PlainOwner> plainOwners;          // in source order, once each
  std::vector<IntoDestructor> intoDestructors;  // in source order, once each
  std::vector<CfgBlock> blocks; // blocks[0] is the entry
  std::vector<Edge> edges;
  std::vector<ExitSite> sites;
};

Cfg buildCfg(const nir::Func &f);
// The same for a function whose NIR is not kept (tests).
Cfg buildCfg(const FuncDecl &f);

} // namespace npk::own
