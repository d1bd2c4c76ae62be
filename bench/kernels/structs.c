/* bench/kernels.sh: the C twin of structs.npk and structs_wrap.npk.
 * Its integer operations: checked.h. */
#include "checked.h"

#include <stdio.h>
#include <stdlib.h>

struct Body {
  long long x, y, vx, vy, bounces;
};

enum { COUNT = 4096 };
static const long long LIMIT = 100000;
static struct Body bodies[COUNT];

int main(int argc, char **argv) {
  long long steps = argc > 1 ? atoll(argv[1]) : 50000;
  for (long long i = 0; i < COUNT; i = add_(i, 1)) {
    bodies[i] = (struct Body){.x = rem_(mul_(i, 7919), LIMIT), .y = rem_(mul_(i, 104729), LIMIT),
                              .vx = sub_(rem_(mul_(i, 31), 201), 100), .vy = sub_(rem_(mul_(i, 17), 199), 99),
                              .bounces = 0};
  }
  for (long long s = 0; s < steps; s = add_(s, 1)) {
    for (long long i = 0; i < COUNT; i = add_(i, 1)) {
      struct Body b = bodies[i];
      b.x = add_(b.x, b.vx);
      if (b.x < 0 || b.x >= LIMIT) {
        b.vx = sub_(0, b.vx);
        b.x = add_(b.x, b.vx);
        b.bounces = add_(b.bounces, 1);
      }
      b.y = add_(b.y, b.vy);
      if (b.y < 0 || b.y >= LIMIT) {
        b.vy = sub_(0, b.vy);
        b.y = add_(b.y, b.vy);
        b.bounces = add_(b.bounces, 1);
      }
      bodies[i] = b;
    }
  }
  long long sum = 0, bounces = 0;
  for (long long i = 0; i < COUNT; i = add_(i, 1)) {
    sum = add_(sum, add_(bodies[i].x, bodies[i].y));
    bounces = add_(bounces, bodies[i].bounces);
  }
  printf("%lld %lld\n", sum, bounces);
  return 0;
}
