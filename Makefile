# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# The front door: `make demo` and `make check` do everything on a fresh
# Debian machine. The real build is CMake's; this file drives it.
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 10
STRESS_SECONDS ?= 60
PREFIX     ?= /usr/local
DESTDIR    ?=
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_FLAGS ?= --output-on-failure -j$(JOBS)

.PHONY: all deps build demo check check-asan check-tsan fuzz stress bench install clean

all: build

deps:
	@./scripts/install-deps

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS) -- --no-print-directory

demo: build
	@./scripts/demo $(BUILD)

check: build
	cd $(BUILD) && ctest $(CTEST_FLAGS)

# The tests again under AddressSanitizer and UndefinedBehaviorSanitizer.
check-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMPROC_SANITIZE=address,undefined
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && CK_TIMEOUT_MULTIPLIER=4 ctest $(CTEST_FLAGS)

# The tests that involve threads, under ThreadSanitizer.
check-tsan: deps
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMPROC_SANITIZE=thread
	cmake --build $(TSAN_BUILD) -j$(JOBS)
	cd $(TSAN_BUILD) && CK_TIMEOUT_MULTIPLIER=8 ctest $(CTEST_FLAGS) -L threads

# Every libFuzzer target of fuzz/ (clang, ASan+UBSan), FUZZ_SECONDS each.
fuzz: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMPROC_FUZZ=ON \
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
