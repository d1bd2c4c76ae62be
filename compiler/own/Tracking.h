// What the ownership phase follows, asked of the typed AST alone: which
// bindings carry an ownership obligation, which calls release them (the
// deallocator naming rule of LANGUAGE.md §6.2), which expressions allocate,
// and which automatic releases (drop.npk, `impl:Drop`) a local gets. Nothing
// here knows about paths; the CFG builder asks these questions while it walks
// a function, so the checker and the drop planner share one set of rules.
#pragma once

#include "ast/AST.h"
#include "ast/Walk.h"
#include "nir/NIR.h"

#include <functional>
#include <string_view>
#include <vector>

namespace npk::own {

using DropKind = nir::DropKind;

// One automatic release of a binding at the end of its scope.
struct DropAction {
  const Binding *binding = nullptr;
  DropKind kind = DropKind::Free;
  FuncDecl *userDrop = nullptr; // UserDrop only
};

// One binding of a function, as the analysis sees it.
struct TrackedBinding {
  const Binding *binding = nullptr;
  Span declSpan;                     // the declaration statement (a parameter: its name)
  bool checked = false;              // ARIA-014/015/022 apply to it
  std::vector<DropAction> autoDrops; // run at scope end while owned, in this order
  bool autoReleased = false;         // autoDrops release its memory (drop.npk): it never leaks
  bool moves = false;                // a struct value with a destructor: copying it moves it (§6.4)
  // A plain pointer that borrows from checked bindings (`int8->:q = p;`, a
  // copy of another borrow, or through a transfer of an owner's allocation):
  // using it after the release of the owner it points into is ARIA-015.
  // `owner` is the first possible owner (null: not a borrow); `slots` has one
  // borrow slot per possible owner.
  const Binding *owner = nullptr;
  std::vector<unsigned> slots;
  // Of an owner: the borrow slots of the pointers that may borrow from it.
  std::vector<unsigned> borrowers;
  // A borrow slot (an entry past the function's bindings, binding == null):
  // its state says whether `borrow` points into what `slotOwner` holds
  // (kBorrowed), into what it held and released (kFreed), or neither.
  bool isSlot = false;
  unsigned borrow = 0, slotOwner = 0;
  bool hasDrops() const { return !autoDrops.empty(); }
  bool followed() const { return checked || hasDrops() || owner; }
  // A scope-end drop settles the binding: its memory is released, or it is a
  // plain struct value whose destructor is all there is to run.
  bool settledByDrop() const { return autoReleased || !checked; }
};

// Indexed by Binding::id, then the borrow slots; bindings nobody follows
// have followed() == false.
using BindingTable = std::vector<TrackedBinding>;

// The slot of `borrow` for `owner`, or table.size() when it cannot borrow from it.
unsigned borrowSlot(const BindingTable &table, unsigned borrow, unsigned owner);
// A pointer that may borrow (TrackedBinding::owner set, not checked itself).
bool isBorrowing(const TrackedBinding &tb);

BindingTable collectBindings(const FuncDecl &f);

// A struct value that owns a destructor: its type has `impl:Drop`, or a field
// (by value, at any depth) does; also a `Result<T>` of such a `T`. Such a
// value moves instead of being copied.
bool movesByValue(const Ty *ty);
// Whether dropping a value of `ty` may release memory its fields point to: a
// destructor (of the struct or of a field's struct by value) passes a field
// of its `self` to a deallocator. Decided once per struct, on its
// declaration's destructor.
bool destructorReleasesFields(const Ty *ty);
// A place whose value its owner still drops: a `$$i`/`$$m` parameter (the
// caller's), a field of a struct value (its struct's), an element of an
// array value (its array's), a `wild S:x` heap struct. Memory behind a raw pointer (`p[i]`, `<-p`, `p.f`) is managed by
// hand and is not such a place.
bool keepsItsValue(const Expr &place);

// A `Result{...}` literal whose `is_error` is the constant `true`: its `val`
// reaches no one (the caller cannot read `.value` of an error), so an owned
// value there is not handed on.
bool isErrorResultLiteral(const Expr &e);

using npk::isDeallocatorName; // ast/AST.h: the naming rule of LANGUAGE.md §6.2
// A call of a deallocator by name; a call through a function value never
// releases (LANGUAGE-2 A7), whatever the value is called.
bool isDeallocatorCall(const CallExpr &call);
// The parameter a function owns: a deallocator's (by its name) first
// `wild`/`wildx` pointer parameter, which it must release on every path.
// Every other `wild`/`wildx` parameter is borrowed from the caller. Null when
// `f` is not a deallocator or has no such parameter.
const Binding *ownedParam(const FuncDecl &f);
// The bare local name a deallocator call releases (its first argument), or null.
const NameExpr *releasedName(const CallExpr &call);
// The `wild`/`wildx` qualifiers of a call of a function declared to return a
// `wild`/`wildx` pointer (possibly under `raw`, `? default` or a cast), or 0.
uint8_t wildResultQuals(const Expr &e);

// Allocation families (LANGUAGE-2.md A1.5): the allocator a block of memory
// came from decides which deallocators may release it. A set of families is
// a bit mask.
enum Family : uint8_t {
  FamilyNone = 0,
  FamilyWildHeap = 1, // `alloc`, functions returning `wild`
  FamilyWildx = 2,    // `wildx_alloc`, `Jit.compile_*`, functions returning `wildx`
  FamilyC = 4,        // `wild` extern returns: C's heap (malloc, strdup, a library's allocator)
  FamilyAny = FamilyWildHeap | FamilyWildx | FamilyC,
};
// The allocating call `e` is (under `raw`, `? default` or a pointer cast), or null.
const CallExpr *allocatingCall(const Expr &e);
// The family of the memory an allocating expression yields, or FamilyNone.
Family allocationFamily(const Expr &e);
// The family a `wild`/`wildx` qualifier names, or FamilyNone (`wild`: the
// wild heap, as messages name it).
Family qualifierFamily(uint8_t quals);
// The families a `wild`/`wildx` binding or parameter may hold: `wild` the
// wild heap or C's (a `wild` local may keep `strdup`'s result, A1.5),
// `wildx` W^X.
uint8_t qualifierFamilies(uint8_t quals);
// The families a deallocator call may release: builtin `free` the wild heap,
// `wildx_free` W^X, an extern deallocator C, and a deallocator with a body
// the families of its owned parameter's qualifier (`Jit.free(wildx ...)`
// W^X, a `wild` parameter the wild heap and C; any for a plain pointer
// parameter).
uint8_t releasableFamilies(const CallExpr &call);
// "wild-heap memory", "W^X memory", "C-heap memory".
const char *familyText(Family f);
// `free`, `wildx_free`: the builtin that releases the family.
const char *familyReleaser(Family f);
// "release it with `free(p);`" and the like: how to release `pointer` of
// family `f` in module `m` (C-heap memory: through a C deallocator, which
// `free` is where `m` declares libc's).
std::string familyReleaseHelp(Family f, const std::string &pointer, const Module *m);
// The extern `m` itself declares under `name` (a builtin's name included), or null.
const ExternDecl *moduleExtern(const Module *m, std::string_view name);

// Every allocation inside `s` that no binding keeps and no `pass`/`return`
// passes out: `releasedBy` is the deallocator it goes straight to (the
// caller checks the family), or null when its pointer is lost.
using AllocationVisitor = std::function<void(const CallExpr &alloc, const CallExpr *releasedBy)>;
void forEachUnboundAllocation(const Stmt &s, const AllocationVisitor &f);

// What assigning `value` (null: no initializer) does to a followed binding.
enum class InitKind : uint8_t {
  Null,     // holds no allocation (`NULL`, zero-initialised)
  Owned,    // a new allocation the binding must release
  Unowned,  // a pointer someone else owns
  Transfer, // `wild q = p;`: ownership moves from `p` to `q`
  Borrow,   // `int8->:q = p;`: `q` points into what its owner `p` holds
  Lent,     // a `wild`/`wildx` parameter of a non-deallocator: the caller's allocation
};
InitKind classifyInit(const Expr *value, const Binding &dest, const BindingTable &table);

// `p` or `p => T->`: the binding a pointer value copies, or null.
const Binding *copiedPointer(const Expr *value);
// Every binding a pointer value may point into, in source order without
// repeats: `p` and its pointer casts; both sides of `? default`; and the
// result of a call declared to return a plain pointer, which may be any
// pointer argument it was given (`raw id(p)`, a C `strchr(s, c)`), so it
// points into whatever those arguments may point into; a struct literal and
// a field of a value point where their parts do.
std::vector<const Binding *> pointerSources(const Expr *value);
// The local whose value a store to `place` changes: `s` of `s` and of
// `s.a.b` (fields of a value); null for memory behind a pointer.
const Binding *storedInto(const Expr *place);
// The local a bare name refers to, if the table follows it.
const TrackedBinding *followedName(const Expr *e, const BindingTable &table);

// The generic walkers live in ast/Walk.h.
using npk::forEachChildExpr;
using npk::forEachChildStmt;
using npk::forEachExprIn;
using npk::forEachOwnExpr;
using npk::walkExprs;
using npk::walkStmts;
// Every deallocator call anywhere inside `s`.
void forEachRelease(const Stmt &s, const std::function<void(const CallExpr &)> &f);

} // namespace npk::own
