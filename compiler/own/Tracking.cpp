#include "own/Tracking.h"

#include "ast/Walk.h"

#include "check/Types.h"

#include <algorithm>
#include <set>
#include <unordered_set>

namespace npk::own {

namespace {

// `raw f()`, `f() ? d` and `f() => T` yield what `f()` yields.
const Expr *stripValueWrappers(const Expr *e) {
  while (e) {
    if (auto *r = as<RawExpr>(e)) e = r->operand.get();
    else if (auto *d = as<DefaultExpr>(e)) e = d->operand.get();
    else if (auto *c = as<CastExpr>(e)) e = c->operand.get();
    else break;
  }
  return e;
}

bool isBuiltinCall(const Expr *e, Builtin which) {
  auto *call = as<CallExpr>(e);
  return call && call->builtin == which;
}

bool isWild(const Binding &b) { return b.quals & (QualWild | QualWildx); }

// The family is decided by the callee's declaration: the builtin, or the
// `wild`/`wildx` of a function's or an extern's return type (a `wild`
// extern hands over C-heap memory, LANGUAGE-2 A1.5).
Family callFamily(const CallExpr &call) {
  if (call.builtin == Builtin::Alloc) return FamilyWildHeap;
  if (call.builtin == Builtin::WildxAlloc) return FamilyWildx;
  if (call.ext) return call.ext->retQuals & QualWildx ? FamilyWildx : call.ext->retQuals & QualWild ? FamilyC : FamilyNone;
  return call.func ? qualifierFamily(call.func->retQuals) : FamilyNone;
}

// What becomes of the value of an expression: kept (bound, passed out, or
// given to `release`, a deallocator) or lost.
struct Keep {
  bool kept = false;
  const CallExpr *release = nullptr;
};

void visitValue(const Expr &e, Keep keep, const AllocationVisitor &f);

// A call's own arguments: the first one of a deallocator is released, every
// other one is only read.
void visitCall(const CallExpr &call, Keep keep, const AllocationVisitor &f) {
  Family family = callFamily(call);
  if (family != FamilyNone && (!keep.kept || keep.release)) f(call, keep.release);
  bool releases = family == FamilyNone && isDeallocatorCall(call);
  for (size_t i = 0; i < call.args.size(); ++i)
    if (call.args[i]) visitValue(*call.args[i], releases && i == 0 ? Keep{true, &call} : Keep{}, f);
}

// `raw`, `? default` and a cast to a pointer hand the value on; the `val` of
// a `Result{...}` literal leaves with it. Everything else (an operand, a
// comparison, a cast to an integer, `drop`, a field) consumes it.
void visitValue(const Expr &e, Keep keep, const AllocationVisitor &f) {
  auto handOn = [&](const ExprPtr &child) {
    if (child) visitValue(*child, keep, f);
  };
  switch (e.kind) {
  case ExprKind::Call: return visitCall(static_cast<const CallExpr &>(e), keep, f);
  case ExprKind::Raw: return handOn(static_cast<const RawExpr &>(e).operand);
  case ExprKind::Default: {
    auto &d = static_cast<const DefaultExpr &>(e);
    handOn(d.operand);
    handOn(d.fallback);
    return;
  }
  case ExprKind::Is: {
    auto &i = static_cast<const IsExpr &>(e);
    if (i.cond) visitValue(*i.cond, Keep{}, f);
    handOn(i.ifTrue);
    handOn(i.ifFalse);
    return;
  }
  case ExprKind::Cast:
    if (e.ty && e.ty->isPtr()) return handOn(static_cast<const CastExpr &>(e).operand);
    break;
  case ExprKind::StructLit: {
    auto &lit = static_cast<const StructLitExpr &>(e);
    if (lit.decl) break;
    bool handsOn = !isErrorResultLiteral(lit);
    for (const FieldInit &fi : lit.fields)
      if (fi.value) visitValue(*fi.value, fi.name == "val" && handsOn ? keep : Keep{}, f);
    return;
  }
  case ExprKind::ArrayLit: // an element of an array is not followed (LANGUAGE-2 A2)
  case ExprKind::IntLit:
  case ExprKind::FloatLit:
  case ExprKind::BoolLit:
  case ExprKind::StringLit:
  case ExprKind::Template:
  case ExprKind::NullLit:
  case ExprKind::Name:
  case ExprKind::Unary:
  case ExprKind::Binary:
  case ExprKind::Index:
  case ExprKind::Member:
  case ExprKind::Drop:
  case ExprKind::IncDec:
  case ExprKind::Layout:
  case ExprKind::Counter:
  case ExprKind::Error: break;
  }
  forEachChildExpr(e, [&](const Expr &child) { visitValue(child, Keep{}, f); });
}

DropAction dropOf(const Binding &b, DropKind kind, FuncDecl *userDrop = nullptr) {
  DropAction a;
  a.binding = &b;
  a.kind = kind;
  a.userDrop = userDrop;
  return a;
}

bool isBorrow(const Binding &b) { return b.quals & (QualBorrowMut | QualBorrowImm); }

// Whether a destructor is reachable through fields by value. Each struct is
// visited once, so a (refused) recursive struct cannot make this loop.
bool reachesDestructor(const Ty *ty, std::unordered_set<const StructDecl *> &visited) {
  if (ty && ty->isResult()) return reachesDestructor(ty->resultValue(), visited);
  if (ty && ty->isArray()) return reachesDestructor(ty->element(), visited); // each element is dropped
  if (!ty || !ty->isStruct() || !ty->decl || !visited.insert(ty->decl).second) return false;
  if (ty->decl->dropFn) return true;
  for (const FieldDecl &f : ty->decl->fields)
    if (reachesDestructor(f.ty, visited)) return true;
  return false;
}

// A struct value with a destructor (§6.4): its destructor, then its fields'.
void addValueDrop(const Binding &b, TrackedBinding &tb) {
  if (!movesByValue(b.ty)) return;
  tb.autoDrops.push_back(dropOf(b, DropKind::UserDrop, b.ty->decl ? b.ty->decl->dropFn : nullptr));
  tb.moves = !b.heapStruct;
}

// LANGUAGE.md §6.3 (drop.npk, per module) and §6.4 (`impl:Drop`, everywhere).
void addAutoDrops(const VarDeclStmt &decl, bool dropEnabled, TrackedBinding &tb) {
  const Binding &b = decl.binding;
  addValueDrop(b, tb);
  if (!dropEnabled || !decl.init) return;
  const Expr *init = decl.init.get();
  // drop.npk never releases what an extern returns (A1.5): C-heap memory
  // goes back through C, and a `wildx` extern's page through the program.
  if (const CallExpr *alloc = allocatingCall(*init); alloc && alloc->ext) return;
  DropKind kind;
  if (b.heapStruct) kind = DropKind::Free;
  // The allocating call's declaration decides: a function declared to return
  // `wildx` (Jit.compile_*, Jit.module_new, ...) or `wild` hands its caller an
  // allocation of that family, released like the builtin's.
  else if ((b.quals & QualWildx) && (isBuiltinCall(init, Builtin::WildxAlloc) || (wildResultQuals(*init) & QualWildx)))
    kind = DropKind::WildxFree;
  else if ((b.quals & QualWild) && (isBuiltinCall(init, Builtin::Alloc) || (wildResultQuals(*init) & QualWild)))
    kind = DropKind::Free;
  else return;
  tb.autoDrops.push_back(dropOf(b, kind));
  tb.autoReleased = true;
}

TrackedBinding &slotFor(BindingTable &table, const Binding &b) {
  if (b.id >= table.size()) table.resize(b.id + 1);
  TrackedBinding &tb = table[b.id];
  tb.binding = &b;
  if (!tb.declSpan.valid()) tb.declSpan = b.span;
  return tb;
}

// Marks the borrows: an unqualified pointer that copies a checked binding
// borrows from it, a copy of a borrow borrows from what that borrow may, and
// a borrow of an owner whose allocation moves to another checked binding
// (`wild int8->:m = p;`) may then borrow from that one. Each possible owner
// gets a borrow slot past the bindings, so the analysis can follow which
// owner the pointer points into on each path.
void markBorrows(BindingTable &table, const std::vector<std::pair<const Binding *, const Binding *>> &copies) {
  size_t n = table.size();
  auto live = [&](const Binding *b) { return b->id < n && table[b->id].binding == b; };
  auto plain = [&](const Binding *b) {
    const TrackedBinding &tb = table[b->id];
    return live(b) && !tb.checked && !tb.hasDrops() && !isWild(*b);
  };
  auto checked = [&](const Binding *b) { return live(b) && table[b->id].checked; };
  std::vector<std::set<unsigned>> owners(n);
  bool grew = true;
  while (grew) {
    grew = false;
    for (auto [dest, src] : copies) {
      std::set<unsigned> add;
      if (plain(dest) && checked(src)) add.insert(src->id);
      else if (plain(dest) && plain(src)) add = owners[src->id];
      if (!add.empty()) {
        size_t before = owners[dest->id].size();
        owners[dest->id].insert(add.begin(), add.end());
        grew |= owners[dest->id].size() != before;
      }
      // A transfer: every pointer that may borrow from `src` may borrow from `dest`.
      if (checked(dest) && checked(src))
        for (std::set<unsigned> &o : owners)
          if (o.count(src->id) && o.insert(dest->id).second) grew = true;
    }
  }
  for (size_t id = 0; id < n; ++id) {
    if (owners[id].empty()) continue;
    for (unsigned owner : owners[id]) {
      TrackedBinding slot;
      slot.isSlot = true;
      slot.borrow = static_cast<unsigned>(id);
      slot.slotOwner = owner;
      unsigned slotId = static_cast<unsigned>(table.size());
      table.push_back(slot);
      table[id].slots.push_back(slotId);
      table[owner].borrowers.push_back(slotId);
    }
    table[id].owner = table[*owners[id].begin()].binding;
  }
}

} // namespace

namespace {
bool releasesFields(const Ty *ty, std::unordered_set<const StructDecl *> &visited) {
  if (ty && ty->isArray()) return releasesFields(ty->element(), visited);
  if (!ty || !ty->isStruct() || !ty->decl || !visited.insert(ty->decl).second) return false;
  if (const FuncDecl *drop = ty->decl->dropFn; drop && drop->body && !drop->params.empty()) {
    const Binding *self = &drop->params[0]->binding;
    bool found = false;
    forEachExprIn(*drop->body, [&](const Expr &e) {
      auto *call = as<CallExpr>(&e);
      if (found || !call || call->args.empty() || !call->args[0] || !isDeallocatorCall(*call)) return;
      walkExprs(*call->args[0], [&](const Expr &a) {
        if (auto *n = as<NameExpr>(&a); n && n->binding == self) found = true;
      });
    });
    if (found) return true;
  }
  for (const FieldDecl &f : ty->decl->fields)
    if (releasesFields(f.ty, visited)) return true;
  return false;
}
} // namespace

bool destructorReleasesFields(const Ty *ty) {
  std::unordered_set<const StructDecl *> visited;
  return releasesFields(ty, visited);
}

bool movesByValue(const Ty *ty) {
  std::unordered_set<const StructDecl *> visited;
  return reachesDestructor(ty, visited);
}

bool isErrorResultLiteral(const Expr &e) {
  auto *lit = as<StructLitExpr>(&e);
  if (!lit || lit->decl) return false;
  for (const FieldInit &fi : lit->fields) {
    if (fi.name != "is_error" || !fi.value) continue;
    auto *b = as<BoolLitExpr>(fi.value.get());
    return b && b->value;
  }
  return false;
}

bool keepsItsValue(const Expr &place) {
  if (auto *m = as<MemberExpr>(&place)) {
    const Expr *base = m->base.get();
    if (auto *n = as<NameExpr>(base)) return n->binding && n->binding->ty && n->binding->ty->isStruct();
    return base && (as<MemberExpr>(base) || as<IndexExpr>(base)) && keepsItsValue(*base);
  }
  if (auto *ix = as<IndexExpr>(&place)) { // an element of an array value (not `p[i]` through a pointer)
    const Expr *base = ix->base.get();
    if (!base || !base->ty || !base->ty->isArray()) return false;
    if (auto *n = as<NameExpr>(base)) return n->binding != nullptr;
    return keepsItsValue(*base);
  }
  auto *n = as<NameExpr>(&place);
  return n && n->binding && (n->binding->heapStruct || isBorrow(*n->binding));
}

const Binding *ownedParam(const FuncDecl &f) {
  if (!isDeallocatorName(f.name)) return nullptr;
  for (auto &p : f.params)
    if (isWild(p->binding) && p->binding.ty && p->binding.ty->isPtr()) return &p->binding;
  for (auto &p : f.params)
    if (p->binding.ty && p->binding.ty->isPtr()) return &p->binding;
  return nullptr;
}

bool isDeallocatorCall(const CallExpr &call) {
  return !call.throughValue() && isDeallocatorName(call.calleeName());
}

const NameExpr *releasedName(const CallExpr &call) {
  if (call.args.empty() || !isDeallocatorCall(call)) return nullptr;
  auto *n = as<NameExpr>(call.args[0].get());
  return n && n->binding ? n : nullptr;
}

uint8_t wildResultQuals(const Expr &e) {
  auto *call = as<CallExpr>(stripValueWrappers(&e));
  if (call && call->ext) return call->ext->retQuals & (QualWild | QualWildx);
  return call && call->func ? call->func->retQuals & (QualWild | QualWildx) : 0;
}

Family qualifierFamily(uint8_t quals) {
  if (quals & QualWildx) return FamilyWildx;
  if (quals & QualWild) return FamilyWildHeap;
  return FamilyNone;
}

uint8_t qualifierFamilies(uint8_t quals) {
  if (quals & QualWildx) return FamilyWildx;
  if (quals & QualWild) return FamilyWildHeap | FamilyC;
  return FamilyNone;
}

const CallExpr *allocatingCall(const Expr &e) {
  const Expr *v = &e;
  while (true) {
    if (auto *r = as<RawExpr>(v)) v = r->operand.get();
    else if (auto *d = as<DefaultExpr>(v)) v = d->operand.get();
    else if (auto *c = as<CastExpr>(v); c && c->ty && c->ty->isPtr()) v = c->operand.get();
    else break;
    if (!v) return nullptr;
  }
  auto *call = as<CallExpr>(v);
  return call && callFamily(*call) != FamilyNone ? call : nullptr;
}

Family allocationFamily(const Expr &e) {
  const CallExpr *call = allocatingCall(e);
  return call ? callFamily(*call) : FamilyNone;
}

uint8_t releasableFamilies(const CallExpr &call) {
  if (call.builtin == Builtin::Free) return FamilyWildHeap;
  if (call.builtin == Builtin::WildxFree) return FamilyWildx;
  if (call.ext) return FamilyC;
  // A deallocator with a body releases the families its owned parameter is
  // declared with (Jit.free's `wildx`; `wild`: the wild heap or C's, which
  // a `wild` parameter may hold); one taking a plain pointer, any.
  if (const Binding *owned = call.func ? ownedParam(*call.func) : nullptr)
    if (uint8_t f = qualifierFamilies(owned->quals); f != FamilyNone) return f;
  return FamilyAny;
}

const char *familyText(Family f) {
  switch (f) {
  case FamilyWildHeap: return "wild-heap memory";
  case FamilyWildx: return "W^X memory";
  case FamilyC: return "C-heap memory";
  default: return "memory";
  }
}

const char *familyReleaser(Family f) { return f == FamilyWildx ? "wildx_free" : "free"; }

const ExternDecl *moduleExtern(const Module *m, std::string_view name) {
  if (!m) return nullptr;
  for (auto &e : m->externs)
    if (e->name == name) return e.get();
  return nullptr;
}

std::string familyReleaseHelp(Family f, const std::string &pointer, const Module *m) {
  if (f == FamilyC) {
    if (moduleExtern(m, "free")) return "release it with `free(" + pointer + ");` (libc's, declared in this module)";
    return "release it with a C deallocator, such as libc's `free` declared in this module "
           "(`extern func:free = void(wild ?*:ptr);`, then `free(" + pointer + ");`)";
  }
  std::string help = "release it with `" + std::string(familyReleaser(f)) + "(" + pointer + ");`";
  if (f == FamilyWildx) help += " or `drop Jit.free(" + pointer + ");`";
  return help;
}

void forEachUnboundAllocation(const Stmt &s, const AllocationVisitor &f) {
  walkStmts(s, [&](const Stmt &st) {
    const Expr *kept = handedOnValue(st); // the root whose value a binding or the caller receives
    forEachOwnExpr(st, [&](const Expr &root) { visitValue(root, Keep{&root == kept, nullptr}, f); });
  });
}

const Binding *copiedPointer(const Expr *value) {
  while (auto *c = as<CastExpr>(value)) {
    if (!c->ty || !c->ty->isPtr()) return nullptr;
    value = c->operand.get();
  }
  auto *n = as<NameExpr>(value);
  return n ? n->binding : nullptr;
}

namespace {
void addPointerSources(const Expr *value, std::vector<const Binding *> &out) {
  while (true) {
    if (auto *r = as<RawExpr>(value)) value = r->operand.get();
    // A pointer cast, and the conversion of JIT code to a function value
    // (LANGUAGE-2 A7.1), point where their operand does.
    else if (auto *c = as<CastExpr>(value); c && c->ty && (c->ty->isPtr() || c->ty->isFunc())) value = c->operand.get();
    else break;
  }
  if (auto *n = as<NameExpr>(value)) {
    if (n->binding && std::find(out.begin(), out.end(), n->binding) == out.end()) out.push_back(n->binding);
  } else if (auto *d = as<DefaultExpr>(value)) {
    addPointerSources(d->operand.get(), out);
    addPointerSources(d->fallback.get(), out);
  } else if (auto *is = as<IsExpr>(value)) {
    addPointerSources(is->ifTrue.get(), out);
    addPointerSources(is->ifFalse.get(), out);
  } else if (auto *lit = as<StructLitExpr>(value)) {
    for (const FieldInit &f : lit->fields) addPointerSources(f.value.get(), out);
  } else if (auto *m = as<MemberExpr>(value); m && !m->throughPointer && m->target != MemberTarget::TypeMember) {
    addPointerSources(m->base.get(), out); // a field of a value holds what the value may point into
  } else if (auto *call = as<CallExpr>(value); call && (call->func || call->ext || call->calleeTy) && !wildResultQuals(*call) && call->ty) {
    const Ty *result = call->ty->isResult() ? call->ty->resultValue() : call->ty; // what `raw` yields
    if (!result || !result->isPtr()) return;
    for (const ExprPtr &arg : call->args)
      if (arg && arg->ty && arg->ty->isPtr()) addPointerSources(arg.get(), out);
  }
}
} // namespace

const Binding *storedInto(const Expr *place) {
  while (auto *m = as<MemberExpr>(place)) {
    if (m->throughPointer || m->target != MemberTarget::Field) return nullptr;
    place = m->base.get();
  }
  auto *n = as<NameExpr>(place);
  return n ? n->binding : nullptr;
}

std::vector<const Binding *> pointerSources(const Expr *value) {
  std::vector<const Binding *> out;
  addPointerSources(value, out);
  return out;
}

unsigned borrowSlot(const BindingTable &table, unsigned borrow, unsigned owner) {
  if (borrow >= table.size()) return static_cast<unsigned>(table.size());
  for (unsigned slot : table[borrow].slots)
    if (table[slot].slotOwner == owner) return slot;
  return static_cast<unsigned>(table.size());
}

bool isBorrowing(const TrackedBinding &tb) { return tb.owner && !tb.checked; }

const TrackedBinding *followedName(const Expr *e, const BindingTable &table) {
  auto *n = as<NameExpr>(e);
  if (!n || !n->binding || n->binding->id >= table.size()) return nullptr;
  const TrackedBinding &tb = table[n->binding->id];
  return tb.binding == n->binding && tb.followed() ? &tb : nullptr;
}

InitKind classifyInit(const Expr *value, const Binding &dest, const BindingTable &table) {
  const TrackedBinding *self = dest.id < table.size() ? &table[dest.id] : nullptr;
  if (self && isBorrowing(*self)) {
    const Expr *v = stripValueWrappers(value);
    if (!v || as<NullLitExpr>(v)) return InitKind::Null;
    for (const Binding *src : pointerSources(value)) {
      bool fromOwner = borrowSlot(table, dest.id, src->id) < table.size();
      bool fromBorrow = src->id < table.size() && table[src->id].binding == src && isBorrowing(table[src->id]);
      if (fromOwner || fromBorrow) return InitKind::Borrow;
    }
    return InitKind::Unowned;
  }
  if (dest.heapStruct || (dest.ty && dest.ty->isStruct()) || movesByValue(dest.ty)) return InitKind::Owned;
  const Expr *v = stripValueWrappers(value);
  if (!v || as<NullLitExpr>(v)) return InitKind::Null;
  if (isWild(dest)) {
    const TrackedBinding *src = followedName(value, table);
    if (src && src->checked && src->binding != &dest) return InitKind::Transfer;
  }
  if (isWild(dest)) return InitKind::Owned;
  return InitKind::Unowned;
}

BindingTable collectBindings(const FuncDecl &f) {
  BindingTable table(f.bindingCount);
  for (auto &p : f.params) {
    TrackedBinding &tb = slotFor(table, p->binding);
    // Every pointer parameter is the caller's (a plain one as much as a
    // `wild` one): freeing it or handing it on as an owner is refused.
    tb.checked = p->binding.ty && p->binding.ty->isPtr() && !p->binding.heapStruct;
    // A struct passed by value moved into the callee, which drops it; a
    // destructor's own `self` is the value being destroyed.
    if (!isBorrow(p->binding) && !f.isDropImpl) addValueDrop(p->binding, tb);
  }
  if (!f.body) return table;
  bool dropEnabled = f.module && f.module->dropEnabled;
  std::vector<std::pair<const Binding *, const Binding *>> pointerCopies; // (dest, source)
  auto notePointerCopy = [&](const Binding &dest, const Expr *value) {
    if (!dest.ty || !(dest.ty->isPtr() || dest.ty->isFunc() || dest.ty->isStruct() || dest.ty->isResult())) return;
    for (const Binding *src : pointerSources(value))
      if (src != &dest) pointerCopies.push_back({&dest, src});
  };
  walkStmts(*f.body, [&](const Stmt &s) {
    if (auto *decl = as<VarDeclStmt>(&s)) {
      TrackedBinding &tb = slotFor(table, decl->binding);
      tb.declSpan = decl->span;
      tb.checked = isWild(decl->binding);
      addAutoDrops(*decl, dropEnabled, tb);
      notePointerCopy(decl->binding, decl->init.get());
    } else if (auto *assign = as<AssignStmt>(&s)) {
      const Binding *target = storedInto(assign->target.get());
      if (target && !assign->compound) notePointerCopy(*target, assign->value.get());
    }
  });
  markBorrows(table, pointerCopies);
  return table;
}

void forEachRelease(const Stmt &s, const std::function<void(const CallExpr &)> &f) {
  forEachExprIn(s, [&](const Expr &e) {
    if (auto *call = as<CallExpr>(&e); call && releasedName(*call)) f(*call);
  });
}

} // namespace npk::own
