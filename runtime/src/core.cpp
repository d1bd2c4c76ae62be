// Wild heap, failure paths and output. Contract: npk/runtime.h.
#include "npk/runtime.h"
#include "wildx_internal.h"

#include "core_internal.h"
#include "code_internal.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>

namespace {

// ---- wild heap registry ------------------------------------------------------
//
// Every live npk_alloc block is recorded so npk_free can refuse what it did not
// hand out. The registry is split into shards by address hash, each an
// open-addressing table under its own short critical section; it allocates
// with malloc only (no operator new, so no libstdc++ at link time).
//
// A freed block keeps its entry as a "freed record" (tag < 0) so a second free
// is reported as such. Records die when malloc reuses the address or when a
// rehash evicts the oldest ones, so double-free detection is best effort for
// long-ago frees; live blocks are never forgotten.

struct HeapEntry {
  uintptr_t address;  // 0: empty slot
  int64_t tag;        // >= 0: live block of `tag` bytes; < 0: freed, -(free sequence + 1)
};

struct HeapShard {
  pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  HeapEntry *entries = nullptr;
  size_t capacity = 0;  // a power of two, or 0
  size_t used = 0;      // live entries plus freed records
  size_t live = 0;
  int64_t frees = 0;
};

constexpr size_t kShardCount = 64;
// No 64-bit machine maps more than 2^47 bytes for user space; larger requests
// are answered with NULL before calloc sees them.
constexpr uint64_t kMaxHeapBlockBytes = uint64_t{1} << 47;
constexpr size_t kMinCapacity = 64;
HeapShard g_heap_shards[kShardCount];

// A fork while another thread holds a shard lock would leave that lock held
// in the child for good: the forking thread takes every shard lock first and
// releases them on both sides. Registered before the first lock is taken.
void lock_all_shards() {
  for (HeapShard &shard : g_heap_shards) pthread_mutex_lock(&shard.lock);
}

void unlock_all_shards() {
  for (HeapShard &shard : g_heap_shards) pthread_mutex_unlock(&shard.lock);
}

pthread_once_t g_heap_fork_once = PTHREAD_ONCE_INIT;

void register_heap_fork_handlers() { pthread_atfork(lock_all_shards, unlock_all_shards, unlock_all_shards); }

class ShardLock {
 public:
  explicit ShardLock(HeapShard &shard) : shard_(shard) {
    pthread_once(&g_heap_fork_once, register_heap_fork_handlers);
    pthread_mutex_lock(&shard_.lock);
  }
  ~ShardLock() { pthread_mutex_unlock(&shard_.lock); }
  ShardLock(const ShardLock &) = delete;
  ShardLock &operator=(const ShardLock &) = delete;

 private:
  HeapShard &shard_;
};

uint64_t mix(uintptr_t address) {
  uint64_t x = address;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

HeapShard &shard_for(uintptr_t address) { return g_heap_shards[mix(address) >> 58]; }

// The slot holding `address`, or the empty slot where it would go.
HeapEntry *probe(const HeapShard &shard, uintptr_t address) {
  size_t mask = shard.capacity - 1;
  for (size_t i = mix(address) & mask;; i = (i + 1) & mask) {
    HeapEntry *entry = &shard.entries[i];
    if (entry->address == address || entry->address == 0) return entry;
  }
}

bool is_recent_record(const HeapShard &shard, const HeapEntry &entry, int64_t keep) {
  int64_t sequence = -entry.tag - 1;
  return shard.frees - sequence <= keep;
}

// Rebuilds the table at a size that fits the live entries with room to spare,
// keeping only the most recent freed records.
bool rehash(HeapShard &shard) {
  size_t capacity = kMinCapacity;
  while (capacity < shard.live * 4 + 4) capacity *= 2;
  HeapEntry *entries = static_cast<HeapEntry *>(calloc(capacity, sizeof(HeapEntry)));
  if (entries == nullptr) return false;
  HeapShard rebuilt;
  rebuilt.entries = entries;
  rebuilt.capacity = capacity;
  int64_t keep = static_cast<int64_t>(capacity / 4 - shard.live);
  for (size_t i = 0; i < shard.capacity; ++i) {
    const HeapEntry &entry = shard.entries[i];
    if (entry.address == 0 || (entry.tag < 0 && !is_recent_record(shard, entry, keep))) continue;
    *probe(rebuilt, entry.address) = entry;
    ++rebuilt.used;
  }
  free(shard.entries);
  shard.entries = entries;
  shard.capacity = capacity;
  shard.used = rebuilt.used;
  return true;
}

bool record_live(uintptr_t address, int64_t bytes) {
  HeapShard &shard = shard_for(address);
  ShardLock lock(shard);
  if ((shard.used + 1) * 2 > shard.capacity && !rehash(shard)) return false;
  HeapEntry *entry = probe(shard, address);
  if (entry->address == 0) ++shard.used;
  *entry = HeapEntry{address, bytes};
  ++shard.live;
  return true;
}

enum class FreeVerdict { kReleased, kAlreadyFreed, kNotAStart };

// On kReleased, *bytes (when given) is the block's size.
FreeVerdict record_free(uintptr_t address, int64_t *bytes = nullptr) {
  HeapShard &shard = shard_for(address);
  ShardLock lock(shard);
  if (shard.capacity == 0) return FreeVerdict::kNotAStart;
  HeapEntry *entry = probe(shard, address);
  if (entry->address == 0) return FreeVerdict::kNotAStart;
  if (entry->tag < 0) return FreeVerdict::kAlreadyFreed;
  if (bytes != nullptr) *bytes = entry->tag;
  entry->tag = -(shard.frees++) - 1;
  --shard.live;
  return FreeVerdict::kReleased;
}

// Slow path, taken only for a pointer npk_free is about to refuse.
bool inside_live_block(uintptr_t address) {
  for (HeapShard &shard : g_heap_shards) {
    ShardLock lock(shard);
    for (size_t i = 0; i < shard.capacity; ++i) {
      const HeapEntry &entry = shard.entries[i];
      uint64_t extent = entry.tag > 0 ? static_cast<uint64_t>(entry.tag) : 1;
      if (entry.address != 0 && entry.tag >= 0 && address - entry.address < extent) return true;
    }
  }
  return false;
}

void heap_panic(const void *p, const char *reason) {
  fprintf(stderr, "[Wild] panic: free(%p) rejected: %s\n", p, reason);
}

}  // namespace

bool npkrt::heap_block_bytes(const void *p, int64_t *bytes) {
  uintptr_t address = reinterpret_cast<uintptr_t>(p);
  if (address == 0) return false;
  HeapShard &shard = shard_for(address);
  ShardLock lock(shard);
  if (shard.capacity == 0) return false;
  const HeapEntry *entry = probe(shard, address);
  if (entry->address != address || entry->tag < 0) return false;
  *bytes = entry->tag;
  return true;
}

size_t npkrt::heap_test_registry_slots(void) {
  size_t slots = 0;
  for (HeapShard &shard : g_heap_shards) {
    ShardLock lock(shard);
    slots += shard.capacity;
  }
  return slots;
}

namespace {

// ---- failure -----------------------------------------------------------------

std::atomic<int32_t (*)(int32_t)> g_failsafe{nullptr};
std::atomic<bool> g_failsafe_running{false};

const char *trap_description(int32_t code) {
  switch (code) {
    case NPK_ERR_OVERFLOW: return "integer overflow";
    case NPK_ERR_DIV_ZERO: return "division by zero";
    case NPK_ERR_CAST_RANGE: return "value out of range for cast";
    case NPK_ERR_INDEX: return "index out of bounds";
    case NPK_ERR_LOOP_STEP: return "loop step is not positive";
    case NPK_ERR_JIT_ALLOC: return "JIT page allocation failed";
    case NPK_ERR_JIT_INSTALL: return "JIT code install failed";
    case NPK_ERR_JIT_SEAL: return "JIT page seal failed";
    case NPK_ERR_JIT_CONVERT: return "JIT code has another signature";
    case NPK_ERR_JIT_NOT_SEALED: return "JIT page is not sealed";
    case NPK_ERR_JIT_NOT_LIVE: return "not a live JIT page";
    default: return nullptr;
  }
}

// ---- fatal signals -------------------------------------------------------------
//
// A fault kills the process before exit() flushes stdio, losing whatever
// stdout still buffers. The handler writes that buffer with write(2) (no
// stdio call: it may have been interrupted inside one) and re-raises.

constexpr int kFatalSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
volatile sig_atomic_t g_fault_seen = 0;
alignas(16) char g_fault_stack[64 * 1024];

void write_pending_stdout() {
#if defined(__GLIBC__)
  const char *begin = stdout->_IO_write_base, *end = stdout->_IO_write_ptr;
  while (begin != nullptr && begin < end) {
    ssize_t n = write(STDOUT_FILENO, begin, static_cast<size_t>(end - begin));
    if (n <= 0) break;
    begin += n;
  }
  stdout->_IO_write_ptr = stdout->_IO_write_base;
#endif
}

void on_fatal_signal(int sig) {
  if (!g_fault_seen) {
    g_fault_seen = 1;
    write_pending_stdout();
  }
  signal(sig, SIG_DFL);
  raise(sig);  // delivered when the handler returns (or at once for a fault that recurs)
}

// ---- output ------------------------------------------------------------------

FILE *stream_file(int32_t stream) {
  if (stream == 1) return stdout;
  if (stream == 2) return stderr;
  return nullptr;
}

}  // namespace

// ---- float formatting ------------------------------------------------------------
//
// Shortest round trip: the fewest significant digits, correctly rounded by
// printf, that strtod/strtof read back as the same value of the value's own
// type. Nine digits always suffice for float and seventeen for double.
// (std::to_chars would need libstdc++ at link time; see CMakeLists.txt.)

namespace npkrt {

size_t shortest_digits(double v, bool is_float, char digits[32], int *exponent) {
  char text[48];
  int max_precision = is_float ? 9 : 17;
  for (int precision = 1; precision <= max_precision; ++precision) {
    snprintf(text, sizeof text, "%.*e", precision - 1, v);
    bool exact = is_float ? strtof(text, nullptr) == static_cast<float>(v) : strtod(text, nullptr) == v;
    if (exact || precision == max_precision) break;
  }
  // text: [-]d[.ddd]e(+|-)xx
  size_t n = 0;
  const char *c = text;
  if (*c == '-') ++c;
  for (; *c != 'e' && *c != '\0'; ++c)
    if (*c != '.') digits[n++] = *c;
  while (n > 1 && digits[n - 1] == '0') --n;
  digits[n] = '\0';
  *exponent = *c == 'e' ? atoi(c + 1) : 0;
  return n;
}

void format_float(char buffer[48], double v, bool is_float) {
  char *out = buffer;
  if (isnan(v)) {
    strcpy(buffer, "nan");
    return;
  }
  if (signbit(v)) *out++ = '-';
  if (isinf(v)) {
    strcpy(out, "inf");
    return;
  }
  if (v == 0) {
    strcpy(out, "0.0");
    return;
  }
  char digits[32];
  int exponent = 0;
  size_t n = shortest_digits(fabs(v), is_float, digits, &exponent);
  if (exponent < -4 || exponent >= 21) {
    // d[.ddd]e(+|-)xx, at least two exponent digits
    *out++ = digits[0];
    if (n > 1) {
      *out++ = '.';
      memcpy(out, digits + 1, n - 1);
      out += n - 1;
    }
    snprintf(out, 16, "e%c%02d", exponent < 0 ? '-' : '+', exponent < 0 ? -exponent : exponent);
    return;
  }
  if (exponent < 0) {
    // 0.000ddd
    *out++ = '0';
    *out++ = '.';
    for (int i = -1; i > exponent; --i) *out++ = '0';
    memcpy(out, digits, n);
    out += n;
  } else {
    // ddd[000].0 or dd.ddd
    size_t whole = static_cast<size_t>(exponent) + 1;
    for (size_t i = 0; i < whole; ++i) *out++ = i < n ? digits[i] : '0';
    *out++ = '.';
    if (n > whole) {
      memcpy(out, digits + whole, n - whole);
      out += n - whole;
    } else {
      *out++ = '0';
    }
  }
  *out = '\0';
}

}  // namespace npkrt

// ---- accounting mode (NPK_AUDIT=1) ----------------------------------------------
//
// For tests that judge a program by what it did to memory: every wild block
// gets mappings of its own, a freed block becomes PROT_NONE and is never
// reused (a later use faults; a second free is always recognised), and at exit
// one line reports every wild block and wildx byte still live.

namespace {

pthread_once_t g_audit_once = PTHREAD_ONCE_INIT;
bool g_audit = false;

void audit_at_exit() {
  size_t blocks = 0;
  for (HeapShard &shard : g_heap_shards) {
    ShardLock lock(shard);
    blocks += shard.live;
  }
  npk_wildx_stats_t stats = {};
  npk_wildx_stats(&stats);
  uint64_t functions = 0, modules = 0;  // JIT code is not in the wildx pages' count
  npkrt::code_live_counts(&functions, &modules);
  if (blocks == 0 && stats.live_bytes == 0 && functions == 0 && modules == 0) return;
  fflush(stdout);
  if (blocks != 0 || stats.live_bytes != 0)
    fprintf(stderr, "[npk audit] at exit: %zu wild block(s) and %" PRId64 " wildx byte(s) still live\n", blocks,
            stats.live_bytes);
  if (functions != 0 || modules != 0)
    fprintf(stderr, "[npk audit] at exit: %" PRIu64 " JIT function(s) and %" PRIu64 " JIT module(s) still live\n",
            functions, modules);
  fflush(stderr);
}

void read_audit_setting() {
  const char *value = getenv("NPK_AUDIT");
  g_audit = value != nullptr && value[0] == '1' && value[1] == '\0';
  if (g_audit) atexit(audit_at_exit);
}

size_t audit_mapping_bytes(int64_t n) {
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_t bytes = n == 0 ? 1 : static_cast<size_t>(n);
  return (bytes + page - 1) / page * page;
}

}  // namespace

bool npkrt::audit_enabled() {
  pthread_once(&g_audit_once, read_audit_setting);
  return g_audit;
}

// ---- C ABI: wild heap ----------------------------------------------------------

extern "C" void *npk_alloc(int64_t n) {
  if (n < 0 || static_cast<uint64_t>(n) > kMaxHeapBlockBytes) return nullptr;
  bool audit = npkrt::audit_enabled();
  void *block;
  if (audit) {
    block = mmap(nullptr, audit_mapping_bytes(n), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (block == MAP_FAILED) return nullptr;
  } else {
    block = calloc(1, n == 0 ? 1 : static_cast<size_t>(n));
    if (block == nullptr) return nullptr;
  }
  if (!record_live(reinterpret_cast<uintptr_t>(block), n)) {
    if (audit)
      munmap(block, audit_mapping_bytes(n));
    else
      free(block);
    return nullptr;
  }
  return block;
}

extern "C" int32_t npk_free(void *p) {
  if (p == nullptr) {
    heap_panic(p, "null pointer");
    return -1;
  }
  uintptr_t address = reinterpret_cast<uintptr_t>(p);
  int64_t bytes = 0;
  switch (record_free(address, &bytes)) {
    case FreeVerdict::kReleased:
      if (npkrt::audit_enabled())
        mprotect(p, audit_mapping_bytes(bytes), PROT_NONE);  // quarantined, never reused
      else
        free(p);
      return 0;
    case FreeVerdict::kAlreadyFreed:
      heap_panic(p, "already freed");
      return -1;
    case FreeVerdict::kNotAStart:
      break;
  }
  if (inside_live_block(address))
    heap_panic(p, "interior pointer (not the start of an allocation)");
  else
    heap_panic(p, "foreign pointer (not from alloc)");
  return -1;
}

// ---- C ABI: failure, traps, exit ------------------------------------------------

extern "C" void npk_start(void) {
  npkrt::audit_enabled();
  stack_t alt = {};
  alt.ss_sp = g_fault_stack;
  alt.ss_size = sizeof g_fault_stack;
  bool on_alt = sigaltstack(&alt, nullptr) == 0;
  for (int sig : kFatalSignals) {
    struct sigaction action = {};
    action.sa_handler = on_fatal_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = on_alt ? SA_ONSTACK : 0;
    sigaction(sig, &action, nullptr);
  }
}

extern "C" void npk_set_failsafe(int32_t (*failsafe)(int32_t code)) {
  g_failsafe.store(failsafe, std::memory_order_release);
}

extern "C" void npk_fail(int32_t code) {
  fflush(stdout);
  int32_t (*failsafe)(int32_t) = g_failsafe.load(std::memory_order_acquire);
  // A failure raised while failsafe itself runs must not recurse into it.
  if (failsafe != nullptr && !g_failsafe_running.exchange(true)) {
    failsafe(code);
    exit(1);
  }
  fprintf(stderr, "error: unhandled failure (code %d)\n", code);
  exit(1);
}

namespace {

__attribute__((noreturn)) void report_trap(int32_t code, const char *loc, const char *what) {
  fflush(stdout);
  fprintf(stderr, "%s: runtime error: %s\n", loc != nullptr ? loc : "<unknown>", what);
  npk_fail(code);
}

void format_int(char (&buffer)[24], int64_t v, bool is_signed) {
  if (is_signed)
    snprintf(buffer, sizeof buffer, "%" PRId64, v);
  else
    snprintf(buffer, sizeof buffer, "%" PRIu64, static_cast<uint64_t>(v));
}

__attribute__((noreturn)) void report_cast(const char *loc, const char *type, const char *value) {
  char what[128];
  const char *t = type != nullptr ? type : "?";
  snprintf(what, sizeof what, "value %s out of range for %s (=> %s)", value, t, t);
  report_trap(NPK_ERR_CAST_RANGE, loc, what);
}

}  // namespace

void npkrt::trap_with(int32_t code, const char *loc, const char *what) { report_trap(code, loc, what); }

extern "C" void npk_trap(int32_t code, const char *loc) {
  char what[64];
  const char *known = trap_description(code);
  if (known != nullptr)
    snprintf(what, sizeof what, "%s", known);
  else
    snprintf(what, sizeof what, "failure (code %d)", code);
  report_trap(code, loc, what);
}

extern "C" void npk_trap_int_op(int32_t code, const char *loc, const char *op, const char *type, int64_t lhs,
                                int64_t rhs, int32_t flags) {
  char l[24], r[24], what[160];
  format_int(l, lhs, (flags & NPK_TRAP_LHS_SIGNED) != 0);
  format_int(r, rhs, (flags & NPK_TRAP_RHS_SIGNED) != 0);
  if (op == nullptr) op = "?";
  if (type == nullptr) type = "?";
  if (strcmp(op, "<<") == 0 || strcmp(op, ">>") == 0) {
    snprintf(what, sizeof what, "shift amount %s out of range for %s (%s)", r, type, op);
  } else if (code == NPK_ERR_DIV_ZERO) {
    const char *name = strcmp(op, "%") == 0 ? "remainder" : "division";
    snprintf(what, sizeof what, "%s %s: %s %s %s", name, rhs == 0 ? "by zero" : "overflow", l, op, r);
  } else if ((flags & NPK_TRAP_NEGATE) != 0) {
    snprintf(what, sizeof what, "integer overflow: -(%s) (%s)", r, type);
  } else {
    snprintf(what, sizeof what, "integer overflow: %s %s %s (%s)", l, op, r, type);
  }
  report_trap(code, loc, what);
}

extern "C" void npk_trap_cast_int(const char *loc, const char *type, int64_t value, int32_t is_signed) {
  char v[24];
  format_int(v, value, is_signed != 0);
  report_cast(loc, type, v);
}

extern "C" void npk_trap_index(const char *loc, const char *type, int64_t index, int32_t is_signed) {
  char i[24], what[160];
  format_int(i, index, is_signed != 0);
  snprintf(what, sizeof what, "index %s out of bounds for %s", i, type != nullptr ? type : "?");
  report_trap(NPK_ERR_INDEX, loc, what);
}

extern "C" void npk_trap_cast_float(const char *loc, const char *type, double value, int32_t is_float) {
  char v[48];
  npkrt::format_float(v, value, is_float != 0);
  report_cast(loc, type, v);
}

extern "C" void npk_trap_at(const npk_trap_table *table, uint32_t site, int64_t a, int64_t b) {
  if (table == nullptr || table->sites == nullptr || site >= table->sites_count) npk_trap(0, nullptr);
  const npk_trap_site &s = table->sites[site];
  auto text = [&](uint32_t i) -> const char * {
    return table->texts != nullptr && i < table->texts_count ? table->texts[i] : nullptr;
  };
  // "file:line:column" with the file's name cut at 4 KiB.
  char loc[4096 + 32];
  const char *at = nullptr;
  if (const char *file = text(s.file)) {
    snprintf(loc, sizeof loc, "%.4096s:%" PRIu32 ":%" PRIu32, file, s.line, s.column);
    at = loc;
  }
  switch (s.kind) {
  case NPK_TRAP_SITE_INT_OP: npk_trap_int_op(s.code, at, text(s.op), text(s.type), a, b, static_cast<int32_t>(s.flags));
  case NPK_TRAP_SITE_CAST_INT: npk_trap_cast_int(at, text(s.type), a, s.flags & 1);
  case NPK_TRAP_SITE_CAST_FLOAT: {
    double value;
    memcpy(&value, &a, sizeof value);
    npk_trap_cast_float(at, text(s.type), value, s.flags & 1);
  }
  case NPK_TRAP_SITE_INDEX: npk_trap_index(at, text(s.type), a, s.flags & 1);
  default: npk_trap(s.code, at);
  }
}

extern "C" void npk_fail_at(int32_t code, const char *loc, const char *what) {
  if (g_failsafe.load(std::memory_order_acquire) == nullptr || g_failsafe_running.load()) {
    fflush(stdout);
    fprintf(stderr, "%s: runtime error: raw: %s failed with code %d\n", loc != nullptr ? loc : "<unknown>",
            what != nullptr ? what : "operand", code);
  }
  npk_fail(code);
}

extern "C" void npk_exit(int32_t status) {
  fflush(stdout);
  // failsafe runs for an unhandled failure; ending it with a status the OS
  // reports as success would hide the failure.
  if (g_failsafe_running.load() && (status & 0xff) == 0) {
    fprintf(stderr, "error: failsafe exited with status %d, which reports success; exiting with 1\n", status);
    status = 1;
  }
  fflush(stderr);
  exit(status);
}

// ---- C ABI: output ---------------------------------------------------------------

extern "C" void npk_print_str(int32_t stream, const char *s, int64_t len) {
  FILE *file = stream_file(stream);
  if (file == nullptr || s == nullptr) return;
  size_t bytes = len < 0 ? strlen(s) : static_cast<size_t>(len);
  fwrite(s, 1, bytes, file);
}

extern "C" void npk_print_i64(int32_t stream, int64_t v) {
  if (FILE *file = stream_file(stream)) fprintf(file, "%" PRId64, v);
}

extern "C" void npk_print_u64(int32_t stream, uint64_t v) {
  if (FILE *file = stream_file(stream)) fprintf(file, "%" PRIu64, v);
}

extern "C" void npk_print_f64(int32_t stream, double v) {
  FILE *file = stream_file(stream);
  if (file == nullptr) return;
  char buffer[48];
  npkrt::format_float(buffer, v, false);
  fputs(buffer, file);
}

extern "C" void npk_print_f32(int32_t stream, float v) {
  FILE *file = stream_file(stream);
  if (file == nullptr) return;
  char buffer[48];
  npkrt::format_float(buffer, v, true);
  fputs(buffer, file);
}

extern "C" void npk_print_bool(int32_t stream, int32_t v) {
  if (FILE *file = stream_file(stream)) fputs(v != 0 ? "true" : "false", file);
}

extern "C" void npk_print_ptr(int32_t stream, const void *p) {
  if (FILE *file = stream_file(stream)) fprintf(file, "0x%" PRIxPTR, reinterpret_cast<uintptr_t>(p));
}

// ---- program arguments ------------------------------------------------------

namespace {
int32_t g_argc = 0;
char **g_argv = nullptr;
}  // namespace

extern "C" void npk_set_args(int32_t argc, char **argv) {
  g_argc = argc > 0 && argv != nullptr ? argc : 0;
  g_argv = argv;
}

extern "C" int32_t npk_get_argc(void) { return g_argc > 0 ? g_argc - 1 : 0; }

extern "C" const char *npk_get_argv(int32_t i, int64_t *len, const char *loc) {
  int32_t count = npk_get_argc();
  if (i < 0 || i >= count) {
    char what[96];
    snprintf(what, sizeof what, "index out of bounds: get_argv(%d) with %d argument%s", i, count,
             count == 1 ? "" : "s");
    npkrt::trap_with(NPK_ERR_INDEX, loc, what);
  }
  const char *arg = g_argv[i + 1];
  if (len != nullptr) *len = static_cast<int64_t>(strlen(arg));
  return arg;
}

// ---- the calls generated code makes --------------------------------------------
//
// npkc declares these from npk/runtime_calls.def; each must be declared in
// npk/runtime.h exactly as that list says, or this file does not compile.
namespace {
#define VOID void
#define I32 int32_t
#define U32 uint32_t
#define I64 int64_t
#define U64 uint64_t
#define F32 float
#define F64 double
#define PTR void *
#define CPTR const void *
#define CSTR const char *
#define CSTRS char **
#define I64P int64_t *
#define STRING npk_string
using FailsafeFn = int32_t (*)(int32_t);
#define FAILSAFE FailsafeFn
#define TRAPS const npk_trap_table *
// A function pointer of exactly the listed type takes the function's address
// only when the declaration matches (function pointers do not convert,
// except by dropping `noreturn`, which clang counts as part of the type).
#define NPK_RUNTIME_CALL(name, ret, params, attributes) [[maybe_unused]] constexpr ret(*kListed_##name) params = &name;
#include "npk/runtime_calls.def"
#undef VOID
#undef I32
#undef U32
#undef I64
#undef U64
#undef F32
#undef F64
#undef PTR
#undef CPTR
#undef CSTR
#undef CSTRS
#undef I64P
#undef STRING
#undef FAILSAFE
#undef TRAPS
}  // namespace
