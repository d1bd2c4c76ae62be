// Runtime benchmarks: the JIT lifecycle against the reference baseline, thread
// scaling, and what a checked JIT call costs over a plain indirect call.
#include <benchmark/benchmark.h>
#include <npk/runtime.h>

#include <cstdint>
#include <cstring>

#include <sys/mman.h>
#include <unistd.h>

#include "reference_lifecycle.h"

#include <asmjit/x86.h>

namespace {

void BM_Lifecycle_Npk(benchmark::State &state) {
  int32_t i = 0;
  for (auto _ : state) {
    void *page = npk_wildx_alloc(64);
    if (page == nullptr || npk_jit_install_add_i32(page) != 0 || npk_wildx_seal(page) != 0) {
      state.SkipWithError("lifecycle refused");
      break;
    }
    benchmark::DoNotOptimize(npk_jit_call_i32_i32(page, i++, 1));
    npk_wildx_free(page);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Lifecycle_Npk)->UseRealTime()->Threads(1)->Threads(2);

void BM_Lifecycle_ReferenceBaseline(benchmark::State &state) {
  uint64_t rng = 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(state.thread_index());
  uint64_t hashes = 0;
  int32_t i = 0;
  for (auto _ : state) {
    int32_t result = reference_lifecycle(&rng, i, 1, &hashes);
    if (result != i + 1) {
      state.SkipWithError("reference lifecycle failed");
      break;
    }
    ++i;
  }
  benchmark::DoNotOptimize(hashes);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Lifecycle_ReferenceBaseline)->UseRealTime()->Threads(1)->Threads(2);

// The floor for any single-mapping W^X scheme: the two permission changes a
// lifecycle needs (RW -> RX at seal, RX -> RW at free) on a page of the
// thread's own, and nothing else.
void BM_PlatformFloor_TwoMprotects(benchmark::State &state) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  char *region = static_cast<char *>(
      mmap(nullptr, 3 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  char *p = region + page;  // PROT_NONE on both sides: no VMA merges
  if (region == MAP_FAILED || mprotect(p, page, PROT_READ | PROT_WRITE) != 0)
    return state.SkipWithError("mmap failed");
  for (auto _ : state) {
    mprotect(p, page, PROT_READ | PROT_EXEC);
    mprotect(p, page, PROT_READ | PROT_WRITE);
    p[0] = 1;
  }
  munmap(region, 3 * page);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PlatformFloor_TwoMprotects)->UseRealTime()->Threads(1)->Threads(2);

__attribute__((noinline)) int32_t PlainAdd(int32_t a, int32_t b) { return a + b; }

void BM_Call_PlainFunctionPointer(benchmark::State &state) {
  int32_t (*volatile fn)(int32_t, int32_t) = PlainAdd;
  int32_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(fn(i++, 1));
}
BENCHMARK(BM_Call_PlainFunctionPointer);

// A sealed add page for the call benchmarks, freed when the benchmark ends.
class SealedAddPage {
 public:
  SealedAddPage() : page_(npk_wildx_alloc(64)) {
    if (page_ != nullptr && (npk_jit_install_add_i32(page_) != 0 || npk_wildx_seal(page_) != 0)) {
      npk_wildx_free(page_);
      page_ = nullptr;
    }
  }
  ~SealedAddPage() {
    if (page_ != nullptr) npk_wildx_free(page_);
  }
  void *get() const { return page_; }

 private:
  void *page_;
};

void BM_Call_JitPageUnchecked(benchmark::State &state) {
  SealedAddPage page;
  if (page.get() == nullptr) return state.SkipWithError("no page");
  int32_t (*fn)(int32_t, int32_t);
  void *address = page.get();
  std::memcpy(&fn, &address, sizeof fn);
  int32_t (*volatile call)(int32_t, int32_t) = fn;
  int32_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(call(i++, 1));
}
BENCHMARK(BM_Call_JitPageUnchecked);

void BM_Call_NpkJitCall(benchmark::State &state) {
  SealedAddPage page;
  if (page.get() == nullptr) return state.SkipWithError("no page");
  int32_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(npk_jit_call_i32_i32(page.get(), i++, 1));
}
BENCHMARK(BM_Call_NpkJitCall)->Threads(1)->Threads(2);

// ---- code memory ---------------------------------------------------------------

// The single-function lifecycle exactly as jit.npk runs it:
// Jit.compile_add_i32 (npk_jit_compile_add_i32), Jit.call_i32_i32
// (npk_jit_try_call_i32_i32), Jit.free (npk_wildx_free). The backend is the
// process's (bench/run.sh runs it once per backend).
void BM_JitNpk_Lifecycle(benchmark::State &state) {
  int32_t i = 0;
  for (auto _ : state) {
    int32_t err = 0, out = 0;
    void *f = npk_jit_compile_add_i32(&err);
    if (f == nullptr || npk_jit_try_call_i32_i32(f, i, 1, &out) != 0 || out != i + 1) {
      state.SkipWithError("jit.npk lifecycle refused");
      break;
    }
    ++i;
    npk_wildx_free(f);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(npk_jit_backend());
}
BENCHMARK(BM_JitNpk_Lifecycle)->UseRealTime()->Threads(1)->Threads(2);

const unsigned char kAddCode[] = {0x89, 0xf8, 0x01, 0xf0, 0xc3};
constexpr int kModuleFunctions = 64;

// A module of 64 functions: add each, one seal, call each, free the module.
// Items are functions.
void BM_Module64_Npk(benchmark::State &state) {
  npk_jit_sig sig = npk_jit_sig_intern("i32(i32,i32)");
  npk_jit_fn fns[kModuleFunctions];
  int32_t i = 0;
  for (auto _ : state) {
    npk_jit_module *m = npk_jit_module_new();
    for (npk_jit_fn &f : fns) f = npk_jit_module_add(m, kAddCode, sizeof kAddCode, sig, nullptr);
    if (npk_jit_module_seal(m) != 0) {
      state.SkipWithError("seal refused");
      break;
    }
    for (npk_jit_fn f : fns) benchmark::DoNotOptimize(npk_jit_fn_call_i32_i32(f, sig, i++, 1));
    npk_jit_module_free(m);
  }
  state.SetItemsProcessed(state.iterations() * kModuleFunctions);
  state.SetLabel(npk_jit_backend());
}
BENCHMARK(BM_Module64_Npk)->UseRealTime();

// asmjit (Debian's libasmjit-dev) with its dual mapping (code is reached
// through a writable alias, so live code is writable): per function
// JitRuntime::add, a call, JitRuntime::release. The code is assembled once,
// outside the loop, as npk's bytes are.
void BM_Module64_AsmjitDualMapping(benchmark::State &state) {
  asmjit::JitAllocator::CreateParams params{};
  params.options = asmjit::JitAllocatorOptions::kUseDualMapping;
  asmjit::JitRuntime rt(&params);
  asmjit::CodeHolder code;
  code.init(rt.environment());
  asmjit::x86::Assembler a(&code);
  a.mov(asmjit::x86::eax, asmjit::x86::edi);
  a.add(asmjit::x86::eax, asmjit::x86::esi);
  a.ret();
  using Fn = int32_t (*)(int32_t, int32_t);
  Fn fns[kModuleFunctions];
  int32_t i = 0;
  for (auto _ : state) {
    for (Fn &f : fns)
      if (rt.add(&f, &code) != asmjit::kErrorOk) return state.SkipWithError("asmjit add failed");
    for (Fn f : fns) benchmark::DoNotOptimize(f(i++, 1));
    for (Fn f : fns) rt.release(f);
  }
  state.SetItemsProcessed(state.iterations() * kModuleFunctions);
}
BENCHMARK(BM_Module64_AsmjitDualMapping)->UseRealTime();

// The builder against asmjit's Assembler, both generating the function each
// time: f(a, b) = (((a * b + 3) ^ a) - b + (a & 255)) << 1, ten instructions
// in asmjit's hand-written form. Per iteration a module of 64 such functions
// is built, sealed, each function called once, and freed; items = functions.
// Both sides call through a plain pointer (npk: npk_jit_fn_entry once per
// function, which checks the handle; asmjit: the pointer rt.add returns).
using BinaryI64 = int64_t (*)(int64_t, int64_t);
constexpr int64_t BuiltReference(int64_t a, int64_t b) {
  return static_cast<int64_t>((((static_cast<uint64_t>(a) * static_cast<uint64_t>(b) + 3) ^ static_cast<uint64_t>(a)) -
                               static_cast<uint64_t>(b) + static_cast<uint64_t>(a & 255))
                              << 1);
}

void BM_Module64_Builder(benchmark::State &state) {
  npk_jit_sig sig = npk_jit_sig_intern("i64(i64,i64)");
  npk_jit_fn fns[kModuleFunctions];
  int64_t i = 0;
  for (auto _ : state) {
    npk_jit_module *m = npk_jit_module_new();
    for (npk_jit_fn &f : fns) {
      npk_jit_begin(m, "i64(i64,i64)", nullptr);
      int32_t a = npk_jit_param(m, 0), b = npk_jit_param(m, 1);
      int32_t v = npk_jit_op(m, NPK_JIT_OP_mul, a, b);
      v = npk_jit_op(m, NPK_JIT_OP_add, v, npk_jit_const_i64(m, 3));
      v = npk_jit_op(m, NPK_JIT_OP_xor, v, a);
      v = npk_jit_op(m, NPK_JIT_OP_sub, v, b);
      v = npk_jit_op(m, NPK_JIT_OP_add, v, npk_jit_op(m, NPK_JIT_OP_and, a, npk_jit_const_i64(m, 255)));
      v = npk_jit_op(m, NPK_JIT_OP_shl, v, npk_jit_const_i64(m, 1));
      npk_jit_ret(m, v);
      f = npk_jit_end(m, nullptr);
    }
    if (npk_jit_module_seal(m) != 0) {
      state.SkipWithError("seal refused");
      break;
    }
    for (npk_jit_fn f : fns) {
      auto fn = reinterpret_cast<BinaryI64>(npk_jit_fn_entry(f, sig));
      int64_t r = fn(i, 5);
      if (r != BuiltReference(i, 5)) state.SkipWithError("wrong result");
      ++i;
    }
    npk_jit_module_free(m);
  }
  state.SetItemsProcessed(state.iterations() * kModuleFunctions);
  state.SetLabel(npk_jit_backend());
}
BENCHMARK(BM_Module64_Builder)->UseRealTime();

void BM_Module64_AsmjitAssembler(benchmark::State &state) {
  using namespace asmjit::x86;
  asmjit::JitRuntime rt;
  asmjit::CodeHolder code;
  BinaryI64 fns[kModuleFunctions];
  int64_t i = 0;
  for (auto _ : state) {
    for (BinaryI64 &f : fns) {
      code.reset();
      code.init(rt.environment());
      Assembler a(&code);
      a.mov(rax, rdi);
      a.imul(rax, rsi);
      a.add(rax, 3);
      a.xor_(rax, rdi);
      a.sub(rax, rsi);
      a.mov(rcx, rdi);
      a.and_(ecx, 255);
      a.add(rax, rcx);
      a.shl(rax, 1);
      a.ret();
      if (rt.add(&f, &code) != asmjit::kErrorOk) return state.SkipWithError("asmjit add failed");
    }
    for (BinaryI64 f : fns) {
      if (f(i, 5) != BuiltReference(i, 5)) state.SkipWithError("wrong result");
      ++i;
    }
    for (BinaryI64 f : fns) rt.release(f);
  }
  state.SetItemsProcessed(state.iterations() * kModuleFunctions);
}
BENCHMARK(BM_Module64_AsmjitAssembler)->UseRealTime();

// One sealed function of the code arena, for the call benchmarks.
struct SealedAddFn {
  npk_jit_sig sig = npk_jit_sig_intern("i32(i32,i32)");
  npk_jit_module *module = npk_jit_module_new();
  npk_jit_fn fn = npk_jit_module_add(module, kAddCode, sizeof kAddCode, sig, "bench_add");
  bool ok = npk_jit_module_seal(module) == 0;
  ~SealedAddFn() { npk_jit_module_free(module); }
};

// The same JIT function through a raw function pointer...
void BM_Call_CodeFnRaw(benchmark::State &state) {
  SealedAddFn add;
  if (!add.ok) return state.SkipWithError("no function");
  void *entry = npk_jit_fn_entry(add.fn, add.sig);
  int32_t (*fn)(int32_t, int32_t);
  std::memcpy(&fn, &entry, sizeof fn);
  int32_t (*volatile call)(int32_t, int32_t) = fn;
  int32_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(call(i++, 1));
}
BENCHMARK(BM_Call_CodeFnRaw);

// ...and through the checked call (live, sealed, signature, generation).
void BM_Call_CodeFnChecked(benchmark::State &state) {
  SealedAddFn add;
  if (!add.ok) return state.SkipWithError("no function");
  volatile npk_jit_fn handle = add.fn;
  int32_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(npk_jit_fn_call_i32_i32(handle, add.sig, i++, 1));
}
BENCHMARK(BM_Call_CodeFnChecked);

}  // namespace

BENCHMARK_MAIN();
