// NPK_AUDIT=1, the accounting mode the soundness oracle runs programs in:
// blocks still live at exit are reported, a freed block faults when used and
// is never handed out again. Run as its own ctest entry with the variable set.
#include <npk/runtime.h>

#include <gtest/gtest.h>

#include <signal.h>
#include <stdint.h>

#include <cstdlib>
#include <cstring>

namespace {

#define REQUIRE_AUDIT()                                                        \
  if (getenv("NPK_AUDIT") == nullptr || strcmp(getenv("NPK_AUDIT"), "1") != 0) \
  GTEST_SKIP() << "needs NPK_AUDIT=1"

TEST(AuditEnv, LiveBlocksAndPagesAreReportedAtExit) {
  REQUIRE_AUDIT();
  EXPECT_EXIT(
      {
        npk_alloc(10);
        npk_alloc(5000);
        npk_wildx_alloc(100);
        exit(0);
      },
      testing::ExitedWithCode(0), "\\[npk audit\\] at exit: 2 wild block\\(s\\) and 4096 wildx byte\\(s\\) still live");
}

TEST(AuditEnv, NothingLiveMeansNoReport) {
  REQUIRE_AUDIT();
  EXPECT_EXIT(
      {
        void *p = npk_alloc(10);
        void *page = npk_wildx_alloc(100);
        npk_free(p);
        npk_wildx_free(page);
        fprintf(stderr, "clean end\n");
        exit(0);
      },
      testing::ExitedWithCode(0), "^clean end\n$");
}

TEST(AuditEnv, UseOfAFreedBlockFaults) {
  REQUIRE_AUDIT();
  EXPECT_EXIT(
      {
        volatile char *p = static_cast<char *>(npk_alloc(6000));
        p[5999] = 1;
        npk_free(const_cast<char *>(p));
        p[5999] = 2;
      },
      testing::KilledBySignal(SIGSEGV), "");
}

TEST(AuditEnv, FreedBlocksAreNeverReusedSoASecondFreeIsAlwaysRefused) {
  REQUIRE_AUDIT();
  void *first = npk_alloc(16);
  ASSERT_NE(first, nullptr);
  ASSERT_EQ(npk_free(first), 0);
  for (int i = 0; i < 2000; ++i) {
    void *other = npk_alloc(16);
    ASSERT_NE(other, first);
    ASSERT_EQ(npk_free(other), 0);
  }
  testing::internal::CaptureStderr();
  EXPECT_EQ(npk_free(first), -1);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("[Wild] panic: free("), std::string::npos);
}

// JIT code is not in the wildx pages' count: functions from Jit.compile_*
// and modules still live at exit get a line of their own.
TEST(AuditEnv, LiveJitFunctionsAndModulesAreReportedAtExit) {
  REQUIRE_AUDIT();
  EXPECT_EXIT(
      {
        npk_start();  // as a program's main does: reads NPK_AUDIT
        int32_t err = 0;
        npk_jit_compile_add_i32(&err);
        void *freed = npk_jit_compile_add_i32(&err);
        npk_wildx_free(freed);
        npk_jit_module_new();
        npk_jit_module_free(npk_jit_module_new());
        exit(0);
      },
      testing::ExitedWithCode(0), "^\\[npk audit\\] at exit: 1 JIT function\\(s\\) and 1 JIT module\\(s\\) still live\n$");
}

TEST(AuditEnv, FreedJitCodeIsNotReported) {
  REQUIRE_AUDIT();
  EXPECT_EXIT(
      {
        npk_start();
        int32_t err = 0;
        void *fn = npk_jit_compile_add_i32(&err);
        npk_jit_module *m = npk_jit_module_new();
        npk_wildx_free(fn);
        npk_jit_module_free(m);
        fprintf(stderr, "clean end\n");
        exit(0);
      },
      testing::ExitedWithCode(0), "^clean end\n$");
}

// A freed wildx page is left PROT_NONE and retired, whatever state it was
// freed in: a read after the free faults (the soundness oracle relies on it),
// the page is never handed out again, and a second free is refused.
TEST(AuditEnv, ReadOfAFreedWildxPageFaults) {
  REQUIRE_AUDIT();
  EXPECT_EXIT(
      {
        volatile char *page = static_cast<char *>(npk_wildx_alloc(64));
        page[2] = 1;
        npk_wildx_free(const_cast<char *>(page));
        fprintf(stderr, "read %d\n", page[2]);
      },
      testing::KilledBySignal(SIGSEGV), "");
}

TEST(AuditEnv, ReadOfAFreedSealedWildxPageFaults) {
  REQUIRE_AUDIT();
  EXPECT_EXIT(
      {
        volatile char *page = static_cast<char *>(npk_wildx_alloc(64));
        page[0] = static_cast<char>(0xc3);  // ret
        npk_wildx_seal(const_cast<char *>(page));
        npk_wildx_free(const_cast<char *>(page));
        fprintf(stderr, "read %d\n", page[0]);
      },
      testing::KilledBySignal(SIGSEGV), "");
}

TEST(AuditEnv, FreedWildxPagesAreNeverReusedSoASecondFreeIsAlwaysRefused) {
  REQUIRE_AUDIT();
  void *first = npk_wildx_alloc(100);
  ASSERT_NE(first, nullptr);
  ASSERT_EQ(npk_wildx_free(first), 0);
  for (int i = 0; i < 200; ++i) {
    void *other = npk_wildx_alloc(100);
    ASSERT_NE(other, nullptr);
    ASSERT_NE(other, first);
    ASSERT_EQ(npk_wildx_free(other), 0);
  }
  npk_wildx_stats_t stats = {};
  ASSERT_EQ(npk_wildx_stats(&stats), 0);
  EXPECT_EQ(stats.live_bytes, 0);
  testing::internal::CaptureStderr();
  EXPECT_EQ(npk_wildx_free(first), -1);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("[WildX] panic: wildx_free("), std::string::npos);
}

}  // namespace
