#include "driver/Emit.h"

#include "driver/Modules.h"

#include <llvm/IR/LegacyPassManager.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/Program.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/TargetParser/Host.h>

#include <unistd.h>

#include <memory>

namespace npk {

namespace {
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
  llvm::ModulePassManager mpm = pb.buildPerModuleDefaultPipeline(level);
  mpm.run(m, mam);
  return {};
}

std::string emitMachineCode(llvm::Module &m, const std::string &path, bool assembly, int optLevel) {
  std::string error;
  auto tm = makeTargetMachine(error, optLevel);
  if (!tm) return error;
  std::error_code ec;
  llvm::raw_fd_ostream out(path, ec, llvm::sys::fs::OF_None);
  if (ec) return "cannot write `" + path + "`: " + ec.message();
  llvm::legacy::PassManager pm;
  auto kind = assembly ? llvm::CodeGenFileType::AssemblyFile : llvm::CodeGenFileType::ObjectFile;
  if (tm->addPassesToEmitFile(pm, out, nullptr, kind)) return "the target cannot emit this file type";
  pm.run(m);
  out.flush();
  return {};
}

std::string linkExecutable(const std::string &object, const std::string &output, const std::string &logPath) {
  std::string runtimeLib = defaultRuntimeLib();
  if (access(runtimeLib.c_str(), R_OK) != 0) return "runtime library not found at `" + runtimeLib + "`";
  auto cc = llvm::sys::findProgramByName("cc");
  if (!cc) return "no system C compiler `cc` found on PATH (install gcc or clang)";
  std::vector<llvm::StringRef> args = {*cc, object, runtimeLib, "-lpthread", "-o", output};
#ifdef NPK_PROGRAM_SANITIZE
  args.push_back("-fsanitize=" NPK_PROGRAM_SANITIZE); // this build's runtime is instrumented
#endif
  std::string errorMsg;
  llvm::SmallString<128> errFile(logPath);
  if (logPath.empty()) llvm::sys::fs::createTemporaryFile("npkc-link", "txt", errFile);
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, llvm::StringRef(errFile), llvm::StringRef(errFile)};
  int rc = llvm::sys::ExecuteAndWait(*cc, args, std::nullopt, redirects, 0, 0, &errorMsg);
  std::string text;
  readFile(std::string(errFile), text);
  llvm::sys::fs::remove(errFile);
  if (rc != 0) return "linking failed (cc exited " + std::to_string(rc) + "): " + errorMsg + text;
  return {};
}

} // namespace npk
