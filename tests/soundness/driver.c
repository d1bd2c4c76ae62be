/* The executable of a batch of accepted programs (npk_soundness_batch links
 * it with table.c, which lists each program's entry, and the programs'
 * objects). Runs every program in a child process of its own, forked from
 * this parent, which never starts the runtime: each child starts it as a
 * program of its own would (its renamed C `main` calls npk_start, runs the
 * program's `main` and exits through npk_exit, so the accounting of
 * NPK_AUDIT=1 reports at the child's exit). The children run one at a time.
 *
 * usage: batch DIR TIMEOUT
 * A child's stderr goes to DIR/I.err (I: the program's index in the batch);
 * its stdout is dropped. For each program a line on stdout:
 *   run I exit STATUS   or   run I signal N   (SIGALRM: ran longer than
 *                                             TIMEOUT seconds)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern const int npk_oracle_count;
extern const int npk_oracle_ids[];
extern int (*const npk_oracle_progs[])(int, char **);

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: batch DIR TIMEOUT\n");
    return 2;
  }
  unsigned timeout = (unsigned)atoi(argv[2]);
  char path[4096];
  for (int k = 0; k < npk_oracle_count; ++k) {
    int id = npk_oracle_ids[k];
    snprintf(path, sizeof path, "%s/%d.err", argv[1], id);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
      perror("batch: fork");
      return 2;
    }
    if (pid == 0) {
      int err = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int null = open("/dev/null", O_WRONLY);
      if (err < 0 || null < 0 || dup2(err, 2) < 0 || dup2(null, 1) < 0) _exit(125);
      close(err);
      close(null);
      alarm(timeout);
      char name[32];
      snprintf(name, sizeof name, "g%d", id);
      char *args[] = {name, NULL};
      npk_oracle_progs[k](1, args);
      _exit(126); /* not reached: the program's entry exits */
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) {
        perror("batch: waitpid");
        return 2;
      }
    }
    if (WIFSIGNALED(status))
      printf("run %d signal %d\n", id, WTERMSIG(status));
    else
      printf("run %d exit %d\n", id, WEXITSTATUS(status));
  }
  return 0;
}
