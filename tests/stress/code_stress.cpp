// Worker threads churn code-memory lifecycles (standalone functions, and
// modules of 1..64 functions freed one by one or whole) while the main thread
// samples /proc/self/maps: no mapping may ever be writable and executable,
// and with the memfd backend no mapping of the code region may ever be
// writable at all. Every checked call of a live function must return its
// value, every stale handle must be refused.
//
// usage: npk_stress_code [threads] [rounds per thread]
#include <npk/runtime.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<long> g_failures{0};
std::atomic<bool> g_done{false};

void Fail(const char *what, long round) {
  if (g_failures.fetch_add(1) < 10) fprintf(stderr, "stress: %s failed in round %ld\n", what, round);
}

void Worker(int id, long rounds) {
  npk_jit_sig sig = npk_jit_sig_intern("i32()");
  uint32_t rng = 2463534242u + static_cast<uint32_t>(id) * 7919u;
  std::vector<npk_jit_fn> stale;
  for (long r = 0; r < rounds; ++r) {
    rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
    uint32_t count = 1 + rng % 64;
    npk_jit_module *m = npk_jit_module_new();
    std::vector<npk_jit_fn> fns;
    for (uint32_t i = 0; i < count; ++i) {
      int32_t value = static_cast<int32_t>(id * 100000 + i);
      unsigned char code[6] = {0xb8, 0, 0, 0, 0, 0xc3};  // mov eax, imm32; ret
      memcpy(code + 1, &value, 4);
      fns.push_back(npk_jit_module_add(m, code, sizeof code, sig, nullptr));
    }
    if (npk_jit_module_seal(m) != 0) Fail("seal", r);
    for (uint32_t i = 0; i < count; ++i) {
      void *entry = npk_jit_fn_lookup(fns[i], sig);
      int32_t (*fn)(void);
      memcpy(&fn, &entry, sizeof fn);
      if (entry == nullptr || fn() != static_cast<int32_t>(id * 100000 + i)) Fail("checked call", r);
    }
    for (npk_jit_fn f : stale)
      if (npk_jit_fn_lookup(f, sig) != nullptr) Fail("stale handle refused", r);
    stale.clear();
    if (rng & 1)
      for (uint32_t i = 0; i < count / 2; ++i)
        if (npk_jit_fn_free(fns[i]) != 0) Fail("function free", r);
    if (npk_jit_module_free(m) != 0) Fail("module free", r);
    stale = fns;
    void *p = npk_jit_compile_add_i32(nullptr);
    if (p == nullptr || npk_jit_call_i32_i32(p, id, static_cast<int32_t>(r)) != id + r || npk_wildx_free(p) != 0)
      Fail("compile_add_i32 lifecycle", r);
  }
}

// Returns the number of bad mappings in one reading of /proc/self/maps.
long Sample(bool memfd) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  long bad = 0;
  while (std::getline(maps, line)) {
    char perms[8] = {};
    char path[256] = {};
    unsigned long long start = 0, end = 0;
    if (sscanf(line.c_str(), "%llx-%llx %7s %*s %*s %*s %255s", &start, &end, perms, path) < 3) continue;
    bool w = perms[1] == 'w', x = perms[2] == 'x';
    bool code = strstr(path, "npk-jit") != nullptr;
    if ((w && x) || (memfd && code && w)) {
      fprintf(stderr, "stress: writable code mapping: %s\n", line.c_str());
      ++bad;
    }
  }
  return bad;
}

}  // namespace

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 4;
  long rounds = argc > 2 ? atol(argv[2]) : 2000;
  bool memfd = strcmp(npk_jit_backend(), "memfd") == 0;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) workers.emplace_back(Worker, t, rounds);
  long samples = 0, bad = 0;
  std::thread sampler([&] {
    while (!g_done.load()) {
      bad += Sample(memfd);
      ++samples;
    }
  });
  for (std::thread &w : workers) w.join();
  g_done.store(true);
  sampler.join();
  bad += Sample(memfd);
  ++samples;
  printf("stress: backend %s, %d threads x %ld rounds, %ld maps samples, %ld writable code mappings, %ld failures\n",
         npk_jit_backend(), threads, rounds, samples, bad, g_failures.load());
  return bad == 0 && g_failures.load() == 0 && samples > 1 ? 0 : 1;
}
