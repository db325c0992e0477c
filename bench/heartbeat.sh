#!/usr/bin/env bash
# bench/heartbeat.sh: qc-heartbeat against pyzmq equivalents, in one run:
#   - whole-process time of one probe (hyperfine), qc-heartbeat vs a pyzmq client script;
#   - median and p99 round trip of 10,000 sequential probes in one process (qc-heartbeat as
#     it runs by default, with its threads on one CPU, and with --no-pin);
#   - responder throughput with 4 concurrent clients, qc-heartbeat --serve vs a pyzmq REP loop:
#     clients that keep 64 requests in flight (the responder's capacity), and clients that
#     wait for each reply (bound by round trips on this machine, as a bare libzmq echo shows).
#   usage: bash bench/heartbeat.sh [BIN_DIR]
# Needs hyperfine, Debian's python3-zmq (/usr/bin/python3), and g++ with libzmq3-dev and
# cppzmq-dev for the load helper.
set -euo pipefail
BIN=$(cd "${1:-build/bin}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
command -v hyperfine >/dev/null || { echo "bench/heartbeat.sh: needs hyperfine" >&2; exit 69; }
"$PY" -c 'import zmq' 2>/dev/null || { echo "bench/heartbeat.sh: needs python3-zmq" >&2; exit 69; }
WORK=$(mktemp -d /tmp/qc-bench-heartbeat.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

g++ -O2 -std=c++17 -o "$WORK/zmq_load" "$HERE/zmq_load.cpp" -lzmq
QC_EP=tcp://127.0.0.1:25555
PY_EP=tcp://127.0.0.1:25556
BARE_EP=tcp://127.0.0.1:25557
"$BIN/qc-heartbeat" --serve "$QC_EP" --service bench 2>/dev/null & PIDS+=($!)
"$PY" "$HERE/pyzmq_responder.py" "$PY_EP" & PIDS+=($!)
"$WORK/zmq_load" server "$BARE_EP" & PIDS+=($!)
until "$BIN/qc-heartbeat" -t 0.2 "$QC_EP" >/dev/null && "$BIN/qc-heartbeat" -t 0.2 "$PY_EP" >/dev/null; do :; done

echo "== one probe, whole process" >&2
hyperfine -N --warmup 10 --runs 100 --export-json "$WORK/one.json" \
  -n qc-heartbeat "$BIN/qc-heartbeat $QC_EP" \
  -n pyzmq "$PY $HERE/pyzmq_probe.py $QC_EP" >&2

echo "== 10,000 sequential probes in one process" >&2
"$BIN/qc-heartbeat" -c 10000 -i 0 --json "$QC_EP" > "$WORK/qc.rtt"
"$BIN/qc-heartbeat" --no-pin -c 10000 -i 0 --json "$QC_EP" > "$WORK/qc-nopin.rtt"
"$PY" "$HERE/pyzmq_probe.py" "$QC_EP" 10000 > "$WORK/py.rtt"
"$WORK/zmq_load" floor "$BARE_EP" 10000 > "$WORK/bare.rtt"

echo "== responder throughput, 4 concurrent clients" >&2
run4() {  # COMMAND... -> seconds for 4 concurrent copies
  local start end
  start=$(date +%s.%N)
  for _ in 1 2 3 4; do "$@" > /dev/null & done
  wait -n; wait -n; wait -n; wait -n
  end=$(date +%s.%N)
  "$PY" -c "print($end - $start)"
}
N=50000
qc_pipe=$(run4 "$WORK/zmq_load" load "$QC_EP" $N 64)
py_pipe=$(run4 "$WORK/zmq_load" load "$PY_EP" $N 64)
S=10000
qc_seq=$(run4 "$BIN/qc-heartbeat" -c $S -i 0 "$QC_EP")
py_seq=$(run4 "$BIN/qc-heartbeat" -c $S -i 0 "$PY_EP")
bare_seq=$(run4 "$WORK/zmq_load" floor "$BARE_EP" $S)

"$PY" - "$WORK" "$((4 * N))" "$qc_pipe" "$py_pipe" "$((4 * S))" "$qc_seq" "$py_seq" "$bare_seq" <<'PY'
import json, statistics, sys
work = sys.argv[1]
n_pipe, qc_pipe, py_pipe = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
n_seq, qc_seq, py_seq, bare_seq = int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8])
one = {r["command"]: statistics.median(r["times"]) * 1000 for r in json.load(open(work + "/one.json"))["results"]}
qc = sorted(json.loads(l)["rtt_ms"] * 1000 for l in open(work + "/qc.rtt"))
qc_free = sorted(json.loads(l)["rtt_ms"] * 1000 for l in open(work + "/qc-nopin.rtt"))
py = sorted(float(l) * 1000 for l in open(work + "/py.rtt"))
bare = sorted(float(l) for l in open(work + "/bare.rtt"))
p99 = lambda xs: xs[int(len(xs) * 0.99) - 1]
print("| measurement | qc-heartbeat | pyzmq (Debian python3-zmq) | ratio | target |")
print("| --- | --- | --- | --- | --- |")
print("| one probe, whole process (median) | %.2f ms | %.2f ms | %.1fx faster | >= 5x |"
      % (one["qc-heartbeat"], one["pyzmq"], one["pyzmq"] / one["qc-heartbeat"]))
print("| round trip, 10,000 sequential probes, median (bare libzmq echo: %.0f us) | %.0f us | %.0f us | %.1fx faster | < 100 us |"
      % (statistics.median(bare), statistics.median(qc), statistics.median(py), statistics.median(py) / statistics.median(qc)))
print("| round trip, 10,000 sequential probes, p99 (bare libzmq echo: %.0f us) | %.0f us | %.0f us | %.1fx faster | |"
      % (p99(bare), p99(qc), p99(py), p99(py) / p99(qc)))
print("| the same with `--no-pin`: median / p99 | %.0f us / %.0f us | | | |"
      % (statistics.median(qc_free), p99(qc_free)))
print("| responder throughput, 4 clients with 64 requests in flight each | %.0f replies/s | %.0f replies/s | %.1fx more | > 30,000/s |"
      % (n_pipe / qc_pipe, n_pipe / py_pipe, py_pipe / qc_pipe))
print("| responder throughput, 4 clients waiting for each reply (bare libzmq echo: %.0f/s) | %.0f replies/s | %.0f replies/s | %.2fx as many | |"
      % (n_seq / bare_seq, n_seq / qc_seq, n_seq / py_seq, py_seq / qc_seq))
PY
