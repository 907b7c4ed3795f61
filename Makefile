# Quern's everyday commands. CMake + Ninja do the building; this file only names the
# configurations and runs them in order.
#
#   make build   build/quern (RelWithDebInfo), with tests and benchmarks
#   make run     quern serve (API, dashboard, shell workers) on the default database
#   make test    release, ASan+UBSan, TSan and fuzz runs; stops at the first failure
#   make bench   the benchmark programs in build/bench/
#   make clean   every build directory

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
# The steps of `make test` run one after another (Ninja parallelises inside each).
.NOTPARALLEL:
.DEFAULT_GOAL := build

JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 20
FUZZERS := fuzz_duration fuzz_priority fuzz_payload fuzz_rfc3339 fuzz_job_request fuzz_cron
TEST_BINARIES := quern_unit_tests quern_conformance_tests quern_integration_tests
# The TSan build runs only the tests about concurrency and crashes (none are unit
# tests, so the unit binary is not built there).
TSAN_BINARIES := quern_conformance_tests quern_integration_tests
TSAN_FILTER := *Concurrency*:*Crash*

export ASAN_OPTIONS := detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS := print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS := halt_on_error=1:second_deadlock_stack=1

CONFIGURE := cmake -S . -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: deps build run test bench clean \
        build-asan build-tsan build-fuzz test-release test-asan test-tsan test-fuzz

deps:
	scripts/install-deps.sh

build: deps
	$(CONFIGURE) -B build
	cmake --build build -j $(JOBS)

run: build
	@echo "Starting quern serve on the default database (\$$QUERN_DB, else \$$XDG_DATA_HOME/quern/quern.db)."
	@echo "Dashboard: http://127.0.0.1:7070/   From another terminal:  build/quern add -- echo hello"
	@echo "Stop it with Ctrl+C."
	build/quern serve

build-asan: deps
	$(CONFIGURE) -B build-asan -DQUERN_SANITIZE=address
	cmake --build build-asan -j $(JOBS)

build-tsan: deps
	$(CONFIGURE) -B build-tsan -DQUERN_SANITIZE=thread
	cmake --build build-tsan -j $(JOBS) --target $(TSAN_BINARIES)

build-fuzz: deps
	CC=clang CXX=clang++ $(CONFIGURE) -B build-fuzz -DQUERN_FUZZ=ON -DQUERN_TESTS=OFF -DQUERN_BENCH=OFF
	cmake --build build-fuzz -j $(JOBS) --target quern_fuzzers

test: deps test-release test-asan test-tsan test-fuzz
	@echo "make test: PASSED (release and ASan+UBSan ctest, TSan '$(TSAN_FILTER)', $(words $(FUZZERS)) fuzzers x $(FUZZ_SECONDS)s)"

test-release: build
	cd build && ctest --output-on-failure || { echo "make test: FAILED in the release tests (build/)"; exit 1; }

test-asan: build-asan
	cd build-asan && ctest --output-on-failure || { echo "make test: FAILED in the ASan+UBSan tests (build-asan/)"; exit 1; }

# Some kernels randomise mmap with more bits than TSan's memory layout allows, and then
# every TSan binary dies at start-up; without address randomisation (setarch -R) it runs.
test-tsan: build-tsan
	@run=""; \
	if ! build-tsan/tests/quern_conformance_tests --gtest_list_tests >/dev/null 2>&1; then \
	  echo "TSan binaries fail to start here; running them under setarch -R"; \
	  run="setarch $$(uname -m) -R"; \
	fi; \
	for binary in $(TSAN_BINARIES); do \
	  echo "== TSan: $$binary --gtest_filter='$(TSAN_FILTER)'"; \
	  $$run build-tsan/tests/$$binary --gtest_filter='$(TSAN_FILTER)' \
	    || { echo "make test: FAILED in the TSan tests ($$binary)"; exit 1; }; \
	done

# Each fuzzer runs for FUZZ_SECONDS on a scratch copy of its seed corpus, so the seeds in
# the tree stay as they are; a crashing input is kept in build-fuzz/artifacts/.
test-fuzz: build-fuzz
	@mkdir -p build-fuzz/artifacts
	@for fuzzer in $(FUZZERS); do \
	  corpus=$$(mktemp -d); \
	  cp -r tests/fuzz/corpus/$$fuzzer/. "$$corpus"/; \
	  echo "== fuzz: $$fuzzer for $(FUZZ_SECONDS)s"; \
	  build-fuzz/tests/fuzz/$$fuzzer -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=build-fuzz/artifacts/$$fuzzer- "$$corpus" \
	    || { rm -rf "$$corpus"; echo "make test: FAILED in $$fuzzer (input in build-fuzz/artifacts/)"; exit 1; }; \
	  rm -rf "$$corpus"; \
	done

# Runs every program the bench/ folder built; they print numbers and do not fail.
bench: build
	@found=0; \
	for program in build/bench/*; do \
	  if [ -f "$$program" ] && [ -x "$$program" ]; then found=1; echo "== $$program"; "$$program"; fi; \
	done; \
	if [ $$found -eq 0 ]; then echo "bench: no benchmark programs in build/bench/ yet"; fi

clean:
	rm -rf build build-asan build-tsan build-fuzz
