#!/usr/bin/env bash
# bench/shutdown.sh: time to stop 50 programs that ignore SIGTERM with --timeout 1 (target
# under 2 s: one timeout, not fifty), against a sequential stop as SAFE_SHUTDOWN.py did it.
#   usage: bash bench/shutdown.sh [BIN_DIR]      (BENCH_PROGRAMS changes the 50)
set -euo pipefail
BIN=$(cd "${1:-build/bin}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/qc-bench-shutdown.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
python3 "$HERE/shutdown.py" "$BIN" "$WORK"
