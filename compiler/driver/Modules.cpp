#include "driver/Modules.h"

#include "parse/Parser.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace npk {

bool readFile(const std::string &path, std::string &out) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return false;
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return !in.bad();
}

namespace {

std::string exeDir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return ".";
  return exe.parent_path().string();
}

class Loader {
public:
  Loader(const ModuleSearch &search, SourceManager &sm, DiagEngine &diags, Program &out)
      : search_(search), sm_(sm), diags_(diags), out_(out) {}

  Module *load(const std::string &path, bool isMain) {
    std::string canon = canonical(path);
    auto found = byPath_.find(canon);
    if (found != byPath_.end()) return found->second;
    std::string text;
    if (!readFile(path, text)) return nullptr;
    auto m = std::make_unique<Module>();
    m->path = canon;
    m->name = fs::path(path).filename().string();
    m->isMain = isMain;
    m->fileId = sm_.add(isMain ? path : displayPath(canon), std::move(text));
    Module *raw = m.get();
    byPath_[canon] = raw;
    parseFile(sm_, m->fileId, diags_, *m);
    stack_.push_back(raw);
    for (UseDecl &u : raw->uses) resolveUse(*raw, u);
    stack_.pop_back();
    if (raw->name == "drop.npk" && !isMain) {
      // nothing to do: the opt-in is recorded on importers below
    }
    out_.modules.push_back(std::move(m));
    return raw;
  }

private:
  static std::string canonical(const std::string &path) {
    std::error_code ec;
    fs::path p = fs::weakly_canonical(path, ec);
    return ec ? path : p.string();
  }

  // Paths of imported modules are shown relative to the working directory
  // when that is shorter, so diagnostics stay readable.
  static std::string displayPath(const std::string &canon) {
    std::error_code ec;
    fs::path rel = fs::relative(canon, fs::current_path(ec), ec);
    if (ec || rel.empty() || rel.string().size() >= canon.size()) return canon;
    return rel.string();
  }

  std::vector<std::string> candidates(const Module &from, const std::string &name) {
    std::vector<std::string> dirs;
    dirs.push_back(fs::path(from.path).parent_path().string());
    if (const char *env = std::getenv("NPK_PATH")) {
      std::stringstream ss(env);
      std::string dir;
      while (std::getline(ss, dir, ':'))
        if (!dir.empty()) dirs.push_back(dir);
    }
    for (const std::string &d : search_.includeDirs) dirs.push_back(d);
    dirs.push_back(search_.stdlibDir);
    std::vector<std::string> out;
    for (const std::string &d : dirs) out.push_back((fs::path(d) / name).string());
    return out;
  }

  void resolveUse(Module &from, UseDecl &u) {
    if (u.path.empty()) {
      diags_.error(DiagId::ModuleNotFound, u.pathSpan, "empty module path").withHelp("write `use \"file.npk\".*;`");
      return;
    }
    std::vector<std::string> places = candidates(from, u.path);
    for (const std::string &candidate : places) {
      std::error_code ec;
      if (!fs::is_regular_file(candidate, ec)) continue;
      std::string canon = canonical(candidate);
      for (size_t i = 0; i < stack_.size(); ++i) {
        if (stack_[i]->path != canon) continue;
        std::string cycle;
        for (size_t j = i; j < stack_.size(); ++j) cycle += stack_[j]->name + " -> ";
        cycle += fs::path(canon).filename().string();
        diags_.error(DiagId::ImportCycle, u.span, "import cycle: " + cycle)
            .withHelp("move the declarations both modules need into a third module that both import");
        return;
      }
      u.resolved = load(candidate, false);
      if (u.resolved && u.resolved->name == "drop.npk") from.dropEnabled = true;
      return;
    }
    Diag &d = diags_.error(DiagId::ModuleNotFound, u.pathSpan, "module `" + u.path + "` not found");
    for (const std::string &p : places) d.note("searched " + p);
    d.withHelp("check the file name, or add its directory with `-I DIR` or NPK_PATH");
  }

  const ModuleSearch &search_;
  SourceManager &sm_;
  DiagEngine &diags_;
  Program &out_;
  std::map<std::string, Module *> byPath_;
  std::vector<Module *> stack_;
};

} // namespace

std::string defaultStdlibDir() { return (fs::path(exeDir()) / ".." / "share" / "npk" / "stdlib").lexically_normal().string(); }
std::string defaultRuntimeLib() { return (fs::path(exeDir()) / ".." / "lib" / "libnpkrt.a").lexically_normal().string(); }

bool loadProgram(const std::string &mainPath, const ModuleSearch &search, SourceManager &sm, DiagEngine &diags,
                 Program &out) {
  Loader loader(search, sm, diags, out);
  out.main = loader.load(mainPath, true);
  if (!out.main) {
    diags.error(DiagId::IoError, Span{}, "cannot read `" + mainPath + "`: " + std::strerror(errno))
        .withHelp("check the path; npkc takes one .npk source file");
    return false;
  }
  return true;
}

} // namespace npk
