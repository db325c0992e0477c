#!/usr/bin/env bash
# bench/lock.sh: qc-lock against flock(1) and bare `true`, and qc-ps over a big lock dir,
# all in one run so that the ratios compare like with like.
#   usage: bash bench/lock.sh [BIN_DIR]      (BIN_DIR defaults to build/bin)
# Needs hyperfine (apt-get install hyperfine) and flock (util-linux).
set -euo pipefail
BIN=$(cd "${1:-build/bin}" && pwd)
command -v hyperfine >/dev/null || { echo "bench/lock.sh: needs hyperfine: apt-get install -y hyperfine" >&2; exit 69; }
command -v flock >/dev/null || { echo "bench/lock.sh: needs flock(1) from util-linux" >&2; exit 69; }
PY=$(command -v python3)
WORK=$(mktemp -d /tmp/qc-bench-lock.XXXXXX)
HOLDERS=()
cleanup() {
  for pid in "${HOLDERS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export QC_LOCK_DIR=$WORK/locks

median_ms() {  # hyperfine JSON -> "name median_ms" lines
  "$PY" - "$1" <<'PY'
import json, statistics, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print("%s\t%.3f" % (r["command"], statistics.median(r["times"]) * 1000))
PY
}

echo "== acquire + run + release: qc-lock vs flock(1) vs true" >&2
hyperfine -N --warmup 30 --runs 500 --export-json "$WORK/lock.json" \
  -n true "true" \
  -n flock "flock $WORK/flock.lock true" \
  -n qc-lock "$BIN/qc-lock BENCH -- true" >&2
median_ms "$WORK/lock.json" > "$WORK/lock.tsv"

echo "== qc-ps --json over 1,000 stale and 20 held lock files" >&2
mkdir -p "$QC_LOCK_DIR"
dead=$(sh -c 'echo $$')  # a PID that has exited
for i in $(seq 1 1000); do
  printf '{"name":"STALE_%d","pid":%d,"account":null,"timestamp":"2026-02-11T10:00:00.000+00:00","host":"bench","version":1,"pid_start":1,"child_pid":null,"child_start":null,"command":["python","STALE.py"],"tool":"qc-lock","restarts":0}\n' \
    "$i" "$dead" > "$QC_LOCK_DIR/STALE_$i.lock"
done
for i in $(seq 1 20); do
  "$BIN/qc-lock" "HELD_$i" -- sleep 3600 & HOLDERS+=($!)
done
for i in $(seq 1 20); do
  until grep -q child_pid\":[0-9] "$QC_LOCK_DIR/HELD_$i.lock" 2>/dev/null; do sleep 0.01; done
done
held=$("$BIN/qc-ps" --json | wc -l)
[ "$held" = 20 ] || { echo "bench/lock.sh: expected 20 held locks, saw $held" >&2; exit 1; }
hyperfine -N --warmup 5 --runs 100 --export-json "$WORK/ps.json" \
  -n "qc-ps --json" "$BIN/qc-ps --json" \
  -n "qc-ps --json --all" "$BIN/qc-ps --json --all" >&2
median_ms "$WORK/ps.json" >> "$WORK/lock.tsv"

"$PY" - "$WORK/lock.tsv" <<'PY'
import sys
rows = dict(line.rstrip("\n").split("\t") for line in open(sys.argv[1]))
ms = {k: float(v) for k, v in rows.items()}
print("| measurement | median | ratio |")
print("| --- | --- | --- |")
print("| `true` (process start alone) | %.2f ms | |" % ms["true"])
print("| `flock FILE true` | %.2f ms | 1.00 |" % ms["flock"])
print("| `qc-lock NAME -- true` | %.2f ms | %.2fx flock (target <= 1.3x) |" % (ms["qc-lock"], ms["qc-lock"] / ms["flock"]))
print("| `qc-ps --json`, 1,000 stale + 20 held files | %.2f ms | target < 50 ms |" % ms["qc-ps --json"])
print("| `qc-ps --json --all`, same | %.2f ms | |" % ms["qc-ps --json --all"])
PY
