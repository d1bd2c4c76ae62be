// libFuzzer target: the runtime's C API (runtime/include/npk/runtime.h)
// driven by a byte-coded sequence of operations over several pointers and
// handles at once: wildx pages (alloc, install, seal, call, free), JIT
// modules and function handles (new, add, seal, call, free), Jit.compile_*
// handles, the wild heap (alloc, write, free) and signature tags, with misuse
// mixed in: double free and double seal, stale pointers and handles, calls of
// writable or freed code, NULL, interior, misaligned, foreign and random
// pointers. Each operation is checked against a model of what is live:
//  - the runtime never crashes (the sanitizers and libFuzzer report that);
//  - an operation the contract accepts succeeds and prints nothing, one it
//    refuses returns its failure value and prints exactly one line (stderr is
//    captured around each call and the lines counted);
//  - calls return what the installed code computes; wildx pages come back
//    page-aligned, zero-filled and apart from every live page; the live bytes
//    npk_wildx_stats reports are those of the live pages.
// A breach prints the operation and aborts. Everything still live is freed
// at the end of each input, so inputs do not share state.
//
// Input: a sequence of operations, each one byte (the operation) followed by
// the bytes its arguments take (a missing byte reads as 0).
#include "npk/runtime.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

// Where sanitizer reports go (there only in a sanitizer build).
extern "C" __attribute__((weak)) void __sanitizer_set_report_fd(void *fd);

namespace {

// ---- input -------------------------------------------------------------------

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
  uint64_t u64() { return u32() | static_cast<uint64_t>(u32()) << 32; }
};

// ---- stderr capture ----------------------------------------------------------

int g_saved_stderr = -1; // the real stderr: libFuzzer's and the sanitizers' output
int g_capture = -1;      // a memfd fd 2 points at during each runtime call
std::string g_captured;  // what the last call printed
std::string g_trace;     // the operations of this input so far, for a breach report

void captureBegin() { dup2(g_capture, 2); }

// Ends a capture; returns the number of lines the call printed.
int captureEnd() {
  dup2(g_saved_stderr, 2);
  g_captured.clear();
  off_t n = lseek(g_capture, 0, SEEK_CUR);
  if (n > 0) {
    g_captured.resize(static_cast<size_t>(n));
    ssize_t got = pread(g_capture, g_captured.data(), g_captured.size(), 0);
    g_captured.resize(got > 0 ? static_cast<size_t>(got) : 0);
    if (ftruncate(g_capture, 0) != 0 || lseek(g_capture, 0, SEEK_SET) != 0) {
      dup2(g_saved_stderr, 2);
      std::perror("fuzz_runtime_api: stderr capture");
      std::abort();
    }
  }
  return static_cast<int>(std::count(g_captured.begin(), g_captured.end(), '\n'));
}

[[noreturn]] void breach(const char *fmt, ...) {
  dup2(g_saved_stderr, 2);
  std::fprintf(stderr, "fuzz_runtime_api: contract breach: ");
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "\n  the call printed: %s\n  operations so far:\n%s", g_captured.empty() ? "(nothing)\n" : g_captured.c_str(),
               g_trace.c_str());
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

enum class Expect { Accept, Refuse, Either };

// Checks one call's outcome: `accepted` is what its return value says; a
// refusal prints exactly one panic line, an acceptance none.
void verdict(const char *op, Expect expect, bool accepted, int lines) {
  if (expect == Expect::Accept && !accepted) breach("%s was refused, the contract accepts it", op);
  if (expect == Expect::Refuse && accepted) breach("%s was accepted, the contract refuses it", op);
  if (accepted && lines != 0) breach("%s succeeded but printed %d lines", op, lines);
  if (!accepted && lines != 1) breach("%s was refused with %d lines, not one", op, lines);
  if (!accepted && g_captured.find("] panic: ") == std::string::npos) breach("%s was refused without a panic line", op);
}

// ---- the model -----------------------------------------------------------------

size_t g_page = 4096;
npk_jit_sig g_sig_add = 0;   // "i32(i32,i32)"
npk_jit_sig g_sig_const = 0; // "i32()"
npk_jit_sig g_sig_other = 0; // "i64(i64,ptr)": code of this signature is never called

enum class Code { Add, Const, Junk };

struct Page {          // a live wildx allocation
  size_t bytes;        // rounded to pages
  bool sealed = false;
  bool installed = false;
};
struct Fn {            // a function handle ever returned
  enum State { Added, Sealed, Freed } state = Added;
  npk_jit_sig sig = 0;
  Code code = Code::Junk;
  int32_t value = 0;   // what Code::Const returns
  bool standalone = false; // from npk_jit_compile_add_i32 (a tagged pointer)
};
struct Mod {
  npk_jit_module *m = nullptr;
  bool sealed = false, freed = false;
  std::vector<npk_jit_fn> fns;
};

std::map<uintptr_t, Page> g_pages;   // live wildx pages by start
std::map<uintptr_t, size_t> g_heap;  // live npk_alloc blocks by start
std::map<npk_jit_fn, Fn> g_fns;      // every handle of this input
std::vector<Mod> g_mods;             // every module of this input

// The pointers and handles operations name by slot: they go stale when freed
// and stay in their slot, so later operations reuse them.
constexpr int kSlots = 8;
uintptr_t g_ptr[kSlots];       // wildx pages and tagged JIT handle pointers
uintptr_t g_heapPtr[kSlots];   // npk_alloc blocks
npk_jit_fn g_fnSlot[kSlots];   // module function handles

constexpr uint64_t kHandleTag = uint64_t{1} << 63; // a tagged handle pointer (runtime.h)
bool isTagged(uintptr_t p) { return (p & kHandleTag) != 0; }
npk_jit_fn untag(uintptr_t p) { return p & ~kHandleTag; }

const Page *livePage(uintptr_t p) {
  auto it = g_pages.find(p);
  return it == g_pages.end() ? nullptr : &it->second;
}
Fn *liveFn(npk_jit_fn f) {
  auto it = g_fns.find(f);
  return it == g_fns.end() || it->second.state == Fn::Freed ? nullptr : &it->second;
}

int64_t liveBytes() {
  int64_t sum = 0;
  for (auto &[p, page] : g_pages) sum += static_cast<int64_t>(page.bytes);
  return sum;
}

// A pointer for a wildx or heap operation: a slot, or misuse built from one.
uintptr_t pickPointer(Input &in, const uintptr_t *slots) {
  uint8_t how = in.byte();
  uintptr_t base = slots[how % kSlots];
  static int foreignVar;
  static char foreign[64];
  switch ((how >> 3) % 12) {
  case 0: return 0;                                       // NULL
  case 1: return base + 1;                                // misaligned / interior
  case 2: return base + g_page;                           // next page: interior or another allocation
  case 3: return base ? base - g_page : 0;                // the page before
  case 4: return reinterpret_cast<uintptr_t>(&foreignVar); // foreign: a global
  case 5: return reinterpret_cast<uintptr_t>(foreign + 8);  // foreign, interior
  case 6: return in.u64();                                // anything
  case 7: return g_heapPtr[in.byte() % kSlots];           // a heap block (to wildx) or the other way round
  case 8: return g_ptr[in.byte() % kSlots];
  default: return base;                                   // the slot itself (live or stale)
  }
}

// ---- operations ----------------------------------------------------------------

void opWildxAlloc(Input &in) {
  uint8_t a = in.byte();
  int64_t n = a < 8 ? -static_cast<int64_t>(a) : (a < 240 ? static_cast<int64_t>(a) * 37 : in.u32() % (1 << 20));
  int slot = in.byte() % kSlots;
  captureBegin();
  void *p = npk_wildx_alloc(n);
  int lines = captureEnd();
  trace("wildx_alloc(%lld) = %p -> slot %d", static_cast<long long>(n), p, slot);
  if (lines != 0) breach("wildx_alloc printed %d lines", lines);
  if (n < 0) {
    if (p != nullptr) breach("wildx_alloc(%lld) returned a pointer", static_cast<long long>(n));
    return;
  }
  if (p == nullptr) return; // quota: allowed, silent
  uintptr_t u = reinterpret_cast<uintptr_t>(p);
  size_t bytes = (static_cast<size_t>(std::max<int64_t>(n, 1)) + g_page - 1) / g_page * g_page;
  if (u % g_page != 0) breach("wildx_alloc returned %p, not page-aligned", p);
  for (auto &[q, page] : g_pages)
    if (u < q + page.bytes && q < u + bytes) breach("wildx_alloc returned %p, which overlaps the live page %p", p, reinterpret_cast<void *>(q));
  const unsigned char *c = static_cast<const unsigned char *>(p);
  if (c[0] != 0 || c[bytes - 1] != 0 || c[bytes / 2] != 0) breach("wildx_alloc returned %p, not zero-filled", p);
  g_pages[u] = Page{bytes};
  g_ptr[slot] = u;
}

void opInstall(Input &in) {
  uintptr_t p = pickPointer(in, g_ptr);
  const Page *page = livePage(p);
  Expect expect = page && !page->sealed ? Expect::Accept : Expect::Refuse;
  captureBegin();
  int32_t r = npk_jit_install_add_i32(reinterpret_cast<void *>(p));
  int lines = captureEnd();
  trace("jit_install_add_i32(%#lx) = %d", p, r);
  verdict("jit_install_add_i32", expect, r == 0, lines);
  if (r == 0) g_pages[p].installed = true;
}

void opSeal(Input &in) {
  uintptr_t p = pickPointer(in, g_ptr);
  const Page *page = livePage(p);
  Expect expect = page && !page->sealed ? Expect::Accept : Expect::Refuse;
  captureBegin();
  int32_t r = npk_wildx_seal(reinterpret_cast<void *>(p));
  int lines = captureEnd();
  trace("wildx_seal(%#lx) = %d", p, r);
  verdict("wildx_seal", expect, r == 0, lines);
  if (r == 0) g_pages[p].sealed = true;
}

void opWildxFree(Input &in) {
  uintptr_t p = pickPointer(in, g_ptr);
  bool handle = isTagged(p) && liveFn(untag(p)) && g_fns[untag(p)].standalone;
  Expect expect = livePage(p) || handle ? Expect::Accept : Expect::Refuse;
  captureBegin();
  int32_t r = npk_wildx_free(reinterpret_cast<void *>(p));
  int lines = captureEnd();
  trace("wildx_free(%#lx) = %d", p, r);
  verdict("wildx_free", expect, r == 0, lines);
  if (r != 0) return;
  if (handle)
    g_fns[untag(p)].state = Fn::Freed;
  else
    g_pages.erase(p);
}

// npk_jit_try_call_i32_i32 and npk_jit_call_i32_i32 on a page or a tagged
// handle. A sealed page that holds no installed code is not called: running
// zero bytes is the program's bug, not the runtime's.
void opCallPage(Input &in, bool checked) {
  uintptr_t p = pickPointer(in, g_ptr);
  int32_t a = static_cast<int32_t>(in.u32()), b = static_cast<int32_t>(in.u32());
  const Page *page = livePage(p);
  const Fn *fn = isTagged(p) ? liveFn(untag(p)) : nullptr;
  if (page && page->sealed && !page->installed) return;
  bool callable = (page && page->sealed) || (fn && fn->state == Fn::Sealed && fn->sig == g_sig_add && fn->code == Code::Add);
  if (fn && fn->state == Fn::Sealed && fn->sig == g_sig_add && fn->code != Code::Add) return; // never called
  int32_t want = static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
  if (checked) {
    int32_t out = 12345;
    bool nullOut = in.byte() == 0xff;
    captureBegin();
    int32_t r = npk_jit_try_call_i32_i32(reinterpret_cast<void *>(p), a, b, nullOut ? nullptr : &out);
    int lines = captureEnd();
    trace("jit_try_call_i32_i32(%#lx, %d, %d, %s) = %d", p, a, b, nullOut ? "NULL" : "&out", r);
    verdict("jit_try_call_i32_i32", nullOut ? Expect::Refuse : callable ? Expect::Accept : Expect::Refuse, r == 0, lines);
    if (r == 0 && out != want) breach("jit_try_call_i32_i32 computed %d, not %d", out, want);
    if (r != 0 && !nullOut && out != 0) breach("a refused jit_try_call_i32_i32 left *out = %d, not 0", out);
    if (r != 0 && r != -1 && r != NPK_ERR_JIT_NOT_SEALED && r != NPK_ERR_JIT_NOT_LIVE && r != NPK_ERR_JIT_SIGNATURE)
      breach("jit_try_call_i32_i32 refused with %d", r);
    if (page && !page->sealed && r != NPK_ERR_JIT_NOT_SEALED && !nullOut) breach("a writable page's call gave %d, not 205", r);
    return;
  }
  captureBegin();
  int32_t r = npk_jit_call_i32_i32(reinterpret_cast<void *>(p), a, b);
  int lines = captureEnd();
  trace("jit_call_i32_i32(%#lx, %d, %d) = %d", p, a, b, r);
  if (callable) {
    if (r != want || lines != 0) breach("jit_call_i32_i32 gave %d with %d lines, not %d", r, lines, want);
  } else {
    verdict("jit_call_i32_i32", Expect::Refuse, lines == 0, lines);
    if (r != -1) breach("a refused jit_call_i32_i32 returned %d", r);
  }
}

void opCompileAdd(Input &in) {
  int slot = in.byte() % kSlots;
  int32_t err = -7;
  captureBegin();
  void *p = npk_jit_compile_add_i32(&err);
  int lines = captureEnd();
  trace("jit_compile_add_i32 = %p (err %d) -> slot %d", p, err, slot);
  if (p == nullptr) {
    if (err != NPK_ERR_JIT_ALLOC && err != NPK_ERR_JIT_INSTALL) breach("jit_compile_add_i32 failed with err %d", err);
    return;
  }
  if (err != 0 || lines != 0) breach("jit_compile_add_i32 succeeded with err %d and %d lines", err, lines);
  uintptr_t u = reinterpret_cast<uintptr_t>(p);
  if (!isTagged(u)) breach("jit_compile_add_i32 returned %p without the handle tag", p);
  Fn fn;
  fn.state = Fn::Sealed;
  fn.sig = g_sig_add;
  fn.code = Code::Add;
  fn.standalone = true;
  g_fns[untag(u)] = fn;
  g_ptr[slot] = u;
}

void opHeapAlloc(Input &in) {
  uint8_t a = in.byte();
  int64_t n = a < 4 ? -static_cast<int64_t>(a) - 1 : (a < 250 ? a - 4 : in.u32() % 65536);
  int slot = in.byte() % kSlots;
  captureBegin();
  void *p = npk_alloc(n);
  int lines = captureEnd();
  trace("alloc(%lld) = %p -> slot %d", static_cast<long long>(n), p, slot);
  if (lines != 0) breach("alloc printed %d lines", lines);
  if (n < 0) {
    if (p) breach("alloc(%lld) returned a pointer", static_cast<long long>(n));
    return;
  }
  if (!p) breach("alloc(%lld) returned NULL", static_cast<long long>(n));
  const unsigned char *c = static_cast<const unsigned char *>(p);
  for (int64_t i = 0; i < n; ++i)
    if (c[i] != 0) breach("alloc(%lld) is not zeroed at byte %lld", static_cast<long long>(n), static_cast<long long>(i));
  g_heap[reinterpret_cast<uintptr_t>(p)] = static_cast<size_t>(n);
  g_heapPtr[slot] = reinterpret_cast<uintptr_t>(p);
}

void opHeapWrite(Input &in) {
  uintptr_t p = g_heapPtr[in.byte() % kSlots];
  uint8_t v = in.byte();
  auto it = g_heap.find(p);
  if (it == g_heap.end()) return; // writing through a stale pointer is the program's bug
  trace("write %zu bytes at %#lx", it->second, p);
  std::memset(reinterpret_cast<void *>(p), v, it->second); // the sanitizer checks the block's size
}

void opHeapFree(Input &in) {
  uintptr_t p = pickPointer(in, g_heapPtr);
  Expect expect = g_heap.count(p) ? Expect::Accept : Expect::Refuse;
  captureBegin();
  int32_t r = npk_free(reinterpret_cast<void *>(p));
  int lines = captureEnd();
  trace("free(%#lx) = %d", p, r);
  verdict("free", expect, r == 0, lines);
  if (r == 0) g_heap.erase(p);
}

Mod *pickModule(Input &in) {
  if (g_mods.empty()) return nullptr;
  return &g_mods[in.byte() % g_mods.size()];
}

void opModuleNew(Input &) {
  captureBegin();
  npk_jit_module *m = npk_jit_module_new();
  int lines = captureEnd();
  trace("jit_module_new = %p", static_cast<void *>(m));
  if (!m || lines != 0) breach("jit_module_new gave %p with %d lines", static_cast<void *>(m), lines);
  Mod mod;
  mod.m = m;
  g_mods.push_back(mod);
}

void opModuleAdd(Input &in) {
  Mod *mod = pickModule(in);
  uint8_t how = in.byte();
  int32_t value = static_cast<int32_t>(in.u32());
  int slot = in.byte() % kSlots;
  // mov eax, edi; add eax, esi; ret  |  mov eax, imm32; ret  |  bytes never run
  static const unsigned char kAdd[] = {0x89, 0xf8, 0x01, 0xf0, 0xc3};
  unsigned char constCode[6] = {0xb8, 0, 0, 0, 0, 0xc3};
  std::memcpy(constCode + 1, &value, 4);
  static unsigned char junk[8192];
  Code code = static_cast<Code>(how % 3);
  const void *bytes = code == Code::Add ? static_cast<const void *>(kAdd) : code == Code::Const ? constCode : junk;
  size_t len = code == Code::Add ? sizeof kAdd : code == Code::Const ? sizeof constCode : 1 + static_cast<uint32_t>(value) % sizeof junk;
  npk_jit_sig sig = code == Code::Add ? g_sig_add : code == Code::Const ? g_sig_const : g_sig_other;
  bool misuse = (how >> 2) % 8 == 0;
  if (misuse) {
    switch ((how >> 5) % 4) {
    case 0: bytes = nullptr; break;
    case 1: len = 0; break;
    case 2: len = (size_t{4} << 20) + 1; bytes = junk; break; // longer than 4 MiB; never read
    default: sig = 0xfffff; break;
    }
  }
  npk_jit_module *m = mod ? mod->m : nullptr;
  if (mod && mod->freed) return; // the pointer is invalid after npk_jit_module_free (runtime.h)
  bool tooLong = len > (size_t{4} << 20);
  Expect expect = mod && !mod->sealed && bytes && len && !tooLong && sig != 0xfffff ? Expect::Either : Expect::Refuse;
  captureBegin();
  npk_jit_fn f = npk_jit_module_add(m, tooLong ? junk : bytes, len, sig, (how & 2) ? "fuzz_fn" : nullptr);
  int lines = captureEnd();
  trace("jit_module_add(%p, code %d, len %zu, sig %u) = %#llx", static_cast<void *>(m), static_cast<int>(code), len, sig,
        static_cast<unsigned long long>(f));
  verdict("jit_module_add", expect, f != 0, lines); // Either: the arena's slots may run out
  if (f == 0) return;
  if (g_fns.count(f)) breach("jit_module_add returned the handle %#llx a second time", static_cast<unsigned long long>(f));
  Fn fn;
  fn.sig = sig;
  fn.code = code;
  fn.value = value;
  g_fns[f] = fn;
  mod->fns.push_back(f);
  g_fnSlot[slot] = f;
}

void opModuleSeal(Input &in) {
  Mod *mod = pickModule(in);
  if (mod && mod->freed) return; // invalid pointer (runtime.h)
  bool anyLive = false, anyAdded = false;
  if (mod)
    for (npk_jit_fn f : mod->fns) {
      anyAdded = true;
      anyLive = anyLive || liveFn(f);
    }
  // A module whose functions were all freed one by one: either answer.
  Expect expect = !mod || mod->sealed || !anyAdded ? Expect::Refuse : anyLive ? Expect::Accept : Expect::Either;
  captureBegin();
  int32_t r = npk_jit_module_seal(mod ? mod->m : nullptr);
  int lines = captureEnd();
  trace("jit_module_seal(%p) = %d", mod ? static_cast<void *>(mod->m) : nullptr, r);
  verdict("jit_module_seal", expect, r == 0, lines);
  if (r != 0) return;
  mod->sealed = true;
  for (npk_jit_fn f : mod->fns)
    if (Fn *fn = liveFn(f)) fn->state = Fn::Sealed;
}

void opModuleFree(Input &in) {
  Mod *mod = pickModule(in);
  if (mod && mod->freed) return; // invalid pointer (runtime.h)
  captureBegin();
  int32_t r = npk_jit_module_free(mod ? mod->m : nullptr);
  int lines = captureEnd();
  trace("jit_module_free(%p) = %d", mod ? static_cast<void *>(mod->m) : nullptr, r);
  verdict("jit_module_free", mod ? Expect::Accept : Expect::Refuse, r == 0, lines);
  if (r != 0) return;
  mod->freed = true;
  for (npk_jit_fn f : mod->fns)
    if (Fn *fn = liveFn(f)) fn->state = Fn::Freed;
}

npk_jit_fn pickHandle(Input &in) {
  uint8_t how = in.byte();
  npk_jit_fn f = g_fnSlot[how % kSlots];
  switch ((how >> 3) % 8) {
  case 0: return 0;
  case 1: return f ^ (uint64_t{1} << 32);          // another generation of the slot
  case 2: return f + 1;                            // the next slot
  case 3: return in.u64();                         // anything
  case 4: return untag(g_ptr[in.byte() % kSlots]); // a Jit.compile_* handle, untagged
  default: return f;                               // the slot itself (live or stale)
  }
}

void opFnFree(Input &in) {
  npk_jit_fn f = pickHandle(in);
  Fn *fn = liveFn(f);
  captureBegin();
  int32_t r = npk_jit_fn_free(f);
  int lines = captureEnd();
  trace("jit_fn_free(%#llx) = %d", static_cast<unsigned long long>(f), r);
  verdict("jit_fn_free", fn ? Expect::Accept : Expect::Refuse, r == 0, lines);
  if (r == 0) fn->state = Fn::Freed;
}

NPK_CALLS_JIT_CODE int32_t callConst(void *entry) {
  int32_t (*call)(void);
  std::memcpy(&call, &entry, sizeof call);
  return call();
}

void opFnCall(Input &in) {
  npk_jit_fn f = pickHandle(in);
  uint8_t how = in.byte();
  int32_t a = static_cast<int32_t>(in.u32()), b = static_cast<int32_t>(in.u32());
  npk_jit_sig sig = how % 3 == 0 ? g_sig_add : how % 3 == 1 ? g_sig_const : g_sig_other;
  Fn *fn = liveFn(f);
  bool match = fn && fn->state == Fn::Sealed && fn->sig == sig;
  if (match && fn->code == Code::Junk) return; // never run
  captureBegin();
  void *entry = npk_jit_fn_entry(f, sig);
  int lines = captureEnd();
  trace("jit_fn_entry(%#llx, sig %u) = %p", static_cast<unsigned long long>(f), sig, entry);
  verdict("jit_fn_entry", match ? Expect::Accept : Expect::Refuse, entry != nullptr, lines);
  if (npk_jit_fn_lookup(f, sig) != entry) breach("jit_fn_lookup and jit_fn_entry disagree");
  if (!entry) {
    if (sig != g_sig_add) return;
    captureBegin();
    int32_t r = npk_jit_fn_call_i32_i32(f, sig, a, b);
    lines = captureEnd();
    if (r != -1 || lines != 1) breach("a refused jit_fn_call_i32_i32 gave %d with %d lines", r, lines);
    return;
  }
  if (sig == g_sig_add) {
    int32_t want = static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
    captureBegin();
    int32_t r = npk_jit_fn_call_i32_i32(f, sig, a, b);
    lines = captureEnd();
    if (r != want || lines != 0) breach("jit_fn_call_i32_i32 gave %d with %d lines, not %d", r, lines, want);
  } else {
    int32_t r = callConst(entry);
    if (r != fn->value) breach("the function returned %d, not %d", r, fn->value);
  }
}

void opFnName(Input &in) {
  npk_jit_fn f = pickHandle(in);
  captureBegin();
  const char *name = npk_jit_fn_name(f);
  int lines = captureEnd();
  trace("jit_fn_name(%#llx) = %s", static_cast<unsigned long long>(f), name ? name : "NULL");
  if (lines != 0) breach("jit_fn_name printed %d lines", lines);
  if ((name != nullptr) != (liveFn(f) != nullptr)) breach("jit_fn_name answered %s for a %s handle", name ? name : "NULL", liveFn(f) ? "live" : "dead");
  if (name && std::strlen(name) == 0) breach("jit_fn_name gave an empty name");
}

void opSigIntern(Input &in) {
  char text[24];
  size_t n = in.byte() % sizeof text;
  for (size_t i = 0; i < n; ++i) {
    static const char kAlphabet[] = "iuf8136240voidptr(),";
    uint8_t c = in.byte();
    text[i] = c < 200 ? kAlphabet[c % (sizeof kAlphabet - 1)] : static_cast<char>(c);
  }
  text[n] = 0;
  bool null = n == 0 && in.byte() == 0xff;
  captureBegin();
  npk_jit_sig sig = npk_jit_sig_intern(null ? nullptr : text);
  int lines = captureEnd();
  trace("jit_sig_intern(\"%s\") = %u", null ? "(null)" : text, sig);
  verdict("jit_sig_intern", null ? Expect::Refuse : Expect::Either, sig != 0, lines);
  if (sig != 0) {
    const char *name = npk_jit_sig_name(sig);
    if (!name || std::strcmp(name, text) != 0) breach("jit_sig_name(%u) is %s, not %s", sig, name ? name : "NULL", text);
    if (npk_jit_sig_intern(text) != sig) breach("jit_sig_intern(\"%s\") gave two tags", text);
  }
}

void opStats(Input &in) {
  bool null = in.byte() == 0xff;
  npk_wildx_stats_t s{};
  captureBegin();
  int32_t r = npk_wildx_stats(null ? nullptr : &s);
  int lines = captureEnd();
  trace("wildx_stats = %d (live %lld)", r, static_cast<long long>(s.live_bytes));
  verdict("wildx_stats", null ? Expect::Refuse : Expect::Accept, r == 0, lines);
  if (r == 0 && s.live_bytes != liveBytes())
    breach("wildx_stats says %lld live bytes, the live pages hold %lld", static_cast<long long>(s.live_bytes),
           static_cast<long long>(liveBytes()));
}

// Frees what the input left live, so the next input starts from nothing.
void cleanUp() {
  for (Mod &mod : g_mods)
    if (!mod.freed) {
      captureBegin();
      int32_t r = npk_jit_module_free(mod.m);
      int lines = captureEnd();
      if (r != 0 || lines != 0) breach("cleaning up: jit_module_free(%p) gave %d", static_cast<void *>(mod.m), r);
    }
  for (auto &[f, fn] : g_fns)
    if (fn.standalone && fn.state != Fn::Freed) {
      captureBegin();
      int32_t r = npk_jit_fn_free(f);
      int lines = captureEnd();
      if (r != 0 || lines != 0) breach("cleaning up: jit_fn_free(%#llx) gave %d", static_cast<unsigned long long>(f), r);
    }
  for (auto &[p, page] : g_pages) {
    captureBegin();
    int32_t r = npk_wildx_free(reinterpret_cast<void *>(p));
    int lines = captureEnd();
    if (r != 0 || lines != 0) breach("cleaning up: wildx_free(%#lx) gave %d", p, r);
  }
  for (auto &[p, n] : g_heap) {
    captureBegin();
    int32_t r = npk_free(reinterpret_cast<void *>(p));
    int lines = captureEnd();
    if (r != 0 || lines != 0) breach("cleaning up: free(%#lx) gave %d", p, r);
  }
  npk_wildx_stats_t s{};
  if (npk_wildx_stats(&s) != 0 || s.live_bytes != 0) breach("cleaning up: %lld wildx bytes still live", static_cast<long long>(s.live_bytes));
  g_pages.clear();
  g_heap.clear();
  g_fns.clear();
  g_mods.clear();
  std::memset(g_ptr, 0, sizeof g_ptr);
  std::memset(g_heapPtr, 0, sizeof g_heapPtr);
  std::memset(g_fnSlot, 0, sizeof g_fnSlot);
  g_trace.clear();
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  g_page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  g_saved_stderr = dup(2);
  g_capture = memfd_create("fuzz_runtime_api_stderr", MFD_CLOEXEC);
  if (g_saved_stderr < 0 || g_capture < 0) {
    std::perror("fuzz_runtime_api: stderr capture");
    std::exit(1);
  }
  // Sanitizer reports go to the real stderr, also from inside a capture.
  if (__sanitizer_set_report_fd) __sanitizer_set_report_fd(reinterpret_cast<void *>(static_cast<intptr_t>(g_saved_stderr)));
  g_sig_add = npk_jit_sig_intern("i32(i32,i32)");
  g_sig_const = npk_jit_sig_intern("i32()");
  g_sig_other = npk_jit_sig_intern("i64(i64,ptr)");
  if (!g_sig_add || !g_sig_const || !g_sig_other) {
    std::fprintf(stderr, "fuzz_runtime_api: cannot intern the signatures\n");
    std::exit(1);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Input in{data, size};
  int ops = 0;
  while (!in.done() && ops++ < 256) {
    switch (in.byte() % 18) {
    case 0: opWildxAlloc(in); break;
    case 1: opInstall(in); break;
    case 2: opSeal(in); break;
    case 3: opWildxFree(in); break;
    case 4: opCallPage(in, true); break;
    case 5: opCallPage(in, false); break;
    case 6: opCompileAdd(in); break;
    case 7: opHeapAlloc(in); break;
    case 8: opHeapWrite(in); break;
    case 9: opHeapFree(in); break;
    case 10: opModuleNew(in); break;
    case 11: opModuleAdd(in); break;
    case 12: opModuleSeal(in); break;
    case 13: opModuleFree(in); break;
    case 14: opFnFree(in); break;
    case 15: opFnCall(in); break;
    case 16: opSigIntern(in); break;
    default:
      if (in.byte() & 1)
        opStats(in);
      else
        opFnName(in);
      break;
    }
  }
  cleanUp();
  return 0;
}
