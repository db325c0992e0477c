#!/usr/bin/env bash
# bench/supervise.sh: qc-run and qc-launch against supervisord, in one run.
#   usage: bash bench/supervise.sh [BIN_DIR]      (BIN_DIR defaults to build/bin)
# supervisord is compared when installed (apt-get install -y supervisor); BENCH_IDLE_S
# shortens the 30 s idle measurement.
set -euo pipefail
BIN=$(cd "${1:-build/bin}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/qc-bench-supervise.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cc -O2 -static -o "$WORK/stamp" "$HERE/stamp.c"
command -v supervisord >/dev/null || echo "bench/supervise.sh: supervisord not installed; qc figures only" >&2
python3 "$HERE/supervise.py" "$BIN" "$WORK/stamp" "$WORK"
