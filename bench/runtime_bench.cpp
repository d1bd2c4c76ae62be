// Runtime benchmarks: the JIT lifecycle against the reference baseline, thread
// scaling, and what a checked JIT call costs over a plain indirect call.
#include <benchmark/benchmark.h>
#include <npk/runtime.h>

#include <cstdint>
#include <cstring>

#include <sys/mman.h>
#include <unistd.h>

#include "reference_lifecycle.h"

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

}  // namespace

BENCHMARK_MAIN();
