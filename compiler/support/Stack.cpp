#include "support/Stack.h"

#include <algorithm>
#include <pthread.h>
#include <sys/resource.h>

namespace npk {

namespace {
size_t stackBytes = kCompilerStackBytes;

// Stack a phase may need per level of the tree, and what the rest of the
// compiler needs below the deepest recursion.
constexpr size_t kStackBytesPerLevel = 4096;
constexpr size_t kStackReserveBytes = size_t{512} << 10;

size_t callingThreadStackBytes() {
  rlimit lim{};
  if (getrlimit(RLIMIT_STACK, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return kCompilerStackBytes;
  return static_cast<size_t>(lim.rlim_cur);
}

void *runWork(void *work) {
  (*static_cast<const std::function<void()> *>(work))();
  return nullptr;
}
} // namespace

void runWithCompilerStack(const std::function<void()> &work) {
  pthread_attr_t attr;
  bool started = false;
  pthread_t thread;
  stackBytes = kCompilerStackBytes;
  if (pthread_attr_init(&attr) == 0) {
    started = pthread_attr_setstacksize(&attr, kCompilerStackBytes) == 0 &&
              pthread_create(&thread, &attr, runWork, const_cast<std::function<void()> *>(&work)) == 0;
    pthread_attr_destroy(&attr);
  }
  if (started) {
    pthread_join(thread, nullptr);
    return;
  }
  stackBytes = std::min(callingThreadStackBytes(), kCompilerStackBytes);
  work();
  stackBytes = kCompilerStackBytes;
}

size_t compilerStackBytes() { return stackBytes; }

int treeDepthForStack(int bound) {
  if (stackBytes >= kCompilerStackBytes) return bound;
  size_t usable = stackBytes > kStackReserveBytes ? stackBytes - kStackReserveBytes : 0;
  return static_cast<int>(std::clamp<size_t>(usable / kStackBytesPerLevel, 16, static_cast<size_t>(bound)));
}

} // namespace npk
