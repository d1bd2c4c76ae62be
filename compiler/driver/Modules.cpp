#include "driver/Modules.h"

#include "parse/Parser.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <fcntl.h>
#include <sys/stat.h>
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

// A module whose public `Type:AutomaticRelease` block is the LANGUAGE.md §6.3
// switch: importing it turns automatic release on in the importer.
bool switchesOnAutomaticRelease(const Module &m) {
  for (const auto &t : m.typeBlocks)
    if (t->name == "AutomaticRelease" && t->isPub) return true;
  return false;
}

// Offset of the first byte that does not belong to a well-formed UTF-8
// sequence (no overlong forms, no surrogates, nothing above U+10FFFF), or
// text.size() when all of it is UTF-8.
size_t firstInvalidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > text.size()) return i;
    uint32_t cp = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(text[i + k]);
      if ((cc >> 6) != 0x2) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    bool overlong = (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (overlong || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return i;
    i += len;
  }
  return i;
}

void refuseTooLarge(const std::string &path, SourceProblem &why) {
  why.message = "`" + path + "` is larger than the " + std::to_string(kMaxSourceBytes >> 20) +
                " MiB a source file may have";
  why.help = "split the program into modules of at most " + std::to_string(kMaxSourceBytes >> 20) + " MiB";
}

// The rules for loaded bytes to be source: a leading byte order mark is
// dropped; a NUL byte or text that is not UTF-8 is refused (`out` cleared).
bool acceptSourceText(const std::string &path, std::string &out, SourceProblem &why) {
  size_t bom = out.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0; // a byte order mark is not source
  out.erase(0, bom);
  size_t nul = out.find('\0');
  size_t bad = firstInvalidUtf8(out);
  if (nul != std::string::npos || bad != out.size()) {
    why.id = DiagId::NotSourceFile;
    why.message = "`" + path + "` is not a Nitpick source file: " +
                  (nul < bad ? "it holds a NUL byte" : "it is not UTF-8 text") + " (at byte " +
                  std::to_string(std::min(nul, bad) + bom) + ")";
    why.help = "name a `.npk` source file; source is UTF-8 text without NUL bytes";
    out.clear();
    return false;
  }
  return true;
}

} // namespace

bool readSource(const std::string &path, std::string &out, SourceProblem &why) {
  why = SourceProblem{};
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    why.message = "cannot read `" + path + "`: " + std::strerror(errno);
    why.help = "check the path and the file's permissions";
    return false;
  }
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    if (S_ISDIR(st.st_mode)) {
      why.message = "`" + path + "` is a directory, not a source file";
      why.help = "name a `.npk` source file inside it";
      return false;
    }
    why.message = "`" + path + "` is not a regular file";
    why.help = "name a `.npk` source file; npkc does not read directories, devices or pipes";
    return false;
  }
  out.clear();
  char buf[1 << 16];
  bool tooLarge = false, failed = false;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      failed = true;
      break;
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > kMaxSourceBytes) {
      tooLarge = true;
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  int readErrno = errno;
  ::close(fd);
  if (failed) {
    why.message = "cannot read `" + path + "`: " + std::strerror(readErrno);
    why.help = "check the path and the file's permissions";
    return false;
  }
  if (tooLarge) {
    refuseTooLarge(path, why);
    return false;
  }
  return acceptSourceText(path, out, why);
}

bool sourceFromText(const std::string &path, std::string text, std::string &out, SourceProblem &why) {
  why = SourceProblem{};
  out.clear();
  if (text.size() > kMaxSourceBytes) {
    refuseTooLarge(path, why);
    return false;
  }
  out = std::move(text);
  return acceptSourceText(path, out, why);
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

  // Loads the main module and, depth first, every module it imports. The walk
  // keeps its own stack of modules whose imports are being resolved (the
  // import path from the main file), so an import chain of any length needs
  // no machine stack; a module is appended to the program once all its
  // imports are, which puts dependencies before dependents.
  // `text`, when not null, is the main module's source instead of the file's.
  Module *loadMain(const std::string &path, std::string *text, SourceProblem &why) {
    Module *main = open(path, true, text, why);
    if (!main) return nullptr;
    while (!stack_.empty()) {
      Frame &top = stack_.back();
      if (top.next < top.module->uses.size()) {
        UseDecl &u = top.module->uses[top.next++];
        resolveUse(*top.module, u); // may push a frame: `top` is not used after this
        continue;
      }
      out_.modules.push_back(std::move(top.owned));
      stack_.pop_back();
    }
    return main;
  }

private:
  struct Frame {
    Module *module;
    std::unique_ptr<Module> owned; // moved into the program when its imports are done
    size_t next = 0;               // index of the next `use` to resolve
  };

  // Reads (or takes `given`, when not null) and parses one module and pushes
  // it on the walk's stack; null (with `why` set) when it is not source.
  Module *open(const std::string &path, bool isMain, std::string *given, SourceProblem &why) {
    std::string text;
    if (given ? !sourceFromText(path, std::move(*given), text, why) : !readSource(path, text, why)) return nullptr;
    std::string canon = canonical(path);
    auto m = std::make_unique<Module>();
    m->path = canon;
    m->name = fs::path(path).filename().string();
    m->isMain = isMain;
    m->fileId = sm_.add(isMain ? path : displayPath(canon), std::move(text));
    Module *raw = m.get();
    byPath_[canon] = raw;
    parseFile(sm_, m->fileId, diags_, *m);
    stack_.push_back(Frame{raw, std::move(m), 0});
    return raw;
  }

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
    if (u.path.find('\0') != std::string::npos) {
      diags_.error(DiagId::ModuleNotFound, u.pathSpan, "module path holds a NUL byte")
          .withHelp("a file name cannot contain `\\0`; write `use \"file.npk\".*;`");
      return;
    }
    std::vector<std::string> places = candidates(from, u.path);
    for (const std::string &candidate : places) {
      std::error_code ec;
      if (!fs::exists(candidate, ec)) continue;
      std::string canon = canonical(candidate);
      for (size_t i = 0; i < stack_.size(); ++i) {
        if (stack_[i].module->path != canon) continue;
        std::string cycle;
        for (size_t j = i; j < stack_.size(); ++j) cycle += stack_[j].module->name + " -> ";
        cycle += fs::path(canon).filename().string();
        diags_.error(DiagId::ImportCycle, u.span, "import cycle: " + cycle)
            .withHelp("move the declarations both modules need into a third module that both import");
        return;
      }
      auto found = byPath_.find(canon);
      if (found != byPath_.end()) {
        u.resolved = found->second;
      } else {
        SourceProblem why;
        u.resolved = open(candidate, false, nullptr, why);
        if (!u.resolved) {
          diags_.error(why.id, u.pathSpan, why.message).withHelp(why.help);
          return;
        }
      }
      // drop.npk is known by what it declares (its `Type:AutomaticRelease`
      // marker, stdlib/drop.npk), not by its file name.
      if (switchesOnAutomaticRelease(*u.resolved)) from.dropEnabled = true;
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
  std::vector<Frame> stack_; // the import path from the main module to the one being resolved
};

} // namespace

std::string defaultStdlibDir() { return (fs::path(exeDir()) / ".." / "share" / "npk" / "stdlib").lexically_normal().string(); }
std::string defaultRuntimeLib() { return (fs::path(exeDir()) / ".." / "lib" / "libnpkrt.a").lexically_normal().string(); }

bool loadProgram(const std::string &mainPath, const ModuleSearch &search, SourceManager &sm, DiagEngine &diags,
                 Program &out, std::string *mainText) {
  Loader loader(search, sm, diags, out);
  SourceProblem why;
  out.main = loader.loadMain(mainPath, mainText, why);
  if (!out.main) {
    diags.error(why.id, Span{}, why.message).withHelp(why.help);
    return false;
  }
  return true;
}

} // namespace npk
