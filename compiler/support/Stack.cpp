#include "support/Stack.h"

#include <pthread.h>

namespace npk {

namespace {
void *runWork(void *work) {
  (*static_cast<const std::function<void()> *>(work))();
  return nullptr;
}
} // namespace

void runWithCompilerStack(const std::function<void()> &work) {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return work();
  pthread_t thread;
  bool started = pthread_attr_setstacksize(&attr, kCompilerStackBytes) == 0 &&
                 pthread_create(&thread, &attr, runWork, const_cast<std::function<void()> *>(&work)) == 0;
  pthread_attr_destroy(&attr);
  if (!started) return work();
  pthread_join(thread, nullptr);
}

} // namespace npk
