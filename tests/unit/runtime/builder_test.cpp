// The function builder (npk_jit_begin ... npk_jit_end): functions it builds
// run and compute what C computes, on both code backends; every misuse is
// refused with its code and one panic line, and the process survives.
#include <npk/runtime.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "code_internal.h"
#include "runtime_test_support.h"

namespace {

using npk_test::StderrOf;

// Calls into generated code (not instrumented by -fsanitize=function).
template <class R, class... A>
NPK_CALLS_JIT_CODE R Call(void *entry, A... args) {
  R (*fn)(A...);
  memcpy(&fn, &entry, sizeof fn);
  return fn(args...);
}

class Build : public testing::TestWithParam<const char *> {
 protected:
  void SetUp() override {
    if (strcmp(GetParam(), "mprotect") == 0 && npk_test::MdweOn())
      GTEST_SKIP() << "the mprotect backend cannot make pages executable under PR_SET_MDWE";
    ASSERT_TRUE(npkrt::code_test_use_backend(GetParam())) << GetParam();
    m_ = npk_jit_module_new();
    ASSERT_NE(m_, nullptr);
  }
  void TearDown() override {
    if (m_ != nullptr) {
      EXPECT_EQ(npk_jit_module_free(m_), 0);
    }
  }

  // Ends the open function; expects success.
  npk_jit_fn End() {
    int32_t err = -1;
    npk_jit_fn f = npk_jit_end(m_, &err);
    EXPECT_NE(f, 0u);
    EXPECT_EQ(err, 0);
    return f;
  }
  void Seal() { ASSERT_EQ(npk_jit_module_seal(m_), 0); }
  void *Entry(npk_jit_fn f, const char *sig) {
    void *entry = npk_jit_fn_entry(f, npk_jit_sig_intern(sig));
    EXPECT_NE(entry, nullptr);
    return entry;
  }
  // Ends, seals the module and returns the entry.
  void *Finish(const char *sig) {
    npk_jit_fn f = End();
    Seal();
    return Entry(f, sig);
  }
  int32_t P(int i) { return npk_jit_param(m_, i); }
  int32_t Op(int op, int32_t a, int32_t b) {
    int32_t v = npk_jit_op(m_, op, a, b);
    EXPECT_GT(v, 0) << "op " << op;
    return v;
  }
  npk_jit_module *m_ = nullptr;
};


INSTANTIATE_TEST_SUITE_P(Backends, Build, testing::Values("memfd", "mprotect"),
                         [](const testing::TestParamInfo<const char *> &info) { return std::string(info.param); });

const int64_t kI64Edges[] = {INT64_MIN, INT64_MIN + 1, INT32_MIN - 1ll, INT32_MIN, -65536, -100, -2, -1, 0, 1, 2, 3,
                             31, 32, 33, 63, 64, 65, 100, 0xffff, INT32_MAX, INT32_MAX + 1ll, INT64_MAX - 1, INT64_MAX};
const int32_t kI32Edges[] = {INT32_MIN, INT32_MIN + 1, -65536, -100, -2, -1, 0, 1, 2, 3, 31, 32, 33, 63, 64, 100, 0xffff, INT32_MAX - 1, INT32_MAX};

// ---- functions that run -------------------------------------------------------------

TEST_P(Build, MulAddOfTwoI64) {
  ASSERT_EQ(npk_jit_begin(m_, "i64(i64,i64)", "mul_add"), 0);
  int32_t prod = Op(NPK_JIT_OP_mul, P(0), P(1));
  int32_t sum = Op(NPK_JIT_OP_add, prod, npk_jit_const_i64(m_, 3));
  ASSERT_EQ(npk_jit_ret(m_, sum), 0);
  void *f = Finish("i64(i64,i64)");
  for (int64_t a : kI64Edges)
    for (int64_t b : kI64Edges) {
      int64_t want = static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b) + 3);
      ASSERT_EQ((Call<int64_t>(f, a, b)), want) << a << " " << b;
    }
}

TEST_P(Build, SumOneToNWithALoop) {
  ASSERT_EQ(npk_jit_begin(m_, "i64(i64)", "sum_to"), 0);
  int32_t n = P(0);
  int32_t sum = npk_jit_var(m_, NPK_JIT_TYPE_i64);
  int32_t i = npk_jit_var(m_, NPK_JIT_TYPE_i64);
  int32_t one = npk_jit_const_i64(m_, 1);
  ASSERT_EQ(npk_jit_set(m_, i, one), 0);
  int32_t top = npk_jit_label(m_), done = npk_jit_label(m_);
  ASSERT_GT(top, 0);
  ASSERT_EQ(npk_jit_place(m_, top), 0);
  ASSERT_EQ(npk_jit_branch(m_, Op(NPK_JIT_OP_sgt, i, n), done), 0);
  ASSERT_EQ(npk_jit_set(m_, sum, Op(NPK_JIT_OP_add, sum, i)), 0);
  ASSERT_EQ(npk_jit_set(m_, i, Op(NPK_JIT_OP_add, i, one)), 0);
  ASSERT_EQ(npk_jit_jump(m_, top), 0);
  ASSERT_EQ(npk_jit_place(m_, done), 0);
  ASSERT_EQ(npk_jit_ret(m_, sum), 0);
  void *f = Finish("i64(i64)");
  for (int64_t k : {-5ll, 0ll, 1ll, 2ll, 10ll, 1000ll, 100000ll})
    EXPECT_EQ(Call<int64_t>(f, k), k > 0 ? k * (k + 1) / 2 : 0) << k;
}

TEST_P(Build, SumOverAnI64ArrayThroughAPointer) {
  ASSERT_EQ(npk_jit_begin(m_, "i64(ptr,i64)", "sum_array"), 0);
  int32_t p = P(0), n = P(1);
  int32_t sum = npk_jit_var(m_, NPK_JIT_TYPE_i64);
  int32_t i = npk_jit_var(m_, NPK_JIT_TYPE_i64);
  int32_t eight = npk_jit_const_i64(m_, 8), one = npk_jit_const_i64(m_, 1);
  int32_t top = npk_jit_label(m_), done = npk_jit_label(m_);
  npk_jit_place(m_, top);
  npk_jit_branch(m_, Op(NPK_JIT_OP_sge, i, n), done);
  int32_t at = Op(NPK_JIT_OP_add, p, Op(NPK_JIT_OP_mul, i, eight));
  npk_jit_set(m_, sum, Op(NPK_JIT_OP_add, sum, npk_jit_load(m_, NPK_JIT_MEM_i64, at, 0)));
  npk_jit_set(m_, i, Op(NPK_JIT_OP_add, i, one));
  npk_jit_jump(m_, top);
  npk_jit_place(m_, done);
  npk_jit_ret(m_, sum);
  void *f = Finish("i64(ptr,i64)");
  std::vector<int64_t> data(1000);
  int64_t want = 0;
  for (size_t k = 0; k < data.size(); ++k) want += data[k] = static_cast<int64_t>(k * k) - 5000;
  EXPECT_EQ((Call<int64_t>(f, data.data(), int64_t{1000})), want);
  EXPECT_EQ((Call<int64_t>(f, data.data(), int64_t{0})), 0);
  EXPECT_EQ((Call<int64_t>(f, data.data() + 1, int64_t{2})), data[1] + data[2]);
}

// Every memory kind: a store of v and a load back, at an offset, with the
// extension each kind defines.
TEST_P(Build, LoadsAndStoresOfEveryMemoryKind) {
  struct Kind {
    int mem;
    const char *sig;  // ret(ptr, value)
  } kinds[] = {{NPK_JIT_MEM_i8, "i32(ptr,i32)"},  {NPK_JIT_MEM_i16, "i32(ptr,i32)"}, {NPK_JIT_MEM_i32, "i32(ptr,i32)"},
               {NPK_JIT_MEM_u8, "i32(ptr,i32)"},  {NPK_JIT_MEM_u16, "i32(ptr,i32)"}, {NPK_JIT_MEM_u32, "i32(ptr,i32)"},
               {NPK_JIT_MEM_i64, "i64(ptr,i64)"}, {NPK_JIT_MEM_f64, "f64(ptr,f64)"}, {NPK_JIT_MEM_ptr, "ptr(ptr,ptr)"}};
  std::vector<npk_jit_fn> fns;
  for (const Kind &k : kinds) {
    ASSERT_EQ(npk_jit_begin(m_, k.sig, nullptr), 0);
    ASSERT_EQ(npk_jit_store(m_, k.mem, P(0), 24, P(1)), 0);
    int32_t back = npk_jit_load(m_, k.mem, P(0), 24);
    ASSERT_GT(back, 0);
    ASSERT_EQ(npk_jit_ret(m_, back), 0);
    fns.push_back(End());
  }
  Seal();
  alignas(16) unsigned char buffer[64];
  auto run32 = [&](size_t i, int32_t v) {
    memset(buffer, 0xaa, sizeof buffer);
    return Call<int32_t>(Entry(fns[i], kinds[i].sig), static_cast<void *>(buffer + 8), v);
  };
  EXPECT_EQ(run32(0, 0x1ff), -1);  // i8 keeps 0xff, sign-extends
  EXPECT_EQ(buffer[32], 0xff);
  EXPECT_EQ(buffer[33], 0xaa);  // one byte written
  EXPECT_EQ(run32(0, 0x7f), 0x7f);
  EXPECT_EQ(run32(1, 0x18000), -32768);
  EXPECT_EQ(buffer[34], 0xaa);
  EXPECT_EQ(run32(2, INT32_MIN), INT32_MIN);
  EXPECT_EQ(buffer[36], 0xaa);
  EXPECT_EQ(run32(3, -1), 255);
  EXPECT_EQ(run32(4, -1), 65535);
  EXPECT_EQ(run32(5, -7), -7);  // u32 fills an i32: the same bits
  memset(buffer, 0, sizeof buffer);
  EXPECT_EQ((Call<int64_t>(Entry(fns[6], kinds[6].sig), static_cast<void *>(buffer + 8), INT64_MIN + 5)), INT64_MIN + 5);
  int64_t stored;
  memcpy(&stored, buffer + 32, 8);
  EXPECT_EQ(stored, INT64_MIN + 5);
  EXPECT_EQ((Call<double>(Entry(fns[7], kinds[7].sig), static_cast<void *>(buffer + 8), -2.75)), -2.75);
  void *p = &stored;
  EXPECT_EQ((Call<void *>(Entry(fns[8], kinds[8].sig), static_cast<void *>(buffer + 8), p)), p);
}

double FloatReference(double a, double b, int32_t k) { return (a * b - a / b) + 1.5 * k; }

TEST_P(Build, F64Function) {
  ASSERT_EQ(npk_jit_begin(m_, "f64(f64,f64,i32)", "float_mix"), 0);
  int32_t prod = Op(NPK_JIT_OP_fmul, P(0), P(1));
  int32_t quot = Op(NPK_JIT_OP_fdiv, P(0), P(1));
  int32_t k = npk_jit_cast(m_, NPK_JIT_TYPE_f64, P(2));
  int32_t scaled = Op(NPK_JIT_OP_fmul, npk_jit_const_f64(m_, 1.5), k);
  npk_jit_ret(m_, Op(NPK_JIT_OP_fadd, Op(NPK_JIT_OP_fsub, prod, quot), scaled));
  void *f = Finish("f64(f64,f64,i32)");
  for (double a : {0.0, -0.0, 1.0, -3.5, 1e300, 7.25})
    for (double b : {1.0, -2.0, 0.5, 3e-300, 1e10})
      for (int32_t c : {0, -7, INT32_MAX}) {
        double want = FloatReference(a, b, c), got = Call<double>(f, a, b, c);
        EXPECT_EQ(memcmp(&want, &got, 8), 0) << a << " " << b << " " << c;
      }
}

TEST_P(Build, CallsIntoCAbsAndLabs) {
  ASSERT_EQ(npk_jit_begin(m_, "i64(i32,i64)", "abs_sum"), 0);
  npk_jit_arg(m_, P(0));
  int32_t a = npk_jit_call_c(m_, reinterpret_cast<void *>(static_cast<int (*)(int)>(&abs)), "i32(i32)");
  ASSERT_GT(a, 0);
  npk_jit_arg(m_, P(1));
  int32_t b = npk_jit_call_c(m_, reinterpret_cast<void *>(static_cast<long (*)(long)>(&labs)), "i64(i64)");
  ASSERT_GT(b, 0);
  // Both parameters were read before the calls; a lives across the second.
  npk_jit_ret(m_, Op(NPK_JIT_OP_add, npk_jit_cast(m_, NPK_JIT_TYPE_i64, a), b));
  void *f = Finish("i64(i32,i64)");
  EXPECT_EQ((Call<int64_t>(f, -5, int64_t{-7000000000})), 7000000005);
  EXPECT_EQ((Call<int64_t>(f, 12, int64_t{3})), 15);
}

// Mixed argument classes in both directions of a C call.
double Mixed(int32_t a, double x, int64_t b, double y, void *p, int32_t c) {
  return a * x + static_cast<double>(b) * y + (p != nullptr ? 1000.0 : 0.0) - c;
}

TEST_P(Build, CallsCWithMixedArgumentsAndKeepsValuesAcrossTheCall) {
  ASSERT_EQ(npk_jit_begin(m_, "f64(i32,f64,i64,f64,ptr,i32)", "mixed"), 0);
  // Pass the parameters in rotated roles, so the moves into argument
  // registers form cycles.
  int32_t keep_f = Op(NPK_JIT_OP_fadd, P(1), P(3));     // f64 live across the call
  int32_t keep_i = Op(NPK_JIT_OP_add, P(2), P(2));      // i64 live across the call
  for (int i = 0; i < 6; ++i) npk_jit_arg(m_, P(i));
  int32_t r = npk_jit_call_c(m_, reinterpret_cast<void *>(&Mixed), "f64(i32,f64,i64,f64,ptr,i32)");
  ASSERT_GT(r, 0);
  int32_t extra = Op(NPK_JIT_OP_fadd, keep_f, npk_jit_cast(m_, NPK_JIT_TYPE_f64, keep_i));
  npk_jit_ret(m_, Op(NPK_JIT_OP_fadd, r, extra));
  void *f = Finish("f64(i32,f64,i64,f64,ptr,i32)");
  int dummy;
  for (int32_t a : {-3, 0, 9})
    for (double x : {0.5, -4.0}) {
      double want = Mixed(a, x, 11, 2.5, &dummy, 7) + (x + 2.5) + 22.0;
      EXPECT_EQ((Call<double>(f, a, x, int64_t{11}, 2.5, static_cast<void *>(&dummy), 7)), want);
    }
  // Argument registers swapped: i32(a, b) calls C with (b, a).
  ASSERT_EQ(npk_jit_module_free(m_), 0);
  m_ = npk_jit_module_new();
  ASSERT_EQ(npk_jit_begin(m_, "i64(i64,i64)", "swap"), 0);
  npk_jit_arg(m_, P(1));
  npk_jit_arg(m_, P(0));
  int64_t (*sub)(int64_t, int64_t) = [](int64_t x, int64_t y) { return x - y; };
  npk_jit_ret(m_, npk_jit_call_c(m_, reinterpret_cast<void *>(sub), "i64(i64,i64)"));
  void *g = Finish("i64(i64,i64)");
  EXPECT_EQ((Call<int64_t>(g, int64_t{10}, int64_t{3})), -7);
}

TEST_P(Build, RecursionAndCallsBetweenFunctionsOfTheModule) {
  // fib(n) = n < 2 ? n : fib(n-1) + fib(n-2)
  ASSERT_EQ(npk_jit_begin(m_, "i64(i64)", "fib"), 0);
  int32_t small = npk_jit_label(m_);
  int32_t two = npk_jit_const_i64(m_, 2);
  npk_jit_branch(m_, Op(NPK_JIT_OP_slt, P(0), two), small);
  npk_jit_arg(m_, Op(NPK_JIT_OP_sub, P(0), npk_jit_const_i64(m_, 1)));
  int32_t f1 = npk_jit_call_self(m_);
  ASSERT_GT(f1, 0);
  npk_jit_arg(m_, Op(NPK_JIT_OP_sub, P(0), two));
  int32_t f2 = npk_jit_call_self(m_);
  npk_jit_ret(m_, Op(NPK_JIT_OP_add, f1, f2));
  npk_jit_place(m_, small);
  npk_jit_ret(m_, P(0));
  npk_jit_fn fib = End();
  // twice_fib(n) = fib(n) * 2, a call to the function added before.
  ASSERT_EQ(npk_jit_begin(m_, "i64(i64)", "twice_fib"), 0);
  npk_jit_arg(m_, P(0));
  int32_t r = npk_jit_call_fn(m_, fib);
  ASSERT_GT(r, 0);
  npk_jit_ret(m_, Op(NPK_JIT_OP_add, r, r));
  npk_jit_fn twice = End();
  Seal();
  EXPECT_EQ(Call<int64_t>(Entry(fib, "i64(i64)"), int64_t{20}), 6765);
  EXPECT_EQ(Call<int64_t>(Entry(twice, "i64(i64)"), int64_t{10}), 110);
  EXPECT_STREQ(npk_jit_fn_name(twice), "twice_fib");
}

// 40 values live at once (more than the 11 allocatable general registers),
// across a call, and f64 values too: spills, checked against C.
int64_t Opaque(int64_t x) { return x ^ 0x5a5a; }

int64_t SpillReference(int64_t a, int64_t b) {
  int64_t v[40];
  for (int k = 0; k < 40; ++k)
    v[k] = static_cast<int64_t>((static_cast<uint64_t>(a) * static_cast<uint64_t>(k + 1)) ^
                                (static_cast<uint64_t>(b) + static_cast<uint64_t>(k)));
  int64_t mid = Opaque(static_cast<int64_t>(static_cast<uint64_t>(v[3]) + static_cast<uint64_t>(v[7])));
  double f[20];
  for (int k = 0; k < 20; ++k) f[k] = static_cast<double>(v[k] & 0xffff) * 0.5;
  double fs = 0;
  for (int k = 19; k >= 0; --k) fs = fs + f[k];
  uint64_t sum = static_cast<uint64_t>(mid);
  for (int k = 39; k >= 0; --k) sum = sum * 3 + static_cast<uint64_t>(v[k]);
  return static_cast<int64_t>(sum + static_cast<uint64_t>(static_cast<int64_t>(fs)));
}

TEST_P(Build, MoreValuesThanRegistersSpillCorrectly) {
  ASSERT_EQ(npk_jit_begin(m_, "i64(i64,i64)", "spills"), 0);
  int32_t v[40], f[20];
  for (int k = 0; k < 40; ++k)
    v[k] = Op(NPK_JIT_OP_xor, Op(NPK_JIT_OP_mul, P(0), npk_jit_const_i64(m_, k + 1)),
              Op(NPK_JIT_OP_add, P(1), npk_jit_const_i64(m_, k)));
  npk_jit_arg(m_, Op(NPK_JIT_OP_add, v[3], v[7]));
  int32_t mid = npk_jit_call_c(m_, reinterpret_cast<void *>(&Opaque), "i64(i64)");
  for (int k = 0; k < 20; ++k)
    f[k] = Op(NPK_JIT_OP_fmul,
              npk_jit_cast(m_, NPK_JIT_TYPE_f64, Op(NPK_JIT_OP_and, v[k], npk_jit_const_i64(m_, 0xffff))),
              npk_jit_const_f64(m_, 0.5));
  int32_t fs = npk_jit_const_f64(m_, 0.0);
  for (int k = 19; k >= 0; --k) fs = Op(NPK_JIT_OP_fadd, fs, f[k]);
  int32_t sum = mid, three = npk_jit_const_i64(m_, 3);
  for (int k = 39; k >= 0; --k) sum = Op(NPK_JIT_OP_add, Op(NPK_JIT_OP_mul, sum, three), v[k]);
  npk_jit_ret(m_, Op(NPK_JIT_OP_add, sum, npk_jit_cast(m_, NPK_JIT_TYPE_i64, fs)));
  void *fn = Finish("i64(i64,i64)");
  uint64_t x = 88172645463325252ull;
  for (int trial = 0; trial < 500; ++trial) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    int64_t a = static_cast<int64_t>(x), b = static_cast<int64_t>(x * 31) >> (trial % 60);
    ASSERT_EQ((Call<int64_t>(fn, a, b)), SpillReference(a, b)) << a << " " << b;
  }
}

// ---- every operation against C ------------------------------------------------------------

template <class T>
bool IntRef(int op, T a, T b, T *out) {
  using U = std::make_unsigned_t<T>;
  const int bits = sizeof(T) * 8;
  U ua = static_cast<U>(a), ub = static_cast<U>(b);
  T scratch;
  switch (op) {
    case NPK_JIT_OP_add: case NPK_JIT_OP_add_trap: *out = static_cast<T>(ua + ub); return op == NPK_JIT_OP_add || !__builtin_add_overflow(a, b, &scratch);
    case NPK_JIT_OP_sub: case NPK_JIT_OP_sub_trap: *out = static_cast<T>(ua - ub); return op == NPK_JIT_OP_sub || !__builtin_sub_overflow(a, b, &scratch);
    case NPK_JIT_OP_mul: case NPK_JIT_OP_mul_trap: *out = static_cast<T>(ua * ub); return op == NPK_JIT_OP_mul || !__builtin_mul_overflow(a, b, &scratch);
    case NPK_JIT_OP_sdiv: if (b == 0 || (a == std::numeric_limits<T>::min() && b == -1)) return false; *out = a / b; return true;
    case NPK_JIT_OP_srem: if (b == 0 || (a == std::numeric_limits<T>::min() && b == -1)) return false; *out = a % b; return true;
    case NPK_JIT_OP_udiv: if (b == 0) return false; *out = static_cast<T>(ua / ub); return true;
    case NPK_JIT_OP_urem: if (b == 0) return false; *out = static_cast<T>(ua % ub); return true;
    case NPK_JIT_OP_and: *out = a & b; return true;
    case NPK_JIT_OP_or: *out = a | b; return true;
    case NPK_JIT_OP_xor: *out = a ^ b; return true;
    case NPK_JIT_OP_shl: *out = static_cast<T>(ua << (ub & (bits - 1))); return true;
    case NPK_JIT_OP_shr: *out = static_cast<T>(ua >> (ub & (bits - 1))); return true;
    case NPK_JIT_OP_sar: *out = static_cast<T>(a >> (ub & (bits - 1))); return true;
    case NPK_JIT_OP_eq: *out = a == b; return true;
    case NPK_JIT_OP_ne: *out = a != b; return true;
    case NPK_JIT_OP_slt: *out = a < b; return true;
    case NPK_JIT_OP_sle: *out = a <= b; return true;
    case NPK_JIT_OP_sgt: *out = a > b; return true;
    case NPK_JIT_OP_sge: *out = a >= b; return true;
    case NPK_JIT_OP_ult: *out = ua < ub; return true;
    case NPK_JIT_OP_ule: *out = ua <= ub; return true;
    case NPK_JIT_OP_ugt: *out = ua > ub; return true;
    case NPK_JIT_OP_uge: *out = ua >= ub; return true;
  }
  return false;
}

bool IsCompare(int op) { return op >= NPK_JIT_OP_eq && op <= NPK_JIT_OP_uge; }

std::vector<int> IntOps() {
  std::vector<int> ops;
#define NPK_JIT_OP(name, number, cls) \
  if (std::string(#cls) != "FLT" && std::string(#cls) != "FCMP") ops.push_back(number);
#include "npk/jit_ops.def"
  return ops;
}

TEST_P(Build, EveryIntegerOperationMatchesCOnEdgeValues) {
  std::vector<int> ops = IntOps();
  ASSERT_EQ(ops.size(), 26u);
  // Two functions per op and width: operands from parameters, and the second
  // operand a constant (another register-allocation shape).
  struct Built {
    int op;
    bool wide;
    npk_jit_fn fn;
  };
  std::vector<Built> built;
  for (int op : ops)
    for (bool wide : {false, true}) {
      const char *sig = wide ? (IsCompare(op) ? "i32(i64,i64)" : "i64(i64,i64)") : "i32(i32,i32)";
      ASSERT_EQ(npk_jit_begin(m_, sig, nullptr), 0);
      npk_jit_ret(m_, Op(op, P(0), P(1)));
      built.push_back({op, wide, End()});
    }
  Seal();
  for (const Built &b : built) {
    const char *sig = b.wide ? (IsCompare(b.op) ? "i32(i64,i64)" : "i64(i64,i64)") : "i32(i32,i32)";
    void *f = Entry(b.fn, sig);
    if (b.wide) {
      for (int64_t x : kI64Edges)
        for (int64_t y : kI64Edges) {
          int64_t want;
          if (!IntRef<int64_t>(b.op, x, y, &want)) continue;
          int64_t got = IsCompare(b.op) ? Call<int32_t>(f, x, y) : Call<int64_t>(f, x, y);
          ASSERT_EQ(got, want) << "op " << b.op << " i64 " << x << " " << y;
        }
    } else {
      for (int32_t x : kI32Edges)
        for (int32_t y : kI32Edges) {
          int32_t want;
          if (!IntRef<int32_t>(b.op, x, y, &want)) continue;
          ASSERT_EQ((Call<int32_t>(f, x, y)), want) << "op " << b.op << " i32 " << x << " " << y;
        }
    }
  }
}

// Constants take no register: they become immediate operands (add, sub,
// and, or, xor, shifts, comparisons) or are put in a register where used.
// Every op with a constant on either side, on every edge value.
TEST_P(Build, EveryIntegerOperationWithConstantOperandsMatchesC) {
  struct Built {
    int op;
    bool wide, const_left;
    int64_t k;
    npk_jit_fn fn;
  };
  std::vector<Built> built;
  const int64_t constants[] = {INT64_MIN, INT32_MIN, -129, -1, 0, 1, 2, 31, 32, 33, 63, 64, 127, 128, INT32_MAX, 0x80000000ll, INT64_MAX};
  for (int op : IntOps())
    for (bool wide : {false, true})
      for (bool const_left : {false, true})
        for (int64_t k : constants) {
          const char *sig = wide ? (IsCompare(op) ? "i32(i64)" : "i64(i64)") : "i32(i32)";
          ASSERT_EQ(npk_jit_begin(m_, sig, nullptr), 0);
          int32_t c = wide ? npk_jit_const_i64(m_, k) : npk_jit_const_i32(m_, static_cast<int32_t>(k));
          npk_jit_ret(m_, const_left ? Op(op, c, P(0)) : Op(op, P(0), c));
          built.push_back({op, wide, const_left, k, End()});
        }
  Seal();
  for (const Built &b : built) {
    void *f = Entry(b.fn, b.wide ? (IsCompare(b.op) ? "i32(i64)" : "i64(i64)") : "i32(i32)");
    if (b.wide) {
      for (int64_t x : kI64Edges) {
        int64_t want, l = b.const_left ? b.k : x, r = b.const_left ? x : b.k;
        if (!IntRef<int64_t>(b.op, l, r, &want)) continue;
        int64_t got = IsCompare(b.op) ? Call<int32_t>(f, x) : Call<int64_t>(f, x);
        ASSERT_EQ(got, want) << "op " << b.op << " i64 " << l << " " << r;
      }
    } else {
      for (int32_t x : kI32Edges) {
        int32_t want, k = static_cast<int32_t>(b.k), l = b.const_left ? k : x, r = b.const_left ? x : k;
        if (!IntRef<int32_t>(b.op, l, r, &want)) continue;
        ASSERT_EQ(Call<int32_t>(f, x), want) << "op " << b.op << " i32 " << l << " " << r;
      }
    }
  }
}

// Constants as call arguments, select operands, stored values, f64
// operands and return values.
int64_t SixArgs(int64_t a, double x, int64_t b, double y, int64_t c, int32_t d) {
  return a * 1000000 + static_cast<int64_t>(x * 1000) + b * 100 + static_cast<int64_t>(y) + c * 10 + d;
}

TEST_P(Build, ConstantsEverywhere) {
  ASSERT_EQ(npk_jit_begin(m_, "i64(i64)", "const_args"), 0);
  npk_jit_arg(m_, npk_jit_const_i64(m_, 7));
  npk_jit_arg(m_, npk_jit_const_f64(m_, 0.5));
  npk_jit_arg(m_, P(0));
  npk_jit_arg(m_, npk_jit_const_f64(m_, 0.0));
  npk_jit_arg(m_, npk_jit_const_i64(m_, -3));
  npk_jit_arg(m_, npk_jit_const_i32(m_, 9));
  npk_jit_ret(m_, npk_jit_call_c(m_, reinterpret_cast<void *>(&SixArgs), "i64(i64,f64,i64,f64,i64,i32)"));
  npk_jit_fn args = End();
  ASSERT_EQ(npk_jit_begin(m_, "i64(i32)", "const_select"), 0);
  npk_jit_ret(m_, npk_jit_select(m_, P(0), npk_jit_const_i64(m_, INT64_MIN), npk_jit_const_i64(m_, 0)));
  npk_jit_fn sel = End();
  ASSERT_EQ(npk_jit_begin(m_, "f64(i32,f64)", "const_fselect"), 0);
  npk_jit_ret(m_, Op(NPK_JIT_OP_fmul, P(1), npk_jit_select(m_, P(0), npk_jit_const_f64(m_, -2.0), npk_jit_const_f64(m_, 0.0))));
  npk_jit_fn fsel = End();
  ASSERT_EQ(npk_jit_begin(m_, "void(ptr)", "const_store"), 0);
  npk_jit_store(m_, NPK_JIT_MEM_i64, P(0), 0, npk_jit_const_i64(m_, 0x1122334455667788));
  npk_jit_store(m_, NPK_JIT_MEM_f64, P(0), 8, npk_jit_const_f64(m_, 6.25));
  npk_jit_store(m_, NPK_JIT_MEM_u8, P(0), 16, npk_jit_const_i32(m_, 0x1ab));
  npk_jit_ret_void(m_);
  npk_jit_fn st = End();
  ASSERT_EQ(npk_jit_begin(m_, "f64()", "const_ret"), 0);
  npk_jit_ret(m_, npk_jit_const_f64(m_, -1.25));
  npk_jit_fn fret = End();
  ASSERT_EQ(npk_jit_begin(m_, "i32(f64)", "const_fcmp"), 0);
  npk_jit_ret(m_, Op(NPK_JIT_OP_flt, npk_jit_const_f64(m_, 1.5), P(0)));
  npk_jit_fn fcmp = End();
  // A constant that is later written is a variable: the loop must see it change.
  ASSERT_EQ(npk_jit_begin(m_, "i64(i64)", "const_then_set"), 0);
  int32_t step = npk_jit_const_i64(m_, 1), acc = npk_jit_var(m_, NPK_JIT_TYPE_i64), i = npk_jit_var(m_, NPK_JIT_TYPE_i64);
  int32_t top = npk_jit_label(m_), done = npk_jit_label(m_);
  npk_jit_place(m_, top);
  npk_jit_branch(m_, Op(NPK_JIT_OP_sge, i, P(0)), done);
  npk_jit_set(m_, acc, Op(NPK_JIT_OP_add, acc, step));
  npk_jit_set(m_, step, Op(NPK_JIT_OP_shl, step, npk_jit_const_i64(m_, 1)));
  npk_jit_set(m_, i, Op(NPK_JIT_OP_add, i, npk_jit_const_i64(m_, 1)));
  npk_jit_jump(m_, top);
  npk_jit_place(m_, done);
  npk_jit_ret(m_, acc);
  npk_jit_fn grow = End();
  Seal();
  EXPECT_EQ(Call<int64_t>(Entry(args, "i64(i64)"), int64_t{4}), SixArgs(7, 0.5, 4, 0.0, -3, 9));
  EXPECT_EQ(Call<int64_t>(Entry(sel, "i64(i32)"), 1), INT64_MIN);
  EXPECT_EQ(Call<int64_t>(Entry(sel, "i64(i32)"), 0), 0);
  EXPECT_EQ((Call<double>(Entry(fsel, "f64(i32,f64)"), 1, 3.0)), -6.0);
  EXPECT_EQ((Call<double>(Entry(fsel, "f64(i32,f64)"), 0, 3.0)), 0.0);
  unsigned char buffer[24] = {};
  Call<void>(Entry(st, "void(ptr)"), static_cast<void *>(buffer));
  int64_t i64;
  double f64;
  memcpy(&i64, buffer, 8);
  memcpy(&f64, buffer + 8, 8);
  EXPECT_EQ(i64, 0x1122334455667788);
  EXPECT_EQ(f64, 6.25);
  EXPECT_EQ(buffer[16], 0xab);
  EXPECT_EQ(buffer[17], 0);
  EXPECT_EQ(Call<double>(Entry(fret, "f64()")), -1.25);
  EXPECT_EQ(Call<int32_t>(Entry(fcmp, "i32(f64)"), 2.0), 1);
  EXPECT_EQ(Call<int32_t>(Entry(fcmp, "i32(f64)"), 1.5), 0);
  EXPECT_EQ(Call<int64_t>(Entry(grow, "i64(i64)"), int64_t{10}), 1023);
}

TEST_P(Build, FloatOperationsAndComparisonsMatchCIncludingNaN) {
  const int ops[] = {NPK_JIT_OP_fadd, NPK_JIT_OP_fsub, NPK_JIT_OP_fmul, NPK_JIT_OP_fdiv, NPK_JIT_OP_feq, NPK_JIT_OP_fne,
                     NPK_JIT_OP_flt,  NPK_JIT_OP_fle,  NPK_JIT_OP_fgt,  NPK_JIT_OP_fge};
  std::vector<npk_jit_fn> fns;
  for (int op : ops) {
    ASSERT_EQ(npk_jit_begin(m_, op <= NPK_JIT_OP_fdiv ? "f64(f64,f64)" : "i32(f64,f64)", nullptr), 0);
    npk_jit_ret(m_, Op(op, P(0), P(1)));
    fns.push_back(End());
  }
  Seal();
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  const double values[] = {0.0, -0.0, 1.0, -1.5, 3.25, 1e308, -inf, inf, nan, 5e-324};
  for (size_t i = 0; i < fns.size(); ++i) {
    int op = ops[i];
    void *f = Entry(fns[i], op <= NPK_JIT_OP_fdiv ? "f64(f64,f64)" : "i32(f64,f64)");
    for (double a : values)
      for (double b : values) {
        if (op <= NPK_JIT_OP_fdiv) {
          double want = op == NPK_JIT_OP_fadd ? a + b : op == NPK_JIT_OP_fsub ? a - b : op == NPK_JIT_OP_fmul ? a * b : a / b;
          double got = Call<double>(f, a, b);
          EXPECT_TRUE(memcmp(&want, &got, 8) == 0 || (std::isnan(want) && std::isnan(got))) << op << " " << a << " " << b;
        } else {
          int32_t want = op == NPK_JIT_OP_feq ? a == b : op == NPK_JIT_OP_fne ? a != b : op == NPK_JIT_OP_flt ? a < b
                       : op == NPK_JIT_OP_fle ? a <= b : op == NPK_JIT_OP_fgt ? a > b : a >= b;
          EXPECT_EQ((Call<int32_t>(f, a, b)), want) << op << " " << a << " " << b;
        }
      }
  }
}

TEST_P(Build, SelectAndConversions) {
  ASSERT_EQ(npk_jit_begin(m_, "i64(i32,i64,i64)", "select_i64"), 0);
  npk_jit_ret(m_, npk_jit_select(m_, P(0), P(1), P(2)));
  npk_jit_fn sel = End();
  ASSERT_EQ(npk_jit_begin(m_, "f64(i32,f64,f64)", "select_f64"), 0);
  npk_jit_ret(m_, npk_jit_select(m_, P(0), P(1), P(2)));
  npk_jit_fn fsel = End();
  ASSERT_EQ(npk_jit_begin(m_, "i64(i32)", "sext"), 0);
  npk_jit_ret(m_, npk_jit_cast(m_, NPK_JIT_TYPE_i64, P(0)));
  npk_jit_fn sext = End();
  ASSERT_EQ(npk_jit_begin(m_, "i32(i64)", "trunc"), 0);
  npk_jit_ret(m_, npk_jit_cast(m_, NPK_JIT_TYPE_i32, P(0)));
  npk_jit_fn trunc = End();
  ASSERT_EQ(npk_jit_begin(m_, "i64(f64)", "f2i"), 0);
  npk_jit_ret(m_, npk_jit_cast(m_, NPK_JIT_TYPE_i64, P(0)));
  npk_jit_fn f2i = End();
  ASSERT_EQ(npk_jit_begin(m_, "i32(f64)", "f2i32"), 0);
  npk_jit_ret(m_, npk_jit_cast(m_, NPK_JIT_TYPE_i32, P(0)));
  npk_jit_fn f2i32 = End();
  ASSERT_EQ(npk_jit_begin(m_, "ptr(i64)", "i2p"), 0);
  npk_jit_ret(m_, npk_jit_cast(m_, NPK_JIT_TYPE_ptr, P(0)));
  npk_jit_fn i2p = End();
  Seal();
  for (int32_t c : {0, 1, -1, INT32_MIN}) {
    EXPECT_EQ((Call<int64_t>(Entry(sel, "i64(i32,i64,i64)"), c, int64_t{-5}, INT64_MAX)), c != 0 ? -5 : INT64_MAX);
    EXPECT_EQ((Call<double>(Entry(fsel, "f64(i32,f64,f64)"), c, 1.5, -2.5)), c != 0 ? 1.5 : -2.5);
  }
  for (int32_t v : kI32Edges) EXPECT_EQ(Call<int64_t>(Entry(sext, "i64(i32)"), v), int64_t{v});
  for (int64_t v : kI64Edges) EXPECT_EQ(Call<int32_t>(Entry(trunc, "i32(i64)"), v), static_cast<int32_t>(v));
  EXPECT_EQ(Call<int64_t>(Entry(f2i, "i64(f64)"), -7.9), -7);
  EXPECT_EQ(Call<int64_t>(Entry(f2i, "i64(f64)"), std::numeric_limits<double>::quiet_NaN()), INT64_MIN);
  EXPECT_EQ(Call<int32_t>(Entry(f2i32, "i32(f64)"), 1e20), INT32_MIN);
  EXPECT_EQ(Call<int32_t>(Entry(f2i32, "i32(f64)"), 123.99), 123);
  EXPECT_EQ(Call<void *>(Entry(i2p, "ptr(i64)"), int64_t{0x1234}), reinterpret_cast<void *>(0x1234));
}

// A variable read on a path where it was never set reads 0.
TEST_P(Build, VariablesStartAtZero) {
  ASSERT_EQ(npk_jit_begin(m_, "i64(i32)", "maybe_set"), 0);
  int32_t skip = npk_jit_label(m_);
  npk_jit_branch(m_, P(0), skip);
  int32_t v = npk_jit_var(m_, NPK_JIT_TYPE_i64);  // created (zeroed) only on the fall-through path
  npk_jit_set(m_, v, npk_jit_const_i64(m_, 42));
  npk_jit_place(m_, skip);
  npk_jit_ret(m_, v);
  void *f = Finish("i64(i32)");
  EXPECT_EQ(Call<int64_t>(f, 0), 42);
  EXPECT_EQ(Call<int64_t>(f, 1), 0);
}

// Variables written only on some paths of a loop are live around it and
// from the entry: many such values start long before they are made, which
// takes the allocator's sort off its fast path, and 200 of them live at once
// spill. Checked against the same program in C.
int64_t PathReference(int64_t n, int K) {
  std::vector<int64_t> w(K, 0);
  int64_t acc = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int k = 0; k < K; ++k) {
      if ((i & 1) == 0) w[k] = k * 3 + 1;
      acc += w[k] ^ i;
    }
  return acc;
}

TEST_P(Build, ValuesLiveAroundLoopsOnSomePaths) {
  constexpr int K = 200;
  ASSERT_EQ(npk_jit_begin(m_, "i64(i64)", "paths"), 0);
  int32_t n = P(0);
  int32_t acc = npk_jit_var(m_, NPK_JIT_TYPE_i64), i = npk_jit_var(m_, NPK_JIT_TYPE_i64);
  int32_t top = npk_jit_label(m_), done = npk_jit_label(m_);
  npk_jit_place(m_, top);
  npk_jit_branch(m_, Op(NPK_JIT_OP_sge, i, n), done);
  int32_t odd = Op(NPK_JIT_OP_ne, Op(NPK_JIT_OP_and, i, npk_jit_const_i64(m_, 1)), npk_jit_const_i64(m_, 0));
  for (int k = 0; k < K; ++k) {
    int32_t skip = npk_jit_label(m_);
    npk_jit_branch(m_, odd, skip);
    int32_t w = npk_jit_var(m_, NPK_JIT_TYPE_i64);  // made (and written) on the even path only
    ASSERT_EQ(npk_jit_set(m_, w, npk_jit_const_i64(m_, k * 3 + 1)), 0);
    npk_jit_place(m_, skip);
    npk_jit_set(m_, acc, Op(NPK_JIT_OP_add, acc, Op(NPK_JIT_OP_xor, w, i)));
  }
  npk_jit_set(m_, i, Op(NPK_JIT_OP_add, i, npk_jit_const_i64(m_, 1)));
  npk_jit_jump(m_, top);
  npk_jit_place(m_, done);
  npk_jit_ret(m_, acc);
  void *f = Finish("i64(i64)");
  for (int64_t count : {0, 1, 2, 3, 10, 101}) EXPECT_EQ(Call<int64_t>(f, count), PathReference(count, K)) << count;
}

// Builders of different modules run in parallel threads.
TEST_P(Build, ModulesBuiltInParallelThreads) {
  auto work = [](int64_t seed, int64_t *out) {
    npk_jit_module *m = npk_jit_module_new();
    std::vector<npk_jit_fn> fns;
    for (int k = 0; k < 200; ++k) {
      if (npk_jit_begin(m, "i64(i64)", nullptr) != 0) return;
      int32_t v = npk_jit_op(m, NPK_JIT_OP_mul, npk_jit_param(m, 0), npk_jit_const_i64(m, seed + k));
      npk_jit_ret(m, v);
      fns.push_back(npk_jit_end(m, nullptr));
    }
    if (npk_jit_module_seal(m) != 0) return;
    int64_t sum = 0;
    for (npk_jit_fn f : fns) sum += Call<int64_t>(npk_jit_fn_entry(f, npk_jit_sig_intern("i64(i64)")), int64_t{2});
    npk_jit_module_free(m);
    *out = sum;
  };
  int64_t results[4] = {};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(work, int64_t{t} * 1000, &results[t]);
  for (std::thread &t : threads) t.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(results[t], 2 * (200 * t * 1000 + 199 * 200 / 2)) << t;
}

// ---- traps ------------------------------------------------------------------------------------

TEST_P(Build, TrappingOperationsTrap) {
  struct Trap {
    int op;
    int32_t a, b;
    int signal;
  } traps[] = {{NPK_JIT_OP_add_trap, INT32_MAX, 1, SIGILL}, {NPK_JIT_OP_sub_trap, INT32_MIN, 1, SIGILL},
               {NPK_JIT_OP_mul_trap, 65536, 65536, SIGILL}, {NPK_JIT_OP_sdiv, 7, 0, SIGFPE},
               {NPK_JIT_OP_sdiv, INT32_MIN, -1, SIGFPE},    {NPK_JIT_OP_srem, INT32_MIN, -1, SIGFPE},
               {NPK_JIT_OP_udiv, 7, 0, SIGFPE},             {NPK_JIT_OP_urem, 7, 0, SIGFPE}};
  std::vector<npk_jit_fn> fns;
  for (const Trap &t : traps) {
    ASSERT_EQ(npk_jit_begin(m_, "i32(i32,i32)", nullptr), 0);
    npk_jit_ret(m_, Op(t.op, P(0), P(1)));
    fns.push_back(End());
  }
  ASSERT_EQ(npk_jit_begin(m_, "i64(i64,i64)", nullptr), 0);
  npk_jit_ret(m_, Op(NPK_JIT_OP_mul_trap, P(0), P(1)));
  npk_jit_fn wide = End();
  // With constant operands: the immediate form traps too, and so does a
  // division by a constant 0.
  ASSERT_EQ(npk_jit_begin(m_, "i32(i32)", nullptr), 0);
  npk_jit_ret(m_, Op(NPK_JIT_OP_add_trap, P(0), npk_jit_const_i32(m_, 1)));
  npk_jit_fn add_const = End();
  ASSERT_EQ(npk_jit_begin(m_, "i64(i64)", nullptr), 0);
  npk_jit_ret(m_, Op(NPK_JIT_OP_sdiv, P(0), npk_jit_const_i64(m_, 0)));
  npk_jit_fn div_const = End();
  Seal();
  for (size_t i = 0; i < fns.size(); ++i) {
    void *f = Entry(fns[i], "i32(i32,i32)");
    EXPECT_EXIT(Call<int32_t>(f, traps[i].a, traps[i].b), testing::KilledBySignal(traps[i].signal), "") << i;
  }
  // Entries are looked up here: a forked child refuses inherited handles.
  void *ac = Entry(add_const, "i32(i32)"), *dc = Entry(div_const, "i64(i64)");
  EXPECT_EXIT(Call<int32_t>(ac, INT32_MAX), testing::KilledBySignal(SIGILL), "");
  EXPECT_EQ(Call<int32_t>(ac, 41), 42);
  EXPECT_EXIT(Call<int64_t>(dc, int64_t{5}), testing::KilledBySignal(SIGFPE), "");
  void *w = Entry(wide, "i64(i64,i64)");
  EXPECT_EXIT(Call<int64_t>(w, INT64_MAX / 2, int64_t{3}), testing::KilledBySignal(SIGILL), "");
  // In range, nothing traps.
  EXPECT_EQ(Call<int64_t>(w, INT64_MAX / 3, int64_t{3}), INT64_MAX / 3 * 3);
  EXPECT_EQ((Call<int32_t>(Entry(fns[0], "i32(i32,i32)"), INT32_MAX - 1, 1)), INT32_MAX);
}

// ---- scale -----------------------------------------------------------------------------------

TEST_P(Build, ThousandFunctionsInOneModule) {
  std::vector<npk_jit_fn> fns;
  for (int k = 0; k < 1000; ++k) {
    ASSERT_EQ(npk_jit_begin(m_, "i64(i64)", nullptr), 0);
    npk_jit_ret(m_, Op(NPK_JIT_OP_add, Op(NPK_JIT_OP_mul, P(0), npk_jit_const_i64(m_, 7)), npk_jit_const_i64(m_, k)));
    fns.push_back(End());
  }
  Seal();
  for (int k = 0; k < 1000; ++k) ASSERT_EQ(Call<int64_t>(Entry(fns[k], "i64(i64)"), int64_t{k}), 8 * k) << k;
}

// ---- misuse ------------------------------------------------------------------------------------

std::string Line(npk_jit_module *m, const char *op, const char *reason) {
  return npk_test::WildxPanicLine(op, m, reason);
}

TEST(BuildMisuse, ModuleNullFreedForeignAndSealed) {
  int dummy = 0;
  auto *foreign = reinterpret_cast<npk_jit_module *>(&dummy);
  npk_test::ExpectRefused([&] { return npk_jit_begin(nullptr, "i32()", nullptr); },
                          Line(nullptr, "jit_begin", "not a live module from npk_jit_module_new"), NPK_ERR_JIT_MODULE);
  npk_test::ExpectRefused([&] { return npk_jit_begin(foreign, "i32()", nullptr); },
                          Line(foreign, "jit_begin", "not a live module from npk_jit_module_new"), NPK_ERR_JIT_MODULE);
  npk_jit_module *m = npk_jit_module_new();
  ASSERT_EQ(npk_jit_begin(m, "i32()", nullptr), 0);
  npk_jit_ret(m, npk_jit_const_i32(m, 1));
  int32_t err = 0;
  ASSERT_NE(npk_jit_end(m, &err), 0u);
  ASSERT_EQ(npk_jit_module_seal(m), 0);
  npk_test::ExpectRefused([&] { return npk_jit_begin(m, "i32()", nullptr); },
                          Line(m, "jit_begin", "module is already sealed"), NPK_ERR_JIT_SEALED);
  ASSERT_EQ(npk_jit_module_free(m), 0);
  npk_test::ExpectRefused([&] { return npk_jit_begin(m, "i32()", nullptr); },
                          Line(m, "jit_begin", "not a live module from npk_jit_module_new"), NPK_ERR_JIT_MODULE);
  npk_test::ExpectRefused([&] { return -npk_jit_const_i32(m, 1); },
                          Line(m, "jit_const_i32", "not a live module from npk_jit_module_new"), NPK_ERR_JIT_MODULE);
  std::string out = StderrOf([&] { EXPECT_EQ(npk_jit_end(m, &err), 0u); });
  EXPECT_EQ(err, NPK_ERR_JIT_MODULE);
  EXPECT_EQ(out, Line(m, "jit_end", "not a live module from npk_jit_module_new"));
}

// A module freed with a function open: the builder goes with it.
TEST(BuildMisuse, FreeingAModuleWithAnOpenFunction) {
  npk_jit_module *m = npk_jit_module_new();
  ASSERT_EQ(npk_jit_begin(m, "i32(i32)", nullptr), 0);
  int32_t p = npk_jit_param(m, 0);
  ASSERT_EQ(npk_jit_module_free(m), 0);
  npk_test::ExpectRefused([&] { return npk_jit_ret(m, p); },
                          Line(m, "jit_ret", "not a live module from npk_jit_module_new"), NPK_ERR_JIT_MODULE);
}

class BuildMisuseOpen : public testing::Test {
 protected:
  void SetUp() override {
    m_ = npk_jit_module_new();
    ASSERT_EQ(npk_jit_begin(m_, "i64(i64,f64)", "victim"), 0);
  }
  void TearDown() override { EXPECT_EQ(npk_jit_module_free(m_), 0); }
  // Expects the open function to be poisoned with `code`: a later op returns
  // it, end reports it, and the module builds the next function fine.
  void ExpectPoisoned(int32_t code) {
    char reason[96];
    snprintf(reason, sizeof reason, "function was poisoned by an earlier refusal (code %d)", code);
    npk_test::ExpectRefused([&] { return -npk_jit_const_i64(m_, 1); }, Line(m_, "jit_const_i64", reason), code);
    int32_t err = 0;
    std::string out = StderrOf([&] { EXPECT_EQ(npk_jit_end(m_, &err), 0u); });
    EXPECT_EQ(err, code);
    EXPECT_EQ(out, Line(m_, "jit_end", reason));
    ASSERT_EQ(npk_jit_begin(m_, "i32(i32)", "after"), 0);
    npk_jit_ret(m_, npk_jit_param(m_, 0));
    npk_jit_fn f = npk_jit_end(m_, &err);
    ASSERT_NE(f, 0u);
    ASSERT_EQ(npk_jit_module_seal(m_), 0);
    void *entry = npk_jit_fn_entry(f, npk_jit_sig_intern("i32(i32)"));
    EXPECT_EQ(Call<int32_t>(entry, 77), 77);
  }
  npk_jit_module *m_ = nullptr;
};

TEST_F(BuildMisuseOpen, TypeMismatch) {
  int32_t a = npk_jit_param(m_, 0), x = npk_jit_param(m_, 1);
  npk_test::ExpectRefused(
      [&] { return -npk_jit_op(m_, NPK_JIT_OP_add, a, x); },
      Line(m_, "jit_op",
           "type mismatch: add: integer operation needs two i32 or two i64 (or ptr, i64 for add and sub) (i64, f64)"),
      NPK_ERR_JIT_TYPE);
  ExpectPoisoned(NPK_ERR_JIT_TYPE);
}

TEST_F(BuildMisuseOpen, ReturnOfTheWrongType) {
  npk_test::ExpectRefused([&] { return npk_jit_ret(m_, npk_jit_param(m_, 1)); },
                          Line(m_, "jit_ret", "type mismatch: return (signature, value) (i64, f64)"), NPK_ERR_JIT_TYPE);
  ExpectPoisoned(NPK_ERR_JIT_TYPE);
}

TEST_F(BuildMisuseOpen, UnknownValueId) {
  for (int32_t id : {0, -5, 1 << 19, INT32_MAX}) {
    SCOPED_TRACE(id);
    npk_jit_module_free(m_);
    m_ = npk_jit_module_new();
    ASSERT_EQ(npk_jit_begin(m_, "i64(i64,f64)", nullptr), 0);
    int32_t code = -npk_jit_op(m_, NPK_JIT_OP_add, npk_jit_param(m_, 0), id);
    EXPECT_TRUE(code == NPK_ERR_JIT_UNKNOWN_ID || code == NPK_ERR_JIT_FOREIGN_ID) << code;
  }
  // An id of this function past its last value, and a label used as a value.
  char reason[64];
  npk_jit_module_free(m_);
  m_ = npk_jit_module_new();
  ASSERT_EQ(npk_jit_begin(m_, "i64(i64,f64)", nullptr), 0);
  int32_t p = npk_jit_param(m_, 0);
  snprintf(reason, sizeof reason, "unknown value or label id: value %d", p + 100);
  npk_test::ExpectRefused([&] { return npk_jit_ret(m_, p + 100); }, Line(m_, "jit_ret", reason), NPK_ERR_JIT_UNKNOWN_ID);
  ExpectPoisoned(NPK_ERR_JIT_UNKNOWN_ID);
}

TEST_F(BuildMisuseOpen, LabelUsedAsValue) {
  int32_t l = npk_jit_label(m_);
  char reason[64];
  snprintf(reason, sizeof reason, "unknown value or label id: value %d", l);
  npk_test::ExpectRefused([&] { return npk_jit_ret(m_, l); }, Line(m_, "jit_ret", reason), NPK_ERR_JIT_UNKNOWN_ID);
  ExpectPoisoned(NPK_ERR_JIT_UNKNOWN_ID);
}

TEST_F(BuildMisuseOpen, ValueOfAnotherFunction) {
  npk_jit_module *other = npk_jit_module_new();
  ASSERT_EQ(npk_jit_begin(other, "i64(i64)", nullptr), 0);
  int32_t theirs = npk_jit_param(other, 0);
  char reason[64];
  snprintf(reason, sizeof reason, "id of another function: value %d", theirs);
  npk_test::ExpectRefused([&] { return npk_jit_ret(m_, theirs); }, Line(m_, "jit_ret", reason), NPK_ERR_JIT_FOREIGN_ID);
  // The other function is unaffected.
  EXPECT_EQ(npk_jit_ret(other, theirs), 0);
  EXPECT_NE(npk_jit_end(other, nullptr), 0u);
  EXPECT_EQ(npk_jit_module_free(other), 0);
  ExpectPoisoned(NPK_ERR_JIT_FOREIGN_ID);
}

TEST_F(BuildMisuseOpen, ValueOfAnEarlierFunctionOfTheSameModule) {
  int32_t old = npk_jit_param(m_, 0);
  npk_jit_ret(m_, old);
  ASSERT_NE(npk_jit_end(m_, nullptr), 0u);
  ASSERT_EQ(npk_jit_begin(m_, "i64(i64,f64)", nullptr), 0);
  char reason[64];
  snprintf(reason, sizeof reason, "id of another function: value %d", old);
  npk_test::ExpectRefused([&] { return npk_jit_ret(m_, old); }, Line(m_, "jit_ret", reason), NPK_ERR_JIT_FOREIGN_ID);
  ExpectPoisoned(NPK_ERR_JIT_FOREIGN_ID);
}

TEST_F(BuildMisuseOpen, LabelPlacedTwice) {
  int32_t l = npk_jit_label(m_);
  ASSERT_EQ(npk_jit_place(m_, l), 0);
  char reason[64];
  snprintf(reason, sizeof reason, "label already placed: label %d", l);
  npk_test::ExpectRefused([&] { return npk_jit_place(m_, l); }, Line(m_, "jit_place", reason), NPK_ERR_JIT_LABEL_TWICE);
  ExpectPoisoned(NPK_ERR_JIT_LABEL_TWICE);
}

TEST_F(BuildMisuseOpen, UnknownLabel) {
  char reason[64];
  snprintf(reason, sizeof reason, "unknown value or label id: label %d", 12345);
  npk_test::ExpectRefused([&] { return npk_jit_jump(m_, 12345); }, Line(m_, "jit_jump", reason), NPK_ERR_JIT_UNKNOWN_ID);
  ExpectPoisoned(NPK_ERR_JIT_UNKNOWN_ID);
}

TEST_F(BuildMisuseOpen, LabelNeverPlacedIsRefusedAtEnd) {
  int32_t l = npk_jit_label(m_);
  npk_jit_branch(m_, npk_jit_const_i32(m_, 1), l);
  npk_jit_ret(m_, npk_jit_param(m_, 0));
  char reason[64];
  snprintf(reason, sizeof reason, "label used but never placed: label %d", l);
  int32_t err = 0;
  std::string out = StderrOf([&] { EXPECT_EQ(npk_jit_end(m_, &err), 0u); });
  EXPECT_EQ(err, NPK_ERR_JIT_LABEL_UNPLACED);
  EXPECT_EQ(out, Line(m_, "jit_end", reason));
  // Closed: the next end has nothing to finish; the module builds again.
  npk_test::ExpectRefused([&] { int32_t e; npk_jit_end(m_, &e); return e; },
                          Line(m_, "jit_end", "no function is open in this module"), NPK_ERR_JIT_NO_FUNCTION);
  ASSERT_EQ(npk_jit_begin(m_, "i64(i64,f64)", nullptr), 0);
  npk_jit_ret(m_, npk_jit_param(m_, 0));
  EXPECT_NE(npk_jit_end(m_, nullptr), 0u);
}

TEST_F(BuildMisuseOpen, MissingReturn) {
  // Returns on one path only: the other reaches the end.
  int32_t l = npk_jit_label(m_);
  npk_jit_branch(m_, npk_jit_const_i32(m_, 0), l);
  npk_jit_ret(m_, npk_jit_param(m_, 0));
  npk_jit_place(m_, l);
  int32_t err = 0;
  std::string out = StderrOf([&] { EXPECT_EQ(npk_jit_end(m_, &err), 0u); });
  EXPECT_EQ(err, NPK_ERR_JIT_NO_RETURN);
  EXPECT_EQ(out, Line(m_, "jit_end", "control can reach the end without a return"));
  // An empty body too.
  ASSERT_EQ(npk_jit_begin(m_, "void()", nullptr), 0);
  out = StderrOf([&] { EXPECT_EQ(npk_jit_end(m_, &err), 0u); });
  EXPECT_EQ(err, NPK_ERR_JIT_NO_RETURN);
  // A loop with no exit needs no return; dead code after a return is fine.
  ASSERT_EQ(npk_jit_begin(m_, "void()", nullptr), 0);
  int32_t top = npk_jit_label(m_);
  npk_jit_place(m_, top);
  npk_jit_jump(m_, top);
  EXPECT_NE(npk_jit_end(m_, nullptr), 0u);
  ASSERT_EQ(npk_jit_begin(m_, "void()", nullptr), 0);
  npk_jit_ret_void(m_);
  npk_jit_const_i32(m_, 5);
  EXPECT_NE(npk_jit_end(m_, nullptr), 0u);
}

TEST_F(BuildMisuseOpen, BeginTwice) {
  npk_test::ExpectRefused([&] { return npk_jit_begin(m_, "void()", nullptr); },
                          Line(m_, "jit_begin", "a function is already open in this module"), NPK_ERR_JIT_OPEN);
  ExpectPoisoned(NPK_ERR_JIT_OPEN);
}

TEST(BuildMisuse, NoOpenFunction) {
  npk_jit_module *m = npk_jit_module_new();
  npk_test::ExpectRefused([&] { return -npk_jit_const_i32(m, 1); },
                          Line(m, "jit_const_i32", "no function is open in this module"), NPK_ERR_JIT_NO_FUNCTION);
  npk_test::ExpectRefused([&] { return npk_jit_ret_void(m); }, Line(m, "jit_ret_void", "no function is open in this module"),
                          NPK_ERR_JIT_NO_FUNCTION);
  ASSERT_EQ(npk_jit_begin(m, "void()", nullptr), 0);
  npk_jit_ret_void(m);
  ASSERT_NE(npk_jit_end(m, nullptr), 0u);
  int32_t err = 0;
  std::string out = StderrOf([&] { EXPECT_EQ(npk_jit_end(m, &err), 0u); });
  EXPECT_EQ(err, NPK_ERR_JIT_NO_FUNCTION);
  EXPECT_EQ(out, Line(m, "jit_end", "no function is open in this module"));
  EXPECT_EQ(npk_jit_module_free(m), 0);
}

TEST(BuildMisuse, BadSignatures) {
  npk_jit_module *m = npk_jit_module_new();
  for (const char *sig : {"i8(i32)", "i32(u64)", "i32", "i32(i32,)", "f32()", "i32() ", "(i32)", "void(void)"})
    npk_test::ExpectRefused([&] { return npk_jit_begin(m, sig, nullptr); },
                            Line(m, "jit_begin", (std::string("not a builder signature: ") + sig).c_str()),
                            NPK_ERR_JIT_BAD_SIG);
  npk_test::ExpectRefused([&] { return npk_jit_begin(m, nullptr, nullptr); },
                          Line(m, "jit_begin", "not a builder signature: (null)"), NPK_ERR_JIT_BAD_SIG);
  npk_test::ExpectRefused(
      [&] { return npk_jit_begin(m, "i32(i32,i32,i32,i32,i32,i32,i32)", nullptr); },
      Line(m, "jit_begin", "parameter index or argument count out of range: i32(i32,i32,i32,i32,i32,i32,i32)"),
      NPK_ERR_JIT_COUNT);
  // Six is the limit, and works.
  ASSERT_EQ(npk_jit_begin(m, "i64(i64,i64,i64,i64,i64,i64)", nullptr), 0);
  npk_jit_ret(m, npk_jit_param(m, 5));
  EXPECT_NE(npk_jit_end(m, nullptr), 0u);
  EXPECT_EQ(npk_jit_module_free(m), 0);
}

TEST_F(BuildMisuseOpen, ParameterOutOfRange) {
  npk_test::ExpectRefused([&] { return -npk_jit_param(m_, 2); },
                          Line(m_, "jit_param", "parameter index or argument count out of range: parameter 2 of 2"),
                          NPK_ERR_JIT_COUNT);
  ExpectPoisoned(NPK_ERR_JIT_COUNT);
}

TEST_F(BuildMisuseOpen, TooManyArguments) {
  int32_t a = npk_jit_param(m_, 0);
  for (int i = 0; i < 6; ++i) ASSERT_EQ(npk_jit_arg(m_, a), 0);
  npk_test::ExpectRefused([&] { return npk_jit_arg(m_, a); },
                          Line(m_, "jit_arg", "parameter index or argument count out of range: more than 6 arguments"),
                          NPK_ERR_JIT_COUNT);
  ExpectPoisoned(NPK_ERR_JIT_COUNT);
}

TEST_F(BuildMisuseOpen, ArgumentsNotMatchingTheCallee) {
  npk_jit_arg(m_, npk_jit_param(m_, 0));
  npk_test::ExpectRefused(
      [&] { return -npk_jit_call_c(m_, reinterpret_cast<void *>(static_cast<long (*)(long)>(&labs)), "i64(i64,i64)"); },
      Line(m_, "jit_call_c", "parameter index or argument count out of range: callee takes 2 arguments, 1 pushed"),
      NPK_ERR_JIT_COUNT);
  ExpectPoisoned(NPK_ERR_JIT_COUNT);
}

TEST_F(BuildMisuseOpen, ArgumentOfTheWrongType) {
  npk_jit_arg(m_, npk_jit_param(m_, 1));
  npk_test::ExpectRefused(
      [&] { return -npk_jit_call_c(m_, reinterpret_cast<void *>(static_cast<long (*)(long)>(&labs)), "i64(i64)"); },
      Line(m_, "jit_call_c", "type mismatch: argument 0: callee wants, caller gives (i64, f64)"), NPK_ERR_JIT_TYPE);
  ExpectPoisoned(NPK_ERR_JIT_TYPE);
}

TEST_F(BuildMisuseOpen, CalleeNotOfThisModule) {
  npk_jit_module *other = npk_jit_module_new();
  const unsigned char ret[] = {0xc3};
  npk_jit_fn theirs = npk_jit_module_add(other, ret, 1, npk_jit_sig_intern("void()"), nullptr);
  char reason[96];
  snprintf(reason, sizeof reason, "callee is not a function of this module or C address: handle %#llx",
           static_cast<unsigned long long>(theirs));
  npk_test::ExpectRefused([&] { return -npk_jit_call_fn(m_, theirs); }, Line(m_, "jit_call_fn", reason),
                          NPK_ERR_JIT_CALLEE);
  EXPECT_EQ(npk_jit_module_free(other), 0);
  ExpectPoisoned(NPK_ERR_JIT_CALLEE);
}

TEST_F(BuildMisuseOpen, NullCAddress) {
  npk_test::ExpectRefused([&] { return -npk_jit_call_c(m_, nullptr, "void()"); },
                          Line(m_, "jit_call_c", "callee is not a function of this module or C address: null address"),
                          NPK_ERR_JIT_CALLEE);
  ExpectPoisoned(NPK_ERR_JIT_CALLEE);
}

TEST_F(BuildMisuseOpen, UnknownOperationTypeAndMemoryKind) {
  int32_t a = npk_jit_param(m_, 0);
  npk_test::ExpectRefused([&] { return -npk_jit_op(m_, 999, a, a); },
                          Line(m_, "jit_op", "unknown operation, type or memory kind: op 999"), NPK_ERR_JIT_BAD_OP);
  npk_jit_module_free(m_);
  m_ = npk_jit_module_new();
  ASSERT_EQ(npk_jit_begin(m_, "i64(i64,f64)", nullptr), 0);
  npk_test::ExpectRefused([&] { return -npk_jit_var(m_, 0); },
                          Line(m_, "jit_var", "unknown operation, type or memory kind: type 0"), NPK_ERR_JIT_BAD_OP);
  npk_jit_module_free(m_);
  m_ = npk_jit_module_new();
  ASSERT_EQ(npk_jit_begin(m_, "i64(i64,f64)", nullptr), 0);
  npk_test::ExpectRefused([&] { return -npk_jit_load(m_, 77, npk_jit_param(m_, 0), 0); },
                          Line(m_, "jit_load", "unknown operation, type or memory kind: memory kind 77"),
                          NPK_ERR_JIT_BAD_OP);
  ExpectPoisoned(NPK_ERR_JIT_BAD_OP);
}

TEST_F(BuildMisuseOpen, LoadThroughANonPointer) {
  npk_test::ExpectRefused([&] { return -npk_jit_load(m_, NPK_JIT_MEM_i32, npk_jit_param(m_, 0), 0); },
                          Line(m_, "jit_load", "type mismatch: address must be ptr (address, loaded) (i64, i32)"),
                          NPK_ERR_JIT_TYPE);
  ExpectPoisoned(NPK_ERR_JIT_TYPE);
}

// Past 2^19 values a function refuses more (ids have 19 index bits).
TEST_F(BuildMisuseOpen, TooManyValues) {
  int32_t last = 0, code = 0;
  std::string out = StderrOf([&] {
    for (int i = 0; i < (1 << 19) + 2 && code == 0; ++i) {
      last = npk_jit_const_i64(m_, i);
      if (last < 0) code = -last;
    }
  });
  EXPECT_EQ(code, NPK_ERR_JIT_LIMIT);
  EXPECT_EQ(out, Line(m_, "jit_const_i64", "function too large or out of memory: too many values or out of memory"));
  ExpectPoisoned(NPK_ERR_JIT_LIMIT);
}

// A function whose code would pass the module's 4 MiB is refused by
// npk_jit_module_add, which prints the one line.
TEST(BuildMisuse, CodeLargerThanAModuleTakes) {
  npk_jit_module *m = npk_jit_module_new();
  ASSERT_EQ(npk_jit_begin(m, "void(ptr)", "huge"), 0);
  int32_t p = npk_jit_param(m, 0);
  // Each store of an f64 constant is a mov, a movq and a movsd: over 20 bytes.
  for (int i = 0; i < 220000; ++i) ASSERT_EQ(npk_jit_store(m, NPK_JIT_MEM_f64, p, 8 * (i % 64), npk_jit_const_f64(m, i + 0.5)), 0);
  npk_jit_ret_void(m);
  int32_t err = 0;
  std::string out = StderrOf([&] { EXPECT_EQ(npk_jit_end(m, &err), 0u); });
  EXPECT_EQ(err, NPK_ERR_JIT_ADD);
  EXPECT_EQ(out, npk_test::WildxPanicLine("jit_module_add", m, "code length out of range (1 byte to 4 MiB)"));
  // The module still builds.
  ASSERT_EQ(npk_jit_begin(m, "i32()", nullptr), 0);
  npk_jit_ret(m, npk_jit_const_i32(m, 5));
  EXPECT_NE(npk_jit_end(m, nullptr), 0u);
  EXPECT_EQ(npk_jit_module_free(m), 0);
}

// Garbage in every argument position never crashes.
TEST(BuildMisuse, GarbageArgumentsNeverCrash) {
  npk_jit_module *m = npk_jit_module_new();
  ASSERT_EQ(npk_jit_begin(m, "i64(ptr,i64)", nullptr), 0);
  uint64_t x = 12345;
  std::string out = StderrOf([&] {
    for (int i = 0; i < 2000; ++i) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      int32_t a = static_cast<int32_t>(x), b = static_cast<int32_t>(x >> 32);
      switch (i % 8) {
        case 0: npk_jit_op(m, a & 63, a, b); break;
        case 1: npk_jit_select(m, a, b, a); break;
        case 2: npk_jit_load(m, a & 15, b, a); break;
        case 3: npk_jit_store(m, a & 15, b, a, b); break;
        case 4: npk_jit_branch(m, a, b); break;
        case 5: npk_jit_set(m, a, b); break;
        case 6: npk_jit_cast(m, a & 7, b); break;
        case 7: npk_jit_call_fn(m, x); break;
      }
    }
  });
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2000);
  int32_t err = 0;
  StderrOf([&] { EXPECT_EQ(npk_jit_end(m, &err), 0u); });
  EXPECT_GE(err, NPK_ERR_JIT_MODULE);
  EXPECT_LT(err, NPK_ERR_JIT_LAST);
  EXPECT_EQ(npk_jit_module_free(m), 0);
}

}  // namespace
