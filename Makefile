# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# The front door: `make demo` and `make check` do everything on a fresh
# Debian machine (they install what is missing: `make deps`). `make build`
# and `make install` only build and install. The real build is CMake's;
# this file drives it.
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 10
STRESS_SECONDS ?= 60
BUILD_TYPE ?= RelWithDebInfo
PREFIX     ?= /usr/local
DESTDIR    ?=
WERROR     ?= ON
CMAKE_ARGS ?=
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_FLAGS ?= --output-on-failure -j$(JOBS)

CONFIGURE = cmake -DMPROC_WERROR=$(WERROR) $(CMAKE_ARGS)

.PHONY: all deps build demo check check-asan check-tsan fuzz stress bench install clean

all: build

deps:
	@./scripts/install-deps

$(BUILD)/CMakeCache.txt:
	$(CONFIGURE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_INSTALL_PREFIX=$(PREFIX)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS) -- --no-print-directory

demo: deps
	@$(MAKE) --no-print-directory build
	@./scripts/demo $(BUILD)

check: deps
	@$(MAKE) --no-print-directory build
	cd $(BUILD) && ctest $(CTEST_FLAGS)

# The tests again under AddressSanitizer and UndefinedBehaviorSanitizer.
check-asan: deps
	$(CONFIGURE) -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMPROC_SANITIZE=address,undefined
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && CK_TIMEOUT_MULTIPLIER=4 ctest $(CTEST_FLAGS)

# The tests that involve threads, under ThreadSanitizer.
check-tsan: deps
	$(CONFIGURE) -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMPROC_SANITIZE=thread
	cmake --build $(TSAN_BUILD) -j$(JOBS)
	cd $(TSAN_BUILD) && CK_TIMEOUT_MULTIPLIER=8 ctest $(CTEST_FLAGS) -L threads

# Every libFuzzer target of fuzz/ (clang, ASan+UBSan), FUZZ_SECONDS each.
fuzz: deps
	CC=clang $(CONFIGURE) -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMPROC_FUZZ=ON \
	  -DMPROC_BUILD_TESTS=OFF -DMPROC_SANITIZE=address,undefined
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_all -- --no-print-directory
	./scripts/fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS)

# The mixed soak (bench/stress.c) for STRESS_SECONDS; not part of check.
stress: build
	./$(BUILD)/bench/stress $(STRESS_SECONDS)

bench: build
	@./scripts/bench $(BUILD)

install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
