"""bench/fleet.sh's qc-launch rows (docs/fleet.md, "qc-launch across hosts"): two "hosts"
(qc-launch with their own lock directories and QC_HOST_NAME) run one config of N programs,
one holding them all and the other in standby. Failover time is from the signal to the
holder (SIGKILL of its whole tree, or SIGTERM) to the start of the standby's last program (a
static stamp helper, CLOCK_MONOTONIC). Idle traffic is the HTTP requests a holder of 50
programs sends to etcd in a minute, counted by a TCP proxy between them (the watch is one
long request). Prints the README's rows."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from benchlib import stamps, wait_for

BIN, STAMP, WORK, URL = sys.argv[1:5]
TTL = 5


class CountingProxy:
    """TCP from 127.0.0.1:port to etcd; counts the requests (POST lines) that go through."""

    def __init__(self, target):
        host, port = target.replace("http://", "").split(":")
        self.target = (host, int(port))
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.url = "http://127.0.0.1:%d" % self.server.getsockname()[1]
        self.requests = 0
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            client, _ = self.server.accept()
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self.pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self.pump, args=(upstream, client, False), daemon=True).start()

    def pump(self, src, dst, counting):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if counting:
                    with self.lock:
                        self.requests += data.count(b"POST ")
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def config(name, programs, endpoint, prefix):
    d = os.path.join(WORK, name)
    os.makedirs(d, exist_ok=True)
    c = {"ACCOUNTS": {}, "LAUNCH": {
        "lock_dir": "locks", "log_dir": "logs",
        "fleet": {"etcd": [endpoint], "ttl_s": TTL, "prefix": prefix},
        "defaults": {"stop_timeout_s": 1},
        "programs": [{"name": "P%02d" % i, "command": [STAMP, os.path.join(d, "..", prefix.strip("/") + "-P%02d" % i), "hold"]}
                     for i in range(programs)]}}
    path = os.path.join(d, "MASTER_CONFIG.json")
    with open(path, "w") as f:
        json.dump(c, f)
    return path


def launch(host, path):
    env = dict(os.environ, QC_HOST_NAME=host)
    return subprocess.Popen([os.path.join(BIN, "qc-launch"), "--status-interval", "0", path], env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def status(host, path):
    r = subprocess.run([os.path.join(BIN, "qc-launch"), "--status", "--json", path],
                       env=dict(os.environ, QC_HOST_NAME=host), capture_output=True, text=True)
    return json.loads(r.stdout) if r.returncode == 0 else None


def failover(sig, n, programs=20):
    prefix = "/failover%d/" % n
    stamp_of = lambda i: os.path.join(WORK, prefix.strip("/") + "-P%02d" % i)
    a_cfg, b_cfg = config("a%d" % n, programs, URL, prefix), config("b%d" % n, programs, URL, prefix)
    a = launch("hostA", a_cfg)
    wait_for(lambda: all(stamps(stamp_of(i)) for i in range(programs)), 20, "hostA's programs")
    b = launch("hostB", b_cfg)
    wait_for(lambda: (status("hostB", b_cfg) or {}).get("programs") and
             all(p["state"] == "standby" for p in status("hostB", b_cfg)["programs"]), 20, "hostB in standby")
    pids = [p["child_pid"] for p in status("hostA", a_cfg)["programs"]]
    t0 = time.monotonic_ns()
    os.kill(a.pid, sig)
    if sig == signal.SIGKILL:  # the whole tree
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    wait_for(lambda: all(len(stamps(stamp_of(i))) >= 2 for i in range(programs)), TTL + 20, "hostB's programs")
    last = max(stamps(stamp_of(i))[1] for i in range(programs))
    for p in (a, b):
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        p.wait()
    return (last - t0) / 1e6


def idle_traffic(programs=50, seconds=60):
    proxy = CountingProxy(URL)
    path = config("idle", programs, proxy.url, "/idle/")
    p = launch("hostI", path)
    wait_for(lambda: all(stamps(os.path.join(WORK, "idle-P%02d" % i)) for i in range(programs)), 30, "50 programs")
    time.sleep(1)
    before = proxy.requests
    time.sleep(seconds)
    during = proxy.requests - before
    p.send_signal(signal.SIGTERM)
    p.wait()
    return during * 60.0 / seconds


killed = [failover(signal.SIGKILL, n) for n in range(3)]
graceful = [failover(signal.SIGTERM, 10 + n) for n in range(3)]
idle = idle_traffic(seconds=int(os.environ.get("QC_BENCH_IDLE_S", "60")))
killed.sort()
graceful.sort()
print("| qc-launch failover of a host with 20 programs after a SIGKILL of its whole tree, TTL %d s: the last "
      "program started on the standby host, median of 3 | %.0f ms | | | TTL + <= 1000 ms |" % (TTL, killed[1]))
print("| the same after a graceful stop (SIGTERM), median of 3 | %.0f ms | | | < 1000 ms |" % graceful[1])
print("| etcd requests per minute of an idle qc-launch holding 50 programs, TTL %d s (one keep-alive every TTL/5) | "
      "%.0f | | | %.0f (one lease per host) |" % (TTL, idle, 60 / (TTL / 5)))
