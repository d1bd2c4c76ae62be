// The builder's encoder (runtime/src/x64_encode.h) against asmjit's
// x86::Assembler: every form the builder emits, over every register
// combination and the displacement/immediate sizes where encodings change,
// must produce exactly asmjit's bytes.
#include <asmjit/x86.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "x64_encode.h"

namespace {

namespace x64 = npkrt::x64;
namespace aj = asmjit;
using Bytes = std::vector<uint8_t>;

template <class Emit>
Bytes Ours(Emit &&emit) {
  uint8_t buffer[2 * x64::kMaxInsnBytes] = {};
  x64::Out out{buffer};
  emit(out);
  EXPECT_LE(out.p - buffer, static_cast<ptrdiff_t>(x64::kMaxInsnBytes));
  return Bytes(buffer, out.p);
}

template <class Emit>
Bytes Theirs(Emit &&emit) {
  aj::CodeHolder code;
  code.init(aj::Environment(aj::Arch::kX64));
  aj::x86::Assembler a(&code);
  emit(a);
  code.flatten();
  code.resolveUnresolvedLinks();
  const aj::CodeBuffer &buffer = code.textSection()->buffer();
  return Bytes(buffer.data(), buffer.data() + buffer.size());
}

std::string Hex(const Bytes &bytes) {
  std::string text;
  char byte[4];
  for (uint8_t b : bytes) {
    snprintf(byte, sizeof byte, "%02x ", b);
    text += byte;
  }
  return text;
}

// Compares and counts; a mismatch names the form.
struct Checker {
  int compared = 0;
  template <class A, class B>
  void operator()(const std::string &form, A &&ours, B &&theirs) {
    ++compared;
    Bytes mine = Ours(ours), expected = Theirs(theirs);
    EXPECT_EQ(Hex(mine), Hex(expected)) << form;
  }
};

aj::x86::Gp Q(int r) { return aj::x86::gpq(static_cast<uint32_t>(r)); }
aj::x86::Gp D(int r) { return aj::x86::gpd(static_cast<uint32_t>(r)); }
aj::x86::Gp W(bool w64, int r) { return w64 ? Q(r) : D(r); }
aj::x86::Gp B8(int r) { return aj::x86::gpb_lo(static_cast<uint32_t>(r)); }
aj::x86::Xmm X(int r) { return aj::x86::xmm(static_cast<uint32_t>(r)); }
std::string Name(const char *form, int a, int b = -1, int64_t c = 0) {
  char text[96];
  snprintf(text, sizeof text, "%s %d %d %lld", form, a, b, static_cast<long long>(c));
  return text;
}

const int32_t kDisps[] = {0, 1, -1, 8, 127, 128, -128, -129, 4096, -100000, INT32_MAX, INT32_MIN};
const int64_t kImm32s[] = {0, 1, -1, 2, 127, 128, -128, -129, 1000, -1000, INT32_MAX, INT32_MIN};
const int64_t kImm64s[] = {0,          1,          -1,         INT32_MAX,        INT32_MIN,
                           0x80000000, 0xffffffff, -0x80000001ll, INT64_MAX,     INT64_MIN,
                           0x123456789abcdefll};

TEST(X64Encode, TwoRegisterAluFormsMatchAsmjit) {
  Checker check;
  struct Form {
    x64::AluOp op;
    aj::InstId id;
  } forms[] = {{x64::ADD, aj::x86::Inst::kIdAdd}, {x64::OR, aj::x86::Inst::kIdOr},   {x64::AND, aj::x86::Inst::kIdAnd},
               {x64::SUB, aj::x86::Inst::kIdSub}, {x64::XOR, aj::x86::Inst::kIdXor}, {x64::CMP, aj::x86::Inst::kIdCmp},
               {x64::TEST, aj::x86::Inst::kIdTest}, {x64::MOV, aj::x86::Inst::kIdMov}};
  for (const Form &form : forms)
    for (bool w64 : {false, true})
      for (int d = 0; d < 16; ++d)
        for (int s = 0; s < 16; ++s)
          check(Name("alu_rr", d, s, form.op), [&](x64::Out &o) { x64::alu_rr(o, form.op, w64, d, s); },
                [&](aj::x86::Assembler &a) { a.emit(form.id, W(w64, d), W(w64, s)); });
  for (bool w64 : {false, true})
    for (int d = 0; d < 16; ++d)
      for (int s = 0; s < 16; ++s) {
        check(Name("imul", d, s, w64), [&](x64::Out &o) { x64::imul_rr(o, w64, d, s); },
              [&](aj::x86::Assembler &a) { a.imul(W(w64, d), W(w64, s)); });
        for (int cc = 0; cc < 16; ++cc)
          check(Name("cmov", d, s, cc), [&](x64::Out &o) { x64::cmov(o, static_cast<x64::Cond>(cc), w64, d, s); },
                [&](aj::x86::Assembler &a) {
                  a.emit(aj::x86::Inst::cmovccFromCond(static_cast<aj::x86::CondCode>(cc)), W(w64, d), W(w64, s));
                });
      }
  for (int d = 0; d < 16; ++d)
    for (int s = 0; s < 16; ++s)
    {
      check(Name("movzx_r8", d, s), [&](x64::Out &o) { x64::movzx_r8(o, d, s); },
            [&](aj::x86::Assembler &a) { a.movzx(D(d), B8(s)); });
      check(Name("movsxd", d, s), [&](x64::Out &o) { x64::movsxd(o, d, s); },
            [&](aj::x86::Assembler &a) { a.movsxd(Q(d), D(s)); });
    }
  EXPECT_GT(check.compared, 4000);
}

TEST(X64Encode, ImmediateAndUnaryFormsMatchAsmjit) {
  Checker check;
  struct Form {
    x64::AluExt ext;
    aj::InstId id;
  } forms[] = {{x64::EXT_ADD, aj::x86::Inst::kIdAdd}, {x64::EXT_OR, aj::x86::Inst::kIdOr},
               {x64::EXT_AND, aj::x86::Inst::kIdAnd}, {x64::EXT_SUB, aj::x86::Inst::kIdSub},
               {x64::EXT_XOR, aj::x86::Inst::kIdXor}, {x64::EXT_CMP, aj::x86::Inst::kIdCmp}};
  for (bool w64 : {false, true})
    for (int r = 0; r < 16; ++r) {
      for (const Form &form : forms)
        for (int64_t imm : kImm32s)
          check(Name("alu_ri", r, form.ext, imm),
                [&](x64::Out &o) { x64::alu_ri(o, form.ext, w64, r, static_cast<int32_t>(imm)); },
                [&](aj::x86::Assembler &a) { a.emit(form.id, W(w64, r), aj::Imm(imm)); });
      struct Unary {
        x64::UnaryExt ext;
        aj::InstId id;
      } unaries[] = {{x64::NOT, aj::x86::Inst::kIdNot}, {x64::NEG, aj::x86::Inst::kIdNeg},
                     {x64::DIV, aj::x86::Inst::kIdDiv}, {x64::IDIV, aj::x86::Inst::kIdIdiv}};
      for (const Unary &u : unaries)
        check(Name("unary", r, u.ext, w64), [&](x64::Out &o) { x64::unary(o, u.ext, w64, r); },
              [&](aj::x86::Assembler &a) { a.emit(u.id, W(w64, r)); });
      struct Shift {
        x64::ShiftExt ext;
        aj::InstId id;
      } shifts[] = {{x64::SHL, aj::x86::Inst::kIdShl}, {x64::SHR, aj::x86::Inst::kIdShr},
                    {x64::SAR, aj::x86::Inst::kIdSar}};
      for (const Shift &s : shifts) {
        check(Name("shift_cl", r, s.ext, w64), [&](x64::Out &o) { x64::shift_cl(o, s.ext, w64, r); },
              [&](aj::x86::Assembler &a) { a.emit(s.id, W(w64, r), aj::x86::cl); });
        for (int count : {1, 2, 7, 31, 63}) {
          if (!w64 && count > 31) continue;
          check(Name("shift_ri", r, s.ext, count),
                [&](x64::Out &o) { x64::shift_ri(o, s.ext, w64, r, static_cast<uint8_t>(count)); },
                [&](aj::x86::Assembler &a) { a.emit(s.id, W(w64, r), aj::Imm(count)); });
        }
      }
    }
  for (int r = 0; r < 16; ++r) {
    for (int64_t imm : kImm32s)
      check(Name("mov_ri32", r, -1, imm), [&](x64::Out &o) { x64::mov_ri32(o, r, static_cast<int32_t>(imm)); },
            [&](aj::x86::Assembler &a) { a.mov(D(r), aj::Imm(imm)); });
    for (int64_t imm : kImm64s)
      check(Name("mov_ri64", r, -1, imm), [&](x64::Out &o) { x64::mov_ri64(o, r, imm); },
            [&](aj::x86::Assembler &a) { a.mov(Q(r), aj::Imm(imm)); });
    for (int cc = 0; cc < 16; ++cc)
      check(Name("setcc", r, cc), [&](x64::Out &o) { x64::setcc(o, static_cast<x64::Cond>(cc), r); },
            [&](aj::x86::Assembler &a) {
              a.emit(aj::x86::Inst::setccFromCond(static_cast<aj::x86::CondCode>(cc)), B8(r));
            });
    check(Name("call_r", r), [&](x64::Out &o) { x64::call_r(o, r); }, [&](aj::x86::Assembler &a) { a.call(Q(r)); });
    check(Name("push", r), [&](x64::Out &o) { x64::push(o, r); }, [&](aj::x86::Assembler &a) { a.push(Q(r)); });
    check(Name("pop", r), [&](x64::Out &o) { x64::pop(o, r); }, [&](aj::x86::Assembler &a) { a.pop(Q(r)); });
  }
  check("cdq", [](x64::Out &o) { x64::cdq(o); }, [](aj::x86::Assembler &a) { a.cdq(aj::x86::edx, aj::x86::eax); });
  check("cqo", [](x64::Out &o) { x64::cqo(o); }, [](aj::x86::Assembler &a) { a.cqo(aj::x86::rdx, aj::x86::rax); });
  check("ret", [](x64::Out &o) { x64::ret(o); }, [](aj::x86::Assembler &a) { a.ret(); });
  check("ud2", [](x64::Out &o) { x64::ud2(o); }, [](aj::x86::Assembler &a) { a.ud2(); });
  EXPECT_GT(check.compared, 2000);
}

TEST(X64Encode, LoadsAndStoresMatchAsmjitForEveryBaseAndDisplacement) {
  Checker check;
  for (int base = 0; base < 16; ++base)
    for (int r = 0; r < 16; ++r)
      for (int32_t disp : kDisps) {
        auto at = [&](uint32_t size) { return aj::x86::ptr(Q(base), disp, size); };
        check(Name("ld_i8", r, base, disp), [&](x64::Out &o) { x64::load(o, x64::LD_I8, r, base, disp); },
              [&](aj::x86::Assembler &a) { a.movsx(D(r), at(1)); });
        check(Name("ld_u8", r, base, disp), [&](x64::Out &o) { x64::load(o, x64::LD_U8, r, base, disp); },
              [&](aj::x86::Assembler &a) { a.movzx(D(r), at(1)); });
        check(Name("ld_i16", r, base, disp), [&](x64::Out &o) { x64::load(o, x64::LD_I16, r, base, disp); },
              [&](aj::x86::Assembler &a) { a.movsx(D(r), at(2)); });
        check(Name("ld_u16", r, base, disp), [&](x64::Out &o) { x64::load(o, x64::LD_U16, r, base, disp); },
              [&](aj::x86::Assembler &a) { a.movzx(D(r), at(2)); });
        check(Name("ld_32", r, base, disp), [&](x64::Out &o) { x64::load(o, x64::LD_32, r, base, disp); },
              [&](aj::x86::Assembler &a) { a.mov(D(r), at(4)); });
        check(Name("ld_64", r, base, disp), [&](x64::Out &o) { x64::load(o, x64::LD_64, r, base, disp); },
              [&](aj::x86::Assembler &a) { a.mov(Q(r), at(8)); });
        check(Name("st8", r, base, disp), [&](x64::Out &o) { x64::store(o, 1, base, disp, r); },
              [&](aj::x86::Assembler &a) { a.mov(at(1), B8(r)); });
        check(Name("st16", r, base, disp), [&](x64::Out &o) { x64::store(o, 2, base, disp, r); },
              [&](aj::x86::Assembler &a) { a.mov(at(2), aj::x86::gpw(static_cast<uint32_t>(r))); });
        check(Name("st32", r, base, disp), [&](x64::Out &o) { x64::store(o, 4, base, disp, r); },
              [&](aj::x86::Assembler &a) { a.mov(at(4), D(r)); });
        check(Name("st64", r, base, disp), [&](x64::Out &o) { x64::store(o, 8, base, disp, r); },
              [&](aj::x86::Assembler &a) { a.mov(at(8), Q(r)); });
        check(Name("movsd_load", r, base, disp), [&](x64::Out &o) { x64::movsd_load(o, r, base, disp); },
              [&](aj::x86::Assembler &a) { a.movsd(X(r), at(8)); });
        check(Name("movsd_store", r, base, disp), [&](x64::Out &o) { x64::movsd_store(o, base, disp, r); },
              [&](aj::x86::Assembler &a) { a.movsd(at(8), X(r)); });
      }
  EXPECT_EQ(check.compared, 16 * 16 * 12 * 12);
}

TEST(X64Encode, Sse2FormsMatchAsmjit) {
  Checker check;
  for (int d = 0; d < 16; ++d)
    for (int s = 0; s < 16; ++s) {
      struct Form {
        x64::SseOp op;
        aj::InstId id;
      } forms[] = {{x64::ADDSD, aj::x86::Inst::kIdAddsd}, {x64::SUBSD, aj::x86::Inst::kIdSubsd},
                   {x64::MULSD, aj::x86::Inst::kIdMulsd}, {x64::DIVSD, aj::x86::Inst::kIdDivsd}};
      for (const Form &form : forms)
        check(Name("arith_sd", d, s, form.op), [&](x64::Out &o) { x64::arith_sd(o, form.op, d, s); },
              [&](aj::x86::Assembler &a) { a.emit(form.id, X(d), X(s)); });
      check(Name("movsd_rr", d, s), [&](x64::Out &o) { x64::movsd_rr(o, d, s); },
            [&](aj::x86::Assembler &a) { a.movsd(X(d), X(s)); });
      check(Name("ucomisd", d, s), [&](x64::Out &o) { x64::ucomisd(o, d, s); },
            [&](aj::x86::Assembler &a) { a.ucomisd(X(d), X(s)); });
      check(Name("xorps", d, s), [&](x64::Out &o) { x64::xorps(o, d, s); },
            [&](aj::x86::Assembler &a) { a.xorps(X(d), X(s)); });
      check(Name("movq_xr", d, s), [&](x64::Out &o) { x64::movq_xr(o, d, s); },
            [&](aj::x86::Assembler &a) { a.movq(X(d), Q(s)); });
      check(Name("movq_rx", d, s), [&](x64::Out &o) { x64::movq_rx(o, d, s); },
            [&](aj::x86::Assembler &a) { a.movq(Q(d), X(s)); });
      for (bool w64 : {false, true}) {
        check(Name("cvtsi2sd", d, s, w64), [&](x64::Out &o) { x64::cvtsi2sd(o, w64, d, s); },
              [&](aj::x86::Assembler &a) { a.cvtsi2sd(X(d), W(w64, s)); });
        check(Name("cvttsd2si", d, s, w64), [&](x64::Out &o) { x64::cvttsd2si(o, w64, d, s); },
              [&](aj::x86::Assembler &a) { a.cvttsd2si(W(w64, d), X(s)); });
      }
    }
  EXPECT_EQ(check.compared, 16 * 16 * 13);
}

// Branches: asmjit picks rel32 for a forward label and for a backward one out
// of rel8 reach; the builder always emits rel32.
TEST(X64Encode, Rel32BranchesAndCallsMatchAsmjit) {
  Checker check;
  for (int gap : {0, 1, 200, 70000}) {
    auto forward = [&](auto branch) {
      return [&, branch](aj::x86::Assembler &a) {
        aj::Label label = a.newLabel();
        branch(a, label);
        for (int i = 0; i < gap; ++i) a.db(0x90);
        a.bind(label);
      };
    };
    auto padded = [&](uint8_t *(*emit)(x64::Out &, int32_t)) {
      return [&, emit](x64::Out &o) { emit(o, gap); };
    };
    // Ours without the padding: compare the instruction bytes only.
    auto first = [](Bytes bytes, size_t n) { return Bytes(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n)); };
    Bytes jmp = Theirs(forward([](aj::x86::Assembler &a, aj::Label l) { a.jmp(l); }));
    EXPECT_EQ(Hex(first(jmp, 5)), Hex(Ours(padded(x64::jmp_rel32)))) << "jmp " << gap;
    Bytes call = Theirs(forward([](aj::x86::Assembler &a, aj::Label l) { a.call(l); }));
    EXPECT_EQ(Hex(first(call, 5)), Hex(Ours(padded(x64::call_rel32)))) << "call " << gap;
    for (int cc = 0; cc < 16; ++cc) {
      Bytes jcc = Theirs(forward([cc](aj::x86::Assembler &a, aj::Label l) {
        a.emit(aj::x86::Inst::jccFromCond(static_cast<aj::x86::CondCode>(cc)), l);
      }));
      EXPECT_EQ(Hex(first(jcc, 6)), Hex(Ours([&](x64::Out &o) { x64::jcc_rel32(o, static_cast<x64::Cond>(cc), gap); })))
          << "jcc " << cc << " " << gap;
      ++check.compared;
    }
    // Backward, beyond rel8: the displacement is negative.
    if (gap >= 200) {
      Bytes back = Theirs([&](aj::x86::Assembler &a) {
        aj::Label label = a.newLabel();
        a.bind(label);
        for (int i = 0; i < gap; ++i) a.db(0x90);
        a.jmp(label);
      });
      Bytes tail(back.end() - 5, back.end());
      EXPECT_EQ(Hex(tail), Hex(Ours([&](x64::Out &o) { x64::jmp_rel32(o, -gap - 5); })));
    }
  }
  EXPECT_EQ(check.compared, 64);
}

}  // namespace
