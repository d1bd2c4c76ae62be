#include "driver/Emit.h"

#include "driver/Modules.h"
#include "opt/Passes.h"

#include <llvm/IR/Instructions.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/Pass.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/CommandLine.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/Program.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/TargetParser/Host.h>
#include <llvm/TargetParser/Triple.h>

#include <unistd.h>

#include <algorithm>
#include <memory>

namespace npk {

namespace {
// Runs after each function's machine code is written (code generation
// takes a module one function at a time): nothing reads its IR again, so
// the body shrinks to one `unreachable` and its memory serves the functions
// after it. The function stays a definition with its linkage and debug
// info attachment, so the module is still valid IR.
struct ReleaseEmittedBody : llvm::FunctionPass {
  static char ID;
  ReleaseEmittedBody() : llvm::FunctionPass(ID) {}
  llvm::StringRef getPassName() const override { return "npk: release emitted IR bodies"; }
  void getAnalysisUsage(llvm::AnalysisUsage &au) const override { au.setPreservesAll(); }
  bool runOnFunction(llvm::Function &f) override {
    if (f.size() == 1 && llvm::isa<llvm::UnreachableInst>(f.front().front())) return false;
    for (llvm::BasicBlock &bb : f) bb.dropAllReferences();
    while (!f.empty()) f.begin()->eraseFromParent();
    new llvm::UnreachableInst(f.getContext(), llvm::BasicBlock::Create(f.getContext(), "", &f));
    return true;
  }
};
char ReleaseEmittedBody::ID = 0;

// Optimised x86 code keeps every jump inside one 32-byte block: neither
// crossing nor ending at a boundary (LLVM's x86-branches-within-32B-boundaries,
// clang's -mbranches-within-32B-boundaries; Go's default on amd64). A hot
// loop whose jump crosses a boundary is served by the legacy decoders on
// many x86 cores (Intel's JCC erratum, AMD's op cache lines): the jit_calls
// kernel, instruction for instruction the same loop as its C twin, ran 12%
// slower for it (bench/README.md). Unoptimised code keeps its size. The
// option is LLVM's process-wide flag, read when the target machine is made.
void alignBranches(const llvm::Triple &triple, bool on) {
  if (!triple.isX86()) return;
  llvm::StringMap<llvm::cl::Option *> &options = llvm::cl::getRegisteredOptions();
  auto it = options.find("x86-branches-within-32B-boundaries");
  if (it != options.end()) *static_cast<llvm::cl::opt<bool> *>(it->second) = on;
}

std::unique_ptr<llvm::TargetMachine> makeTargetMachine(std::string &error, int optLevel) {
  static bool initialised = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)initialised;
  std::string triple = llvm::sys::getDefaultTargetTriple();
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target) return nullptr;
  llvm::TargetOptions options;
  // Unoptimised code is written with every branch in its long form (clang's
  // -mrelax-all, its -O0 default before LLVM 19): the assembler keeps no
  // relaxable fragment per branch and never iterates to relax them. On the
  // 100k-line benchmark: peak memory 212 -> 200 MB, time -4%, code +25%.
  options.MCOptions.MCRelaxAll = optLevel == 0;
  alignBranches(llvm::Triple(triple), optLevel > 0);
  auto level = optLevel == 0 ? llvm::CodeGenOptLevel::None
               : optLevel == 1 ? llvm::CodeGenOptLevel::Less
               : optLevel == 2 ? llvm::CodeGenOptLevel::Default
                               : llvm::CodeGenOptLevel::Aggressive;
  return std::unique_ptr<llvm::TargetMachine>(
      target->createTargetMachine(triple, "generic", "", options, llvm::Reloc::PIC_, std::nullopt, level));
}
} // namespace

std::string configureTarget(llvm::Module &m) {
  std::string error;
  auto tm = makeTargetMachine(error, 0);
  if (!tm) return error;
  m.setTargetTriple(tm->getTargetTriple().str());
  m.setDataLayout(tm->createDataLayout());
  return {};
}

std::string optimizeModule(llvm::Module &m, int optLevel) {
  std::string error;
  auto tm = makeTargetMachine(error, optLevel);
  if (!tm) return error;
  if (optLevel == 0) return {};
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb(tm.get());
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::OptimizationLevel level = optLevel == 1 ? llvm::OptimizationLevel::O1
                                  : optLevel == 2 ? llvm::OptimizationLevel::O2
                                                  : llvm::OptimizationLevel::O3;
  // npkc's own passes, where LLVM's would stop at a trapping operation.
  pb.registerOptimizerEarlyEPCallback(
      [](llvm::ModulePassManager &passes, llvm::OptimizationLevel) { passes.addPass(opt::CheckedRecursionPass()); });
  pb.registerScalarOptimizerLateEPCallback([](llvm::FunctionPassManager &passes, llvm::OptimizationLevel) {
    passes.addPass(opt::VersionLoopChecksPass());
    passes.addPass(opt::SpeculateChecksPass());
    passes.addPass(opt::ConstantMulCheckPass());
  });
  pb.registerOptimizerLastEPCallback([](llvm::ModulePassManager &passes, llvm::OptimizationLevel) {
    llvm::FunctionPassManager last;
    last.addPass(opt::TrapOperandsPass());
    last.addPass(opt::SinkLoadsPass());
    passes.addPass(llvm::createModuleToFunctionPassAdaptor(std::move(last)));
  });
  llvm::ModulePassManager mpm = pb.buildPerModuleDefaultPipeline(level);
  mpm.run(m, mam);
  return {};
}

std::string emitMachineCode(llvm::Module &m, const std::string &path, bool assembly, int optLevel,
                            bool &writeFailed) {
  writeFailed = false;
  std::string error;
  auto tm = makeTargetMachine(error, optLevel);
  if (!tm) return error;
  std::error_code ec;
  llvm::raw_fd_ostream out(path, ec, llvm::sys::fs::OF_None);
  if (ec) {
    writeFailed = true;
    return "cannot write `" + path + "`: " + ec.message();
  }
  {
    // The pass manager's streamer writes its last bytes when it is destroyed,
    // so it goes before `out` is closed.
    llvm::legacy::PassManager pm;
    auto kind = assembly ? llvm::CodeGenFileType::AssemblyFile : llvm::CodeGenFileType::ObjectFile;
    if (tm->addPassesToEmitFile(pm, out, nullptr, kind)) return "the target cannot emit this file type";
    pm.add(new ReleaseEmittedBody());
    pm.run(m);
  }
  out.close();
  if (out.has_error()) {
    // Reported as a diagnostic, not by LLVM's fatal error when `out` is destroyed.
    ec = out.error();
    out.clear_error();
    writeFailed = true;
    return "cannot write `" + path + "`: " + ec.message();
  }
  return {};
}

std::string findLinker() {
#ifdef NPK_PROGRAM_LINKER
  if (auto path = llvm::sys::findProgramByName(NPK_PROGRAM_LINKER)) return *path;
#endif
  for (const char *name : {"cc", "gcc", "clang"})
    if (auto path = llvm::sys::findProgramByName(name)) return *path;
  return {};
}

namespace {

// The text between the first ` or ' after `from` and the next ' or `.
std::string quoted(const std::string &line, size_t from) {
  size_t open = line.find_first_of("`'", from);
  if (open == std::string::npos) return {};
  size_t close = line.find_first_of("'`", open + 1);
  if (close == std::string::npos) return {};
  return line.substr(open + 1, close - open - 1);
}

// Reads the causes a GNU ld, gold, lld or mold report gives into `why`.
void summariseLinkerOutput(const std::string &text, LinkFailure &why) {
  std::vector<std::string> undefined, missingLibs, other;
  std::string noLinker; // the C compiler driver found no system linker to run
  auto addOnce = [](std::vector<std::string> &list, const std::string &item) {
    if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(item);
  };
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    size_t at;
    if ((at = line.find("undefined reference to ")) != std::string::npos ||
        (at = line.find("undefined symbol: ")) != std::string::npos) {
      std::string name = quoted(line, at);
      if (name.empty()) name = line.substr(line.find(": ", at) + 2);
      addOnce(undefined, name);
    } else if ((at = line.find("cannot find -l")) != std::string::npos ||
               (at = line.find("unable to find library -l")) != std::string::npos) {
      std::string lib = line.substr(line.find("-l", at) + 2);
      lib = lib.substr(0, lib.find_first_of(": "));
      addOnce(missingLibs, lib);
    } else if (line.find("cannot find") != std::string::npos &&
               (line.find("collect2:") != std::string::npos || line.find("linker") != std::string::npos)) {
      // gcc's collect2 (`cannot find 'ld'`) or clang (`cannot find linker`):
      // the driver is there but the linker it runs is not.
      noLinker = line;
    } else if (!line.empty() && line.find(": in function ") == std::string::npos && // context of a cause
               line.find("compilation terminated") == std::string::npos &&
               line.find("linker command failed") == std::string::npos &&
               line.find("ld returned") == std::string::npos) {
      addOnce(other, line);
    }
  }
  for (const std::string &name : undefined) why.notes.push_back("undefined symbol `" + name + "`");
  for (const std::string &lib : missingLibs)
    why.notes.push_back("library `" + lib + "` (-l " + lib + ") not found in the -L directories or the system's");
  if (!undefined.empty()) {
    why.message = "linking failed: undefined symbol `" + undefined.front() + "`" +
                  (undefined.size() > 1 ? " and " + std::to_string(undefined.size() - 1) + " more" : "");
    why.help = "an `extern func` needs the library or object file that defines it: add `-l NAME` (with "
               "`-L DIR` when it is not in a system directory) or name the `.o`/`.a` file on the command line";
  } else if (!noLinker.empty()) {
    why.message = "linking failed: the C compiler found no system linker (`ld`) to run";
    why.notes.push_back("linker: " + noLinker);
    why.help = "install the binutils package (it provides `ld`), or put the directory that holds `ld` on PATH";
  } else if (!missingLibs.empty()) {
    why.message = "linking failed: library `" + missingLibs.front() + "` not found";
    why.help = "check the name (`-l m` links libm.so or libm.a), or add the directory that holds it with `-L DIR`";
  } else {
    why.message = "linking failed";
    why.help = "the linker's own lines are shown as notes; check the extra inputs and -Wl options";
  }
  constexpr size_t kMaxOtherLines = 12;
  for (size_t i = 0; i < other.size() && i < kMaxOtherLines; ++i)
    why.notes.push_back("linker: " + other[i]);
  if (other.size() > kMaxOtherLines)
    why.notes.push_back("linker: ... " + std::to_string(other.size() - kMaxOtherLines) + " more lines");
}

} // namespace

bool linkExecutable(const std::string &object, const LinkInputs &extra, const std::string &output,
                    const std::string &logPath, LinkFailure &why) {
  std::string runtimeLib = defaultRuntimeLib();
  if (access(runtimeLib.c_str(), R_OK) != 0) {
    why.message = "runtime library not found at `" + runtimeLib + "`";
    why.help = "npkc looks for its runtime in ../lib next to its own executable; reinstall npk";
    return false;
  }
  std::string cc = findLinker();
  if (cc.empty()) {
    why.message = "no linker found: none of `cc`, `gcc` or `clang` is on PATH";
    why.help = "install a C compiler (gcc or clang); npkc uses it to drive the system linker";
    return false;
  }
  std::vector<std::string> words = {cc, object};
  words.insert(words.end(), extra.files.begin(), extra.files.end());
  words.insert(words.end(), extra.options.begin(), extra.options.end());
  // libZydis only for programs that pull in the runtime's validator
  // (Jit.compile_bytes): --as-needed drops it from every other program.
  words.insert(words.end(), {runtimeLib, "-Wl,--as-needed", "-lZydis", "-Wl,--no-as-needed", "-lm", "-lpthread"});
  words.insert(words.end(), {"-o", output});
#ifdef NPK_PROGRAM_SANITIZE
  words.push_back("-fsanitize=" NPK_PROGRAM_SANITIZE); // this build's runtime is instrumented
#endif
  std::vector<llvm::StringRef> args(words.begin(), words.end());
  std::string errorMsg;
  llvm::SmallString<128> errFile(logPath);
  if (logPath.empty()) llvm::sys::fs::createTemporaryFile("npkc-link", "txt", errFile);
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, llvm::StringRef(errFile), llvm::StringRef(errFile)};
  int rc = llvm::sys::ExecuteAndWait(cc, args, std::nullopt, redirects, 0, 0, &errorMsg);
  std::string text;
  readFile(std::string(errFile), text);
  llvm::sys::fs::remove(errFile);
  if (rc == 0) return true;
  if (rc < 0) {
    why.message = "cannot run the linker `" + cc + "`: " + errorMsg;
    why.help = "check that the C compiler on PATH works";
    return false;
  }
  summariseLinkerOutput(text, why);
  std::string command;
  for (const std::string &w : words) command += (command.empty() ? "" : " ") + w;
  why.notes.push_back("linker command: " + command);
  return false;
}

} // namespace npk
