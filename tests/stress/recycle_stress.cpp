// Allocates 1, 2, 3, ... N pages of wildx memory and frees each allocation at
// once, so at most one allocation is ever live. Every request must succeed
// under the default quota, and the process's resident and mapped size must
// stay bounded however much memory has been recycled (/proc/self/status,
// /proc/self/maps).
//
// usage: npk_stress_recycle [N, default 4000]
#include <npk/runtime.h>

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "wildx_internal.h"

namespace {

// A "VmXxx:  1234 kB" field of /proc/self/status, in KiB.
long StatusKib(const char *field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  size_t length = strlen(field);
  while (std::getline(status, line))
    if (line.compare(0, length, field) == 0 && line.size() > length && line[length] == ':')
      return atol(line.c_str() + length + 1);
  return -1;
}

long MappingCount() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  long count = 0;
  while (std::getline(maps, line)) ++count;
  return count;
}

struct Footprint {
  long size_kib, rss_kib, mappings;
};

Footprint Measure() { return Footprint{StatusKib("VmSize"), StatusKib("VmRSS"), MappingCount()}; }

}  // namespace

int main(int argc, char **argv) {
  long cycles = argc > 1 ? atol(argv[1]) : 4000;
  const long page = sysconf(_SC_PAGESIZE);
  // Limits on growth over the start: a few arenas of address space, the
  // largest allocation plus the free-page cache resident, a handful of maps.
  const long kMaxSizeGrowthKib = 256 * 1024, kMaxRssGrowthKib = 64 * 1024, kMaxMappingGrowth = 64;

  void *warm = npk_wildx_alloc(1);
  if (warm == nullptr || npk_wildx_free(warm) != 0) return 1;
  Footprint start = Measure(), peak = start;
  long failures = 0, first_failure = 0, dirty = 0, free_errors = 0;
  for (long n = 1; n <= cycles; ++n) {
    size_t bytes = static_cast<size_t>(n * page);
    char *p = static_cast<char *>(npk_wildx_alloc(static_cast<int64_t>(bytes)));
    if (p == nullptr) {
      if (failures++ == 0) first_failure = n;
      continue;
    }
    // Zero-filled (sampled) and really backed: touch every 32nd page.
    if (p[0] != 0 || p[bytes - 1] != 0) ++dirty;
    for (size_t offset = 0; offset < bytes; offset += 32 * static_cast<size_t>(page)) p[offset] = 1;
    p[bytes - 1] = 1;
    if (n % 100 == 0 || n == cycles) {  // while the allocation is live: the peak
      Footprint now = Measure();
      if (now.size_kib > peak.size_kib) peak.size_kib = now.size_kib;
      if (now.rss_kib > peak.rss_kib) peak.rss_kib = now.rss_kib;
      if (now.mappings > peak.mappings) peak.mappings = now.mappings;
    }
    if (npk_wildx_free(p) != 0) ++free_errors;
  }
  npk_wildx_stats_t stats{};
  bool stats_ok = npk_wildx_stats(&stats) == 0 && stats.live_bytes == 0 &&
                  (getenv("NPK_WILDX_QUOTA") != nullptr || stats.quota_bytes == int64_t{64} << 20) &&
                  stats.cached_bytes <= static_cast<int64_t>(npkrt::kWildxCacheMaxBytes) &&
                  stats.cached_blocks <= static_cast<int64_t>(npkrt::kWildxCacheMaxBlocks);
  printf("recycle: stats: live %lld, cached %lld bytes in %lld blocks, reserved %lld, quota %lld\n",
         static_cast<long long>(stats.live_bytes), static_cast<long long>(stats.cached_bytes),
         static_cast<long long>(stats.cached_blocks), static_cast<long long>(stats.reserved_bytes),
         static_cast<long long>(stats.quota_bytes));
  long size_growth = peak.size_kib - start.size_kib, rss_growth = peak.rss_kib - start.rss_kib;
  long mapping_growth = peak.mappings - start.mappings;
  printf("recycle: %ld allocations of 1..%ld pages: %ld failed", cycles, cycles, failures);
  if (failures != 0) printf(" (first at %ld pages)", first_failure);
  printf(", %ld not zero-filled, %ld free errors; peak growth: VmSize %+ld KiB, VmRSS %+ld KiB, "
         "%+ld mappings\n", dirty, free_errors, size_growth, rss_growth, mapping_growth);
  bool ok = stats_ok && failures == 0 && dirty == 0 && free_errors == 0 && size_growth <= kMaxSizeGrowthKib &&
            rss_growth <= kMaxRssGrowthKib && mapping_growth <= kMaxMappingGrowth;
  return ok ? 0 : 1;
}
