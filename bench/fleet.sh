#!/usr/bin/env bash
# bench/fleet.sh: the fleet lock (docs/fleet.md) against a local etcd started here on
# loopback ports of its own: qc-lock --etcd's acquire-and-release round trip next to
# `etcdctl lock NAME true` in one hyperfine run, and the takeover time of a waiting qc-lock -w
# after a graceful release and after a SIGKILL of the holder; then qc-launch's failover of a
# host with 20 programs and its idle etcd traffic (bench/fleet_launch.py).
#   usage: bash bench/fleet.sh [BIN_DIR]      (BIN_DIR defaults to build/bin)
# Needs hyperfine, etcd (etcd-server) and etcdctl (etcd-client).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(cd "${1:-build/bin}" && pwd)
for tool in hyperfine etcd etcdctl; do
  command -v $tool >/dev/null || { echo "bench/fleet.sh: needs $tool (apt-get install -y hyperfine etcd-server etcd-client)" >&2; exit 69; }
done
WORK=$(mktemp -d /tmp/qc-bench-fleet.XXXXXX)
ETCD_PID=
cleanup() {
  [ -n "$ETCD_PID" ] && kill "$ETCD_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
CLIENT=$(port); PEER=$(port)
URL=http://127.0.0.1:$CLIENT
etcd --data-dir "$WORK/etcd" --listen-client-urls "$URL" --advertise-client-urls "$URL" \
  --listen-peer-urls "http://127.0.0.1:$PEER" --initial-advertise-peer-urls "http://127.0.0.1:$PEER" \
  --initial-cluster "default=http://127.0.0.1:$PEER" >"$WORK/etcd.log" 2>&1 &
ETCD_PID=$!
for _ in $(seq 1 200); do curl -fs "$URL/health" >/dev/null 2>&1 && break; sleep 0.05; done
export QC_LOCK_DIR=$WORK/locks ETCDCTL_API=3

echo "== acquire + run + release through etcd: qc-lock --etcd vs etcdctl lock" >&2
hyperfine -N --warmup 10 --runs 200 --export-json "$WORK/lock.json" \
  -n "qc-lock --etcd" "$BIN/qc-lock --etcd $URL BENCH -- true" \
  -n "etcdctl lock" "etcdctl --endpoints=$URL lock BENCH_ETCDCTL true" >&2

cc -O2 -static -o "$WORK/stamp" "$HERE/stamp.c"
python3 "$HERE/fleet.py" "$BIN" "$WORK/stamp" "$WORK" "$URL" "$WORK/lock.json"
python3 "$HERE/fleet_launch.py" "$BIN" "$WORK/stamp" "$WORK" "$URL"
