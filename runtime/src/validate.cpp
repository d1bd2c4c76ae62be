// Validated bytes: caller-supplied x86-64 machine code is decoded with Zydis
// and refused unless its control flow stays inside it (JIT.md section 4).
// Contract: npk/runtime.h, "validated bytes"; rules: jit_bytes_rules.def;
// docs/runtime.md, "Validated bytes".
//
// This file is its own archive member of libnpkrt.a and the only one that
// needs libZydis: a program that never calls these functions links without
// it (npkc passes -lZydis with --as-needed).
#include "code_internal.h"
#include "npk/runtime.h"
#include "validate_internal.h"
#include "wildx_internal.h"

#include <Zydis/Zydis.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>

namespace npkrt {
namespace {

constexpr size_t kMaxCodeBytes = size_t{4} << 20;  // as npk_jit_module_add
// Code up to this size is checked with bitmaps on the stack (2 x 1 KiB);
// larger code gets them from malloc.
constexpr size_t kStackCodeBytes = size_t{8} << 10;

// ---- the rule table, as lookup tables indexed by Zydis' enums -----------------

enum Verdict : unsigned char { kNoRule = 0, kAllow = 1, kForbid = 2 };

struct RuleTables {
  unsigned char mnemonic[ZYDIS_MNEMONIC_MAX_VALUE + 1];
  unsigned char category[ZYDIS_CATEGORY_MAX_VALUE + 1];
  unsigned char isa_ext[ZYDIS_ISA_EXT_MAX_VALUE + 1];
  constexpr RuleTables() : mnemonic(), category(), isa_ext() {
    // Earlier entries win, as the table's order says.
#define NPK_JIT_ALLOW_MNEMONIC(m, example) \
  if (mnemonic[ZYDIS_MNEMONIC_##m] == kNoRule) mnemonic[ZYDIS_MNEMONIC_##m] = kAllow;
#define NPK_JIT_FORBID_MNEMONIC(m, example) \
  if (mnemonic[ZYDIS_MNEMONIC_##m] == kNoRule) mnemonic[ZYDIS_MNEMONIC_##m] = kForbid;
#define NPK_JIT_FORBID_CATEGORY(c, example) category[ZYDIS_CATEGORY_##c] = kForbid;
#define NPK_JIT_FORBID_ISA_EXT(e, example) isa_ext[ZYDIS_ISA_EXT_##e] = kForbid;
#include "jit_bytes_rules.def"
  }
};
constexpr RuleTables kRules;

// ---- one instruction -----------------------------------------------------------

bool is_segment_move(const ZydisDecodedInstruction &in) {
  if (in.opcode_map == ZYDIS_OPCODE_MAP_DEFAULT) return in.opcode == 0x8c || in.opcode == 0x8e;  // mov r/m, Sreg; mov Sreg, r/m
  if (in.opcode_map == ZYDIS_OPCODE_MAP_0F) return in.opcode == 0xa1 || in.opcode == 0xa9;  // pop fs; pop gs
  return false;
}

// Whether the instruction is a direct branch (its immediate is relative:
// jmp, jcc, call, loop, jrcxz, xbegin); then *displacement is that immediate.
bool relative_imm(const ZydisDecodedInstruction &in, int64_t *displacement = nullptr) {
  for (const auto &imm : in.raw.imm)
    if (imm.size != 0 && imm.is_relative) {
      if (displacement != nullptr) *displacement = imm.value.s;
      return true;
    }
  return false;
}

// 0, NPK_ERR_JIT_BYTES_FORBIDDEN or NPK_ERR_JIT_BYTES_INDIRECT_BRANCH for
// one decoded instruction (branch targets are checked by the caller).
int32_t classify(const ZydisDecodedInstruction &in) {
  if (in.attributes & ZYDIS_ATTRIB_IS_PRIVILEGED) return NPK_ERR_JIT_BYTES_FORBIDDEN;
  unsigned char verdict = kRules.mnemonic[in.mnemonic];
  if (verdict == kAllow) return 0;
  if (verdict == kForbid || kRules.category[in.meta.category] == kForbid || kRules.isa_ext[in.meta.isa_ext] == kForbid)
    return NPK_ERR_JIT_BYTES_FORBIDDEN;
  if (in.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR || is_segment_move(in)) return NPK_ERR_JIT_BYTES_FORBIDDEN;
  if (relative_imm(in)) {
    // With 66 AMD decodes a 16-bit displacement (and truncates the target),
    // Intel a 32-bit one: the two would not agree on the boundaries.
    if (in.attributes & ZYDIS_ATTRIB_HAS_OPERANDSIZE) return NPK_ERR_JIT_BYTES_FORBIDDEN;
    return 0;
  }
  if (in.meta.branch_type != ZYDIS_BRANCH_TYPE_NONE && in.mnemonic != ZYDIS_MNEMONIC_RET)
    return NPK_ERR_JIT_BYTES_INDIRECT_BRANCH;
  return 0;
}

bool is_end(const ZydisDecodedInstruction &in) {
  if (in.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR) return false;
  return in.mnemonic == ZYDIS_MNEMONIC_RET || (in.mnemonic == ZYDIS_MNEMONIC_JMP && relative_imm(in));
}

void init_decoder(ZydisDecoder *decoder) {
  ZydisDecoderInit(decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
}

// ---- the fast path ---------------------------------------------------------------
//
// Zydis decodes about 50 MB/s of compiler output here, half the target. Most
// of that output is a small set of plain integer instructions whose length
// follows from the opcode, the ModRM and SIB bytes alone and which no rule
// refuses: those are measured here from two tables, with an optional REX
// byte and no other prefix; everything else (any other prefix, VEX/EVEX,
// SSE, x87, the rest of the opcode maps, a reg field the table does not
// list, bytes that run out) goes to Zydis, which stays the authority. The
// tests compare the two on every opcode of both tables under every REX, ModRM
// and SIB class (validate_test.cpp, ValidateFastPath) and on random bytes,
// and the fuzz target compares whole verdicts with and without this path.

enum FastFlag : uint8_t {
  kFastValid = 1,     // handled here
  kFastModrm = 2,     // a ModRM byte (and SIB/displacement) follows the opcode
  kFastRel = 4,       // the immediate is a branch displacement (jcc, jmp, call)
  kFastEnd = 8,       // ret or jmp: may end the code
  kFastMemOnly = 16,  // ModRM must name memory (lea)
  kFastImmReg0 = 32,  // the immediate is there only for reg field 0 (test in F6/F7)
  kFastImm64W = 64,   // REX.W makes the 4-byte immediate 8 bytes (mov r64, imm64)
};

struct FastOp {
  uint8_t flags = 0;
  uint8_t imm = 0;   // immediate (or displacement) bytes
  uint8_t regs = 0;  // ModRM reg fields handled here (bit r); 0: all
};

struct FastTables {
  FastOp one[256];  // one-byte opcodes
  FastOp two[256];  // 0F xx
  constexpr void set(FastOp *t, unsigned op, uint8_t flags, uint8_t imm = 0, uint8_t regs = 0) {
    t[op] = FastOp{static_cast<uint8_t>(flags | kFastValid), imm, regs};
  }
  constexpr FastTables() : one(), two() {
    for (unsigned base = 0x00; base <= 0x38; base += 8) {  // add or adc sbb and sub xor cmp
      for (unsigned k = 0; k < 4; ++k) set(one, base + k, kFastModrm);
      set(one, base + 4, 0, 1);  // al, imm8
      set(one, base + 5, 0, 4);  // eax, imm32
    }
    for (unsigned op = 0x50; op <= 0x5f; ++op) set(one, op, 0);  // push/pop r
    set(one, 0x63, kFastModrm);                                   // movsxd
    set(one, 0x68, 0, 4);                                         // push imm32
    set(one, 0x69, kFastModrm, 4);                                // imul r, r/m, imm32
    set(one, 0x6a, 0, 1);                                         // push imm8
    set(one, 0x6b, kFastModrm, 1);                                // imul r, r/m, imm8
    for (unsigned op = 0x70; op <= 0x7f; ++op) set(one, op, kFastRel, 1);  // jcc rel8
    set(one, 0x80, kFastModrm, 1);                                // alu r/m8, imm8
    set(one, 0x81, kFastModrm, 4);                                // alu r/m, imm32
    set(one, 0x83, kFastModrm, 1);                                // alu r/m, imm8
    for (unsigned op = 0x84; op <= 0x8b; ++op) set(one, op, kFastModrm);  // test xchg mov
    set(one, 0x8d, kFastModrm | kFastMemOnly);                    // lea
    for (unsigned op = 0x90; op <= 0x99; ++op) set(one, op, 0);   // nop, xchg eax, r, cwde, cdq
    set(one, 0xa8, 0, 1);                                         // test al, imm8
    set(one, 0xa9, 0, 4);                                         // test eax, imm32
    for (unsigned op = 0xb0; op <= 0xb7; ++op) set(one, op, 0, 1);  // mov r8, imm8
    for (unsigned op = 0xb8; op <= 0xbf; ++op) set(one, op, kFastImm64W, 4);  // mov r, imm32/64
    set(one, 0xc0, kFastModrm, 1, 0xbf);                          // shifts r/m8, imm8 (not /6)
    set(one, 0xc1, kFastModrm, 1, 0xbf);                          // shifts r/m, imm8 (not /6)
    set(one, 0xc3, kFastEnd);                                     // ret
    set(one, 0xc6, kFastModrm, 1, 0x01);                          // mov r/m8, imm8
    set(one, 0xc7, kFastModrm, 4, 0x01);                          // mov r/m, imm32
    set(one, 0xc9, 0);                                            // leave
    set(one, 0xcc, 0);                                            // int3 (allowed)
    for (unsigned op = 0xd0; op <= 0xd3; ++op) set(one, op, kFastModrm, 0, 0xbf);  // shifts by 1, cl
    set(one, 0xe8, kFastRel, 4);                                  // call rel32
    set(one, 0xe9, kFastRel | kFastEnd, 4);                       // jmp rel32
    set(one, 0xeb, kFastRel | kFastEnd, 1);                       // jmp rel8
    set(one, 0xf6, kFastModrm | kFastImmReg0, 1, 0xfd);           // test imm8, not neg mul imul div idiv
    set(one, 0xf7, kFastModrm | kFastImmReg0, 4, 0xfd);
    set(one, 0xfe, kFastModrm, 0, 0x03);                          // inc, dec r/m8
    set(one, 0xff, kFastModrm, 0, 0x43);                          // inc, dec, push r/m (not call/jmp)
    set(two, 0x0b, 0);                                            // ud2
    set(two, 0x1f, kFastModrm, 0, 0x01);                          // nop r/m
    for (unsigned op = 0x40; op <= 0x4f; ++op) set(two, op, kFastModrm);  // cmovcc
    for (unsigned op = 0x80; op <= 0x8f; ++op) set(two, op, kFastRel, 4);  // jcc rel32
    for (unsigned op = 0x90; op <= 0x9f; ++op) set(two, op, kFastModrm, 0, 0x01);  // setcc
    for (unsigned op : {0xa3u, 0xabu, 0xafu, 0xb3u, 0xb6u, 0xb7u, 0xbbu, 0xbcu, 0xbdu, 0xbeu, 0xbfu})
      set(two, op, kFastModrm);                                   // bt*, imul, movzx, movsx, bsf, bsr
    set(two, 0xa4, kFastModrm, 1);                                // shld imm8
    set(two, 0xa5, kFastModrm);                                   // shld cl
    set(two, 0xac, kFastModrm, 1);                                // shrd imm8
    set(two, 0xad, kFastModrm);                                   // shrd cl
    for (unsigned op = 0xc8; op <= 0xcf; ++op) set(two, op, 0);   // bswap
  }
};
constexpr FastTables kFast;

struct FastResult {
  uint8_t length;  // 0: not handled here
  uint8_t flags;
  int64_t displacement;  // kFastRel
};

// The fast reading of the instruction at p (avail bytes), or length 0.
inline FastResult fast_decode(const unsigned char *p, size_t avail) {
  FastResult out{0, 0, 0};
  size_t i = 0;
  bool wide = false;
  if (avail == 0) return out;
  unsigned byte = p[0];
  if ((byte & 0xf0) == 0x40) {  // REX
    wide = (byte & 8) != 0;
    if (++i >= avail) return out;
    byte = p[i];
  }
  const FastOp *table = kFast.one;
  if (byte == 0x0f) {
    if (++i >= avail) return out;
    byte = p[i];
    table = kFast.two;
  }
  FastOp op = table[byte];
  if (!(op.flags & kFastValid)) return out;
  ++i;
  size_t imm = op.imm;
  if (op.flags & kFastModrm) {
    if (i >= avail) return out;
    unsigned modrm = p[i++];
    unsigned mod = modrm >> 6, reg = (modrm >> 3) & 7, rm = modrm & 7;
    if (op.regs != 0 && !((op.regs >> reg) & 1)) return out;
    if (mod == 3) {
      if (op.flags & kFastMemOnly) return out;
    } else {
      if (rm == 4) {
        if (i >= avail) return out;
        unsigned sib = p[i++];
        if (mod == 0 && (sib & 7) == 5) i += 4;
      } else if (mod == 0 && rm == 5) {
        i += 4;  // rip-relative
      }
      i += mod == 1 ? 1 : mod == 2 ? 4 : 0;
    }
    if ((op.flags & kFastImmReg0) && reg != 0) imm = 0;
  }
  if ((op.flags & kFastImm64W) && wide) imm = 8;
  if (i + imm > avail) return out;
  if (op.flags & kFastRel) {
    if (imm == 1) {
      out.displacement = static_cast<int8_t>(p[i]);
    } else {
      int32_t rel;
      memcpy(&rel, p + i, 4);
      out.displacement = rel;
    }
  }
  out.length = static_cast<uint8_t>(i + imm);
  out.flags = op.flags;
  return out;
}

// ---- the whole code ---------------------------------------------------------------

inline void set_bit(uint64_t *bits, size_t i) { bits[i / 64] |= uint64_t{1} << (i % 64); }
inline bool has_bit(const uint64_t *bits, size_t i) { return (bits[i / 64] >> (i % 64)) & 1; }

// The check itself; code and len are in range. *bad is the offset of the
// refusal.
int32_t check(const unsigned char *code, size_t len, size_t *bad, bool use_fast) {
  uint64_t local[2][kStackCodeBytes / 64];
  size_t words = (len + 63) / 64;
  uint64_t *starts = local[0], *targets = local[1];
  uint64_t *heap = nullptr;
  if (len > kStackCodeBytes) {
    heap = static_cast<uint64_t *>(calloc(2 * words, sizeof(uint64_t)));
    if (heap == nullptr) {
      *bad = 0;
      return NPK_ERR_JIT_ALLOC;
    }
    starts = heap;
    targets = heap + words;
  } else {
    memset(starts, 0, words * sizeof(uint64_t));
    memset(targets, 0, words * sizeof(uint64_t));
  }
  ZydisDecoder decoder;
  init_decoder(&decoder);
  ZydisDecoderContext context;
  ZydisDecodedInstruction in;
  int32_t refused = 0;
  size_t at = 0;
  bool ends = false;
  while (at < len) {
    if (use_fast) {
      FastResult fast = fast_decode(code + at, len - at);
      if (fast.length != 0) {
        set_bit(starts, at);
        if (fast.flags & kFastRel) {
          int64_t target = static_cast<int64_t>(at + fast.length) + fast.displacement;
          if (target < 0 || static_cast<uint64_t>(target) >= len) {
            refused = NPK_ERR_JIT_BYTES_BRANCH_OUTSIDE;
            break;
          }
          set_bit(targets, static_cast<size_t>(target));
        }
        ends = (fast.flags & kFastEnd) != 0;
        at += fast.length;
        continue;
      }
    }
    ZyanStatus status = ZydisDecoderDecodeInstruction(&decoder, &context, code + at, len - at, &in);
    if (!ZYAN_SUCCESS(status)) {
      refused = status == ZYDIS_STATUS_NO_MORE_DATA ? NPK_ERR_JIT_BYTES_TRUNCATED : NPK_ERR_JIT_BYTES_UNDECODABLE;
      break;
    }
    set_bit(starts, at);
    refused = classify(in);
    if (refused != 0) break;
    int64_t displacement = 0;
    if (relative_imm(in, &displacement)) {
      int64_t target = static_cast<int64_t>(at + in.length) + displacement;
      if (target < 0 || static_cast<uint64_t>(target) >= len) {
        refused = NPK_ERR_JIT_BYTES_BRANCH_OUTSIDE;
        break;
      }
      set_bit(targets, static_cast<size_t>(target));
    }
    ends = is_end(in);
    at += in.length;
  }
  if (refused == 0) {
    // A target that is no instruction's start: find the first branch to one.
    bool inside = false;
    for (size_t w = 0; w < words && !inside; ++w) inside = (targets[w] & ~starts[w]) != 0;
    if (inside) {
      refused = NPK_ERR_JIT_BYTES_BRANCH_INSIDE;
      for (at = 0; at < len; at += in.length) {
        ZydisDecoderDecodeInstruction(&decoder, &context, code + at, len - at, &in);
        int64_t displacement = 0;
        if (relative_imm(in, &displacement) &&
            !has_bit(starts, static_cast<size_t>(static_cast<int64_t>(at + in.length) + displacement)))
          break;
      }
    } else if (!ends) {
      refused = NPK_ERR_JIT_BYTES_NO_END;
      // The offset of the last instruction.
      for (at = len; at > 0 && !has_bit(starts, at - 1);) --at;
      at = at > 0 ? at - 1 : 0;
    }
  }
  free(heap);
  *bad = refused != 0 ? at : 0;
  return refused;
}

const char *reason_of(int32_t code) {
  switch (code) {
#define NPK_JIT_BYTES_ERROR(name, value, reason) \
  case value: return reason;
#include "npk/jit_bytes_errors.def"
#undef NPK_JIT_BYTES_ERROR
    case NPK_ERR_JIT_ALLOC: return "out of memory for the check";
    default: return "refused";
  }
}

// Prints the one line of a refusal: the reason, the offset and the
// instruction there (Intel syntax, branch targets as offsets into the code),
// or its bytes in hex when they do not decode.
void report(const char *op, const unsigned char *code, size_t len, int32_t refused, size_t at) {
  char text[256];
  text[0] = '\0';
  ZydisDecoder decoder;
  init_decoder(&decoder);
  ZydisDecodedInstruction in;
  ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT];
  bool decoded = refused != NPK_ERR_JIT_BYTES_TRUNCATED && refused != NPK_ERR_JIT_BYTES_UNDECODABLE &&
                 ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, code + at, len - at, &in, operands));
  ZydisFormatter formatter;
  if (decoded && ZYAN_SUCCESS(ZydisFormatterInit(&formatter, ZYDIS_FORMATTER_STYLE_INTEL)) &&
      ZYAN_SUCCESS(ZydisFormatterSetProperty(&formatter, ZYDIS_FORMATTER_PROP_ADDR_PADDING_ABSOLUTE,
                                             ZYDIS_PADDING_DISABLED)) &&
      ZYAN_SUCCESS(ZydisFormatterFormatInstruction(&formatter, &in, operands, in.operand_count_visible, text,
                                                   sizeof text, at, nullptr))) {
  } else {
    // The bytes an instruction could span from here (at most 15).
    size_t n = len - at < ZYDIS_MAX_INSTRUCTION_LENGTH ? len - at : ZYDIS_MAX_INSTRUCTION_LENGTH;
    size_t used = static_cast<size_t>(snprintf(text, sizeof text, "bytes"));
    for (size_t i = 0; i < n && used + 4 < sizeof text; ++i)
      used += static_cast<size_t>(snprintf(text + used, sizeof text - used, " %02x", code[at + i]));
  }
  fprintf(stderr, "[WildX] panic: %s rejected: %s at offset %zu: %s\n", op, reason_of(refused), at, text);
}

// Checks the arguments and the code; 0, or the code after printing one line
// naming op.
int32_t validate_reporting(const char *op, const void *code, size_t len) {
  if (code == nullptr) {
    fprintf(stderr, "[WildX] panic: %s rejected: null code\n", op);
    return NPK_ERR_JIT_BYTES_LENGTH;
  }
  if (len == 0 || len > kMaxCodeBytes) {
    fprintf(stderr, "[WildX] panic: %s rejected: %s: %zu bytes\n", op, reason_of(NPK_ERR_JIT_BYTES_LENGTH), len);
    return NPK_ERR_JIT_BYTES_LENGTH;
  }
  // A wild buffer (npk_alloc) knows its size: a length past it is refused
  // before a byte beyond the block is read.
  int64_t block = 0;
  if (heap_block_bytes(code, &block) && len > static_cast<uint64_t>(block)) {
    fprintf(stderr, "[WildX] panic: %s rejected: code length %zu exceeds its allocation (%lld bytes)\n", op, len,
            static_cast<long long>(block));
    return NPK_ERR_JIT_BYTES_LENGTH;
  }
  size_t at = 0;
  int32_t refused = check(static_cast<const unsigned char *>(code), len, &at, true);
  if (refused == NPK_ERR_JIT_ALLOC)
    fprintf(stderr, "[WildX] panic: %s rejected: %s\n", op, reason_of(refused));
  else if (refused != 0)
    report(op, static_cast<const unsigned char *>(code), len, refused, at);
  return refused;
}

std::atomic<uint32_t> g_bytes_counter{0};

}  // namespace
}  // namespace npkrt

using namespace npkrt;

extern "C" int32_t npk_jit_validate(const void *code, size_t len, size_t *bad_offset) {
  size_t ignored = 0;
  if (bad_offset == nullptr) bad_offset = &ignored;
  *bad_offset = 0;
  if (code == nullptr || len == 0 || len > kMaxCodeBytes) return NPK_ERR_JIT_BYTES_LENGTH;
  return check(static_cast<const unsigned char *>(code), len, bad_offset, true);
}

// ---- test hooks (validate_internal.h) ----------------------------------------------

int32_t npkrt::validate_test_zydis_only(const void *code, size_t len, size_t *bad_offset) {
  *bad_offset = 0;
  if (code == nullptr || len == 0 || len > kMaxCodeBytes) return NPK_ERR_JIT_BYTES_LENGTH;
  return check(static_cast<const unsigned char *>(code), len, bad_offset, false);
}

size_t npkrt::validate_test_fast_length(const void *code, size_t avail) {
  return fast_decode(static_cast<const unsigned char *>(code), avail).length;
}

extern "C" npk_jit_fn npk_jit_module_add_bytes(npk_jit_module *m, const void *code, size_t len, const char *sig,
                                               const char *name, int32_t *err) {
  static const char kOp[] = "jit_module_add_bytes";
  int32_t ignored = 0;
  if (err == nullptr) err = &ignored;
  *err = validate_reporting(kOp, code, len);
  if (*err != 0) return 0;
  npk_jit_sig tag = npk_jit_sig_intern(sig);
  if (tag == 0) {
    *err = NPK_ERR_JIT_BYTES_SIGNATURE;
    return 0;
  }
  npk_jit_fn f = npk_jit_module_add(m, code, len, tag, name);
  if (f == 0) *err = NPK_ERR_JIT_INSTALL;
  return f;
}

extern "C" void *npk_jit_compile_bytes(const void *code, int64_t len, const char *sig, int32_t *err) {
  static const char kOp[] = "jit_compile_bytes";
  int32_t ignored = 0;
  if (err == nullptr) err = &ignored;
  if (len < 0) {
    fprintf(stderr, "[WildX] panic: %s rejected: %s: %lld bytes\n", kOp, reason_of(NPK_ERR_JIT_BYTES_LENGTH),
            static_cast<long long>(len));
    *err = NPK_ERR_JIT_BYTES_LENGTH;
    return nullptr;
  }
  *err = validate_reporting(kOp, code, static_cast<size_t>(len));
  if (*err != 0) return nullptr;
  npk_jit_sig tag = npk_jit_sig_intern(sig);
  if (tag == 0) {
    *err = NPK_ERR_JIT_BYTES_SIGNATURE;
    return nullptr;
  }
  return code_compile_standalone(code, static_cast<size_t>(len), tag, "compile_bytes",
                                 g_bytes_counter.fetch_add(1, std::memory_order_relaxed) + 1, kOp, err);
}
