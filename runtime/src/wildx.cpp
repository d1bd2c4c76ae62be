// wildx: W^X executable pages. Contract: npk/runtime.h; design: docs/runtime.md.
#include "npk/runtime.h"
#include "wildx_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>

namespace npkrt {
namespace {

constexpr int64_t kDefaultQuotaBytes = int64_t{64} << 20;
constexpr size_t kArenaBytes = size_t{64} << 20;
constexpr uint32_t kMaxArenas = 256;
// Free blocks of 1..kSizeClasses pages sit on exact-size lists; longer ones
// share list 0 (first fit). Blocks are split on demand, never coalesced.
constexpr uint32_t kSizeClasses = 32;
// Freed blocks this long are handed back to the kernel instead of being
// zeroed by memset when they are recycled.
constexpr uint32_t kDontNeedPages = 16;

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

// A reserved PROT_NONE region and its per-page metadata. Immutable once
// published, so lookups need no lock.
struct Arena {
  char *base;
  size_t bytes;
  uint32_t pages;
  uint32_t index;
  uint32_t *words;       // registry words; accessed only through std::atomic_ref
  uint64_t *seal_hash;   // per head page, NPK_WILDX_VERIFY
  uint64_t *next_free;   // per free-block start page, under g_free_lock
  uint32_t *free_pages;  // per free-block start page, under g_free_lock
  uint8_t *free_flags;   // per free-block start page, under g_free_lock
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

Config g_config;
pthread_once_t g_config_once = PTHREAD_ONCE_INIT;
std::atomic<int64_t> g_quota_bytes{kDefaultQuotaBytes};
std::atomic<int64_t> g_live_bytes{0};

std::atomic<Arena *> g_arenas[kMaxArenas];
std::atomic<uint32_t> g_arena_count{0};

// Everything below is guarded by g_free_lock. A free-list link is
// (arena index << 32 | page) + 1, so 0 ends a list.
pthread_mutex_t g_free_lock = PTHREAD_MUTEX_INITIALIZER;
uint64_t g_free_heads[kSizeClasses + 1];
uint32_t g_bump_page;  // next never-used page of the newest arena

class FreeListLock {
 public:
  FreeListLock() { pthread_mutex_lock(&g_free_lock); }
  ~FreeListLock() { pthread_mutex_unlock(&g_free_lock); }
  FreeListLock(const FreeListLock &) = delete;
  FreeListLock &operator=(const FreeListLock &) = delete;
};

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

// ---- arenas ----------------------------------------------------------------

size_t round_up(size_t value, size_t unit) { return (value + unit - 1) / unit * unit; }

// Carves the Arena header and its per-page arrays out of one anonymous
// mapping, so creating an arena needs no heap.
Arena *map_arena_metadata(uint32_t pages) {
  size_t bytes = sizeof(Arena) + pages * (sizeof(uint64_t) * 2 + sizeof(uint32_t) * 2 + 1);
  void *memory = mmap(nullptr, round_up(bytes, g_config.page_size), PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (memory == MAP_FAILED) return nullptr;
  char *cursor = static_cast<char *>(memory);
  Arena *arena = reinterpret_cast<Arena *>(cursor);
  cursor += round_up(sizeof(Arena), alignof(uint64_t));
  arena->seal_hash = reinterpret_cast<uint64_t *>(cursor);
  cursor += pages * sizeof(uint64_t);
  arena->next_free = reinterpret_cast<uint64_t *>(cursor);
  cursor += pages * sizeof(uint64_t);
  arena->words = reinterpret_cast<uint32_t *>(cursor);
  cursor += pages * sizeof(uint32_t);
  arena->free_pages = reinterpret_cast<uint32_t *>(cursor);
  cursor += pages * sizeof(uint32_t);
  arena->free_flags = reinterpret_cast<uint8_t *>(cursor);
  arena->pages = pages;
  return arena;
}

// Caller holds g_free_lock. Reserves address space only: the pages stay
// PROT_NONE (and uncommitted) until an allocation opens them.
Arena *create_arena(uint64_t min_pages) {
  uint32_t index = g_arena_count.load(std::memory_order_relaxed);
  if (index == kMaxArenas) return nullptr;
  size_t arena_pages = kArenaBytes / g_config.page_size;
  size_t pages = round_up(min_pages, arena_pages);
  if (pages > UINT32_MAX) return nullptr;
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

// ---- free lists (caller holds g_free_lock) ---------------------------------

uint64_t link_of(const Block &block) {
  return ((uint64_t{block.arena->index} << 32) | block.page) + 1;
}

Block block_of_link(uint64_t link) {
  Arena *arena = g_arenas[(link - 1) >> 32].load(std::memory_order_relaxed);
  uint32_t page = static_cast<uint32_t>(link - 1);
  return Block{arena, page, arena->free_pages[page], arena->free_flags[page]};
}

uint32_t list_for(uint32_t pages) { return pages <= kSizeClasses ? pages : 0; }

void push_free(const Block &block) {
  uint64_t &head = g_free_heads[list_for(block.pages)];
  block.arena->next_free[block.page] = head;
  block.arena->free_pages[block.page] = block.pages;
  block.arena->free_flags[block.page] = block.flags;
  head = link_of(block);
}

// Keeps the first `pages` pages of a free block and returns the rest to the
// free lists with the same flags.
Block trim(Block block, uint32_t pages) {
  if (block.pages > pages) {
    push_free(Block{block.arena, block.page + pages, block.pages - pages, block.flags});
    block.pages = pages;
  }
  return block;
}

bool pop_exact_or_larger_class(uint32_t pages, Block *out) {
  for (uint32_t list = pages; list <= kSizeClasses; ++list) {
    uint64_t link = g_free_heads[list];
    if (link == 0) continue;
    Block block = block_of_link(link);
    g_free_heads[list] = block.arena->next_free[block.page];
    *out = trim(block, pages);
    return true;
  }
  return false;
}

bool pop_first_fit_long(uint32_t pages, Block *out) {
  for (uint64_t *link = &g_free_heads[0]; *link != 0;) {
    Block block = block_of_link(*link);
    uint64_t *next = &block.arena->next_free[block.page];
    if (block.pages >= pages) {
      *link = *next;
      *out = trim(block, pages);
      return true;
    }
    link = next;
  }
  return false;
}

// Hands out never-used pages from the newest arena, reserving a new arena
// when it is full; what is left of the old one goes to the free lists.
bool take_unused(uint32_t pages, Block *out) {
  uint32_t count = g_arena_count.load(std::memory_order_relaxed);
  Arena *arena = count == 0 ? nullptr : g_arenas[count - 1].load(std::memory_order_relaxed);
  if (arena == nullptr || arena->pages - g_bump_page < pages) {
    if (arena != nullptr && g_bump_page < arena->pages) {
      push_free(Block{arena, g_bump_page, arena->pages - g_bump_page, kNeedsOpen});
      g_bump_page = arena->pages;  // listed once, even if no new arena can be had
    }
    arena = create_arena(pages);
    if (arena == nullptr) return false;
    g_bump_page = 0;
  }
  *out = Block{arena, g_bump_page, pages, kNeedsOpen};
  g_bump_page += pages;
  return true;
}

bool take_block(uint32_t pages, Block *out) {
  FreeListLock lock;
  if (pages <= kSizeClasses && pop_exact_or_larger_class(pages, out)) return true;
  if (pop_first_fit_long(pages, out)) return true;
  return take_unused(pages, out);
}

void give_back(const Block &block) {
  FreeListLock lock;
  push_free(block);
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
bool open_block(const Block &block, char *user, size_t bytes) {
  if ((block.flags & kNeedsOpen) && mprotect(user, bytes, PROT_READ | PROT_WRITE) != 0) return false;
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
  if (!begin_transition(p, op, bit(kWritable), kInstalling, &slot)) return false;
  *bytes = slot_bytes(slot);
  return true;
}

void wildx_end_write(void *p) {
  Arena *arena = nullptr;
  uint32_t page = 0;
  if (resolve(p, &arena, &page) != nullptr) return;
  std::atomic_ref<uint32_t> word = word_at(arena, page);
  uint32_t pages = pages_of(word.load(std::memory_order_relaxed));
  word.store(make_word(kWritable, pages), std::memory_order_release);
}

int32_t wildx_check_callable(const void *p, const char *op) {
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
  if (reason == nullptr) return 0;
  wildx_panic(op, p, reason);
  return code;
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
  Slot slot;
  if (!begin_transition(p, kOp, bit(kWritable), kSealing, &slot)) return -1;
  char *code = static_cast<char *>(p);
  size_t bytes = slot_bytes(slot);
  if (g_config.verify) slot.arena->seal_hash[slot.page] = wildx_fnv1a(code, bytes);
  // Covers every writer, not just the JIT helpers: user code may have
  // stored the bytes itself. A no-op on x86-64.
  __builtin___clear_cache(code, code + bytes);
  if (mprotect(code, bytes, PROT_READ | PROT_EXEC) != 0) {
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
  Slot slot;
  if (!begin_transition(p, kOp, bit(kWritable) | bit(kExecutable), kFreeing, &slot)) return -1;
  uint8_t flags = 0;
  if (!revoke(slot, static_cast<char *>(p), &flags)) {
    finish_transition(slot, static_cast<PageState>(slot.old_state));
    wildx_panic(kOp, p, "the OS refused to revoke execute permission");
    return -1;
  }
  audit("free", p);
  finish_transition(slot, kFreed);
  release_quota(static_cast<int64_t>(slot_bytes(slot)));
  give_back(block_of_slot(slot, flags));
  return 0;
}
