// Names of JIT code for perf and GDB. Contract: jit_names.h; formats:
// docs/runtime.md, "Naming JIT code".
#include "jit_names.h"

#include <elf.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

// ---- GDB's JIT interface (gdb/jit.h; the names and layout are GDB's) --------

extern "C" {
struct jit_code_entry {
  jit_code_entry *next_entry;
  jit_code_entry *prev_entry;
  const char *symfile_addr;
  uint64_t symfile_size;
};

struct jit_descriptor {
  uint32_t version;
  uint32_t action_flag;  // 0 none, 1 register, 2 unregister
  jit_code_entry *relevant_entry;
  jit_code_entry *first_entry;
};

// Weak: a process that also links another JIT's copy (LLVM's) shares one.
__attribute__((weak, noinline, used)) void __jit_debug_register_code(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((weak, used)) jit_descriptor __jit_debug_descriptor = {1, 0, nullptr, nullptr};
}

namespace npkrt {
namespace {

pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_once_t g_once = PTHREAD_ONCE_INIT;
bool g_perfmap;
bool g_dump;
int g_gdb;  // 0 never, 1 always, 2 while a debugger is attached
FILE *g_map;        // /tmp/perf-PID.map
int g_dump_fd = -1;  // jit-PID.dump
pid_t g_files_pid;  // the process the files belong to
uint64_t g_code_index;

bool env_on(const char *name, bool fallback) {
  const char *value = getenv(name);
  if (value == nullptr || value[0] == '\0') return fallback;
  return strcmp(value, "0") != 0;
}

void load() {
  g_perfmap = env_on("NPK_JIT_PERFMAP", false);
  g_dump = env_on("NPK_JIT_DUMP", false);
  const char *gdb = getenv("NPK_JIT_GDB");
  g_gdb = gdb == nullptr || gdb[0] == '\0' ? 2 : strcmp(gdb, "0") == 0 ? 0 : 1;
}

// A debugger that reads the JIT interface keeps a breakpoint in
// __jit_debug_register_code while the process runs.
bool debugger_watching() {
  const volatile unsigned char *code = reinterpret_cast<const volatile unsigned char *>(&__jit_debug_register_code);
#if defined(__x86_64__)
  return code[0] == 0xcc;
#elif defined(__aarch64__)
  return code[3] == 0xd4 && (code[2] & 0xe0) == 0x20;  // brk #imm
#else
  return true;
#endif
}

bool gdb_wanted() { return g_gdb == 1 || (g_gdb == 2 && debugger_watching()); }

uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

// ---- perf map ------------------------------------------------------------------

void reopen_for_this_process() {
  pid_t pid = getpid();
  if (pid == g_files_pid) return;
  if (g_map != nullptr) fclose(g_map);  // the parent's file (the child is forked)
  g_map = nullptr;
  if (g_dump_fd >= 0) close(g_dump_fd);
  g_dump_fd = -1;
  g_files_pid = pid;
  if (g_perfmap) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/perf-%d.map", static_cast<int>(pid));
    g_map = fopen(path, "ae");
  }
  if (g_dump) {
    const char *dir = getenv("NPK_JIT_DUMP_DIR");
    char path[512];
    snprintf(path, sizeof path, "%s/jit-%d.dump", dir != nullptr && dir[0] != '\0' ? dir : "/tmp",
             static_cast<int>(pid));
    int fd = open(path, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
    if (fd < 0) return;
    // perf finds the dump through this executable mapping of it (an mmap
    // event in the recording); the mapping is never used otherwise.
    void *marker = mmap(nullptr, static_cast<size_t>(sysconf(_SC_PAGESIZE)), PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
    (void)marker;
    struct {
      uint32_t magic, version, total_size, elf_mach, pad1, pid;
      uint64_t timestamp, flags;
    } header = {0x4A695444u, 1, 40,
#if defined(__x86_64__)
                EM_X86_64,
#else
                EM_AARCH64,
#endif
                0, static_cast<uint32_t>(pid), monotonic_ns(), 0};
    static_assert(sizeof header == 40, "jitdump header layout");
    if (write(fd, &header, sizeof header) != static_cast<ssize_t>(sizeof header)) {
      close(fd);
      return;
    }
    g_dump_fd = fd;
  }
}

void dump_load(const NamedCode &fn) {
  size_t name_bytes = strlen(fn.name) + 1;
  struct {
    uint32_t id, total_size;
    uint64_t timestamp;
    uint32_t pid, tid;
    uint64_t vma, code_addr, code_size, code_index;
  } record = {0, 0, monotonic_ns(), static_cast<uint32_t>(getpid()), static_cast<uint32_t>(syscall(SYS_gettid)),
              reinterpret_cast<uint64_t>(fn.entry), reinterpret_cast<uint64_t>(fn.entry), fn.size, g_code_index++};
  static_assert(sizeof record == 56, "jitdump JIT_CODE_LOAD layout");
  record.total_size = static_cast<uint32_t>(sizeof record + name_bytes + fn.size);
  // Three writes under the lock keep the record contiguous.
  if (write(g_dump_fd, &record, sizeof record) < 0 || write(g_dump_fd, fn.name, name_bytes) < 0 ||
      write(g_dump_fd, fn.entry, fn.size) < 0) {
    close(g_dump_fd);
    g_dump_fd = -1;
  }
}

// ---- GDB: one in-memory ELF object per seal ---------------------------------------

// An ELF relocatable object with a NOBITS .text at the code's address and a
// symbol per function, which is all GDB needs to name a PC.
jit_code_entry *make_symfile(const void *start, size_t bytes, const NamedCode *fns, uint32_t count) {
  static const char kShstr[] = "\0.text\0.symtab\0.strtab\0.shstrtab";
  size_t strtab = 1;
  for (uint32_t i = 0; i < count; ++i) strtab += strlen(fns[i].name) + 1;
  size_t symtab = (count + 1) * sizeof(Elf64_Sym);
  size_t off_sym = sizeof(Elf64_Ehdr);
  size_t off_str = off_sym + symtab;
  size_t off_shstr = off_str + strtab;
  size_t off_sh = (off_shstr + sizeof kShstr + 7) & ~size_t{7};
  size_t total = off_sh + 5 * sizeof(Elf64_Shdr);
  char *image = static_cast<char *>(calloc(1, sizeof(jit_code_entry) + total));
  if (image == nullptr) return nullptr;
  jit_code_entry *entry = reinterpret_cast<jit_code_entry *>(image);
  char *elf = image + sizeof(jit_code_entry);
  Elf64_Ehdr *eh = reinterpret_cast<Elf64_Ehdr *>(elf);
  memcpy(eh->e_ident, ELFMAG, SELFMAG);
  eh->e_ident[EI_CLASS] = ELFCLASS64;
  eh->e_ident[EI_DATA] = ELFDATA2LSB;
  eh->e_ident[EI_VERSION] = EV_CURRENT;
  eh->e_type = ET_EXEC;
#if defined(__x86_64__)
  eh->e_machine = EM_X86_64;
#else
  eh->e_machine = EM_AARCH64;
#endif
  eh->e_version = EV_CURRENT;
  eh->e_shoff = off_sh;
  eh->e_ehsize = sizeof(Elf64_Ehdr);
  eh->e_shentsize = sizeof(Elf64_Shdr);
  eh->e_shnum = 5;
  eh->e_shstrndx = 4;
  Elf64_Sym *syms = reinterpret_cast<Elf64_Sym *>(elf + off_sym);
  char *strings = elf + off_str;
  size_t name_at = 1;
  for (uint32_t i = 0; i < count; ++i) {
    Elf64_Sym &sym = syms[i + 1];
    sym.st_name = static_cast<Elf64_Word>(name_at);
    sym.st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC);
    sym.st_shndx = 1;
    sym.st_value = reinterpret_cast<uint64_t>(fns[i].entry);
    sym.st_size = fns[i].size;
    size_t n = strlen(fns[i].name) + 1;
    memcpy(strings + name_at, fns[i].name, n);
    name_at += n;
  }
  memcpy(elf + off_shstr, kShstr, sizeof kShstr);
  Elf64_Shdr *sh = reinterpret_cast<Elf64_Shdr *>(elf + off_sh);
  sh[1] = Elf64_Shdr{1, SHT_NOBITS, SHF_ALLOC | SHF_EXECINSTR, reinterpret_cast<uint64_t>(start), 0, bytes, 0, 0, 16, 0};
  sh[2] = Elf64_Shdr{7, SHT_SYMTAB, 0, 0, off_sym, symtab, 3, 1, 8, sizeof(Elf64_Sym)};
  sh[3] = Elf64_Shdr{15, SHT_STRTAB, 0, 0, off_str, strtab, 0, 0, 1, 0};
  sh[4] = Elf64_Shdr{23, SHT_STRTAB, 0, 0, off_shstr, sizeof kShstr, 0, 0, 1, 0};
  entry->symfile_addr = elf;
  entry->symfile_size = total;
  return entry;
}

}  // namespace

bool jit_names_wanted(void) {
  pthread_once(&g_once, load);
  return g_perfmap || g_dump || gdb_wanted();
}

void *jit_names_announce(const void *start, size_t bytes, const NamedCode *fns, uint32_t count) {
  pthread_once(&g_once, load);
  jit_code_entry *entry = gdb_wanted() ? make_symfile(start, bytes, fns, count) : nullptr;
  pthread_mutex_lock(&g_lock);
  if (g_perfmap || g_dump) reopen_for_this_process();
  if (g_map != nullptr) {
    for (uint32_t i = 0; i < count; ++i)
      fprintf(g_map, "%lx %x %s\n", static_cast<unsigned long>(reinterpret_cast<uintptr_t>(fns[i].entry)),
              fns[i].size, fns[i].name);
    fflush(g_map);
  }
  if (g_dump_fd >= 0)
    for (uint32_t i = 0; i < count; ++i) dump_load(fns[i]);
  if (entry != nullptr) {
    entry->next_entry = __jit_debug_descriptor.first_entry;
    if (entry->next_entry != nullptr) entry->next_entry->prev_entry = entry;
    __jit_debug_descriptor.first_entry = entry;
    __jit_debug_descriptor.relevant_entry = entry;
    __jit_debug_descriptor.action_flag = 1;
    __jit_debug_register_code();
  }
  pthread_mutex_unlock(&g_lock);
  return entry;
}

void jit_names_release(void *registration) {
  if (registration == nullptr) return;
  jit_code_entry *entry = static_cast<jit_code_entry *>(registration);
  pthread_mutex_lock(&g_lock);
  if (entry->prev_entry != nullptr)
    entry->prev_entry->next_entry = entry->next_entry;
  else
    __jit_debug_descriptor.first_entry = entry->next_entry;
  if (entry->next_entry != nullptr) entry->next_entry->prev_entry = entry->prev_entry;
  __jit_debug_descriptor.relevant_entry = entry;
  __jit_debug_descriptor.action_flag = 2;
  __jit_debug_register_code();
  pthread_mutex_unlock(&g_lock);
  free(entry);
}

void jit_names_before_fork(void) { pthread_mutex_lock(&g_lock); }

void jit_names_after_fork(bool child) {
  if (child)
    pthread_mutex_init(&g_lock, nullptr);
  else
    pthread_mutex_unlock(&g_lock);
}

}  // namespace npkrt
