/* A direct x86-64 encoder for exactly the instruction forms the function
 * builder (builder.cpp) emits. Each form picks the encoding asmjit's
 * x86::Assembler picks for the same operands (shortest displacement,
 * 8-bit immediates, the accumulator and shift-by-one forms), and
 * tests/unit/runtime/x64_encode_test.cpp compares the bytes of every form
 * over every register combination with asmjit's.
 *
 * Header only: the builder calls these per instruction. The caller keeps at
 * least kMaxInsnBytes free at `p` before each call; nothing here checks.
 */
#ifndef NPK_RUNTIME_X64_ENCODE_H
#define NPK_RUNTIME_X64_ENCODE_H

#include <stdint.h>
#include <string.h>

// Inlined into the builder's per-instruction code: these are a few stores each.
#define NPK_X64_INLINE inline __attribute__((always_inline))

namespace npkrt {
namespace x64 {

constexpr uint32_t kMaxInsnBytes = 16;

// General registers by their encoding number; xmm registers are 0..15 too.
enum Gpr : int { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

// Condition codes (the low nibble of Jcc/SETcc/CMOVcc).
enum Cond : int { O, NO, B, AE, E, NE, BE, A, S, NS, P, NP, L, GE, LE, G };

// Opcodes of the two-register ALU forms (MR: reg field is the source).
enum AluOp : uint8_t { ADD = 0x01, OR = 0x09, AND = 0x21, SUB = 0x29, XOR = 0x31, CMP = 0x39, TEST = 0x85, MOV = 0x89 };
// /digit of the same operations with an immediate (83 /n ib, 81 /n id).
enum AluExt : int { EXT_ADD = 0, EXT_OR = 1, EXT_AND = 4, EXT_SUB = 5, EXT_XOR = 6, EXT_CMP = 7 };
// /digit of F7 (unary) and of the shift group (D3, C1, D1).
enum UnaryExt : int { NOT = 2, NEG = 3, DIV = 6, IDIV = 7 };
enum ShiftExt : int { SHL = 4, SHR = 5, SAR = 7 };
// Loads into a 32- or 64-bit register.
enum LoadKind : int { LD_I8, LD_U8, LD_I16, LD_U16, LD_32, LD_64 };
// SSE2 scalar double operations: F2 0F <op> (ucomisd is 66 0F 2E).
enum SseOp : uint8_t { ADDSD = 0x58, MULSD = 0x59, SUBSD = 0x5c, DIVSD = 0x5e };

struct Out {
  uint8_t *p;
  NPK_X64_INLINE void b(uint8_t v) { *p++ = v; }
  NPK_X64_INLINE void d32(int32_t v) {
    memcpy(p, &v, 4);
    p += 4;
  }
  NPK_X64_INLINE void d64(int64_t v) {
    memcpy(p, &v, 8);
    p += 8;
  }
  // A REX prefix when any bit is needed (or `force`, for spl/bpl/sil/dil).
  NPK_X64_INLINE void rex(bool w, int reg, int index, int base, bool force = false) {
    uint8_t v = static_cast<uint8_t>(0x40 | (w ? 8 : 0) | ((reg >> 3) & 1) << 2 | ((index >> 3) & 1) << 1 | ((base >> 3) & 1));
    if (v != 0x40 || force) b(v);
  }
  NPK_X64_INLINE void modrm_rr(int reg, int rm) { b(static_cast<uint8_t>(0xc0 | (reg & 7) << 3 | (rm & 7))); }
  // [base + disp]: no displacement when 0 (rbp/r13 need a zero disp8),
  // disp8 when it fits, else disp32; rsp/r12 need a SIB byte.
  NPK_X64_INLINE void modrm_mem(int reg, int base, int32_t disp) {
    int mod = (disp == 0 && (base & 7) != RBP) ? 0 : (disp >= -128 && disp <= 127) ? 1 : 2;
    b(static_cast<uint8_t>(mod << 6 | (reg & 7) << 3 | (base & 7)));
    if ((base & 7) == RSP) b(0x24);
    if (mod == 1) b(static_cast<uint8_t>(disp));
    if (mod == 2) d32(disp);
  }
};

NPK_X64_INLINE bool fits8(int64_t v) { return v >= -128 && v <= 127; }
NPK_X64_INLINE bool fits32(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }
// spl, bpl, sil, dil exist only with a REX prefix.
NPK_X64_INLINE bool needs_rex8(int r) { return r >= RSP && r <= RDI; }

// op dst, src (add/or/and/sub/xor/cmp/test/mov), 32 or 64 bits.
NPK_X64_INLINE void alu_rr(Out &o, AluOp op, bool w64, int dst, int src) {
  o.rex(w64, src, 0, dst);
  o.b(op);
  o.modrm_rr(src, dst);
}

// op dst, imm32 (add/or/and/sub/xor/cmp).
NPK_X64_INLINE void alu_ri(Out &o, AluExt ext, bool w64, int dst, int32_t imm) {
  o.rex(w64, 0, 0, dst);
  if (fits8(imm)) {
    o.b(0x83);
    o.modrm_rr(ext, dst);
    o.b(static_cast<uint8_t>(imm));
  } else if (dst == RAX) {
    o.b(static_cast<uint8_t>(ext << 3 | 5));
    o.d32(imm);
  } else {
    o.b(0x81);
    o.modrm_rr(ext, dst);
    o.d32(imm);
  }
}

NPK_X64_INLINE void imul_rr(Out &o, bool w64, int dst, int src) {
  o.rex(w64, dst, 0, src);
  o.b(0x0f);
  o.b(0xaf);
  o.modrm_rr(dst, src);
}

// not/neg/div/idiv r.
NPK_X64_INLINE void unary(Out &o, UnaryExt ext, bool w64, int r) {
  o.rex(w64, 0, 0, r);
  o.b(0xf7);
  o.modrm_rr(ext, r);
}

NPK_X64_INLINE void shift_cl(Out &o, ShiftExt ext, bool w64, int r) {
  o.rex(w64, 0, 0, r);
  o.b(0xd3);
  o.modrm_rr(ext, r);
}

NPK_X64_INLINE void shift_ri(Out &o, ShiftExt ext, bool w64, int r, uint8_t count) {
  o.rex(w64, 0, 0, r);
  o.b(count == 1 ? 0xd1 : 0xc1);
  o.modrm_rr(ext, r);
  if (count != 1) o.b(count);
}

NPK_X64_INLINE void cdq(Out &o) { o.b(0x99); }
NPK_X64_INLINE void cqo(Out &o) {
  o.b(0x48);
  o.b(0x99);
}

// setcc r8 (low byte of r).
NPK_X64_INLINE void setcc(Out &o, Cond cc, int r) {
  o.rex(false, 0, 0, r, needs_rex8(r));
  o.b(0x0f);
  o.b(static_cast<uint8_t>(0x90 | cc));
  o.modrm_rr(0, r);
}

// movsxd dst64, src32.
NPK_X64_INLINE void movsxd(Out &o, int dst, int src) {
  o.rex(true, dst, 0, src);
  o.b(0x63);
  o.modrm_rr(dst, src);
}

// movzx dst32, src8.
NPK_X64_INLINE void movzx_r8(Out &o, int dst, int src) {
  o.rex(false, dst, 0, src, needs_rex8(src));
  o.b(0x0f);
  o.b(0xb6);
  o.modrm_rr(dst, src);
}

NPK_X64_INLINE void cmov(Out &o, Cond cc, bool w64, int dst, int src) {
  o.rex(w64, dst, 0, src);
  o.b(0x0f);
  o.b(static_cast<uint8_t>(0x40 | cc));
  o.modrm_rr(dst, src);
}

// mov r32, imm32 (zero-extends into the 64-bit register).
NPK_X64_INLINE void mov_ri32(Out &o, int dst, int32_t imm) {
  o.rex(false, 0, 0, dst);
  o.b(static_cast<uint8_t>(0xb8 | (dst & 7)));
  o.d32(imm);
}

// mov r64, imm: sign-extended imm32 when it fits, else the 10-byte form.
NPK_X64_INLINE void mov_ri64(Out &o, int dst, int64_t imm) {
  if (fits32(imm)) {
    o.rex(true, 0, 0, dst);
    o.b(0xc7);
    o.modrm_rr(0, dst);
    o.d32(static_cast<int32_t>(imm));
  } else {
    o.rex(true, 0, 0, dst);
    o.b(static_cast<uint8_t>(0xb8 | (dst & 7)));
    o.d64(imm);
  }
}

// Loads from [base + disp].
NPK_X64_INLINE void load(Out &o, LoadKind kind, int dst, int base, int32_t disp) {
  o.rex(kind == LD_64, dst, 0, base);
  switch (kind) {
    case LD_I8: o.b(0x0f), o.b(0xbe); break;
    case LD_U8: o.b(0x0f), o.b(0xb6); break;
    case LD_I16: o.b(0x0f), o.b(0xbf); break;
    case LD_U16: o.b(0x0f), o.b(0xb7); break;
    case LD_32:
    case LD_64: o.b(0x8b); break;
  }
  o.modrm_mem(dst, base, disp);
}

// mov [base + disp], src with `bytes` 1, 2, 4 or 8.
NPK_X64_INLINE void store(Out &o, int bytes, int base, int32_t disp, int src) {
  if (bytes == 2) o.b(0x66);
  o.rex(bytes == 8, src, 0, base, bytes == 1 && needs_rex8(src));
  o.b(bytes == 1 ? 0x88 : 0x89);
  o.modrm_mem(src, base, disp);
}

// Branches with a 32-bit displacement from the end of the instruction; the
// returned pointer is where the displacement sits (for patching).
NPK_X64_INLINE uint8_t *jmp_rel32(Out &o, int32_t rel) {
  o.b(0xe9);
  uint8_t *at = o.p;
  o.d32(rel);
  return at;
}
NPK_X64_INLINE uint8_t *jcc_rel32(Out &o, Cond cc, int32_t rel) {
  o.b(0x0f);
  o.b(static_cast<uint8_t>(0x80 | cc));
  uint8_t *at = o.p;
  o.d32(rel);
  return at;
}
NPK_X64_INLINE uint8_t *call_rel32(Out &o, int32_t rel) {
  o.b(0xe8);
  uint8_t *at = o.p;
  o.d32(rel);
  return at;
}

NPK_X64_INLINE void call_r(Out &o, int r) {
  o.rex(false, 0, 0, r);
  o.b(0xff);
  o.modrm_rr(2, r);
}

NPK_X64_INLINE void push(Out &o, int r) {
  o.rex(false, 0, 0, r);
  o.b(static_cast<uint8_t>(0x50 | (r & 7)));
}
NPK_X64_INLINE void pop(Out &o, int r) {
  o.rex(false, 0, 0, r);
  o.b(static_cast<uint8_t>(0x58 | (r & 7)));
}
NPK_X64_INLINE void ret(Out &o) { o.b(0xc3); }
NPK_X64_INLINE void ud2(Out &o) {
  o.b(0x0f);
  o.b(0x0b);
}

// ---- SSE2 ----

// <prefix> 0F <op> xmm_dst, xmm_src.
NPK_X64_INLINE void sse_rr(Out &o, uint8_t prefix, uint8_t op, int dst, int src) {
  o.b(prefix);
  o.rex(false, dst, 0, src);
  o.b(0x0f);
  o.b(op);
  o.modrm_rr(dst, src);
}

NPK_X64_INLINE void arith_sd(Out &o, SseOp op, int dst, int src) { sse_rr(o, 0xf2, op, dst, src); }
NPK_X64_INLINE void movsd_rr(Out &o, int dst, int src) { sse_rr(o, 0xf2, 0x10, dst, src); }
NPK_X64_INLINE void ucomisd(Out &o, int a, int b) { sse_rr(o, 0x66, 0x2e, a, b); }

// xorps xmm, xmm (no prefix): zeroes a register.
NPK_X64_INLINE void xorps(Out &o, int dst, int src) {
  o.rex(false, dst, 0, src);
  o.b(0x0f);
  o.b(0x57);
  o.modrm_rr(dst, src);
}

NPK_X64_INLINE void movsd_load(Out &o, int dst, int base, int32_t disp) {
  o.b(0xf2);
  o.rex(false, dst, 0, base);
  o.b(0x0f);
  o.b(0x10);
  o.modrm_mem(dst, base, disp);
}
NPK_X64_INLINE void movsd_store(Out &o, int base, int32_t disp, int src) {
  o.b(0xf2);
  o.rex(false, src, 0, base);
  o.b(0x0f);
  o.b(0x11);
  o.modrm_mem(src, base, disp);
}

// movq xmm, r64 and movq r64, xmm.
NPK_X64_INLINE void movq_xr(Out &o, int xmm, int gpr) {
  o.b(0x66);
  o.rex(true, xmm, 0, gpr);
  o.b(0x0f);
  o.b(0x6e);
  o.modrm_rr(xmm, gpr);
}
NPK_X64_INLINE void movq_rx(Out &o, int gpr, int xmm) {
  o.b(0x66);
  o.rex(true, xmm, 0, gpr);
  o.b(0x0f);
  o.b(0x7e);
  o.modrm_rr(xmm, gpr);
}

// cvtsi2sd xmm, r32/r64 and cvttsd2si r32/r64, xmm.
NPK_X64_INLINE void cvtsi2sd(Out &o, bool w64, int xmm, int gpr) {
  o.b(0xf2);
  o.rex(w64, xmm, 0, gpr);
  o.b(0x0f);
  o.b(0x2a);
  o.modrm_rr(xmm, gpr);
}
NPK_X64_INLINE void cvttsd2si(Out &o, bool w64, int gpr, int xmm) {
  o.b(0xf2);
  o.rex(w64, gpr, 0, xmm);
  o.b(0x0f);
  o.b(0x2c);
  o.modrm_rr(gpr, xmm);
}

}  // namespace x64
}  // namespace npkrt

#endif /* NPK_RUNTIME_X64_ENCODE_H */
