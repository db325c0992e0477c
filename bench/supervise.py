"""bench/supervise.py: qc-run / qc-launch against supervisord, in one run (see supervise.sh).

Figures: the median gap between a crash and the next start with zero backoff; the
orchestrator's CPU time while 50 healthy programs run for 30 s; its RSS with 100 programs;
the time to start 100 programs without readiness checks.
"""
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

BIN, STAMP, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
IDLE_S = float(os.environ.get("BENCH_IDLE_S", "30"))
SUPERVISORD = shutil.which("supervisord")


def stamps(path):
    try:
        with open(path) as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def gaps_ms(values):
    return [(b - a) / 1e6 for a, b in zip(values, values[1:])]


def cpu_ns(pid):
    """On-CPU time of every thread of `pid`, in ns (schedstat, not the 10 ms tick)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
            total += int(f.read().split()[0])
    return total


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit("bench: timed out waiting for %s" % what)
        time.sleep(0.01)


def launch_config(n, command, path):
    cfg = {"ACCOUNTS": {}, "LAUNCH": {"lock_dir": os.path.join(WORK, "locks"),
                                      "programs": [{"name": "P%03d" % i, "command": command(i)}
                                                   for i in range(n)]}}
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def supervisord_config(n, command, path):
    lines = ["[supervisord]", "nodaemon=true", "logfile=%s/sv.log" % WORK,
             "pidfile=%s/sv.pid" % WORK, "childlogdir=%s" % WORK, ""]
    for i in range(n):
        lines += ["[program:p%03d]" % i, "command=%s" % command(i), "autorestart=true",
                  "startsecs=0", "startretries=1000000", "exitcodes=0", "stdout_logfile=NONE",
                  "stderr_logfile=NONE", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


results = {}

# 1. Crash to restart, zero backoff.
runs = 300
f = os.path.join(WORK, "qc.stamps")
subprocess.run([os.path.join(BIN, "qc-run"), "--lock-dir", os.path.join(WORK, "locks"),
                "--backoff", "0,0", "--max-restarts", str(runs - 1), "CRASH", "--", STAMP, f],
               stderr=subprocess.DEVNULL, check=False)
results["qc_gap_ms"] = statistics.median(gaps_ms(stamps(f)))
if SUPERVISORD:
    f = os.path.join(WORK, "sv.stamps")
    conf = supervisord_config(1, lambda i: "%s %s" % (STAMP, f), os.path.join(WORK, "gap.conf"))
    sv = subprocess.Popen([SUPERVISORD, "-c", conf], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for(lambda: len(stamps(f)) >= 60, 120, "supervisord's restarts")
    stop(sv)
    results["sv_gap_ms"] = statistics.median(gaps_ms(stamps(f)))

# 2-4. 100 programs for start-up time and RSS; 50 for idle CPU.
def run_launch(n, measure_idle):
    d = os.path.join(WORK, "launch%d" % n)
    os.makedirs(d)
    cfg = launch_config(n, lambda i: [STAMP, os.path.join(d, "%d.stamp" % i), "hold"],
                        os.path.join(d, "MASTER_CONFIG.json"))
    t0 = time.monotonic()
    proc = subprocess.Popen([os.path.join(BIN, "qc-launch"), "--json", cfg], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    started = 0
    for line in proc.stdout:
        if '"event":"started"' in line:
            started += 1
            if started == n:
                break
    elapsed = time.monotonic() - t0
    out = {"start_s": elapsed, "rss_kib": rss_kib(proc.pid)}
    if measure_idle:
        before = cpu_ns(proc.pid)
        time.sleep(IDLE_S)
        out["idle_cpu_ms"] = (cpu_ns(proc.pid) - before) / 1e6
    stop(proc)
    proc.stdout.close()
    return out


def run_supervisord(n, measure_idle):
    d = os.path.join(WORK, "sv%d" % n)
    os.makedirs(d)
    conf = supervisord_config(n, lambda i: "%s %s hold" % (STAMP, os.path.join(d, "%d.stamp" % i)),
                              os.path.join(d, "supervisord.conf"))
    t0 = time.monotonic()
    sv = subprocess.Popen([SUPERVISORD, "-c", conf], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for(lambda: all(os.path.exists(os.path.join(d, "%d.stamp" % i)) for i in range(n)),
             120, "supervisord's programs")
    out = {"start_s": time.monotonic() - t0, "rss_kib": rss_kib(sv.pid)}
    if measure_idle:
        before = cpu_ns(sv.pid)
        time.sleep(IDLE_S)
        out["idle_cpu_ms"] = (cpu_ns(sv.pid) - before) / 1e6
    stop(sv)
    return out


qc100 = run_launch(100, False)
qc50 = run_launch(50, True)
sv100 = run_supervisord(100, False) if SUPERVISORD else None
sv50 = run_supervisord(50, True) if SUPERVISORD else None


def ratio(qc, sv):
    if sv is None:
        return "-"
    if qc <= 0:
        return "qc used none"
    return "%.0fx less" % (sv / qc)


def row(what, qc, sv, unit, target, fmt="%.2f"):
    qc_text = (fmt % qc) + " " + unit
    sv_text = (fmt % sv) + " " + unit if sv is not None else "not installed"
    print("| %s | %s | %s | %s | %s |" % (what, qc_text, sv_text, ratio(qc, sv), target))


print("| measurement | qc | supervisord | ratio | target |")
print("| --- | --- | --- | --- | --- |")
row("median crash-to-restart gap, zero backoff", results["qc_gap_ms"], results.get("sv_gap_ms"),
    "ms", "< 5 ms")
row("orchestrator CPU time, 50 healthy programs for %g s" % IDLE_S, qc50["idle_cpu_ms"],
    sv50["idle_cpu_ms"] if sv50 else None, "ms", "< 10 ms")
row("orchestrator RSS with 100 programs", qc100["rss_kib"] / 1024.0,
    sv100["rss_kib"] / 1024.0 if sv100 else None, "MiB", "< 10 MiB")
row("time to start 100 programs, no readiness checks", qc100["start_s"],
    sv100["start_s"] if sv100 else None, "s", "< 1 s", fmt="%.3f")
