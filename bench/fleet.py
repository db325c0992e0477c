"""bench/fleet.sh's measurements after the hyperfine run: takeover times of a qc-lock -w
waiting on another "host" (its own lock directory and QC_HOST_NAME), from the moment the
holder is told to stop (SIGTERM: a graceful release) or is killed (SIGKILL: the lease must
expire), to the moment the waiter's command starts (a static stamp helper, CLOCK_MONOTONIC).
Prints the README's rows."""
import json
import os
import signal
import statistics
import subprocess
import sys
import time

from benchlib import stamps, wait_for

BIN, STAMP, WORK, URL, LOCK_JSON = sys.argv[1:6]
TTL = 5
ROUNDS = 10


def qc_lock(host, *args):
    env = dict(os.environ, QC_HOST_NAME=host, QC_LOCK_DIR=os.path.join(WORK, "locks-" + host))
    return subprocess.Popen([os.path.join(BIN, "qc-lock"), "--etcd", URL, "--lease-ttl", str(TTL),
                             "--stop-timeout", "1"] + list(args), env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def takeover(sig, n):
    out = os.path.join(WORK, "takeover-%d-%d" % (sig, n))
    holder = qc_lock("hostA", "TAKEOVER%d" % n, "--", STAMP, out + ".a", "hold")
    wait_for(lambda: stamps(out + ".a"), 10, "the holder's command")
    waiter = qc_lock("hostB", "-w", "60", "TAKEOVER%d" % n, "--", STAMP, out + ".b", "hold")
    time.sleep(0.5)  # the waiter is watching
    t0 = time.monotonic_ns()
    os.kill(holder.pid, sig)
    wait_for(lambda: stamps(out + ".b"), TTL + 10, "the waiter's command")
    took = (stamps(out + ".b")[0] - t0) / 1e6
    for p in (holder, waiter):
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
    return took


graceful = statistics.median(takeover(signal.SIGTERM, n) for n in range(ROUNDS))
killed = statistics.median(takeover(signal.SIGKILL, 100 + n) for n in range(3))
times = {r["command"]: statistics.median(r["times"]) * 1000 for r in json.load(open(LOCK_JSON))["results"]}
qc, etcdctl = times["qc-lock --etcd"], times["etcdctl lock"]
print("| fleet acquire + run + release (qc-lock --etcd -- true vs etcdctl lock NAME true), median | "
      "%.2f ms | %.2f ms | %.2fx | <= 0.5x |" % (qc, etcdctl, qc / etcdctl))
print("| takeover after a graceful release (SIGTERM to the holder), median of %d | %.0f ms | | | < 100 ms |"
      % (ROUNDS, graceful))
print("| takeover after a SIGKILL of the holder, TTL %d s, median of 3 | %.0f ms | | | TTL + <= 500 ms |"
      % (TTL, killed))
