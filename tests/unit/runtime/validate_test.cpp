// Validated bytes: npk_jit_validate's rules (runtime/src/jit_bytes_rules.def,
// docs/runtime.md "Validated bytes"), the refusal lines, and the installs of
// npk_jit_module_add_bytes and npk_jit_compile_bytes on both code backends.
#include <npk/runtime.h>

#include <Zydis/Zydis.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "code_internal.h"
#include "runtime_test_support.h"
#include "validate_internal.h"

namespace {

using Bytes = std::vector<unsigned char>;
using npk_test::StderrOf;

Bytes Hex(const char *text) {
  Bytes out;
  for (const char *p = text; *p != '\0';) {
    if (*p == ' ') {
      ++p;
      continue;
    }
    unsigned value = 0;
    sscanf(p, "%2x", &value);
    out.push_back(static_cast<unsigned char>(value));
    p += 2;
  }
  return out;
}

Bytes Cat(Bytes a, const Bytes &b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const Bytes kRet = {0xc3};
const Bytes kAdd = {0x89, 0xf8, 0x01, 0xf0, 0xc3};  // mov eax, edi; add eax, esi; ret

struct Verdict {
  int32_t code;
  size_t offset;
  bool operator==(const Verdict &o) const { return code == o.code && offset == o.offset; }
};
std::ostream &operator<<(std::ostream &os, const Verdict &v) { return os << "{" << v.code << " at " << v.offset << "}"; }

// The answer of npk_jit_validate, which must print nothing.
Verdict Validate(const Bytes &code) {
  Verdict v{-1, 12345};
  std::string err = StderrOf([&] { v.code = npk_jit_validate(code.data(), code.size(), &v.offset); });
  EXPECT_EQ(err, "") << "npk_jit_validate printed";
  return v;
}

Verdict Ok() { return {0, 0}; }
Verdict Refused(int32_t code, size_t offset) { return {code, offset}; }

ZydisDecodedInstruction Decode(const Bytes &code) {
  ZydisDecoder decoder;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  ZydisDecoderContext context;
  ZydisDecodedInstruction in{};
  EXPECT_TRUE(ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&decoder, &context, code.data(), code.size(), &in)));
  return in;
}

// ---- the rule table ----------------------------------------------------------------

struct Rule {
  const char *kind;
  int what;  // the Zydis enum value the rule names
  const char *example;
};
const Rule kRuleTable[] = {
#define NPK_JIT_ALLOW_MNEMONIC(m, example) {"allow", ZYDIS_MNEMONIC_##m, example},
#define NPK_JIT_FORBID_MNEMONIC(m, example) {"mnemonic", ZYDIS_MNEMONIC_##m, example},
#define NPK_JIT_FORBID_CATEGORY(c, example) {"category", ZYDIS_CATEGORY_##c, example},
#define NPK_JIT_FORBID_ISA_EXT(e, example) {"isa_ext", ZYDIS_ISA_EXT_##e, example},
#include "jit_bytes_rules.def"
};

TEST(ValidateRules, EveryExampleIsWhatItsRuleNamesAndGetsItsVerdict) {
  ASSERT_GT(std::size(kRuleTable), 30u);
  for (const Rule &rule : kRuleTable) {
    SCOPED_TRACE(std::string(rule.kind) + " " + rule.example);
    Bytes one = Hex(rule.example);
    ZydisDecodedInstruction in = Decode(one);
    EXPECT_EQ(in.length, one.size());
    std::string kind = rule.kind;
    if (kind == "allow" || kind == "mnemonic") {
      EXPECT_EQ(in.mnemonic, rule.what);
    }
    if (kind == "category") {
      EXPECT_EQ(in.meta.category, rule.what);
    }
    if (kind == "isa_ext") {
      EXPECT_EQ(in.meta.isa_ext, rule.what);
    }
    // Alone before a ret, and after an accepted instruction.
    Verdict want = kind == "allow" ? Ok() : Refused(NPK_ERR_JIT_BYTES_FORBIDDEN, 0);
    EXPECT_EQ(Validate(Cat(one, kRet)), want);
    Verdict later = kind == "allow" ? Ok() : Refused(NPK_ERR_JIT_BYTES_FORBIDDEN, 2);
    EXPECT_EQ(Validate(Cat(Cat(Hex("89f8"), one), kRet)), later);
  }
}

TEST(ValidateRules, PrivilegedInstructionsAreForbidden) {
  // mov cr3, rax; mov rax, cr3; mov dr0, rax; hlt; swapgs; wrmsr; rdmsr;
  // lgdt [rax]; invlpg [rax]; wbinvd; clac; xsetbv
  for (const char *hex : {"0f22d8", "0f20d8", "0f23c0", "f4", "0f01f8", "0f30", "0f32", "0f0110", "0f0138", "0f09",
                          "0f01ca", "0f01d1"}) {
    Bytes one = Hex(hex);
    EXPECT_EQ(Validate(Cat(one, kRet)), Refused(NPK_ERR_JIT_BYTES_FORBIDDEN, 0)) << hex;
  }
}

TEST(ValidateRules, FarBranchesAreForbidden) {
  // call far [rsp]; jmp far [rsp]; ret far; ret far 8
  for (const char *hex : {"ff1c24", "ff2c24", "cb", "ca0800"})
    EXPECT_EQ(Validate(Cat(Hex(hex), kRet)), Refused(NPK_ERR_JIT_BYTES_FORBIDDEN, 0)) << hex;
}

TEST(ValidateRules, SegmentRegisterMovesAreForbidden) {
  // mov ds, ax; mov eax, ds; mov eax, fs; pop fs; pop gs; lss; lfs; lgs
  for (const char *hex : {"8ed8", "8cd8", "8ce0", "0fa1", "0fa9", "0fb200", "0fb400", "0fb500"})
    EXPECT_EQ(Validate(Cat(Hex(hex), kRet)), Refused(NPK_ERR_JIT_BYTES_FORBIDDEN, 0)) << hex;
  // Near misses: an fs-relative load (the stack protector reads fs:0x28) and
  // push fs only read a segment.
  EXPECT_EQ(Validate(Cat(Hex("64488b042528000000"), kRet)), Ok());
  EXPECT_EQ(Validate(Cat(Hex("0fa0 58"), kRet)), Ok());
}

TEST(ValidateRules, BranchesWithAnOperandSizePrefixAreForbidden) {
  // 66 jz +0 (AMD: 16-bit target), 66 call/jmp rel would not even agree on length.
  EXPECT_EQ(Validate(Cat(Hex("667400"), kRet)), Refused(NPK_ERR_JIT_BYTES_FORBIDDEN, 0));
  EXPECT_EQ(Validate(Cat(Hex("660f8400000000"), kRet)), Refused(NPK_ERR_JIT_BYTES_FORBIDDEN, 0));
  // Near miss: segment-override "hints" on a jcc are fine.
  EXPECT_EQ(Validate(Cat(Hex("2e7400"), kRet)), Ok());
}

TEST(ValidateRules, TheSyscallFamilyAndInterruptsAreForbidden) {
  // syscall, sysenter, int 0x80, int1, iretq
  for (const char *hex : {"0f05", "0f34", "cd80", "f1", "48cf"})
    EXPECT_EQ(Validate(Cat(Hex(hex), kRet)), Refused(NPK_ERR_JIT_BYTES_FORBIDDEN, 0)) << hex;
  // int3 is a trap and allowed, also as the padding a compiler leaves.
  EXPECT_EQ(Validate(Hex("cc cc c3")), Ok());
}

// ---- branches ----------------------------------------------------------------------

TEST(ValidateBranches, IndirectJumpsAndCallsAreRefusedWhereverTheyAre) {
  // jmp rax; call rax; call [rax]; jmp [rip+0]; call [rip+0]; jmp [rax*8+0x10];
  // notrack jmp rax; bnd jmp rax
  for (const char *hex : {"ffe0", "ffd0", "ff10", "ff2500000000", "ff1500000000", "ff24c510000000", "3effe0",
                          "f2ffe0"}) {
    EXPECT_EQ(Validate(Cat(Hex(hex), kRet)), Refused(NPK_ERR_JIT_BYTES_INDIRECT_BRANCH, 0)) << hex;
    EXPECT_EQ(Validate(Cat(Cat(Hex("90 90 90"), Hex(hex)), kRet)), Refused(NPK_ERR_JIT_BYTES_INDIRECT_BRANCH, 3))
        << hex;
  }
}

TEST(ValidateBranches, ReturnsAreNotIndirectBranches) {
  EXPECT_EQ(Validate(Hex("c20800")), Ok());  // ret 8
  EXPECT_EQ(Validate(Hex("f3c3")), Ok());    // rep ret
  EXPECT_EQ(Validate(Hex("85c0 7401 c3 c3")), Ok());
}

TEST(ValidateBranches, TargetsMustLieInsideTheCode) {
  EXPECT_EQ(Validate(Hex("eb01 c3")), Refused(NPK_ERR_JIT_BYTES_BRANCH_OUTSIDE, 0));      // to 3 == len
  EXPECT_EQ(Validate(Hex("90 ebfc c3")), Refused(NPK_ERR_JIT_BYTES_BRANCH_OUTSIDE, 1));   // to -1
  EXPECT_EQ(Validate(Hex("e8 00000000")), Refused(NPK_ERR_JIT_BYTES_BRANCH_OUTSIDE, 0));  // call to 5 == len
  EXPECT_EQ(Validate(Hex("e9 00000080 c3")), Refused(NPK_ERR_JIT_BYTES_BRANCH_OUTSIDE, 0));
  EXPECT_EQ(Validate(Hex("0f84 ffffff7f c3")), Refused(NPK_ERR_JIT_BYTES_BRANCH_OUTSIDE, 0));
  EXPECT_EQ(Validate(Hex("e2 10 c3")), Refused(NPK_ERR_JIT_BYTES_BRANCH_OUTSIDE, 0));      // loop
  EXPECT_EQ(Validate(Hex("e3 f0 c3")), Refused(NPK_ERR_JIT_BYTES_BRANCH_OUTSIDE, 0));      // jrcxz
  EXPECT_EQ(Validate(Hex("c7f8 10000000 c3")), Refused(NPK_ERR_JIT_BYTES_BRANCH_OUTSIDE, 0));  // xbegin
  // Near misses: exactly the last byte, exactly the first byte.
  EXPECT_EQ(Validate(Hex("7400 c3")), Ok());
  EXPECT_EQ(Validate(Hex("90 e2fd c3")), Ok());         // loop to 0
  EXPECT_EQ(Validate(Hex("e8 00000000 c3")), Ok());     // call to the ret
  EXPECT_EQ(Validate(Hex("c7f8 00000000 c3")), Ok());   // xbegin to the ret
}

TEST(ValidateBranches, TargetsMustBeInstructionStarts) {
  // jz +1 lands on the second byte of mov eax, 1.
  EXPECT_EQ(Validate(Hex("7401 b801000000 c3")), Refused(NPK_ERR_JIT_BYTES_BRANCH_INSIDE, 0));
  // Backward: jmp at 5 to 1.
  EXPECT_EQ(Validate(Hex("b801000000 ebfa c3")), Refused(NPK_ERR_JIT_BYTES_BRANCH_INSIDE, 5));
  // Two bad branches: the first in decode order is named.
  EXPECT_EQ(Validate(Hex("90 7402 b801000000 7402 b801000000 c3")), Refused(NPK_ERR_JIT_BYTES_BRANCH_INSIDE, 1));
  // A branch into the middle loses to an instruction-local refusal later on.
  EXPECT_EQ(Validate(Hex("7401 b801000000 0f05 c3")), Refused(NPK_ERR_JIT_BYTES_FORBIDDEN, 7));
  // Near misses: landing exactly on the boundaries around the mov.
  EXPECT_EQ(Validate(Hex("7400 b801000000 c3")), Ok());
  EXPECT_EQ(Validate(Hex("7405 b801000000 c3")), Ok());
  EXPECT_EQ(Validate(Hex("b801000000 ebf9 c3")), Ok());  // back to 0
  EXPECT_EQ(Validate(Hex("b801000000 ebfe")), Ok());     // to itself, and last
}

// ---- decoding, the end, the length --------------------------------------------------

TEST(ValidateDecoding, TruncatedAndUndecodableBytesAreRefusedAtTheirOffset) {
  EXPECT_EQ(Validate(Hex("b80100")), Refused(NPK_ERR_JIT_BYTES_TRUNCATED, 0));
  EXPECT_EQ(Validate(Hex("90 0f")), Refused(NPK_ERR_JIT_BYTES_TRUNCATED, 1));
  EXPECT_EQ(Validate(Hex("c3 e9")), Refused(NPK_ERR_JIT_BYTES_TRUNCATED, 1));
  EXPECT_EQ(Validate(Hex("89f8 06 c3")), Refused(NPK_ERR_JIT_BYTES_UNDECODABLE, 2));  // push es: none in 64-bit
  EXPECT_EQ(Validate(Hex("ea c3")), Refused(NPK_ERR_JIT_BYTES_UNDECODABLE, 0));       // jmp far ptr16:32
  // 15 prefixes and an opcode: longer than any instruction.
  EXPECT_EQ(Validate(Hex("666666666666666666666666666666 90 c3")), Refused(NPK_ERR_JIT_BYTES_UNDECODABLE, 0));
}

TEST(ValidateDecoding, TheLastInstructionMustBeRetOrJmp) {
  EXPECT_EQ(Validate(Hex("90")), Refused(NPK_ERR_JIT_BYTES_NO_END, 0));
  EXPECT_EQ(Validate(Hex("89f8 01f0")), Refused(NPK_ERR_JIT_BYTES_NO_END, 2));
  EXPECT_EQ(Validate(Hex("c3 cc")), Refused(NPK_ERR_JIT_BYTES_NO_END, 1));    // trailing padding
  EXPECT_EQ(Validate(Hex("74fe")), Refused(NPK_ERR_JIT_BYTES_NO_END, 0));     // a jcc may fall through
  EXPECT_EQ(Validate(Hex("e8 00000000 e8 fbffffff")), Refused(NPK_ERR_JIT_BYTES_NO_END, 5));  // call
  EXPECT_EQ(Validate(kAdd), Ok());
  EXPECT_EQ(Validate(Hex("ebfe")), Ok());
  EXPECT_EQ(Validate(Hex("e9 fbffffff")), Ok());
  EXPECT_EQ(Validate(Hex("c20800")), Ok());
}

TEST(ValidateDecoding, LengthsOutsideOneByteToFourMiBAndNullAreRefused) {
  size_t offset = 99;
  EXPECT_EQ(npk_jit_validate(nullptr, 5, &offset), NPK_ERR_JIT_BYTES_LENGTH);
  EXPECT_EQ(offset, 0u);
  EXPECT_EQ(npk_jit_validate(kAdd.data(), 0, &offset), NPK_ERR_JIT_BYTES_LENGTH);
  Bytes big((size_t{4} << 20) + 1, 0x90);
  big.back() = 0xc3;
  EXPECT_EQ(npk_jit_validate(big.data(), big.size(), nullptr), NPK_ERR_JIT_BYTES_LENGTH);
  // Exactly 4 MiB is checked (its bitmaps come from malloc), and a bad
  // branch found at its far end.
  big.pop_back();
  big.back() = 0xc3;
  EXPECT_EQ(Validate(big), Ok());
  Bytes mov = Hex("b801000000");
  std::copy(mov.begin(), mov.end(), big.begin() + 1000);
  size_t jmp = big.size() - 5;  // jmp rel32 to the mov's third byte, last
  int32_t rel = static_cast<int32_t>(1002 - static_cast<int64_t>(big.size()));
  big[jmp] = 0xe9;
  memcpy(&big[jmp + 1], &rel, 4);
  EXPECT_EQ(Validate(big), Refused(NPK_ERR_JIT_BYTES_BRANCH_INSIDE, jmp));
  rel -= 2;  // to the mov itself
  memcpy(&big[jmp + 1], &rel, 4);
  EXPECT_EQ(Validate(big), Ok());
}

TEST(ValidateDecoding, BadOffsetMayBeNull) {
  EXPECT_EQ(npk_jit_validate(kAdd.data(), kAdd.size(), nullptr), 0);
  Bytes bad = Hex("0f05 c3");
  EXPECT_EQ(npk_jit_validate(bad.data(), bad.size(), nullptr), NPK_ERR_JIT_BYTES_FORBIDDEN);
}

// Random bytes never crash the validator; every verdict is one of the table's
// codes, names an instruction start, and an accepted blob decodes completely
// and ends in ret or jmp.
TEST(ValidateDecoding, RandomBytesGetConsistentVerdicts) {
  std::mt19937_64 rng(20261207);
  std::set<int32_t> codes;
#define NPK_JIT_BYTES_ERROR(name, code, reason) codes.insert(code);
#include "npk/jit_bytes_errors.def"
#undef NPK_JIT_BYTES_ERROR
  ZydisDecoder decoder;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  std::set<int32_t> seen;
  int accepted = 0;
  for (int round = 0; round < 200000; ++round) {
    size_t len = 1 + rng() % 24;
    Bytes code(len);
    for (unsigned char &b : code) b = static_cast<unsigned char>(rng());
    if (round % 2 == 0) code.back() = 0xc3;  // more of them get to the end rule
    size_t offset = 0;
    int32_t verdict = npk_jit_validate(code.data(), len, &offset);
    size_t zydis_offset = 0;
    ASSERT_EQ(npkrt::validate_test_zydis_only(code.data(), len, &zydis_offset), verdict) << round;
    ASSERT_EQ(zydis_offset, offset) << round;
    seen.insert(verdict);
    ASSERT_TRUE(verdict == 0 || codes.count(verdict)) << verdict;
    ASSERT_LT(offset, len);
    // Walk to the offset: it is a start, and everything before it decodes.
    size_t at = 0;
    ZydisDecodedInstruction in{};
    ZydisDecoderContext context;
    while (at < offset) {
      ASSERT_TRUE(ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&decoder, &context, code.data() + at, len - at, &in)));
      at += in.length;
    }
    ASSERT_EQ(at, offset);
    if (verdict == 0) {
      ++accepted;
      while (at < len) {
        ASSERT_TRUE(ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&decoder, &context, code.data() + at, len - at, &in)));
        at += in.length;
      }
      ASSERT_TRUE(in.mnemonic == ZYDIS_MNEMONIC_RET || in.mnemonic == ZYDIS_MNEMONIC_JMP);
    }
  }
  EXPECT_GT(accepted, 100);
  for (int32_t code : {NPK_ERR_JIT_BYTES_TRUNCATED, NPK_ERR_JIT_BYTES_UNDECODABLE, NPK_ERR_JIT_BYTES_FORBIDDEN,
                       NPK_ERR_JIT_BYTES_INDIRECT_BRANCH, NPK_ERR_JIT_BYTES_BRANCH_OUTSIDE,
                       NPK_ERR_JIT_BYTES_BRANCH_INSIDE, NPK_ERR_JIT_BYTES_NO_END})
    EXPECT_TRUE(seen.count(code)) << code;
}

// ---- the fast path ------------------------------------------------------------------

// Every instruction the fast path reads, under every REX prefix, opcode of
// both of its maps, ModRM byte and SIB class, has the length Zydis decodes,
// and the verdict on it (followed by a ret) is the one of the Zydis-only
// check; with a byte fewer the fast path leaves it to Zydis.
TEST(ValidateFastPath, AgreesWithZydisOnEveryOpcodeModrmAndSib) {
  ZydisDecoder decoder;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  // SIB bytes: every base (5 changes the length) with two index/scale pairs.
  const unsigned char sibs[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7};
  size_t handled = 0;
  for (int rex = -1; rex <= 0x4f; rex = rex < 0 ? 0x40 : rex + 1) {
    for (int map = 0; map < 2; ++map) {
      for (int op = 0; op < 256; ++op) {
        for (int modrm = 0; modrm < 256; ++modrm) {
          bool needs_sib = (modrm >> 6) != 3 && (modrm & 7) == 4;
          for (size_t s = 0; s < (needs_sib ? sizeof sibs : 1); ++s) {
            Bytes code;
            if (rex >= 0) code.push_back(static_cast<unsigned char>(rex));
            if (map == 1) code.push_back(0x0f);
            code.push_back(static_cast<unsigned char>(op));
            code.push_back(static_cast<unsigned char>(modrm));
            code.push_back(sibs[s]);
            for (unsigned char filler : {0x02, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00})
              code.push_back(filler);
            size_t length = npkrt::validate_test_fast_length(code.data(), code.size());
            if (length == 0) continue;
            ++handled;
            ZydisDecoderContext context;
            ZydisDecodedInstruction in;
            ASSERT_TRUE(ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&decoder, &context, code.data(), code.size(), &in)))
                << testing::PrintToString(code);
            ASSERT_EQ(in.length, length) << testing::PrintToString(code);
            for (size_t shorter = 0; shorter < length; ++shorter)
              ASSERT_EQ(npkrt::validate_test_fast_length(code.data(), shorter), 0u) << shorter;
            Bytes one(code.begin(), code.begin() + static_cast<long>(length));
            one.push_back(0xc3);
            size_t fast_offset = 0, zydis_offset = 0;
            int32_t fast = npk_jit_validate(one.data(), one.size(), &fast_offset);
            ASSERT_EQ(npkrt::validate_test_zydis_only(one.data(), one.size(), &zydis_offset), fast)
                << testing::PrintToString(code);
            ASSERT_EQ(zydis_offset, fast_offset) << testing::PrintToString(code);
            // Fast instructions are never refused for themselves.
            ASSERT_NE(fast, NPK_ERR_JIT_BYTES_FORBIDDEN) << testing::PrintToString(code);
            ASSERT_NE(fast, NPK_ERR_JIT_BYTES_INDIRECT_BRANCH) << testing::PrintToString(code);
          }
        }
      }
    }
  }
  EXPECT_GT(handled, 1000000u);  // the tables are in use
}

TEST(ValidateFastPath, LeavesPrefixedAndSystemInstructionsToZydis) {
  for (const char *hex : {"0f05", "ffe0", "ff1500000000", "66 90", "f3 90", "f0 0fb111", "67 8b00", "2e 7400",
                          "c5f857c0", "8ed8", "0f22d8", "ca0800", "cd80", "f4", "8dc0", "c6f800", "c7f800000000",
                          "40 40 90", "f7c8 00000000", "c0f001"})
    EXPECT_EQ(npkrt::validate_test_fast_length(Hex(hex).data(), Hex(hex).size()), 0u) << hex;
  EXPECT_EQ(npkrt::validate_test_fast_length(Hex("89f8").data(), 2), 2u);
  EXPECT_EQ(npkrt::validate_test_fast_length(Hex("48b8 0102030405060708").data(), 10), 10u);
  EXPECT_EQ(npkrt::validate_test_fast_length(Hex("b8 01020304").data(), 5), 5u);
}

// ---- the refusal line ----------------------------------------------------------------

// What npk_jit_compile_bytes prints and sets for code.
std::string CompileRefusal(const Bytes &code, int32_t expected) {
  int32_t err = 0;
  void *f = reinterpret_cast<void *>(1);
  std::string line = StderrOf([&] { f = npk_jit_compile_bytes(code.data(), code.size(), "i32(i32,i32)", &err); });
  EXPECT_EQ(f, nullptr);
  EXPECT_EQ(err, expected);
  return line;
}

TEST(ValidateMessages, OneLineNamesTheReasonTheOffsetAndTheInstruction) {
  EXPECT_EQ(CompileRefusal(Hex("0f05 c3"), NPK_ERR_JIT_BYTES_FORBIDDEN),
            "[WildX] panic: jit_compile_bytes rejected: forbidden instruction at offset 0: syscall\n");
  EXPECT_EQ(CompileRefusal(Hex("89f8 ffe0"), NPK_ERR_JIT_BYTES_INDIRECT_BRANCH),
            "[WildX] panic: jit_compile_bytes rejected: indirect branch at offset 2: jmp rax\n");
  EXPECT_EQ(CompileRefusal(Hex("90 eb10 c3"), NPK_ERR_JIT_BYTES_BRANCH_OUTSIDE),
            "[WildX] panic: jit_compile_bytes rejected: branch target outside the code at offset 1: jmp 0x13\n");
  EXPECT_EQ(CompileRefusal(Hex("7401 b801000000 c3"), NPK_ERR_JIT_BYTES_BRANCH_INSIDE),
            "[WildX] panic: jit_compile_bytes rejected: branch into the middle of an instruction at offset 0: "
            "jz 0x3\n");
  EXPECT_EQ(CompileRefusal(Hex("89f8 b80100"), NPK_ERR_JIT_BYTES_TRUNCATED),
            "[WildX] panic: jit_compile_bytes rejected: truncated instruction at offset 2: bytes b8 01 00\n");
  EXPECT_EQ(CompileRefusal(Hex("06 c3"), NPK_ERR_JIT_BYTES_UNDECODABLE),
            "[WildX] panic: jit_compile_bytes rejected: undecodable instruction at offset 0: bytes 06 c3\n");
  EXPECT_EQ(CompileRefusal(Hex("89f8 01f0"), NPK_ERR_JIT_BYTES_NO_END),
            "[WildX] panic: jit_compile_bytes rejected: code does not end in ret or jmp at offset 2: add eax, esi\n");
  int32_t err = 0;
  std::string line = StderrOf([&] { EXPECT_EQ(npk_jit_compile_bytes(kAdd.data(), 0, "i32(i32,i32)", &err), nullptr); });
  EXPECT_EQ(line, "[WildX] panic: jit_compile_bytes rejected: code length out of range (1 byte to 4 MiB): 0 bytes\n");
  EXPECT_EQ(err, NPK_ERR_JIT_BYTES_LENGTH);
  line = StderrOf([&] { EXPECT_EQ(npk_jit_compile_bytes(kAdd.data(), -1, "i32(i32,i32)", &err), nullptr); });
  EXPECT_EQ(line, "[WildX] panic: jit_compile_bytes rejected: code length out of range (1 byte to 4 MiB): -1 bytes\n");
  EXPECT_EQ(err, NPK_ERR_JIT_BYTES_LENGTH);
  line = StderrOf([&] { EXPECT_EQ(npk_jit_compile_bytes(nullptr, 5, "i32(i32,i32)", &err), nullptr); });
  EXPECT_EQ(line, "[WildX] panic: jit_compile_bytes rejected: null code\n");
  EXPECT_EQ(err, NPK_ERR_JIT_BYTES_LENGTH);
}

TEST(ValidateMessages, ALengthPastItsWildBufferIsRefusedBeforeReading) {
  char *buffer = static_cast<char *>(npk_alloc(5));
  ASSERT_NE(buffer, nullptr);
  memcpy(buffer, kAdd.data(), kAdd.size());
  int32_t err = 0;
  std::string line = StderrOf([&] { EXPECT_EQ(npk_jit_compile_bytes(buffer, 6, "i32(i32,i32)", &err), nullptr); });
  EXPECT_EQ(err, NPK_ERR_JIT_BYTES_LENGTH);
  EXPECT_EQ(line, "[WildX] panic: jit_compile_bytes rejected: code length 6 exceeds its allocation (5 bytes)\n");
  line = StderrOf([&] {
    EXPECT_EQ(npk_jit_module_add_bytes(nullptr, buffer, 4096, "i32(i32,i32)", nullptr, &err), 0u);
  });
  EXPECT_EQ(err, NPK_ERR_JIT_BYTES_LENGTH);
  EXPECT_EQ(line, "[WildX] panic: jit_module_add_bytes rejected: code length 4096 exceeds its allocation (5 bytes)\n");
  // Near misses: exactly the block, and a part of it.
  void *f = npk_jit_compile_bytes(buffer, 5, "i32(i32,i32)", &err);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(npk_wildx_free(f), 0);
  buffer[0] = static_cast<char>(0xc3);
  f = npk_jit_compile_bytes(buffer, 1, "void()", &err);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(npk_wildx_free(f), 0);
  // A freed block is no longer known: then the caller vouches for the bytes,
  // as for any other memory (here a live malloc block, not an npk_alloc one).
  EXPECT_EQ(npk_free(buffer), 0);
  unsigned char *plain = static_cast<unsigned char *>(malloc(16));
  memset(plain, 0x90, 16);
  plain[15] = 0xc3;
  f = npk_jit_compile_bytes(plain, 16, "void()", &err);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(npk_wildx_free(f), 0);
  free(plain);
}

TEST(ValidateMessages, TheUndecodableBytesShownStopAtFifteen) {
  Bytes junk = Hex("666666666666666666666666666666 90 c3");
  EXPECT_EQ(CompileRefusal(junk, NPK_ERR_JIT_BYTES_UNDECODABLE),
            "[WildX] panic: jit_compile_bytes rejected: undecodable instruction at offset 0: bytes"
            " 66 66 66 66 66 66 66 66 66 66 66 66 66 66 66\n");
}

TEST(ValidateMessages, ABadSignatureIsRefusedByTheSignatureCheck) {
  int32_t err = 0;
  std::string line = StderrOf([&] { EXPECT_EQ(npk_jit_compile_bytes(kAdd.data(), 5, "int(int,int)", &err), nullptr); });
  EXPECT_EQ(err, NPK_ERR_JIT_BYTES_SIGNATURE);
  EXPECT_NE(line.find("[WildX] panic: jit_sig("), std::string::npos) << line;
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
  line = StderrOf([&] { EXPECT_EQ(npk_jit_compile_bytes(kAdd.data(), 5, nullptr, &err), nullptr); });
  EXPECT_EQ(err, NPK_ERR_JIT_BYTES_SIGNATURE);
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
}

// ---- installs, on both backends ----------------------------------------------------

class BytesBackend : public testing::TestWithParam<const char *> {
 protected:
  void SetUp() override {
    if (strcmp(GetParam(), "mprotect") == 0 && npk_test::MdweOn())
      GTEST_SKIP() << "the mprotect backend cannot make pages executable under PR_SET_MDWE";
    ASSERT_TRUE(npkrt::code_test_use_backend(GetParam())) << GetParam() << " backend unavailable";
    add_ = npk_jit_sig_intern("i32(i32,i32)");
  }
  npk_jit_sig add_ = 0;
};

INSTANTIATE_TEST_SUITE_P(Backends, BytesBackend, testing::Values("memfd", "mprotect"),
                         [](const testing::TestParamInfo<const char *> &info) { return std::string(info.param); });

TEST_P(BytesBackend, CompileBytesInstallsACallableNamedFreeableFunction) {
  Bytes code = kAdd;
  int32_t err = -1;
  void *f = nullptr;
  std::string printed = StderrOf([&] { f = npk_jit_compile_bytes(code.data(), code.size(), "i32(i32,i32)", &err); });
  EXPECT_EQ(printed, "");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(err, 0);
  code[2] = 0x29;  // sub: the function is a copy, not the caller's buffer
  int32_t out = 0;
  EXPECT_EQ(npk_jit_try_call_i32_i32(f, 40, 2, &out), 0);
  EXPECT_EQ(out, 42);
  EXPECT_EQ(npk_jit_call_i32_i32(f, -7, 3), -4);
  const char *name = npk_jit_fn_name(npkrt::handle_of_pointer(f));
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(std::string(name).rfind("compile_bytes#", 0), 0u) << name;
  // A second one has the next number.
  void *g = npk_jit_compile_bytes(kAdd.data(), kAdd.size(), "i32(i32,i32)", nullptr);
  ASSERT_NE(g, nullptr);
  unsigned n1 = 0, n2 = 0;
  sscanf(name, "compile_bytes#%u", &n1);
  sscanf(npk_jit_fn_name(npkrt::handle_of_pointer(g)), "compile_bytes#%u", &n2);
  EXPECT_GT(n2, n1);
  EXPECT_EQ(npk_wildx_free(g), 0);
  EXPECT_EQ(npk_wildx_free(f), 0);
  std::string refused = StderrOf([&] { EXPECT_EQ(npk_jit_try_call_i32_i32(f, 1, 2, &out), NPK_ERR_JIT_NOT_LIVE); });
  EXPECT_NE(refused.find("function was already freed"), std::string::npos) << refused;
}

TEST_P(BytesBackend, CompileBytesRecordsTheSignatureItWasGiven) {
  void *f = npk_jit_compile_bytes(kAdd.data(), kAdd.size(), "i64(i64,i64)", nullptr);
  ASSERT_NE(f, nullptr);
  int32_t out = 0;
  std::string line = StderrOf([&] { EXPECT_EQ(npk_jit_try_call_i32_i32(f, 1, 2, &out), NPK_ERR_JIT_SIGNATURE); });
  EXPECT_NE(line.find("signature mismatch: called as i32(i32,i32), function is i64(i64,i64)"), std::string::npos)
      << line;
  EXPECT_NE(npk_jit_fn_entry(npkrt::handle_of_pointer(f), npk_jit_sig_intern("i64(i64,i64)")), nullptr);
  EXPECT_EQ(npk_wildx_free(f), 0);
}

TEST_P(BytesBackend, ModuleAddBytesValidatesThenAdds) {
  npk_jit_module *m = npk_jit_module_new();
  ASSERT_NE(m, nullptr);
  int32_t err = -1;
  Bytes syscall = Hex("0f05 c3");
  npk_jit_fn bad = 1;
  std::string line = StderrOf([&] { bad = npk_jit_module_add_bytes(m, syscall.data(), syscall.size(), "i32(i32,i32)", "bad", &err); });
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(err, NPK_ERR_JIT_BYTES_FORBIDDEN);
  EXPECT_EQ(line, "[WildX] panic: jit_module_add_bytes rejected: forbidden instruction at offset 0: syscall\n");
  // The module is unharmed by the refusal.
  npk_jit_fn f = npk_jit_module_add_bytes(m, kAdd.data(), kAdd.size(), "i32(i32,i32)", "add", &err);
  ASSERT_NE(f, 0u);
  EXPECT_EQ(err, 0);
  npk_jit_fn g = npk_jit_module_add_bytes(m, Hex("8d0437c3").data(), 4, "i32(i32,i32)", nullptr, nullptr);  // lea eax,[rdi+rsi]
  ASSERT_NE(g, 0u);
  ASSERT_EQ(npk_jit_module_seal(m), 0);
  EXPECT_EQ(npk_jit_fn_call_i32_i32(f, add_, 30, 12), 42);
  EXPECT_EQ(npk_jit_fn_call_i32_i32(g, add_, 5, 6), 11);
  EXPECT_STREQ(npk_jit_fn_name(f), "add");
  // A sealed module takes no more: npk_jit_module_add refuses (its own line).
  line = StderrOf([&] { EXPECT_EQ(npk_jit_module_add_bytes(m, kAdd.data(), kAdd.size(), "i32(i32,i32)", nullptr, &err), 0u); });
  EXPECT_EQ(err, NPK_ERR_JIT_INSTALL);
  EXPECT_NE(line.find("jit_module_add("), std::string::npos) << line;
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
  EXPECT_EQ(npk_jit_module_free(m), 0);
}

TEST_P(BytesBackend, ModuleAddBytesRefusesANullModuleAfterValidating) {
  int32_t err = 0;
  std::string line = StderrOf([&] { EXPECT_EQ(npk_jit_module_add_bytes(nullptr, kAdd.data(), kAdd.size(), "i32(i32,i32)", nullptr, &err), 0u); });
  EXPECT_EQ(err, NPK_ERR_JIT_INSTALL);
  EXPECT_EQ(line, "[WildX] panic: jit_module_add((nil)) rejected: null module\n");
  line = StderrOf([&] { EXPECT_EQ(npk_jit_module_add_bytes(nullptr, kAdd.data(), kAdd.size(), "i32", nullptr, &err), 0u); });
  EXPECT_EQ(err, NPK_ERR_JIT_BYTES_SIGNATURE);
}

}  // namespace
