/* npk-not: the `not` of the lit suite (lit.cfg.py substitutes it for `not`).
 *
 * usage: npk-not COMMAND [ARGS...]
 *
 * Like lit's `not`, it succeeds when COMMAND fails, but an ordinary failure is
 * all it accepts: it fails when COMMAND
 *   - exits 0,
 *   - is killed by a signal (a crash must never pass for "errors reported"),
 *   - exits with npkc's internal-error status (70), or
 *   - exits with the sanitizer status NPK_SANITIZER_EXIT_CODE (defined in a
 *     sanitizer build, where ASAN_OPTIONS/UBSAN_OPTIONS set `exitcode` to it),
 *   - cannot be started.
 * It prints why on stderr, so the lit log names the cause. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { kInternalErrorStatus = 70 };

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "npk-not: usage: npk-not COMMAND [ARGS...]\n");
    return 2;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "npk-not: fork failed: %s\n", strerror(errno));
    return 2;
  }
  if (pid == 0) {
    execvp(argv[1], argv + 1);
    fprintf(stderr, "npk-not: cannot run `%s`: %s\n", argv[1], strerror(errno));
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      fprintf(stderr, "npk-not: waitpid failed: %s\n", strerror(errno));
      return 2;
    }
  }
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    fprintf(stderr, "npk-not: `%s` was killed by signal %d (%s), not an ordinary failure\n", argv[1], sig,
            strsignal(sig));
    return 1;
  }
  if (!WIFEXITED(status)) {
    fprintf(stderr, "npk-not: `%s` ended with wait status %d\n", argv[1], status);
    return 1;
  }
  int code = WEXITSTATUS(status);
  if (code == 0) return 1;
  if (code == 127) return 1; /* execvp failed (message above) */
  if (code == kInternalErrorStatus) {
    fprintf(stderr, "npk-not: `%s` exited with status %d, the internal-error status\n", argv[1], code);
    return 1;
  }
#ifdef NPK_SANITIZER_EXIT_CODE
  if (code == NPK_SANITIZER_EXIT_CODE) {
    fprintf(stderr, "npk-not: `%s` exited with status %d, the sanitizer-report status\n", argv[1], code);
    return 1;
  }
#endif
  return 0;
}
