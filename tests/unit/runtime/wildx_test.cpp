// wildx pages: every transition and every misuse of alloc/seal/free.
#include <npk/runtime.h>

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <thread>
#include <vector>

#include "runtime_test_support.h"
#include "wildx_internal.h"

namespace {

using npk_test::AllBytesAre;
using npk_test::IsExecutable;
using npk_test::IsWritable;
using npk_test::PermissionsOf;
using npk_test::ExpectRefused;
using npk_test::StderrOf;
using npk_test::WildxPanicLine;

const size_t kPage = npkrt::wildx_page_size();

char *AllocPage() { return static_cast<char *>(npk_wildx_alloc(64)); }


// ---- alloc -------------------------------------------------------------------

TEST(WildxAlloc, ReturnsPageAlignedZeroFilledWritablePage) {
  char *p = AllocPage();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kPage, 0u);
  EXPECT_TRUE(AllBytesAre(p, kPage, 0));
  memset(p, 0x5a, kPage);
  EXPECT_EQ(PermissionsOf(p), "rw-p");
  EXPECT_EQ(npk_wildx_free(p), 0);
}

TEST(WildxAlloc, ZeroBytesCountsAsOnePage) {
  char *p = static_cast<char *>(npk_wildx_alloc(0));
  ASSERT_NE(p, nullptr);
  p[kPage - 1] = 1;
  EXPECT_EQ(npkrt::wildx_live_bytes(), static_cast<int64_t>(kPage));
  EXPECT_EQ(npk_wildx_free(p), 0);
  EXPECT_EQ(npkrt::wildx_live_bytes(), 0);
}

TEST(WildxAlloc, NegativeOrAbsurdSizeReturnsNullSilently) {
  std::string err = StderrOf([] {
    EXPECT_EQ(npk_wildx_alloc(-1), nullptr);
    EXPECT_EQ(npk_wildx_alloc(INT64_MIN), nullptr);
    EXPECT_EQ(npk_wildx_alloc(INT64_MAX), nullptr);
  });
  EXPECT_EQ(err, "");
  EXPECT_EQ(npkrt::wildx_live_bytes(), 0);
}

TEST(WildxAlloc, MultiPageRequestIsRoundedUpContiguousAndZeroed) {
  size_t bytes = 3 * kPage + kPage / 2;
  char *p = static_cast<char *>(npk_wildx_alloc(static_cast<int64_t>(bytes)));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(npkrt::wildx_live_bytes(), static_cast<int64_t>(4 * kPage));
  EXPECT_TRUE(AllBytesAre(p, 4 * kPage, 0));
  memset(p, 0x11, 4 * kPage);
  EXPECT_EQ(npk_wildx_seal(p), 0);
  EXPECT_EQ(PermissionsOf(p + 3 * kPage), npk_test::SealedPermissions());
  EXPECT_EQ(npk_wildx_free(p), 0);
  EXPECT_FALSE(IsExecutable(PermissionsOf(p + 3 * kPage)));
}

TEST(WildxAlloc, LiveAllocationsDoNotOverlap) {
  std::vector<char *> pages;
  for (int i = 0; i < 64; ++i) {
    char *p = static_cast<char *>(npk_wildx_alloc(static_cast<int64_t>((i % 3 + 1) * kPage)));
    ASSERT_NE(p, nullptr);
    memset(p, i + 1, (i % 3 + 1) * kPage);
    pages.push_back(p);
  }
  for (int i = 0; i < 64; ++i) {
    EXPECT_TRUE(AllBytesAre(pages[i], (i % 3 + 1) * kPage, static_cast<unsigned char>(i + 1)));
    EXPECT_EQ(npk_wildx_free(pages[i]), 0);
  }
}

// Dirties pages of `pages` pages through `lifecycle`, then checks that every
// later allocation of that size is zero-filled again.
void ExpectRecycledAllocationsAreZero(size_t pages, bool seal_before_free) {
  std::vector<char *> dirty;
  for (int i = 0; i < 8; ++i) {
    char *p = static_cast<char *>(npk_wildx_alloc(static_cast<int64_t>(pages * kPage)));
    ASSERT_NE(p, nullptr);
    memset(p, 0xab, pages * kPage);
    if (seal_before_free) {
      ASSERT_EQ(npk_wildx_seal(p), 0);
    }
    dirty.push_back(p);
  }
  for (char *p : dirty) ASSERT_EQ(npk_wildx_free(p), 0);
  int reused = 0;
  std::vector<char *> fresh;
  for (int i = 0; i < 8; ++i) {
    char *p = static_cast<char *>(npk_wildx_alloc(static_cast<int64_t>(pages * kPage)));
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(AllBytesAre(p, pages * kPage, 0));
    EXPECT_EQ(PermissionsOf(p), "rw-p");
    for (char *old : dirty) reused += old == p;
    fresh.push_back(p);
  }
  EXPECT_GT(reused, 0) << "freed pages should be recycled";
  for (char *p : fresh) ASSERT_EQ(npk_wildx_free(p), 0);
}

TEST(WildxAlloc, RecycledWritablePageIsZeroFilled) { ExpectRecycledAllocationsAreZero(1, false); }
TEST(WildxAlloc, RecycledSealedPageIsZeroFilledAndWritable) { ExpectRecycledAllocationsAreZero(1, true); }
TEST(WildxAlloc, RecycledLargeBlockIsZeroFilled) { ExpectRecycledAllocationsAreZero(20, true); }

TEST(WildxAlloc, SplitFreeBlockServesSmallerRequests) {
  char *big = static_cast<char *>(npk_wildx_alloc(static_cast<int64_t>(40 * kPage)));
  ASSERT_NE(big, nullptr);
  memset(big, 0xcd, 40 * kPage);
  ASSERT_EQ(npk_wildx_free(big), 0);
  std::vector<char *> small;
  for (int i = 0; i < 50; ++i) {
    char *p = static_cast<char *>(npk_wildx_alloc(static_cast<int64_t>(kPage)));
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(AllBytesAre(p, kPage, 0));
    small.push_back(p);
  }
  for (char *p : small) ASSERT_EQ(npk_wildx_free(p), 0);
}

TEST(WildxAlloc, AllocationsLargerThanAnArenaWork) {
  int64_t previous = npkrt::wildx_test_set_quota(int64_t{512} << 20);
  const size_t bytes = size_t{100} << 20;
  char *huge = static_cast<char *>(npk_wildx_alloc(static_cast<int64_t>(bytes)));
  ASSERT_NE(huge, nullptr);
  huge[0] = 1;
  huge[bytes - 1] = 2;
  char *second = static_cast<char *>(npk_wildx_alloc(int64_t{40} << 20));
  char *third = static_cast<char *>(npk_wildx_alloc(int64_t{40} << 20));
  ASSERT_NE(second, nullptr);
  ASSERT_NE(third, nullptr);
  third[0] = 3;
  EXPECT_EQ(npk_wildx_free(huge), 0);
  EXPECT_EQ(npk_wildx_free(second), 0);
  EXPECT_EQ(npk_wildx_free(third), 0);
  npkrt::wildx_test_set_quota(previous);
}

// ---- seal --------------------------------------------------------------------

TEST(WildxSeal, MakesPageReadExecuteOnly) {
  char *p = AllocPage();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(npk_wildx_seal(p), 0);
  EXPECT_EQ(PermissionsOf(p), npk_test::SealedPermissions());
  EXPECT_EQ(npk_wildx_free(p), 0);
}

TEST(WildxSeal, RejectsNull) {
  ExpectRefused([] { return npk_wildx_seal(nullptr); },
                WildxPanicLine("wildx_seal", nullptr, "null pointer"));
}

TEST(WildxSeal, RejectsHeapPointer) {
  void *heap = malloc(64);
  ExpectRefused([&] { return npk_wildx_seal(heap); },
                WildxPanicLine("wildx_seal", heap, "foreign pointer (not a wildx page)"));
  free(heap);
}

TEST(WildxSeal, RejectsStackPointer) {
  char local[16] = {};
  ExpectRefused([&] { return npk_wildx_seal(local); },
                WildxPanicLine("wildx_seal", local, "foreign pointer (not a wildx page)"));
}

TEST(WildxSeal, RejectsInteriorPointerInFirstPage) {
  char *p = AllocPage();
  ExpectRefused([&] { return npk_wildx_seal(p + 8); },
                WildxPanicLine("wildx_seal", p + 8, "interior pointer (not the start of an allocation)"));
  EXPECT_EQ(PermissionsOf(p), "rw-p");
  EXPECT_EQ(npk_wildx_free(p), 0);
}

TEST(WildxSeal, RejectsPageAlignedInteriorPointer) {
  char *p = static_cast<char *>(npk_wildx_alloc(static_cast<int64_t>(2 * kPage)));
  ExpectRefused([&] { return npk_wildx_seal(p + kPage); },
                WildxPanicLine("wildx_seal", p + kPage, "interior pointer (not the start of an allocation)"));
  EXPECT_EQ(npk_wildx_free(p), 0);
}

TEST(WildxSeal, RejectsPageInsideTheRegistryThatWasNeverHandedOut) {
  char *p = AllocPage();
  // Inside the reserved arena, far from this allocation. What the page is
  // depends on the tests that ran before in this process (never used, part
  // of a freed block), but it is never a live allocation head.
  char *elsewhere = p + 4000 * kPage;
  std::string err = StderrOf([&] { EXPECT_EQ(npk_wildx_seal(elsewhere), -1); });
  std::string prefix = WildxPanicLine("wildx_seal", elsewhere, "");
  prefix.pop_back();
  EXPECT_EQ(err.rfind(prefix, 0), 0u) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_EQ(npk_wildx_free(p), 0);
}

TEST(WildxSeal, RejectsDoubleSealAndLeavesPageExecutable) {
  char *p = AllocPage();
  ASSERT_EQ(npk_jit_install_add_i32(p), 0);
  ASSERT_EQ(npk_wildx_seal(p), 0);
  ExpectRefused([&] { return npk_wildx_seal(p); },
                WildxPanicLine("wildx_seal", p, "page is already sealed"));
  EXPECT_EQ(PermissionsOf(p), npk_test::SealedPermissions());
  EXPECT_EQ(npk_jit_call_i32_i32(p, 2, 3), 5);
  EXPECT_EQ(npk_wildx_free(p), 0);
}

TEST(WildxSeal, RejectsSealAfterFree) {
  char *p = AllocPage();
  ASSERT_EQ(npk_wildx_free(p), 0);
  ExpectRefused([&] { return npk_wildx_seal(p); },
                WildxPanicLine("wildx_seal", p, "page was already freed"));
  EXPECT_FALSE(IsExecutable(PermissionsOf(p)));
}

// ---- free --------------------------------------------------------------------

TEST(WildxFree, ReleasesWritablePage) {
  char *p = AllocPage();
  EXPECT_EQ(npk_wildx_free(p), 0);
  EXPECT_EQ(npkrt::wildx_live_bytes(), 0);
}

TEST(WildxFree, ReleasesExecutablePageAndRevokesExecute) {
  char *p = AllocPage();
  ASSERT_EQ(npk_wildx_seal(p), 0);
  EXPECT_EQ(npk_wildx_free(p), 0);
  EXPECT_FALSE(IsExecutable(PermissionsOf(p)));
  EXPECT_EQ(npkrt::wildx_live_bytes(), 0);
}

TEST(WildxFree, RejectsNull) {
  ExpectRefused([] { return npk_wildx_free(nullptr); },
                WildxPanicLine("wildx_free", nullptr, "null pointer"));
}

TEST(WildxFree, RejectsHeapPointer) {
  void *heap = malloc(64);
  ExpectRefused([&] { return npk_wildx_free(heap); },
                WildxPanicLine("wildx_free", heap, "foreign pointer (not a wildx page)"));
  free(heap);
}

TEST(WildxFree, RejectsNpkHeapPointer) {
  void *wild = npk_alloc(64);
  ExpectRefused([&] { return npk_wildx_free(wild); },
                WildxPanicLine("wildx_free", wild, "foreign pointer (not a wildx page)"));
  EXPECT_EQ(npk_free(wild), 0);
}

TEST(WildxFree, RejectsStackPointer) {
  int local = 0;
  ExpectRefused([&] { return npk_wildx_free(&local); },
                WildxPanicLine("wildx_free", &local, "foreign pointer (not a wildx page)"));
}

TEST(WildxFree, RejectsInteriorPointers) {
  char *p = static_cast<char *>(npk_wildx_alloc(static_cast<int64_t>(2 * kPage)));
  ExpectRefused([&] { return npk_wildx_free(p + 1); },
                WildxPanicLine("wildx_free", p + 1, "interior pointer (not the start of an allocation)"));
  ExpectRefused([&] { return npk_wildx_free(p + kPage); },
                WildxPanicLine("wildx_free", p + kPage, "interior pointer (not the start of an allocation)"));
  EXPECT_EQ(npk_wildx_free(p), 0);
}

TEST(WildxFree, RejectsDoubleFreeOfWritablePage) {
  char *p = AllocPage();
  ASSERT_EQ(npk_wildx_free(p), 0);
  ExpectRefused([&] { return npk_wildx_free(p); },
                WildxPanicLine("wildx_free", p, "page was already freed"));
}

TEST(WildxFree, RejectsDoubleFreeOfSealedPage) {
  char *p = AllocPage();
  ASSERT_EQ(npk_wildx_seal(p), 0);
  ASSERT_EQ(npk_wildx_free(p), 0);
  ExpectRefused([&] { return npk_wildx_free(p); },
                WildxPanicLine("wildx_free", p, "page was already freed"));
  EXPECT_EQ(npkrt::wildx_live_bytes(), 0);
}

// ---- W^X as the kernel sees it -------------------------------------------------

TEST(WildxMaps, PageIsRwBeforeSealRxAfterAndNotExecutableAfterFree) {
  char *p = AllocPage();
  std::string writable = PermissionsOf(p);
  ASSERT_EQ(npk_jit_install_add_i32(p), 0);
  ASSERT_EQ(npk_wildx_seal(p), 0);
  std::string sealed = PermissionsOf(p);
  ASSERT_EQ(npk_wildx_free(p), 0);
  std::string freed = PermissionsOf(p);
  EXPECT_EQ(writable, "rw-p");
  EXPECT_EQ(sealed, npk_test::SealedPermissions());
  EXPECT_FALSE(IsExecutable(freed)) << freed;
}

TEST(WildxMaps, NoMappingIsEverWritableAndExecutable) {
  std::vector<char *> pages;
  for (int i = 0; i < 16; ++i) {
    char *p = AllocPage();
    if (i % 2 == 0) {
      ASSERT_EQ(npk_wildx_seal(p), 0);
    }
    pages.push_back(p);
  }
  for (char *p : pages) {
    std::string perms = PermissionsOf(p);
    EXPECT_FALSE(IsWritable(perms) && IsExecutable(perms)) << perms;
  }
  for (char *p : pages) ASSERT_EQ(npk_wildx_free(p), 0);
}

TEST(WildxDeathTest, WritingToSealedPageDiesWithSigsegv) {
  EXPECT_EXIT(
      {
        char *p = AllocPage();
        npk_wildx_seal(p);
        npk_test::WriteByteThatMustFault(p);
      },
      testing::KilledBySignal(SIGSEGV), "");
}

// ---- quota (through the test hook; the env var has its own ctest entry) ----------

class WildxQuota : public testing::Test {
 protected:
  void SetUp() override { previous_ = npkrt::wildx_test_set_quota(static_cast<int64_t>(4 * kPage)); }
  void TearDown() override { npkrt::wildx_test_set_quota(previous_); }
  int64_t previous_ = 0;
};

TEST_F(WildxQuota, DefaultsToSixtyFourMebibytes) {
  if (getenv("NPK_WILDX_QUOTA") != nullptr) {
    GTEST_SKIP() << "NPK_WILDX_QUOTA is set";
  }
  EXPECT_EQ(previous_, int64_t{64} << 20);
}

TEST_F(WildxQuota, AllocReturnsNullPastQuotaAndWorksAgainAfterFree) {
  std::vector<void *> pages;
  for (int i = 0; i < 4; ++i) {
    pages.push_back(npk_wildx_alloc(1));
    ASSERT_NE(pages.back(), nullptr);
  }
  std::string err = StderrOf([] { EXPECT_EQ(npk_wildx_alloc(1), nullptr); });
  EXPECT_EQ(err, "");
  ASSERT_EQ(npk_wildx_free(pages.back()), 0);
  pages.back() = npk_wildx_alloc(1);
  EXPECT_NE(pages.back(), nullptr);
  for (void *p : pages) EXPECT_EQ(npk_wildx_free(p), 0);
}

TEST_F(WildxQuota, CountsWholePagesOfMultiPageRequests) {
  void *three = npk_wildx_alloc(static_cast<int64_t>(2 * kPage + 1));
  ASSERT_NE(three, nullptr);
  EXPECT_EQ(npk_wildx_alloc(static_cast<int64_t>(kPage + 1)), nullptr);
  void *one = npk_wildx_alloc(static_cast<int64_t>(kPage));
  EXPECT_NE(one, nullptr);
  EXPECT_EQ(npk_wildx_free(three), 0);
  EXPECT_EQ(npk_wildx_free(one), 0);
  EXPECT_EQ(npk_wildx_alloc(static_cast<int64_t>(5 * kPage)), nullptr);
}

// The quota limits live bytes only: a full-quota allocation keeps succeeding
// however many freed allocations of other sizes came before it.
TEST_F(WildxQuota, FreedPagesNeverCountAgainstTheQuota) {
  for (int round = 0; round < 300; ++round) {
    void *p = npk_wildx_alloc(static_cast<int64_t>((round % 4 + 1) * kPage));
    ASSERT_NE(p, nullptr) << "round " << round;
    ASSERT_EQ(npk_wildx_free(p), 0);
    void *full = npk_wildx_alloc(static_cast<int64_t>(4 * kPage));
    ASSERT_NE(full, nullptr) << "round " << round;
    ASSERT_EQ(npk_wildx_free(full), 0);
  }
  npk_wildx_stats_t stats;
  ASSERT_EQ(npk_wildx_stats(&stats), 0);
  EXPECT_EQ(stats.live_bytes, 0);
  EXPECT_EQ(stats.quota_bytes, static_cast<int64_t>(4 * kPage));
}

// ---- stats and the cache of freed blocks ------------------------------------------

npk_wildx_stats_t Stats() {
  npk_wildx_stats_t stats;
  EXPECT_EQ(npk_wildx_stats(&stats), 0);
  return stats;
}

TEST(WildxStats, ReportsLiveCachedAndReservedBytesAndTheQuota) {
  int64_t quota = npkrt::wildx_test_set_quota(int64_t{8} << 20);
  char *p = static_cast<char *>(npk_wildx_alloc(static_cast<int64_t>(3 * kPage)));
  ASSERT_NE(p, nullptr);
  npk_wildx_stats_t live = Stats();
  EXPECT_EQ(live.live_bytes, static_cast<int64_t>(3 * kPage));
  EXPECT_EQ(live.quota_bytes, int64_t{8} << 20);
  EXPECT_GE(live.reserved_bytes, int64_t{64} << 20);
  ASSERT_EQ(npk_wildx_free(p), 0);
  npk_wildx_stats_t freed = Stats();
  EXPECT_EQ(freed.live_bytes, 0);
  EXPECT_GE(freed.cached_blocks, 1);
  EXPECT_GE(freed.cached_bytes, static_cast<int64_t>(3 * kPage));
  EXPECT_EQ(freed.reserved_bytes, live.reserved_bytes);
  npkrt::wildx_test_set_quota(quota);
}

TEST(WildxStats, RejectsNull) {
  ExpectRefused([] { return npk_wildx_stats(nullptr); }, WildxPanicLine("wildx_stats", nullptr, "null pointer"));
}

// Frees far more blocks than the cache holds: it stays within its bounds, and
// every page that went back to the OS comes out zero-filled, writable and
// never executable when it is handed out again.
TEST(WildxCache, StaysBoundedAndEvictedPagesComeBackZeroed) {
  std::vector<std::pair<char *, size_t>> blocks;
  for (int i = 0; i < 300; ++i) {
    size_t bytes = static_cast<size_t>(i % 7 + 1) * kPage;
    char *p = static_cast<char *>(npk_wildx_alloc(static_cast<int64_t>(bytes)));
    ASSERT_NE(p, nullptr);
    memset(p, 0xee, bytes);
    if (i % 2 == 0) {
      ASSERT_EQ(npk_wildx_seal(p), 0);
    }
    blocks.emplace_back(p, bytes);
  }
  for (auto &[p, bytes] : blocks) ASSERT_EQ(npk_wildx_free(p), 0);
  npk_wildx_stats_t stats = Stats();
  EXPECT_LE(stats.cached_blocks, static_cast<int64_t>(npkrt::kWildxCacheMaxBlocks));
  EXPECT_LE(stats.cached_bytes, static_cast<int64_t>(npkrt::kWildxCacheMaxBytes));
  for (auto &[p, bytes] : blocks) EXPECT_FALSE(IsExecutable(PermissionsOf(p))) << static_cast<void *>(p);
  std::vector<std::pair<char *, size_t>> again;
  for (auto &[old, bytes] : blocks) {
    char *p = static_cast<char *>(npk_wildx_alloc(static_cast<int64_t>(bytes)));
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(AllBytesAre(p, bytes, 0));
    EXPECT_EQ(PermissionsOf(p), "rw-p");
    again.emplace_back(p, bytes);
  }
  for (auto &[p, bytes] : again) ASSERT_EQ(npk_wildx_free(p), 0);
  EXPECT_EQ(Stats().live_bytes, 0);
}

// A block larger than the cache takes goes straight back to the OS at free:
// inaccessible (not just non-executable) and not cached.
TEST(WildxCache, LargeBlockSkipsTheCacheAndComesBackZeroed) {
  const size_t bytes = npkrt::kWildxCacheMaxBytes / 2;
  char *p = static_cast<char *>(npk_wildx_alloc(static_cast<int64_t>(bytes)));
  ASSERT_NE(p, nullptr);
  memset(p, 0x77, bytes);
  ASSERT_EQ(npk_wildx_seal(p), 0);
  int64_t cached_before = Stats().cached_bytes;
  ASSERT_EQ(npk_wildx_free(p), 0);
  const char *none = npk_test::MdweOn() ? "---s" : "---p";  // MDWE: the memfd mapping, inaccessible
  EXPECT_EQ(PermissionsOf(p), none);
  EXPECT_EQ(PermissionsOf(p + bytes - 1), none);
  EXPECT_EQ(Stats().cached_bytes, cached_before);
  char *q = static_cast<char *>(npk_wildx_alloc(static_cast<int64_t>(bytes)));
  ASSERT_NE(q, nullptr);
  EXPECT_TRUE(AllBytesAre(q, bytes, 0));
  EXPECT_EQ(npk_wildx_free(q), 0);
}

TEST(WildxParseByteCount, AcceptsPlainAndSuffixedCounts) {
  struct Case {
    const char *text;
    int64_t bytes;
  } cases[] = {{"0", 0},          {"4096", 4096},        {"64K", 64 << 10},
               {"64k", 64 << 10}, {"3M", 3 << 20},       {"2G", int64_t{2} << 30},
               {"16KB", 16 << 10}, {"8MiB", 8 << 20},   {"100b", 100}};
  for (const Case &c : cases) {
    int64_t bytes = -1;
    EXPECT_TRUE(npkrt::wildx_parse_byte_count(c.text, &bytes)) << c.text;
    EXPECT_EQ(bytes, c.bytes) << c.text;
  }
}

TEST(WildxParseByteCount, RejectsEverythingElse) {
  const char *bad[] = {"", "K", "-1", "+5", "1.5M", "12X", "64 M", "5KK",
                       "99999999999999999999", "9999999999999G", " 1"};
  for (const char *text : bad) {
    int64_t bytes = 42;
    EXPECT_FALSE(npkrt::wildx_parse_byte_count(text, &bytes)) << text;
    EXPECT_EQ(bytes, 42) << text;
  }
  EXPECT_FALSE(npkrt::wildx_parse_byte_count(nullptr, nullptr));
}

// ---- threads -------------------------------------------------------------------

TEST(WildxThreads, ConcurrentLifecyclesAllSucceed) {
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&failures, t] {
      for (int i = 0; i < 500; ++i) {
        void *p = npk_wildx_alloc(64 + i);
        int32_t result = 0;
        bool ok = p != nullptr && npk_jit_install_add_i32(p) == 0 && npk_wildx_seal(p) == 0 &&
                  npk_jit_try_call_i32_i32(p, i, t, &result) == 0 && result == i + t &&
                  npk_wildx_free(p) == 0;
        if (!ok) failures.fetch_add(1);
      }
    });
  }
  for (std::thread &thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(npkrt::wildx_live_bytes(), 0);
}

TEST(WildxThreads, RacingFreesOfOnePageSucceedExactlyOnce) {
  for (int round = 0; round < 200; ++round) {
    void *p = npk_wildx_alloc(1);
    ASSERT_EQ(npk_wildx_seal(p), 0);
    std::atomic<int> released{0};
    testing::internal::CaptureStderr();
    std::thread a([&] { released += npk_wildx_free(p) == 0; });
    std::thread b([&] { released += npk_wildx_free(p) == 0; });
    a.join();
    b.join();
    std::string err = testing::internal::GetCapturedStderr();
    ASSERT_EQ(released.load(), 1);
    EXPECT_NE(err.find("[WildX] panic: wildx_free("), std::string::npos);
  }
}

// ---- fork ----------------------------------------------------------------------

// A child gets private copies of the parent's pages: what it frees, reuses
// and writes never reaches the parent's sealed code.
TEST(WildxFork, ChildCannotChangeTheParentsCode) {
  char *code = AllocPage();
  ASSERT_NE(code, nullptr);
  ASSERT_EQ(npk_jit_install_add_i32(code), 0);
  ASSERT_EQ(npk_wildx_seal(code), 0);
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(5);
    int32_t result = 0;
    bool ok = npk_jit_try_call_i32_i32(code, 2, 3, &result) == 0 && result == 5 && npk_wildx_free(code) == 0;
    for (int i = 0; ok && i < 8; ++i) {  // the child's own pages, probably at the same address
      char *p = AllocPage();
      ok = p != nullptr;
      if (ok) memset(p, 0xcc, kPage);
    }
    _exit(ok ? 0 : 1);
  }
  ASSERT_GT(pid, 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  int32_t result = 0;
  EXPECT_EQ(npk_jit_try_call_i32_i32(code, 40, 2, &result), 0);
  EXPECT_EQ(result, 42);
  EXPECT_EQ(PermissionsOf(code), npk_test::SealedPermissions());
  EXPECT_EQ(npk_wildx_free(code), 0);
}

}  // namespace
