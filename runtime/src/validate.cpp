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

// ---- the whole code ---------------------------------------------------------------

inline void set_bit(uint64_t *bits, size_t i) { bits[i / 64] |= uint64_t{1} << (i % 64); }
inline bool has_bit(const uint64_t *bits, size_t i) { return (bits[i / 64] >> (i % 64)) & 1; }

// The check itself; code and len are in range. *bad is the offset of the
// refusal.
int32_t check(const unsigned char *code, size_t len, size_t *bad) {
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
  size_t at = 0;
  int32_t refused = check(static_cast<const unsigned char *>(code), len, &at);
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
  return check(static_cast<const unsigned char *>(code), len, bad_offset);
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
