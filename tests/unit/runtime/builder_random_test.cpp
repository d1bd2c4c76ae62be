// The builder against an interpreter: random programs over many variables
// (more than there are registers), with branches over blocks, counted loops
// (nested), calls into C across which values stay live, loads and stores
// through a pointer, integer, f64 and conversion operations. Each program is
// built once and run on several inputs; its result and the memory it wrote
// must equal what the interpreter computes from the same program.
#include <npk/runtime.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "code_internal.h"
#include "runtime_test_support.h"

namespace {

template <class R, class... A>
NPK_CALLS_JIT_CODE R Call(void *entry, A... args) {
  R (*fn)(A...);
  memcpy(&fn, &entry, sizeof fn);
  return fn(args...);
}

struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    return s;
  }
  int below(int n) { return static_cast<int>(next() % static_cast<uint64_t>(n)); }
  int64_t value() {
    static const int64_t kEdges[] = {0, 1, -1, 2, 63, 64, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, 0x5555};
    return below(3) == 0 ? kEdges[below(11)] : static_cast<int64_t>(next()) >> below(64);
  }
};

// x86 semantics of cvttsd2si (what the builder's f64 -> i64 gives).
int64_t TruncToI64(double f) {
  if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0)) return INT64_MIN;
  return static_cast<int64_t>(f);
}

int64_t Mix(int64_t a, int64_t b, double c, int64_t d) {
  return static_cast<int64_t>((static_cast<uint64_t>(a) * 31 + static_cast<uint64_t>(b)) ^ static_cast<uint64_t>(d)) +
         TruncToI64(c * 0.25);
}

// A statement of the program tree.
struct Stmt {
  enum Kind { kOp, kConst, kCmp, kSelect, kDiv, kCall, kLoad, kStore, kFloat, kToInt, kIf, kLoop } kind;
  int op = 0, d = 0, a = 0, b = 0, c = 0;
  int64_t imm = 0;
  std::vector<Stmt> body;  // kIf (skipped when var a != 0), kLoop (imm times)
};

constexpr int kFloats = 3, kSlots = 16;

struct Program {
  int nvars;
  std::vector<Stmt> body;
};

std::vector<Stmt> Generate(Rng &r, int nvars, int depth, int count) {
  static const int kIntOps[] = {NPK_JIT_OP_add, NPK_JIT_OP_sub, NPK_JIT_OP_mul, NPK_JIT_OP_and, NPK_JIT_OP_or,
                                NPK_JIT_OP_xor, NPK_JIT_OP_shl, NPK_JIT_OP_shr, NPK_JIT_OP_sar};
  std::vector<Stmt> out;
  for (int i = 0; i < count; ++i) {
    Stmt s;
    s.d = r.below(nvars), s.a = r.below(nvars), s.b = r.below(nvars), s.c = r.below(nvars);
    int pick = r.below(depth < 2 ? 24 : 22);
    if (pick < 8) {
      s.kind = Stmt::kOp, s.op = kIntOps[r.below(9)];
    } else if (pick < 10) {
      s.kind = Stmt::kOp, s.op = kIntOps[r.below(9)], s.b = -1, s.imm = r.value();  // constant operand
    } else if (pick < 11) {
      s.kind = Stmt::kConst, s.imm = r.value();
    } else if (pick < 12) {
      s.kind = Stmt::kCmp, s.op = NPK_JIT_OP_eq + r.below(10);
    } else if (pick < 13) {
      s.kind = Stmt::kSelect;
    } else if (pick < 14) {
      s.kind = Stmt::kDiv, s.op = NPK_JIT_OP_sdiv + r.below(4);
    } else if (pick < 15) {
      s.kind = Stmt::kCall;
    } else if (pick < 16) {
      s.kind = Stmt::kLoad, s.imm = r.below(kSlots);
    } else if (pick < 17) {
      s.kind = Stmt::kStore, s.imm = r.below(kSlots);
    } else if (pick < 18) {
      s.kind = Stmt::kFloat, s.op = NPK_JIT_OP_fadd + r.below(3), s.c = r.below(kFloats);
    } else if (pick < 19) {
      s.kind = Stmt::kToInt, s.c = r.below(kFloats);
    } else if (pick < 20) {
      s.kind = Stmt::kOp, s.op = kIntOps[r.below(6)];
    } else if (pick < 22) {
      s.kind = Stmt::kIf, s.body = Generate(r, nvars, depth + 1, 1 + r.below(6));
    } else {
      s.kind = Stmt::kLoop, s.imm = 1 + r.below(3), s.body = Generate(r, nvars, depth + 1, 1 + r.below(8));
    }
    out.push_back(std::move(s));
  }
  return out;
}

// ---- the interpreter ----

struct State {
  std::vector<int64_t> v;
  double f[kFloats];
  int64_t *mem;
};

int64_t IntOp(int op, int64_t a, int64_t b) {
  uint64_t ua = static_cast<uint64_t>(a), ub = static_cast<uint64_t>(b);
  switch (op) {
    case NPK_JIT_OP_add: return static_cast<int64_t>(ua + ub);
    case NPK_JIT_OP_sub: return static_cast<int64_t>(ua - ub);
    case NPK_JIT_OP_mul: return static_cast<int64_t>(ua * ub);
    case NPK_JIT_OP_and: return a & b;
    case NPK_JIT_OP_or: return a | b;
    case NPK_JIT_OP_xor: return a ^ b;
    case NPK_JIT_OP_shl: return static_cast<int64_t>(ua << (ub & 63));
    case NPK_JIT_OP_shr: return static_cast<int64_t>(ua >> (ub & 63));
    case NPK_JIT_OP_sar: return a >> (ub & 63);
    case NPK_JIT_OP_eq: return a == b;
    case NPK_JIT_OP_ne: return a != b;
    case NPK_JIT_OP_slt: return a < b;
    case NPK_JIT_OP_sle: return a <= b;
    case NPK_JIT_OP_sgt: return a > b;
    case NPK_JIT_OP_sge: return a >= b;
    case NPK_JIT_OP_ult: return ua < ub;
    case NPK_JIT_OP_ule: return ua <= ub;
    case NPK_JIT_OP_ugt: return ua > ub;
    case NPK_JIT_OP_uge: return ua >= ub;
  }
  return 0;
}

// The divisor the program uses: never 0 or -1.
int64_t SafeDivisor(int64_t b) { return (b & 0xffff) + 1; }

void Interpret(const std::vector<Stmt> &body, State &st) {
  for (const Stmt &s : body) {
    int64_t *v = st.v.data();
    switch (s.kind) {
      case Stmt::kOp: v[s.d] = IntOp(s.op, v[s.a], s.b < 0 ? s.imm : v[s.b]); break;
      case Stmt::kConst: v[s.d] = s.imm; break;
      case Stmt::kCmp: v[s.d] = IntOp(s.op, v[s.a], v[s.b]); break;
      case Stmt::kSelect: v[s.d] = static_cast<int32_t>(v[s.c]) != 0 ? v[s.a] : v[s.b]; break;
      case Stmt::kDiv: {
        int64_t a = v[s.a], b = SafeDivisor(v[s.b]);
        uint64_t ua = static_cast<uint64_t>(a), ub = static_cast<uint64_t>(b);
        v[s.d] = s.op == NPK_JIT_OP_sdiv ? a / b : s.op == NPK_JIT_OP_srem ? a % b
               : s.op == NPK_JIT_OP_udiv ? static_cast<int64_t>(ua / ub) : static_cast<int64_t>(ua % ub);
        break;
      }
      case Stmt::kCall: v[s.d] = Mix(v[s.a], v[s.b], st.f[s.c % kFloats], v[s.c]); break;
      case Stmt::kLoad: v[s.d] = st.mem[s.imm]; break;
      case Stmt::kStore: st.mem[s.imm] = v[s.a]; break;
      case Stmt::kFloat: {
        double x = static_cast<double>(v[s.a]) * 0.5;
        double &f = st.f[s.c];
        f = s.op == NPK_JIT_OP_fadd ? f + x : s.op == NPK_JIT_OP_fsub ? f - x : f * 0.5 + x;
        break;
      }
      case Stmt::kToInt: v[s.d] = TruncToI64(st.f[s.c]); break;
      case Stmt::kIf:
        if (static_cast<int32_t>(v[s.a]) == 0) Interpret(s.body, st);
        break;
      case Stmt::kLoop:
        for (int64_t k = 0; k < s.imm; ++k) Interpret(s.body, st);
        break;
    }
  }
}

// ---- the same program through the builder ----

struct Emit {
  npk_jit_module *m;
  std::vector<int32_t> vars;
  int32_t floats[kFloats];
  int32_t mem;
  bool ok = true;

  int32_t Check(int32_t id) {
    if (id <= 0) ok = false;
    return id;
  }
  int32_t Const(int64_t value) { return Check(npk_jit_const_i64(m, value)); }
  void Set(int d, int32_t value) {
    if (npk_jit_set(m, vars[d], value) != 0) ok = false;
  }
  void Body(const std::vector<Stmt> &body) {
    for (const Stmt &s : body) {
      switch (s.kind) {
        case Stmt::kOp:
          Set(s.d, Check(npk_jit_op(m, s.op, vars[s.a], s.b < 0 ? Const(s.imm) : vars[s.b])));
          break;
        case Stmt::kConst: Set(s.d, Const(s.imm)); break;
        case Stmt::kCmp:
          Set(s.d, Check(npk_jit_cast(m, NPK_JIT_TYPE_i64, Check(npk_jit_op(m, s.op, vars[s.a], vars[s.b])))));
          break;
        case Stmt::kSelect: {
          int32_t c = Check(npk_jit_cast(m, NPK_JIT_TYPE_i32, vars[s.c]));
          Set(s.d, Check(npk_jit_select(m, c, vars[s.a], vars[s.b])));
          break;
        }
        case Stmt::kDiv: {
          int32_t divisor = Check(npk_jit_op(m, NPK_JIT_OP_add, Check(npk_jit_op(m, NPK_JIT_OP_and, vars[s.b], Const(0xffff))), Const(1)));
          Set(s.d, Check(npk_jit_op(m, s.op, vars[s.a], divisor)));
          break;
        }
        case Stmt::kCall:
          npk_jit_arg(m, vars[s.a]);
          npk_jit_arg(m, vars[s.b]);
          npk_jit_arg(m, floats[s.c % kFloats]);
          npk_jit_arg(m, vars[s.c]);
          Set(s.d, Check(npk_jit_call_c(m, reinterpret_cast<void *>(&Mix), "i64(i64,i64,f64,i64)")));
          break;
        case Stmt::kLoad: Set(s.d, Check(npk_jit_load(m, NPK_JIT_MEM_i64, mem, static_cast<int32_t>(s.imm * 8)))); break;
        case Stmt::kStore:
          if (npk_jit_store(m, NPK_JIT_MEM_i64, mem, static_cast<int32_t>(s.imm * 8), vars[s.a]) != 0) ok = false;
          break;
        case Stmt::kFloat: {
          int32_t x = Check(npk_jit_op(m, NPK_JIT_OP_fmul, Check(npk_jit_cast(m, NPK_JIT_TYPE_f64, vars[s.a])),
                                       Check(npk_jit_const_f64(m, 0.5))));
          int32_t f = floats[s.c], r;
          if (s.op == NPK_JIT_OP_fadd)
            r = Check(npk_jit_op(m, NPK_JIT_OP_fadd, f, x));
          else if (s.op == NPK_JIT_OP_fsub)
            r = Check(npk_jit_op(m, NPK_JIT_OP_fsub, f, x));
          else
            r = Check(npk_jit_op(m, NPK_JIT_OP_fadd, Check(npk_jit_op(m, NPK_JIT_OP_fmul, f, Check(npk_jit_const_f64(m, 0.5)))), x));
          if (npk_jit_set(m, f, r) != 0) ok = false;
          break;
        }
        case Stmt::kToInt: Set(s.d, Check(npk_jit_cast(m, NPK_JIT_TYPE_i64, floats[s.c]))); break;
        case Stmt::kIf: {
          int32_t skip = Check(npk_jit_label(m));
          npk_jit_branch(m, Check(npk_jit_cast(m, NPK_JIT_TYPE_i32, vars[s.a])), skip);
          Body(s.body);
          npk_jit_place(m, skip);
          break;
        }
        case Stmt::kLoop: {
          int32_t count = Check(npk_jit_var(m, NPK_JIT_TYPE_i64));
          npk_jit_set(m, count, Const(s.imm));
          int32_t top = Check(npk_jit_label(m)), done = Check(npk_jit_label(m));
          npk_jit_place(m, top);
          npk_jit_branch(m, Check(npk_jit_op(m, NPK_JIT_OP_sle, count, Const(0))), done);
          Body(s.body);
          npk_jit_set(m, count, Check(npk_jit_op(m, NPK_JIT_OP_sub, count, Const(1))));
          npk_jit_jump(m, top);
          npk_jit_place(m, done);
          break;
        }
      }
    }
  }
};

// The result both compute: every variable and float folded together.
int64_t Fold(const State &st) {
  uint64_t h = 0;
  for (int64_t x : st.v) h = h * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(x);
  for (double f : st.f) h = h * 31 + static_cast<uint64_t>(TruncToI64(f));
  return static_cast<int64_t>(h);
}

class BuildRandom : public testing::TestWithParam<const char *> {
 protected:
  void SetUp() override {
    if (strcmp(GetParam(), "mprotect") == 0 && npk_test::MdweOn())
      GTEST_SKIP() << "the mprotect backend cannot make pages executable under PR_SET_MDWE";
    ASSERT_TRUE(npkrt::code_test_use_backend(GetParam()));
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, BuildRandom, testing::Values("memfd", "mprotect"),
                         [](const testing::TestParamInfo<const char *> &info) { return std::string(info.param); });

TEST_P(BuildRandom, ProgramsComputeWhatTheInterpreterComputes) {
  Rng r{0x243F6A8885A308D3ull};
  constexpr int kModules = 40, kPerModule = 25;
  int checked = 0;
  for (int mod = 0; mod < kModules; ++mod) {
    npk_jit_module *m = npk_jit_module_new();
    std::vector<Program> programs;
    std::vector<npk_jit_fn> fns;
    for (int k = 0; k < kPerModule; ++k) {
      Program p;
      p.nvars = 2 + r.below(k % 3 == 0 ? 40 : 10);  // some with far more variables than registers
      p.body = Generate(r, p.nvars, 0, 5 + r.below(40));
      ASSERT_EQ(npk_jit_begin(m, "i64(ptr,i64,i64)", nullptr), 0);
      Emit e{m, {}, {}, npk_jit_param(m, 0)};
      for (int i = 0; i < p.nvars; ++i) {
        int32_t var = e.Check(npk_jit_var(m, NPK_JIT_TYPE_i64));
        // Variables start as the inputs mixed with their index, some as 0.
        if (i % 4 != 3) npk_jit_set(m, var, e.Check(npk_jit_op(m, NPK_JIT_OP_add, npk_jit_param(m, 1 + i % 2), e.Const(i * 7))));
        e.vars.push_back(var);
      }
      for (int32_t &f : e.floats) {
        f = e.Check(npk_jit_var(m, NPK_JIT_TYPE_f64));
        npk_jit_set(m, f, e.Check(npk_jit_const_f64(m, 1.5)));
      }
      e.Body(p.body);
      // Fold as the interpreter does, through f64 -> i64 for the floats.
      int32_t h = e.Const(0);
      for (int32_t var : e.vars)
        h = e.Check(npk_jit_op(m, NPK_JIT_OP_add, e.Check(npk_jit_op(m, NPK_JIT_OP_mul, h, e.Const(static_cast<int64_t>(0x9E3779B97F4A7C15ull)))), var));
      for (int32_t f : e.floats)
        h = e.Check(npk_jit_op(m, NPK_JIT_OP_add, e.Check(npk_jit_op(m, NPK_JIT_OP_mul, h, e.Const(31))),
                               e.Check(npk_jit_cast(m, NPK_JIT_TYPE_i64, f))));
      npk_jit_ret(m, h);
      ASSERT_TRUE(e.ok) << "program " << mod << "/" << k << " was refused";
      int32_t err = 0;
      npk_jit_fn f = npk_jit_end(m, &err);
      ASSERT_NE(f, 0u) << "err " << err;
      programs.push_back(std::move(p));
      fns.push_back(f);
    }
    ASSERT_EQ(npk_jit_module_seal(m), 0);
    npk_jit_sig sig = npk_jit_sig_intern("i64(ptr,i64,i64)");
    for (size_t k = 0; k < fns.size(); ++k) {
      void *entry = npk_jit_fn_entry(fns[k], sig);
      for (int input = 0; input < 4; ++input) {
        int64_t x = r.value(), y = r.value();
        int64_t mem_jit[kSlots], mem_ref[kSlots];
        for (int i = 0; i < kSlots; ++i) mem_jit[i] = mem_ref[i] = r.value();
        State st;
        const Program &p = programs[k];
        for (int i = 0; i < p.nvars; ++i)
          st.v.push_back(i % 4 != 3 ? static_cast<int64_t>(static_cast<uint64_t>(i % 2 == 0 ? x : y) + static_cast<uint64_t>(i * 7)) : 0);
        for (double &f : st.f) f = 1.5;
        st.mem = mem_ref;
        Interpret(p.body, st);
        int64_t want = Fold(st);
        int64_t got = Call<int64_t>(entry, static_cast<void *>(mem_jit), x, y);
        ASSERT_EQ(got, want) << "module " << mod << " program " << k << " input " << input;
        ASSERT_EQ(memcmp(mem_jit, mem_ref, sizeof mem_ref), 0) << "module " << mod << " program " << k;
        ++checked;
      }
    }
    ASSERT_EQ(npk_jit_module_free(m), 0);
  }
  EXPECT_EQ(checked, kModules * kPerModule * 4);
}

}  // namespace
