// The NPK_WILDX_* environment switches. They are read once per process, so
// each suite runs as its own ctest entry with its variable set (see
// CMakeLists.txt) and skips itself when run without it.
#include <npk/runtime.h>

#include <signal.h>
#include <unistd.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "runtime_test_support.h"
#include "wildx_internal.h"

namespace {

using npk_test::AllBytesAre;
using npk_test::IsExecutable;
using npk_test::PermissionsOf;
using npk_test::StderrOf;
using npk_test::WildxPanicLine;

bool EnvIs(const char *name, const char *value) {
  const char *actual = getenv(name);
  return actual != nullptr && strcmp(actual, value) == 0;
}

#define REQUIRE_ENV(name, value) \
  if (!EnvIs(name, value)) GTEST_SKIP() << "needs " name "=" value

std::string AuditLine(const char *what, const void *p) {
  char line[128];
  snprintf(line, sizeof line, "[WildX] audit: %s %p\n", what, p);
  return line;
}

// ---- NPK_WILDX_GUARD=1 ---------------------------------------------------------

class WildxGuardEnv : public testing::Test {
 protected:
  void SetUp() override { REQUIRE_ENV("NPK_WILDX_GUARD", "1"); }
  const size_t page_ = npkrt::wildx_page_size();
};

TEST_F(WildxGuardEnv, InaccessiblePagesSurroundEveryAllocation) {
  char *p = static_cast<char *>(npk_wildx_alloc(static_cast<int64_t>(2 * page_)));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(PermissionsOf(p - page_), "---p");
  EXPECT_EQ(PermissionsOf(p), "rw-p");
  EXPECT_EQ(PermissionsOf(p + page_), "rw-p");
  EXPECT_EQ(PermissionsOf(p + 2 * page_), "---p");
  ASSERT_EQ(npk_wildx_seal(p), 0);
  EXPECT_EQ(PermissionsOf(p - page_), "---p");
  EXPECT_EQ(PermissionsOf(p + 2 * page_), "---p");
  EXPECT_EQ(npk_wildx_free(p), 0);
}

TEST_F(WildxGuardEnv, GuardPagesAreNotAllocations) {
  char *p = static_cast<char *>(npk_wildx_alloc(1));
  char *before = p - page_;
  char *after = p + page_;
  int32_t rc = 0;
  EXPECT_EQ(StderrOf([&] { rc = npk_wildx_seal(before); }),
            WildxPanicLine("wildx_seal", before, "guard page (not an allocation)"));
  EXPECT_EQ(rc, -1);
  EXPECT_EQ(StderrOf([&] { rc = npk_wildx_free(after); }),
            WildxPanicLine("wildx_free", after, "guard page (not an allocation)"));
  EXPECT_EQ(rc, -1);
  EXPECT_EQ(npk_wildx_free(p), 0);
}

TEST_F(WildxGuardEnv, WritingPastTheEndDiesWithSigsegv) {
  EXPECT_EXIT(
      {
        char *p = static_cast<char *>(npk_wildx_alloc(64));
        npk_test::WriteByteThatMustFault(p + page_);
      },
      testing::KilledBySignal(SIGSEGV), "");
}

TEST_F(WildxGuardEnv, WritingBeforeTheStartDiesWithSigsegv) {
  EXPECT_EXIT(
      {
        char *p = static_cast<char *>(npk_wildx_alloc(64));
        npk_test::WriteByteThatMustFault(p - 1);
      },
      testing::KilledBySignal(SIGSEGV), "");
}

TEST_F(WildxGuardEnv, FreedPagesAreInaccessible) {
  char *p = static_cast<char *>(npk_wildx_alloc(64));
  ASSERT_EQ(npk_wildx_seal(p), 0);
  ASSERT_EQ(npk_wildx_free(p), 0);
  EXPECT_EQ(PermissionsOf(p), "---p");
}

TEST_F(WildxGuardEnv, UseAfterFreeDiesWithSigsegv) {
  EXPECT_EXIT(
      {
        char *p = static_cast<char *>(npk_wildx_alloc(64));
        npk_wildx_free(p);
        npk_test::WriteByteThatMustFault(p);
      },
      testing::KilledBySignal(SIGSEGV), "");
}

TEST_F(WildxGuardEnv, RecycledPagesAreWritableAndZero) {
  char *first = static_cast<char *>(npk_wildx_alloc(64));
  memset(first, 0x77, page_);
  ASSERT_EQ(npk_wildx_free(first), 0);
  char *second = static_cast<char *>(npk_wildx_alloc(64));
  EXPECT_EQ(second, first);
  EXPECT_EQ(PermissionsOf(second), "rw-p");
  EXPECT_TRUE(AllBytesAre(second, page_, 0));
  ASSERT_EQ(npk_jit_install_add_i32(second), 0);
  ASSERT_EQ(npk_wildx_seal(second), 0);
  EXPECT_EQ(npk_jit_call_i32_i32(second, 40, 2), 42);
  EXPECT_EQ(npk_wildx_free(second), 0);
}

// ---- NPK_WILDX_AUDIT=1 ---------------------------------------------------------

class WildxAuditEnv : public testing::Test {
 protected:
  void SetUp() override { REQUIRE_ENV("NPK_WILDX_AUDIT", "1"); }
};

TEST_F(WildxAuditEnv, EveryTransitionPrintsOneLine) {
  void *p = nullptr;
  std::string alloc_line = StderrOf([&] { p = npk_wildx_alloc(100); });
  char expected[128];
  snprintf(expected, sizeof expected, "[WildX] audit: alloc %p %zu\n", p, npkrt::wildx_page_size());
  EXPECT_EQ(alloc_line, expected);
  EXPECT_EQ(StderrOf([&] { npk_jit_install_add_i32(p); }), "");  // not a transition
  EXPECT_EQ(StderrOf([&] { npk_wildx_seal(p); }), AuditLine("seal", p));
  EXPECT_EQ(StderrOf([&] { npk_jit_call_i32_i32(p, 1, 2); }), "");
  EXPECT_EQ(StderrOf([&] { npk_wildx_free(p); }), AuditLine("free", p));
}

TEST_F(WildxAuditEnv, RefusalsPrintOnlyThePanicLine) {
  void *p = npk_wildx_alloc(1);
  npk_wildx_free(p);
  EXPECT_EQ(StderrOf([&] { npk_wildx_free(p); }), WildxPanicLine("wildx_free", p, "page was already freed"));
  EXPECT_EQ(StderrOf([&] { npk_wildx_seal(p); }), WildxPanicLine("wildx_seal", p, "page was already freed"));
}

// ---- NPK_WILDX_VERIFY=1 --------------------------------------------------------

class WildxVerifyEnv : public testing::Test {
 protected:
  void SetUp() override { REQUIRE_ENV("NPK_WILDX_VERIFY", "1"); }
  const size_t page_ = npkrt::wildx_page_size();

  // What an attacker with mprotect could do to a sealed page.
  void Patch(char *p, size_t offset, char value) {
    ASSERT_EQ(mprotect(p, page_, PROT_READ | PROT_WRITE), 0);
    p[offset] = value;
    ASSERT_EQ(mprotect(p, page_, PROT_READ | PROT_EXEC), 0);
  }
};

TEST_F(WildxVerifyEnv, UntouchedCodeIsCalled) {
  void *p = npk_wildx_alloc(3 * page_);
  ASSERT_EQ(npk_jit_install_add_i32(p), 0);
  ASSERT_EQ(npk_wildx_seal(p), 0);
  EXPECT_EQ(npk_jit_call_i32_i32(p, 40, 2), 42);
  EXPECT_EQ(npk_wildx_free(p), 0);
}

TEST_F(WildxVerifyEnv, ChangedCodeIsRefused) {
  char *p = static_cast<char *>(npk_wildx_alloc(64));
  ASSERT_EQ(npk_jit_install_add_i32(p), 0);
  ASSERT_EQ(npk_wildx_seal(p), 0);
  Patch(p, 100, 0x42);
  const char *reason = "code changed since it was sealed (NPK_WILDX_VERIFY)";
  int32_t rc = 0;
  EXPECT_EQ(StderrOf([&] { rc = npk_jit_call_i32_i32(p, 1, 2); }),
            WildxPanicLine("jit_call_i32_i32", p, reason));
  EXPECT_EQ(rc, -1);
  int32_t result = 7;
  EXPECT_EQ(StderrOf([&] { rc = npk_jit_try_call_i32_i32(p, 1, 2, &result); }),
            WildxPanicLine("jit_try_call_i32_i32", p, reason));
  EXPECT_EQ(rc, NPK_ERR_JIT_NOT_LIVE);
  EXPECT_EQ(result, 0);
  Patch(p, 100, 0);
  EXPECT_EQ(npk_jit_call_i32_i32(p, 1, 2), 3);
  EXPECT_EQ(npk_wildx_free(p), 0);
}

// ---- NPK_WILDX_QUOTA -----------------------------------------------------------

TEST(WildxQuotaEnv, QuotaComesFromTheEnvironment) {
  REQUIRE_ENV("NPK_WILDX_QUOTA", "16K");
  const size_t page = npkrt::wildx_page_size();
  int64_t quota = npkrt::wildx_test_set_quota(0);
  npkrt::wildx_test_set_quota(quota);
  EXPECT_EQ(quota, 16 * 1024);
  void *all = npk_wildx_alloc(16 * 1024);
  ASSERT_NE(all, nullptr);
  EXPECT_EQ(npk_wildx_alloc(1), nullptr);
  EXPECT_EQ(npk_wildx_free(all), 0);
  void *one = npk_wildx_alloc(static_cast<int64_t>(page));
  EXPECT_NE(one, nullptr);
  EXPECT_EQ(npk_wildx_free(one), 0);
}

TEST(WildxQuotaEnvInvalid, BadValueWarnsOnceAndKeepsTheDefault) {
  REQUIRE_ENV("NPK_WILDX_QUOTA", "plenty");
  void *p = nullptr;
  std::string err = StderrOf([&] { p = npk_wildx_alloc(1); });
  EXPECT_EQ(err, "[WildX] warning: NPK_WILDX_QUOTA=plenty is not a byte count; using 64M\n");
  EXPECT_NE(p, nullptr);
  EXPECT_EQ(StderrOf([&] { npk_wildx_free(p); }), "");
  int64_t quota = npkrt::wildx_test_set_quota(0);
  npkrt::wildx_test_set_quota(quota);
  EXPECT_EQ(quota, int64_t{64} << 20);
}

// ---- NPK_JIT_BACKEND (with NPK_WILDX_AUDIT=1) -------------------------------------
//
// The backend is chosen at the first use of code memory; these suites run in
// processes where nothing used it before the test.

TEST(JitBackendEnvMprotect, SelectsTheFallbackAndTheAuditLineSaysSo) {
  REQUIRE_ENV("NPK_JIT_BACKEND", "mprotect");
  std::string err = StderrOf([] { EXPECT_STREQ(npk_jit_backend(), "mprotect"); });
  EXPECT_EQ(err, "[WildX] audit: jit backend mprotect\n");
  void *f = npk_jit_compile_add_i32(nullptr);
  EXPECT_EQ(npk_jit_call_i32_i32(f, 2, 3), 5);
  EXPECT_EQ(npk_wildx_free(f), 0);
}

TEST(JitBackendEnvMemfd, SelectsMemfdAndTheAuditLineSaysSo) {
  REQUIRE_ENV("NPK_JIT_BACKEND", "memfd");
  std::string err = StderrOf([] { EXPECT_STREQ(npk_jit_backend(), "memfd"); });
  EXPECT_EQ(err.rfind("[WildX] audit: jit backend memfd (", 0), 0u) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

TEST(JitBackendEnvInvalid, WarnsAndUsesMemfd) {
  REQUIRE_ENV("NPK_JIT_BACKEND", "fastest");
  std::string err = StderrOf([] { EXPECT_STREQ(npk_jit_backend(), "memfd"); });
  EXPECT_EQ(err.rfind("[WildX] warning: NPK_JIT_BACKEND=fastest is not memfd or mprotect; using memfd\n", 0), 0u)
      << err;
}

// ---- naming JIT code: NPK_JIT_GDB=1, NPK_JIT_PERFMAP=1 ------------------------------

struct GdbEntry {
  GdbEntry *next, *prev;
  const char *symfile;
  uint64_t size;
};
struct GdbDescriptor {
  uint32_t version, action;
  GdbEntry *relevant, *first;
};
extern "C" GdbDescriptor __jit_debug_descriptor;

bool ContainsBytes(const char *data, size_t n, const std::string &needle) {
  return std::search(data, data + n, needle.begin(), needle.end()) != data + n;
}

const unsigned char kRet7[] = {0xb8, 7, 0, 0, 0, 0xc3};

TEST(JitGdbEnvAlways, EverySealRegistersOneElfObjectNamingItsFunctions) {
  REQUIRE_ENV("NPK_JIT_GDB", "1");
  npk_jit_sig sig = npk_jit_sig_intern("i32()");
  npk_jit_module *m = npk_jit_module_new();
  npk_jit_module_add(m, kRet7, sizeof kRet7, sig, "gdb_named_one");
  npk_jit_module_add(m, kRet7, sizeof kRet7, sig, nullptr);
  GdbEntry *before = __jit_debug_descriptor.first;
  ASSERT_EQ(npk_jit_module_seal(m), 0);
  GdbEntry *entry = __jit_debug_descriptor.first;
  ASSERT_NE(entry, nullptr);
  ASSERT_NE(entry, before);
  EXPECT_EQ(entry->next, before);
  EXPECT_EQ(__jit_debug_descriptor.action, 1u);
  ASSERT_GT(entry->size, 64u);
  EXPECT_EQ(memcmp(entry->symfile, "\x7f" "ELF", 4), 0);
  EXPECT_TRUE(ContainsBytes(entry->symfile, entry->size, std::string("gdb_named_one") + '\0'));
  EXPECT_TRUE(ContainsBytes(entry->symfile, entry->size, "jit_fn#"));
  EXPECT_EQ(npk_jit_module_free(m), 0);
  EXPECT_EQ(__jit_debug_descriptor.first, before);
  EXPECT_EQ(__jit_debug_descriptor.action, 2u);
}

TEST(JitPerfMapEnv, EverySealedFunctionGetsOneMapLine) {
  REQUIRE_ENV("NPK_JIT_PERFMAP", "1");
  npk_jit_sig sig = npk_jit_sig_intern("i32()");
  npk_jit_module *m = npk_jit_module_new();
  npk_jit_fn f = npk_jit_module_add(m, kRet7, sizeof kRet7, sig, "perfmap_named");
  ASSERT_EQ(npk_jit_module_seal(m), 0);
  void *p = npk_jit_compile_add_i32(nullptr);
  char path[64];
  snprintf(path, sizeof path, "/tmp/perf-%d.map", static_cast<int>(getpid()));
  std::ifstream map(path);
  std::stringstream text;
  text << map.rdbuf();
  char line[128];
  snprintf(line, sizeof line, "%lx 6 perfmap_named\n",
           static_cast<unsigned long>(reinterpret_cast<uintptr_t>(npk_jit_fn_entry(f, sig))));
  EXPECT_NE(text.str().find(line), std::string::npos) << text.str();
  EXPECT_NE(text.str().find(" 5 compile_add_i32#"), std::string::npos) << text.str();
  EXPECT_EQ(npk_wildx_free(p), 0);
  EXPECT_EQ(npk_jit_module_free(m), 0);
  remove(path);
}

}  // namespace
