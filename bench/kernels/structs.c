/* bench/kernels.sh: the C twin of structs.npk and structs_wrap.npk. */
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
  for (long long i = 0; i < COUNT; ++i) {
    bodies[i] = (struct Body){.x = (i * 7919) % LIMIT, .y = (i * 104729) % LIMIT,
                              .vx = (i * 31) % 201 - 100, .vy = (i * 17) % 199 - 99, .bounces = 0};
  }
  for (long long s = 0; s < steps; ++s) {
    for (long long i = 0; i < COUNT; ++i) {
      struct Body b = bodies[i];
      b.x += b.vx;
      if (b.x < 0 || b.x >= LIMIT) {
        b.vx = -b.vx;
        b.x += b.vx;
        b.bounces += 1;
      }
      b.y += b.vy;
      if (b.y < 0 || b.y >= LIMIT) {
        b.vy = -b.vy;
        b.y += b.vy;
        b.bounces += 1;
      }
      bodies[i] = b;
    }
  }
  long long sum = 0, bounces = 0;
  for (long long i = 0; i < COUNT; ++i) {
    sum += bodies[i].x + bodies[i].y;
    bounces += bodies[i].bounces;
  }
  printf("%lld %lld\n", sum, bounces);
  return 0;
}
