// Code memory: both backends, every state transition and misuse of modules,
// functions, signature tags and checked calls; fork; trap bytes.
#include <npk/runtime.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "code_internal.h"
#include "runtime_test_support.h"

namespace {

using npk_test::StderrOf;

// `mov eax, imm32; ret`
std::vector<unsigned char> ReturnConstant(int32_t value) {
  std::vector<unsigned char> code = {0xb8, 0, 0, 0, 0, 0xc3};
  memcpy(&code[1], &value, 4);
  return code;
}
const unsigned char kAdd[] = {0x89, 0xf8, 0x01, 0xf0, 0xc3};  // mov eax, edi; add eax, esi; ret

int32_t CallNoArgs(void *entry) {
  int32_t (*fn)(void);
  memcpy(&fn, &entry, sizeof fn);
  return fn();
}
int32_t CallAdd(void *entry, int32_t a, int32_t b) {
  int32_t (*fn)(int32_t, int32_t);
  memcpy(&fn, &entry, sizeof fn);
  return fn(a, b);
}

std::string PanicLine(const char *op, npk_jit_fn f, const char *reason) {
  char line[256];
  snprintf(line, sizeof line, "[WildX] panic: %s(%p) rejected: %s\n", op, npkrt::pointer_of_handle(f), reason);
  return line;
}

class CodeBackend : public testing::TestWithParam<const char *> {
 protected:
  void SetUp() override {
    if (strcmp(GetParam(), "mprotect") == 0 && npk_test::MdweOn())
      GTEST_SKIP() << "the mprotect backend cannot make pages executable under PR_SET_MDWE";
    ASSERT_TRUE(npkrt::code_test_use_backend(GetParam())) << GetParam() << " backend unavailable";
    ASSERT_STREQ(npk_jit_backend(), GetParam());
    i32_ = npk_jit_sig_intern("i32()");
    add_ = npk_jit_sig_intern("i32(i32,i32)");
    ASSERT_NE(i32_, 0u);
    ASSERT_NE(add_, 0u);
  }
  bool Memfd() const { return strcmp(GetParam(), "memfd") == 0; }
  npk_jit_sig i32_ = 0, add_ = 0;
};

INSTANTIATE_TEST_SUITE_P(Backends, CodeBackend, testing::Values("memfd", "mprotect"),
                         [](const testing::TestParamInfo<const char *> &info) { return std::string(info.param); });

// ---- signatures -------------------------------------------------------------------

TEST(JitSig, InternsCanonicalStringsToStableTags) {
  npk_jit_sig a = npk_jit_sig_intern("i32(i32,i32)");
  EXPECT_NE(a, 0u);
  EXPECT_EQ(npk_jit_sig_intern("i32(i32,i32)"), a);
  EXPECT_NE(npk_jit_sig_intern("i64(i64,i64)"), a);
  EXPECT_STREQ(npk_jit_sig_name(a), "i32(i32,i32)");
  EXPECT_NE(npk_jit_sig_intern("void()"), 0u);
  EXPECT_NE(npk_jit_sig_intern("f64(ptr,u8,f32)"), 0u);
  EXPECT_EQ(npk_jit_sig_name(0), nullptr);
  EXPECT_EQ(npk_jit_sig_name(100000), nullptr);
}

TEST(JitSig, RefusesNonCanonicalStrings) {
  for (const char *bad : {"", "i32", "i32(i32, i32)", "int(i32)", "i32(void)", "i32(i32,)", "i32()x", "(i32)"}) {
    npk_jit_sig sig = 1;
    std::string err = StderrOf([&] { sig = npk_jit_sig_intern(bad); });
    EXPECT_EQ(sig, 0u) << bad;
    EXPECT_NE(err.find("[WildX] panic: jit_sig("), std::string::npos) << bad;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << bad;
  }
  std::string err = StderrOf([] { EXPECT_EQ(npk_jit_sig_intern(nullptr), 0u); });
  EXPECT_EQ(err, "[WildX] panic: jit_sig((nil)) rejected: null signature\n");
}

// ---- modules ----------------------------------------------------------------------

TEST_P(CodeBackend, ModuleOf64FunctionsIsCallableAfterOneSeal) {
  npk_jit_module *m = npk_jit_module_new();
  ASSERT_NE(m, nullptr);
  std::vector<npk_jit_fn> fns;
  for (int i = 0; i < 64; ++i) {
    std::vector<unsigned char> code = ReturnConstant(1000 + i);
    npk_jit_fn f = npk_jit_module_add(m, code.data(), code.size(), i32_, nullptr);
    ASSERT_NE(f, 0u);
    fns.push_back(f);
  }
  uint64_t before = npkrt::code_test_page_table_changes();
  ASSERT_EQ(npk_jit_module_seal(m), 0);
  uint64_t changes = npkrt::code_test_page_table_changes() - before;
  // One mprotect for the whole module (plus, at most, opening a fresh chunk).
  if (Memfd())
    EXPECT_EQ(changes, 0u);
  else
    EXPECT_LE(changes, 2u);
  for (int i = 0; i < 64; ++i) {
    void *entry = npk_jit_fn_entry(fns[i], i32_);
    ASSERT_NE(entry, nullptr);
    EXPECT_EQ(CallNoArgs(entry), 1000 + i);
    EXPECT_TRUE(npk_test::IsExecutable(npk_test::PermissionsOf(entry)));
    EXPECT_FALSE(npk_test::IsWritable(npk_test::PermissionsOf(entry)));
  }
  EXPECT_EQ(npk_jit_module_free(m), 0);
  for (npk_jit_fn f : fns) EXPECT_EQ(npk_jit_fn_lookup(f, i32_), nullptr);
}

TEST_P(CodeBackend, FunctionsAreRefusedBeforeTheSeal) {
  npk_jit_module *m = npk_jit_module_new();
  npk_jit_fn f = npk_jit_module_add(m, kAdd, sizeof kAdd, add_, "early");
  ASSERT_NE(f, 0u);
  EXPECT_EQ(npk_jit_fn_lookup(f, add_), nullptr);
  int32_t rc = 0;
  std::string err = StderrOf([&] { rc = npk_jit_fn_call_i32_i32(f, add_, 1, 2); });
  EXPECT_EQ(rc, -1);
  EXPECT_EQ(err, PanicLine("jit_fn_call_i32_i32", f, "function is not sealed (its module was not sealed yet)"));
  EXPECT_EQ(StderrOf([&] { EXPECT_EQ(npk_jit_refuse(f, add_, "x"), NPK_ERR_JIT_NOT_SEALED); }).empty(), false);
  ASSERT_EQ(npk_jit_module_seal(m), 0);
  EXPECT_EQ(npk_jit_fn_call_i32_i32(f, add_, 40, 2), 42);
  EXPECT_STREQ(npk_jit_fn_name(f), "early");
  EXPECT_EQ(npk_jit_module_free(m), 0);
}

TEST_P(CodeBackend, SealRefusesEmptySealedAndNullModules) {
  npk_jit_module *m = npk_jit_module_new();
  std::string err = StderrOf([&] { EXPECT_EQ(npk_jit_module_seal(m), -1); });
  EXPECT_NE(err.find("rejected: module has no functions"), std::string::npos);
  ASSERT_NE(npk_jit_module_add(m, kAdd, sizeof kAdd, add_, nullptr), 0u);
  ASSERT_EQ(npk_jit_module_seal(m), 0);
  err = StderrOf([&] { EXPECT_EQ(npk_jit_module_seal(m), -1); });
  EXPECT_NE(err.find("rejected: module is already sealed"), std::string::npos);
  err = StderrOf([&] { EXPECT_EQ(npk_jit_module_add(m, kAdd, sizeof kAdd, add_, nullptr), 0u); });
  EXPECT_NE(err.find("rejected: module is already sealed"), std::string::npos);
  EXPECT_EQ(npk_jit_module_free(m), 0);
  err = StderrOf([&] { EXPECT_EQ(npk_jit_module_seal(nullptr), -1); });
  EXPECT_EQ(err, "[WildX] panic: jit_module_seal((nil)) rejected: null module\n");
  err = StderrOf([&] { EXPECT_EQ(npk_jit_module_free(nullptr), -1); });
  EXPECT_EQ(err, "[WildX] panic: jit_module_free((nil)) rejected: null module\n");
}

// A freed module pointer and one that never was a module are refused with
// one panic line each, never read: free, add and seal after a free, a second
// free, and a pointer into other memory.
TEST_P(CodeBackend, FreedAndForeignModulesAreRefused) {
  npk_jit_module *m = npk_jit_module_new();
  ASSERT_NE(npk_jit_module_add(m, kAdd, sizeof kAdd, add_, nullptr), 0u);
  ASSERT_EQ(npk_jit_module_seal(m), 0);
  ASSERT_EQ(npk_jit_module_free(m), 0);
  std::string err = StderrOf([&] { EXPECT_EQ(npk_jit_module_free(m), -1); });
  EXPECT_NE(err.find("jit_module_free("), std::string::npos) << err;
  EXPECT_NE(err.find("rejected: module was already freed\n"), std::string::npos) << err;
  err = StderrOf([&] { EXPECT_EQ(npk_jit_module_add(m, kAdd, sizeof kAdd, add_, nullptr), 0u); });
  EXPECT_NE(err.find("rejected: module was already freed\n"), std::string::npos) << err;
  err = StderrOf([&] { EXPECT_EQ(npk_jit_module_seal(m), -1); });
  EXPECT_NE(err.find("rejected: module was already freed\n"), std::string::npos) << err;
  // A new module may not take the freed one's place under its pointer.
  npk_jit_module *next = npk_jit_module_new();
  EXPECT_NE(next, m);
  EXPECT_EQ(npk_jit_module_free(next), 0);
  alignas(16) unsigned char other[256] = {};
  auto *foreign = reinterpret_cast<npk_jit_module *>(other);
  err = StderrOf([&] { EXPECT_EQ(npk_jit_module_free(foreign), -1); });
  EXPECT_NE(err.find("rejected: not a module from npk_jit_module_new\n"), std::string::npos) << err;
  err = StderrOf([&] { EXPECT_EQ(npk_jit_module_add(foreign, kAdd, sizeof kAdd, add_, nullptr), 0u); });
  EXPECT_NE(err.find("rejected: not a module from npk_jit_module_new\n"), std::string::npos) << err;
  err = StderrOf([&] { EXPECT_EQ(npk_jit_module_seal(foreign), -1); });
  EXPECT_NE(err.find("rejected: not a module from npk_jit_module_new\n"), std::string::npos) << err;
}

// Jit.module_free is wildx_free of the module: it frees the module and its
// functions once, and refuses the pointer from then on like module_free.
TEST_P(CodeBackend, WildxFreeReleasesAModule) {
  npk_jit_module *m = npk_jit_module_new();
  npk_jit_fn f = npk_jit_module_add(m, kAdd, sizeof kAdd, add_, nullptr);
  ASSERT_NE(f, 0u);
  ASSERT_EQ(npk_jit_module_seal(m), 0);
  ASSERT_NE(npk_jit_fn_entry(f, add_), nullptr);
  ASSERT_EQ(npk_wildx_free(m), 0);
  std::string err = StderrOf([&] { EXPECT_EQ(npk_jit_fn_entry(f, add_), nullptr); });
  EXPECT_NE(err.find("rejected:"), std::string::npos) << err;
  err = StderrOf([&] { EXPECT_EQ(npk_wildx_free(m), -1); });
  EXPECT_NE(err.find("jit_module_free("), std::string::npos) << err;
  EXPECT_NE(err.find("rejected: module was already freed\n"), std::string::npos) << err;
  // A page is still a page, and a foreign pointer still foreign.
  void *page = npk_wildx_alloc(4096);
  ASSERT_NE(page, nullptr);
  EXPECT_EQ(npk_wildx_free(page), 0);
  alignas(16) unsigned char other[256] = {};
  err = StderrOf([&] { EXPECT_EQ(npk_wildx_free(other), -1); });
  EXPECT_NE(err.find("wildx_free("), std::string::npos) << err;
}

TEST_P(CodeBackend, AddRefusesBadArguments) {
  npk_jit_module *m = npk_jit_module_new();
  auto refused = [&](const void *code, size_t len, npk_jit_sig sig, const char *reason) {
    npk_jit_fn f = 1;
    std::string err = StderrOf([&] { f = npk_jit_module_add(m, code, len, sig, nullptr); });
    EXPECT_EQ(f, 0u) << reason;
    EXPECT_NE(err.find(reason), std::string::npos) << err;
  };
  refused(nullptr, 5, add_, "null code");
  refused(kAdd, 0, add_, "code length out of range");
  refused(kAdd, (size_t{4} << 20) + 1, add_, "code length out of range");
  refused(kAdd, sizeof kAdd, 0, "unknown signature tag");
  refused(kAdd, sizeof kAdd, 99999, "unknown signature tag");
  std::string err = StderrOf([&] { EXPECT_EQ(npk_jit_module_add(nullptr, kAdd, 5, add_, nullptr), 0u); });
  EXPECT_EQ(err, "[WildX] panic: jit_module_add((nil)) rejected: null module\n");
  EXPECT_EQ(npk_jit_module_free(m), 0);  // an unsealed, empty module
}

TEST_P(CodeBackend, CheckedCallRefusesAnotherSignature) {
  npk_jit_module *m = npk_jit_module_new();
  npk_jit_fn f = npk_jit_module_add(m, kAdd, sizeof kAdd, add_, nullptr);
  ASSERT_EQ(npk_jit_module_seal(m), 0);
  EXPECT_EQ(npk_jit_fn_lookup(f, i32_), nullptr);
  int32_t rc = 0;
  std::string err = StderrOf([&] { rc = npk_jit_fn_call_i32_i32(f, i32_, 1, 2); });
  EXPECT_EQ(rc, -1);
  EXPECT_EQ(err, PanicLine("jit_fn_call_i32_i32", f, "signature mismatch: called as i32(), function is i32(i32,i32)"));
  EXPECT_EQ(StderrOf([&] { EXPECT_EQ(npk_jit_refuse(f, i32_, "x"), NPK_ERR_JIT_SIGNATURE); }).empty(), false);
  EXPECT_EQ(npk_jit_fn_call_i32_i32(f, add_, 2, 3), 5);
  EXPECT_EQ(npk_jit_module_free(m), 0);
}

TEST_P(CodeBackend, CheckedCallRefusesUnknownHandles) {
  for (npk_jit_fn bogus : {npk_jit_fn{0}, npk_jit_fn{1}, npk_jit_fn{0x7fffffff00000001}, ~npk_jit_fn{0} >> 1}) {
    EXPECT_EQ(npk_jit_fn_lookup(bogus, add_), nullptr);
    std::string err = StderrOf([&] { EXPECT_EQ(npk_jit_refuse(bogus, add_, "op"), NPK_ERR_JIT_NOT_LIVE); });
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    err = StderrOf([&] { EXPECT_EQ(npk_jit_fn_free(bogus), -1); });
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  }
}

TEST_P(CodeBackend, FreeingOneFunctionTrapsItAndKeepsTheOthers) {
  npk_jit_module *m = npk_jit_module_new();
  std::vector<unsigned char> one = ReturnConstant(1), two = ReturnConstant(2);
  npk_jit_fn f1 = npk_jit_module_add(m, one.data(), one.size(), i32_, nullptr);
  npk_jit_fn f2 = npk_jit_module_add(m, two.data(), two.size(), i32_, nullptr);
  ASSERT_EQ(npk_jit_module_seal(m), 0);
  void *e1 = npk_jit_fn_entry(f1, i32_);
  ASSERT_EQ(npk_jit_fn_free(f1), 0);
  EXPECT_TRUE(npk_test::AllBytesAre(e1, one.size(), 0xcc));
  EXPECT_EQ(CallNoArgs(npk_jit_fn_entry(f2, i32_)), 2);
  std::string err = StderrOf([&] { EXPECT_EQ(npk_jit_fn_free(f1), -1); });
  EXPECT_EQ(err, PanicLine("jit_fn_free", f1, "function was already freed"));
  err = StderrOf([&] { EXPECT_EQ(npk_jit_fn_entry(f1, i32_), nullptr); });
  EXPECT_EQ(err, PanicLine("jit_fn_entry", f1, "function was already freed"));
  EXPECT_EQ(npk_jit_module_free(m), 0);  // frees f2, skips f1
  EXPECT_EQ(npk_jit_fn_lookup(f2, i32_), nullptr);
}

TEST_P(CodeBackend, FreedEntryCalledThroughARawPointerTraps) {
  npk_jit_module *m = npk_jit_module_new();
  npk_jit_fn f = npk_jit_module_add(m, kAdd, sizeof kAdd, add_, nullptr);
  npk_jit_fn keep = npk_jit_module_add(m, kAdd, sizeof kAdd, add_, nullptr);
  ASSERT_EQ(npk_jit_module_seal(m), 0);
  void *entry = npk_jit_fn_entry(f, add_);
  ASSERT_EQ(npk_jit_fn_free(f), 0);
  EXPECT_EXIT(
      {
        signal(SIGTRAP, SIG_DFL);
        CallAdd(entry, 1, 2);
      },
      testing::KilledBySignal(SIGTRAP), "");
  EXPECT_EQ(npk_jit_module_free(m), 0);
  (void)keep;
}

TEST_P(CodeBackend, StandaloneFunctionFreedByWildxFreeTraps) {
  int32_t err = -1;
  void *p = npk_jit_compile_add_i32(&err);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(err, 0);
  EXPECT_TRUE(npkrt::is_handle_pointer(p));
  void *entry = nullptr;
  ASSERT_EQ(npkrt::code_check_pointer(p, npkrt::code_sig_i32_i32(), "t", &entry), 0);
  int32_t out = 0;
  EXPECT_EQ(npk_jit_try_call_i32_i32(p, 20, 22, &out), 0);
  EXPECT_EQ(out, 42);
  EXPECT_EQ(npk_jit_call_i32_i32(p, 1, 2), 3);
  std::string name = npk_jit_fn_name(npkrt::handle_of_pointer(p));
  EXPECT_EQ(name.rfind("compile_add_i32#", 0), 0u) << name;
  EXPECT_EQ(npk_wildx_free(p), 0);
  std::string line = StderrOf([&] { EXPECT_EQ(npk_jit_try_call_i32_i32(p, 1, 2, &out), NPK_ERR_JIT_NOT_LIVE); });
  EXPECT_EQ(line, PanicLine("jit_try_call_i32_i32", npkrt::handle_of_pointer(p), "function was already freed"));
  line = StderrOf([&] { EXPECT_EQ(npk_wildx_free(p), -1); });
  EXPECT_EQ(line, PanicLine("wildx_free", npkrt::handle_of_pointer(p), "function was already freed"));
  if (Memfd()) {
    // The memory stays mapped r-x and holds trap bytes until it is reused.
    EXPECT_TRUE(npk_test::AllBytesAre(entry, sizeof kAdd, 0xcc));
    EXPECT_EXIT(
        {
          signal(SIGTRAP, SIG_DFL);
          CallAdd(entry, 1, 2);
        },
        testing::KilledBySignal(SIGTRAP), "");
  }
}

TEST_P(CodeBackend, WildxEntryPointsRefuseFunctionHandles) {
  void *p = npk_jit_compile_add_i32(nullptr);
  ASSERT_NE(p, nullptr);
  std::string err = StderrOf([&] { EXPECT_EQ(npk_wildx_seal(p), -1); });
  EXPECT_NE(err.find("rejected: a JIT function is sealed when it is installed"), std::string::npos);
  err = StderrOf([&] { EXPECT_EQ(npk_jit_install_add_i32(p), -1); });
  EXPECT_NE(err.find("rejected: a JIT function is sealed when it is installed"), std::string::npos);
  EXPECT_EQ(npk_wildx_free(p), 0);
}

// Every stale handle is refused, also when its slot and its code memory
// were reused at once by the next function.
TEST_P(CodeBackend, StaleHandleAfterReuseIsRefusedEveryTime) {
  constexpr int kTrials = 10000;
  npk_jit_sig sig = npkrt::code_sig_i32_i32();
  int refused = 0, same_slot = 0, same_entry = 0;
  void *old = npk_jit_compile_add_i32(nullptr);
  ASSERT_NE(old, nullptr);
  for (int i = 0; i < kTrials; ++i) {
    npk_jit_fn stale = npkrt::handle_of_pointer(old);
    void *stale_entry = npk_jit_fn_lookup(stale, sig);
    ASSERT_EQ(npk_wildx_free(old), 0);
    void *fresh = npk_jit_compile_add_i32(nullptr);
    ASSERT_NE(fresh, nullptr);
    npk_jit_fn now = npkrt::handle_of_pointer(fresh);
    same_slot += static_cast<uint32_t>(now) == static_cast<uint32_t>(stale);
    same_entry += npk_jit_fn_lookup(now, sig) == stale_entry;
    if (npk_jit_fn_lookup(stale, sig) == nullptr) ++refused;
    old = fresh;
  }
  EXPECT_EQ(refused, kTrials);
  // The trials exercised reuse: the slot and the code came back.
  EXPECT_GT(same_slot, kTrials / 2);
  EXPECT_GT(same_entry, kTrials / 2);
  npk_jit_fn stale = npkrt::handle_of_pointer(old);
  ASSERT_EQ(npk_wildx_free(old), 0);
  void *fresh = npk_jit_compile_add_i32(nullptr);
  std::string err = StderrOf([&] { EXPECT_EQ(npk_jit_refuse(stale, sig, "jit_call"), NPK_ERR_JIT_NOT_LIVE); });
  if (static_cast<uint32_t>(npkrt::handle_of_pointer(fresh)) == static_cast<uint32_t>(stale)) {
    EXPECT_EQ(err, PanicLine("jit_call", stale, "function was already freed (its slot now holds another function)"));
  }
  EXPECT_EQ(npk_wildx_free(fresh), 0);
}

// A thread remembers the last module it found; that must not outlive the
// module's return to malloc (after the quarantine of 256 freed modules).
TEST_P(CodeBackend, ModulePointerIsRefusedAfterItLeavesTheQuarantine) {
  npk_jit_module *m = npk_jit_module_new();
  ASSERT_NE(npk_jit_module_add(m, kAdd, sizeof kAdd, add_, nullptr), 0u);  // this thread now knows m
  ASSERT_EQ(npk_jit_module_free(m), 0);
  std::vector<npk_jit_module *> later;
  for (int i = 0; i < 300; ++i) later.push_back(npk_jit_module_new());
  for (npk_jit_module *other : later) ASSERT_EQ(npk_jit_module_free(other), 0);
  // m left the set; no live module has its address (all later ones are freed).
  std::string err = StderrOf([&] { EXPECT_EQ(npk_jit_module_add(m, kAdd, sizeof kAdd, add_, nullptr), 0u); });
  EXPECT_NE(err.find("rejected: not a module from npk_jit_module_new\n"), std::string::npos) << err;
  err = StderrOf([&] { EXPECT_EQ(npk_jit_module_free(m), -1); });
  EXPECT_NE(err.find("rejected: not a module from npk_jit_module_new\n"), std::string::npos) << err;
}

// npk_jit_fn_free of a module's functions racing npk_jit_module_free of the
// module: each handle is retired once (its slot is never handed out twice)
// and every function freed either way ends refused.
TEST_P(CodeBackend, RacingFreesOfAModuleAndItsFunctionsRetireEachHandleOnce) {
  constexpr int kRounds = 200, kFunctions = 32;
  int refused_total = 0;
  std::string err = StderrOf([&] {
    for (int round = 0; round < kRounds; ++round) {
      npk_jit_module *m = npk_jit_module_new();
      std::vector<npk_jit_fn> fns;
      for (int i = 0; i < kFunctions; ++i) fns.push_back(npk_jit_module_add(m, kAdd, sizeof kAdd, add_, nullptr));
      ASSERT_EQ(npk_jit_module_seal(m), 0);
      std::atomic<int> go{0};
      int freed_one = 0, refused = 0;
      std::thread singles([&] {
        while (go.load() == 0) {
        }
        for (npk_jit_fn f : fns) (npk_jit_fn_free(f) == 0 ? freed_one : refused)++;
      });
      std::thread whole([&] {
        while (go.load() == 0) {
        }
        EXPECT_EQ(npk_jit_module_free(m), 0);
      });
      go.store(1);
      singles.join();
      whole.join();
      EXPECT_EQ(freed_one + refused, kFunctions);
      refused_total += refused;
      for (npk_jit_fn f : fns) EXPECT_EQ(npk_jit_fn_lookup(f, add_), nullptr);
    }
  });
  EXPECT_EQ(static_cast<int>(std::count(err.begin(), err.end(), '\n')), refused_total);
  // A slot given back twice would now be handed out twice.
  npk_jit_module *big = npk_jit_module_new();
  std::set<uint32_t> slots;
  for (int i = 0; i < kRounds * kFunctions / 4; ++i) {
    npk_jit_fn f = npk_jit_module_add(big, kAdd, sizeof kAdd, add_, nullptr);
    ASSERT_NE(f, 0u);
    EXPECT_TRUE(slots.insert(static_cast<uint32_t>(f)).second) << "slot " << static_cast<uint32_t>(f) << " twice";
  }
  ASSERT_EQ(npk_jit_module_seal(big), 0);
  EXPECT_EQ(npk_jit_module_free(big), 0);
}

// Automatic names are numbered without a shared counter per function: the
// numbers are unique in the process and in order within a thread.
TEST_P(CodeBackend, AutomaticNamesAreUniqueAcrossThreadsAndInOrderWithinOne) {
  constexpr int kThreads = 3, kEach = 150;
  std::vector<std::vector<long>> numbers(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        void *p = npk_jit_compile_add_i32(nullptr);
        ASSERT_NE(p, nullptr);
        std::string name = npk_jit_fn_name(npkrt::handle_of_pointer(p));
        ASSERT_EQ(name.rfind("compile_add_i32#", 0), 0u) << name;
        numbers[t].push_back(std::stol(name.substr(strlen("compile_add_i32#"))));
        ASSERT_EQ(npk_wildx_free(p), 0);
      }
    });
  for (std::thread &t : threads) t.join();
  std::set<long> all;
  for (const std::vector<long> &mine : numbers) {
    EXPECT_TRUE(std::is_sorted(mine.begin(), mine.end()));
    for (long n : mine) EXPECT_TRUE(all.insert(n).second) << "compile_add_i32#" << n << " twice";
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kEach));
}

TEST_P(CodeBackend, SteadyStateLifecyclesChangeNoPageTablesOnMemfd) {
  for (int i = 0; i < 100; ++i) ASSERT_EQ(npk_wildx_free(npk_jit_compile_add_i32(nullptr)), 0);
  uint64_t before = npkrt::code_test_page_table_changes();
  for (int i = 0; i < 1000; ++i) {
    void *p = npk_jit_compile_add_i32(nullptr);
    ASSERT_EQ(npk_jit_call_i32_i32(p, i, 1), i + 1);
    ASSERT_EQ(npk_wildx_free(p), 0);
  }
  uint64_t changes = npkrt::code_test_page_table_changes() - before;
  EXPECT_EQ(changes, Memfd() ? 0u : 2000u);
}

TEST_P(CodeBackend, NoMappingOfCodeIsWritable) {
  void *p = npk_jit_compile_add_i32(nullptr);
  void *entry = nullptr;
  ASSERT_EQ(npkrt::code_check_pointer(p, npkrt::code_sig_i32_i32(), "t", &entry), 0);
  std::string perms = npk_test::PermissionsOf(entry);
  EXPECT_EQ(perms, Memfd() ? "r-xs" : "r-xp");
  if (Memfd()) {
    // The whole region: read-only descriptor and mseal keep it r-x.
    char *base = nullptr;
    size_t bytes = 0;
    npkrt::code_test_region(&base, &bytes);
    ASSERT_NE(base, nullptr);
    EXPECT_EQ(mprotect(base, bytes, PROT_READ | PROT_WRITE), -1);
    EXPECT_EQ(mprotect(base, bytes, PROT_READ | PROT_WRITE | PROT_EXEC), -1);
    if (npkrt::code_test_region_sealed()) {
      EXPECT_EQ(munmap(base, bytes), -1);
      EXPECT_EQ(errno, EPERM);
    }
    EXPECT_EQ(npk_test::PermissionsOf(entry), "r-xs");
  }
  EXPECT_EQ(npk_wildx_free(p), 0);
}

// After fork the child cannot change the parent's code: it has no descriptor
// of the parent's memfd, cannot make the mapping writable, and what it
// frees or installs lands elsewhere.
TEST_P(CodeBackend, ForkChildCannotModifyTheParentsCode) {
  npk_jit_module *m = npk_jit_module_new();
  npk_jit_fn f = npk_jit_module_add(m, kAdd, sizeof kAdd, add_, "parent_add");
  ASSERT_EQ(npk_jit_module_seal(m), 0);
  void *entry = npk_jit_fn_entry(f, add_);
  unsigned char before[16];
  memcpy(before, entry, sizeof before);
  int parent_fd = npkrt::code_test_memfd();
  fflush(nullptr);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int status = 0;
    if (Memfd()) {
      if (fcntl(parent_fd, F_GETFD) != -1) status |= 1;  // descriptor gone
      if (npk_jit_fn_lookup(f, add_) != nullptr) status |= 2;  // inherited: refused
    } else if (npk_jit_fn_lookup(f, add_) == nullptr) {
      status |= 2;  // a private copy: callable
    }
    char *page = reinterpret_cast<char *>(reinterpret_cast<uintptr_t>(entry) & ~uintptr_t{4095});
    if (Memfd() && mprotect(page, 4096, PROT_READ | PROT_WRITE) == 0) status |= 4;
    if (npk_jit_fn_free(f) != 0) status |= 8;
    for (int i = 0; i < 50; ++i) {
      void *p = npk_jit_compile_add_i32(nullptr);
      if (p == nullptr || npk_jit_call_i32_i32(p, i, 1) != i + 1 || npk_wildx_free(p) != 0) status |= 16;
    }
    if (Memfd() && npkrt::code_test_memfd() == parent_fd && npkrt::code_test_memfd() >= 0 &&
        fcntl(parent_fd, F_GETFD) == -1)
      status |= 32;
    _exit(status);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(memcmp(before, entry, sizeof before), 0);
  EXPECT_EQ(npk_jit_fn_call_i32_i32(f, add_, 20, 22), 42);
  EXPECT_EQ(npk_jit_module_free(m), 0);
}

TEST(CodeBackendSelection, DefaultIsMemfdWhenTheKernelAllowsIt) {
  const char *env = getenv("NPK_JIT_BACKEND");
  if (env != nullptr && env[0] != '\0') GTEST_SKIP() << "NPK_JIT_BACKEND=" << env << " chooses the backend";
  // The parametrised tests switch backends; a fresh process shows the default.
  fflush(nullptr);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    setenv("NPK_TEST_REPORT_BACKEND", "1", 1);
    char *argv[] = {const_cast<char *>("/proc/self/exe"),
                    const_cast<char *>("--gtest_filter=CodeBackendSelection.ReportBackend"), nullptr};
    execv("/proc/self/exe", argv);
    _exit(99);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(CodeBackendSelection, ReportBackend) {
  // Run alone by the test above: nothing switched the backend yet.
  if (getenv("NPK_TEST_REPORT_BACKEND") == nullptr) GTEST_SKIP() << "run by DefaultIsMemfdWhenTheKernelAllowsIt";
  const char *env = getenv("NPK_JIT_BACKEND");
  std::string expected = env != nullptr && strcmp(env, "mprotect") == 0 ? "mprotect" : "memfd";
  EXPECT_EQ(npk_jit_backend(), expected);
}

}  // namespace
