// libFuzzer target: the validator of caller-supplied x86-64 code
// (npk_jit_validate, npk_jit_compile_bytes; docs/runtime.md, "Validated
// bytes"). The input is the code itself. Each verdict is checked against a
// second reading of the same bytes made here with Zydis' full decoder
// (operands included), not with the validator's shortcuts:
//  - the runtime never crashes (the sanitizers and libFuzzer report that);
//  - the verdict and its offset are those of the check without the fast
//    path (every instruction read by Zydis);
//  - the verdict is 0 or a code of npk/jit_bytes_errors.def, and a refusal's
//    offset is the start of an instruction (every byte before it decodes);
//  - accepted code decodes completely, has no jmp/call whose target is a
//    register or memory, no far branch, no privileged instruction, no
//    syscall/sysenter/int n/in/out/hlt, every direct branch target (as Zydis
//    computes it from the operand) is an instruction start inside the code,
//    and it ends in ret or jmp;
//  - npk_jit_compile_bytes agrees with npk_jit_validate: it installs what
//    is accepted (printing nothing; the handle is freed again, never called)
//    and refuses the rest with the same code and exactly one line naming
//    that offset.
// A breach prints the input's verdict and aborts.
#include "npk/runtime.h"
#include "validate_internal.h"

#include <Zydis/Zydis.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

extern "C" __attribute__((weak)) void __sanitizer_set_report_fd(void *fd);

namespace {

int g_saved_stderr = -1;
int g_capture = -1;
std::set<int32_t> g_codes;
ZydisDecoder g_decoder;

// What `action` printed on stderr.
template <class Action>
std::string captured(Action &&action) {
  dup2(g_capture, 2);
  action();
  fflush(stderr);
  dup2(g_saved_stderr, 2);
  std::string text;
  off_t n = lseek(g_capture, 0, SEEK_CUR);
  if (n > 0) {
    text.resize(static_cast<size_t>(n));
    ssize_t got = pread(g_capture, text.data(), text.size(), 0);
    text.resize(got > 0 ? static_cast<size_t>(got) : 0);
  }
  if (ftruncate(g_capture, 0) != 0 || lseek(g_capture, 0, SEEK_SET) != 0) {
    std::perror("fuzz_validator: stderr capture");
    std::abort();
  }
  return text;
}

[[noreturn]] void breach(int32_t verdict, size_t offset, const char *fmt, ...) {
  dup2(g_saved_stderr, 2);
  std::fprintf(stderr, "fuzz_validator: breach (verdict %d at offset %zu): ", verdict, offset);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "\n");
  std::abort();
}

bool decode(const uint8_t *code, size_t len, ZydisDecodedInstruction *in, ZydisDecodedOperand *operands) {
  return ZYAN_SUCCESS(ZydisDecoderDecodeFull(&g_decoder, code, len, in, operands));
}

// The independent reading of accepted code; returns what is wrong or nullptr.
const char *recheck_accepted(const uint8_t *code, size_t len, std::string &detail) {
  std::vector<bool> start(len, false);
  std::vector<std::pair<size_t, uint64_t>> branches;  // offset, target
  ZydisDecodedInstruction in;
  ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT];
  size_t at = 0;
  while (at < len) {
    if (!decode(code + at, len - at, &in, operands)) return "accepted code that does not decode";
    start[at] = true;
    detail = "at " + std::to_string(at) + ": " + ZydisMnemonicGetString(in.mnemonic);
    if (in.attributes & ZYDIS_ATTRIB_IS_PRIVILEGED) return "accepted a privileged instruction";
    switch (in.mnemonic) {
    case ZYDIS_MNEMONIC_SYSCALL: case ZYDIS_MNEMONIC_SYSENTER: case ZYDIS_MNEMONIC_INT: case ZYDIS_MNEMONIC_INT1:
    case ZYDIS_MNEMONIC_IN: case ZYDIS_MNEMONIC_OUT: case ZYDIS_MNEMONIC_HLT: case ZYDIS_MNEMONIC_CLI:
    case ZYDIS_MNEMONIC_STI: case ZYDIS_MNEMONIC_IRETQ: case ZYDIS_MNEMONIC_IRETD: case ZYDIS_MNEMONIC_WRPKRU:
    case ZYDIS_MNEMONIC_WRFSBASE: case ZYDIS_MNEMONIC_WRGSBASE: case ZYDIS_MNEMONIC_XRSTOR:
      return "accepted a system instruction";
    default: break;
    }
    if (in.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR) return "accepted a far branch";
    bool branch = in.meta.category == ZYDIS_CATEGORY_CALL || in.meta.category == ZYDIS_CATEGORY_UNCOND_BR ||
                  in.meta.category == ZYDIS_CATEGORY_COND_BR;
    for (uint8_t i = 0; i < in.operand_count_visible; ++i) {
      const ZydisDecodedOperand &op = operands[i];
      if (op.type == ZYDIS_OPERAND_TYPE_REGISTER && ZydisRegisterGetClass(op.reg.value) == ZYDIS_REGCLASS_SEGMENT &&
          (in.mnemonic == ZYDIS_MNEMONIC_MOV || in.mnemonic == ZYDIS_MNEMONIC_POP))
        return "accepted a segment register move";
      if (!branch) continue;
      if (op.type == ZYDIS_OPERAND_TYPE_REGISTER || op.type == ZYDIS_OPERAND_TYPE_MEMORY)
        if (in.mnemonic == ZYDIS_MNEMONIC_JMP || in.mnemonic == ZYDIS_MNEMONIC_CALL) return "accepted an indirect branch";
      if (op.type == ZYDIS_OPERAND_TYPE_IMMEDIATE && op.imm.is_relative) {
        ZyanU64 target = 0;
        if (!ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&in, &op, at, &target))) return "branch target not computable";
        branches.emplace_back(at, target);
      }
    }
    at += in.length;
  }
  for (const auto &[from, target] : branches) {
    detail = "branch at " + std::to_string(from) + " to " + std::to_string(target);
    if (target >= len) return "accepted a branch out of the code";
    if (!start[target]) return "accepted a branch into the middle of an instruction";
  }
  detail = ZydisMnemonicGetString(in.mnemonic);
  if (in.mnemonic != ZYDIS_MNEMONIC_RET && in.mnemonic != ZYDIS_MNEMONIC_JMP) return "accepted code that does not end in ret or jmp";
  return nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  g_saved_stderr = dup(2);
  g_capture = memfd_create("fuzz_validator_stderr", MFD_CLOEXEC);
  if (g_saved_stderr < 0 || g_capture < 0) {
    std::perror("fuzz_validator: stderr capture");
    std::exit(1);
  }
  if (__sanitizer_set_report_fd) __sanitizer_set_report_fd(reinterpret_cast<void *>(static_cast<intptr_t>(g_saved_stderr)));
#define NPK_JIT_BYTES_ERROR(name, code, reason) g_codes.insert(code);
#include "npk/jit_bytes_errors.def"
#undef NPK_JIT_BYTES_ERROR
  ZydisDecoderInit(&g_decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t offset = 0;
  int32_t verdict = 0;
  std::string quiet = captured([&] { verdict = npk_jit_validate(size == 0 ? nullptr : data, size, &offset); });
  if (!quiet.empty()) breach(verdict, offset, "npk_jit_validate printed: %s", quiet.c_str());
  if (size == 0) {
    if (verdict != NPK_ERR_JIT_BYTES_LENGTH) breach(verdict, offset, "empty code not refused for its length");
    return 0;
  }
  size_t zydis_offset = 0;
  int32_t zydis_verdict = npkrt::validate_test_zydis_only(data, size, &zydis_offset);
  if (zydis_verdict != verdict || zydis_offset != offset)
    breach(verdict, offset, "without the fast path: %d at offset %zu", zydis_verdict, zydis_offset);
  if (verdict != 0 && !g_codes.count(verdict)) breach(verdict, offset, "not a code of jit_bytes_errors.def");
  if (offset >= size) breach(verdict, offset, "offset outside the code");
  {
    // The offset is an instruction start: every instruction before it decodes.
    ZydisDecodedInstruction in;
    ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT];
    size_t at = 0;
    while (at < offset && decode(data + at, size - at, &in, operands)) at += in.length;
    if (at != offset) breach(verdict, offset, "offset is not an instruction start (walk reached %zu)", at);
  }
  if (verdict == 0) {
    std::string detail;
    if (const char *wrong = recheck_accepted(data, size, detail)) breach(verdict, offset, "%s (%s)", wrong, detail.c_str());
  }
  // npk_jit_compile_bytes agrees.
  int32_t err = -1;
  void *f = nullptr;
  std::string line = captured([&] { f = npk_jit_compile_bytes(data, static_cast<int64_t>(size), "i64(i64,i64)", &err); });
  if (verdict == 0) {
    if (f == nullptr || err != 0 || !line.empty())
      breach(verdict, offset, "compile_bytes refused accepted code (err %d): %s", err, line.c_str());
    if (npk_wildx_free(f) != 0) breach(verdict, offset, "the handle of compile_bytes did not free");
  } else {
    if (f != nullptr || err != verdict) breach(verdict, offset, "compile_bytes answered %d, not the verdict", err);
    std::string want = "[WildX] panic: jit_compile_bytes rejected: ";
    std::string at = " at offset " + std::to_string(offset) + ": ";
    size_t newlines = 0;
    for (char c : line) newlines += c == '\n';
    if (line.rfind(want, 0) != 0 || newlines != 1 || line.find(at) == std::string::npos)
      breach(verdict, offset, "compile_bytes printed not one line naming the offset: %s", line.c_str());
  }
  return 0;
}
