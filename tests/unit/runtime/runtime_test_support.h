// Helpers shared by the runtime's unit tests.
#ifndef NPK_TESTS_RUNTIME_TEST_SUPPORT_H
#define NPK_TESTS_RUNTIME_TEST_SUPPORT_H

#include <gtest/gtest.h>
#include <sys/prctl.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

namespace npk_test {

// Everything `action` writes to stderr.
template <class Action>
std::string StderrOf(Action &&action) {
  testing::internal::CaptureStderr();
  std::forward<Action>(action)();
  return testing::internal::GetCapturedStderr();
}

// Everything `action` writes to stdout.
template <class Action>
std::string StdoutOf(Action &&action) {
  fflush(stdout);
  testing::internal::CaptureStdout();
  std::forward<Action>(action)();
  fflush(stdout);
  return testing::internal::GetCapturedStdout();
}

// Runs `action`, expects it to return `expected` (-1 unless given) and to
// print exactly `line`.
template <class Action>
void ExpectRefused(Action &&action, const std::string &line, int32_t expected = -1) {
  int32_t rc = 0;
  std::string err = StderrOf([&] { rc = action(); });
  EXPECT_EQ(rc, expected);
  EXPECT_EQ(err, line);
}

// The exact line a wildx refusal prints.
inline std::string WildxPanicLine(const char *op, const void *p, const char *reason) {
  char line[256];
  snprintf(line, sizeof line, "[WildX] panic: %s(%p) rejected: %s\n", op, p, reason);
  return line;
}

// The exact line an npk_free refusal prints.
inline std::string HeapPanicLine(const void *p, const char *reason) {
  char line[256];
  snprintf(line, sizeof line, "[Wild] panic: free(%p) rejected: %s\n", p, reason);
  return line;
}

// The permission field ("rw-p", "r-xp", ...) of the mapping holding p, or "".
inline std::string PermissionsOf(const void *p) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  auto address = reinterpret_cast<uintptr_t>(p);
  while (std::getline(maps, line)) {
    unsigned long long start = 0, end = 0;
    char perms[8] = {};
    if (sscanf(line.c_str(), "%llx-%llx %7s", &start, &end, perms) != 3) continue;
    if (address >= start && address < end) return perms;
  }
  return "";
}

// Whether the process runs under prctl(PR_SET_MDWE) (runtime.unit_suite_under_mdwe).
inline bool MdweOn() { return prctl(66 /* PR_GET_MDWE */, 0, 0, 0, 0) > 0; }

// The permissions of a sealed wildx page: r-xp, or r-xs under MDWE, where
// wildx_seal maps the page from its memfd (docs/runtime.md, "MDWE").
inline std::string SealedPermissions() { return MdweOn() ? "r-xs" : "r-xp"; }

inline bool IsExecutable(const std::string &perms) { return perms.size() >= 3 && perms[2] == 'x'; }
inline bool IsWritable(const std::string &perms) { return perms.size() >= 2 && perms[1] == 'w'; }

// Writes one byte where the hardware must refuse it. Sanitizers install their
// own SIGSEGV handlers (report, then exit with their own code); the default
// action restores "killed by SIGSEGV" for EXPECT_EXIT.
inline void WriteByteThatMustFault(volatile char *where) {
  signal(SIGSEGV, SIG_DFL);
  signal(SIGBUS, SIG_DFL);
  *where = 1;
}

inline bool AllBytesAre(const void *p, size_t n, unsigned char value) {
  const auto *bytes = static_cast<const unsigned char *>(p);
  for (size_t i = 0; i < n; ++i)
    if (bytes[i] != value) return false;
  return true;
}

}  // namespace npk_test

#endif  // NPK_TESTS_RUNTIME_TEST_SUPPORT_H
