// The function builder: records one function's operations on mutable
// virtual registers, then at npk_jit_end computes liveness over its blocks,
// allocates registers by linear scan (spilling to stack slots), encodes
// x86-64 (x64_encode.h) and adds the bytes with npk_jit_module_add.
// Contract: npk/runtime.h; design: docs/runtime.md, "Builder".
#include "code_internal.h"
#include "npk/runtime.h"
#include "wildx_internal.h"
#include "x64_encode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>

// The builder's per-call fast paths are inlined into each entry point.
#define NPK_INLINE __attribute__((always_inline)) inline

namespace npkrt {

namespace {

using namespace x64;

// ---- the lists (npk/jit_ops.def, npk/jit_errors.def) ---------------------------

enum Type : uint8_t { kNone = 0, kI32 = NPK_JIT_TYPE_i32, kI64 = NPK_JIT_TYPE_i64, kF64 = NPK_JIT_TYPE_f64, kPtr = NPK_JIT_TYPE_ptr };
enum class OpClass : uint8_t { kNoOp, INT, TRAP, DIV, SHIFT, FLT, CMP, FCMP };

// Tables indexed by number, filled from the .def at compile time.
constexpr int kMaxOp = 64, kMaxMem = 16;
struct OpInfo {
  const char *name;
  OpClass cls;
};
struct OpTable {
  OpInfo ops[kMaxOp];
  constexpr OpTable() : ops{} {
#define NPK_JIT_OP(name, number, cls) ops[number] = OpInfo{#name, OpClass::cls};
#include "npk/jit_ops.def"
  }
};
constexpr OpTable kOps;
inline OpInfo op_info(int op) { return op > 0 && op < kMaxOp ? kOps.ops[op] : OpInfo{nullptr, OpClass::kNoOp}; }
struct MemInfo {
  const char *name;
  uint8_t bytes;
  bool is_signed;
  Type type;
};
struct MemTable {
  MemInfo mems[kMaxMem];
  constexpr MemTable() : mems{} {
#define NPK_JIT_MEM(name, number, bytes, is_signed, type) \
  mems[number] = MemInfo{#name, bytes, is_signed != 0, static_cast<Type>(NPK_JIT_TYPE_##type)};
#include "npk/jit_ops.def"
  }
};
constexpr MemTable kMems;
inline MemInfo mem_info(int mem) { return mem > 0 && mem < kMaxMem ? kMems.mems[mem] : MemInfo{nullptr, 0, false, kNone}; }
const char *type_name(int type) {
#define NPK_JIT_TYPE(name, number) \
  if (type == number) return #name;
#include "npk/jit_ops.def"
  return "void";
}
const char *error_reason(int32_t code) {
#define NPK_JIT_ERROR(name, number, reason) \
  if (code == number) return reason;
#include "npk/jit_errors.def"
  return "refused";
}

// ---- the recorded function -------------------------------------------------------

enum Kind : uint8_t { kEntry, kConst, kSet, kArith, kSelect, kConvert, kLoad, kStore, kLabel, kJump, kBranch, kCall, kRet };

// One recorded operation. Value and label fields hold indexes, -1 for none.
struct Ins {
  uint8_t kind;
  uint8_t op;     // kArith: the op number; kLoad/kStore: the memory kind; kCall: 0 C, 1 module, 2 itself
  uint8_t nargs;  // kCall
  uint8_t unused;
  int32_t d, a, b, c;  // kCall: a = first argument in Builder::args; kLabel/kJump: a = label; kBranch: b = label
  int64_t imm;         // constant bits, memory offset, C address or callee's module offset
};

// Locations: 0..15 general registers, 16..31 xmm registers, 32.. stack slots.
constexpr int16_t kXmm = 16, kSlot = 32, kNoLoc = -1;

struct Value {
  uint8_t type;
  int8_t param;  // parameter index, -1 otherwise
  int16_t loc;
  int32_t start, end;  // live interval over instruction indexes (start > end: never live)
  // A constant: the kConst instruction that is its only write (no
  // npk_jit_set targets it), else -1. Constants take no register: each read
  // is an immediate operand or a `mov reg, imm` where it is needed.
  int32_t konst;
};

struct Label {
  int32_t ins;   // index of its kLabel instruction, -1 until placed
  int32_t code;  // code offset, while encoding
  bool used;
};

// Ids: serial << 20 | is_label << 19 | index. The serial names the function
// (1..2047, from a process-wide counter, so ids of another function are
// refused unless 2047 functions were begun in between).
constexpr int kIndexBits = 19;
constexpr int32_t kMaxIndex = (1 << kIndexBits) - 1;
constexpr int32_t kLabelBit = 1 << kIndexBits;
std::atomic<uint32_t> g_serial{0};

struct Fixup {
  uint32_t at;  // offset of a rel32 field
  int32_t label;
};

template <class T>
__attribute__((noinline)) bool grow(T *&items, uint32_t &capacity, uint64_t need) {
  if (need > (uint64_t{1} << 30) / sizeof(T)) return false;
  uint64_t grown = capacity < 16 ? 16 : capacity;
  while (grown < need) grown *= 2;
  void *p = realloc(items, grown * sizeof(T));
  if (p == nullptr) return false;
  items = static_cast<T *>(p);
  capacity = static_cast<uint32_t>(grown);
  return true;
}

template <class T>
NPK_INLINE bool reserve(T *&items, uint32_t &capacity, uint64_t need) {
  return need <= capacity || grow(items, capacity, need);
}

}  // namespace

// All memory is kept for the module's next function: building one allocates
// nothing once the arrays have grown to fit.
struct Builder {
  bool open;
  int32_t poison;  // the code that poisoned the open function, 0 if none
  uint32_t serial;
  npk_jit_sig sig;
  uint8_t ret;
  uint8_t nparams;
  uint8_t pending;          // arguments pushed for the next call
  uint32_t ncalls, njumps, nrets;  // recorded calls, jumps and branches, returns
  uint32_t entry_live;      // values read before any write (zeroed at entry)
  int32_t pending_args[NPK_JIT_MAX_PARAMS];
  char *name;               // NULL: automatic name
  uint32_t name_cap;
  // The last signature begun, parsed and interned (most modules use few).
  char sig_text[48];
  uint8_t sig_ret, sig_params[NPK_JIT_MAX_PARAMS], sig_count;
  npk_jit_sig sig_tag;

  Ins *ins;
  uint32_t nins, ins_cap;
  Value *vals;
  uint32_t nvals, vals_cap;
  Label *labels;
  uint32_t nlabels, labels_cap;
  int32_t *args;
  uint32_t nargs, args_cap;

  // npk_jit_end's scratch.
  int32_t *block_start, *block_of_label, *succ;
  uint32_t blocks_cap, labels_map_cap, succ_cap;
  uint64_t *live;  // per block: in, out, use, def bit sets of nwords each
  uint32_t live_cap;
  int32_t *order, *count, *active, *calls_before, *free_slots;
  uint32_t order_cap, count_cap, active_cap, calls_cap, free_slots_cap;
  uint8_t *code;
  uint32_t code_cap;
  Fixup *fixups;
  uint32_t nfixups, fixups_cap;
};

void builder_destroy(Builder *b) {
  if (b == nullptr) return;
  free(b->name);
  free(b->ins);
  free(b->vals);
  free(b->labels);
  free(b->args);
  free(b->block_start);
  free(b->block_of_label);
  free(b->succ);
  free(b->live);
  free(b->order);
  free(b->count);
  free(b->active);
  free(b->calls_before);
  free(b->free_slots);
  free(b->code);
  free(b->fixups);
  free(b);
}

namespace {

// ---- refusals --------------------------------------------------------------------------

// Prints the one panic line of a refusal and poisons the open function.
int32_t refuse(Builder *b, npk_jit_module *m, const char *op, int32_t code, const char *detail = nullptr) {
  char reason[224];
  if (detail != nullptr)
    snprintf(reason, sizeof reason, "%s: %s", error_reason(code), detail);
  else
    snprintf(reason, sizeof reason, "%s", error_reason(code));
  wildx_panic(op, m, reason);
  if (b != nullptr && b->open && b->poison == 0) b->poison = code;
  return code;
}

// The last module this thread built into, valid while g_code_module_epoch
// is unchanged (no module was sealed or released since).
thread_local npk_jit_module *t_module;
thread_local Builder *t_builder;
thread_local uint64_t t_epoch;

// enter()'s path when the thread's cache misses or the call is refused.
__attribute__((noinline)) Builder *enter_slow(npk_jit_module *m, const char *op, int32_t *code, Builder *b) {
  if (b == nullptr) {
    uint64_t epoch = g_code_module_epoch.load(std::memory_order_acquire);
    Builder **slot = code_module_builder(m, code);
    if (slot == nullptr) {
      refuse(nullptr, m, op, *code);
      return nullptr;
    }
    b = *slot;
    if (b != nullptr) t_module = m, t_builder = b, t_epoch = epoch;
  }
  if (b == nullptr || !b->open) {
    *code = refuse(nullptr, m, op, NPK_ERR_JIT_NO_FUNCTION);
    return nullptr;
  }
  if (b->poison != 0) {
    char detail[64];
    snprintf(detail, sizeof detail, "function was poisoned by an earlier refusal (code %d)", b->poison);
    wildx_panic(op, m, detail);
    *code = b->poison;
    return nullptr;
  }
  return b;
}

// The builder of m with a function open, or NULL after printing why (*code).
NPK_INLINE Builder *enter(npk_jit_module *m, const char *op, int32_t *code) {
  if (m == t_module && m != nullptr && g_code_module_epoch.load(std::memory_order_acquire) == t_epoch) {
    Builder *b = t_builder;
    if (b->open && b->poison == 0) return b;
    return enter_slow(m, op, code, b);
  }
  return enter_slow(m, op, code, nullptr);
}

NPK_INLINE int32_t make_id(const Builder *b, int32_t index, bool label) {
  return static_cast<int32_t>(b->serial << (kIndexBits + 1)) | (label ? kLabelBit : 0) | index;
}

// The index of value `id`, or -1 after a refusal.
NPK_INLINE int32_t value_index(Builder *b, npk_jit_module *m, const char *op, int32_t id) {
  char detail[64];
  if (id <= 0 || (id & kLabelBit) != 0 || (id & kMaxIndex) >= static_cast<int32_t>(b->nvals) ||
      (static_cast<uint32_t>(id) >> (kIndexBits + 1)) != b->serial) {
    uint32_t serial = static_cast<uint32_t>(id) >> (kIndexBits + 1);  // 0: no function's
    bool foreign = id > 0 && serial != 0 && serial != b->serial;
    snprintf(detail, sizeof detail, "value %d", id);
    refuse(b, m, op, foreign ? NPK_ERR_JIT_FOREIGN_ID : NPK_ERR_JIT_UNKNOWN_ID, detail);
    return -1;
  }
  return id & kMaxIndex;
}

int32_t label_index(Builder *b, npk_jit_module *m, const char *op, int32_t id) {
  char detail[64];
  if (id <= 0 || (id & kLabelBit) == 0 || (id & kMaxIndex) >= static_cast<int32_t>(b->nlabels) ||
      (static_cast<uint32_t>(id) >> (kIndexBits + 1)) != b->serial) {
    uint32_t serial = static_cast<uint32_t>(id) >> (kIndexBits + 1);  // 0: no function's
    bool foreign = id > 0 && serial != 0 && serial != b->serial;
    snprintf(detail, sizeof detail, "label %d", id);
    refuse(b, m, op, foreign ? NPK_ERR_JIT_FOREIGN_ID : NPK_ERR_JIT_UNKNOWN_ID, detail);
    return -1;
  }
  return id & kMaxIndex;
}

int32_t type_refusal(Builder *b, npk_jit_module *m, const char *op, const char *what, int ta, int tb) {
  char detail[96];
  snprintf(detail, sizeof detail, "%s (%s, %s)", what, type_name(ta), type_name(tb));
  return refuse(b, m, op, NPK_ERR_JIT_TYPE, detail);
}

// ---- signatures --------------------------------------------------------------------------

// Parses a builder signature: return type (kNone for void) and parameters.
// 0, NPK_ERR_JIT_BAD_SIG or NPK_ERR_JIT_COUNT (more than 6 parameters).
int32_t parse_sig(const char *s, uint8_t *ret, uint8_t *params, uint8_t *count) {
  static const struct {
    const char *name;
    uint8_t type;
  } kTypes[] = {{"void", kNone}, {"i32", kI32}, {"i64", kI64}, {"f64", kF64}, {"ptr", kPtr}};
  auto take = [&](bool allow_void, uint8_t *type) {
    for (const auto &t : kTypes) {
      size_t n = strlen(t.name);
      if ((allow_void || t.type != kNone) && strncmp(s, t.name, n) == 0) {
        s += n;
        *type = t.type;
        return true;
      }
    }
    return false;
  };
  *count = 0;
  if (s == nullptr || !take(true, ret) || *s++ != '(') return NPK_ERR_JIT_BAD_SIG;
  if (*s == ')') return s[1] == '\0' ? 0 : NPK_ERR_JIT_BAD_SIG;
  for (;;) {
    uint8_t type;
    if (!take(false, &type)) return NPK_ERR_JIT_BAD_SIG;
    if (*count == NPK_JIT_MAX_PARAMS) {
      // Only a well-formed signature counts as too long.
      while (*s == ',' || *s == 'i' || *s == 'f' || *s == 'p' || *s == 't' || (*s >= '0' && *s <= '9')) ++s;
      return strcmp(s, ")") == 0 ? NPK_ERR_JIT_COUNT : NPK_ERR_JIT_BAD_SIG;
    }
    params[(*count)++] = type;
    if (*s == ')') return s[1] == '\0' ? 0 : NPK_ERR_JIT_BAD_SIG;
    if (*s++ != ',') return NPK_ERR_JIT_BAD_SIG;
  }
}

// ---- recording --------------------------------------------------------------------------

NPK_INLINE Ins *add_ins(Builder *b, npk_jit_module *m, const char *op, Kind kind) {
  if (!reserve(b->ins, b->ins_cap, uint64_t{b->nins} + 1)) {
    refuse(b, m, op, NPK_ERR_JIT_LIMIT, "out of memory");
    return nullptr;
  }
  Ins *in = &b->ins[b->nins++];
  *in = Ins{static_cast<uint8_t>(kind), 0, 0, 0, -1, -1, -1, -1, 0};
  return in;
}

// Live intervals of straight-line code are kept while recording (the last
// instruction recorded reads or writes the value); npk_jit_end recomputes
// them over blocks once a label exists.
NPK_INLINE void read_here(Builder *b, int32_t v) { b->vals[v].end = static_cast<int32_t>(b->nins - 1); }
NPK_INLINE void write_here(Builder *b, int32_t v) {
  Value &x = b->vals[v];
  if (x.end < 0) x.start = static_cast<int32_t>(b->nins - 1);
  x.end = static_cast<int32_t>(b->nins - 1);
}

// A new value of `type`; -1 after a refusal.
NPK_INLINE int32_t new_value(Builder *b, npk_jit_module *m, const char *op, uint8_t type) {
  if (b->nvals > static_cast<uint32_t>(kMaxIndex) || !reserve(b->vals, b->vals_cap, uint64_t{b->nvals} + 1)) {
    refuse(b, m, op, NPK_ERR_JIT_LIMIT, "too many values or out of memory");
    return -1;
  }
  b->vals[b->nvals] = Value{type, -1, kNoLoc, 0, -1, -1};
  return static_cast<int32_t>(b->nvals++);
}

// The instruction that makes a new value of `type` (its `d` set); null after
// a refusal.
NPK_INLINE Ins *add_value_ins(Builder *b, npk_jit_module *m, const char *op, Kind kind, uint8_t type) {
  int32_t d = new_value(b, m, op, type);
  if (d < 0) return nullptr;
  Ins *in = add_ins(b, m, op, kind);
  if (in != nullptr) in->d = d;
  return in;
}

// Records `d := constant` (a new value) and returns its id.
int32_t record_const(npk_jit_module *m, const char *op, uint8_t type, int64_t bits) {
  int32_t code;
  Builder *b = enter(m, op, &code);
  if (b == nullptr) return -code;
  Ins *in = add_value_ins(b, m, op, kConst, type);
  if (in == nullptr) return -b->poison;
  const int32_t d = in->d;
  in->imm = bits;
  b->vals[d].konst = static_cast<int32_t>(b->nins - 1);
  write_here(b, d);
  return make_id(b, d, false);
}

bool is_int(uint8_t t) { return t == kI32 || t == kI64; }
bool is_gpr_type(uint8_t t) { return t != kF64; }
bool is_wide(uint8_t t) { return t == kI64 || t == kPtr; }

// The result type of `a op b`, or kNone (with *what set) if the types do not fit.
uint8_t op_result(int op, uint8_t ta, uint8_t tb, const char **what) {
  OpInfo info = op_info(op);
  *what = "operands of different or unsuitable types";
  switch (info.cls) {
    case OpClass::INT:
    case OpClass::TRAP:
    case OpClass::DIV:
    case OpClass::SHIFT:
      if (ta == tb && is_int(ta)) return ta;
      if ((op == NPK_JIT_OP_add || op == NPK_JIT_OP_sub) && ta == kPtr && tb == kI64) return kPtr;
      *what = "integer operation needs two i32 or two i64 (or ptr, i64 for add and sub)";
      return kNone;
    case OpClass::FLT:
      if (ta == kF64 && tb == kF64) return kF64;
      *what = "float operation needs two f64";
      return kNone;
    case OpClass::CMP:
      if (ta == tb && ta != kF64) return kI32;
      *what = "comparison needs two i32, two i64 or two ptr";
      return kNone;
    case OpClass::FCMP:
      if (ta == kF64 && tb == kF64) return kI32;
      *what = "float comparison needs two f64";
      return kNone;
    case OpClass::kNoOp: break;
  }
  return kNone;
}

bool convertible(uint8_t to, uint8_t from) {
  if (to == from) return false;
  if (to == kPtr || from == kPtr) return to == kI64 || from == kI64;
  return true;  // among i32, i64, f64
}

// A call with the pending arguments: checks them against `sig`.
int32_t record_call(Builder *b, npk_jit_module *m, const char *op, const char *sig, uint8_t kind, int64_t target) {
  uint8_t ret, params[NPK_JIT_MAX_PARAMS], count;
  int32_t code = parse_sig(sig, &ret, params, &count);
  if (code != 0) return -refuse(b, m, op, code, sig != nullptr ? sig : "(null)");
  if (count != b->pending) {
    char detail[80];
    snprintf(detail, sizeof detail, "callee takes %d arguments, %d pushed", count, b->pending);
    return -refuse(b, m, op, NPK_ERR_JIT_COUNT, detail);
  }
  for (int i = 0; i < count; ++i) {
    uint8_t have = b->vals[b->pending_args[i]].type;
    if (have != params[i]) {
      char what[48];
      snprintf(what, sizeof what, "argument %d: callee wants, caller gives", i);
      return -type_refusal(b, m, op, what, params[i], have);
    }
  }
  if (!reserve(b->args, b->args_cap, uint64_t{b->nargs} + count)) return -refuse(b, m, op, NPK_ERR_JIT_LIMIT, "out of memory");
  int32_t d = -1;
  if (ret != kNone && (d = new_value(b, m, op, ret)) < 0) return -b->poison;
  Ins *in = add_ins(b, m, op, kCall);
  if (in == nullptr) return -b->poison;
  ++b->ncalls;
  in->op = kind;
  in->nargs = count;
  in->a = static_cast<int32_t>(b->nargs);
  in->d = d;
  in->imm = target;
  for (int i = 0; i < count; ++i) read_here(b, b->args[b->nargs++] = b->pending_args[i]);
  if (d >= 0) write_here(b, d);
  b->pending = 0;
  return d < 0 ? 0 : make_id(b, d, false);
}

// ---- npk_jit_end: blocks, liveness, allocation -------------------------------------------------

bool is_terminator(uint8_t kind) { return kind == kJump || kind == kBranch || kind == kRet; }

// Calls f(index) for every value `in` reads from a register (constants,
// which have none, are left out).
template <class F>
NPK_INLINE void for_uses(const Builder *b, const Ins &in, F &&g) {
  auto f = [&](int32_t v) {
    if (b->vals[v].konst < 0) g(v);
  };
  switch (in.kind) {
    case kSet: f(in.a); break;
    case kArith: f(in.a), f(in.b); break;
    case kSelect: f(in.c), f(in.a), f(in.b); break;
    case kConvert: f(in.a); break;
    case kLoad: f(in.a); break;
    case kStore: f(in.a), f(in.b); break;
    case kBranch: f(in.a); break;
    case kCall:
      for (int i = 0; i < in.nargs; ++i) f(b->args[in.a + i]);
      break;
    case kRet:
      if (in.a >= 0) f(in.a);
      break;
    default: break;
  }
}

constexpr int kCallerSaved[] = {RSI, RDI, R8, R9, R10};
constexpr int kCalleeSaved[] = {RBX, R12, R13, R14, R15, RBP};
constexpr int kArgGpr[] = {RDI, RSI, RDX, RCX, R8, R9};
constexpr int kAllocXmm = 14;  // xmm0..13; xmm14 and xmm15 are scratch
constexpr uint32_t mask_of(const int *regs, int n) {
  uint32_t mask = 0;
  for (int i = 0; i < n; ++i) mask |= 1u << regs[i];
  return mask;
}
constexpr uint32_t kCallerMask = mask_of(kCallerSaved, 5);
constexpr uint32_t kCalleeMask = mask_of(kCalleeSaved, 6);
constexpr uint32_t kGprAll = kCallerMask | kCalleeMask;
constexpr uint32_t kXmmAll = ((1u << kAllocXmm) - 1) << kXmm;  // as bits kXmm + x

struct Alloc {
  uint16_t callee_used;
  int32_t nslots;
  uint32_t nfree_slots;
  bool calls;  // the function calls: the stack must be aligned
};


// Linear scan over the intervals. False when out of memory.
bool allocate(Builder *b, Alloc *st) {
  uint32_t n = b->nvals, ni = b->nins;
  if (!reserve(b->order, b->order_cap, n) || !reserve(b->count, b->count_cap, uint64_t{ni} + 1) ||
      !reserve(b->active, b->active_cap, n) || !reserve(b->free_slots, b->free_slots_cap, n) ||
      !reserve(b->calls_before, b->calls_cap, uint64_t{ni} + 1))
    return false;
  // calls_before[i]: calls at instructions < i (not needed without calls).
  st->calls = b->ncalls > 0;
  if (st->calls) {
    int32_t calls = 0;
    for (uint32_t i = 0; i < ni; ++i) {
      b->calls_before[i] = calls;
      calls += b->ins[i].kind == kCall;
    }
    b->calls_before[ni] = calls;
  }
  // The live values by start. Values are made in the order of their first
  // write, so only those live before it (from a loop head or the entry) are
  // out of place: an insertion sort, unless that gets long. Straight-line
  // code with no such value is in order already.
  uint32_t live = 0;
  bool in_order = b->nlabels == 0 && b->entry_live == 0;
  if (in_order)
    for (uint32_t v = 0; v < n; ++v) {
      b->order[live] = static_cast<int32_t>(v);
      live += b->vals[v].start <= b->vals[v].end && b->vals[v].konst < 0;
    }
  uint64_t moves = 0, budget = 8 * uint64_t{n} + 64;
  for (uint32_t v = 0; v < n && !in_order && moves <= budget; ++v) {
    const Value &val = b->vals[v];
    if (val.start > val.end) continue;
    uint32_t at = live++;
    while (at > 0 && b->vals[b->order[at - 1]].start > val.start) {
      b->order[at] = b->order[at - 1];
      --at;
      ++moves;
    }
    b->order[at] = static_cast<int32_t>(v);
  }
  if (moves > budget) {
    // Counting sort by start.
    memset(b->count, 0, (ni + 1) * sizeof(int32_t));
    live = 0;
    for (uint32_t v = 0; v < n; ++v)
      if (b->vals[v].start <= b->vals[v].end) ++b->count[b->vals[v].start + 1], ++live;
    for (uint32_t i = 1; i <= ni; ++i) b->count[i] += b->count[i - 1];
    for (uint32_t v = 0; v < n; ++v)
      if (b->vals[v].start <= b->vals[v].end) b->order[b->count[b->vals[v].start]++] = static_cast<int32_t>(v);
  }

  // Registers: what each holds until when (no list to keep sorted; the
  // register files are small). An interval ending at the instruction where
  // another starts hands its register (or slot) over: every instruction
  // pattern reads its operands before it writes its result, or computes into
  // a scratch register where the result's register is an operand still to
  // be read (target_gpr). Stack slots: spilled intervals in `active`,
  // sorted by end, and a stack of free slots.
  int32_t busy_until[32], owner[32];  // valid for the registers in `occupied`
  uint32_t occupied = 0;               // bit r: general register r; bit 16 + x: xmm x
  st->callee_used = 0;
  st->nslots = 0;
  st->nfree_slots = 0;
  uint32_t nactive = 0;
  auto new_slot = [&]() -> int16_t {
    int32_t slot = st->nfree_slots > 0 ? b->free_slots[--st->nfree_slots] : st->nslots++;
    return static_cast<int16_t>(kSlot + slot);
  };
  auto add_spilled = [&](int32_t index) {
    uint32_t at = nactive++;
    while (at > 0 && b->vals[b->active[at - 1]].end > b->vals[index].end) {
      b->active[at] = b->active[at - 1];
      --at;
    }
    b->active[at] = index;
  };
  for (uint32_t k = 0; k < live; ++k) {
    int32_t index = b->order[k];
    Value &v = b->vals[index];
    // Slots of spilled intervals that ended before this one starts.
    uint32_t expired = 0;
    while (expired < nactive && b->vals[b->active[expired]].end <= v.start)
      b->free_slots[st->nfree_slots++] = b->vals[b->active[expired++]].loc - kSlot;
    if (expired != 0) {
      memmove(b->active, b->active + expired, (nactive - expired) * sizeof(int32_t));
      nactive -= expired;
    }
    bool crosses = st->calls && b->calls_before[v.end] - b->calls_before[v.start + 1] > 0;
    bool gpr = is_gpr_type(v.type);
    for (uint32_t bits = occupied; bits != 0; bits &= bits - 1) {
      int r = __builtin_ctz(bits);
      if (busy_until[r] <= v.start) occupied &= ~(1u << r);
    }
    int16_t loc = kNoLoc;
    if (gpr) {
      uint32_t free_regs = kGprAll & ~occupied & (crosses ? kCalleeMask : kGprAll);
      if (v.param >= 0 && (free_regs & (1u << kArgGpr[v.param])))
        loc = static_cast<int16_t>(kArgGpr[v.param]);  // arrives there: no move at entry
      else if (free_regs & kCallerMask)
        loc = static_cast<int16_t>(__builtin_ctz(free_regs & kCallerMask));
      else if (free_regs != 0)
        loc = static_cast<int16_t>(__builtin_ctz(free_regs));
    } else if (!crosses) {
      uint32_t free_regs = kXmmAll & ~occupied;
      if (v.param >= 0 && (free_regs & (1u << (kXmm + v.param))))
        loc = static_cast<int16_t>(kXmm + v.param);
      else if (free_regs != 0)
        loc = static_cast<int16_t>(__builtin_ctz(free_regs));
    }
    if (loc == kNoLoc && (gpr || !crosses)) {
      // Spill whichever usable interval ends last (this one, if it does).
      uint32_t candidates = occupied & (gpr ? (crosses ? kCalleeMask : kGprAll) : kXmmAll);
      int victim_loc = -1;
      for (uint32_t bits = candidates; bits != 0; bits &= bits - 1) {
        int r = __builtin_ctz(bits);
        if (victim_loc < 0 || busy_until[r] > busy_until[victim_loc]) victim_loc = r;
      }
      if (victim_loc >= 0 && busy_until[victim_loc] > v.end) {
        loc = static_cast<int16_t>(victim_loc);
        int32_t victim = owner[victim_loc];
        b->vals[victim].loc = new_slot();
        add_spilled(victim);
      }
    }
    if (loc == kNoLoc) {
      v.loc = new_slot();
      add_spilled(index);
      continue;
    }
    st->callee_used |= static_cast<uint16_t>((1u << loc) & kCalleeMask);
    occupied |= 1u << loc;
    busy_until[loc] = v.end;
    owner[loc] = index;
    v.loc = loc;
  }
  return true;
}

// Blocks, reachability and liveness; fills each value's interval. 0 or a
// refusal code.
int32_t analyse(Builder *b, npk_jit_module *m, const char *op) {
  uint32_t ni = b->nins;
  b->entry_live = 0;
  if (b->nlabels == 0) {
    // Straight-line code (no label, so no jump): one block, which must
    // return. Its intervals were kept while recording, and every value is
    // written where it is made, so none is read before written.
    if (b->nrets == 0) return refuse(b, m, op, NPK_ERR_JIT_NO_RETURN);
    return 0;
  }
  for (uint32_t v = 0; v < b->nvals; ++v) b->vals[v].start = 0, b->vals[v].end = -1;
  // Block starts: 0, every label, every instruction after a terminator.
  if (!reserve(b->block_start, b->blocks_cap, uint64_t{ni} + 2) ||
      !reserve(b->block_of_label, b->labels_map_cap, uint64_t{b->nlabels} + 1) ||
      !reserve(b->succ, b->succ_cap, uint64_t{ni} * 2 + 2))
    return refuse(b, m, op, NPK_ERR_JIT_LIMIT, "out of memory");
  uint32_t nb = 0;
  for (uint32_t i = 0; i < ni; ++i) {
    const Ins &in = b->ins[i];
    bool starts = i == 0 || in.kind == kLabel || is_terminator(b->ins[i - 1].kind);
    if (starts) b->block_start[nb++] = static_cast<int32_t>(i);
    if (in.kind == kLabel) b->block_of_label[in.a] = static_cast<int32_t>(nb - 1);
  }
  b->block_start[nb] = static_cast<int32_t>(ni);
  for (uint32_t l = 0; l < b->nlabels; ++l)
    if (b->labels[l].used && b->labels[l].ins < 0) {
      char detail[32];
      snprintf(detail, sizeof detail, "label %d", make_id(b, static_cast<int32_t>(l), true));
      return refuse(b, m, op, NPK_ERR_JIT_LABEL_UNPLACED, detail);
    }
  // Successors (-1: none; nb: falls off the end).
  for (uint32_t k = 0; k < nb; ++k) {
    const Ins &last = b->ins[b->block_start[k + 1] - 1];
    int32_t *s = &b->succ[2 * k];
    s[0] = s[1] = -1;
    if (last.kind == kJump)
      s[0] = b->block_of_label[last.a];
    else if (last.kind == kBranch)
      s[0] = b->block_of_label[last.b], s[1] = static_cast<int32_t>(k + 1);
    else if (last.kind != kRet)
      s[0] = static_cast<int32_t>(k + 1);
  }
  // Reachability (a depth-first walk with `order` as the stack, `count` as marks).
  if (!reserve(b->order, b->order_cap, uint64_t{nb} * 2 + 2) || !reserve(b->count, b->count_cap, uint64_t{nb} + 1))
    return refuse(b, m, op, NPK_ERR_JIT_LIMIT, "out of memory");
  memset(b->count, 0, (nb + 1) * sizeof(int32_t));
  uint32_t top = 0;
  b->order[top++] = 0;
  b->count[0] = 1;
  while (top > 0) {
    int32_t k = b->order[--top];
    for (int j = 0; j < 2; ++j) {
      int32_t s = b->succ[2 * k + j];
      if (s < 0 || b->count[s]) continue;
      if (s == static_cast<int32_t>(nb)) return refuse(b, m, op, NPK_ERR_JIT_NO_RETURN);
      b->count[s] = 1;
      b->order[top++] = s;
    }
  }
  // Liveness: per block in, out, use, def.
  uint32_t nw = (b->nvals + 63) / 64;
  uint64_t words = uint64_t{nb} * 4 * nw;
  if (!reserve(b->live, b->live_cap, words)) return refuse(b, m, op, NPK_ERR_JIT_LIMIT, "out of memory");
  if (words != 0) memset(b->live, 0, words * sizeof(uint64_t));  // none: no values at all
  auto set_of = [&](uint32_t k, int which) { return b->live + (uint64_t{k} * 4 + which) * nw; };
  auto has = [](const uint64_t *set, int32_t v) { return (set[v >> 6] >> (v & 63)) & 1; };
  auto add = [](uint64_t *set, int32_t v) { set[v >> 6] |= uint64_t{1} << (v & 63); };
  for (uint32_t k = 0; k < nb; ++k) {
    uint64_t *use = set_of(k, 2), *def = set_of(k, 3);
    for (int32_t i = b->block_start[k]; i < b->block_start[k + 1]; ++i) {
      const Ins &in = b->ins[i];
      for_uses(b, in, [&](int32_t v) {
        if (!has(def, v)) add(use, v);
      });
      if (in.kind == kEntry)
        for (uint32_t p = 0; p < b->nparams; ++p) add(def, static_cast<int32_t>(p));
      if (in.d >= 0 && b->vals[in.d].konst < 0) add(def, in.d);
    }
  }
  for (bool changed = true; changed;) {
    changed = false;
    for (uint32_t k = nb; k-- > 0;) {
      uint64_t *in = set_of(k, 0), *out = set_of(k, 1), *use = set_of(k, 2), *def = set_of(k, 3);
      for (int j = 0; j < 2; ++j) {
        int32_t s = b->succ[2 * k + j];
        if (s < 0 || s >= static_cast<int32_t>(nb)) continue;
        const uint64_t *succ_in = set_of(static_cast<uint32_t>(s), 0);
        for (uint32_t w = 0; w < nw; ++w) out[w] |= succ_in[w];
      }
      for (uint32_t w = 0; w < nw; ++w) {
        uint64_t next = use[w] | (out[w] & ~def[w]);
        if (next != in[w]) {
          in[w] = next;
          changed = true;
        }
      }
    }
  }
  // Intervals: from the first to the last instruction where a value is live.
  auto extend = [&](int32_t v, int32_t at) {
    Value &val = b->vals[v];
    if (val.start > val.end) {
      val.start = val.end = at;
    } else {
      if (at < val.start) val.start = at;
      if (at > val.end) val.end = at;
    }
  };
  for (uint32_t w = 0; w < nw; ++w) b->entry_live += static_cast<uint32_t>(__builtin_popcountll(set_of(0, 0)[w]));
  for (uint32_t k = 0; k < nb; ++k) {
    const uint64_t *in = set_of(k, 0), *out = set_of(k, 1);
    for (uint32_t w = 0; w < nw; ++w) {
      for (uint64_t bits = in[w]; bits != 0; bits &= bits - 1)
        extend(static_cast<int32_t>(w * 64 + __builtin_ctzll(bits)), b->block_start[k]);
      for (uint64_t bits = out[w]; bits != 0; bits &= bits - 1)
        extend(static_cast<int32_t>(w * 64 + __builtin_ctzll(bits)), b->block_start[k + 1] - 1);
    }
    for (int32_t i = b->block_start[k]; i < b->block_start[k + 1]; ++i) {
      const Ins &in = b->ins[i];
      for_uses(b, in, [&](int32_t v) { extend(v, i); });
      if (in.kind == kEntry)
        for (uint32_t p = 0; p < b->nparams; ++p) extend(static_cast<int32_t>(p), 0);
      if (in.d >= 0 && b->vals[in.d].konst < 0) extend(in.d, i);
    }
  }
  return 0;
}

// ---- npk_jit_end: encoding ---------------------------------------------------------------------

struct Emitter {
  Builder *b;
  Out o;
  uint32_t frame;     // bytes below the pushed registers
  uint16_t pushed;    // callee-saved registers pushed by the prologue
  uint32_t base;      // module offset of this function
  bool oom;

  NPK_INLINE uint32_t pos() const { return static_cast<uint32_t>(o.p - b->code); }
  // Room for one instruction's worth of bytes (the largest lowering emits
  // fewer than 512 bytes).
  NPK_INLINE bool room() {
    uint32_t at = pos();
    if (at + 512 <= b->code_cap) return true;
    if (!reserve(b->code, b->code_cap, uint64_t{at} + 512)) {
      oom = true;
      o.p = b->code;  // keep writing in bounds; the result is discarded
      return false;
    }
    o.p = b->code + at;
    return true;
  }
  NPK_INLINE const Value &val(int32_t v) const { return b->vals[v]; }
  static int32_t slot_disp(int16_t loc) { return (loc - kSlot) * 8; }

  bool is_const(int32_t v) const { return b->vals[v].konst >= 0; }
  int64_t const_bits(int32_t v) const { return b->ins[b->vals[v].konst].imm; }
  // The constant v in register r. Never touches the flags (a select
  // materialises between its test and its cmov).
  void materialise_gpr(int r, int32_t v) {
    int64_t bits = const_bits(v);
    if (val(v).type == kI32 || (bits >= 0 && bits <= 0xffffffffll))
      mov_ri32(o, r, static_cast<int32_t>(bits));
    else
      mov_ri64(o, r, bits);
  }
  void materialise_xmm(int x, int32_t v) {
    int64_t bits = const_bits(v);
    if (bits == 0) {
      xorps(o, x, x);
    } else {
      mov_ri64(o, RAX, bits);  // no f64 pattern holds anything in rax here
      movq_xr(o, x, RAX);
    }
  }
  // An immediate operand for `op` with constant b, when the form exists.
  bool imm_operand(int32_t v, bool w, int32_t *imm) const {
    if (!is_const(v)) return false;
    int64_t bits = const_bits(v);
    if (!w) bits = static_cast<int32_t>(bits);
    if (!fits32(bits)) return false;
    *imm = static_cast<int32_t>(bits);
    return true;
  }

  // The general register holding v (loaded into `scratch` from its slot,
  // or the constant put there).
  NPK_INLINE int gpr_in(int32_t v, int scratch) {
    int16_t loc = val(v).loc;
    if (loc >= 0 && loc < kXmm) return loc;
    if (loc < 0)
      materialise_gpr(scratch, v);
    else
      load(o, LD_64, scratch, RSP, slot_disp(loc));
    return scratch;
  }
  // Copies v into register r.
  NPK_INLINE void gpr_to(int r, int32_t v) {
    int16_t loc = val(v).loc;
    if (loc == r) return;
    if (loc < 0)
      materialise_gpr(r, v);
    else if (loc < kXmm)
      alu_rr(o, MOV, true, r, loc);
    else
      load(o, LD_64, r, RSP, slot_disp(loc));
  }
  // v := register r.
  NPK_INLINE void gpr_out(int32_t v, int r) {
    int16_t loc = val(v).loc;
    if (loc == r) return;
    if (loc < kXmm)
      alu_rr(o, MOV, true, loc, r);
    else
      store(o, 8, RSP, slot_disp(loc), r);
  }
  NPK_INLINE int xmm_in(int32_t v, int scratch) {
    int16_t loc = val(v).loc;
    if (loc >= 0 && loc < kSlot) return loc - kXmm;
    if (loc < 0)
      materialise_xmm(scratch, v);
    else
      movsd_load(o, scratch, RSP, slot_disp(loc));
    return scratch;
  }
  NPK_INLINE void xmm_to(int x, int32_t v) {
    int16_t loc = val(v).loc;
    if (loc == kXmm + x) return;
    if (loc < 0)
      materialise_xmm(x, v);
    else if (loc < kSlot)
      movsd_rr(o, x, loc - kXmm);
    else
      movsd_load(o, x, RSP, slot_disp(loc));
  }
  NPK_INLINE void xmm_out(int32_t v, int x) {
    int16_t loc = val(v).loc;
    if (loc == kXmm + x) return;
    if (loc < kSlot)
      movsd_rr(o, loc - kXmm, x);
    else
      movsd_store(o, RSP, slot_disp(loc), x);
  }
  // A register to compute d into: its own unless that would overwrite `keep`
  // (an operand still to be read), else `scratch`.
  NPK_INLINE int target_gpr(int32_t d, int32_t first, int32_t keep, int scratch) {
    int16_t loc = val(d).loc;
    if (loc >= kXmm) return scratch;
    if (keep >= 0 && loc == val(keep).loc && val(first).loc != loc) return scratch;
    return loc;
  }
  NPK_INLINE int target_xmm(int32_t d, int32_t first, int32_t keep, int scratch) {
    int16_t loc = val(d).loc;
    if (loc < kXmm || loc >= kSlot) return scratch;
    if (keep >= 0 && loc == val(keep).loc && val(first).loc != loc) return scratch;
    return loc - kXmm;
  }

  // Parallel moves into registers (all of one class): dst[i] := src[i]
  // (locations). Sources that are stack slots never block.
  void parallel(int16_t *dst, int16_t *src, int n, bool xmm) {
    int scratch = xmm ? kXmm + 15 : R11;
    for (int i = 0; i < n;) {
      if (dst[i] == src[i]) {
        dst[i] = dst[n - 1], src[i] = src[n - 1], --n;
        continue;
      }
      ++i;
    }
    while (n > 0) {
      bool progress = false;
      for (int i = 0; i < n; ++i) {
        bool blocked = false;
        for (int j = 0; j < n && !blocked; ++j) blocked = j != i && src[j] == dst[i];
        if (blocked) continue;
        move(dst[i], src[i], xmm);
        dst[i] = dst[n - 1], src[i] = src[n - 1], --n;
        progress = true;
        break;
      }
      if (!progress) {
        // A cycle: park dst[0]'s old value in the scratch register.
        move(static_cast<int16_t>(scratch), dst[0], xmm);
        for (int j = 0; j < n; ++j)
          if (src[j] == dst[0]) src[j] = static_cast<int16_t>(scratch);
      }
    }
  }
  void move(int16_t dst, int16_t src, bool xmm) {
    if (xmm) {
      if (src >= kSlot)
        movsd_load(o, dst - kXmm, RSP, slot_disp(src));
      else if (dst >= kSlot)
        movsd_store(o, RSP, slot_disp(dst), src - kXmm);
      else
        movsd_rr(o, dst - kXmm, src - kXmm);
    } else if (src >= kSlot) {
      load(o, LD_64, dst, RSP, slot_disp(src));
    } else if (dst >= kSlot) {
      store(o, 8, RSP, slot_disp(dst), src);
    } else {
      alu_rr(o, MOV, true, dst, src);
    }
  }

  void epilogue() {
    if (frame != 0) alu_ri(o, EXT_ADD, true, RSP, static_cast<int32_t>(frame));
    for (int k = 5; k >= 0; --k)
      if (pushed & (1u << kCalleeSaved[k])) pop(o, kCalleeSaved[k]);
    ret(o);
  }

  void prologue(const Alloc &st) {
    int npushed = 0;
    pushed = st.callee_used;
    for (int r : kCalleeSaved)
      if (pushed & (1u << r)) push(o, r), ++npushed;
    frame = static_cast<uint32_t>(st.nslots) * 8;
    // At entry rsp is 8 mod 16 (the return address); calls need 0 mod 16.
    if (st.calls && (8 + 8 * npushed + frame) % 16 != 0) frame += 8;
    if (frame != 0) alu_ri(o, EXT_SUB, true, RSP, static_cast<int32_t>(frame));
    // Parameters from their ABI registers to their locations.
    int16_t gd[6], gs[6], xd[6], xs[6];
    int ng = 0, nx = 0, gi = 0, xi = 0;
    for (uint32_t p = 0; p < b->nparams; ++p) {
      const Value &v = b->vals[p];
      bool f = v.type == kF64;
      int16_t from = f ? static_cast<int16_t>(kXmm + xi++) : static_cast<int16_t>(kArgGpr[gi++]);
      if (v.start > v.end) continue;  // never read
      if (v.loc >= kSlot)
        move(v.loc, from, f);
      else if (f)
        xd[nx] = v.loc, xs[nx++] = from;
      else
        gd[ng] = v.loc, gs[ng++] = from;
    }
    parallel(gd, gs, ng, false);
    parallel(xd, xs, nx, true);
    // Variables read before any write on some path start as zero.
    for (uint32_t v = b->nparams; b->entry_live != 0 && v < b->nvals; ++v) {
      const Value &val = b->vals[v];
      if (val.start != 0 || val.end < 0) continue;
      room();
      if (val.type == kF64) {
        xorps(o, 15, 15);
        xmm_out(static_cast<int32_t>(v), 15);
      } else {
        alu_rr(o, XOR, false, RAX, RAX);
        gpr_out(static_cast<int32_t>(v), RAX);
      }
    }
  }

  void branch_to(int32_t label, bool conditional) {
    uint8_t *at = conditional ? jcc_rel32(o, NE, 0) : jmp_rel32(o, 0);
    b->fixups[b->nfixups++] = Fixup{static_cast<uint32_t>(at - b->code), label};
  }

  void emit(const Ins &in);
};

Cond cmp_cond(int op) {
  switch (op) {
    case NPK_JIT_OP_eq: return E;
    case NPK_JIT_OP_ne: return NE;
    case NPK_JIT_OP_slt: return L;
    case NPK_JIT_OP_sle: return LE;
    case NPK_JIT_OP_sgt: return G;
    case NPK_JIT_OP_sge: return GE;
    case NPK_JIT_OP_ult: return B;
    case NPK_JIT_OP_ule: return BE;
    case NPK_JIT_OP_ugt: return A;
    default: return AE;  // uge
  }
}

void Emitter::emit(const Ins &in) {
  switch (in.kind) {
    case kEntry: break;
    case kConst: {
      if (is_const(in.d) || val(in.d).start > val(in.d).end) break;  // a constant, or never read
      if (val(in.d).type == kF64) {
        int t = target_xmm(in.d, in.d, -1, 15);
        if (in.imm == 0) {
          xorps(o, t, t);
        } else {
          mov_ri64(o, RAX, in.imm);
          movq_xr(o, t, RAX);
        }
        xmm_out(in.d, t);
        break;
      }
      int t = target_gpr(in.d, in.d, -1, RAX);
      int64_t v = val(in.d).type == kI32 ? static_cast<int64_t>(static_cast<uint32_t>(in.imm)) : in.imm;
      if (v == 0)
        alu_rr(o, XOR, false, t, t);
      else if (v > 0 && v <= 0xffffffffll)
        mov_ri32(o, t, static_cast<int32_t>(static_cast<uint32_t>(v)));
      else
        mov_ri64(o, t, v);
      gpr_out(in.d, t);
      break;
    }
    case kSet:
      if (val(in.d).type == kF64) {
        int x = xmm_in(in.a, 15);
        xmm_out(in.d, x);
      } else {
        int r = gpr_in(in.a, RAX);
        gpr_out(in.d, r);
      }
      break;
    case kArith: {
      OpInfo info = op_info(in.op);
      bool w = is_wide(val(in.a).type);
      switch (info.cls) {
        case OpClass::INT:
        case OpClass::TRAP: {
          int t = target_gpr(in.d, in.a, in.b, RAX);
          gpr_to(t, in.a);
          int32_t imm;
          bool is_mul = in.op == NPK_JIT_OP_mul || in.op == NPK_JIT_OP_mul_trap;
          if (!is_mul && imm_operand(in.b, w, &imm)) {
            AluExt ext = in.op == NPK_JIT_OP_add || in.op == NPK_JIT_OP_add_trap   ? EXT_ADD
                         : in.op == NPK_JIT_OP_sub || in.op == NPK_JIT_OP_sub_trap ? EXT_SUB
                         : in.op == NPK_JIT_OP_and                                 ? EXT_AND
                         : in.op == NPK_JIT_OP_or                                  ? EXT_OR
                                                                                   : EXT_XOR;
            alu_ri(o, ext, w, t, imm);
            if (info.cls == OpClass::TRAP) {
              jcc_rel32(o, NO, 2);  // over the ud2
              ud2(o);
            }
            gpr_out(in.d, t);
            break;
          }
          int rb = gpr_in(in.b, R11);
          switch (in.op) {
            case NPK_JIT_OP_add:
            case NPK_JIT_OP_add_trap: alu_rr(o, ADD, w, t, rb); break;
            case NPK_JIT_OP_sub:
            case NPK_JIT_OP_sub_trap: alu_rr(o, SUB, w, t, rb); break;
            case NPK_JIT_OP_mul:
            case NPK_JIT_OP_mul_trap: imul_rr(o, w, t, rb); break;
            case NPK_JIT_OP_and: alu_rr(o, AND, w, t, rb); break;
            case NPK_JIT_OP_or: alu_rr(o, OR, w, t, rb); break;
            default: alu_rr(o, XOR, w, t, rb); break;
          }
          if (info.cls == OpClass::TRAP) {
            jcc_rel32(o, NO, 2);  // over the ud2
            ud2(o);
          }
          gpr_out(in.d, t);
          break;
        }
        case OpClass::DIV: {
          gpr_to(RAX, in.a);
          int rb = gpr_in(in.b, R11);
          bool is_signed = in.op == NPK_JIT_OP_sdiv || in.op == NPK_JIT_OP_srem;
          if (is_signed) {
            if (w)
              cqo(o);
            else
              cdq(o);
          } else {
            alu_rr(o, XOR, false, RDX, RDX);
          }
          unary(o, is_signed ? IDIV : DIV, w, rb);
          gpr_out(in.d, in.op == NPK_JIT_OP_sdiv || in.op == NPK_JIT_OP_udiv ? RAX : RDX);
          break;
        }
        case OpClass::SHIFT: {
          ShiftExt ext = in.op == NPK_JIT_OP_shl ? SHL : in.op == NPK_JIT_OP_shr ? SHR : SAR;
          if (is_const(in.b)) {
            // The count masked as the hardware would; 0 leaves a unchanged.
            uint8_t count = static_cast<uint8_t>(const_bits(in.b) & (w ? 63 : 31));
            int t = target_gpr(in.d, in.a, -1, RAX);
            gpr_to(t, in.a);
            if (count != 0) shift_ri(o, ext, w, t, count);
            gpr_out(in.d, t);
            break;
          }
          gpr_to(RCX, in.b);
          int t = target_gpr(in.d, in.a, -1, RAX);
          gpr_to(t, in.a);
          shift_cl(o, ext, w, t);
          gpr_out(in.d, t);
          break;
        }
        case OpClass::FLT: {
          int t = target_xmm(in.d, in.a, in.b, 15);
          xmm_to(t, in.a);
          int xb = xmm_in(in.b, 14);
          SseOp sse = in.op == NPK_JIT_OP_fadd ? ADDSD : in.op == NPK_JIT_OP_fsub ? SUBSD : in.op == NPK_JIT_OP_fmul ? MULSD : DIVSD;
          arith_sd(o, sse, t, xb);
          xmm_out(in.d, t);
          break;
        }
        case OpClass::CMP: {
          int ra = gpr_in(in.a, RAX);
          int32_t imm;
          if (imm_operand(in.b, w, &imm))
            alu_ri(o, EXT_CMP, w, ra, imm);
          else
            alu_rr(o, CMP, w, ra, gpr_in(in.b, R11));
          setcc(o, cmp_cond(in.op), RAX);
          int t = target_gpr(in.d, in.d, -1, RAX);
          movzx_r8(o, t, RAX);
          gpr_out(in.d, t);
          break;
        }
        case OpClass::FCMP: {
          int xa = xmm_in(in.a, 15);
          int xb = xmm_in(in.b, 14);
          // lt/le compare the other way round, so unordered (CF=1) is false too.
          if (in.op == NPK_JIT_OP_flt || in.op == NPK_JIT_OP_fle)
            ucomisd(o, xb, xa);
          else
            ucomisd(o, xa, xb);
          switch (in.op) {
            case NPK_JIT_OP_feq:
              setcc(o, E, RAX);
              setcc(o, NP, RCX);
              alu_rr(o, AND, false, RAX, RCX);
              break;
            case NPK_JIT_OP_fne:
              setcc(o, NE, RAX);
              setcc(o, P, RCX);
              alu_rr(o, OR, false, RAX, RCX);
              break;
            case NPK_JIT_OP_flt:
            case NPK_JIT_OP_fgt: setcc(o, A, RAX); break;
            default: setcc(o, AE, RAX); break;
          }
          int t = target_gpr(in.d, in.d, -1, RAX);
          movzx_r8(o, t, RAX);
          gpr_out(in.d, t);
          break;
        }
        case OpClass::kNoOp: break;
      }
      break;
    }
    case kSelect: {
      int rc = gpr_in(in.c, R11);
      if (val(in.d).type == kF64) {
        int xa = xmm_in(in.a, 14);
        xmm_to(15, in.b);
        alu_rr(o, TEST, false, rc, rc);
        uint8_t *rel = jcc_rel32(o, E, 0);
        uint8_t *from = o.p;
        movsd_rr(o, 15, xa);
        int32_t skip = static_cast<int32_t>(o.p - from);
        memcpy(rel, &skip, 4);
        xmm_out(in.d, 15);
      } else {
        bool w = is_wide(val(in.d).type);
        int ra = gpr_in(in.a, RCX);
        alu_rr(o, TEST, false, rc, rc);
        int t = target_gpr(in.d, in.b, in.a, RAX);
        gpr_to(t, in.b);
        cmov(o, NE, w, t, ra);
        gpr_out(in.d, t);
      }
      break;
    }
    case kConvert: {
      uint8_t to = val(in.d).type, from = val(in.a).type;
      if (to == kF64) {
        int r = gpr_in(in.a, RAX);
        int t = target_xmm(in.d, in.d, -1, 15);
        // cvtsi2sd writes only the low half: clear the register first so
        // the result does not depend on its old contents.
        xorps(o, t, t);
        cvtsi2sd(o, from == kI64, t, r);
        xmm_out(in.d, t);
      } else if (from == kF64) {
        int x = xmm_in(in.a, 15);
        int t = target_gpr(in.d, in.d, -1, RAX);
        cvttsd2si(o, to == kI64, t, x);
        gpr_out(in.d, t);
      } else if (to == kI64 && from == kI32) {
        int r = gpr_in(in.a, RAX);
        int t = target_gpr(in.d, in.d, -1, RAX);
        movsxd(o, t, r);
        gpr_out(in.d, t);
      } else {
        // i64 -> i32 (the low half is the value) and i64 <-> ptr: the bits.
        int r = gpr_in(in.a, RAX);
        gpr_out(in.d, r);
      }
      break;
    }
    case kLoad: {
      MemInfo mi = mem_info(in.op);
      int base = gpr_in(in.a, R11);
      int32_t disp = static_cast<int32_t>(in.imm);
      if (mi.type == kF64) {
        int t = target_xmm(in.d, in.d, -1, 15);
        movsd_load(o, t, base, disp);
        xmm_out(in.d, t);
        break;
      }
      LoadKind kind = mi.bytes == 8   ? LD_64
                      : mi.bytes == 4 ? LD_32
                      : mi.bytes == 2 ? (mi.is_signed ? LD_I16 : LD_U16)
                                      : (mi.is_signed ? LD_I8 : LD_U8);
      int t = target_gpr(in.d, in.d, -1, RAX);
      load(o, kind, t, base, disp);
      gpr_out(in.d, t);
      break;
    }
    case kStore: {
      MemInfo mi = mem_info(in.op);
      int base = gpr_in(in.a, R11);
      int32_t disp = static_cast<int32_t>(in.imm);
      if (mi.type == kF64)
        movsd_store(o, base, disp, xmm_in(in.b, 15));
      else
        store(o, mi.bytes, base, disp, gpr_in(in.b, RAX));
      break;
    }
    case kLabel: b->labels[in.a].code = static_cast<int32_t>(pos()); break;
    case kJump: branch_to(in.a, false); break;
    case kBranch: {
      int rc = gpr_in(in.a, R11);
      alu_rr(o, TEST, false, rc, rc);
      branch_to(in.b, true);
      break;
    }
    case kCall: {
      int16_t gd[6], gs[6], xd[6], xs[6];
      int ng = 0, nx = 0, gi = 0, xi = 0;
      for (int i = 0; i < in.nargs; ++i) {
        int32_t v = b->args[in.a + i];
        bool f = val(v).type == kF64;
        int16_t to = f ? static_cast<int16_t>(kXmm + xi++) : static_cast<int16_t>(kArgGpr[gi++]);
        if (is_const(v)) continue;  // after the moves
        if (f)
          xd[nx] = to, xs[nx++] = val(v).loc;
        else
          gd[ng] = to, gs[ng++] = val(v).loc;
      }
      int nfloat = xi;
      parallel(gd, gs, ng, false);
      parallel(xd, xs, nx, true);
      gi = xi = 0;
      for (int i = 0; i < in.nargs; ++i) {
        int32_t v = b->args[in.a + i];
        bool f = val(v).type == kF64;
        int to = f ? xi++ : kArgGpr[gi++];
        if (!is_const(v)) continue;
        if (f)
          materialise_xmm(to, v);
        else
          materialise_gpr(to, v);
      }
      if (in.op == 0) {
        mov_ri64(o, R11, in.imm);
        mov_ri32(o, RAX, nfloat);  // al: vector registers used, for variadic callees
        call_r(o, R11);
      } else {
        // Module functions keep their offsets when sealed: a relative call.
        int64_t target = in.op == 2 ? base : in.imm;
        call_rel32(o, static_cast<int32_t>(target - (static_cast<int64_t>(base) + pos() + 5)));
      }
      if (in.d >= 0) {
        if (val(in.d).type == kF64)
          xmm_out(in.d, 0);
        else
          gpr_out(in.d, RAX);
      }
      break;
    }
    case kRet:
      if (in.a >= 0) {
        if (val(in.a).type == kF64)
          xmm_to(0, in.a);
        else
          gpr_to(RAX, in.a);
      }
      epilogue();
      break;
  }
}

// Encodes the analysed, allocated function into b->code; its length, or 0
// when out of memory.
uint32_t encode(Builder *b, const Alloc &st, uint32_t base) {
  if (!reserve(b->fixups, b->fixups_cap, b->njumps) || !reserve(b->code, b->code_cap, 1024)) return 0;
  b->nfixups = 0;
  Emitter e{b, Out{b->code}, 0, 0, base, false};
  e.prologue(st);
  for (uint32_t i = 0; i < b->nins; ++i) {
    e.room();
    e.emit(b->ins[i]);
  }
  if (e.oom) return 0;
  for (uint32_t i = 0; i < b->nfixups; ++i) {
    const Fixup &f = b->fixups[i];
    int32_t rel = b->labels[f.label].code - static_cast<int32_t>(f.at + 4);
    memcpy(b->code + f.at, &rel, 4);
  }
  return e.pos();
}

}  // namespace
}  // namespace npkrt

using namespace npkrt;

// ---- C ABI ---------------------------------------------------------------------------------

extern "C" int32_t npk_jit_begin(npk_jit_module *m, const char *sig, const char *name) {
  static const char kOp[] = "jit_begin";
  int32_t code = 0;
#if !defined(__x86_64__)
  // Every later call then finds no open function.
  return refuse(nullptr, m, kOp, NPK_ERR_JIT_UNSUPPORTED);
#endif
  Builder *b;
  if (m == t_module && m != nullptr && g_code_module_epoch.load(std::memory_order_acquire) == t_epoch) {
    b = t_builder;
  } else {
    uint64_t epoch = g_code_module_epoch.load(std::memory_order_acquire);
    Builder **slot = code_module_builder(m, &code);
    if (slot == nullptr) return refuse(nullptr, m, kOp, code);
    if (*slot == nullptr) {
      *slot = static_cast<Builder *>(calloc(1, sizeof(Builder)));
      if (*slot == nullptr) return refuse(nullptr, m, kOp, NPK_ERR_JIT_LIMIT, "out of memory");
    }
    b = *slot;
    t_module = m, t_builder = b, t_epoch = epoch;
  }
  if (b->open) return refuse(b, m, kOp, NPK_ERR_JIT_OPEN);
  if (sig == nullptr || b->sig_tag == 0 || strcmp(sig, b->sig_text) != 0) {
    uint8_t ret, params[NPK_JIT_MAX_PARAMS], count;
    code = parse_sig(sig, &ret, params, &count);
    if (code != 0) return refuse(nullptr, m, kOp, code, sig != nullptr ? sig : "(null)");
    npk_jit_sig tag = npk_jit_sig_intern(sig);
    if (tag == 0) return NPK_ERR_JIT_BAD_SIG;  // jit_sig printed why (the table is full)
    size_t n = strlen(sig);
    b->sig_tag = n < sizeof b->sig_text ? tag : 0;  // a longer one is not cached
    memcpy(b->sig_text, sig, n < sizeof b->sig_text ? n + 1 : 1);
    b->sig_ret = ret;
    b->sig_count = count;
    memcpy(b->sig_params, params, sizeof params);
    b->sig = tag;
  } else {
    b->sig = b->sig_tag;
  }
  uint8_t ret = b->sig_ret, count = b->sig_count;
  const uint8_t *params = b->sig_params;
  if (name != nullptr) {
    size_t n = strlen(name) + 1;
    if (n > b->name_cap && !reserve(b->name, b->name_cap, n)) return refuse(nullptr, m, kOp, NPK_ERR_JIT_LIMIT, "out of memory");
    memcpy(b->name, name, n);
  }
  uint32_t serial;
  do serial = (g_serial.fetch_add(1, std::memory_order_relaxed) + 1) & 0x7ff;
  while (serial == 0);
  b->serial = serial;
  b->ret = ret;
  b->nparams = count;
  b->pending = 0;
  b->nins = b->nvals = b->nlabels = b->nargs = b->ncalls = b->njumps = b->nrets = 0;
  b->poison = 0;
  b->open = true;
  // Parameters are values 0..n-1, written by the entry instruction.
  if (!reserve(b->vals, b->vals_cap, count) || !reserve(b->ins, b->ins_cap, 64)) {
    b->open = false;
    return refuse(nullptr, m, kOp, NPK_ERR_JIT_LIMIT, "out of memory");
  }
  for (uint8_t p = 0; p < count; ++p) b->vals[b->nvals++] = Value{params[p], static_cast<int8_t>(p), kNoLoc, 0, 0, -1};
  // The f64 parameters' hint is their xmm index, the others' their gpr index.
  int gi = 0, xi = 0;
  for (uint8_t p = 0; p < count; ++p) b->vals[p].param = static_cast<int8_t>(params[p] == kF64 ? xi++ : gi++);
  b->ins[b->nins++] = Ins{kEntry, 0, 0, 0, -1, -1, -1, -1, 0};
  if (name == nullptr && b->name != nullptr) b->name[0] = '\0';
  return 0;
}

extern "C" int32_t npk_jit_param(npk_jit_module *m, int32_t index) {
  static const char kOp[] = "jit_param";
  int32_t code;
  Builder *b = enter(m, kOp, &code);
  if (b == nullptr) return -code;
  if (index < 0 || index >= b->nparams) {
    char detail[48];
    snprintf(detail, sizeof detail, "parameter %d of %d", index, b->nparams);
    return -refuse(b, m, kOp, NPK_ERR_JIT_COUNT, detail);
  }
  return make_id(b, index, false);
}

extern "C" int32_t npk_jit_const_i32(npk_jit_module *m, int32_t value) {
  return record_const(m, "jit_const_i32", kI32, value);
}

extern "C" int32_t npk_jit_const_i64(npk_jit_module *m, int64_t value) {
  return record_const(m, "jit_const_i64", kI64, value);
}

extern "C" int32_t npk_jit_const_f64(npk_jit_module *m, double value) {
  int64_t bits;
  memcpy(&bits, &value, sizeof bits);
  return record_const(m, "jit_const_f64", kF64, bits);
}

extern "C" int32_t npk_jit_var(npk_jit_module *m, int32_t type) {
  static const char kOp[] = "jit_var";
  int32_t code;
  Builder *b = enter(m, kOp, &code);
  if (b == nullptr) return -code;
  if (type != kI32 && type != kI64 && type != kF64 && type != kPtr) {
    char detail[32];
    snprintf(detail, sizeof detail, "type %d", type);
    return -refuse(b, m, kOp, NPK_ERR_JIT_BAD_OP, detail);
  }
  // A variable is a constant zero that later sets overwrite.
  Ins *in = add_value_ins(b, m, kOp, kConst, static_cast<uint8_t>(type));
  if (in == nullptr) return -b->poison;
  const int32_t d = in->d;
  b->vals[d].konst = static_cast<int32_t>(b->nins - 1);
  write_here(b, d);
  return make_id(b, d, false);
}

extern "C" int32_t npk_jit_set(npk_jit_module *m, int32_t dst, int32_t src) {
  static const char kOp[] = "jit_set";
  int32_t code;
  Builder *b = enter(m, kOp, &code);
  if (b == nullptr) return code;
  int32_t d = value_index(b, m, kOp, dst);
  int32_t a = d < 0 ? -1 : value_index(b, m, kOp, src);
  if (a < 0) return b->poison;
  if (b->vals[d].type != b->vals[a].type) return type_refusal(b, m, kOp, "set needs one type (dst, src)", b->vals[d].type, b->vals[a].type);
  Ins *in = add_ins(b, m, kOp, kSet);
  if (in == nullptr) return b->poison;
  in->d = d;
  in->a = a;
  b->vals[d].konst = -1;  // written twice: a variable
  read_here(b, a);
  write_here(b, d);
  return 0;
}

extern "C" int32_t npk_jit_op(npk_jit_module *m, int32_t op, int32_t a_id, int32_t b_id) {
  static const char kOp[] = "jit_op";
  int32_t code;
  Builder *b = enter(m, kOp, &code);
  if (b == nullptr) return -code;
  if (op <= 0 || op >= kMaxOp || op_info(op).cls == OpClass::kNoOp) {
    char detail[32];
    snprintf(detail, sizeof detail, "op %d", op);
    return -refuse(b, m, kOp, NPK_ERR_JIT_BAD_OP, detail);
  }
  int32_t a = value_index(b, m, kOp, a_id);
  int32_t c = a < 0 ? -1 : value_index(b, m, kOp, b_id);
  if (c < 0) return -b->poison;
  const char *what;
  uint8_t type = op_result(op, b->vals[a].type, b->vals[c].type, &what);
  if (type == kNone) {
    char text[128];
    snprintf(text, sizeof text, "%s: %s", op_info(op).name, what);
    return -type_refusal(b, m, kOp, text, b->vals[a].type, b->vals[c].type);
  }
  Ins *in = add_value_ins(b, m, kOp, kArith, type);
  if (in == nullptr) return -b->poison;
  const int32_t d = in->d;
  in->op = static_cast<uint8_t>(op);
  in->d = d;
  in->a = a;
  in->b = c;
  read_here(b, a);
  read_here(b, c);
  write_here(b, d);
  return make_id(b, d, false);
}

extern "C" int32_t npk_jit_select(npk_jit_module *m, int32_t cond, int32_t a_id, int32_t b_id) {
  static const char kOp[] = "jit_select";
  int32_t code;
  Builder *b = enter(m, kOp, &code);
  if (b == nullptr) return -code;
  int32_t c = value_index(b, m, kOp, cond);
  int32_t a = c < 0 ? -1 : value_index(b, m, kOp, a_id);
  int32_t v = a < 0 ? -1 : value_index(b, m, kOp, b_id);
  if (v < 0) return -b->poison;
  if (b->vals[c].type != kI32) return -type_refusal(b, m, kOp, "condition must be i32 (cond, a)", b->vals[c].type, b->vals[a].type);
  if (b->vals[a].type != b->vals[v].type) return -type_refusal(b, m, kOp, "select needs one type (a, b)", b->vals[a].type, b->vals[v].type);
  Ins *in = add_value_ins(b, m, kOp, kSelect, b->vals[a].type);
  if (in == nullptr) return -b->poison;
  const int32_t d = in->d;
  in->c = c;
  in->a = a;
  in->b = v;
  read_here(b, c);
  read_here(b, a);
  read_here(b, v);
  write_here(b, d);
  return make_id(b, d, false);
}

extern "C" int32_t npk_jit_cast(npk_jit_module *m, int32_t type, int32_t value) {
  static const char kOp[] = "jit_cast";
  int32_t code;
  Builder *b = enter(m, kOp, &code);
  if (b == nullptr) return -code;
  if (type != kI32 && type != kI64 && type != kF64 && type != kPtr) {
    char detail[32];
    snprintf(detail, sizeof detail, "type %d", type);
    return -refuse(b, m, kOp, NPK_ERR_JIT_BAD_OP, detail);
  }
  int32_t a = value_index(b, m, kOp, value);
  if (a < 0) return -b->poison;
  if (!convertible(static_cast<uint8_t>(type), b->vals[a].type))
    return -type_refusal(b, m, kOp, "no conversion (to, from)", type, b->vals[a].type);
  Ins *in = add_value_ins(b, m, kOp, kConvert, static_cast<uint8_t>(type));
  if (in == nullptr) return -b->poison;
  const int32_t d = in->d;
  in->a = a;
  read_here(b, a);
  write_here(b, d);
  return make_id(b, d, false);
}

extern "C" int32_t npk_jit_load(npk_jit_module *m, int32_t mem, int32_t ptr, int32_t offset) {
  static const char kOp[] = "jit_load";
  int32_t code;
  Builder *b = enter(m, kOp, &code);
  if (b == nullptr) return -code;
  MemInfo mi = mem_info(mem);
  if (mi.name == nullptr) {
    char detail[32];
    snprintf(detail, sizeof detail, "memory kind %d", mem);
    return -refuse(b, m, kOp, NPK_ERR_JIT_BAD_OP, detail);
  }
  int32_t a = value_index(b, m, kOp, ptr);
  if (a < 0) return -b->poison;
  if (b->vals[a].type != kPtr) return -type_refusal(b, m, kOp, "address must be ptr (address, loaded)", b->vals[a].type, mi.type);
  Ins *in = add_value_ins(b, m, kOp, kLoad, mi.type);
  if (in == nullptr) return -b->poison;
  const int32_t d = in->d;
  in->op = static_cast<uint8_t>(mem);
  in->d = d;
  in->a = a;
  in->imm = offset;
  read_here(b, a);
  write_here(b, d);
  return make_id(b, d, false);
}

extern "C" int32_t npk_jit_store(npk_jit_module *m, int32_t mem, int32_t ptr, int32_t offset, int32_t value) {
  static const char kOp[] = "jit_store";
  int32_t code;
  Builder *b = enter(m, kOp, &code);
  if (b == nullptr) return code;
  MemInfo mi = mem_info(mem);
  if (mi.name == nullptr) {
    char detail[32];
    snprintf(detail, sizeof detail, "memory kind %d", mem);
    return refuse(b, m, kOp, NPK_ERR_JIT_BAD_OP, detail);
  }
  int32_t a = value_index(b, m, kOp, ptr);
  int32_t v = a < 0 ? -1 : value_index(b, m, kOp, value);
  if (v < 0) return b->poison;
  if (b->vals[a].type != kPtr) return type_refusal(b, m, kOp, "address must be ptr (address, value)", b->vals[a].type, b->vals[v].type);
  if (b->vals[v].type != mi.type) {
    char what[64];
    snprintf(what, sizeof what, "store %s needs (kind's type, value)", mi.name);
    return type_refusal(b, m, kOp, what, mi.type, b->vals[v].type);
  }
  Ins *in = add_ins(b, m, kOp, kStore);
  if (in == nullptr) return b->poison;
  in->op = static_cast<uint8_t>(mem);
  in->a = a;
  in->b = v;
  in->imm = offset;
  read_here(b, a);
  read_here(b, v);
  return 0;
}

extern "C" int32_t npk_jit_label(npk_jit_module *m) {
  static const char kOp[] = "jit_label";
  int32_t code;
  Builder *b = enter(m, kOp, &code);
  if (b == nullptr) return -code;
  if (b->nlabels > static_cast<uint32_t>(kMaxIndex) || !reserve(b->labels, b->labels_cap, uint64_t{b->nlabels} + 1))
    return -refuse(b, m, kOp, NPK_ERR_JIT_LIMIT, "too many labels or out of memory");
  b->labels[b->nlabels] = Label{-1, 0, false};
  return make_id(b, static_cast<int32_t>(b->nlabels++), true);
}

extern "C" int32_t npk_jit_place(npk_jit_module *m, int32_t label) {
  static const char kOp[] = "jit_place";
  int32_t code;
  Builder *b = enter(m, kOp, &code);
  if (b == nullptr) return code;
  int32_t l = label_index(b, m, kOp, label);
  if (l < 0) return b->poison;
  if (b->labels[l].ins >= 0) {
    char detail[32];
    snprintf(detail, sizeof detail, "label %d", label);
    return refuse(b, m, kOp, NPK_ERR_JIT_LABEL_TWICE, detail);
  }
  Ins *in = add_ins(b, m, kOp, kLabel);
  if (in == nullptr) return b->poison;
  in->a = l;
  b->labels[l].ins = static_cast<int32_t>(b->nins - 1);
  return 0;
}

extern "C" int32_t npk_jit_jump(npk_jit_module *m, int32_t label) {
  static const char kOp[] = "jit_jump";
  int32_t code;
  Builder *b = enter(m, kOp, &code);
  if (b == nullptr) return code;
  int32_t l = label_index(b, m, kOp, label);
  if (l < 0) return b->poison;
  Ins *in = add_ins(b, m, kOp, kJump);
  if (in == nullptr) return b->poison;
  ++b->njumps;
  in->a = l;
  b->labels[l].used = true;
  return 0;
}

extern "C" int32_t npk_jit_branch(npk_jit_module *m, int32_t cond, int32_t label) {
  static const char kOp[] = "jit_branch";
  int32_t code;
  Builder *b = enter(m, kOp, &code);
  if (b == nullptr) return code;
  int32_t c = value_index(b, m, kOp, cond);
  int32_t l = c < 0 ? -1 : label_index(b, m, kOp, label);
  if (l < 0) return b->poison;
  if (b->vals[c].type != kI32) return type_refusal(b, m, kOp, "condition must be i32 (cond, i32)", b->vals[c].type, kI32);
  Ins *in = add_ins(b, m, kOp, kBranch);
  if (in == nullptr) return b->poison;
  ++b->njumps;
  in->a = c;
  in->b = l;
  b->labels[l].used = true;
  read_here(b, c);
  return 0;
}

extern "C" int32_t npk_jit_arg(npk_jit_module *m, int32_t value) {
  static const char kOp[] = "jit_arg";
  int32_t code;
  Builder *b = enter(m, kOp, &code);
  if (b == nullptr) return code;
  int32_t v = value_index(b, m, kOp, value);
  if (v < 0) return b->poison;
  if (b->pending == NPK_JIT_MAX_PARAMS) return refuse(b, m, kOp, NPK_ERR_JIT_COUNT, "more than 6 arguments");
  b->pending_args[b->pending++] = v;
  return 0;
}

extern "C" int32_t npk_jit_call_fn(npk_jit_module *m, npk_jit_fn callee) {
  static const char kOp[] = "jit_call_fn";
  int32_t code;
  Builder *b = enter(m, kOp, &code);
  if (b == nullptr) return -code;
  uint32_t offset;
  npk_jit_sig sig;
  if (!code_module_fn(m, callee, &offset, &sig)) {
    char detail[64];
    snprintf(detail, sizeof detail, "handle %#llx", static_cast<unsigned long long>(callee));
    return -refuse(b, m, kOp, NPK_ERR_JIT_CALLEE, detail);
  }
  return record_call(b, m, kOp, npk_jit_sig_name(sig), 1, offset);
}

extern "C" int32_t npk_jit_call_self(npk_jit_module *m) {
  static const char kOp[] = "jit_call_self";
  int32_t code;
  Builder *b = enter(m, kOp, &code);
  if (b == nullptr) return -code;
  // Resolved when encoding: the function goes where the module's next one goes.
  return record_call(b, m, kOp, npk_jit_sig_name(b->sig), 2, 0);
}

extern "C" int32_t npk_jit_call_c(npk_jit_module *m, void *addr, const char *sig) {
  static const char kOp[] = "jit_call_c";
  int32_t code;
  Builder *b = enter(m, kOp, &code);
  if (b == nullptr) return -code;
  if (addr == nullptr) return -refuse(b, m, kOp, NPK_ERR_JIT_CALLEE, "null address");
  return record_call(b, m, kOp, sig, 0, static_cast<int64_t>(reinterpret_cast<uintptr_t>(addr)));
}

extern "C" int32_t npk_jit_ret(npk_jit_module *m, int32_t value) {
  static const char kOp[] = "jit_ret";
  int32_t code;
  Builder *b = enter(m, kOp, &code);
  if (b == nullptr) return code;
  int32_t v = value_index(b, m, kOp, value);
  if (v < 0) return b->poison;
  if (b->vals[v].type != b->ret) return type_refusal(b, m, kOp, "return (signature, value)", b->ret, b->vals[v].type);
  Ins *in = add_ins(b, m, kOp, kRet);
  if (in == nullptr) return b->poison;
  ++b->nrets;
  in->a = v;
  read_here(b, v);
  return 0;
}

extern "C" int32_t npk_jit_ret_void(npk_jit_module *m) {
  static const char kOp[] = "jit_ret_void";
  int32_t code;
  Builder *b = enter(m, kOp, &code);
  if (b == nullptr) return code;
  if (b->ret != kNone) return type_refusal(b, m, kOp, "return (signature, value)", b->ret, kNone);
  Ins *in = add_ins(b, m, kOp, kRet);
  if (in == nullptr) return b->poison;
  ++b->nrets;
  return 0;
}

extern "C" npk_jit_fn npk_jit_end(npk_jit_module *m, int32_t *err) {
  static const char kOp[] = "jit_end";
  int32_t ignored;
  if (err == nullptr) err = &ignored;
  *err = 0;
  int32_t code;
  Builder *b = enter(m, kOp, &code);
  if (b == nullptr) {
    *err = code;
    // A poisoned function is closed by this end.
    Builder **slot = code_module_builder(m, &code);
    if (slot != nullptr && *slot != nullptr && (*slot)->open && (*slot)->poison != 0) (*slot)->open = false;
    return 0;
  }
  code = analyse(b, m, kOp);
  Alloc st{};
  if (code == 0 && !allocate(b, &st)) code = refuse(b, m, kOp, NPK_ERR_JIT_LIMIT, "out of memory");
  uint32_t base = code_module_next_offset(m);
  uint32_t len = code == 0 ? encode(b, st, base) : 0;
  if (code == 0 && len == 0) code = refuse(b, m, kOp, NPK_ERR_JIT_LIMIT, "out of memory");
  b->open = false;
  if (code != 0) {
    *err = code;
    return 0;
  }
  const char *name = b->name != nullptr && b->name[0] != '\0' ? b->name : nullptr;
  npk_jit_fn f = code_module_add_checked(m, b->code, len, b->sig, name);
  if (f == 0) {
    *err = NPK_ERR_JIT_ADD;
    return 0;
  }
  return f;
}
