// Throughput of the validator of caller-supplied x86-64 code (npk_jit_validate)
// over compiler-generated machine code, with and without its fast path, and
// the cost validation adds to an
// install (npk_jit_compile_bytes against npk_jit_compile_add_i32, same run).
// See bench/README.md, "Validated bytes".
//
// The code: the functions of the compiler's object files (.text, built in the
// tree with the build's flags), cut out by extract_functions.py. Those the
// validator accepts as they stand (no indirect branch, no call or jump out
// of the function) are concatenated into one blob: real code, and all of it
// is decoded on each run (a refused blob would stop at its first refusal).
#include <npk/runtime.h>

#include <benchmark/benchmark.h>

#include "validate_internal.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

struct Corpus {
  std::vector<unsigned char> blob;  // accepted functions, back to back
  std::vector<size_t> sizes;        // of each accepted function, in order
  size_t functions = 0, bytes = 0;  // all functions extracted
};

const Corpus &corpus() {
  static Corpus c = [] {
    Corpus out;
    std::ifstream blob_in(NPK_VALIDATOR_TEXT_BLOB, std::ios::binary);
    std::vector<unsigned char> all((std::istreambuf_iterator<char>(blob_in)), std::istreambuf_iterator<char>());
    std::ifstream index(NPK_VALIDATOR_TEXT_INDEX);
    size_t offset = 0, size = 0;
    while (index >> offset >> size) {
      if (offset + size > all.size()) break;
      ++out.functions;
      out.bytes += size;
      if (npk_jit_validate(all.data() + offset, size, nullptr) != 0) continue;
      out.blob.insert(out.blob.end(), all.begin() + offset, all.begin() + offset + size);
      out.sizes.push_back(size);
    }
    if (out.blob.empty() || npk_jit_validate(out.blob.data(), out.blob.size(), nullptr) != 0) {
      std::fprintf(stderr, "validator_bench: no accepted code in %s\n", NPK_VALIDATOR_TEXT_BLOB);
      std::exit(1);
    }
    return out;
  }();
  return c;
}

// The first accepted functions up to about `bytes` (whole functions).
size_t prefix_of(size_t bytes) {
  size_t n = 0;
  for (size_t size : corpus().sizes) {
    if (n + size > bytes && n > 0) break;
    n += size;
  }
  return n;
}

void report(benchmark::State &state, size_t bytes) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["blob_bytes"] = static_cast<double>(bytes);
  state.counters["accepted_functions"] = static_cast<double>(corpus().sizes.size());
  state.counters["extracted_functions"] = static_cast<double>(corpus().functions);
}

// The whole blob of accepted compiler functions in one call.
void BM_Validate_CompilerCode(benchmark::State &state) {
  const Corpus &c = corpus();
  for (auto _ : state) {
    int32_t verdict = npk_jit_validate(c.blob.data(), c.blob.size(), nullptr);
    benchmark::DoNotOptimize(verdict);
    if (verdict != 0) state.SkipWithError("refused");
  }
  report(state, c.blob.size());
}
BENCHMARK(BM_Validate_CompilerCode);

// The same with every instruction read by Zydis (no fast path): what the
// fast path buys, same run.
void BM_Validate_CompilerCode_ZydisOnly(benchmark::State &state) {
  const Corpus &c = corpus();
  for (auto _ : state) {
    size_t offset = 0;
    int32_t verdict = npkrt::validate_test_zydis_only(c.blob.data(), c.blob.size(), &offset);
    benchmark::DoNotOptimize(verdict);
    if (verdict != 0) state.SkipWithError("refused");
  }
  report(state, c.blob.size());
}
BENCHMARK(BM_Validate_CompilerCode_ZydisOnly);

// About 4 KiB of it: the size of a typical generated function set.
void BM_Validate_CompilerCode4KiB(benchmark::State &state) {
  const Corpus &c = corpus();
  size_t n = prefix_of(4096);
  for (auto _ : state) {
    int32_t verdict = npk_jit_validate(c.blob.data(), n, nullptr);
    benchmark::DoNotOptimize(verdict);
    if (verdict != 0) state.SkipWithError("refused");
  }
  report(state, n);
}
BENCHMARK(BM_Validate_CompilerCode4KiB);

// One call per function, as a JIT handing in functions one by one would.
void BM_Validate_EachFunction(benchmark::State &state) {
  const Corpus &c = corpus();
  for (auto _ : state) {
    const unsigned char *at = c.blob.data();
    for (size_t size : c.sizes) {
      benchmark::DoNotOptimize(npk_jit_validate(at, size, nullptr));
      at += size;
    }
  }
  report(state, c.blob.size());
}
BENCHMARK(BM_Validate_EachFunction);

const unsigned char kAdd[] = {0x89, 0xf8, 0x01, 0xf0, 0xc3};

// Install + free of the seed's 5 bytes: validated (compile_bytes) and not
// (compile_add_i32, the same code built into the runtime).
void BM_Install_CompileBytes(benchmark::State &state) {
  for (auto _ : state) {
    void *f = npk_jit_compile_bytes(kAdd, sizeof kAdd, "i32(i32,i32)", nullptr);
    if (f == nullptr || npk_wildx_free(f) != 0) state.SkipWithError("install failed");
  }
}
BENCHMARK(BM_Install_CompileBytes);

void BM_Install_CompileAddI32(benchmark::State &state) {
  for (auto _ : state) {
    void *f = npk_jit_compile_add_i32(nullptr);
    if (f == nullptr || npk_wildx_free(f) != 0) state.SkipWithError("install failed");
  }
}
BENCHMARK(BM_Install_CompileAddI32);

}  // namespace

BENCHMARK_MAIN();
