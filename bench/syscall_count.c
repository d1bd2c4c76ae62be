/* Runs N JIT lifecycles (per thread) and nothing else, so `strace -c -f` can
 * count the page-table system calls per lifecycle (bench/run.sh).
 *
 * usage: npk_bench_syscalls npk|reference|jit N [threads]
 *   npk        wildx_alloc -> install -> wildx_seal -> call -> wildx_free
 *   reference  the reference runtime's scheme (reference_lifecycle.h)
 *   jit        jit.npk's path: npk_jit_compile_add_i32 -> try_call -> free */
#include <npk/runtime.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference_lifecycle.h"

struct job {
  int mode; /* 0 npk, 1 reference, 2 jit */
  long cycles;
  int failed;
};

static int run_npk(long cycles) {
  for (long i = 0; i < cycles; ++i) {
    void *page = npk_wildx_alloc(64);
    if (page == NULL || npk_jit_install_add_i32(page) != 0 || npk_wildx_seal(page) != 0) return 1;
    if (npk_jit_call_i32_i32(page, (int32_t)i, 1) != (int32_t)i + 1) return 1;
    if (npk_wildx_free(page) != 0) return 1;
  }
  return 0;
}

static int run_reference(long cycles) {
  uint64_t rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)&rng, hashes = 0;
  for (long i = 0; i < cycles; ++i)
    if (reference_lifecycle(&rng, (int32_t)i, 1, &hashes) != (int32_t)i + 1) return 1;
  return hashes == 42; /* keeps the hash alive; never 42 */
}

static int run_jit(long cycles) {
  for (long i = 0; i < cycles; ++i) {
    int32_t err = 0, out = 0;
    void *f = npk_jit_compile_add_i32(&err);
    if (f == NULL || npk_jit_try_call_i32_i32(f, (int32_t)i, 1, &out) != 0 || out != (int32_t)i + 1) return 1;
    if (npk_wildx_free(f) != 0) return 1;
  }
  return 0;
}

static void *run_job(void *arg) {
  struct job *job = arg;
  job->failed = job->mode == 1 ? run_reference(job->cycles) : job->mode == 2 ? run_jit(job->cycles) : run_npk(job->cycles);
  return NULL;
}

int main(int argc, char **argv) {
  int mode = argc < 3 ? -1 : strcmp(argv[1], "npk") == 0 ? 0 : strcmp(argv[1], "reference") == 0 ? 1
                          : strcmp(argv[1], "jit") == 0 ? 2 : -1;
  if (argc < 3 || argc > 4 || mode < 0) {
    fprintf(stderr, "usage: %s npk|reference|jit N [threads]\n", argv[0]);
    return 2;
  }
  int threads = argc == 4 ? atoi(argv[3]) : 1;
  if (threads < 1 || threads > 64) threads = 1;
  struct job jobs[64];
  pthread_t ids[64];
  for (int t = 0; t < threads; ++t) {
    jobs[t] = (struct job){mode, atol(argv[2]), 0};
    if (threads == 1) run_job(&jobs[t]);
    else pthread_create(&ids[t], NULL, run_job, &jobs[t]);
  }
  int failed = 0;
  for (int t = 0; t < threads; ++t) {
    if (threads > 1) pthread_join(ids[t], NULL);
    failed |= jobs[t].failed;
  }
  if (failed) fprintf(stderr, "%s: a lifecycle failed\n", argv[1]);
  return failed;
}
