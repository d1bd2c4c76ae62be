#include "driver/Run.h"

#include <llvm/ADT/SmallString.h>
#include <llvm/Support/Path.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <sys/wait.h>
#include <unistd.h>

namespace npk {

namespace {

// Shared with the signal handler, which only reads them and calls
// async-signal-safe functions (unlink, rmdir, kill, signal, raise).
constexpr size_t kPathMax = 4096;
char g_exe[kPathMax], g_obj[kPathMax], g_log[kPathMax], g_dir[kPathMax];
volatile sig_atomic_t g_child = 0;  // the program's pid while it runs
volatile sig_atomic_t g_signal = 0; // a terminating signal npkc got meanwhile
constexpr int kTerminating[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

void removeTemp() {
  if (g_exe[0]) unlink(g_exe);
  if (g_obj[0]) unlink(g_obj);
  if (g_log[0]) unlink(g_log);
  if (g_dir[0]) rmdir(g_dir);
}

void dieBy(int sig) {
  signal(sig, SIG_DFL);
  raise(sig);
}

void onTerminatingSignal(int sig, siginfo_t *info, void *) {
  pid_t child = g_child;
  if (child <= 0) { // compiling: clean up and die at once
    removeTemp();
    dieBy(sig);
    return;
  }
  // The program is running: it decides how to end. A signal from the
  // terminal already reached its whole process group; one sent to npkc
  // alone (si_code <= 0: kill, sigqueue, tgkill) is passed on.
  g_signal = sig;
  if (info == nullptr || info->si_code <= 0) kill(child, sig);
}

struct sigaction g_inherited[std::size(kTerminating)];

// Installs the handler for each terminating signal that is not ignored (as
// for a background job), keeping the inherited dispositions for the program.
void installHandlers() {
  for (size_t i = 0; i < std::size(kTerminating); ++i) {
    sigaction(kTerminating[i], nullptr, &g_inherited[i]);
    if (g_inherited[i].sa_handler == SIG_IGN) continue;
    struct sigaction action = {};
    sigemptyset(&action.sa_mask);
    action.sa_sigaction = onTerminatingSignal;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(kTerminating[i], &action, nullptr);
  }
}

void restoreHandlers() {
  for (size_t i = 0; i < std::size(kTerminating); ++i) sigaction(kTerminating[i], &g_inherited[i], nullptr);
}

bool copyPath(char (&to)[kPathMax], const std::string &from) {
  if (from.size() >= kPathMax) return false;
  std::memcpy(to, from.c_str(), from.size() + 1);
  return true;
}

const char *signalName(int sig) {
  switch (sig) {
  case SIGSEGV: return "SIGSEGV";
  case SIGBUS: return "SIGBUS";
  case SIGFPE: return "SIGFPE";
  case SIGILL: return "SIGILL";
  case SIGABRT: return "SIGABRT";
  case SIGKILL: return "SIGKILL";
  case SIGTERM: return "SIGTERM";
  case SIGINT: return "SIGINT";
  case SIGHUP: return "SIGHUP";
  case SIGQUIT: return "SIGQUIT";
  case SIGPIPE: return "SIGPIPE";
  case SIGALRM: return "SIGALRM";
  case SIGTRAP: return "SIGTRAP";
  case SIGSYS: return "SIGSYS";
  case SIGXCPU: return "SIGXCPU";
  case SIGXFSZ: return "SIGXFSZ";
  case SIGUSR1: return "SIGUSR1";
  case SIGUSR2: return "SIGUSR2";
  default: return nullptr;
  }
}

// Runs the program; its exit status, 128+N when signal N killed it.
int runChild(const std::vector<std::string> &args) {
  std::vector<char *> argv;
  argv.push_back(g_exe);
  for (const std::string &a : args) argv.push_back(const_cast<char *>(a.c_str()));
  argv.push_back(nullptr);
  sigset_t block, old;
  sigemptyset(&block);
  for (int sig : kTerminating) sigaddset(&block, sig);
  sigprocmask(SIG_BLOCK, &block, &old); // no handler runs between fork and g_child
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    restoreHandlers();
    sigprocmask(SIG_SETMASK, &old, nullptr);
    execv(g_exe, argv.data());
    _exit(127);
  }
  if (pid < 0) {
    sigprocmask(SIG_SETMASK, &old, nullptr);
    std::fprintf(stderr, "npkc: error: cannot start `%s`: %s\n", g_exe, std::strerror(errno));
    return 1;
  }
  g_child = pid;
  sigprocmask(SIG_SETMASK, &old, nullptr);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      status = -1;
      break;
    }
  }
  g_child = 0;
  if (status == -1) return 1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (!WIFSIGNALED(status)) return 1;
  int sig = WTERMSIG(status);
  if (!g_signal) {
    const char *name = signalName(sig);
    if (name)
      std::fprintf(stderr, "npkc: program terminated by signal %s (%s)\n", name, strsignal(sig));
    else
      std::fprintf(stderr, "npkc: program terminated by signal %d (%s)\n", sig, strsignal(sig));
  }
  return 128 + sig;
}

} // namespace

int compileAndRun(Options opts, const std::vector<std::string> &args) {
  llvm::SmallString<256> dir;
  llvm::sys::path::system_temp_directory(true, dir); // $TMPDIR, else /tmp
  llvm::sys::path::append(dir, "npk-run-XXXXXX");
  std::string stem = std::filesystem::path(opts.input).stem().string();
  if (stem.empty() || stem == "." || stem == "..") stem = "program";
  installHandlers();
  if (!copyPath(g_dir, std::string(dir)) || mkdtemp(g_dir) == nullptr) {
    g_dir[0] = '\0';
    std::fprintf(stderr, "npkc: error: cannot create a temporary directory in `%s`: %s\n",
                 std::string(llvm::sys::path::parent_path(dir)).c_str(), std::strerror(errno));
    return 1;
  }
  std::string exe = std::string(g_dir) + "/" + stem;
  // The names compile() gives its intermediate files in opts.tempDir.
  if (!copyPath(g_exe, exe) || !copyPath(g_obj, exe + ".o") || !copyPath(g_log, exe + ".link.txt")) {
    removeTemp();
    std::fprintf(stderr, "npkc: error: temporary path too long\n");
    return 1;
  }
  opts.output = exe;
  opts.tempDir = g_dir;
  int status = compile(opts);
  if (status == 0) {
    status = runChild(args);
  } else {
    // The program's own status can be 1 too: say which one this is (JSON
    // diagnostics already say it, and stderr holds JSON only).
    if (opts.diagFormat != DiagFormat::Json) std::fprintf(stderr, "npkc: compilation failed\n");
    status = 1;
  }
  removeTemp();
  if (g_signal) dieBy(g_signal);
  restoreHandlers();
  return status;
}

} // namespace npk
