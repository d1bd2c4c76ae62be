// Strings received from C: npk_string_from_c.
#include <npk/runtime.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "runtime_test_support.h"

namespace {

using npk_test::StderrOf;

TEST(StringFromC, NullBecomesEmptyString) {
  npk_string s{};
  EXPECT_EQ(StderrOf([&] { s = npk_string_from_c(nullptr); }), "");
  ASSERT_NE(s.ptr, nullptr);
  EXPECT_EQ(s.len, 0);
  EXPECT_EQ(s.ptr[0], '\0');
}

TEST(StringFromC, EmptyStringStaysEmpty) {
  npk_string s = npk_string_from_c("");
  ASSERT_NE(s.ptr, nullptr);
  EXPECT_EQ(s.len, 0);
  EXPECT_EQ(s.ptr[0], '\0');
}

TEST(StringFromC, CopiesBytesUpToTheNul) {
  char source[] = "hello\0hidden";
  npk_string s = npk_string_from_c(source);
  ASSERT_NE(s.ptr, nullptr);
  EXPECT_NE(s.ptr, source);
  EXPECT_EQ(s.len, 5);
  EXPECT_EQ(std::string(s.ptr, static_cast<size_t>(s.len)), "hello");
  EXPECT_EQ(s.ptr[s.len], '\0');
}

TEST(StringFromC, CopyOutlivesTheSource) {
  auto *source = static_cast<char *>(malloc(16));
  ASSERT_NE(source, nullptr);
  strcpy(source, "transient");
  npk_string s = npk_string_from_c(source);
  memset(source, 'x', 15);
  free(source);
  EXPECT_STREQ(s.ptr, "transient");
  EXPECT_EQ(s.len, 9);
}

TEST(StringFromC, EachCallMakesItsOwnCopy) {
  npk_string a = npk_string_from_c("same");
  npk_string b = npk_string_from_c("same");
  EXPECT_NE(a.ptr, b.ptr);
  EXPECT_STREQ(a.ptr, "same");
  EXPECT_STREQ(b.ptr, "same");
}

TEST(StringFromC, LongStringIsCopiedWhole) {
  std::string big(1 << 20, 'a');
  big[12345] = 'b';
  npk_string s = npk_string_from_c(big.c_str());
  ASSERT_EQ(s.len, static_cast<int64_t>(big.size()));
  EXPECT_EQ(memcmp(s.ptr, big.data(), big.size()), 0);
  EXPECT_EQ(s.ptr[s.len], '\0');
}

TEST(StringFromC, ConcurrentCopiesAreIndependent) {
  constexpr int kThreads = 4, kPerThread = 2000;
  std::vector<std::vector<npk_string>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([t, &results] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string text = std::to_string(t) + ":" + std::to_string(i);
        results[t].push_back(npk_string_from_c(text.c_str()));
      }
    });
  for (std::thread &th : threads) th.join();
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kPerThread; ++i)
      ASSERT_STREQ(results[t][i].ptr, (std::to_string(t) + ":" + std::to_string(i)).c_str());
}

}  // namespace
