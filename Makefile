# Thin front end over CMake: `make`, `make test`, `make deps`. See README.md.
SHELL := /bin/bash
BUILD     ?= build
GENERATOR ?= $(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

DEB_PACKAGES := $(shell grep -v '^\#' .ci/packages.txt)

.PHONY: all build test deps clean bench demo windows test-windows deps-windows asan tsan fuzz soak install package windows-package

all: build

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -G "$(GENERATOR)" $(CMAKE_ARGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

# make install [PREFIX=/usr/local] [DESTDIR=...]: the tools, manual pages, bash completion,
# the reference, the wrappers and examples, the systemd unit (cmake/Install.cmake).
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# make package: build/qc_VERSION_ARCH.deb, its dependencies computed by dpkg-shlibdeps.
package: build
	cd $(BUILD) && cpack -G DEB

deps:
	$(SUDO) apt-get update
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $(DEB_PACKAGES)

bench: build
	bash bench/lock.sh
	bash bench/supervise.sh
	bash bench/heartbeat.sh
	bash bench/shutdown.sh

# The demo: qc-launch on examples/demo/MASTER_CONFIG.json in the foreground until Ctrl+C.
demo: build
	cd examples/demo && exec ../../$(BUILD)/bin/qc-launch --status-interval 30

# The soak: 50 programs, half crashing, for SOAK_SECONDS (180); see tests/soak/soak.py.
soak: build
	python3 tests/soak/soak.py $(BUILD)/bin

# Sanitizers: the whole suite against an instrumented build. Every report goes to a file in
# $(BUILD)-<kind>/reports; the target fails if there is any, whatever the tests said.
# -O1 -g1: what the sanitizers' manuals recommend, with line tables only; the instrumented
# build takes 7 minutes here instead of 16 with -O2 -g, and reports still name file and line.
SAN_CXXFLAGS = -O1 -g1 -DNDEBUG
define sanitized_suite
	cmake -S . -B $(BUILD)-$(1) -G "$(GENERATOR)" -DQC_SANITIZE=$(2) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$(SAN_CXXFLAGS)" $(CMAKE_ARGS)
	cmake --build $(BUILD)-$(1) -j $(JOBS)
	rm -rf $(BUILD)-$(1)/reports && mkdir -p $(BUILD)-$(1)/reports
	cd $(BUILD)-$(1) && ASAN_OPTIONS=detect_leaks=1:$(3)log_path=$(abspath $(BUILD)-$(1))/reports/asan \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$(abspath $(BUILD)-$(1))/reports/ubsan \
	  TSAN_OPTIONS=second_deadlock_stack=1:suppressions=$(abspath tests/sanitizers/tsan.supp):log_path=$(abspath $(BUILD)-$(1))/reports/tsan \
	  LSAN_OPTIONS=suppressions=$(abspath tests/sanitizers/lsan.supp) \
	  QC_TEST_ROUNDS=3 QC_TEST_ACQUIRES=60 QC_TEST_TIME_SLACK=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 1200 $(4)
	@if [ -n "$$(ls $(BUILD)-$(1)/reports)" ]; then \
	  echo "$(1): sanitizer reports:"; head -50 $(BUILD)-$(1)/reports/*; exit 1; fi
	@echo "$(1): the whole suite passed with no sanitizer report"
endef

asan:
	$(call sanitized_suite,asan,address$(comma)undefined,,)

tsan:
	$(call sanitized_suite,tsan,thread,,)

comma := ,

# libFuzzer (clang): each target for FUZZ_SECONDS (default 60) from its seed corpus; new
# inputs go to $(BUILD)-fuzz/work/<target>, crashes to $(BUILD)-fuzz/crash-*. A crash fails
# the target; keep its input in tests/fuzz/corpus/<target>/ once fixed.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := lock_record protocol launch_config
fuzz:
	CC=clang CXX=clang++ cmake -S . -B $(BUILD)-fuzz -G "$(GENERATOR)" -DQC_FUZZ=ON \
	  -DQC_SANITIZE=address$(comma)undefined -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$(SAN_CXXFLAGS)"
	cmake --build $(BUILD)-fuzz -j $(JOBS)
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(BUILD)-fuzz/work/$$t && \
	  echo "fuzz: $$t for $(FUZZ_SECONDS)s" && \
	  $(BUILD)-fuzz/bin/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -rss_limit_mb=2048 \
	    -artifact_prefix=$(abspath $(BUILD)-fuzz)/crash-$$t- $(BUILD)-fuzz/work/$$t tests/fuzz/corpus/$$t \
	    2>&1 | grep -E "^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|^==[0-9]+==|^SUMMARY|Test unit written" ; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

# Windows: cross-built with mingw-w64, tested under Wine (see README, Windows).
WIN_BUILD ?= build-win
WIN_ABS   := $(abspath $(WIN_BUILD))
export QC_WINE_PREFIX ?= $(WIN_ABS)/wineprefix
WIN_PACKAGES := g++-mingw-w64-x86-64-posix wine64 wine

deps-windows:
	$(SUDO) apt-get install -y --no-install-recommends $(WIN_PACKAGES)
	@grep -rqs '^Types: deb-src' /etc/apt/sources.list.d/ || grep -qs '^deb-src' /etc/apt/sources.list || \
	  { printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
	    | $(SUDO) tee /etc/apt/sources.list.d/qc-deb-src.sources >/dev/null && $(SUDO) apt-get update; }

$(WIN_BUILD)/CMakeCache.txt:
	bash cmake/windows/build-deps.sh $(WIN_BUILD)/deps
	QC_WIN_PREFIX=$(WIN_ABS)/deps cmake -S . -B $(WIN_BUILD) -G "$(GENERATOR)" \
	  -DCMAKE_TOOLCHAIN_FILE=$(abspath cmake/windows/mingw-w64-x86_64.cmake) \
	  -DQC_HEADER_ONLY_DIR=$(WIN_ABS)/deps/include-ho -DCMAKE_PREFIX_PATH=$(WIN_ABS)/deps \
	  -DCMAKE_CROSSCOMPILING_EMULATOR=$(abspath cmake/windows/wine-run) -DCMAKE_BUILD_TYPE=Release

windows: $(WIN_BUILD)/CMakeCache.txt
	QC_WIN_PREFIX=$(WIN_ABS)/deps cmake --build $(WIN_BUILD) -j $(JOBS)

# The Windows zip (cmake/windows/package.sh): the tools, the batch files, Qc.psm1, an example
# MASTER_CONFIG.json and the reference, in one folder, as $(WIN_BUILD)/qc-VERSION-windows.zip.
windows-package: windows
	bash cmake/windows/package.sh $(WIN_BUILD)/bin $(WIN_BUILD) $$(sed -n 's/^project(qc VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)

# A persistent wineserver makes each launch ~0.3 s instead of ~2 s and keeps Wine's
# background processes from holding the pipeline open.
test-windows: windows
	mkdir -p $(QC_WINE_PREFIX)
	-WINEPREFIX=$(QC_WINE_PREFIX) WINEDEBUG=-all wineserver -p </dev/null >/dev/null 2>&1
	cmake/windows/wine-run cmd /c exit 0 </dev/null >/dev/null 2>&1 || true
	cd $(WIN_BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900; rc=$$?; \
	  WINEPREFIX=$(QC_WINE_PREFIX) wineserver -k; exit $$rc

clean:
	rm -rf $(BUILD) $(WIN_BUILD) $(BUILD)-asan $(BUILD)-tsan $(BUILD)-fuzz
