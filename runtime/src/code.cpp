// Code memory: the arena for code the runtime installs itself (modules,
// Jit.compile_*), signature tags and checked calls. Contract: npk/runtime.h;
// design: docs/runtime.md, "Code memory".
#include "code_internal.h"
#include "jit_names.h"
#include "npk/runtime.h"
#include "wildx_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>

// LeakSanitizer does not scan mmap'd memory, and the slot and name tables
// are mmap'd: what only they point to (a module, a name) would be reported
// as leaked when a program exits with live code, which it may. Sanitizer
// builds register them as roots.
#if defined(__SANITIZE_ADDRESS__)
#define NPK_LSAN_ROOTS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NPK_LSAN_ROOTS 1
#endif
#endif
#ifdef NPK_LSAN_ROOTS
#include <sanitizer/lsan_interface.h>
#endif

extern "C" {
npk_jit_slot_table npk_jit_slots = {nullptr, 0};
}

namespace npkrt {
namespace {

// ---- layout ------------------------------------------------------------------

constexpr size_t kRegionBytes = size_t{1} << 30;  // code address space per arena
constexpr uint32_t kMaxSlots = uint32_t{1} << 22;  // functions live at once
constexpr unsigned kClasses = 20;                  // block sizes min_block << 0..19
constexpr size_t kMaxModuleBytes = size_t{4} << 20;
constexpr size_t kChunkBytes = size_t{1} << 20;    // a thread's bump chunk
// The memfd backend spreads the region over this many files, one per
// thread in turn: writes to one file serialise on its inode lock.
constexpr uint32_t kShards = 4;
constexpr size_t kFnAlign = 16;
constexpr uint32_t kMaxGeneration = (uint32_t{1} << 31) - 1;
constexpr uint32_t kThreadCacheBlocks = 32;        // per class
constexpr uint32_t kThreadCacheSlots = 64;

enum SlotState : uint32_t { kSlotFree = 0, kSlotAdded = 1, kSlotSealed = NPK_JIT_STATE_SEALED, kSlotInherited = 3 };

constexpr uint64_t make_key(uint32_t gen, npk_jit_sig sig, uint32_t state) {
  return (uint64_t{gen} << 32) | (uint64_t{sig} << 8) | state;
}
constexpr uint32_t key_gen(uint64_t key) { return static_cast<uint32_t>(key >> 32); }
constexpr npk_jit_sig key_sig(uint64_t key) { return static_cast<npk_jit_sig>((key >> 8) & 0xffffff); }
constexpr uint32_t key_state(uint64_t key) { return static_cast<uint32_t>(key & 0xff); }

struct Arena;
struct Module;

// One function. The first two fields are npk_jit_slot_entry (runtime.h).
struct Slot {
  uint64_t key;      // atomic_ref
  void *entry;
  Module *module;    // owner of its block
  uint32_t size;
  uint32_t number;   // N of an automatic name "<prefix>#N" (no name given)
};
static_assert(sizeof(Slot) == NPK_JIT_SLOT_STRIDE, "slot stride is part of the inline lookup");
static_assert(offsetof(Slot, key) == offsetof(npk_jit_slot_entry, key), "");
static_assert(offsetof(Slot, entry) == offsetof(npk_jit_slot_entry, entry), "");

enum Backend { kMemfd = 0, kMprotect = 1 };

struct Module {
  Arena *arena;
  uint64_t block;     // offset into the arena's region
  uint32_t block_class;
  bool has_block;
  bool sealed;
  bool freed;
  bool standalone;    // made by compile_*: freeing its function frees it
  const char *auto_prefix;  // standalone: "<prefix>" of its function's automatic name
  bool inherited;     // installed by the parent before fork (memfd)
  void *registration; // with GDB (jit_names.h)
  uint32_t count, capacity;
  npk_jit_fn *fns;    // handles, in order of addition
  uint32_t *offsets;  // code offset in the block
  unsigned char *staged;  // code bytes until the seal
  size_t staged_bytes, staged_capacity;
  Builder *builder;       // the function builder's state (builder.cpp), made at the first npk_jit_begin
  uint32_t busy;          // atomic_ref: held while a free retires handles of this module
  Module *next_spare;     // standalone: the next in the shared pool
};

struct OffsetList {
  uint64_t *items;
  uint32_t count, capacity;
};

struct Arena {
  Backend kind;
  bool ready;
  bool failed;
  bool mseal_on;
  int fds[kShards];  // memfd backend: one read-write descriptor per shard; else -1
  uint32_t shards;   // 1 for the mprotect backend
  size_t shard_bytes;
  size_t shard_bump[kShards];  // bytes of each shard handed out to chunks
  char *base;
  size_t bytes;
  unsigned min_shift;  // log2 of the smallest block
  pthread_mutex_t lock;
  OffsetList free_blocks[kClasses];
  std::atomic<uint32_t> epoch;  // bumped when a fork child drops the region
};

Arena g_arenas[2] = {};
std::atomic<int> g_active{-1};
bool g_audit;
pthread_once_t g_once = PTHREAD_ONCE_INIT;

// Slot table (indexes 1..count-1 handed out at least once).
Slot *g_slots;
char **g_names;  // per slot: the function's name (malloc) if given or asked for, else NULL
pthread_mutex_t g_slot_lock = PTHREAD_MUTEX_INITIALIZER;

// Every Module not yet returned to malloc: the live ones and the last
// kModuleQuarantine freed ones. A module pointer a caller hands in is
// looked up here before it is read, so a freed or foreign pointer is refused
// instead of dereferenced; keeping freed modules allocated a while means a
// second free of one finds it freed rather than a new module at its address.
// An open-addressing set of pointers (the runtime builds without exceptions).
constexpr size_t kModuleQuarantine = 256;
pthread_mutex_t g_module_lock = PTHREAD_MUTEX_INITIALIZER;
const Module **g_module_set;  // capacity a power of two; null: empty, kGone: erased
size_t g_module_cap, g_module_used; // used counts erased entries too
Module *g_quarantine[kModuleQuarantine];
size_t g_quarantine_next;
// Counts pointers leaving g_module_set (returned to malloc); a thread that
// found a module in the set at count N knows it is still there while the
// count is N (ThreadCache::known_module).
std::atomic<uint64_t> g_module_evictions{0};

const Module *const kGone = reinterpret_cast<const Module *>(uintptr_t{1});

size_t module_hash(const Module *m, size_t cap) {
  uint64_t x = reinterpret_cast<uintptr_t>(m) * 0x9E3779B97F4A7C15ull;
  return static_cast<size_t>(x >> 17) & (cap - 1);
}

// Caller holds g_module_lock. The slot holding `m`, or null.
const Module **module_slot(const Module *m) {
  if (g_module_cap == 0) return nullptr;
  for (size_t i = module_hash(m, g_module_cap), n = 0; n < g_module_cap; i = (i + 1) & (g_module_cap - 1), ++n) {
    if (g_module_set[i] == m) return &g_module_set[i];
    if (g_module_set[i] == nullptr) return nullptr;
  }
  return nullptr;
}

// Caller holds g_module_lock. False when out of memory.
bool module_insert(const Module *m) {
  if ((g_module_used + 1) * 2 > g_module_cap) {
    size_t live = 0;
    for (size_t i = 0; i < g_module_cap; ++i) live += g_module_set[i] != nullptr && g_module_set[i] != kGone;
    size_t cap = 64;
    while ((live + 1) * 4 > cap) cap *= 2;
    auto *grown = static_cast<const Module **>(calloc(cap, sizeof(Module *)));
    if (grown == nullptr) return false;
    for (size_t i = 0; i < g_module_cap; ++i) {
      const Module *k = g_module_set[i];
      if (k == nullptr || k == kGone) continue;
      size_t j = module_hash(k, cap);
      while (grown[j] != nullptr) j = (j + 1) & (cap - 1);
      grown[j] = k;
    }
    free(g_module_set);
    g_module_set = grown;
    g_module_cap = cap;
    g_module_used = live;
  }
  size_t j = module_hash(m, g_module_cap);
  while (g_module_set[j] != nullptr && g_module_set[j] != kGone) j = (j + 1) & (g_module_cap - 1);
  if (g_module_set[j] == nullptr) ++g_module_used;
  g_module_set[j] = m;
  return true;
}

OffsetList g_free_slots;  // under g_slot_lock
std::atomic<uint64_t> g_page_table_changes{0};
// Numbers of automatic names (compile_*#N, jit_fn#N): unique in the
// process; each thread takes them in blocks, so a thread's functions are
// numbered in order without an atomic operation per function.
enum NumberCounter { kCompileNumbers = 0, kFnNumbers = 1 };
std::atomic<uint32_t> g_number_counters[2];
constexpr uint32_t kNumberBlock = 64;

// ---- per-thread caches ---------------------------------------------------------

struct ThreadCache {
  uint32_t epoch[2];
  uint64_t chunk_next[2], chunk_end[2];
  uint64_t blocks[2][kClasses][kThreadCacheBlocks];
  uint32_t block_count[2][kClasses];
  uint32_t slots[kThreadCacheSlots];
  uint32_t slot_count;
  uint32_t shard;  // the memfd shard this thread's chunks come from
  const Module *known_module;  // found in g_module_set at known_evictions
  uint64_t known_evictions;
  uint32_t number_next[2], number_end[2];  // per counter: a block of automatic-name numbers
  Module *standalone[16];  // freed standalone modules for reuse
  uint32_t standalone_count;
};

// Standalone modules (one per compile_* function) are never handed out as
// pointers, so they are not in g_module_set and need no lock to make or
// free. A freed one is kept for reuse (per thread, then in a shared pool)
// and never returned to malloc: a racing free that read it from a stale
// slot still reads a Module, and reuse keeps its buffers.
pthread_mutex_t g_standalone_lock = PTHREAD_MUTEX_INITIALIZER;
Module *g_standalone_pool;
std::atomic<uint32_t> g_next_shard{0};

thread_local ThreadCache *t_cache;
pthread_key_t g_cache_key;

bool list_push(OffsetList *list, uint64_t value) {
  if (list->count == list->capacity) {
    uint32_t capacity = list->capacity == 0 ? 64 : list->capacity * 2;
    void *grown = realloc(list->items, capacity * sizeof(uint64_t));
    if (grown == nullptr) return false;
    list->items = static_cast<uint64_t *>(grown);
    list->capacity = capacity;
  }
  list->items[list->count++] = value;
  return true;
}

void flush_cache(void *raw) {
  ThreadCache *cache = static_cast<ThreadCache *>(raw);
  if (cache == nullptr) return;
  for (int a = 0; a < 2; ++a) {
    Arena &arena = g_arenas[a];
    if (!arena.ready || cache->epoch[a] != arena.epoch.load(std::memory_order_acquire)) continue;
    pthread_mutex_lock(&arena.lock);
    for (unsigned c = 0; c < kClasses; ++c)
      for (uint32_t i = 0; i < cache->block_count[a][c]; ++i) list_push(&arena.free_blocks[c], cache->blocks[a][c][i]);
    // The rest of the bump chunk is lost to this arena: at most 1 MiB per thread.
    pthread_mutex_unlock(&arena.lock);
  }
  pthread_mutex_lock(&g_slot_lock);
  for (uint32_t i = 0; i < cache->slot_count; ++i) list_push(&g_free_slots, cache->slots[i]);
  pthread_mutex_unlock(&g_slot_lock);
  pthread_mutex_lock(&g_standalone_lock);
  for (uint32_t i = 0; i < cache->standalone_count; ++i) {
    cache->standalone[i]->next_spare = g_standalone_pool;
    g_standalone_pool = cache->standalone[i];
  }
  pthread_mutex_unlock(&g_standalone_lock);
  free(cache);
}

void ensure_init();

__attribute__((noinline)) ThreadCache *new_thread_cache() {
  ensure_init();  // g_cache_key
  ThreadCache *cache = static_cast<ThreadCache *>(calloc(1, sizeof(ThreadCache)));
  if (cache == nullptr) return nullptr;
  cache->shard = g_next_shard.fetch_add(1, std::memory_order_relaxed) % kShards;
  pthread_setspecific(g_cache_key, cache);
  t_cache = cache;
  return cache;
}

// The hot paths below (adding, freeing, numbering) inline this and the
// fast halves of their helpers; the slow halves stay out of line.
inline __attribute__((always_inline)) ThreadCache *thread_cache() {
  ThreadCache *cache = t_cache;
  return __builtin_expect(cache != nullptr, 1) ? cache : new_thread_cache();
}

__attribute__((noinline)) uint32_t next_number_block(ThreadCache *cache, NumberCounter which) {
  if (cache == nullptr) return g_number_counters[which].fetch_add(1, std::memory_order_relaxed) + 1;
  uint32_t first = g_number_counters[which].fetch_add(kNumberBlock, std::memory_order_relaxed) + 1;
  cache->number_next[which] = first + 1;
  cache->number_end[which] = first + kNumberBlock;
  return first;
}

inline __attribute__((always_inline)) uint32_t next_number(NumberCounter which) {
  ThreadCache *cache = thread_cache();
  if (cache == nullptr || cache->number_next[which] == cache->number_end[which]) return next_number_block(cache, which);
  return cache->number_next[which]++;
}

// ---- configuration and fork --------------------------------------------------

void count_page_table_change() { g_page_table_changes.fetch_add(1, std::memory_order_relaxed); }

void before_fork();
void after_fork_parent();
void after_fork_child();

void init_once() {
  const char *audit = getenv("NPK_WILDX_AUDIT");
  g_audit = audit != nullptr && audit[0] != '\0' && strcmp(audit, "0") != 0;
  for (Arena &arena : g_arenas) {
    pthread_mutex_init(&arena.lock, nullptr);
    for (int &fd : arena.fds) fd = -1;
  }
  g_arenas[kMemfd].kind = kMemfd;
  g_arenas[kMprotect].kind = kMprotect;
  pthread_key_create(&g_cache_key, flush_cache);
  void *table = mmap(nullptr, size_t{kMaxSlots} * sizeof(Slot), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (table != MAP_FAILED) {
#ifdef NPK_LSAN_ROOTS
    __lsan_register_root_region(table, size_t{kMaxSlots} * sizeof(Slot));
#endif
    g_slots = static_cast<Slot *>(table);
    npk_jit_slots.slots = reinterpret_cast<npk_jit_slot_entry *>(g_slots);
    // Slot 0 is never handed out: handle 0 is invalid.
    __atomic_store_n(&npk_jit_slots.count, 1u, __ATOMIC_RELEASE);
  }
  void *names = mmap(nullptr, size_t{kMaxSlots} * sizeof(char *), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (names != MAP_FAILED) {
#ifdef NPK_LSAN_ROOTS
    __lsan_register_root_region(names, size_t{kMaxSlots} * sizeof(char *));
#endif
    g_names = static_cast<char **>(names);
  }
  pthread_atfork(before_fork, after_fork_parent, after_fork_child);
  // The backend: NPK_JIT_BACKEND, else memfd when the kernel allows it.
  const char *chosen = getenv("NPK_JIT_BACKEND");
  int backend = kMemfd;
  if (chosen != nullptr && strcmp(chosen, "mprotect") == 0)
    backend = kMprotect;
  else if (chosen != nullptr && chosen[0] != '\0' && strcmp(chosen, "memfd") != 0)
    fprintf(stderr, "[WildX] warning: NPK_JIT_BACKEND=%s is not memfd or mprotect; using memfd\n", chosen);
  g_active.store(backend, std::memory_order_release);
}

void ensure_init() { pthread_once(&g_once, init_once); }

// Serialises a fork with every arena and slot-table lock, so the child
// inherits none held.
void before_fork() {
  pthread_mutex_lock(&g_module_lock);
  pthread_mutex_lock(&g_slot_lock);
  pthread_mutex_lock(&g_standalone_lock);
  for (Arena &arena : g_arenas) pthread_mutex_lock(&arena.lock);
  jit_names_before_fork();
}

void after_fork_parent() {
  jit_names_after_fork(false);
  for (Arena &arena : g_arenas) pthread_mutex_unlock(&arena.lock);
  pthread_mutex_unlock(&g_standalone_lock);
  pthread_mutex_unlock(&g_slot_lock);
  pthread_mutex_unlock(&g_module_lock);
}

// The child shares the memfd arena's pages with the parent. It drops the
// descriptor (so nothing in it can write the parent's code), refuses calls
// of the functions it inherited from that arena and installs new code into
// an arena of its own.
void after_fork_child() {
  jit_names_after_fork(true);
  Arena &memfd = g_arenas[kMemfd];
  if (memfd.ready) {
    for (int &fd : memfd.fds) {
      if (fd >= 0) close(fd);
      fd = -1;
    }
    memfd.ready = false;  // the next install creates fresh memfds and a region
    memfd.base = nullptr;
    for (size_t &bump : memfd.shard_bump) bump = 0;
    for (OffsetList &list : memfd.free_blocks) list.count = 0;
    memfd.epoch.fetch_add(1, std::memory_order_relaxed);
    uint32_t count = npk_jit_slots.count;
    for (uint32_t i = 1; i < count; ++i) {
      Slot &slot = g_slots[i];
      uint64_t key = slot.key;
      if (key_state(key) != kSlotFree && slot.module != nullptr && slot.module->arena == &memfd) {
        slot.key = make_key(key_gen(key), key_sig(key), kSlotInherited);
        slot.module->inherited = true;
      }
    }
  }
  for (Arena &arena : g_arenas) pthread_mutex_init(&arena.lock, nullptr);
  pthread_mutex_init(&g_slot_lock, nullptr);
  pthread_mutex_init(&g_standalone_lock, nullptr);
  pthread_mutex_init(&g_module_lock, nullptr);
  // A module a thread of the parent was freeing at the fork stays usable.
  for (size_t i = 0; i < g_module_cap; ++i)
    if (g_module_set[i] != nullptr && g_module_set[i] != kGone) const_cast<Module *>(g_module_set[i])->busy = 0;
}

// ---- arenas ------------------------------------------------------------------

void audit_backend(const Arena &arena, const char *detail) {
  if (g_audit)
    fprintf(stderr, "[WildX] audit: jit backend %s%s%s\n", arena.kind == kMemfd ? "memfd" : "mprotect",
            detail[0] != '\0' ? " " : "", detail);
}

long try_mseal(void *base, size_t bytes) {
#ifdef __NR_mseal
  return syscall(__NR_mseal, base, bytes, 0);
#else
  return syscall(462, base, bytes, 0);
#endif
}

// One memfd of the arena and a read-only descriptor of it, or false.
bool create_memfd(int *fd, int *read_only) {
  *fd = static_cast<int>(syscall(SYS_memfd_create, "npk-jit", 0x0001u /*MFD_CLOEXEC*/ | 0x0010u /*MFD_EXEC*/));
  if (*fd < 0 && errno == EINVAL) *fd = static_cast<int>(syscall(SYS_memfd_create, "npk-jit", 0x0001u));
  if (*fd < 0) return false;
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", *fd);
  *read_only = open(path, O_RDONLY | O_CLOEXEC);
  return true;
}

// Creates the shards' memfds and maps each r-x into its part of one
// reservation, through a read-only descriptor, so not even mprotect can make
// it writable; then mseal over the whole region. False when the kernel
// refuses an executable memfd.
bool open_memfd_arena(Arena &arena) {
  void *base = mmap(nullptr, kRegionBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) return false;
  count_page_table_change();
  size_t shard_bytes = kRegionBytes / kShards;
  bool ok = true;
  for (uint32_t i = 0; i < kShards && ok; ++i) {
    int fd = -1, read_only = -1;
    ok = create_memfd(&fd, &read_only);
    if (!ok) break;
    void *at = mmap(static_cast<char *>(base) + i * shard_bytes, shard_bytes, PROT_READ | PROT_EXEC,
                    MAP_SHARED | MAP_NORESERVE | MAP_FIXED, read_only >= 0 ? read_only : fd, 0);
    count_page_table_change();
    int saved = errno;
    if (read_only >= 0) close(read_only);
    arena.fds[i] = fd;
    ok = at != MAP_FAILED;
    errno = saved;
  }
  if (!ok) {
    int saved = errno;
    for (int &fd : arena.fds) {
      if (fd >= 0) close(fd);
      fd = -1;
    }
    munmap(base, kRegionBytes);
    errno = saved;
    return false;
  }
  arena.base = static_cast<char *>(base);
  arena.bytes = kRegionBytes;
  arena.shards = kShards;
  arena.shard_bytes = shard_bytes;
  arena.min_shift = 6;  // 64-byte blocks
  arena.mseal_on = try_mseal(base, kRegionBytes) == 0;
  return true;
}

// The descriptor and file offset of region offset `at` (memfd backend).
int shard_fd(const Arena &arena, uint64_t at) { return arena.fds[at / arena.shard_bytes]; }
off_t shard_offset(const Arena &arena, uint64_t at) { return static_cast<off_t>(at % arena.shard_bytes); }

bool open_mprotect_arena(Arena &arena) {
  void *base = mmap(nullptr, kRegionBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) return false;
  count_page_table_change();
  arena.base = static_cast<char *>(base);
  arena.bytes = kRegionBytes;
  arena.shards = 1;
  arena.shard_bytes = kRegionBytes;
  arena.min_shift = static_cast<unsigned>(__builtin_ctzl(wildx_page_size()));
  return true;
}

// The active arena, opened at first use; the memfd backend falls back to
// mprotect when the kernel refuses it.
Arena *active_arena() {
  ensure_init();
  int index = g_active.load(std::memory_order_acquire);
  Arena *arena = &g_arenas[index];
  if (__atomic_load_n(&arena->ready, __ATOMIC_ACQUIRE)) return arena;
  pthread_mutex_lock(&arena->lock);
  if (!arena->ready && !arena->failed) {
    int saved = 0;
    bool ok = arena->kind == kMemfd ? open_memfd_arena(*arena) : open_mprotect_arena(*arena);
    saved = errno;
    if (ok) {
      audit_backend(*arena, arena->kind == kMemfd ? (arena->mseal_on ? "(mseal)" : "(no mseal)") : "");
      __atomic_store_n(&arena->ready, true, __ATOMIC_RELEASE);
    } else {
      arena->failed = true;
      if (arena->kind == kMemfd) {
        char detail[96];
        snprintf(detail, sizeof detail, "(executable memfd refused: %s)", strerror(saved));
        pthread_mutex_unlock(&arena->lock);
        g_active.store(kMprotect, std::memory_order_release);
        Arena *fallback = active_arena();
        if (fallback != nullptr) audit_backend(*fallback, detail);
        return fallback;
      }
    }
  }
  bool ready = arena->ready;
  pthread_mutex_unlock(&arena->lock);
  return ready ? arena : nullptr;
}

size_t class_bytes(const Arena &arena, uint32_t c) { return size_t{1} << (arena.min_shift + c); }

bool class_for(const Arena &arena, size_t bytes, uint32_t *out) {
  for (uint32_t c = 0; c < kClasses; ++c)
    if (class_bytes(arena, c) >= bytes) {
      *out = c;
      return true;
    }
  return false;
}

// A block of class c: from the thread's cache, the arena's free list, or the
// thread's bump chunk. mprotect-backend blocks come RW.
bool take_block(Arena &arena, uint32_t c, uint64_t *out) {
  ThreadCache *cache = thread_cache();
  int a = arena.kind;
  uint32_t epoch = arena.epoch.load(std::memory_order_acquire);
  if (cache != nullptr && cache->epoch[a] != epoch) {
    memset(cache->block_count[a], 0, sizeof cache->block_count[a]);
    cache->chunk_next[a] = cache->chunk_end[a] = 0;
    cache->epoch[a] = epoch;
  }
  if (cache != nullptr && cache->block_count[a][c] > 0) {
    *out = cache->blocks[a][c][--cache->block_count[a][c]];
    return true;
  }
  size_t bytes = class_bytes(arena, c);
  if (cache != nullptr && bytes <= kChunkBytes / 4 && cache->chunk_next[a] + bytes <= cache->chunk_end[a]) {
    *out = cache->chunk_next[a];
    cache->chunk_next[a] += bytes;
    return true;
  }
  pthread_mutex_lock(&arena.lock);
  bool ok = true;
  if (arena.free_blocks[c].count > 0) {
    *out = arena.free_blocks[c].items[--arena.free_blocks[c].count];
  } else {
    size_t grant = bytes <= kChunkBytes / 4 && cache != nullptr ? kChunkBytes : bytes;
    // The thread's own shard first, then any with room.
    uint32_t first = cache != nullptr ? cache->shard % arena.shards : 0, shard = first;
    while (arena.shard_bump[shard] + grant > arena.shard_bytes) {
      shard = (shard + 1) % arena.shards;
      if (shard == first) break;
    }
    if (arena.shard_bump[shard] + grant > arena.shard_bytes) {
      ok = false;
    } else {
      uint64_t start = shard * arena.shard_bytes + arena.shard_bump[shard];
      // mprotect backend: fresh address space is PROT_NONE; open it RW once.
      if (arena.kind == kMprotect) {
        if (mprotect(arena.base + start, grant, PROT_READ | PROT_WRITE) != 0) ok = false;
        count_page_table_change();
      }
      if (ok) {
        arena.shard_bump[shard] += grant;
        *out = start;
        if (grant != bytes) {
          cache->chunk_next[a] = start + bytes;
          cache->chunk_end[a] = start + grant;
        }
      }
    }
  }
  pthread_mutex_unlock(&arena.lock);
  return ok;
}

void give_block(Arena &arena, uint32_t c, uint64_t block) {
  ThreadCache *cache = thread_cache();
  int a = arena.kind;
  if (cache != nullptr && cache->epoch[a] == arena.epoch.load(std::memory_order_acquire) &&
      cache->block_count[a][c] < kThreadCacheBlocks) {
    cache->blocks[a][c][cache->block_count[a][c]++] = block;
    return;
  }
  pthread_mutex_lock(&arena.lock);
  list_push(&arena.free_blocks[c], block);
  pthread_mutex_unlock(&arena.lock);
}

// ---- trap bytes ----------------------------------------------------------------

#if defined(__x86_64__)
constexpr unsigned char kTrapPattern[] = {0xcc};  // int3
#elif defined(__aarch64__)
constexpr unsigned char kTrapPattern[] = {0x00, 0x00, 0x20, 0xd4};  // brk #0
#else
#error "no trap instruction for this architecture"
#endif

// 4 KiB of the trap pattern, built at compile time.
struct TrapPage {
  unsigned char bytes[4096];
  constexpr TrapPage() : bytes() {
    for (size_t i = 0; i < sizeof bytes; ++i) bytes[i] = kTrapPattern[i % sizeof kTrapPattern];
  }
};
constexpr TrapPage kTraps;
constexpr size_t kTrapBytes = sizeof kTraps.bytes;
const unsigned char *traps() { return kTraps.bytes; }

// Writes `bytes` trap bytes at block offset `at` (a multiple of the pattern).
bool write_traps(Arena &arena, uint64_t at, size_t bytes) {
  const unsigned char *fill = traps();
  if (arena.kind == kMemfd && bytes <= kTrapBytes)  // one pwrite: cheaper than a vector of one
    return pwrite(shard_fd(arena, at), fill, bytes, shard_offset(arena, at)) == static_cast<ssize_t>(bytes);
  if (arena.kind == kMemfd) {
    struct iovec iov[64];
    while (bytes > 0) {
      int n = 0;
      size_t batch = 0;
      while (n < 64 && batch < bytes) {
        size_t part = bytes - batch < kTrapBytes ? bytes - batch : kTrapBytes;
        iov[n].iov_base = const_cast<unsigned char *>(fill);
        iov[n].iov_len = part;
        batch += part;
        ++n;
      }
      ssize_t written = pwritev(shard_fd(arena, at), iov, n, shard_offset(arena, at));
      if (written <= 0) return false;
      at += static_cast<uint64_t>(written);
      bytes -= static_cast<size_t>(written);
    }
    return true;
  }
  for (size_t done = 0; done < bytes; done += kTrapBytes)
    memcpy(arena.base + at + done, fill, bytes - done < kTrapBytes ? bytes - done : kTrapBytes);
  return true;
}

// ---- slots ---------------------------------------------------------------------

std::atomic_ref<uint64_t> key_of(uint32_t index) { return std::atomic_ref<uint64_t>(g_slots[index].key); }
// A slot's owner; read by a free before it claims the handle.
std::atomic_ref<Module *> module_of(uint32_t index) { return std::atomic_ref<Module *>(g_slots[index].module); }

__attribute__((noinline)) uint32_t take_shared_slot() {
  pthread_mutex_lock(&g_slot_lock);
  uint32_t index = 0;
  if (g_free_slots.count > 0) {
    index = static_cast<uint32_t>(g_free_slots.items[--g_free_slots.count]);
  } else if (g_slots != nullptr && npk_jit_slots.count < kMaxSlots) {
    index = npk_jit_slots.count;
    key_of(index).store(make_key(1, 0, kSlotFree), std::memory_order_relaxed);
    __atomic_store_n(&npk_jit_slots.count, index + 1, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock(&g_slot_lock);
  return index;
}

inline __attribute__((always_inline)) uint32_t take_slot() {
  ThreadCache *cache = thread_cache();
  if (cache != nullptr && cache->slot_count > 0) return cache->slots[--cache->slot_count];
  return take_shared_slot();
}

// Returns a slot whose generation was already advanced; a slot whose
// generation is used up is retired, so no handle is ever accepted twice.
__attribute__((noinline)) void give_shared_slot(uint32_t index) {
  pthread_mutex_lock(&g_slot_lock);
  list_push(&g_free_slots, index);
  pthread_mutex_unlock(&g_slot_lock);
}

inline __attribute__((always_inline)) void give_slot(uint32_t index) {
  if (key_gen(key_of(index).load(std::memory_order_relaxed)) >= kMaxGeneration) return;
  ThreadCache *cache = thread_cache();
  if (cache != nullptr && cache->slot_count < kThreadCacheSlots) {
    cache->slots[cache->slot_count++] = index;
    return;
  }
  give_shared_slot(index);
}

// Ends a handle's life: the generation moves on, the state is free.
void retire_key(uint32_t index) {
  uint64_t key = key_of(index).load(std::memory_order_relaxed);
  key_of(index).store(make_key(key_gen(key) + 1, 0, kSlotFree), std::memory_order_release);
}

// The slot a handle names if it is the handle's live generation, else
// nullptr and why.
Slot *live_slot(npk_jit_fn f, const char **reason) {
  uint32_t index = static_cast<uint32_t>(f);
  uint32_t gen = static_cast<uint32_t>(f >> 32);
  if (f == 0) {
    *reason = "null handle";
    return nullptr;
  }
  if (index == 0 || index >= __atomic_load_n(&npk_jit_slots.count, __ATOMIC_ACQUIRE) || gen == 0) {
    *reason = "unknown handle (not a JIT function)";
    return nullptr;
  }
  uint64_t key = key_of(index).load(std::memory_order_acquire);
  if (key_gen(key) != gen) {
    if (gen > key_gen(key))
      *reason = "unknown handle (not a JIT function)";
    else if (key_state(key) == kSlotFree)
      *reason = "function was already freed";
    else
      *reason = "function was already freed (its slot now holds another function)";
    return nullptr;
  }
  if (key_state(key) == kSlotFree) {
    *reason = "function was already freed";
    return nullptr;
  }
  return &g_slots[index];
}

// ---- modules -----------------------------------------------------------------

bool module_reserve(Module *m, size_t more_bytes) {
  if (m->count == m->capacity) {
    uint32_t capacity = m->capacity == 0 ? (m->standalone ? 1 : 64) : m->capacity * 2;
    void *fns = realloc(m->fns, capacity * sizeof(npk_jit_fn));
    if (fns == nullptr) return false;
    m->fns = static_cast<npk_jit_fn *>(fns);
    void *offsets = realloc(m->offsets, capacity * sizeof(uint32_t));
    if (offsets == nullptr) return false;
    m->offsets = static_cast<uint32_t *>(offsets);
    m->capacity = capacity;
  }
  size_t need = m->staged_bytes + more_bytes;
  if (need > m->staged_capacity) {
    size_t capacity = m->staged_capacity == 0 ? (m->standalone ? 64 : 1024) : m->staged_capacity;
    while (capacity < need) capacity *= 2;
    void *grown = realloc(m->staged, capacity);
    if (grown == nullptr) return false;
    m->staged = static_cast<unsigned char *>(grown);
    m->staged_capacity = capacity;
  }
  return true;
}

size_t aligned(size_t n) { return (n + kFnAlign - 1) / kFnAlign * kFnAlign; }

Module *module_create() {
  Module *m = static_cast<Module *>(calloc(1, sizeof(Module)));
  if (m == nullptr) return nullptr;
  pthread_mutex_lock(&g_module_lock);
  bool kept = module_insert(m); // out of memory: no module rather than one that is refused
  pthread_mutex_unlock(&g_module_lock);
  if (!kept) {
    free(m);
    return nullptr;
  }
  return m;
}

// Whether `m` came from module_create and is not yet returned to malloc.
// The calling thread remembers the last module it found, so building a
// module takes the lock once rather than once per call.
__attribute__((noinline)) bool module_found(ThreadCache *cache, const Module *m, uint64_t evictions) {
  pthread_mutex_lock(&g_module_lock);
  bool known = m != kGone && module_slot(m) != nullptr;
  pthread_mutex_unlock(&g_module_lock);
  if (known && cache != nullptr) {
    cache->known_module = m;
    cache->known_evictions = evictions;
  }
  return known;
}

inline __attribute__((always_inline)) bool module_known(const Module *m) {
  ThreadCache *cache = thread_cache();
  uint64_t evictions = g_module_evictions.load(std::memory_order_acquire);
  if (cache != nullptr && m != nullptr && cache->known_module == m && cache->known_evictions == evictions) return true;
  return module_found(cache, m, evictions);
}

Module *standalone_take() {
  ThreadCache *cache = thread_cache();
  Module *m = nullptr;
  if (cache != nullptr && cache->standalone_count > 0) {
    m = cache->standalone[--cache->standalone_count];
  } else {
    pthread_mutex_lock(&g_standalone_lock);
    m = g_standalone_pool;
    if (m != nullptr) g_standalone_pool = m->next_spare;
    pthread_mutex_unlock(&g_standalone_lock);
  }
  if (m == nullptr) m = static_cast<Module *>(calloc(1, sizeof(Module)));
  if (m == nullptr) return nullptr;
  Module reused = *m;
  memset(static_cast<void *>(m), 0, sizeof *m);
  m->fns = reused.fns;
  m->offsets = reused.offsets;
  m->capacity = reused.capacity;
  m->staged = reused.staged;
  m->staged_capacity = reused.staged_capacity;
  m->standalone = true;
  return m;
}

void standalone_give(Module *m) {
  m->count = 0;
  m->staged_bytes = 0;
  m->freed = true;
  ThreadCache *cache = thread_cache();
  if (cache != nullptr && cache->standalone_count < sizeof cache->standalone / sizeof cache->standalone[0]) {
    cache->standalone[cache->standalone_count++] = m;
    return;
  }
  pthread_mutex_lock(&g_standalone_lock);
  m->next_spare = g_standalone_pool;
  g_standalone_pool = m;
  pthread_mutex_unlock(&g_standalone_lock);
}

void module_release(Module *m) {
  // Standalone modules (compile_*) are never built into: their churn leaves
  // the builder's caches alone.
  if (m->standalone) return standalone_give(m);
  g_code_module_epoch.fetch_add(1, std::memory_order_acq_rel);
  builder_destroy(m->builder);
  m->builder = nullptr;
  free(m->fns);
  free(m->offsets);
  free(m->staged);
  m->fns = nullptr;
  m->offsets = nullptr;
  m->staged = nullptr;
  m->count = m->capacity = 0;
  m->freed = true;
  pthread_mutex_lock(&g_module_lock);
  Module *oldest = g_quarantine[g_quarantine_next];
  g_quarantine[g_quarantine_next] = m;
  g_quarantine_next = (g_quarantine_next + 1) % kModuleQuarantine;
  if (const Module **slot = oldest != nullptr ? module_slot(oldest) : nullptr) {
    *slot = kGone;
    g_module_evictions.fetch_add(1, std::memory_order_acq_rel);
  }
  pthread_mutex_unlock(&g_module_lock);
  free(oldest);
}

// Whether handle f is the live function at position i of m in `state`.
bool owned_in_state(const Module *m, uint32_t i, uint32_t state) {
  npk_jit_fn f = m->fns[i];
  uint32_t index = static_cast<uint32_t>(f);
  uint64_t key = key_of(index).load(std::memory_order_acquire);
  return key_gen(key) == static_cast<uint32_t>(f >> 32) && key_state(key) == state;
}

// An automatic name "<prefix>#N" (no snprintf: this runs once per
// function installed). out holds at least kAutoNameBytes.
constexpr size_t kAutoNameBytes = 32;
void format_auto_name(const Module *m, uint32_t number, char *out) {
  const char *prefix = m != nullptr && m->standalone && m->auto_prefix != nullptr ? m->auto_prefix : "jit_fn";
  size_t n = strlen(prefix);
  memcpy(out, prefix, n);
  out[n++] = '#';
  char digits[10];
  int d = 0;
  do {
    digits[d++] = static_cast<char>('0' + number % 10);
    number /= 10;
  } while (number != 0);
  while (d > 0) out[n++] = digits[--d];
  out[n] = '\0';
}

// Adds code to a module; the caller validated the arguments.
npk_jit_fn module_add(Module *m, const void *code, size_t len, npk_jit_sig sig, const char *name,
                      const char *prefix, uint32_t number) {
  size_t padded = aligned(len);
  if (m->staged_bytes + padded > kMaxModuleBytes) {
    wildx_panic("jit_module_add", m, "module code would exceed 4 MiB");
    return 0;
  }
  if (!module_reserve(m, padded)) {
    wildx_panic("jit_module_add", m, "out of memory");
    return 0;
  }
  uint32_t index = take_slot();
  if (index == 0) {
    wildx_panic("jit_module_add", m, "no free function slot");
    return 0;
  }
  // Padding traps: the last kFnAlign bytes are traps first (one store),
  // then the code goes over their front.
  unsigned char *to = m->staged + m->staged_bytes;
  memcpy(to + padded - kFnAlign, traps(), kFnAlign);
  memcpy(to, code, len);
  Slot &slot = g_slots[index];
  slot.entry = nullptr;
  module_of(index).store(m, std::memory_order_relaxed);
  slot.size = static_cast<uint32_t>(len);
  (void)prefix;
  slot.number = number;
  if (g_names != nullptr) g_names[index] = name != nullptr ? strdup(name) : nullptr;
  uint32_t gen = key_gen(key_of(index).load(std::memory_order_relaxed));
  key_of(index).store(make_key(gen, sig, kSlotAdded), std::memory_order_release);
  npk_jit_fn f = (uint64_t{gen} << 32) | index;
  m->fns[m->count] = f;
  m->offsets[m->count] = static_cast<uint32_t>(m->staged_bytes);
  ++m->count;
  m->staged_bytes += padded;
  return f;
}

// Names the module's live functions for perf and GDB (one registration).
void announce(Module *m, char *at) {
  if (!jit_names_wanted()) return;
  NamedCode local[16] = {};
  NamedCode *fns = m->count <= 16 ? local : static_cast<NamedCode *>(malloc(m->count * sizeof(NamedCode)));
  char auto_local[16][kAutoNameBytes];
  char (*auto_names)[kAutoNameBytes] =
      m->count <= 16 ? auto_local : static_cast<char (*)[kAutoNameBytes]>(malloc(m->count * kAutoNameBytes));
  if (fns == nullptr || auto_names == nullptr) {
    if (fns != local) free(fns);
    if (auto_names != auto_local) free(auto_names);
    return;
  }
  uint32_t n = 0;
  for (uint32_t i = 0; i < m->count; ++i) {
    if (!owned_in_state(m, i, kSlotAdded)) continue;
    uint32_t index = static_cast<uint32_t>(m->fns[i]);
    const char *name = g_names != nullptr ? g_names[index] : nullptr;
    if (name == nullptr) {
      format_auto_name(m, g_slots[index].number, auto_names[n]);
      name = auto_names[n];
    }
    fns[n++] = NamedCode{at + m->offsets[i], g_slots[index].size, name};
  }
  m->registration = jit_names_announce(at, m->staged_bytes, fns, n);
  if (fns != local) free(fns);
  if (auto_names != auto_local) free(auto_names);
}

// Writes the staged code into a fresh block and publishes the functions.
// One pwrite (memfd) or one mprotect (mprotect backend).
const char *module_seal(Module *m) {
  Arena *arena = active_arena();
  if (arena == nullptr) return "no code arena (the OS refused both backends)";
  uint32_t c = 0;
  if (!class_for(*arena, m->staged_bytes, &c)) return "module code exceeds 4 MiB";
  uint64_t block = 0;
  if (!take_block(*arena, c, &block)) return "code arena is full";
  char *at = arena->base + block;
  bool ok;
  if (arena->kind == kMemfd) {
    ok = pwrite(shard_fd(*arena, block), m->staged, m->staged_bytes, shard_offset(*arena, block)) ==
         static_cast<ssize_t>(m->staged_bytes);
  } else {
    memcpy(at, m->staged, m->staged_bytes);
    __builtin___clear_cache(at, at + m->staged_bytes);
    ok = mprotect(at, class_bytes(*arena, c), PROT_READ | PROT_EXEC) == 0;
    count_page_table_change();
  }
  if (!ok) {
    if (arena->kind == kMprotect) {
      // Back to RW as every free block is (it never became executable).
      mprotect(at, class_bytes(*arena, c), PROT_READ | PROT_WRITE);
      count_page_table_change();
    }
    give_block(*arena, c, block);
    return "the OS refused to install the code";
  }
  m->arena = arena;
  m->block = block;
  m->block_class = c;
  m->has_block = true;
  m->sealed = true;
  announce(m, at);
  // Publish: a caller that loads the key with acquire sees the code and entry.
  for (uint32_t i = 0; i < m->count; ++i) {
    npk_jit_fn f = m->fns[i];
    uint32_t index = static_cast<uint32_t>(f);
    uint64_t key = key_of(index).load(std::memory_order_relaxed);
    if (key_gen(key) != static_cast<uint32_t>(f >> 32) || key_state(key) != kSlotAdded) continue;
    g_slots[index].entry = at + m->offsets[i];
    key_of(index).store(make_key(key_gen(key), key_sig(key), kSlotSealed), std::memory_order_release);
  }
  if (!m->standalone) {  // a standalone module keeps its buffer for reuse
    free(m->staged);
    m->staged = nullptr;
    m->staged_capacity = 0;
  }
  return nullptr;
}

// Releases the module's block: trap bytes over it, then back to the arena.
bool release_block(Module *m) {
  jit_names_release(m->registration);
  m->registration = nullptr;
  if (!m->has_block || m->inherited) return true;
  Arena &arena = *m->arena;
  size_t bytes = class_bytes(arena, m->block_class);
  if (arena.kind == kMprotect) {
    // One mprotect back to RW: the block is never executable again until
    // it is sealed anew.
    bool ok = mprotect(arena.base + m->block, bytes, PROT_READ | PROT_WRITE) == 0;
    count_page_table_change();
    if (!ok) return false;
    write_traps(arena, m->block, m->staged_bytes);
  } else if (!write_traps(arena, m->block, m->staged_bytes)) {
    return false;
  }
  m->has_block = false;
  give_block(arena, m->block_class, m->block);
  return true;
}

// Frees one function of a sealed module: trap bytes over its code.
bool trap_function(Module *m, const Slot &slot) {
  if (!m->sealed || !m->has_block || m->inherited) return true;
  Arena &arena = *m->arena;
  uint64_t at = static_cast<uint64_t>(static_cast<char *>(slot.entry) - arena.base);
  size_t bytes = aligned(slot.size);
  if (arena.kind == kMemfd) return write_traps(arena, at, bytes);
  size_t page = wildx_page_size();
  char *first = arena.base + (at & ~(page - 1));
  size_t span = ((at + bytes + page - 1) & ~(page - 1)) - (at & ~(page - 1));
  bool ok = mprotect(first, span, PROT_READ | PROT_WRITE) == 0;
  count_page_table_change();
  if (!ok) return false;
  write_traps(arena, at, bytes);
  __builtin___clear_cache(arena.base + at, arena.base + at + bytes);
  ok = mprotect(first, span, PROT_READ | PROT_EXEC) == 0;
  count_page_table_change();
  return ok;
}

void drop_slot(uint32_t index) {
  g_slots[index].entry = nullptr;
  module_of(index).store(nullptr, std::memory_order_relaxed);
  if (g_names != nullptr && g_names[index] != nullptr) {
    free(g_names[index]);
    g_names[index] = nullptr;
  }
  give_slot(index);
}

// A module's lock: held by npk_jit_module_free while it retires the
// module's handles, and by a free of one of its functions from claiming the
// handle until the code is trapped and the slot returned, so the two never
// both retire a handle and a function's trap bytes never land in a block
// the module already gave back. Contended only by racing frees.
void lock_module(Module *m) {
  std::atomic_ref<uint32_t> busy(m->busy);
  while (busy.exchange(1, std::memory_order_acquire) != 0) sched_yield();
}
void unlock_module(Module *m) { std::atomic_ref<uint32_t>(m->busy).store(0, std::memory_order_release); }

int32_t free_function(npk_jit_fn f, const char *op) {
  ensure_init();
  const char *reason = nullptr;
  Slot *slot = live_slot(f, &reason);
  uint32_t index = static_cast<uint32_t>(f);
  // The owner of a handle seen live: the slot's module cannot change while
  // the handle's generation lasts, and a freed module stays allocated (the
  // quarantine), so reading it is safe even if the handle dies meanwhile.
  Module *m = slot != nullptr ? module_of(index).load(std::memory_order_relaxed) : nullptr;
  if (slot == nullptr || m == nullptr) {
    wildx_panic(op, pointer_of_handle(f), slot == nullptr ? reason : "function was already freed");
    return -1;
  }
  bool locked = !m->standalone;  // standalone modules are freed only through their function
  if (locked) lock_module(m);
  uint64_t key = key_of(index).load(std::memory_order_acquire);
  // Claim the slot: a racing free of the same handle loses here.
  if (key_gen(key) != static_cast<uint32_t>(f >> 32) || key_state(key) == kSlotFree ||
      !key_of(index).compare_exchange_strong(key, make_key(key_gen(key) + 1, 0, kSlotFree),
                                             std::memory_order_acq_rel)) {
    if (locked) unlock_module(m);
    wildx_panic(op, pointer_of_handle(f), "function was already freed");
    return -1;
  }
  bool was_sealed = key_state(key) == kSlotSealed || key_state(key) == kSlotInherited;
  bool ok = m->standalone ? release_block(m) : !was_sealed || trap_function(m, *slot);
  if (!ok) {
    key_of(index).store(key, std::memory_order_release);
    if (locked) unlock_module(m);
    wildx_panic(op, pointer_of_handle(f), "the OS refused to overwrite the code");
    return -1;
  }
  if (m->standalone) module_release(m);
  drop_slot(index);
  if (locked) unlock_module(m);
  return 0;
}

// ---- signatures ----------------------------------------------------------------

constexpr uint32_t kMaxSigs = 4096;
const char *g_sig_names[kMaxSigs];  // [0] unused
std::atomic<uint32_t> g_sig_count{1};
pthread_mutex_t g_sig_lock = PTHREAD_MUTEX_INITIALIZER;

// Length of the canonical type at s (0 if none).
size_t type_length(const char *s, bool allow_void) {
  static const char *const kTypes[] = {"i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64", "ptr"};
  if (allow_void && strncmp(s, "void", 4) == 0) return 4;
  for (const char *type : kTypes) {
    size_t n = strlen(type);
    if (strncmp(s, type, n) == 0) return n;
  }
  return 0;
}

bool canonical(const char *s) {
  size_t n = type_length(s, true);
  if (n == 0 || s[n] != '(') return false;
  s += n + 1;
  if (*s == ')') return s[1] == '\0';
  for (;;) {
    size_t t = type_length(s, false);
    if (t == 0) return false;
    s += t;
    if (*s == ')') return s[1] == '\0';
    if (*s != ',') return false;
    ++s;
  }
}

}  // namespace

std::atomic<uint64_t> g_code_module_epoch{0};

// ---- internal interface ----------------------------------------------------------

int32_t code_free_pointer(void *p, const char *op) { return free_function(handle_of_pointer(p), op); }

int32_t code_check_pointer(const void *p, npk_jit_sig sig, const char *op, void **entry) {
  npk_jit_fn f = handle_of_pointer(p);
  *entry = npk_jit_fn_lookup(f, sig);
  if (*entry != nullptr) return 0;
  return npk_jit_refuse(f, sig, op);
}

Builder **code_module_builder(npk_jit_module *module, int32_t *code) {
  Module *m = reinterpret_cast<Module *>(module);
  if (m == nullptr || !module_known(m) || m->standalone || m->freed) {
    *code = NPK_ERR_JIT_MODULE;
    return nullptr;
  }
  if (m->sealed) {
    *code = NPK_ERR_JIT_SEALED;
    return nullptr;
  }
  return &m->builder;
}

uint32_t code_module_next_offset(npk_jit_module *module) {
  return static_cast<uint32_t>(reinterpret_cast<Module *>(module)->staged_bytes);
}

bool code_module_fn(npk_jit_module *module, npk_jit_fn f, uint32_t *offset, npk_jit_sig *sig) {
  const Module *m = reinterpret_cast<const Module *>(module);
  const char *reason = nullptr;
  if (f == 0 || live_slot(f, &reason) == nullptr || g_slots[static_cast<uint32_t>(f)].module != m) return false;
  for (uint32_t i = 0; i < m->count; ++i) {
    if (m->fns[i] != f) continue;
    if (!owned_in_state(m, i, kSlotAdded)) return false;
    *offset = m->offsets[i];
    *sig = key_sig(key_of(static_cast<uint32_t>(f)).load(std::memory_order_acquire));
    return true;
  }
  return false;
}

npk_jit_sig code_sig_i32_i32(void) {
  static std::atomic<npk_jit_sig> cached{0};
  npk_jit_sig sig = cached.load(std::memory_order_relaxed);
  if (sig == 0) {
    sig = npk_jit_sig_intern("i32(i32,i32)");
    cached.store(sig, std::memory_order_relaxed);
  }
  return sig;
}

int code_test_memfd(void) {
  ensure_init();
  return g_arenas[kMemfd].ready ? g_arenas[kMemfd].fds[0] : -1;
}

void code_test_region(char **base, size_t *bytes) {
  ensure_init();
  Arena &arena = g_arenas[g_active.load()];
  *base = arena.ready ? arena.base : nullptr;
  *bytes = arena.ready ? arena.bytes : 0;
}

bool code_test_region_sealed(void) {
  ensure_init();
  return g_arenas[kMemfd].ready && g_arenas[kMemfd].mseal_on;
}

uint64_t code_test_page_table_changes(void) { return g_page_table_changes.load(std::memory_order_relaxed); }

bool code_test_use_backend(const char *name) {
  ensure_init();
  int want = strcmp(name, "memfd") == 0 ? kMemfd : strcmp(name, "mprotect") == 0 ? kMprotect : -1;
  if (want < 0) return false;
  g_active.store(want, std::memory_order_release);
  Arena *arena = active_arena();
  return arena != nullptr && arena->kind == want;
}

const char *code_name_of_handle(npk_jit_fn f) {
  const char *reason = nullptr;
  Slot *slot = live_slot(f, &reason);
  if (slot == nullptr || g_names == nullptr) return nullptr;
  uint32_t index = static_cast<uint32_t>(f);
  std::atomic_ref<char *> name(g_names[index]);
  char *have = name.load(std::memory_order_acquire);
  if (have != nullptr) return have;
  // Formatted when first asked for; a racing caller's copy wins or is dropped.
  char text[kAutoNameBytes];
  format_auto_name(slot->module, slot->number, text);
  char *copy = strdup(text);
  if (copy == nullptr) return nullptr;
  if (!name.compare_exchange_strong(have, copy, std::memory_order_acq_rel)) {
    free(copy);
    return have;
  }
  return copy;
}

}  // namespace npkrt

using namespace npkrt;

// ---- C ABI -----------------------------------------------------------------------

extern "C" const char *npk_jit_backend(void) {
  Arena *arena = active_arena();
  if (arena == nullptr) return "mprotect";
  return arena->kind == kMemfd ? "memfd" : "mprotect";
}

extern "C" npk_jit_sig npk_jit_sig_intern(const char *text) {
  if (text == nullptr) {
    wildx_panic("jit_sig", text, "null signature");
    return 0;
  }
  if (!canonical(text)) {
    wildx_panic("jit_sig", text, "not a canonical signature like \"i32(i32,i32)\"");
    return 0;
  }
  uint32_t count = g_sig_count.load(std::memory_order_acquire);
  for (uint32_t i = 1; i < count; ++i)
    if (strcmp(g_sig_names[i], text) == 0) return i;
  pthread_mutex_lock(&g_sig_lock);
  count = g_sig_count.load(std::memory_order_relaxed);
  npk_jit_sig found = 0;
  for (uint32_t i = 1; i < count && found == 0; ++i)
    if (strcmp(g_sig_names[i], text) == 0) found = i;
  if (found == 0 && count < kMaxSigs) {
    char *copy = strdup(text);
    if (copy != nullptr) {
      g_sig_names[count] = copy;
      g_sig_count.store(count + 1, std::memory_order_release);
      found = count;
    }
  }
  pthread_mutex_unlock(&g_sig_lock);
  if (found == 0) wildx_panic("jit_sig", text, "too many signatures (or out of memory)");
  return found;
}

extern "C" const char *npk_jit_sig_name(npk_jit_sig sig) {
  if (sig == 0 || sig >= g_sig_count.load(std::memory_order_acquire)) return nullptr;
  return g_sig_names[sig];
}

// Why `m` cannot take more functions or a seal, or nullptr if it can.
static const char *unsealed_module_refusal(const Module *m) {
  if (m == nullptr) return "null module";
  if (!module_known(m) || m->standalone) return "not a module from npk_jit_module_new";
  if (m->freed) return "module was already freed";
  if (m->sealed) return "module is already sealed";
  return nullptr;
}

extern "C" npk_jit_module *npk_jit_module_new(void) {
  ensure_init();
  return reinterpret_cast<npk_jit_module *>(module_create());
}

extern "C" npk_jit_fn npk_jit_module_add(npk_jit_module *module, const void *code, size_t len, npk_jit_sig sig,
                                         const char *name) {
  static const char kOp[] = "jit_module_add";
  Module *m = reinterpret_cast<Module *>(module);
  const char *reason = unsealed_module_refusal(m);
  if (reason == nullptr && code == nullptr)
    reason = "null code";
  else if (reason == nullptr && (len == 0 || len > kMaxModuleBytes))
    reason = "code length out of range (1 byte to 4 MiB)";
  else if (reason == nullptr && npk_jit_sig_name(sig) == nullptr)
    reason = "unknown signature tag";
  if (reason != nullptr) {
    wildx_panic(kOp, module, reason);
    return 0;
  }
  return module_add(m, code, len, sig, name, "jit_fn", next_number(kFnNumbers));
}

npk_jit_fn npkrt::code_module_add_checked(npk_jit_module *module, const void *code, size_t len, npk_jit_sig sig,
                                         const char *name) {
  if (len == 0 || len > kMaxModuleBytes) {
    wildx_panic("jit_module_add", module, "code length out of range (1 byte to 4 MiB)");
    return 0;
  }
  return module_add(reinterpret_cast<Module *>(module), code, len, sig, name, "jit_fn",
                    next_number(kFnNumbers));
}

extern "C" int32_t npk_jit_module_seal(npk_jit_module *module) {
  static const char kOp[] = "jit_module_seal";
  Module *m = reinterpret_cast<Module *>(module);
  const char *reason = unsealed_module_refusal(m);
  if (reason == nullptr && (m->count == 0 || m->staged_bytes == 0)) reason = "module has no functions";
  if (reason == nullptr) reason = module_seal(m);
  if (reason == nullptr) {
    g_code_module_epoch.fetch_add(1, std::memory_order_acq_rel);
    return 0;
  }
  wildx_panic(kOp, module, reason);
  return -1;
}

extern "C" int32_t npk_jit_fn_free(npk_jit_fn f) { return free_function(f, "jit_fn_free"); }

void npkrt::code_live_counts(uint64_t *functions, uint64_t *modules) {
  *functions = *modules = 0;
  if (g_slots != nullptr) {
    uint32_t count = __atomic_load_n(&npk_jit_slots.count, __ATOMIC_ACQUIRE);
    for (uint32_t i = 1; i < count; ++i)
      *functions += key_state(key_of(i).load(std::memory_order_acquire)) != kSlotFree;
  }
  pthread_mutex_lock(&g_module_lock);
  for (size_t i = 0; i < g_module_cap; ++i) {
    const Module *m = g_module_set[i];
    *modules += m != nullptr && m != kGone && !m->freed;  // the set keeps freed ones a while (quarantine)
  }
  pthread_mutex_unlock(&g_module_lock);
}

bool npkrt::code_is_module(const void *p) {
  const Module *m = static_cast<const Module *>(p);
  return m != nullptr && module_known(m) && !m->standalone;
}

extern "C" int32_t npk_jit_module_free(npk_jit_module *module) {
  static const char kOp[] = "jit_module_free";
  Module *m = reinterpret_cast<Module *>(module);
  if (m == nullptr) {
    wildx_panic(kOp, module, "null module");
    return -1;
  }
  if (!module_known(m) || m->standalone) {
    wildx_panic(kOp, module, "not a module from npk_jit_module_new");
    return -1;
  }
  lock_module(m);
  if (m->freed) {
    unlock_module(m);
    wildx_panic(kOp, module, "module was already freed");
    return -1;
  }
  m->freed = true;
  // Every handle dies first, so no checked call starts into code being
  // trapped. Frees of single functions wait for the lock, so plain stores
  // retire the handles.
  for (uint32_t i = 0; i < m->count; ++i) {
    npk_jit_fn f = m->fns[i];
    uint32_t index = static_cast<uint32_t>(f);
    uint64_t key = key_of(index).load(std::memory_order_relaxed);
    if (key_gen(key) != static_cast<uint32_t>(f >> 32) || key_state(key) == kSlotFree) continue;
    key_of(index).store(make_key(key_gen(key) + 1, 0, kSlotFree), std::memory_order_release);
    drop_slot(index);
  }
  unlock_module(m);
  // A block the OS would not let us overwrite stays out of the arena for good.
  if (m->sealed) release_block(m);
  module_release(m);
  return 0;
}

extern "C" void *npk_jit_fn_entry(npk_jit_fn f, npk_jit_sig sig) {
  void *entry = npk_jit_fn_lookup(f, sig);
  if (entry == nullptr) npk_jit_refuse(f, sig, "jit_fn_entry");
  return entry;
}

extern "C" const char *npk_jit_fn_name(npk_jit_fn f) {
  ensure_init();
  return code_name_of_handle(f);
}

namespace npkrt {

int32_t code_refusal(npk_jit_fn f, npk_jit_sig sig, char (&text)[160], const char **reason, npk_jit_sig *have) {
  ensure_init();
  *reason = nullptr;
  *have = 0;
  int32_t code = NPK_ERR_JIT_NOT_LIVE;
  Slot *slot = live_slot(f, reason);
  if (slot != nullptr) {
    uint64_t key = key_of(static_cast<uint32_t>(f)).load(std::memory_order_acquire);
    if (key_state(key) == kSlotAdded) {
      *reason = "function is not sealed (its module was not sealed yet)";
      code = NPK_ERR_JIT_NOT_SEALED;
    } else if (key_state(key) == kSlotInherited) {
      *reason = "function was installed by the parent process before fork";
    } else if (key_sig(key) != sig) {
      *have = key_sig(key);
      const char *want = npk_jit_sig_name(sig);
      const char *name = npk_jit_sig_name(key_sig(key));
      snprintf(text, sizeof text, "signature mismatch: called as %s, function is %s", want ? want : "(unknown tag)",
               name ? name : "?");
      *reason = text;
      code = NPK_ERR_JIT_SIGNATURE;
    } else {
      *reason = "function is busy in another thread's transition";
    }
  }
  return code;
}

}  // namespace npkrt

extern "C" int32_t npk_jit_refuse(npk_jit_fn f, npk_jit_sig sig, const char *op) {
  char text[160];
  const char *reason = nullptr;
  npk_jit_sig have = 0;
  int32_t code = npkrt::code_refusal(f, sig, text, &reason, &have);
  wildx_panic(op, pointer_of_handle(f), reason);
  return code;
}

#if defined(__x86_64__)
static const unsigned char kAddI32[] = {0x89, 0xf8, 0x01, 0xf0, 0xc3};
#elif defined(__aarch64__)
static const unsigned char kAddI32[] = {0x00, 0x00, 0x01, 0x0b, 0xc0, 0x03, 0x5f, 0xd6};
#endif

void *npkrt::code_compile_standalone(const void *code, size_t len, npk_jit_sig sig, const char *prefix, uint32_t number,
                                     const char *op, int32_t *err) {
  *err = 0;
  ensure_init();
  Module *m = sig == 0 ? nullptr : standalone_take();
  if (m == nullptr) {
    *err = NPK_ERR_JIT_ALLOC;
    return nullptr;
  }
  m->auto_prefix = prefix;
  npk_jit_fn f = module_add(m, code, len, sig, nullptr, prefix, number);
  if (f == 0) {
    module_release(m);
    *err = NPK_ERR_JIT_ALLOC;
    return nullptr;
  }
  const char *reason = module_seal(m);
  if (reason != nullptr) {
    wildx_panic(op, nullptr, reason);
    uint32_t index = static_cast<uint32_t>(f);
    retire_key(index);
    module_of(index).store(nullptr, std::memory_order_relaxed);
    give_slot(index);
    module_release(m);
    *err = strcmp(reason, "the OS refused to install the code") == 0 ? NPK_ERR_JIT_INSTALL : NPK_ERR_JIT_ALLOC;
    return nullptr;
  }
  return pointer_of_handle(f);
}

extern "C" void *npk_jit_compile_add_i32(int32_t *err) {
  int32_t ignored = 0;
  if (err == nullptr) err = &ignored;
  return code_compile_standalone(kAddI32, sizeof kAddI32, code_sig_i32_i32(), "compile_add_i32",
                                 next_number(kCompileNumbers),
                                 "jit_compile_add_i32", err);
}
