#!/usr/bin/env bash
# bench/flood.sh: 10 programs under qc-launch with and without a neighbour writing as fast as
# it can (`yes`): their restart gap and their stop time.
#   usage: bash bench/flood.sh [BIN_DIR]      (BIN_DIR defaults to build/bin)
# BENCH_RUN_S (default 10) and BENCH_ROUNDS (default 3) shorten or lengthen it.
set -euo pipefail
BIN=$(cd "${1:-build/bin}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/qc-bench-flood.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cc -O2 -static -o "$WORK/stamp" "$HERE/stamp.c"
python3 "$HERE/flood.py" "$BIN" "$WORK/stamp" "$WORK"
