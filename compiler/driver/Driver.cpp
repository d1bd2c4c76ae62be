#include "driver/Driver.h"

#include "check/Checker.h"
#include "driver/Emit.h"
#include "driver/Modules.h"
#include "lex/Lexer.h"
#include "lower/Lower.h"
#include "own/Ownership.h"

#include <llvm/IR/Verifier.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/raw_ostream.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <unistd.h>

namespace npk {

namespace {

constexpr unsigned kMaxShownDiags = 50;

bool useColor() { return isatty(STDERR_FILENO) && !std::getenv("NO_COLOR"); }

// Prints every diagnostic; returns true when there were errors.
bool flushDiags(const SourceManager &sm, const DiagEngine &diags) {
  bool color = useColor();
  unsigned shown = 0;
  for (const Diag &d : diags.all()) {
    if (shown++ == kMaxShownDiags) {
      std::fprintf(stderr, "note: %u more errors not shown\n", diags.errorCount() - kMaxShownDiags);
      break;
    }
    std::string text = renderDiag(sm, d, color);
    std::fwrite(text.data(), 1, text.size(), stderr);
  }
  if (diags.hasErrors())
    std::fprintf(stderr, "%u error%s generated.\n", diags.errorCount(), diags.errorCount() == 1 ? "" : "s");
  return diags.hasErrors();
}

// Writes text to `path`, or stdout when path is empty or "-".
bool writeText(const std::string &path, const std::string &text) {
  if (path.empty() || path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return true;
  }
  std::error_code ec;
  llvm::raw_fd_ostream out(path, ec);
  if (ec) return false;
  out << text;
  return true;
}

std::string dumpTokens(const SourceManager &sm, uint32_t fileId, DiagEngine &diags) {
  Lexer lexer(sm, fileId, diags);
  std::string out;
  for (const Token &t : lexer.lexAll()) {
    LineCol lc = sm.lineCol(fileId, t.span.begin);
    out += std::to_string(lc.line) + ":" + std::to_string(lc.col) + " " + std::string(tokName(t.kind));
    if (t.kind != Tok::Eof) out += " `" + std::string(t.text) + "`";
    out += "\n";
  }
  return out;
}

std::string defaultOutput(const std::string &input, const char *ext) {
  std::filesystem::path p(input);
  return p.stem().string() + ext;
}

} // namespace

int compile(const Options &opts) {
  SourceManager sm;
  DiagEngine diags;
  if (opts.emit == EmitKind::Tokens) {
    std::string text;
    if (!readFile(opts.input, text)) {
      diags.error(DiagId::IoError, Span{}, "cannot read `" + opts.input + "`");
      flushDiags(sm, diags);
      return 1;
    }
    uint32_t id = sm.add(opts.input, std::move(text));
    std::string out = dumpTokens(sm, id, diags);
    if (flushDiags(sm, diags)) return 1;
    return writeText(opts.output, out) ? 0 : 1;
  }

  Program program;
  ModuleSearch search{opts.includeDirs, defaultStdlibDir()};
  loadProgram(opts.input, search, sm, diags, program);                 // lex + parse + modules
  if (opts.emit == EmitKind::Ast && !diags.hasErrors()) {
    flushDiags(sm, diags);
    std::string out;
    for (auto &m : program.modules)
      if (m->isMain) out += dumpModule(*m);
    return writeText(opts.output, out) ? 0 : 1;
  }
  if (flushDiags(sm, diags)) return 1;

  TypeContext types;
  Checker checker(sm, program, types, diags);
  checker.run();                                                        // names, types, results
  if (flushDiags(sm, diags)) return 1;

  ProgramDropPlans drops;
  checkOwnership(sm, program, checker.symbols(), diags, drops);         // ARIA-014/015/022, drop plan
  if (flushDiags(sm, diags)) return 1;
  if (opts.checkOnly) return 0;

  llvm::LLVMContext ctx;
  std::unique_ptr<llvm::Module> mod = lowerProgram(ctx, sm, program, checker.symbols(), drops, types); // LLVM IR
  std::string verifyErrors;
  llvm::raw_string_ostream verifyOut(verifyErrors);
  if (llvm::verifyModule(*mod, &verifyOut)) {
    std::fprintf(stderr, "npkc: internal error: invalid LLVM IR for %s\n%s", opts.input.c_str(), verifyErrors.c_str());
    return 70;
  }
  std::string error = optimizeModule(*mod, opts.optLevel);
  if (!error.empty()) {
    diags.error(DiagId::ToolFailed, Span{}, error);
    flushDiags(sm, diags);
    return 1;
  }
  if (opts.emit == EmitKind::Llvm) {
    std::string ir;
    llvm::raw_string_ostream os(ir);
    mod->print(os, nullptr);
    return writeText(opts.output, ir) ? 0 : 1;
  }
  bool assembly = opts.emit == EmitKind::Asm;
  std::string objPath = opts.output;
  llvm::SmallString<128> tmpObj;
  if (opts.emit == EmitKind::Exe || (assembly && (objPath.empty() || objPath == "-"))) {
    llvm::sys::fs::createTemporaryFile("npkc", assembly ? "s" : "o", tmpObj);
    objPath = std::string(tmpObj);
  } else if (objPath.empty()) {
    objPath = defaultOutput(opts.input, ".o");
  }
  error = emitMachineCode(*mod, objPath, assembly, opts.optLevel);      // object code
  if (error.empty() && assembly && !tmpObj.empty()) {
    std::string text;
    readFile(objPath, text);
    writeText("-", text);
  }
  if (error.empty() && opts.emit == EmitKind::Exe) {
    std::string exe = opts.output.empty() ? defaultOutput(opts.input, "") : opts.output;
    error = linkExecutable(objPath, exe);                                 // link with libnpkrt
  }
  if (!tmpObj.empty()) llvm::sys::fs::remove(tmpObj);
  if (!error.empty()) {
    diags.error(DiagId::ToolFailed, Span{}, error);
    flushDiags(sm, diags);
    return 1;
  }
  return 0;
}

} // namespace npk
