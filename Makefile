# Thin wrapper over CMake + Ninja. `make run` and `make test` do all set-up.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= 2
CMAKE_FLAGS ?=
ifeq ($(CI),true)
  CMAKE_FLAGS += -DNPK_WERROR=ON
endif

NPKC := $(BUILD_DIR)/bin/npkc

.PHONY: all deps configure build run test bench sanitize tsan soundness clean install fuzz fuzz-smoke

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Compiles and runs the seed's two-page JIT example exactly as written, then a
# copy that prints what it computed.
run: build
	@$(NPKC) run examples/seed_two_pages.npk; status=$$?; \
	  echo "examples/seed_two_pages.npk: exit status $$status"; exit $$status
	@$(NPKC) run examples/two_pages_report.npk

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

bench: build
	@bash bench/run.sh

# The compiler, the runtime and all tests built with AddressSanitizer and
# UBSan (build-san), the whole ctest suite run; any sanitizer report fails the
# run (see scripts/sanitize.sh).
sanitize: deps
	@JOBS=$(JOBS) bash scripts/sanitize.sh

# The runtime's unit, thread and stress tests under ThreadSanitizer
# (build-tsan); any report fails the run (see scripts/tsan.sh).
tsan: deps
	@JOBS=$(JOBS) bash scripts/tsan.sh

# The ownership soundness oracle (tests/soundness/oracle.py): N generated
# programs (default 2,000, as in `make test`; a long run: N=200000), every
# accepted one run in the runtime's accounting mode, every one the ownership
# checker rejects built with --ownership-errors=warn and run too (a clean run
# is a precision miss); prints the counts. Checked and built in batches
# (npk_soundness_batch), one executable a batch. Findings and a few precision
# misses per code are saved in $(BUILD_DIR)/soundness.
N ?= 2000
SEED ?= 1
soundness: build
	@python3 tests/soundness/oracle.py $(NPKC) $(N) --seed $(SEED) --jobs $(JOBS) \
	  --batch $(BUILD_DIR)/bin/npk_soundness_batch --keep $(BUILD_DIR)/soundness

# libFuzzer targets (fuzz/; build-fuzz with clang-19, ASan+UBSan; see
# scripts/fuzz.sh): `fuzz-smoke` runs each for FUZZ_TIME seconds (default 60)
# and fails on any crash, hang, leak or sanitizer report; `fuzz` runs them
# long (default 1200 s each).
FUZZ_TIME ?=
fuzz-smoke: deps
	@JOBS=$(JOBS) FUZZ_TIME=$(FUZZ_TIME) bash scripts/fuzz.sh smoke

fuzz: deps
	@JOBS=$(JOBS) FUZZ_TIME=$(FUZZ_TIME) bash scripts/fuzz.sh long

install: build
	@cmake --install $(BUILD_DIR) $(if $(PREFIX),--prefix $(PREFIX),)

clean:
	@rm -rf $(BUILD_DIR) build-san build-tsan build-fuzz
