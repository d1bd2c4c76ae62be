#include "driver/Driver.h"

#include "check/Checker.h"
#include "driver/Emit.h"
#include "driver/Modules.h"
#include "lex/Lexer.h"
#include "lint/Warnings.h"
#include "lower/Lower.h"
#include "nir/NIR.h"
#include "nir/Passes.h"
#include "own/Ownership.h"

#include <algorithm>

#include <llvm/ADT/ScopeExit.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/Path.h>
#include <llvm/Support/raw_ostream.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <unistd.h>

namespace npk {

namespace {

constexpr unsigned kMaxShownDiags = DiagEngine::kErrorLimit;

// Whether text diagnostics are coloured: --color=always/never decide;
// auto colours a terminal unless NO_COLOR is set to a non-empty value.
bool useColor(ColorMode mode) {
  if (mode != ColorMode::Auto) return mode == ColorMode::Always;
  const char *noColor = std::getenv("NO_COLOR");
  return isatty(STDERR_FILENO) && (noColor == nullptr || noColor[0] == '\0');
}

// The diagnostics not printed yet in source order: by file (in the order
// files first appear) and position, whichever phase found them; ones without
// a location first.
std::vector<const Diag *> inSourceOrder(const DiagEngine &diags) {
  std::vector<const Diag *> out;
  std::vector<uint32_t> fileOrder;
  for (size_t i = diags.printed; i < diags.all().size(); ++i) {
    const Diag &d = diags.all()[i];
    out.push_back(&d);
    if (d.primary.valid() && std::find(fileOrder.begin(), fileOrder.end(), d.primary.file) == fileOrder.end())
      fileOrder.push_back(d.primary.file);
  }
  auto key = [&](const Diag *d) {
    if (!d->primary.valid()) return std::pair<size_t, uint32_t>{0, 0};
    size_t rank = std::find(fileOrder.begin(), fileOrder.end(), d->primary.file) - fileOrder.begin();
    return std::pair<size_t, uint32_t>{rank + 1, d->primary.begin};
  };
  std::stable_sort(out.begin(), out.end(), [&](const Diag *a, const Diag *b) { return key(a) < key(b); });
  return out;
}

std::string plural(unsigned n, const char *what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

// Prints the diagnostics the phases added since the last call to stderr, in
// source order, each once; returns true when there were errors. Text is
// capped at kMaxShownDiags with a count line and a summary; JSON is one
// object per diagnostic per line and nothing else. Diagnostics printed by an
// earlier call are not printed again (warnings come before later phases'
// errors, such as a failed link).
bool flushDiags(const SourceManager &sm, DiagEngine &diags, const Options &opts) {
  std::vector<const Diag *> ordered = inSourceOrder(diags);
  diags.printed = diags.all().size();
  if (opts.diagFormat == DiagFormat::Json) {
    for (const Diag *dp : ordered) {
      const Diag &d = *dp;
      std::string line = renderDiagJson(sm, d) + "\n";
      std::fwrite(line.data(), 1, line.size(), stderr);
    }
    return diags.hasErrors();
  }
  bool color = useColor(opts.color);
  unsigned errors = 0, warnings = 0;
  bool promoted = false;
  for (const Diag *dp : ordered) {
    ++(dp->severity == Severity::Error ? errors : warnings);
    promoted = promoted || (dp->severity == Severity::Error && isWarning(dp->id));
  }
  unsigned shown = 0;
  for (const Diag *dp : ordered) {
    const Diag &d = *dp;
    if (shown++ == kMaxShownDiags) {
      size_t rest = ordered.size() - kMaxShownDiags;
      bool onlyErrors = errors == ordered.size();
      std::fprintf(stderr, "note: %zu more %s not shown\n", rest, onlyErrors ? "errors" : "diagnostics");
      break;
    }
    std::string text = renderDiag(sm, d, color);
    std::fwrite(text.data(), 1, text.size(), stderr);
  }
  if (errors > 0 || warnings > 0) {
    std::string summary = warnings == 0  ? plural(errors, "error")
                          : errors == 0 ? plural(warnings, "warning")
                                        : plural(warnings, "warning") + " and " + plural(errors, "error");
    std::fprintf(stderr, "%s generated%s.\n", summary.c_str(),
                 promoted ? " (warnings are errors because of -Werror)" : "");
  }
  return diags.hasErrors();
}

bool writesStdout(const std::string &path) { return path.empty() || path == "-"; }

// Writes text to `path`, or stdout when path is empty or "-". A failure
// (a missing directory, a full disk, a closed pipe) is one NPK-E001 naming the
// output: the exit status alone would not say why nothing was written.
bool writeText(const std::string &path, const std::string &text, DiagEngine &diags) {
  std::string problem, help = "check that the output's directory exists and is writable, and that the disk has room";
  if (writesStdout(path)) {
    size_t written = std::fwrite(text.data(), 1, text.size(), stdout);
    if ((written != text.size() || std::fflush(stdout) != 0) && std::ferror(stdout)) {
      problem = "cannot write to standard output: " + std::string(std::strerror(errno));
      help = "check where standard output goes (a full disk, a closed file), or name a file with `-o OUT`";
    }
  } else {
    std::error_code ec;
    llvm::raw_fd_ostream out(path, ec);
    if (!ec) {
      out << text;
      out.close();
      ec = out.error();
      out.clear_error(); // reported below, not by LLVM's fatal error in the destructor
    }
    if (ec) problem = "cannot write `" + path + "`: " + ec.message();
  }
  if (problem.empty()) return true;
  diags.error(DiagId::IoError, Span{}, problem).withHelp(help);
  return false;
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

// The file `compile` writes for `opts`, or "" for stdout. The one place that
// names the default output of each --emit kind.
std::string outputPath(const Options &opts) {
  switch (opts.emit) {
  case EmitKind::Exe: return opts.output.empty() ? defaultOutput(opts.input, "") : opts.output;
  case EmitKind::Obj: return opts.output.empty() ? defaultOutput(opts.input, ".o") : opts.output;
  default: return writesStdout(opts.output) ? "" : opts.output;
  }
}

bool isExecutableFile(const std::string &path) {
  return llvm::sys::fs::is_regular_file(path) && access(path.c_str(), X_OK) == 0;
}

// NPK-E003: writing `out` would destroy the input (the same path, or the same
// file through a hard or symbolic link), or a defaulted executable would
// replace an existing file that is not an executable. The source is loaded
// only to give the diagnostic its location.
bool refuseOverwrite(const Options &opts, const std::string &out, SourceManager &sm, DiagEngine &diags) {
  if (out.empty() || opts.checkOnly) return false;
  std::string text;
  SourceProblem why;
  if (!readSource(opts.input, text, why)) return false; // loading reports it
  bool sameFile = false;
  llvm::SmallString<256> inAbs(opts.input), outAbs(out);
  if (!llvm::sys::fs::make_absolute(inAbs) && !llvm::sys::fs::make_absolute(outAbs)) {
    llvm::sys::path::remove_dots(inAbs, true);
    llvm::sys::path::remove_dots(outAbs, true);
    sameFile = inAbs == outAbs;
  }
  if (!sameFile) llvm::sys::fs::equivalent(opts.input, out, sameFile); // hard links, symlinks
  bool clobbersDefault = !sameFile && opts.emit == EmitKind::Exe && opts.output.empty() &&
                         llvm::sys::fs::exists(out) && !isExecutableFile(out);
  if (!sameFile && !clobbersDefault) return false;
  Span at{sm.add(opts.input, std::move(text)), 0, 0};
  if (sameFile) {
    diags.error(DiagId::OverwritesInput, at, "output `" + out + "` would overwrite the input `" + opts.input + "`")
        .withHelp("name a different output with `-o OUT`");
  } else {
    diags.error(DiagId::OverwritesInput, at,
                "default output `" + out + "` would overwrite an existing file that is not an executable")
        .withHelp("name the output with `-o OUT`, or move `" + out + "` out of the way");
  }
  return true;
}

// Modules of the standard library get no warnings (like system headers in C):
// the user cannot change them.
std::function<bool(const Module &)> inStdlib(const ModuleSearch &search) {
  std::error_code ec;
  std::string dir = std::filesystem::weakly_canonical(search.stdlibDir, ec).string();
  if (ec || dir.empty()) return [](const Module &) { return false; };
  if (dir.back() != '/') dir += '/';
  return [dir](const Module &m) { return m.path.rfind(dir, 0) == 0; };
}

} // namespace

int compile(const Options &opts) {
  SourceManager sm;
  DiagEngine diags;
  diags.setWarnings(opts.warnings);
  const std::string out = outputPath(opts);
  if (refuseOverwrite(opts, out, sm, diags)) {
    flushDiags(sm, diags, opts);
    return 1;
  }
  for (const std::string &file : opts.link.files) {
    if (access(file.c_str(), R_OK) == 0 && !llvm::sys::fs::is_directory(file)) continue;
    diags.error(DiagId::IoError, Span{}, "cannot read the link input `" + file + "`")
        .withHelp("name an existing object file, archive or shared library");
  }
  if (flushDiags(sm, diags, opts)) return 1;
  if (opts.emit == EmitKind::Tokens) {
    std::string text;
    SourceProblem why;
    bool loaded = opts.inputText ? sourceFromText(opts.input, std::move(*opts.inputText), text, why)
                                 : readSource(opts.input, text, why);
    if (!loaded) {
      diags.error(why.id, Span{}, why.message).withHelp(why.help);
      flushDiags(sm, diags, opts);
      return 1;
    }
    uint32_t id = sm.add(opts.input, std::move(text));
    std::string tokens = dumpTokens(sm, id, diags);
    if (flushDiags(sm, diags, opts)) return 1;
    bool written = writeText(out, tokens, diags);
    flushDiags(sm, diags, opts);
    return written ? 0 : 1;
  }

  // What the phases build; the tree goes after lowering, the rest is left to
  // the process's exit unless freeMemory.
  struct State {
    Program program;
    TypeContext types;
    llvm::LLVMContext ctx;
    std::unique_ptr<llvm::Module> mod; // after ctx: destroyed first
  };
  auto state = std::make_unique<State>();
  auto keep = llvm::make_scope_exit([&] {
    if (!opts.freeMemory) (void)state.release();
  });
  Program &program = state->program;
  ModuleSearch search{opts.includeDirs, defaultStdlibDir()};
  loadProgram(opts.input, search, sm, diags, program, opts.inputText); // lex + parse + modules
  if (opts.emit == EmitKind::Ast && !diags.hasErrors()) {
    flushDiags(sm, diags, opts);
    std::string ast;
    for (auto &m : program.modules)
      if (m->isMain) ast += dumpModule(*m);
    bool written = writeText(out, ast, diags);
    flushDiags(sm, diags, opts);
    return written ? 0 : 1;
  }
  if (flushDiags(sm, diags, opts)) return 1;

  TypeContext &types = state->types;
  Checker checker(sm, program, types, diags);
  checker.run();                                                        // names, types, results
  if (flushDiags(sm, diags, opts)) return 1;

  // Each function's NIR is built, checked and released in turn; what the
  // passes learn that calls depend on (which functions return without a
  // Result) is kept. The lowering builds each function's NIR again, with
  // its drops, when it reaches it: one function's NIR is alive at a time.
  auto ownership = opts.ownershipWarnings ? OwnershipReport::Warnings : OwnershipReport::Errors;
  const std::vector<FuncDecl *> &funcs = checker.symbols().allFuncs;
  NirFuncs nirFuncs;
  checkOwnershipOnly(sm, checker.symbols(), diags, ownership, [&](nir::Func &f) { // ARIA-014/015/022, NIR by function
    if (opts.checkOnly) return;
    nir::runPasses(f); // optimisations on NIR
    if (f.plainReturn) nirFuncs.plainReturn.insert(f.decl);
  });
  if (!diags.hasErrors()) lintProgram(checker, inStdlib(search), diags); // warnings
  if (flushDiags(sm, diags, opts)) return 1;
  if (opts.checkOnly) return 0;
  auto readyNir = [](const FuncDecl &d) {
    nir::Func f = nir::buildFunc(d);
    planOwnership(f); // drops and drop flags into NIR
    nir::runPasses(f);
    return f;
  };
  if (opts.emit == EmitKind::Nir) {
    nir::Module whole;
    nir::forEachBody(funcs, [&](const FuncDecl &d) { whole.funcs.push_back(readyNir(d)); });
    bool written = writeText(out, nir::print(whole, program.main), diags);
    flushDiags(sm, diags, opts);
    return written ? 0 : 1;
  }
  nirFuncs.forEach = [&](const std::function<void(nir::Func &)> &lower) {
    nir::forEachBody(funcs, [&](const FuncDecl &d) {
      nir::Func f = readyNir(d);
      lower(f);
    });
  };

  // Names of local values are for reading IR and assembly; an object file
  // or executable has none (building them is 4% of -O0's peak memory on
  // the 100k-line benchmark). Function and global names stay.
  state->ctx.setDiscardValueNames(opts.emit != EmitKind::Llvm && opts.emit != EmitKind::Asm);
  auto target = std::make_unique<llvm::Module>(program.main ? program.main->name : "npk", state->ctx);
  configureTarget(*target);
  LowerOptions lowering{opts.debugInfo, opts.optLevel > 0};
  std::unique_ptr<llvm::Module> &mod = state->mod =
      lowerProgram(std::move(target), sm, program, checker.symbols(), std::move(nirFuncs), types, lowering); // LLVM IR
  std::string verifyErrors;
  llvm::raw_string_ostream verifyOut(verifyErrors);
  if (opts.verifyIR && llvm::verifyModule(*mod, &verifyOut)) {
    std::fprintf(stderr, "npkc: internal error: invalid LLVM IR for %s\n%s", opts.input.c_str(), verifyErrors.c_str());
    return 70;
  }
  // Nothing reads the tree after lowering (the NIR and the function bodies
  // went one function at a time as it was lowered); its memory serves the
  // optimiser and code generation, which also releases each function's IR
  // once its code is written (bench/README.md: the -O0 peak, step by step).
  program.modules.clear();
  program.main = nullptr;
  std::string error = optimizeModule(*mod, opts.optLevel);
  if (!error.empty()) {
    diags.error(DiagId::ToolFailed, Span{}, error);
    flushDiags(sm, diags, opts);
    return 1;
  }
  if (opts.beforeEmit) opts.beforeEmit(*mod);
  if (opts.emit == EmitKind::Llvm) {
    std::string ir;
    llvm::raw_string_ostream os(ir);
    mod->print(os, nullptr);
    bool written = writeText(out, ir, diags);
    flushDiags(sm, diags, opts);
    return written ? 0 : 1;
  }
  bool assembly = opts.emit == EmitKind::Asm;
  std::string objPath = out;
  llvm::SmallString<128> tmpObj;
  if (opts.emit == EmitKind::Exe || (assembly && out.empty())) {
    if (!opts.tempDir.empty())
      tmpObj = opts.tempDir + "/" + defaultOutput(opts.input, assembly ? ".s" : ".o");
    else
      llvm::sys::fs::createTemporaryFile("npkc", assembly ? "s" : "o", tmpObj);
    objPath = std::string(tmpObj);
  }
  bool writeFailed = false;
  error = emitMachineCode(*mod, objPath, assembly, opts.optLevel, writeFailed); // object code
  if (error.empty() && assembly && !tmpObj.empty()) {
    std::string text;
    readFile(objPath, text);
    llvm::sys::fs::remove(tmpObj);
    bool written = writeText("-", text, diags);
    flushDiags(sm, diags, opts);
    return written ? 0 : 1;
  }
  if (error.empty() && opts.emit == EmitKind::Exe) {
    std::string linkLog = opts.tempDir.empty() ? "" : opts.tempDir + "/" + defaultOutput(opts.input, ".link.txt");
    LinkFailure why;
    if (!linkExecutable(objPath, opts.link, out, linkLog, why)) {         // link with libnpkrt
      if (!tmpObj.empty()) llvm::sys::fs::remove(tmpObj);
      Diag &d = diags.error(DiagId::LinkFailed, Span{}, why.message).withHelp(why.help);
      for (const std::string &n : why.notes) d.note(n);
      flushDiags(sm, diags, opts);
      return 1;
    }
  }
  if (!tmpObj.empty()) llvm::sys::fs::remove(tmpObj);
  if (!error.empty()) {
    Diag &d = diags.error(writeFailed ? DiagId::IoError : DiagId::ToolFailed, Span{}, error);
    if (writeFailed)
      d.withHelp("check that the output's directory exists and is writable, and that the disk has room");
    flushDiags(sm, diags, opts);
    return 1;
  }
  return 0;
}

} // namespace npk
