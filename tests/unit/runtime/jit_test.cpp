// JIT helpers: installing the add sequence and calling sealed pages.
#include <npk/runtime.h>

#include <cstdint>
#include <cstdlib>

#include "runtime_test_support.h"
#include "wildx_internal.h"

namespace {

using npk_test::AllBytesAre;
using npk_test::ExpectRefused;
using npk_test::StderrOf;
using npk_test::WildxPanicLine;

const size_t kPage = npkrt::wildx_page_size();


// A page with the add sequence installed and sealed.
char *SealedAddPage() {
  char *p = static_cast<char *>(npk_wildx_alloc(64));
  if (p == nullptr || npk_jit_install_add_i32(p) != 0 || npk_wildx_seal(p) != 0) return nullptr;
  return p;
}

// ---- install -------------------------------------------------------------------

#if defined(__x86_64__)
TEST(JitInstall, WritesMovAddRetAndNothingElse) {
  char *p = static_cast<char *>(npk_wildx_alloc(64));
  ASSERT_EQ(npk_jit_install_add_i32(p), 0);
  const unsigned char expected[] = {0x89, 0xf8, 0x01, 0xf0, 0xc3};
  EXPECT_EQ(memcmp(p, expected, sizeof expected), 0);
  EXPECT_TRUE(AllBytesAre(p + sizeof expected, kPage - sizeof expected, 0));
  EXPECT_EQ(npk_wildx_free(p), 0);
}
#endif

TEST(JitInstall, CanBeRepeatedWhileWritable) {
  char *p = static_cast<char *>(npk_wildx_alloc(64));
  EXPECT_EQ(npk_jit_install_add_i32(p), 0);
  EXPECT_EQ(npk_jit_install_add_i32(p), 0);
  EXPECT_EQ(npk_wildx_seal(p), 0);
  EXPECT_EQ(npk_jit_call_i32_i32(p, 1, 1), 2);
  EXPECT_EQ(npk_wildx_free(p), 0);
}

TEST(JitInstall, RejectsNull) {
  ExpectRefused([] { return npk_jit_install_add_i32(nullptr); },
                WildxPanicLine("jit_install_add_i32", nullptr, "null pointer"));
}

TEST(JitInstall, RejectsForeignHeapAndStackPointers) {
  void *heap = malloc(64);
  char stack[64];
  ExpectRefused([&] { return npk_jit_install_add_i32(heap); },
                WildxPanicLine("jit_install_add_i32", heap, "foreign pointer (not a wildx page)"));
  ExpectRefused([&] { return npk_jit_install_add_i32(stack); },
                WildxPanicLine("jit_install_add_i32", stack, "foreign pointer (not a wildx page)"));
  free(heap);
}

TEST(JitInstall, RejectsInteriorPointer) {
  char *p = static_cast<char *>(npk_wildx_alloc(64));
  ExpectRefused([&] { return npk_jit_install_add_i32(p + 16); },
                WildxPanicLine("jit_install_add_i32", p + 16, "interior pointer (not the start of an allocation)"));
  EXPECT_TRUE(AllBytesAre(p, kPage, 0));
  EXPECT_EQ(npk_wildx_free(p), 0);
}

TEST(JitInstall, RejectsSealedPage) {
  char *p = SealedAddPage();
  ASSERT_NE(p, nullptr);
  ExpectRefused([&] { return npk_jit_install_add_i32(p); },
                WildxPanicLine("jit_install_add_i32", p, "page is already sealed"));
  EXPECT_EQ(npk_wildx_free(p), 0);
}

TEST(JitInstall, RejectsFreedPage) {
  char *p = static_cast<char *>(npk_wildx_alloc(64));
  ASSERT_EQ(npk_wildx_free(p), 0);
  ExpectRefused([&] { return npk_jit_install_add_i32(p); },
                WildxPanicLine("jit_install_add_i32", p, "page was already freed"));
}

// ---- call ----------------------------------------------------------------------

TEST(JitCall, AddsItsArguments) {
  char *p = SealedAddPage();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(npk_jit_call_i32_i32(p, 7, 35), 42);
  EXPECT_EQ(npk_jit_call_i32_i32(p, -20, 5), -15);
  EXPECT_EQ(npk_jit_call_i32_i32(p, 0, 0), 0);
  EXPECT_EQ(npk_jit_call_i32_i32(p, INT32_MAX, 1), INT32_MIN);  // machine add wraps
  EXPECT_EQ(npk_wildx_free(p), 0);
}

TEST(JitCall, TwoPagesAreIndependent) {
  char *first = SealedAddPage();
  char *second = SealedAddPage();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_NE(first, second);
  EXPECT_EQ(npk_jit_call_i32_i32(first, 20, 22), 42);
  EXPECT_EQ(npk_jit_call_i32_i32(second, 17, 25), 42);
  EXPECT_EQ(npk_wildx_free(second), 0);
  EXPECT_EQ(npk_wildx_free(first), 0);
}

TEST(JitCall, RejectsNull) {
  ExpectRefused([] { return npk_jit_call_i32_i32(nullptr, 1, 2); },
                WildxPanicLine("jit_call_i32_i32", nullptr, "null pointer"));
}

TEST(JitCall, RejectsWritablePage) {
  char *p = static_cast<char *>(npk_wildx_alloc(64));
  ASSERT_EQ(npk_jit_install_add_i32(p), 0);
  ExpectRefused([&] { return npk_jit_call_i32_i32(p, 1, 2); },
                WildxPanicLine("jit_call_i32_i32", p, "page is not sealed (still writable)"));
  EXPECT_EQ(npk_wildx_free(p), 0);
}

TEST(JitCall, RejectsFreedPage) {
  char *p = SealedAddPage();
  ASSERT_EQ(npk_wildx_free(p), 0);
  ExpectRefused([&] { return npk_jit_call_i32_i32(p, 1, 2); },
                WildxPanicLine("jit_call_i32_i32", p, "page was already freed"));
}

TEST(JitCall, RejectsInteriorAndForeignPointers) {
  char *p = SealedAddPage();
  void *heap = malloc(16);
  ExpectRefused([&] { return npk_jit_call_i32_i32(p + 1, 1, 2); },
                WildxPanicLine("jit_call_i32_i32", p + 1, "interior pointer (not the start of an allocation)"));
  ExpectRefused([&] { return npk_jit_call_i32_i32(heap, 1, 2); },
                WildxPanicLine("jit_call_i32_i32", heap, "foreign pointer (not a wildx page)"));
  free(heap);
  EXPECT_EQ(npk_wildx_free(p), 0);
}

// ---- try_call --------------------------------------------------------------------

TEST(JitTryCall, SetsResultOnSuccess) {
  char *p = SealedAddPage();
  int32_t result = 0;
  EXPECT_EQ(npk_jit_try_call_i32_i32(p, -1, 0, &result), 0);
  EXPECT_EQ(result, -1);  // a real -1, told apart from a refusal
  EXPECT_EQ(npk_wildx_free(p), 0);
}

TEST(JitTryCall, UnsealedPageIsNotSealedCode) {
  char *p = static_cast<char *>(npk_wildx_alloc(64));
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(npk_jit_install_add_i32(p), 0);
  int32_t result = 99;
  ExpectRefused([&] { return npk_jit_try_call_i32_i32(p, 1, 2, &result); },
                WildxPanicLine("jit_try_call_i32_i32", p, "page is not sealed (still writable)"),
                NPK_ERR_JIT_NOT_SEALED);
  EXPECT_EQ(result, 0);
  EXPECT_EQ(npk_wildx_free(p), 0);
}

TEST(JitTryCall, FreedPageIsNotLiveCode) {
  char *p = SealedAddPage();
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(npk_wildx_free(p), 0);
  int32_t result = 99;
  ExpectRefused([&] { return npk_jit_try_call_i32_i32(p, 1, 2, &result); },
                WildxPanicLine("jit_try_call_i32_i32", p, "page was already freed"), NPK_ERR_JIT_NOT_LIVE);
  EXPECT_EQ(result, 0);
}

TEST(JitTryCall, NullForeignAndInteriorAreNotLiveCode) {
  char *p = SealedAddPage();
  ASSERT_NE(p, nullptr);
  void *heap = malloc(16);
  int32_t result = 99;
  ExpectRefused([&] { return npk_jit_try_call_i32_i32(nullptr, 1, 2, &result); },
                WildxPanicLine("jit_try_call_i32_i32", nullptr, "null pointer"), NPK_ERR_JIT_NOT_LIVE);
  EXPECT_EQ(result, 0);
  result = 99;
  ExpectRefused([&] { return npk_jit_try_call_i32_i32(heap, 1, 2, &result); },
                WildxPanicLine("jit_try_call_i32_i32", heap, "foreign pointer (not a wildx page)"),
                NPK_ERR_JIT_NOT_LIVE);
  EXPECT_EQ(result, 0);
  ExpectRefused([&] { return npk_jit_try_call_i32_i32(p + 1, 1, 2, &result); },
                WildxPanicLine("jit_try_call_i32_i32", p + 1, "interior pointer (not the start of an allocation)"),
                NPK_ERR_JIT_NOT_LIVE);
  free(heap);
  EXPECT_EQ(npk_wildx_free(p), 0);
}

TEST(JitTryCall, RejectsNullResultPointer) {
  char *p = SealedAddPage();
  ExpectRefused([&] { return npk_jit_try_call_i32_i32(p, 1, 2, nullptr); },
                WildxPanicLine("jit_try_call_i32_i32", p, "null result pointer"));
  EXPECT_EQ(npk_wildx_free(p), 0);
}

}  // namespace
