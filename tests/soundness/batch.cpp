// The soundness oracle's compiler, one process per batch of programs
// (oracle.py): starting npkc costs more than checking a generated program,
// and linking each accepted program on its own costs more than building it.
//
// usage: npk_soundness_batch DIR DRIVER.c FILE...
//
// For each FILE (its index I counts from 0), in this process and on the
// compiler's stack, exactly what `npkc check FILE` and then `npkc build FILE
// -O0 --emit=obj` do (npk::compile), the build with `--ownership-errors=warn`
// when the check rejected FILE; each run's diagnostics go to DIR/I.check
// (DIR/I.build), and a line `check I STATUS` (`build I STATUS`) to stdout.
// A built program's object is DIR/I.o with its C `main` renamed to
// `npk_oracle_prog_I` and every other function and variable it defines
// internal, so the programs, which share names, link into one executable;
// the internal ones nothing calls (most of the standard library's jit.npk,
// lowered into every program) are dropped before code is generated. The code
// of what remains is what `npkc build` makes of it. Last, DIR/batch is linked
// from DRIVER.c, a table of the programs (DIR/table.c) and the objects, with
// the runtime and flags npkc links a program with; the line `link STATUS` (0
// when linked, or when no program was built: nothing to link) ends the
// output.
//
// DIR/batch runs each program in a child process of its own (see driver.c).
#include "driver/Driver.h"
#include "driver/Emit.h"
#include "support/Stack.h"

#include <llvm/IR/Module.h>

#include <cstdio>
#include <fcntl.h>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

// Runs `opts` through npk::compile with fd 2 sent to `diagPath`.
int compileTo(const npk::Options &opts, const std::string &diagPath) {
  std::fflush(stderr);
  int saved = dup(2);
  int fd = open(diagPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (saved < 0 || fd < 0) {
    std::fprintf(stderr, "npk_soundness_batch: cannot write %s\n", diagPath.c_str());
    std::exit(2);
  }
  dup2(fd, 2);
  close(fd);
  int status = npk::compile(opts);
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  return status;
}

// `main` becomes `entry`, every other definition internal; then the
// internal functions and variables without a use go, until none is left.
void isolate(llvm::Module &m, const std::string &entry) {
  if (llvm::Function *main = m.getFunction("main")) main->setName(entry);
  for (llvm::GlobalValue &g : m.global_values())
    if (!g.isDeclaration() && g.getName() != entry) g.setLinkage(llvm::GlobalValue::InternalLinkage);
  for (bool removed = true; removed;) {
    removed = false;
    for (llvm::Function &f : llvm::make_early_inc_range(m.functions()))
      if (f.hasLocalLinkage() && f.use_empty()) {
        f.eraseFromParent();
        removed = true;
      }
    for (llvm::GlobalVariable &v : llvm::make_early_inc_range(m.globals()))
      if (v.hasLocalLinkage() && v.use_empty()) {
        v.eraseFromParent();
        removed = true;
      }
  }
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: npk_soundness_batch DIR DRIVER.c FILE...\n");
    return 2;
  }
  std::string dir = argv[1], driver = argv[2];
  std::vector<int> built;
  npk::runWithCompilerStack([&] {
    for (int i = 0; i + 3 < argc; ++i) {
      std::string input = argv[i + 3], stem = dir + "/" + std::to_string(i);
      npk::Options opts;
      opts.input = input;
      opts.color = npk::ColorMode::Never;
      opts.checkOnly = true; // as main.cpp sets up `npkc check`
      int status = compileTo(opts, stem + ".check");
      std::printf("check %d %d\n", i, status);
      std::fflush(stdout);
      // A rejected program is built too, as `npkc build
      // --ownership-errors=warn` does: when its only errors were the
      // ownership checker's, it builds and its run says whether the
      // rejection was needed (the oracle's precision count). Any other
      // error fails this build as it failed the check.
      opts.ownershipWarnings = status != 0;
      opts.checkOnly = false;
      opts.emit = npk::EmitKind::Obj;
      opts.optLevel = 0;
      opts.output = stem + ".o";
      std::string entry = "npk_oracle_prog_" + std::to_string(i);
      opts.beforeEmit = [&](llvm::Module &m) { isolate(m, entry); };
      status = compileTo(opts, stem + ".build");
      std::printf("build %d %d\n", i, status);
      std::fflush(stdout);
      if (status == 0) built.push_back(i);
    }
  });
  if (built.empty()) {
    std::printf("link 0\n");
    return 0;
  }
  std::string table = dir + "/table.c";
  FILE *t = std::fopen(table.c_str(), "w");
  if (t == nullptr) {
    std::fprintf(stderr, "npk_soundness_batch: cannot write %s\n", table.c_str());
    return 2;
  }
  for (int i : built) std::fprintf(t, "int npk_oracle_prog_%d(int, char **);\n", i);
  std::fprintf(t, "const int npk_oracle_count = %zu;\nconst int npk_oracle_ids[] = {", built.size());
  for (int i : built) std::fprintf(t, "%d,", i);
  std::fprintf(t, "};\nint (*const npk_oracle_progs[])(int, char **) = {");
  for (int i : built) std::fprintf(t, "npk_oracle_prog_%d,", i);
  std::fprintf(t, "};\n");
  std::fclose(t);
  npk::LinkInputs extra;
  extra.files.push_back(driver);
  for (int i : built) extra.files.push_back(dir + "/" + std::to_string(i) + ".o");
  npk::LinkFailure why;
  bool linked = npk::linkExecutable(table, extra, dir + "/batch", dir + "/link.log", why);
  if (!linked) {
    std::fprintf(stderr, "npk_soundness_batch: %s\n", why.message.c_str());
    for (const std::string &note : why.notes) std::fprintf(stderr, "  %s\n", note.c_str());
  }
  std::printf("link %d\n", linked ? 0 : 1);
  return 0;
}
