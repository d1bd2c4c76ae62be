// Forks children while two threads churn wildx pages and npk_alloc blocks;
// every child must be able to use every runtime entry point at once.
//
// Each child runs under a short alarm: a child killed by SIGALRM inherited a
// runtime lock (or a page stuck in a transition) from a thread that does not
// exist in it. Children also call and free a page the parent sealed before
// forking; the parent's copy must be unaffected.
//
// usage: npk_stress_fork [children] [alarm seconds]
#include <npk/runtime.h>

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

constexpr int kChildPages = 20;
constexpr int kMaxChildrenInFlight = 8;

int32_t WrappingAdd(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}

// One sealed add page, or nullptr.
void *SealedAddPage(int64_t bytes) {
  void *page = npk_wildx_alloc(bytes);
  if (page == nullptr) return nullptr;
  if (npk_jit_install_add_i32(page) != 0 || npk_wildx_seal(page) != 0) {
    npk_wildx_free(page);
    return nullptr;
  }
  return page;
}

bool CallsCorrectly(void *page, int32_t a, int32_t b) {
  int32_t result = 0;
  return npk_jit_try_call_i32_i32(page, a, b, &result) == 0 && result == WrappingAdd(a, b);
}

// Churns wildx lifecycles (sizes vary so blocks split, recycle and leave the
// cache) and npk_alloc blocks until told to stop.
void Churn(std::atomic<bool> &stop, std::atomic<long> &failures, std::atomic<long> &rounds, uint32_t seed) {
  uint32_t rng = seed;
  void *held[8] = {};
  for (long i = 0; !stop.load(std::memory_order_relaxed); ++i) {
    rng = rng * 1664525u + 1013904223u;
    int64_t bytes = static_cast<int64_t>(((rng >> 24) % 40 + 1) * 4096);
    void *&slot = held[(rng >> 8) % 8];
    if (slot != nullptr && npk_wildx_free(slot) != 0) failures.fetch_add(1);
    slot = SealedAddPage(bytes);
    if (slot == nullptr || !CallsCorrectly(slot, static_cast<int32_t>(rng), 7)) failures.fetch_add(1);
    void *block = npk_alloc(16 + i % 500);
    if (block == nullptr || npk_free(block) != 0) failures.fetch_add(1);
    rounds.fetch_add(1, std::memory_order_relaxed);
  }
  for (void *page : held)
    if (page != nullptr && npk_wildx_free(page) != 0) failures.fetch_add(1);
}

// The child's work; its exit status is the verdict (0 = every call worked).
int ChildMain(void *inherited, unsigned alarm_seconds) {
  alarm(alarm_seconds);
  if (!CallsCorrectly(inherited, 40, 2)) return 2;
  void *pages[kChildPages];
  for (int i = 0; i < kChildPages; ++i) {
    pages[i] = SealedAddPage(static_cast<int64_t>((i % 3 + 1) * 4096));
    if (pages[i] == nullptr) return 3;
  }
  for (int i = 0; i < kChildPages; ++i)
    if (!CallsCorrectly(pages[i], i, -3 * i)) return 4;
  for (void *page : pages)
    if (npk_wildx_free(page) != 0) return 5;
  void *blocks[kChildPages];
  for (int i = 0; i < kChildPages; ++i) {
    blocks[i] = npk_alloc(32 + 100 * i);
    if (blocks[i] == nullptr) return 6;
    memset(blocks[i], i, 32);
  }
  for (void *block : blocks)
    if (npk_free(block) != 0) return 7;
  // The child's copy of the parent's page is the child's to free; freeing it
  // must not touch the parent's.
  if (npk_wildx_free(inherited) != 0) return 8;
  return 0;
}

struct Verdicts {
  int ok = 0;
  int hung = 0;
  int failed = 0;
};

void Record(Verdicts &verdicts, int status) {
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
    ++verdicts.hung;
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    ++verdicts.ok;
  } else {
    if (verdicts.failed++ < 10)
      fprintf(stderr, "fork: child failed (%s %d)\n", WIFEXITED(status) ? "exit" : "signal",
              WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  }
}

}  // namespace

int main(int argc, char **argv) {
  int children = argc > 1 ? atoi(argv[1]) : 300;
  unsigned alarm_seconds = argc > 2 ? static_cast<unsigned>(atoi(argv[2])) : 3;
  void *inherited = SealedAddPage(64);
  if (inherited == nullptr) {
    fprintf(stderr, "fork: cannot seal the parent's page\n");
    return 1;
  }
  std::atomic<bool> stop{false};
  std::atomic<long> churn_failures{0}, churn_rounds{0};
  std::thread churners[] = {std::thread(Churn, std::ref(stop), std::ref(churn_failures), std::ref(churn_rounds), 1u),
                            std::thread(Churn, std::ref(stop), std::ref(churn_failures), std::ref(churn_rounds), 2u)};
  auto start = std::chrono::steady_clock::now();
  Verdicts verdicts;
  int in_flight = 0, fork_errors = 0;
  for (int i = 0; i < children; ++i) {
    while (in_flight >= kMaxChildrenInFlight) {
      int status = 0;
      if (wait(&status) > 0) Record(verdicts, status);
      --in_flight;
    }
    pid_t pid = fork();
    if (pid == 0) _exit(ChildMain(inherited, alarm_seconds));
    if (pid < 0) {
      ++fork_errors;
      continue;
    }
    ++in_flight;
  }
  for (; in_flight > 0; --in_flight) {
    int status = 0;
    if (wait(&status) > 0) Record(verdicts, status);
  }
  stop.store(true);
  for (std::thread &churner : churners) churner.join();
  bool parent_ok = CallsCorrectly(inherited, 1000, 234) && npk_wildx_free(inherited) == 0;
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  printf("fork: %d children: %d ok, %d hung, %d failed, %d fork errors; churn %ld rounds, %ld failures; "
         "parent's page %s; %.2f s\n",
         children, verdicts.ok, verdicts.hung, verdicts.failed, fork_errors, churn_rounds.load(),
         churn_failures.load(), parent_ok ? "intact" : "BROKEN", seconds);
  bool ok = verdicts.ok == children && churn_failures.load() == 0 && parent_ok && churn_rounds.load() > 0;
  return ok ? 0 : 1;
}
