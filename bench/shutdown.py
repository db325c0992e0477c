"""bench/shutdown.py: time to stop 50 programs that ignore SIGTERM with a 1 s timeout (see
shutdown.sh): qc-shutdown against the sequential way SAFE_SHUTDOWN.py stopped them."""
import json
import os
import signal
import subprocess
import sys
import time

BIN, WORK = sys.argv[1], sys.argv[2]
N = int(os.environ.get("BENCH_PROGRAMS", "50"))
STUBBORN = ["sh", "-c", 'trap "" TERM; echo $$ >> "$0"; exec sleep 100000']


def wait_for(cond, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit("bench: timed out waiting for " + what)
        time.sleep(0.01)


def pids_in(path):
    try:
        with open(path) as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def dead(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def qc_shutdown(lock_dir):
    t0 = time.monotonic()
    r = subprocess.run([os.path.join(BIN, "qc-shutdown"), "--lock-dir", lock_dir, "--yes", "--timeout", "1"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.monotonic() - t0
    if r.returncode != 0:
        raise SystemExit("bench: qc-shutdown failed: " + r.stderr)
    return elapsed


def under_qc_launch():
    d = os.path.join(WORK, "launch")
    os.makedirs(d)
    marks = os.path.join(d, "pids")
    cfg = {"ACCOUNTS": {}, "LAUNCH": {"lock_dir": os.path.join(d, "locks"),
                                      "programs": [{"name": "P%02d" % i, "command": STUBBORN[:3] + [marks]}
                                                   for i in range(N)]}}
    with open(os.path.join(d, "MASTER_CONFIG.json"), "w") as f:
        json.dump(cfg, f)
    launch = subprocess.Popen([os.path.join(BIN, "qc-launch"), os.path.join(d, "MASTER_CONFIG.json")],
                              stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for(lambda: len(pids_in(marks)) == N, "the programs")
    elapsed = qc_shutdown(os.path.join(d, "locks"))
    launch.wait()
    assert all(dead(p) for p in pids_in(marks))
    return elapsed


def under_qc_lock():
    d = os.path.join(WORK, "lock")
    os.makedirs(d)
    marks = os.path.join(d, "pids")
    holders = [subprocess.Popen([os.path.join(BIN, "qc-lock"), "--lock-dir", os.path.join(d, "locks"),
                                 "L%02d" % i, "--"] + STUBBORN[:3] + [marks], start_new_session=True)
               for i in range(N)]
    wait_for(lambda: len(pids_in(marks)) == N, "the programs")
    elapsed = qc_shutdown(os.path.join(d, "locks"))
    for h in holders:
        h.wait()
    assert all(dead(p) for p in pids_in(marks))
    return elapsed


def sequential():
    """SAFE_SHUTDOWN.py's way: one process at a time, terminate, wait, kill."""
    marks = os.path.join(WORK, "seq-pids")
    procs = [subprocess.Popen(STUBBORN[:3] + [marks], start_new_session=True) for _ in range(N)]
    wait_for(lambda: len(pids_in(marks)) == N, "the programs")
    t0 = time.monotonic()
    for p in procs:
        p.terminate()
        try:
            p.wait(timeout=1)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return time.monotonic() - t0


launch_s = under_qc_launch()
lock_s = under_qc_lock()
seq_s = sequential()
print("| measurement (%d programs ignoring SIGTERM, 1 s timeout) | time | ratio | target |" % N)
print("| --- | --- | --- | --- |")
print("| sequential, as SAFE_SHUTDOWN.py did it | %.2f s | 1.0 | |" % seq_s)
print("| `qc-shutdown --timeout 1`, programs under one qc-launch | %.2f s | %.0fx faster | < 2 s |"
      % (launch_s, seq_s / launch_s))
print("| `qc-shutdown --timeout 1`, 50 separate qc-lock holders | %.2f s | %.0fx faster | < 2 s |"
      % (lock_s, seq_s / lock_s))
