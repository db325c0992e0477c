# Thin front end over CMake: `make`, `make test`, `make deps`. See README.md.
BUILD     ?= build
GENERATOR ?= $(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

DEB_PACKAGES := $(shell grep -v '^\#' .ci/packages.txt)

.PHONY: all build test deps clean bench demo

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

clean:
	rm -rf $(BUILD)
