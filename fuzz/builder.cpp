// libFuzzer target: the function builder's C API (npk_jit_begin ...
// npk_jit_end) driven by a byte-coded sequence of calls over two modules,
// with ids that are valid, of the wrong type, of the other module's function,
// of an earlier function, stale after a free, or random; NULL, freed and
// foreign module pointers; signatures, ops, memory kinds and labels from the
// valid lists and outside them. Checked against a model of each module:
//  - nothing crashes (the sanitizers and libFuzzer report that);
//  - a call the model says is valid is accepted and prints nothing; a refusal
//    returns a code from npk/jit_errors.def and prints exactly one
//    "[WildX] panic: jit_..." line;
//  - a refusal poisons the open function: every later call on it returns the
//    same code until npk_jit_end reports it and closes it;
//  - a function npk_jit_end accepts is installed: after a seal it has an
//    entry of its signature, and the straight-line ones without division or
//    trapping ops (which always end) run.
// Everything still live is freed at the end of each input.
//
// Input: a sequence of operations, each one byte followed by its argument
// bytes (a missing byte reads as 0).
#include "npk/runtime.h"

#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Input {
  const uint8_t *data;
  size_t size;
  size_t pos = 0;
  bool done() const { return pos >= size; }
  uint8_t byte() { return pos < size ? data[pos++] : 0; }
  uint32_t u32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(byte()) << (8 * i);
    return v;
  }
};

// ---- stderr capture (as fuzz/runtime_api.cpp) ----------------------------------

int g_saved_stderr = -1;
int g_capture = -1;
std::string g_captured;
std::string g_trace;

void captureBegin() { dup2(g_capture, 2); }

int captureEnd() {
  dup2(g_saved_stderr, 2);
  g_captured.clear();
  off_t n = lseek(g_capture, 0, SEEK_CUR);
  if (n > 0) {
    g_captured.resize(static_cast<size_t>(n));
    ssize_t got = pread(g_capture, g_captured.data(), g_captured.size(), 0);
    g_captured.resize(got > 0 ? static_cast<size_t>(got) : 0);
    if (ftruncate(g_capture, 0) != 0 || lseek(g_capture, 0, SEEK_SET) != 0) {
      std::perror("fuzz_builder: stderr capture");
      std::abort();
    }
  }
  return static_cast<int>(std::count(g_captured.begin(), g_captured.end(), '\n'));
}

[[noreturn]] void breach(const char *fmt, ...) {
  dup2(g_saved_stderr, 2);
  std::fprintf(stderr, "fuzz_builder: contract breach: ");
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "\n  the call printed: %s\n  operations so far:\n%s",
               g_captured.empty() ? "(nothing)\n" : g_captured.c_str(), g_trace.c_str());
  std::abort();
}

void trace(const char *fmt, ...) {
  char line[200];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  g_trace += "    ";
  g_trace += line;
  g_trace += "\n";
}

// ---- the model ---------------------------------------------------------------

const char *const kSigs[] = {"i64(i64,i64)", "i32(i32)", "f64(f64,i64)", "void(ptr)", "i64()", "ptr(ptr,i32)"};
const uint8_t kSigRet[] = {NPK_JIT_TYPE_i64, NPK_JIT_TYPE_i32, NPK_JIT_TYPE_f64, 0, NPK_JIT_TYPE_i64, NPK_JIT_TYPE_ptr};
const std::vector<uint8_t> kSigParams[] = {{NPK_JIT_TYPE_i64, NPK_JIT_TYPE_i64}, {NPK_JIT_TYPE_i32},
                                           {NPK_JIT_TYPE_f64, NPK_JIT_TYPE_i64}, {NPK_JIT_TYPE_ptr},
                                           {},
                                           {NPK_JIT_TYPE_ptr, NPK_JIT_TYPE_i32}};
const char *const kBadSigs[] = {"i8(i32)", "i32(", "", "i32(i32,i32,i32,i32,i32,i32,i32)", "void(void)", "f32()"};

struct Val {
  int32_t id;
  uint8_t type;
};
struct Mod {
  npk_jit_module *m = nullptr;
  bool freed = false, sealed = false;
  bool open = false;
  int32_t poison = 0;
  int sig = 0;
  std::vector<Val> vals;          // of the open function
  std::vector<int32_t> labels;    // of the open function
  std::vector<bool> placed, used;
  int pending = 0;
  bool straight = true, runnable = true, returned = false, ended_at_return = false;
  struct Built {
    npk_jit_fn fn;
    int sig;
    bool runnable;
  };
  std::vector<Built> built;
  std::vector<int32_t> stale;     // ids of this module's earlier functions
};
Mod g_mods[2];

// A refusal: one panic line, a code in the builder's range.
void refused(const char *op, int32_t code, int lines) {
  if (lines != 1) breach("%s was refused (code %d) with %d lines, not one", op, code, lines);
  if (g_captured.find("[WildX] panic: jit_") != 0) breach("%s was refused without a jit panic line", op);
  if (code < NPK_ERR_JIT_MODULE || code >= NPK_ERR_JIT_LAST) breach("%s was refused with code %d", op, code);
}

// Checks a call that returned `code` (0 accepted) against the model: an
// accepted call printed nothing; a refusal of an open function poisons it.
void outcome(Mod &md, const char *op, int32_t code, int lines, bool valid) {
  if (md.open && md.poison != 0) {
    if (code != md.poison) breach("%s on a function poisoned with %d returned %d", op, md.poison, code);
    refused(op, code, lines);
    return;
  }
  if (code == 0) {
    if (lines != 0) breach("%s succeeded but printed %d lines", op, lines);
    return;
  }
  if (valid && code != NPK_ERR_JIT_LIMIT) breach("%s was refused with %d, the contract accepts it", op, code);
  refused(op, code, lines);
  if (md.open) md.poison = code;
}

// The state a module pointer is in, as the builder sees it.
bool usable(const Mod &md) { return md.m != nullptr && !md.freed && !md.sealed; }

// An id to use: one of the open function's values (wanting `type`, if any),
// a label, a stale id, the other module's, or a number.
int32_t pickValue(Input &in, Mod &md, uint8_t type, bool *valid) {
  uint8_t how = in.byte();
  *valid = false;
  switch (how % 8) {
    case 0: return static_cast<int32_t>(in.u32());
    case 1: return md.stale.empty() ? 0 : md.stale[in.byte() % md.stale.size()];
    case 2: {
      Mod &other = g_mods[&md == &g_mods[0] ? 1 : 0];
      return other.vals.empty() ? -1 : other.vals[in.byte() % other.vals.size()].id;
    }
    case 3: return md.labels.empty() ? 1 : md.labels[in.byte() % md.labels.size()];
    default: {
      if (md.vals.empty()) return 0;
      // Prefer one of the wanted type.
      std::vector<size_t> fit;
      for (size_t i = 0; i < md.vals.size(); ++i)
        if (type == 0 || md.vals[i].type == type) fit.push_back(i);
      if (fit.empty() || (how & 0x80)) {
        const Val &v = md.vals[in.byte() % md.vals.size()];
        *valid = type == 0 || v.type == type;
        return v.id;
      }
      const Val &v = md.vals[fit[in.byte() % fit.size()]];
      *valid = true;
      return v.id;
    }
  }
}

npk_jit_module *pickModule(Input &in, Mod **md) {
  uint8_t how = in.byte();
  *md = &g_mods[how & 1];
  static int foreign;
  switch ((how >> 1) % 16) {
    case 0: *md = nullptr; return nullptr;
    case 1: *md = nullptr; return reinterpret_cast<npk_jit_module *>(&foreign);
    default: return (*md)->m;
  }
}

// Records a value the builder returned (id > 0) into the open function.
void addValue(Mod &md, int32_t id, uint8_t type) {
  if (id > 0) md.vals.push_back({id, type});
}

// ---- operations ------------------------------------------------------------------

void opNew(Input &in) {
  Mod &md = g_mods[in.byte() & 1];
  if (md.m != nullptr && !md.freed) return;
  md = Mod{};
  captureBegin();
  md.m = npk_jit_module_new();
  int lines = captureEnd();
  trace("module_new = %p", static_cast<void *>(md.m));
  if (md.m == nullptr || lines != 0) breach("jit_module_new gave %p with %d lines", static_cast<void *>(md.m), lines);
}

void opBegin(Input &in) {
  Mod *md;
  npk_jit_module *m = pickModule(in, &md);
  uint8_t s = in.byte();
  bool good = s < 200;
  const char *sig = good ? kSigs[s % 6] : (s & 1) ? kBadSigs[s % 6] : nullptr;
  captureBegin();
  int32_t code = npk_jit_begin(m, sig, (s & 2) ? "fuzz_fn" : nullptr);
  int lines = captureEnd();
  trace("begin(%p, %s) = %d", static_cast<void *>(m), sig ? sig : "(null)", code);
  if (md == nullptr || !usable(*md)) {
    if (code == 0) breach("jit_begin accepted an unusable module");
    refused("jit_begin", code, lines);
    return;
  }
  if (md->open) {
    // Refused as OPEN even when poisoned (begin is not a call on the open
    // function); the refusal poisons a function not poisoned yet.
    if (code != NPK_ERR_JIT_OPEN) breach("jit_begin with a function open gave %d", code);
    refused("jit_begin", code, lines);
    if (md->poison == 0) md->poison = code;
    return;
  }
  if (!good) {
    if (code == 0) breach("jit_begin accepted a bad signature");
    refused("jit_begin", code, lines);
    return;
  }
  if (code != 0) breach("jit_begin refused a valid signature with %d", code);
  if (lines != 0) breach("jit_begin printed %d lines", lines);
  for (const Val &v : md->vals) md->stale.push_back(v.id);
  md->open = true;
  md->poison = 0;
  md->sig = s % 6;
  md->vals.clear();
  md->labels.clear();
  md->placed.clear();
  md->used.clear();
  md->pending = 0;
  md->straight = md->runnable = true;
  md->returned = false;
  for (size_t i = 0; i < kSigParams[md->sig].size(); ++i) {
    captureBegin();
    int32_t id = npk_jit_param(m, static_cast<int32_t>(i));
    lines = captureEnd();
    if (id <= 0 || lines != 0) breach("jit_param(%zu) gave %d", i, id);
    md->vals.push_back({id, kSigParams[md->sig][i]});
  }
}

void opConst(Input &in) {
  Mod *md;
  npk_jit_module *m = pickModule(in, &md);
  uint8_t kind = in.byte() % 4;
  int64_t v = static_cast<int32_t>(in.u32());
  captureBegin();
  int32_t id = kind == 0 ? npk_jit_const_i32(m, static_cast<int32_t>(v))
               : kind == 1 ? npk_jit_const_i64(m, v * 65537)
               : kind == 2 ? npk_jit_const_f64(m, static_cast<double>(v) / 8)
                           : npk_jit_var(m, static_cast<int32_t>(v & 7));
  int lines = captureEnd();
  trace("const/var kind %d = %d", kind, id);
  uint8_t type = static_cast<uint8_t>(kind == 0 ? int{NPK_JIT_TYPE_i32} : kind == 1 ? int{NPK_JIT_TYPE_i64} : kind == 2 ? int{NPK_JIT_TYPE_f64} : static_cast<int>(v & 7));
  bool valid = kind < 3 || (type >= 1 && type <= 4);
  if (md == nullptr || !usable(*md) || !md->open) {
    if (id > 0) breach("a const/var was accepted with no open function");
    refused("jit_const", -id, lines);
    return;
  }
  outcome(*md, "jit_const/var", id > 0 ? 0 : -id, lines, valid);
  if (id > 0) addValue(*md, id, type);
}

void opOp(Input &in) {
  Mod *md;
  npk_jit_module *m = pickModule(in, &md);
  uint8_t o = in.byte();
  int op = o < 240 ? 1 + o % 36 : o;  // a few outside the list
  if (md == nullptr || !md->m) {
    captureBegin();
    int32_t id = npk_jit_op(m, op, 1, 1);
    int lines = captureEnd();
    if (id > 0) breach("jit_op accepted a bad module");
    refused("jit_op", -id, lines);
    return;
  }
  bool fa, fb;
  int32_t a = pickValue(in, *md, 0, &fa);
  uint8_t ta = 0;
  for (const Val &v : md->vals)
    if (v.id == a) ta = v.type;
  int32_t b = pickValue(in, *md, ta, &fb);
  uint8_t tb = 0;
  for (const Val &v : md->vals)
    if (v.id == b) tb = v.type;
  captureBegin();
  int32_t id = npk_jit_op(m, op, a, b);
  int lines = captureEnd();
  trace("op(%d, %d, %d) = %d", op, a, b, id);
  if (!usable(*md) || !md->open) {
    if (id > 0) breach("jit_op was accepted with no open function");
    refused("jit_op", -id, lines);
    return;
  }
  bool is_float = op >= NPK_JIT_OP_fadd && op <= NPK_JIT_OP_fdiv;
  bool fcmp = op >= NPK_JIT_OP_feq && op <= NPK_JIT_OP_fge;
  bool cmp = op >= NPK_JIT_OP_eq && op <= NPK_JIT_OP_uge;
  bool typed = fa && fb && ta == tb &&
               (is_float || fcmp ? ta == NPK_JIT_TYPE_f64
                : cmp           ? ta != NPK_JIT_TYPE_f64
                                : (ta == NPK_JIT_TYPE_i32 || ta == NPK_JIT_TYPE_i64));
  bool valid = op >= 1 && op <= 36 && typed;
  outcome(*md, "jit_op", id > 0 ? 0 : -id, lines, valid);
  if (id > 0) {
    if (op >= NPK_JIT_OP_add_trap && op <= NPK_JIT_OP_urem) md->runnable = false;  // may trap
    addValue(*md, id, static_cast<uint8_t>(cmp || fcmp ? int{NPK_JIT_TYPE_i32} : int{ta}));
  }
}

void opSet(Input &in) {
  Mod *md;
  npk_jit_module *m = pickModule(in, &md);
  if (md == nullptr || !md->m) return;
  bool fd, fs;
  int32_t d = pickValue(in, *md, 0, &fd);
  uint8_t td = 0;
  for (const Val &v : md->vals)
    if (v.id == d) td = v.type;
  int32_t s = pickValue(in, *md, td, &fs);
  uint8_t ts = 0;
  for (const Val &v : md->vals)
    if (v.id == s) ts = v.type;
  captureBegin();
  int32_t code = npk_jit_set(m, d, s);
  int lines = captureEnd();
  trace("set(%d, %d) = %d", d, s, code);
  if (!usable(*md) || !md->open) {
    if (code == 0) breach("jit_set was accepted with no open function");
    refused("jit_set", code, lines);
    return;
  }
  outcome(*md, "jit_set", code, lines, fd && fs && td == ts);
}

void opLabel(Input &in) {
  Mod *md;
  npk_jit_module *m = pickModule(in, &md);
  if (md == nullptr || !md->m) return;
  uint8_t what = in.byte() % 4;
  int32_t code = 0, id = 0;
  int lines;
  if (what == 0 || md->labels.empty()) {
    captureBegin();
    id = npk_jit_label(m);
    lines = captureEnd();
    trace("label = %d", id);
    if (!usable(*md) || !md->open) {
      if (id > 0) breach("jit_label was accepted with no open function");
      refused("jit_label", -id, lines);
      return;
    }
    outcome(*md, "jit_label", id > 0 ? 0 : -id, lines, true);
    if (id > 0) md->labels.push_back(id), md->placed.push_back(false), md->used.push_back(false);
    return;
  }
  size_t k = in.byte() % md->labels.size();
  int32_t label = (in.byte() & 7) == 0 ? static_cast<int32_t>(in.u32()) : md->labels[k];
  bool known = label == md->labels[k];
  bool valid = known;
  captureBegin();
  if (what == 1) {
    code = npk_jit_place(m, label);
    valid = known && !md->placed[k];
  } else if (what == 2) {
    code = npk_jit_jump(m, label);
  } else {
    bool fc;
    int32_t c = pickValue(in, *md, NPK_JIT_TYPE_i32, &fc);
    code = npk_jit_branch(m, c, label);
    valid = valid && fc;
  }
  lines = captureEnd();
  trace("label op %d(%d) = %d", what, label, code);
  if (!usable(*md) || !md->open) {
    if (code == 0) breach("a label op was accepted with no open function");
    refused("jit_label_op", code, lines);
    return;
  }
  outcome(*md, "jit_place/jump/branch", code, lines, valid);
  if (code == 0 && known) {
    if (what == 1) md->placed[k] = true;
    if (what != 1) md->used[k] = true;
    md->straight = false;
  }
}

int64_t Plus(int64_t a, int64_t b) { return a + b; }

void opCall(Input &in) {
  Mod *md;
  npk_jit_module *m = pickModule(in, &md);
  if (md == nullptr || !md->m) return;
  uint8_t how = in.byte();
  int args = how % 4;
  for (int i = 0; i < args; ++i) {
    bool f;
    int32_t v = pickValue(in, *md, NPK_JIT_TYPE_i64, &f);
    captureBegin();
    int32_t code = npk_jit_arg(m, v);
    int lines = captureEnd();
    trace("arg(%d) = %d", v, code);
    if (!usable(*md) || !md->open) {
      if (code == 0) breach("jit_arg was accepted with no open function");
      refused("jit_arg", code, lines);
      return;
    }
    bool valid = md->pending < NPK_JIT_MAX_PARAMS && f;  // f: a value of this function
    outcome(*md, "jit_arg", code, lines, valid);
    if (code == 0) ++md->pending;
  }
  captureBegin();
  int32_t id = (how & 4) ? npk_jit_call_c(m, reinterpret_cast<void *>(&Plus), (how & 8) ? "i64(i64,i64)" : "bad")
                         : npk_jit_call_fn(m, md->built.empty() ? in.u32() : md->built[in.byte() % md->built.size()].fn);
  int lines = captureEnd();
  trace("call = %d", id);
  if (!usable(*md) || !md->open) {
    if (id > 0) breach("a call was accepted with no open function");
    refused("jit_call", -id, lines);
    return;
  }
  // Argument types are not modelled here (values of other types may have
  // been pushed): a refusal is allowed, an acceptance is checked for lines.
  outcome(*md, "jit_call", id >= 0 ? 0 : -id, lines, false);
  md->pending = 0;
  md->runnable = false;  // calls of module functions may recurse without end
  if (id > 0) addValue(*md, id, NPK_JIT_TYPE_i64);
}

void opRet(Input &in) {
  Mod *md;
  npk_jit_module *m = pickModule(in, &md);
  if (md == nullptr || !md->m) return;
  bool f;
  uint8_t want = md->open ? kSigRet[md->sig] : 0;
  int32_t v = want == 0 ? 0 : pickValue(in, *md, want, &f);
  captureBegin();
  int32_t code = want == 0 ? npk_jit_ret_void(m) : npk_jit_ret(m, v);
  int lines = captureEnd();
  trace("ret(%d) = %d", v, code);
  if (!usable(*md) || !md->open) {
    if (code == 0) breach("jit_ret was accepted with no open function");
    refused("jit_ret", code, lines);
    return;
  }
  outcome(*md, "jit_ret", code, lines, want == 0 || f);
  if (code == 0) md->returned = true;
}

void opEnd(Input &in) {
  Mod *md;
  npk_jit_module *m = pickModule(in, &md);
  int32_t err = -1;
  captureBegin();
  npk_jit_fn f = npk_jit_end(m, (in.byte() & 1) ? &err : nullptr);
  int lines = captureEnd();
  trace("end = %#llx err %d", static_cast<unsigned long long>(f), err);
  if (md == nullptr || !usable(*md) || !md->open) {
    if (f != 0) breach("jit_end returned a handle with no open function");
    refused("jit_end", err == -1 ? NPK_ERR_JIT_MODULE : err, lines);
    return;
  }
  md->open = false;
  for (const Val &v : md->vals) md->stale.push_back(v.id);
  md->vals.clear();
  if (md->poison != 0) {
    if (f != 0 || (err != -1 && err != md->poison)) breach("jit_end of a function poisoned with %d gave %d", md->poison, err);
    refused("jit_end", md->poison, lines);
    return;
  }
  if (f == 0 && md->straight && md->returned && err != -1 && err != NPK_ERR_JIT_LIMIT && err != NPK_ERR_JIT_ADD)
    breach("jit_end refused straight-line code that returns with %d", err);
  if (f == 0) {
    // Refused at the end: an unplaced label, a missing return, or limits.
    if (err != -1 && err != NPK_ERR_JIT_LABEL_UNPLACED && err != NPK_ERR_JIT_NO_RETURN && err != NPK_ERR_JIT_LIMIT &&
        err != NPK_ERR_JIT_ADD)
      breach("jit_end refused with %d", err);
    if (lines != 1) breach("jit_end was refused with %d lines", lines);
    return;
  }
  if (lines != 0) breach("jit_end succeeded but printed %d lines", lines);
  if (md->straight && !md->returned) breach("jit_end accepted straight-line code without a return");
  md->built.push_back({f, md->sig, md->straight && md->runnable});
}

// Not instrumented by -fsanitize=function (npk/runtime.h, NPK_CALLS_JIT_CODE):
// generated code has no type data in front of it.
NPK_CALLS_JIT_CODE void opSeal(Input &in) {
  Mod &md = g_mods[in.byte() & 1];
  if (md.m == nullptr || md.freed || md.sealed || md.built.empty()) return;
  captureBegin();
  int32_t r = npk_jit_module_seal(md.m);
  int lines = captureEnd();
  trace("seal = %d", r);
  if (r != 0 || lines != 0) breach("jit_module_seal refused (%d, %d lines)", r, lines);
  md.sealed = true;
  md.open = false;
  for (const Mod::Built &b : md.built) {
    captureBegin();
    void *entry = npk_jit_fn_entry(b.fn, npk_jit_sig_intern(kSigs[b.sig]));
    lines = captureEnd();
    if (entry == nullptr || lines != 0) breach("a built function has no entry after the seal");
    // Straight-line arithmetic without traps or calls always returns.
    if (b.runnable && b.sig == 0) {
      int64_t (*fn)(int64_t, int64_t);
      memcpy(&fn, &entry, sizeof fn);
      (void)fn(3, 4);
    }
  }
}

void opFree(Input &in) {
  Mod &md = g_mods[in.byte() & 1];
  if (md.m == nullptr || md.freed) return;
  captureBegin();
  int32_t r = npk_jit_module_free(md.m);
  int lines = captureEnd();
  trace("module_free = %d", r);
  if (r != 0 || lines != 0) breach("jit_module_free refused");
  md.freed = true;
  md.open = false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (g_capture < 0) {
    g_saved_stderr = dup(2);
    FILE *tmp = tmpfile();
    if (tmp == nullptr) std::abort();
    g_capture = dup(fileno(tmp));
  }
  g_trace.clear();
  for (Mod &md : g_mods) md = Mod{};
  Input in{data, size};
  for (int steps = 0; !in.done() && steps < 4000; ++steps) {
    switch (in.byte() % 12) {
      case 0: opNew(in); break;
      case 1: opBegin(in); break;
      case 2:
      case 3: opConst(in); break;
      case 4:
      case 5: opOp(in); break;
      case 6: opSet(in); break;
      case 7: opLabel(in); break;
      case 8: opCall(in); break;
      case 9: opRet(in); break;
      case 10: opEnd(in); break;
      case 11: (in.byte() & 1) ? opSeal(in) : opFree(in); break;
    }
  }
  for (Mod &md : g_mods)
    if (md.m != nullptr && !md.freed) {
      captureBegin();
      npk_jit_module_free(md.m);
      captureEnd();
    }
  return 0;
}
