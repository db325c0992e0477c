# Thin front end over CMake: `make`, `make test`, `make deps`. See README.md.
BUILD     ?= build
GENERATOR ?= $(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

DEB_PACKAGES := $(shell grep -v '^\#' .ci/packages.txt)

.PHONY: all build test deps clean bench demo windows test-windows deps-windows

all: build

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -G "$(GENERATOR)" $(CMAKE_ARGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

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

# A persistent wineserver makes each launch ~0.3 s instead of ~2 s and keeps Wine's
# background processes from holding the pipeline open.
test-windows: windows
	mkdir -p $(QC_WINE_PREFIX)
	-WINEPREFIX=$(QC_WINE_PREFIX) WINEDEBUG=-all wineserver -p </dev/null >/dev/null 2>&1
	cmake/windows/wine-run cmd /c exit 0 </dev/null >/dev/null 2>&1 || true
	cd $(WIN_BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900; rc=$$?; \
	  WINEPREFIX=$(QC_WINE_PREFIX) wineserver -k; exit $$rc

clean:
	rm -rf $(BUILD) $(WIN_BUILD)
