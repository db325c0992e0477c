"""bench/flood.py: what a program writing as fast as it can (`yes`) does to its neighbours
under qc-launch (see flood.sh).

Two figures, each with and without `yes` as an eleventh program, in one run:
- the median gap between a crash and the next start of 10 crash-looping programs (backoff
  0.1 s), over RUN_S seconds;
- the time from SIGTERM to qc-launch until its 10 running programs have exited.
"""
import json
import os
import signal
import statistics
import subprocess
import sys
import time

from benchlib import stamps, wait_for

BIN, STAMP, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
RUN_S = float(os.environ.get("BENCH_RUN_S", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


def launch(tag, hold, flood):
    work = os.path.join(WORK, tag)
    os.makedirs(work)
    programs = [{"name": "P%d" % i, "command": [STAMP, os.path.join(work, "p%d" % i)] + (["hold"] if hold else []),
                 "max_restarts": 1000000, "backoff_s": [0.1, 0.1]} for i in range(10)]
    if flood:
        programs.insert(0, {"name": "FLOOD", "command": ["yes"]})
    cfg = {"ACCOUNTS": {}, "LAUNCH": {"lock_dir": os.path.join(work, "locks"), "log_dir": os.path.join(work, "logs"),
                                      "programs": programs}}
    path = os.path.join(work, "MASTER_CONFIG.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    proc = subprocess.Popen([os.path.join(BIN, "qc-launch"), path], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    files = [os.path.join(work, "p%d" % i) for i in range(10)]
    wait_for(lambda: all(stamps(f) for f in files), 30, "10 programs")
    return proc, files


def restart_gap_ms(flood):
    proc, files = launch("gap-%s-%d" % ("flood" if flood else "alone", time.monotonic_ns()), False, flood)
    time.sleep(RUN_S)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    gaps = []
    for f in files:
        s = stamps(f)
        gaps += [(b - a) / 1e6 for a, b in zip(s, s[1:])]
    return statistics.median(gaps)


def gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


def stop_ms(flood):
    """SIGTERM to qc-launch until its 10 programs have exited (not its own exit: with `yes`
    it then logs what is left in the flood's pipe, up to 64 KiB of 2-byte lines)."""
    tag = "stop-%s-%d" % ("flood" if flood else "alone", time.monotonic_ns())
    proc, _ = launch(tag, True, flood)
    time.sleep(float(os.environ.get("BENCH_SETTLE_S", "3")))
    pids = []
    for i in range(10):
        with open(os.path.join(WORK, tag, "locks", "P%d.lock" % i)) as f:
            pids.append(json.load(f)["child_pid"])
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    while not all(gone(p) for p in pids):
        time.sleep(0.0005)
    elapsed = (time.monotonic() - started) * 1000
    proc.wait(timeout=60)
    return elapsed


def main():
    results = {}
    for name, fn in (("restart gap (ms)", restart_gap_ms), ("stop of 10 programs (ms)", stop_ms)):
        alone = statistics.median(fn(False) for _ in range(ROUNDS))
        flood = statistics.median(fn(True) for _ in range(ROUNDS))
        results[name] = (alone, flood)
        print("%-26s alone %8.1f   beside yes %8.1f   ratio %.2f" % (name, alone, flood, flood / alone))
    return results


if __name__ == "__main__":
    main()
