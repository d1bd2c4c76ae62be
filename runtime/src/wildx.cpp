// wildx: W^X executable pages. Contract: npk/runtime.h; design: docs/runtime.md.
#include "npk/runtime.h"
#include "wildx_internal.h"
#include "code_internal.h"
#include "core_internal.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

namespace npkrt {
namespace {

constexpr int64_t kDefaultQuotaBytes = int64_t{64} << 20;
constexpr size_t kArenaBytes = size_t{64} << 20;
constexpr uint32_t kMaxArenas = 256;
// Freed blocks this long are handed back to the kernel instead of being
// zeroed by memset when they are recycled.
constexpr uint32_t kDontNeedPages = 16;
// The cache of freed blocks kept mapped for reuse (bounds: wildx_internal.h).
constexpr uint32_t kCacheMaxBlocks = kWildxCacheMaxBlocks;
constexpr size_t kCacheMaxBytes = kWildxCacheMaxBytes;
constexpr size_t kCacheMaxBlockBytes = kCacheMaxBytes / 4;

// A page's registry word: its state in the low bits and, on the first page of
// an allocation (its head), the allocation's length in pages above them.
constexpr uint32_t kStateBits = 4;
constexpr uint32_t kStateMask = (1u << kStateBits) - 1;
constexpr uint64_t kMaxAllocationPages = (uint64_t{1} << (32 - kStateBits)) - 1;

enum PageState : uint32_t {
  kUnused = 0,   // never handed out, or inside a free block's tail
  kWritable,     // head of a live RW allocation
  kInstalling,   // head; a JIT helper is writing code into it
  kSealing,      // head; becoming executable
  kExecutable,   // head of a live R+X allocation
  kFreeing,      // head; execute permission is being revoked
  kFreed,        // head of a released allocation (until it is recycled)
  kTail,         // a later page of an allocation
  kGuard,        // NPK_WILDX_GUARD page around an allocation
};

constexpr uint32_t bit(PageState s) { return 1u << s; }
constexpr uint32_t make_word(uint32_t state, uint32_t pages) { return state | (pages << kStateBits); }
constexpr uint32_t state_of(uint32_t word) { return word & kStateMask; }
constexpr uint32_t pages_of(uint32_t word) { return word >> kStateBits; }

// Free-block flags.
constexpr uint8_t kNeedsOpen = 1;  // pages are PROT_NONE
constexpr uint8_t kDirty = 2;      // pages may hold old bytes

struct Config {
  size_t page_size;  // a power of two
  unsigned page_shift;
  bool guard;
  bool audit;
  bool verify;
};

// A reserved PROT_NONE region and its per-page metadata. The fields other
// than the vacancy bitmap are immutable once published, so lookups need no
// lock.
struct Arena {
  char *base;
  size_t bytes;
  uint32_t pages;   // a multiple of 64
  uint32_t index;
  uint32_t *words;      // registry words; accessed only through std::atomic_ref
  uint64_t *seal_hash;  // per head page, NPK_WILDX_VERIFY
  uint64_t *file_offset;  // per head page sealed through the memfd: its offset + 1, else 0
  uint64_t *vacant;     // bit per page: PROT_NONE, zero, neither live nor cached; under g_free_lock
  uint32_t vacant_pages;  // under g_free_lock
};

struct Block {
  Arena *arena;
  uint32_t page;
  uint32_t pages;
  uint8_t flags;
};

// A live allocation's head as seen by one transition.
struct Slot {
  Arena *arena;
  uint32_t page;
  uint32_t pages;
  uint32_t old_state;
};

// Blocks leaving the cache, returned to the OS after the lock is dropped.
struct Batch {
  Block blocks[kCacheMaxBlocks];
  uint32_t count;
};

Config g_config;
pthread_once_t g_config_once = PTHREAD_ONCE_INIT;
std::atomic<int64_t> g_quota_bytes{kDefaultQuotaBytes};
std::atomic<int64_t> g_live_bytes{0};

std::atomic<Arena *> g_arenas[kMaxArenas];
std::atomic<uint32_t> g_arena_count{0};

// The cache and the vacancy bitmaps are guarded by g_free_lock. The cache is
// ordered oldest first; the counters are atomics only so that
// npk_wildx_stats can read them without the lock.
pthread_mutex_t g_free_lock = PTHREAD_MUTEX_INITIALIZER;
Block g_cache[kCacheMaxBlocks];
uint32_t g_cache_count;
std::atomic<int64_t> g_cached_bytes{0};
std::atomic<int64_t> g_cached_blocks{0};
std::atomic<int64_t> g_reserved_bytes{0};

class FreeListLock {
 public:
  FreeListLock() { pthread_mutex_lock(&g_free_lock); }
  ~FreeListLock() { pthread_mutex_unlock(&g_free_lock); }
  FreeListLock(const FreeListLock &) = delete;
  FreeListLock &operator=(const FreeListLock &) = delete;
};

// ---- fork ------------------------------------------------------------------
//
// Every entry point that changes registry state runs inside enter()/leave().
// A fork first closes the gate and waits until no thread is inside, so the
// child inherits no held lock, no page in a transient state and no block on
// its way back to the OS. Lookups (calls) do not enter: they change nothing.

pthread_mutex_t g_fork_lock = PTHREAD_MUTEX_INITIALIZER;
std::atomic<bool> g_fork_pending{false};
std::atomic<uint32_t> g_inside{0};

void enter() {
  for (;;) {
    g_inside.fetch_add(1, std::memory_order_seq_cst);
    if (!g_fork_pending.load(std::memory_order_seq_cst)) return;
    g_inside.fetch_sub(1, std::memory_order_seq_cst);
    // Wait for the fork to finish.
    pthread_mutex_lock(&g_fork_lock);
    pthread_mutex_unlock(&g_fork_lock);
  }
}

void leave() { g_inside.fetch_sub(1, std::memory_order_release); }

class Inside {
 public:
  Inside() { enter(); }
  ~Inside() { leave(); }
  Inside(const Inside &) = delete;
  Inside &operator=(const Inside &) = delete;
};

void before_fork() {
  pthread_mutex_lock(&g_fork_lock);
  g_fork_pending.store(true, std::memory_order_seq_cst);
  // Threads inside finish one transition (at most a few system calls).
  while (g_inside.load(std::memory_order_seq_cst) != 0) sched_yield();
}

// Parent and child alike: in the child no other thread exists, so nothing
// is inside and the gate reopens as it is.
void after_fork() {
  g_fork_pending.store(false, std::memory_order_seq_cst);
  pthread_mutex_unlock(&g_fork_lock);
}

// Any value but empty or "0" turns a hardening flag on.
bool env_flag(const char *name) {
  const char *value = getenv(name);
  return value != nullptr && value[0] != '\0' && strcmp(value, "0") != 0;
}

void load_quota_from_env() {
  const char *text = getenv("NPK_WILDX_QUOTA");
  if (text == nullptr) return;
  int64_t bytes = 0;
  if (wildx_parse_byte_count(text, &bytes)) {
    g_quota_bytes.store(bytes, std::memory_order_relaxed);
    return;
  }
  fprintf(stderr, "[WildX] warning: NPK_WILDX_QUOTA=%s is not a byte count; using 64M\n", text);
}

void load_config() {
  long page_size = sysconf(_SC_PAGESIZE);
  g_config.page_size = page_size > 0 ? static_cast<size_t>(page_size) : 4096;
  g_config.page_shift = static_cast<unsigned>(__builtin_ctzl(g_config.page_size));
  g_config.guard = env_flag("NPK_WILDX_GUARD");
  g_config.audit = env_flag("NPK_WILDX_AUDIT");
  g_config.verify = env_flag("NPK_WILDX_VERIFY");
  load_quota_from_env();
  // Registered before any registry state exists, so no fork can miss it.
  pthread_atfork(before_fork, after_fork, after_fork);
}

const Config &config() {
  pthread_once(&g_config_once, load_config);
  return g_config;
}

std::atomic_ref<uint32_t> word_at(Arena *arena, uint32_t page) {
  return std::atomic_ref<uint32_t>(arena->words[page]);
}

char *page_address(const Arena *arena, uint32_t page) {
  return arena->base + static_cast<size_t>(page) * g_config.page_size;
}

size_t block_bytes(const Block &block) { return static_cast<size_t>(block.pages) * g_config.page_size; }

void audit(const char *what, const void *p) {
  if (g_config.audit) fprintf(stderr, "[WildX] audit: %s %p\n", what, p);
}

// ---- quota -----------------------------------------------------------------

bool reserve_quota(int64_t bytes) {
  int64_t quota = g_quota_bytes.load(std::memory_order_relaxed);
  int64_t live = g_live_bytes.load(std::memory_order_relaxed);
  do {
    if (bytes > quota - live) return false;
  } while (!g_live_bytes.compare_exchange_weak(live, live + bytes, std::memory_order_relaxed));
  return true;
}

void release_quota(int64_t bytes) { g_live_bytes.fetch_sub(bytes, std::memory_order_relaxed); }

// ---- vacancy bitmaps (caller holds g_free_lock) ----------------------------

// Marks pages [first, first + count) vacant or not.
void set_vacant(Arena *arena, uint32_t first, uint32_t count, bool vacant) {
  for (uint32_t page = first; page < first + count;) {
    uint64_t &word = arena->vacant[page / 64];
    uint32_t shift = page % 64;
    uint32_t span = count - (page - first) < 64 - shift ? count - (page - first) : 64 - shift;
    uint64_t mask = (span == 64 ? ~uint64_t{0} : ((uint64_t{1} << span) - 1)) << shift;
    word = vacant ? word | mask : word & ~mask;
    page += span;
  }
  if (vacant)
    arena->vacant_pages += count;
  else
    arena->vacant_pages -= count;
}

// The first run of `pages` vacant pages in the arena, or UINT32_MAX.
uint32_t find_vacant_run(const Arena *arena, uint32_t pages) {
  uint32_t run = 0, start = 0;
  for (uint32_t index = 0; index < arena->pages / 64; ++index) {
    uint64_t word = arena->vacant[index];
    if (word == 0) {
      run = 0;
      continue;
    }
    if (word == ~uint64_t{0}) {
      if (run == 0) start = index * 64;
      run += 64;
      if (run >= pages) return start;
      continue;
    }
    for (uint32_t shift = 0; shift < 64; ++shift) {
      if (((word >> shift) & 1) == 0) {
        run = 0;
        continue;
      }
      if (run == 0) start = index * 64 + shift;
      if (++run >= pages) return start;
    }
  }
  return UINT32_MAX;
}

// ---- arenas ----------------------------------------------------------------

size_t round_up(size_t value, size_t unit) { return (value + unit - 1) / unit * unit; }

// Carves the Arena header and its per-page arrays out of one anonymous
// mapping, so creating an arena needs no heap.
Arena *map_arena_metadata(uint32_t pages) {
  size_t bytes = sizeof(Arena) + pages * (2 * sizeof(uint64_t) + sizeof(uint32_t)) + pages / 8;
  void *memory = mmap(nullptr, round_up(bytes, g_config.page_size), PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (memory == MAP_FAILED) return nullptr;
  char *cursor = static_cast<char *>(memory);
  Arena *arena = reinterpret_cast<Arena *>(cursor);
  cursor += round_up(sizeof(Arena), alignof(uint64_t));
  arena->seal_hash = reinterpret_cast<uint64_t *>(cursor);
  cursor += pages * sizeof(uint64_t);
  arena->file_offset = reinterpret_cast<uint64_t *>(cursor);
  cursor += pages * sizeof(uint64_t);
  arena->vacant = reinterpret_cast<uint64_t *>(cursor);
  cursor += pages / 8;
  arena->words = reinterpret_cast<uint32_t *>(cursor);
  arena->pages = pages;
  memset(arena->vacant, 0xff, pages / 8);
  arena->vacant_pages = pages;
  return arena;
}

// Caller holds g_free_lock. Reserves address space only: the pages stay
// PROT_NONE (and uncommitted) until an allocation opens them.
Arena *create_arena(uint64_t min_pages) {
  uint32_t index = g_arena_count.load(std::memory_order_relaxed);
  if (index == kMaxArenas) return nullptr;
  size_t arena_pages = round_up(kArenaBytes / g_config.page_size, 64);
  size_t pages = round_up(min_pages, arena_pages);
  if (pages > UINT32_MAX - 63) return nullptr;
  void *base = mmap(nullptr, pages * g_config.page_size, PROT_NONE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) return nullptr;
  Arena *arena = map_arena_metadata(static_cast<uint32_t>(pages));
  if (arena == nullptr) {
    munmap(base, pages * g_config.page_size);
    return nullptr;
  }
  arena->base = static_cast<char *>(base);
  arena->bytes = pages * g_config.page_size;
  arena->index = index;
  g_arenas[index].store(arena, std::memory_order_release);
  g_arena_count.store(index + 1, std::memory_order_release);
  g_reserved_bytes.fetch_add(static_cast<int64_t>(arena->bytes), std::memory_order_relaxed);
  return arena;
}

Arena *find_arena(const void *p) {
  uintptr_t address = reinterpret_cast<uintptr_t>(p);
  uint32_t count = g_arena_count.load(std::memory_order_acquire);
  for (uint32_t i = 0; i < count; ++i) {
    Arena *arena = g_arenas[i].load(std::memory_order_acquire);
    uintptr_t offset = address - reinterpret_cast<uintptr_t>(arena->base);
    if (offset < arena->bytes) return arena;
  }
  return nullptr;
}

// ---- returning pages to the OS (no lock held) -------------------------------

// Removes all access from a page range (execute included), even when
// mprotect cannot split the mapping (ENOMEM): then fresh pages replace it.
bool revoke_all(char *p, size_t bytes) {
  if (mprotect(p, bytes, PROT_NONE) == 0) return true;
  void *fresh = mmap(p, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  return fresh != MAP_FAILED;
}

// Returns a page range to the OS: afterwards it is PROT_NONE, uncommitted
// and reads as zero once opened again, i.e. vacant. False when the OS
// refused; the pages are then retired (see release_batch).
bool return_to_os(char *p, size_t bytes) {
  return revoke_all(p, bytes) && madvise(p, bytes, MADV_DONTNEED) == 0;
}

void make_vacant(const Block &block) {
  FreeListLock lock;
  set_vacant(block.arena, block.page, block.pages, true);
}

int compare_blocks(const void *a, const void *b) {
  const Block &x = *static_cast<const Block *>(a);
  const Block &y = *static_cast<const Block *>(b);
  if (x.arena->index != y.arena->index) return x.arena->index < y.arena->index ? -1 : 1;
  return x.page < y.page ? -1 : x.page > y.page ? 1 : 0;
}

// Returns evicted blocks to the OS, one call per run of adjacent blocks, then
// marks them vacant. A run the OS refused to take back is retired: never
// handed out again.
void release_batch(Batch &batch) {
  if (batch.count == 0) return;
  qsort(batch.blocks, batch.count, sizeof(Block), compare_blocks);
  uint32_t runs = 0;
  for (uint32_t i = 0; i < batch.count; ++i) {
    Block &run = batch.blocks[runs];
    const Block &next = batch.blocks[i];
    if (i != 0 && next.arena == run.arena && next.page == run.page + run.pages) {
      run.pages += next.pages;
      continue;
    }
    if (i != 0) ++runs;
    batch.blocks[runs] = next;
  }
  ++runs;
  bool released[kCacheMaxBlocks];
  for (uint32_t i = 0; i < runs; ++i) {
    const Block &run = batch.blocks[i];
    released[i] = return_to_os(page_address(run.arena, run.page), block_bytes(run));
  }
  FreeListLock lock;
  for (uint32_t i = 0; i < runs; ++i)
    if (released[i]) set_vacant(batch.blocks[i].arena, batch.blocks[i].page, batch.blocks[i].pages, true);
  batch.count = 0;
}

// ---- the cache (caller holds g_free_lock) -----------------------------------

void cache_remove(uint32_t index) {
  g_cached_bytes.fetch_sub(static_cast<int64_t>(block_bytes(g_cache[index])), std::memory_order_relaxed);
  memmove(&g_cache[index], &g_cache[index + 1], (g_cache_count - index - 1) * sizeof(Block));
  --g_cache_count;
  g_cached_blocks.store(g_cache_count, std::memory_order_relaxed);
}

// Moves the oldest cached blocks to `batch` until at most `blocks` blocks and
// `bytes` bytes stay cached.
void evict_down_to(uint32_t blocks, size_t bytes, Batch *batch) {
  while (g_cache_count > 0 &&
         (g_cache_count > blocks || static_cast<size_t>(g_cached_bytes.load(std::memory_order_relaxed)) > bytes)) {
    batch->blocks[batch->count++] = g_cache[0];
    cache_remove(0);
  }
}

void cache_put(const Block &block, Batch *batch) {
  size_t bytes = block_bytes(block);
  if (g_cache_count == kCacheMaxBlocks ||
      static_cast<size_t>(g_cached_bytes.load(std::memory_order_relaxed)) + bytes > kCacheMaxBytes)
    evict_down_to(kCacheMaxBlocks / 2, kCacheMaxBytes / 2 > bytes ? kCacheMaxBytes / 2 - bytes : 0, batch);
  g_cache[g_cache_count++] = block;
  g_cached_blocks.store(g_cache_count, std::memory_order_relaxed);
  g_cached_bytes.fetch_add(static_cast<int64_t>(bytes), std::memory_order_relaxed);
}

// The newest cached block of exactly `pages` pages, else the smallest larger
// one with its first `pages` pages taken (the rest stays cached, same age).
bool cache_take(uint32_t pages, Block *out) {
  uint32_t best = UINT32_MAX;
  for (uint32_t i = g_cache_count; i-- > 0;) {
    uint32_t have = g_cache[i].pages;
    if (have == pages) {
      *out = g_cache[i];
      cache_remove(i);
      return true;
    }
    if (have > pages && (best == UINT32_MAX || have < g_cache[best].pages)) best = i;
  }
  if (best == UINT32_MAX) return false;
  Block &rest = g_cache[best];
  *out = Block{rest.arena, rest.page, pages, rest.flags};
  rest.page += pages;
  rest.pages -= pages;
  g_cached_bytes.fetch_sub(static_cast<int64_t>(block_bytes(*out)), std::memory_order_relaxed);
  return true;
}

// Vacant pages from the first arena with room, or from a new arena.
bool take_vacant(uint32_t pages, bool may_grow, Block *out) {
  uint32_t count = g_arena_count.load(std::memory_order_relaxed);
  for (uint32_t i = 0; i < count; ++i) {
    Arena *arena = g_arenas[i].load(std::memory_order_relaxed);
    if (arena->vacant_pages < pages) continue;
    uint32_t page = find_vacant_run(arena, pages);
    if (page == UINT32_MAX) continue;
    set_vacant(arena, page, pages, false);
    *out = Block{arena, page, pages, kNeedsOpen};
    return true;
  }
  if (!may_grow) return false;
  Arena *arena = create_arena(pages);
  if (arena == nullptr) return false;
  set_vacant(arena, 0, pages, false);
  *out = Block{arena, 0, pages, kNeedsOpen};
  return true;
}

bool take_block(uint32_t pages, Block *out) {
  Batch batch;
  batch.count = 0;
  {
    FreeListLock lock;
    if (cache_take(pages, out) || take_vacant(pages, true, out)) return true;
    if (g_cache_count == 0) return false;
    // Out of address space: what the cache holds is not live, so it must
    // not make this allocation fail.
    evict_down_to(0, 0, &batch);
  }
  release_batch(batch);
  FreeListLock lock;
  return take_vacant(pages, false, out);
}

// Takes back a block that is not live. A clean PROT_NONE block is vacant as
// it is; anything else goes to the cache.
void give_back(const Block &block) {
  if (block.flags == kNeedsOpen) return make_vacant(block);
  Batch batch;
  batch.count = 0;
  {
    FreeListLock lock;
    cache_put(block, &batch);
  }
  release_batch(batch);
}

// ---- lookups and transitions -------------------------------------------------

const char *reason_for_state(uint32_t state) {
  switch (state) {
    case kWritable: return "page is not sealed (still writable)";
    case kExecutable: return "page is already sealed";
    case kFreed: return "page was already freed";
    case kInstalling:
    case kSealing:
    case kFreeing: return "page is busy in another thread's transition";
    case kTail: return "interior pointer (not the start of an allocation)";
    case kGuard: return "guard page (not an allocation)";
    default: return "unknown pointer (not a wildx allocation)";
  }
}

// Finds the registry word p would head. Returns nullptr, or why p cannot be
// the start of any allocation. Needs no config(): an arena exists only after
// the thread that created it loaded the config, and find_arena's acquire
// load of the arena count makes that visible here.
const char *resolve(const void *p, Arena **arena, uint32_t *page) {
  if (p == nullptr) return "null pointer";
  *arena = find_arena(p);
  if (*arena == nullptr) return "foreign pointer (not a wildx page)";
  uintptr_t offset = reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>((*arena)->base);
  if ((offset & (g_config.page_size - 1)) != 0) return "interior pointer (not the start of an allocation)";
  *page = static_cast<uint32_t>(offset >> g_config.page_shift);
  return nullptr;
}

// Moves the head at p from one of the states in `allowed` to `next`, so that
// no other transition can touch it until finish_transition.
bool begin_transition(const void *p, const char *op, uint32_t allowed, PageState next, Slot *slot) {
  const char *reason = resolve(p, &slot->arena, &slot->page);
  if (reason != nullptr) {
    wildx_panic(op, p, reason);
    return false;
  }
  std::atomic_ref<uint32_t> word = word_at(slot->arena, slot->page);
  uint32_t current = word.load(std::memory_order_acquire);
  do {
    if ((bit(static_cast<PageState>(state_of(current))) & allowed) == 0) {
      wildx_panic(op, p, reason_for_state(state_of(current)));
      return false;
    }
  } while (!word.compare_exchange_weak(current, make_word(next, pages_of(current)),
                                       std::memory_order_acq_rel, std::memory_order_acquire));
  slot->pages = pages_of(current);
  slot->old_state = state_of(current);
  return true;
}

void finish_transition(const Slot &slot, PageState state) {
  word_at(slot.arena, slot.page).store(make_word(state, slot.pages), std::memory_order_release);
}

size_t slot_bytes(const Slot &slot) { return static_cast<size_t>(slot.pages) * g_config.page_size; }

// ---- allocation ------------------------------------------------------------

uint64_t pages_for(int64_t n) {
  uint64_t bytes = n == 0 ? 1 : static_cast<uint64_t>(n);
  return bytes / g_config.page_size + (bytes % g_config.page_size != 0);
}

// Makes the user pages of a block RW and zero. Fresh pages are zero already;
// recycled ones are either handed back to the kernel at free or cleared here.
// Pages once sealed through the memfd (a read-only shared mapping) cannot be
// reopened by mprotect: fresh anonymous pages replace them.
bool open_block(const Block &block, char *user, size_t bytes) {
  if ((block.flags & kNeedsOpen) && mprotect(user, bytes, PROT_READ | PROT_WRITE) != 0 &&
      mmap(user, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) ==
          MAP_FAILED)
    return false;
  if (block.flags & kDirty) memset(user, 0, bytes);
  return true;
}

// Publishes the allocation: tails and guards first, the head last, so a
// lookup that sees the head also sees the rest.
void mark_allocated(const Block &block, uint32_t head, uint32_t pages) {
  for (uint32_t page = head + 1; page < head + pages; ++page)
    word_at(block.arena, page).store(kTail, std::memory_order_relaxed);
  if (head != block.page) {
    word_at(block.arena, block.page).store(kGuard, std::memory_order_relaxed);
    word_at(block.arena, head + pages).store(kGuard, std::memory_order_relaxed);
  }
  word_at(block.arena, head).store(make_word(kWritable, pages), std::memory_order_release);
}

// ---- sealing through a memfd (kernels that refuse W->X) ----------------------
//
// Under prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN) (or an LSM that denies
// execmem) mprotect cannot make a written page executable. Then the seal
// copies the page into a memfd with pwrite and maps that file range r-x,
// MAP_SHARED|MAP_FIXED, at the same address: one mmap instead of one
// mprotect, and the mapping comes from a read-only descriptor, so it can
// never be made writable. File offsets only grow (a sparse file), so no
// offset is ever reused; freeing punches the range out of the file.

pthread_mutex_t g_seal_file_lock = PTHREAD_MUTEX_INITIALIZER;
int g_seal_fd = -1;       // read-write: pwrite
int g_seal_ro_fd = -1;    // read-only: mmap
pid_t g_seal_pid;         // a forked child opens its own file
uint64_t g_seal_next_offset;
std::atomic<bool> g_seal_by_file{false};

bool open_seal_file() {
  if (g_seal_fd >= 0 && g_seal_pid == getpid()) return true;
  if (g_seal_fd >= 0) {
    // Inherited from the parent: writing through it would change the
    // parent's code.
    close(g_seal_fd);
    close(g_seal_ro_fd);
    g_seal_fd = g_seal_ro_fd = -1;
  }
  int fd = static_cast<int>(syscall(SYS_memfd_create, "npk-wildx", 0x0001u | 0x0010u));
  if (fd < 0 && errno == EINVAL) fd = static_cast<int>(syscall(SYS_memfd_create, "npk-wildx", 0x0001u));
  if (fd < 0) return false;
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  int ro = open(path, O_RDONLY | O_CLOEXEC);
  if (ro < 0) {
    close(fd);
    return false;
  }
  g_seal_fd = fd;
  g_seal_ro_fd = ro;
  g_seal_pid = getpid();
  g_seal_next_offset = 0;
  return true;
}

// Seals [p, p+bytes) by pwrite into the file and an r-x mapping of it at p.
bool seal_by_file(Arena *arena, uint32_t page, char *p, size_t bytes) {
  pthread_mutex_lock(&g_seal_file_lock);
  bool ok = open_seal_file();
  uint64_t offset = g_seal_next_offset;
  if (ok) g_seal_next_offset += bytes;
  int fd = g_seal_fd, ro = g_seal_ro_fd;
  pthread_mutex_unlock(&g_seal_file_lock);
  if (!ok) return false;
  if (pwrite(fd, p, bytes, static_cast<off_t>(offset)) != static_cast<ssize_t>(bytes)) return false;
  if (mmap(p, bytes, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED, ro, static_cast<off_t>(offset)) == MAP_FAILED) {
    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset), static_cast<off_t>(bytes));
    return false;
  }
  arena->file_offset[page] = offset + 1;
  g_seal_by_file.store(true, std::memory_order_relaxed);
  return true;
}

// Gives a file range sealed by seal_by_file back to the kernel.
void release_seal_file(Arena *arena, uint32_t page, size_t bytes) {
  uint64_t recorded = arena->file_offset[page];
  if (recorded == 0) return;
  arena->file_offset[page] = 0;
  pthread_mutex_lock(&g_seal_file_lock);
  int fd = g_seal_pid == getpid() ? g_seal_fd : -1;
  pthread_mutex_unlock(&g_seal_file_lock);
  if (fd >= 0)
    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(recorded - 1),
              static_cast<off_t>(bytes));
}

// ---- release -----------------------------------------------------------------

// Removes write and execute permission from a page range for good, even when
// mprotect cannot split the mapping (ENOMEM): then fresh pages replace it.
bool protect_or_replace(char *p, size_t bytes, int prot, uint8_t *flags) {
  if (mprotect(p, bytes, prot) == 0) return true;
  void *fresh = mmap(p, bytes, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  if (fresh == MAP_FAILED) return false;
  *flags &= static_cast<uint8_t>(~kDirty);
  return true;
}

// Leaves a freed allocation non-executable: RW for cheap reuse (one mprotect
// per free, none at the next alloc), or PROT_NONE under NPK_WILDX_GUARD so a
// use after free faults. Returns the free-block flags, or false.
bool revoke(const Slot &slot, char *p, uint8_t *flags) {
  size_t bytes = slot_bytes(slot);
  *flags = kDirty;
  if (g_config.guard) {
    *flags |= kNeedsOpen;
    return protect_or_replace(p, bytes, PROT_NONE, flags) || slot.old_state != kExecutable;
  }
  if (slot.old_state == kExecutable && slot.arena->file_offset[slot.page] != 0) {
    // Sealed through the memfd: fresh anonymous pages replace the r-x file
    // mapping (mprotect could not make it writable). One mmap.
    if (mmap(p, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) ==
        MAP_FAILED)
      return false;
    *flags &= static_cast<uint8_t>(~kDirty);
    return true;
  }
  if (slot.old_state == kExecutable && !protect_or_replace(p, bytes, PROT_READ | PROT_WRITE, flags))
    return false;
  if (slot.pages >= kDontNeedPages && madvise(p, bytes, MADV_DONTNEED) == 0)
    *flags &= static_cast<uint8_t>(~kDirty);
  return true;
}

Block block_of_slot(const Slot &slot, uint8_t flags) {
  uint32_t guard = g_config.guard ? 1 : 0;
  return Block{slot.arena, slot.page - guard, slot.pages + 2 * guard, flags};
}

}  // namespace

// ---- internal interface ------------------------------------------------------

void wildx_panic(const char *op, const void *p, const char *reason) {
  fprintf(stderr, "[WildX] panic: %s(%p) rejected: %s\n", op, p, reason);
}

bool wildx_begin_write(void *p, const char *op, size_t *bytes) {
  Slot slot;
  *bytes = 0;
  enter();  // until wildx_end_write: a fork waits for the write to finish
  if (!begin_transition(p, op, bit(kWritable), kInstalling, &slot)) {
    leave();
    return false;
  }
  *bytes = slot_bytes(slot);
  return true;
}

void wildx_end_write(void *p) {
  Arena *arena = nullptr;
  uint32_t page = 0;
  if (resolve(p, &arena, &page) == nullptr) {
    std::atomic_ref<uint32_t> word = word_at(arena, page);
    uint32_t pages = pages_of(word.load(std::memory_order_relaxed));
    word.store(make_word(kWritable, pages), std::memory_order_release);
  }
  leave();
}

int32_t wildx_check_callable(const void *p, const char *op) {
  const char *reason = nullptr;
  int32_t code = wildx_callable_refusal(p, &reason);
  if (code != 0) wildx_panic(op, p, reason);
  return code;
}

int32_t wildx_callable_refusal(const void *p, const char **reason_out) {
  Arena *arena = nullptr;
  uint32_t page = 0;
  const char *reason = resolve(p, &arena, &page);
  int32_t code = NPK_ERR_JIT_NOT_LIVE;
  if (reason == nullptr) {
    uint32_t word = word_at(arena, page).load(std::memory_order_acquire);
    uint32_t state = state_of(word);
    if (state != kExecutable) {
      reason = reason_for_state(state);
      if (state == kWritable || state == kInstalling || state == kSealing) code = NPK_ERR_JIT_NOT_SEALED;
    } else if (g_config.verify &&
               wildx_fnv1a(p, pages_of(word) * g_config.page_size) != arena->seal_hash[page]) {
      reason = "code changed since it was sealed (NPK_WILDX_VERIFY)";
    }
  }
  *reason_out = reason;
  return reason == nullptr ? 0 : code;
}

bool wildx_parse_byte_count(const char *text, int64_t *out) {
  if (text == nullptr || *text < '0' || *text > '9') return false;
  int64_t value = 0;
  for (; *text >= '0' && *text <= '9'; ++text) {
    if (value > (INT64_MAX - (*text - '0')) / 10) return false;
    value = value * 10 + (*text - '0');
  }
  int shift = 0;
  switch (*text) {
    case 'k': case 'K': shift = 10; ++text; break;
    case 'm': case 'M': shift = 20; ++text; break;
    case 'g': case 'G': shift = 30; ++text; break;
    default: break;
  }
  if (shift != 0 && *text == 'i') ++text;
  if (*text == 'b' || *text == 'B') ++text;
  if (*text != '\0' || value > (INT64_MAX >> shift)) return false;
  *out = value << shift;
  return true;
}

int64_t wildx_test_set_quota(int64_t bytes) {
  config();
  return g_quota_bytes.exchange(bytes, std::memory_order_relaxed);
}

int64_t wildx_live_bytes(void) { return g_live_bytes.load(std::memory_order_relaxed); }

size_t wildx_page_size(void) { return config().page_size; }

uint64_t wildx_fnv1a(const void *data, size_t n) {
  const unsigned char *bytes = static_cast<const unsigned char *>(data);
  uint64_t hash = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) {
    hash ^= bytes[i];
    hash *= 0x100000001b3ull;
  }
  return hash;
}

}  // namespace npkrt

using namespace npkrt;

// ---- C ABI -------------------------------------------------------------------

extern "C" void *npk_wildx_alloc(int64_t n) {
  const Config &cfg = config();
  if (n < 0) return nullptr;
  uint64_t pages = pages_for(n);
  uint32_t guard = cfg.guard ? 1 : 0;
  if (pages > kMaxAllocationPages - 2) return nullptr;
  int64_t bytes = static_cast<int64_t>(pages * cfg.page_size);
  Inside inside;
  if (!reserve_quota(bytes)) return nullptr;
  Block block;
  if (!take_block(static_cast<uint32_t>(pages) + 2 * guard, &block)) {
    release_quota(bytes);
    return nullptr;
  }
  uint32_t head = block.page + guard;
  char *user = page_address(block.arena, head);
  if (!open_block(block, user, static_cast<size_t>(bytes))) {
    give_back(block);
    release_quota(bytes);
    return nullptr;
  }
  mark_allocated(block, head, static_cast<uint32_t>(pages));
  if (cfg.audit) fprintf(stderr, "[WildX] audit: alloc %p %lld\n", static_cast<void *>(user),
                         static_cast<long long>(bytes));
  return user;
}

extern "C" int32_t npk_wildx_seal(void *p) {
  static const char kOp[] = "wildx_seal";
  if (is_handle_pointer(p)) {
    wildx_panic(kOp, p, "a JIT function is sealed when it is installed");
    return -1;
  }
  Inside inside;
  Slot slot;
  if (!begin_transition(p, kOp, bit(kWritable), kSealing, &slot)) return -1;
  char *code = static_cast<char *>(p);
  size_t bytes = slot_bytes(slot);
  if (g_config.verify) slot.arena->seal_hash[slot.page] = wildx_fnv1a(code, bytes);
  // Covers every writer, not just the JIT helpers: user code may have
  // stored the bytes itself. A no-op on x86-64.
  __builtin___clear_cache(code, code + bytes);
  // Once the kernel refused W->X, later seals go straight to the memfd.
  bool sealed = g_seal_by_file.load(std::memory_order_relaxed) && seal_by_file(slot.arena, slot.page, code, bytes);
  if (!sealed && mprotect(code, bytes, PROT_READ | PROT_EXEC) != 0 &&
      (errno != EACCES || !seal_by_file(slot.arena, slot.page, code, bytes))) {
    finish_transition(slot, kWritable);
    wildx_panic(kOp, p, "the OS refused to make the page executable");
    return -1;
  }
  audit("seal", p);
  finish_transition(slot, kExecutable);
  return 0;
}

extern "C" int32_t npk_wildx_free(void *p) {
  static const char kOp[] = "wildx_free";
  // Jit.compile_* results: released from the code arena.
  if (is_handle_pointer(p)) return code_free_pointer(p, kOp);
  // A module (Jit.module_new): released with every function in it. Only a
  // pointer outside the wildx arenas can be one, so pages pay nothing.
  Arena *arena = nullptr;
  uint32_t page = 0;
  if (resolve(p, &arena, &page) != nullptr && code_is_module(p))
    return npk_jit_module_free(static_cast<npk_jit_module *>(p));
  Inside inside;
  Slot slot;
  if (!begin_transition(p, kOp, bit(kWritable) | bit(kExecutable), kFreeing, &slot)) return -1;
  // Blocks too large for the cache go straight back to the OS (which also
  // revokes execute permission); the rest stay mapped, never executable.
  // In the accounting mode (NPK_AUDIT=1) every freed block is left PROT_NONE
  // and retired, never handed out again: a later use faults, as a freed wild
  // block does there.
  Block block = block_of_slot(slot, 0);
  char *start = page_address(block.arena, block.page);
  bool uncached = block_bytes(block) > kCacheMaxBlockBytes;
  bool retired = npkrt::audit_enabled();
  bool revoked = uncached || retired ? revoke_all(start, block_bytes(block))
                                     : revoke(slot, static_cast<char *>(p), &block.flags);
  if (!revoked) {
    finish_transition(slot, static_cast<PageState>(slot.old_state));
    wildx_panic(kOp, p, "the OS refused to revoke execute permission");
    return -1;
  }
  if (slot.old_state == kExecutable) release_seal_file(slot.arena, slot.page, slot_bytes(slot));
  audit("free", p);
  finish_transition(slot, kFreed);
  release_quota(static_cast<int64_t>(slot_bytes(slot)));
  if (retired) return 0;
  if (!uncached)
    give_back(block);
  else if (madvise(start, block_bytes(block), MADV_DONTNEED) == 0)
    make_vacant(block);
  // else the OS kept the old bytes: the block is retired, never handed out.
  return 0;
}

extern "C" int32_t npk_wildx_stats(npk_wildx_stats_t *out) {
  if (out == nullptr) {
    wildx_panic("wildx_stats", out, "null pointer");
    return -1;
  }
  config();
  out->live_bytes = g_live_bytes.load(std::memory_order_relaxed);
  out->quota_bytes = g_quota_bytes.load(std::memory_order_relaxed);
  out->cached_bytes = g_cached_bytes.load(std::memory_order_relaxed);
  out->cached_blocks = g_cached_blocks.load(std::memory_order_relaxed);
  out->reserved_bytes = g_reserved_bytes.load(std::memory_order_relaxed);
  return 0;
}
