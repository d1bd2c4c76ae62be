/* Runs a command under prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN): the
 * kernel then refuses every mapping that is, or later becomes, writable and
 * executable, and every mprotect that adds execute permission. The setting
 * is inherited across fork and execve. Exits 77 (ctest: skipped) with a
 * message when the kernel has no MDWE. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#endif
#ifndef PR_MDWE_REFUSE_EXEC_GAIN
#define PR_MDWE_REFUSE_EXEC_GAIN 1
#endif

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: mdwe_run COMMAND [ARG...]\n");
    return 2;
  }
  if (prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0) {
    printf("skipped: this kernel has no PR_SET_MDWE (%s)\n", strerror(errno));
    return 77;
  }
  execvp(argv[1], argv + 1);
  fprintf(stderr, "mdwe_run: %s: %s\n", argv[1], strerror(errno));
  return 127;
}
