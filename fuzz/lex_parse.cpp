// libFuzzer target: the lexer and the parser on one file. The input is taken
// as a source file is (driver/Modules.h, sourceFromText: inputs that are not
// source are refused before lexing, as npkc refuses them), lexed and parsed,
// and every diagnostic rendered as text and as JSON; a module that parses
// without errors is dumped (`--emit=ast`). Runs on a thread with the compiler's
// stack, as npkc does (compiler_thread.h), so the parser's depth bound holds.
#include "ast/AST.h"
#include "diag/Diag.h"
#include "driver/Modules.h"
#include "parse/Parser.h"
#include "compiler_thread.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  npk::SourceProblem why;
  std::string text;
  if (!npk::sourceFromText("fuzz.npk", std::string(reinterpret_cast<const char *>(data), size), text, why))
    return -1; // not source: npkc stops with NPK-E004 before lexing; keep no such input
  npk_fuzz::CompilerThread::get().run([&] {
    npk::SourceManager sm;
    npk::DiagEngine diags;
    npk::Module module;
    module.name = "fuzz.npk";
    module.isMain = true;
    module.fileId = sm.add("fuzz.npk", std::move(text));
    npk::parseFile(sm, module.fileId, diags, module);
    size_t rendered = 0;
    for (const npk::Diag &d : diags.all())
      rendered += npk::renderDiag(sm, d, true).size() + npk::renderDiagJson(sm, d).size();
    if (!diags.hasErrors()) rendered += npk::dumpModule(module).size();
    if (diags.hasErrors() && rendered == 0) __builtin_trap(); // an error renders as at least one line
  });
  return 0;
}
