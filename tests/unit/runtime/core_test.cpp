// Wild heap, failure paths, traps, exit and output.
#include <npk/runtime.h>

#include "core_internal.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <thread>
#include <vector>

#include <unistd.h>

#include "runtime_test_support.h"
#include "wildx_internal.h"

namespace {

using npk_test::AllBytesAre;
using npk_test::HeapPanicLine;
using npk_test::ExpectRefused;
using npk_test::StderrOf;
using npk_test::StdoutOf;


// ---- npk_alloc / npk_free ------------------------------------------------------

TEST(WildHeap, AllocReturnsZeroedMemory) {
  auto *p = static_cast<unsigned char *>(npk_alloc(1000));
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(AllBytesAre(p, 1000, 0));
  memset(p, 0xff, 1000);
  EXPECT_EQ(npk_free(p), 0);
}

TEST(WildHeap, AllocZeroIsAFreeableBlock) {
  void *p = npk_alloc(0);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(npk_free(p), 0);
}

TEST(WildHeap, NegativeOrAbsurdSizeReturnsNull) {
  EXPECT_EQ(npk_alloc(-1), nullptr);
  EXPECT_EQ(npk_alloc(INT64_MIN), nullptr);
  EXPECT_EQ(npk_alloc(INT64_MAX), nullptr);
}

TEST(WildHeap, FreeRejectsNull) {
  ExpectRefused([] { return npk_free(nullptr); }, HeapPanicLine(nullptr, "null pointer"));
}

TEST(WildHeap, FreeRejectsStackPointer) {
  int local = 0;
  ExpectRefused([&] { return npk_free(&local); }, HeapPanicLine(&local, "foreign pointer (not from alloc)"));
}

TEST(WildHeap, FreeRejectsMallocPointer) {
  void *foreign = malloc(32);
  ExpectRefused([&] { return npk_free(foreign); }, HeapPanicLine(foreign, "foreign pointer (not from alloc)"));
  free(foreign);
}

TEST(WildHeap, FreeRejectsWildxPage) {
  void *page = npk_wildx_alloc(1);
  ExpectRefused([&] { return npk_free(page); }, HeapPanicLine(page, "foreign pointer (not from alloc)"));
  EXPECT_EQ(npk_wildx_free(page), 0);
}

TEST(WildHeap, FreeRejectsInteriorPointer) {
  char *p = static_cast<char *>(npk_alloc(64));
  ExpectRefused([&] { return npk_free(p + 8); },
                HeapPanicLine(p + 8, "interior pointer (not the start of an allocation)"));
  ExpectRefused([&] { return npk_free(p + 63); },
                HeapPanicLine(p + 63, "interior pointer (not the start of an allocation)"));
  EXPECT_EQ(npk_free(p), 0);
}

TEST(WildHeap, FreeRejectsDoubleFree) {
  void *p = npk_alloc(24);
  ASSERT_EQ(npk_free(p), 0);
  ExpectRefused([&] { return npk_free(p); }, HeapPanicLine(p, "already freed"));
}

TEST(WildHeap, DoubleFreeIsStillDetectedAfterOtherTraffic) {
  void *victim = npk_alloc(48);
  ASSERT_EQ(npk_free(victim), 0);
  std::vector<void *> others;
  for (int i = 0; i < 200; ++i) others.push_back(npk_alloc(4096 + i));
  for (void *p : others) ASSERT_EQ(npk_free(p), 0);
  bool reused = false;
  for (void *p : others) reused |= p == victim;
  if (reused) GTEST_SKIP() << "malloc reused the address";
  ExpectRefused([&] { return npk_free(victim); }, HeapPanicLine(victim, "already freed"));
}

TEST(WildHeap, ReusedAddressIsLiveAgain) {
  void *first = npk_alloc(40);
  ASSERT_EQ(npk_free(first), 0);
  void *second = npk_alloc(40);  // malloc usually hands the same block back
  EXPECT_EQ(npk_free(second), 0);
}

TEST(WildHeap, ManyBlocksSurviveRegistryGrowth) {
  std::vector<char *> blocks;
  for (int i = 0; i < 50000; ++i) {
    char *p = static_cast<char *>(npk_alloc(16 + i % 64));
    ASSERT_NE(p, nullptr);
    p[0] = static_cast<char>(i);
    blocks.push_back(p);
  }
  for (size_t i = 0; i < blocks.size(); i += 2) ASSERT_EQ(npk_free(blocks[i]), 0);
  for (size_t i = 1; i < blocks.size(); i += 2) {
    ASSERT_EQ(blocks[i][0], static_cast<char>(i));
    ASSERT_EQ(npk_free(blocks[i]), 0);
  }
}

// The registry keeps a record of freed blocks to name double frees, but only a
// bounded number of them: its tables follow the live blocks, not the history.
TEST(WildHeap, RegistryStaysBoundedByLiveBlocksNotHistory) {
  std::vector<void *> live;
  for (int i = 0; i < 100; ++i) live.push_back(npk_alloc(48));
  size_t slots_before = npkrt::heap_test_registry_slots();
  for (int i = 0; i < 200000; ++i) {
    void *block = npk_alloc(16 + i % 4000);
    ASSERT_NE(block, nullptr);
    ASSERT_EQ(npk_free(block), 0);
  }
  // Every shard at its minimum, or at most a few doublings above it.
  EXPECT_LE(npkrt::heap_test_registry_slots(), std::max<size_t>(slots_before, 64 * 64) * 4);
  for (void *block : live) ASSERT_EQ(npk_free(block), 0);
}

TEST(WildHeap, ConcurrentAllocAndFree) {
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&failures] {
      std::vector<void *> held;
      for (int i = 0; i < 20000; ++i) {
        held.push_back(npk_alloc(8 + i % 100));
        if (held.size() > 32) {
          failures += npk_free(held.front()) != 0;
          held.erase(held.begin());
        }
      }
      for (void *p : held) failures += npk_free(p) != 0;
    });
  }
  for (std::thread &thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

// ---- failsafe, traps, exit -----------------------------------------------------

int32_t FailsafeThatExits(int32_t code) {
  fprintf(stderr, "failsafe got %d\n", code);
  npk_exit(3);
}

int32_t FailsafeThatReturns(int32_t code) {
  fprintf(stderr, "failsafe returned for %d\n", code);
  return 0;
}

int32_t FailsafeThatFailsAgain(int32_t code) { npk_fail(code + 1); }

TEST(FailureDeathTest, FailWithoutFailsafePrintsUnhandledAndExitsOne) {
  EXPECT_EXIT(npk_fail(7), testing::ExitedWithCode(1), "^error: unhandled failure \\(code 7\\)\n$");
}

TEST(FailureDeathTest, FailCallsRegisteredFailsafe) {
  EXPECT_EXIT(
      {
        npk_set_failsafe(FailsafeThatExits);
        npk_fail(42);
      },
      testing::ExitedWithCode(3), "^failsafe got 42\n$");
}

TEST(FailureDeathTest, FailsafeThatReturnsStillExitsOne) {
  EXPECT_EXIT(
      {
        npk_set_failsafe(FailsafeThatReturns);
        npk_fail(5);
      },
      testing::ExitedWithCode(1), "^failsafe returned for 5\n$");
}

TEST(FailureDeathTest, FailureInsideFailsafeDoesNotRecurse) {
  EXPECT_EXIT(
      {
        npk_set_failsafe(FailsafeThatFailsAgain);
        npk_fail(10);
      },
      testing::ExitedWithCode(1), "^error: unhandled failure \\(code 11\\)\n$");
}

TEST(FailureDeathTest, ClearingFailsafeRestoresDefault) {
  EXPECT_EXIT(
      {
        npk_set_failsafe(FailsafeThatExits);
        npk_set_failsafe(nullptr);
        npk_fail(9);
      },
      testing::ExitedWithCode(1), "^error: unhandled failure \\(code 9\\)\n$");
}

TEST(TrapDeathTest, OverflowNamesLocationAndCode) {
  EXPECT_EXIT(npk_trap(NPK_ERR_OVERFLOW, "main.npk:3:14"), testing::ExitedWithCode(1),
              "^main.npk:3:14: runtime error: integer overflow\n"
              "error: unhandled failure \\(code 101\\)\n$");
}

TEST(TrapDeathTest, DivisionByZero) {
  EXPECT_EXIT(npk_trap(NPK_ERR_DIV_ZERO, "a.npk:1:2"), testing::ExitedWithCode(1),
              "^a.npk:1:2: runtime error: division by zero\n");
}

TEST(TrapDeathTest, CastOutOfRange) {
  EXPECT_EXIT(npk_trap(NPK_ERR_CAST_RANGE, "a.npk:9:9"), testing::ExitedWithCode(1),
              "^a.npk:9:9: runtime error: value out of range for cast\n");
}

TEST(TrapDeathTest, GoesThroughFailsafe) {
  EXPECT_EXIT(
      {
        npk_set_failsafe(FailsafeThatExits);
        npk_trap(NPK_ERR_DIV_ZERO, "b.npk:4:1");
      },
      testing::ExitedWithCode(3), "^b.npk:4:1: runtime error: division by zero\nfailsafe got 102\n$");
}

TEST(TrapDeathTest, UnknownCodeAndMissingLocation) {
  EXPECT_EXIT(npk_trap(77, nullptr), testing::ExitedWithCode(1),
              "^<unknown>: runtime error: failure \\(code 77\\)\n");
}

TEST(TrapDeathTest, IntegerOperatorsNameOperandsAndType) {
  EXPECT_EXIT(npk_trap_int_op(NPK_ERR_OVERFLOW, "a.npk:1:5", "+", "uint64", -1, 1, 0), testing::ExitedWithCode(1),
              "^a.npk:1:5: runtime error: integer overflow: 18446744073709551615 \\+ 1 \\(uint64\\)\n"
              "error: unhandled failure \\(code 101\\)\n$");
  EXPECT_EXIT(npk_trap_int_op(NPK_ERR_OVERFLOW, "a.npk:1:5", "-", "int8", 0, -128,
                              NPK_TRAP_LHS_SIGNED | NPK_TRAP_RHS_SIGNED | NPK_TRAP_NEGATE),
              testing::ExitedWithCode(1), "^a.npk:1:5: runtime error: integer overflow: -\\(-128\\) \\(int8\\)\n");
  EXPECT_EXIT(npk_trap_int_op(NPK_ERR_OVERFLOW, "a.npk:2:3", "<<", "int32", 1, 32, NPK_TRAP_LHS_SIGNED),
              testing::ExitedWithCode(1), "^a.npk:2:3: runtime error: shift amount 32 out of range for int32 \\(<<\\)\n");
  EXPECT_EXIT(npk_trap_int_op(NPK_ERR_DIV_ZERO, "a.npk:3:1", "%", "int32", INT32_MIN, -1,
                              NPK_TRAP_LHS_SIGNED | NPK_TRAP_RHS_SIGNED),
              testing::ExitedWithCode(1), "^a.npk:3:1: runtime error: remainder overflow: -2147483648 % -1\n");
  EXPECT_EXIT(npk_trap_int_op(NPK_ERR_DIV_ZERO, "a.npk:3:1", "/", "int32", 7, 0, 0), testing::ExitedWithCode(1),
              "^a.npk:3:1: runtime error: division by zero: 7 / 0\n");
}

TEST(TrapDeathTest, NullStringsDoNotCrash) {
  EXPECT_EXIT(npk_trap_int_op(NPK_ERR_OVERFLOW, nullptr, nullptr, nullptr, 1, 2, 0), testing::ExitedWithCode(1),
              "^<unknown>: runtime error: integer overflow: 1 \\? 2 \\(\\?\\)\n");
  EXPECT_EXIT(npk_trap_cast_int(nullptr, nullptr, 5, 1), testing::ExitedWithCode(1),
              "^<unknown>: runtime error: value 5 out of range for \\? \\(=> \\?\\)\n");
  EXPECT_EXIT(npk_fail_at(4, nullptr, nullptr), testing::ExitedWithCode(1),
              "^<unknown>: runtime error: raw: operand failed with code 4\n");
}

TEST(TrapDeathTest, CastsNameValueAndType) {
  EXPECT_EXIT(npk_trap_cast_int("c.npk:1:1", "int8", 300, 1), testing::ExitedWithCode(1),
              "^c.npk:1:1: runtime error: value 300 out of range for int8 \\(=> int8\\)\n"
              "error: unhandled failure \\(code 103\\)\n$");
  EXPECT_EXIT(npk_trap_cast_int("c.npk:1:1", "int64", -1, 0), testing::ExitedWithCode(1),
              "value 18446744073709551615 out of range for int64");
  EXPECT_EXIT(npk_trap_cast_float("c.npk:1:1", "int32", NAN, 0), testing::ExitedWithCode(1),
              "^c.npk:1:1: runtime error: value nan out of range for int32 \\(=> int32\\)\n");
  EXPECT_EXIT(npk_trap_cast_float("c.npk:1:1", "uint8", 1.1f * 1000, 1), testing::ExitedWithCode(1),
              "value 1100.0 out of range for uint8");
}

// npk_trap_at: each kind of site prints what its own trap function prints,
// at "file:line:column"; a site without a file, an unknown kind, an index
// out of the table or no table at all still reports one line.
TEST(TrapDeathTest, SitesReportLikeTheirTrap) {
  constexpr uint32_t none = NPK_TRAP_NO_TEXT;
  std::string longName(5000, 'd');
  const char *texts[] = {"s.npk", "+", "int32", "int8[3]", "uint8", "int64", longName.c_str()};
  const npk_trap_site sites[] = {
      {0, 4, 9, NPK_ERR_OVERFLOW, NPK_TRAP_SITE_INT_OP, NPK_TRAP_LHS_SIGNED | NPK_TRAP_RHS_SIGNED, 1, 2},
      {0, 5, 2, NPK_ERR_INDEX, NPK_TRAP_SITE_INDEX, 1, none, 3},
      {0, 6, 1, NPK_ERR_CAST_RANGE, NPK_TRAP_SITE_CAST_INT, 0, none, 4},
      {0, 7, 3, NPK_ERR_CAST_RANGE, NPK_TRAP_SITE_CAST_FLOAT, 0, none, 5},
      {0, 8, 20, NPK_ERR_LOOP_STEP, NPK_TRAP_SITE_PLAIN, 0, none, none},
      {none, 0, 0, 77, 200, 0, none, none},
      {6, 1, 1, NPK_ERR_OVERFLOW, NPK_TRAP_SITE_PLAIN, 0, none, none},
      {99, 2, 2, NPK_ERR_OVERFLOW, NPK_TRAP_SITE_INT_OP, 0, 99, 99},
  };
  const npk_trap_table table{sites, texts, std::size(sites), std::size(texts)};
  EXPECT_EXIT(npk_trap_at(&table, 0, INT32_MAX, 1), testing::ExitedWithCode(1),
              "^s.npk:4:9: runtime error: integer overflow: 2147483647 \\+ 1 \\(int32\\)\n"
              "error: unhandled failure \\(code 101\\)\n$");
  EXPECT_EXIT(npk_trap_at(&table, 1, -1, 0), testing::ExitedWithCode(1),
              "^s.npk:5:2: runtime error: index -1 out of bounds for int8\\[3\\]\nerror: unhandled failure \\(code 104\\)\n$");
  EXPECT_EXIT(npk_trap_at(&table, 2, 256, 0), testing::ExitedWithCode(1),
              "^s.npk:6:1: runtime error: value 256 out of range for uint8 \\(=> uint8\\)\n");
  double big = 1e300;
  int64_t bits;
  memcpy(&bits, &big, sizeof bits);
  EXPECT_EXIT(npk_trap_at(&table, 3, bits, 0), testing::ExitedWithCode(1),
              "^s.npk:7:3: runtime error: value 1e\\+300 out of range for int64 \\(=> int64\\)\n");
  EXPECT_EXIT(npk_trap_at(&table, 4, 0, 0), testing::ExitedWithCode(1),
              "^s.npk:8:20: runtime error: loop step is not positive\nerror: unhandled failure \\(code 105\\)\n$");
  EXPECT_EXIT(npk_trap_at(&table, 5, 0, 0), testing::ExitedWithCode(1),
              "^<unknown>: runtime error: failure \\(code 77\\)\n");
  EXPECT_EXIT(npk_trap_at(&table, 6, 0, 0), testing::ExitedWithCode(1), "^d+:1:1: runtime error: integer overflow\n");
  EXPECT_EXIT(npk_trap_at(&table, 7, 1, 2), testing::ExitedWithCode(1),
              "^<unknown>: runtime error: integer overflow: 1 \\? 2 \\(\\?\\)\n");
  EXPECT_EXIT(npk_trap_at(&table, 8, 0, 0), testing::ExitedWithCode(1), "^<unknown>: runtime error: failure \\(code 0\\)\n");
  EXPECT_EXIT(npk_trap_at(nullptr, 0, 0, 0), testing::ExitedWithCode(1),
              "^<unknown>: runtime error: failure \\(code 0\\)\n");
}

TEST(FailAtDeathTest, NamesLocationWithoutFailsafe) {
  EXPECT_EXIT(npk_fail_at(7, "r.npk:4:9", "call to `f`"), testing::ExitedWithCode(1),
              "^r.npk:4:9: runtime error: raw: call to `f` failed with code 7\n"
              "error: unhandled failure \\(code 7\\)\n$");
}

TEST(FailAtDeathTest, FailsafeDecidesWhatToPrint) {
  EXPECT_EXIT(
      {
        npk_set_failsafe(FailsafeThatExits);
        npk_fail_at(12, "r.npk:4:9", "call to `f`");
      },
      testing::ExitedWithCode(3), "^failsafe got 12\n$");
}

// npk_start: a fault still prints what stdout buffered, and the process
// still dies by the signal. stdout is pointed at stderr, which the death
// test sees.
void PrintBufferedThenRaise(int sig) {
  npk_start();
  dup2(2, 1);
  static char buffer[256];
  setvbuf(stdout, buffer, _IOFBF, sizeof buffer);
  npk_print_str(1, "buffered before the fault", -1);
  raise(sig);
}

TEST(StartDeathTest, FaultFlushesStdoutAndKeepsTheSignal) {
  EXPECT_EXIT(PrintBufferedThenRaise(SIGSEGV), testing::KilledBySignal(SIGSEGV), "^buffered before the fault$");
  EXPECT_EXIT(PrintBufferedThenRaise(SIGFPE), testing::KilledBySignal(SIGFPE), "^buffered before the fault$");
  EXPECT_EXIT(PrintBufferedThenRaise(SIGABRT), testing::KilledBySignal(SIGABRT), "^buffered before the fault$");
}

TEST(StartDeathTest, RealNullWriteFlushesStdout) {
  EXPECT_EXIT(
      {
        npk_start();
        dup2(2, 1);
        static char buffer[256];
        setvbuf(stdout, buffer, _IOFBF, sizeof buffer);
        npk_print_str(1, "written", -1);
        *static_cast<volatile int *>(nullptr) = 1;
      },
      testing::KilledBySignal(SIGSEGV), "^written$");
}

TEST(StartDeathTest, WithoutStartBufferedOutputIsLost) {
  // What npk_start changes: the library alone installs nothing.
  EXPECT_EXIT(
      {
        dup2(2, 1);
        static char buffer[256];
        setvbuf(stdout, buffer, _IOFBF, sizeof buffer);
        npk_print_str(1, "lost", -1);
        raise(SIGSEGV);
      },
      testing::KilledBySignal(SIGSEGV), "^$");
}

TEST(ExitDeathTest, ExitsWithStatus) {
  EXPECT_EXIT(npk_exit(0), testing::ExitedWithCode(0), "");
  EXPECT_EXIT(npk_exit(4), testing::ExitedWithCode(4), "");
}

TEST(ExitDeathTest, FlushesBufferedOutputFirst) {
  // stderr is the only stream the death test can see; make it buffered.
  EXPECT_EXIT(
      {
        static char buffer[256];
        setvbuf(stderr, buffer, _IOFBF, sizeof buffer);
        npk_print_str(2, "buffered", -1);
        npk_exit(0);
      },
      testing::ExitedWithCode(0), "^buffered$");
}

// ---- output ----------------------------------------------------------------------

TEST(Print, StringsWithLengthOrNulTerminated) {
  EXPECT_EQ(StdoutOf([] { npk_print_str(1, "hello world", 5); }), "hello");
  EXPECT_EQ(StdoutOf([] { npk_print_str(1, "whole", -1); }), "whole");
  EXPECT_EQ(StdoutOf([] { npk_print_str(1, "a\0b", 3); }), std::string("a\0b", 3));
  EXPECT_EQ(StdoutOf([] { npk_print_str(1, nullptr, 4); }), "");
}

TEST(Print, Integers) {
  EXPECT_EQ(StdoutOf([] { npk_print_i64(1, INT64_MIN); }), "-9223372036854775808");
  EXPECT_EQ(StdoutOf([] { npk_print_i64(1, 42); }), "42");
  EXPECT_EQ(StdoutOf([] { npk_print_u64(1, UINT64_MAX); }), "18446744073709551615");
}

TEST(Print, FloatsInShortestRoundTripForm) {
  struct Case {
    double value;
    const char *text;
  } cases[] = {{1.5, "1.5"},
               {0.1, "0.1"},
               {0.1 + 0.2, "0.30000000000000004"},
               {2.0, "2.0"},
               {10.0, "10.0"},
               {-0.0, "-0.0"},
               {0.0, "0.0"},
               {1e20, "100000000000000000000.0"},
               {1e21, "1e+21"},
               {1e300, "1e+300"},
               {1.0 / 3, "0.3333333333333333"},
               {1e-4, "0.0001"},
               {1.5e-5, "1.5e-05"},
               {HUGE_VAL, "inf"},
               {-HUGE_VAL, "-inf"},
               {NAN, "nan"},
               {-NAN, "nan"},
               {5e-324, "5e-324"},
               {1.7976931348623157e308, "1.7976931348623157e+308"},
               {123456789.0, "123456789.0"},
               {-2.5, "-2.5"}};
  for (const Case &c : cases) EXPECT_EQ(StdoutOf([&] { npk_print_f64(1, c.value); }), c.text) << c.text;
}

TEST(Print, Flt32InItsOwnPrecision) {
  struct Case {
    float value;
    const char *text;
  } cases[] = {{1.1f, "1.1"},
               {0.1f, "0.1"},
               {10.0f, "10.0"},
               {-0.0f, "-0.0"},
               {16777216.0f, "16777216.0"},
               {3.4028235e38f, "3.4028235e+38"},
               {1.0e-45f, "1e-45"},
               {1.17549435e-38f, "1.1754944e-38"},
               {HUGE_VALF, "inf"},
               {NAN, "nan"},
               {1.0f / 3, "0.33333334"}};
  for (const Case &c : cases) EXPECT_EQ(StdoutOf([&] { npk_print_f32(1, c.value); }), c.text) << c.text;
}

// The digits agree with std::to_chars (shortest round trip, correctly
// rounded) for random bit patterns of both types.
template <typename T, typename Bits>
void ExpectDigitsMatchToChars(Bits bits) {
  T v;
  memcpy(&v, &bits, sizeof v);
  if (!std::isfinite(v) || v == 0) return;
  v = std::fabs(v);
  char expected[64];
  auto [end, ec] = std::to_chars(expected, expected + sizeof expected, v, std::chars_format::scientific);
  ASSERT_EQ(ec, std::errc());
  *end = '\0';
  std::string mantissa(expected, strchr(expected, 'e'));
  mantissa.erase(std::remove(mantissa.begin(), mantissa.end(), '.'), mantissa.end());
  int expectedExponent = atoi(strchr(expected, 'e') + 1);
  char digits[32];
  int exponent = 0;
  npkrt::shortest_digits(static_cast<double>(v), std::is_same_v<T, float>, digits, &exponent);
  EXPECT_EQ(std::string(digits), mantissa) << expected;
  EXPECT_EQ(exponent, expectedExponent) << expected;
}

TEST(Print, ShortestDigitsAgreeWithToChars) {
  std::mt19937_64 random(20261202);
  for (int i = 0; i < 20000; ++i) {
    ExpectDigitsMatchToChars<double>(random());
    ExpectDigitsMatchToChars<float>(static_cast<uint32_t>(random()));
  }
}

TEST(Print, BoolAndPointer) {
  EXPECT_EQ(StdoutOf([] { npk_print_bool(1, 1); }), "true");
  EXPECT_EQ(StdoutOf([] { npk_print_bool(1, 0); }), "false");
  EXPECT_EQ(StdoutOf([] { npk_print_bool(1, -7); }), "true");
  EXPECT_EQ(StdoutOf([] { npk_print_ptr(1, nullptr); }), "0x0");
  EXPECT_EQ(StdoutOf([] { npk_print_ptr(1, reinterpret_cast<void *>(0xdead0)); }), "0xdead0");
}

TEST(Print, StreamTwoIsStderrAndOtherStreamsPrintNothing) {
  std::string out, err;
  err = StderrOf([&] {
    out = StdoutOf([] {
      npk_print_str(2, "to stderr", -1);
      npk_print_i64(2, -5);
      npk_print_str(0, "nowhere", -1);
      npk_print_bool(3, 1);
    });
  });
  EXPECT_EQ(out, "");
  EXPECT_EQ(err, "to stderr-5");
}

}  // namespace
