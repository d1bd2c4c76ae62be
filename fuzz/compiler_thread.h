// The compiler's fuzz targets run each input as npkc runs a file: on a thread
// with the compiler's stack (support/Stack.h), so the parser's depth bound is
// the one npkc has. Starting such a thread per input (runWithCompilerStack)
// costs more than a small input itself (a 256 MiB stack mapped and unmapped
// each time), so one thread with that stack is started once and runs every
// input in turn.
#pragma once

#include "support/Stack.h"

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <pthread.h>

namespace npk_fuzz {

class CompilerThread {
public:
  CompilerThread() {
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, npk::kCompilerStackBytes) != 0 ||
        pthread_create(&thread_, &attr, loop, this) != 0) {
      std::fprintf(stderr, "fuzz: cannot start a thread with the compiler's stack\n");
      std::exit(1);
    }
    pthread_attr_destroy(&attr);
  }

  // Runs `work` on the thread and waits for it.
  void run(const std::function<void()> &work) {
    std::unique_lock<std::mutex> lock(mutex_);
    work_ = &work;
    wake_.notify_all();
    wake_.wait(lock, [&] { return work_ == nullptr; });
  }

  static CompilerThread &get() {
    static CompilerThread *thread = new CompilerThread; // lives as long as the process
    return *thread;
  }

private:
  static void *loop(void *self) {
    auto *t = static_cast<CompilerThread *>(self);
    std::unique_lock<std::mutex> lock(t->mutex_);
    for (;;) {
      t->wake_.wait(lock, [&] { return t->work_ != nullptr; });
      (*t->work_)();
      t->work_ = nullptr;
      t->wake_.notify_all();
    }
    return nullptr;
  }

  pthread_t thread_{};
  std::mutex mutex_;
  std::condition_variable wake_;
  const std::function<void()> *work_ = nullptr;
};

} // namespace npk_fuzz
