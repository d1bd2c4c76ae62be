// Worker threads run full wildx lifecycles (alloc -> install -> seal ->
// try_call -> free) while a sampler thread keeps reading /proc/self/maps and
// fails the run if any mapping is ever writable and executable at once.
//
// usage: npk_stress_wildx [threads] [lifecycles per thread]
#include <npk/runtime.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Totals {
  std::atomic<long> lifecycles{0};
  std::atomic<long> failures{0};
  std::atomic<long> samples{0};
  std::atomic<long> wx_mappings{0};
  std::atomic<bool> workers_done{false};
};

int32_t WrappingAdd(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}

void Fail(Totals &totals, const char *what, long iteration) {
  if (totals.failures.fetch_add(1) < 10) fprintf(stderr, "stress: %s failed at iteration %ld\n", what, iteration);
}

// One lifecycle; sizes vary so multi-page blocks are split and recycled,
// the cache of freed blocks overflows and is evicted, and blocks too large
// for it go straight back to the OS.
int64_t LifecycleBytes(uint32_t rng) {
  switch (rng >> 28) {
    case 0: return 3 * 4096;
    case 1: return static_cast<int64_t>((rng >> 20) % 64 + 1) * 4096;
    case 2: return (rng >> 20) % 16 == 0 ? int64_t{300} * 4096 : 64;
    default: return 64;
  }
}

void RunLifecycle(Totals &totals, uint32_t &rng, long iteration) {
  rng = rng * 1664525u + 1013904223u;
  int64_t bytes = LifecycleBytes(rng);
  int32_t a = static_cast<int32_t>(rng), b = static_cast<int32_t>(rng >> 7) - 12345;
  void *page = npk_wildx_alloc(bytes);
  if (page == nullptr) return Fail(totals, "wildx_alloc", iteration);
  int32_t result = 0;
  if (npk_jit_install_add_i32(page) != 0) Fail(totals, "jit_install_add_i32", iteration);
  else if (npk_wildx_seal(page) != 0) Fail(totals, "wildx_seal", iteration);
  else if (npk_jit_try_call_i32_i32(page, a, b, &result) != 0) Fail(totals, "jit_try_call_i32_i32", iteration);
  else if (result != WrappingAdd(a, b)) Fail(totals, "result check", iteration);
  if (npk_wildx_free(page) != 0) Fail(totals, "wildx_free", iteration);
  totals.lifecycles.fetch_add(1, std::memory_order_relaxed);
}

// The wild heap registry under the same contention.
void RunHeapRound(Totals &totals, long iteration) {
  void *block = npk_alloc(16 + iteration % 200);
  if (block == nullptr || npk_free(block) != 0) Fail(totals, "alloc/free", iteration);
}

void Worker(Totals &totals, long lifecycles, uint32_t seed) {
  uint32_t rng = seed;
  for (long i = 0; i < lifecycles; ++i) {
    RunLifecycle(totals, rng, i);
    RunHeapRound(totals, i);
  }
}

void CheckMapsOnce(Totals &totals) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    size_t space = line.find(' ');
    if (space == std::string::npos || line.size() < space + 4) continue;
    if (line[space + 2] == 'w' && line[space + 3] == 'x') {
      if (totals.wx_mappings.fetch_add(1) < 10) fprintf(stderr, "stress: W+X mapping: %s\n", line.c_str());
    }
  }
  totals.samples.fetch_add(1, std::memory_order_relaxed);
}

void Sampler(Totals &totals) {
  while (!totals.workers_done.load(std::memory_order_acquire)) CheckMapsOnce(totals);
  CheckMapsOnce(totals);
}

}  // namespace

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 4;
  long lifecycles = argc > 2 ? atol(argv[2]) : 5000;
  Totals totals;
  auto start = std::chrono::steady_clock::now();
  std::thread sampler(Sampler, std::ref(totals));
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) workers.emplace_back(Worker, std::ref(totals), lifecycles, 0x9e3779b9u * (t + 1));
  for (std::thread &worker : workers) worker.join();
  totals.workers_done.store(true, std::memory_order_release);
  sampler.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  long expected = threads * lifecycles;
  printf("stress: %ld/%ld lifecycles, %ld failures, %ld maps samples, %ld W+X mappings, %.2f s\n",
         totals.lifecycles.load(), expected, totals.failures.load(), totals.samples.load(),
         totals.wx_mappings.load(), seconds);
  bool ok = totals.lifecycles.load() == expected && totals.failures.load() == 0 &&
            totals.wx_mappings.load() == 0 && totals.samples.load() > 1;
  return ok ? 0 : 1;
}
