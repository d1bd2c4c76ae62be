/* C code linked into Nitpick programs by the cli/link_* tests. */
#include <stdio.h>

static int saved_argc;
static char **saved_argv;

/* glibc passes argc and argv to ELF constructors, so the process's own
 * arguments are visible here without any help from the program. */
__attribute__((constructor)) static void save_args(int argc, char **argv) {
  saved_argc = argc;
  saved_argv = argv;
}

int helper_add(int a, int b) { return a + b + 1000; }

/* Prints the process's arguments after argv[0], one per line; returns argc. */
int helper_print_args(void) {
  for (int i = 1; i < saved_argc; ++i) printf("arg %d: [%s]\n", i, saved_argv[i]);
  fflush(stdout);
  return saved_argc;
}
