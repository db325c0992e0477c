"""bench/supervise.py: qc-run / qc-launch against supervisord, in one run (see supervise.sh).

Figures: the median gap between a crash and the next start with zero backoff; the
orchestrator's CPU time while 50 healthy programs run for 30 s; its RSS with 100 programs;
the time to start 100 programs without readiness checks; its CPU time while 50 programs are
health-checked every second; how long a hung program takes to be found and restarted.
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

from benchlib import stamps, wait_for

BIN, STAMP, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
IDLE_S = float(os.environ.get("BENCH_IDLE_S", "30"))
SUPERVISORD = shutil.which("supervisord")


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


def launch_and_wait(cfg, n):
    """qc-launch --json on CFG, once it has reported N programs started."""
    proc = subprocess.Popen([os.path.join(BIN, "qc-launch"), "--json", cfg], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    started = 0
    for line in proc.stdout:
        if '"event":"started"' in line:
            started += 1
            if started == n:
                break
    return proc


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
    proc = launch_and_wait(cfg, n)
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


def free_port():
    import socket
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        return sk.getsockname()[1]


# 5. 50 programs health-checked every second (a heartbeat to one responder), CPU over IDLE_S.
def run_health(n, kind):
    d = os.path.join(WORK, "health-%s" % kind)
    os.makedirs(d)
    endpoint = "tcp://127.0.0.1:%d" % free_port()
    responder = subprocess.Popen([os.path.join(BIN, "qc-heartbeat"), "--serve", endpoint],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    target = {"heartbeat": endpoint} if kind == "heartbeat" else {"tcp": endpoint[len("tcp://"):]}
    cfg = {"ACCOUNTS": {}, "LAUNCH": {"lock_dir": os.path.join(d, "locks"), "programs": [
        {"name": "H%03d" % i, "command": [STAMP, os.path.join(d, "%d.stamp" % i), "hold"],
         "health": dict(target, interval_s=1, timeout_s=0.5, failures=3)} for i in range(n)]}}
    path = os.path.join(d, "MASTER_CONFIG.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    proc = launch_and_wait(path, n)
    time.sleep(1.5)  # the first checks begin one interval after each start
    before = cpu_ns(proc.pid)
    time.sleep(IDLE_S)
    cpu_ms = (cpu_ns(proc.pid) - before) / 1e6
    stop(proc)
    proc.stdout.close()
    stop(responder)
    return cpu_ms


# 6. A program that hangs (SIGSTOP): from the hang to the unhealthy event, and from there to
# the next run. interval 1 s, timeout 0.5 s, 3 failures, stop_timeout 0, backoff 0.
def run_hang():
    d = os.path.join(WORK, "hang")
    os.makedirs(d)
    endpoint = "tcp://127.0.0.1:%d" % free_port()
    cfg = {"ACCOUNTS": {}, "LAUNCH": {"lock_dir": os.path.join(d, "locks"), "programs": [
        {"name": "HUNG", "command": [os.path.join(BIN, "qc-heartbeat"), "--serve", endpoint],
         "health": {"heartbeat": endpoint, "interval_s": 1, "timeout_s": 0.5, "failures": 3},
         "stop_timeout_s": 0, "backoff_s": [0, 0]}]}}
    path = os.path.join(d, "MASTER_CONFIG.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    proc = subprocess.Popen([os.path.join(BIN, "qc-launch"), "--json", path], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    first = json.loads(proc.stdout.readline())
    time.sleep(2.2)  # two good checks: the hang starts 0.2 s after the second
    os.kill(first["pid"], signal.SIGSTOP)
    hung = time.monotonic()
    unhealthy = restarted = None
    for line in proc.stdout:
        e = json.loads(line)
        if e["event"] == "unhealthy":
            unhealthy = time.monotonic()
        elif e["event"] == "started" and unhealthy:
            restarted = time.monotonic()
            break
    stop(proc)
    proc.stdout.close()
    return (unhealthy - hung) * 1000, (restarted - unhealthy) * 1000


# 7. A control request's round trip: STATUS to a running qc-launch (qc-heartbeat keeps its
# socket between probes, as a monitoring client would), against supervisord's XML-RPC
# getAllProcessInfo over its Unix socket (what supervisorctl status asks), 1,000 each.
SV_CLIENT = """
import statistics, sys, time, xmlrpc.client
from supervisor.xmlrpc import SupervisorTransport
proxy = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=SupervisorTransport(None, None, "unix://" + sys.argv[1]))
proxy.supervisor.getAllProcessInfo()
rtts = []
for _ in range(1000):
    t = time.perf_counter()
    proxy.supervisor.getAllProcessInfo()
    rtts.append((time.perf_counter() - t) * 1000)
print(statistics.median(rtts))
"""


def run_control():
    d = os.path.join(WORK, "control")
    os.makedirs(d)
    cfg = {"ACCOUNTS": {}, "LAUNCH": {"lock_dir": os.path.join(d, "locks"), "programs": [
        {"name": "P%d" % i, "command": [STAMP, os.path.join(d, "%d.stamp" % i), "hold"]} for i in range(5)]}}
    path = os.path.join(d, "MASTER_CONFIG.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    proc = launch_and_wait(path, 5)
    record = os.path.join(d, "locks", "MASTER_LAUNCH.lock")
    def control_endpoint():
        try:
            with open(record) as f:
                return json.load(f).get("control")
        except (OSError, ValueError):
            return None
    wait_for(control_endpoint, 10, "the control endpoint")
    endpoint = control_endpoint()
    out = {}
    for action in ("STATUS", "HEARTBEAT"):
        r = subprocess.run([os.path.join(BIN, "qc-heartbeat"), "--action", action, "-c", "1000", "-i", "0", "--json",
                            endpoint], capture_output=True, text=True, check=True)
        out[action] = statistics.median(json.loads(l)["rtt_ms"] for l in r.stdout.splitlines())
    stop(proc)
    proc.stdout.close()
    if SUPERVISORD and os.path.exists("/usr/bin/python3"):
        sock = os.path.join(d, "sv.sock")
        conf = supervisord_config(5, lambda i: "%s %s hold" % (STAMP, os.path.join(d, "sv%d.stamp" % i)),
                                  os.path.join(d, "supervisord.conf"))
        with open(conf, "a") as f:
            f.write("\n[unix_http_server]\nfile=%s\n[rpcinterface:supervisor]\n"
                    "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n" % sock)
        sv = subprocess.Popen([SUPERVISORD, "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
        wait_for(lambda: os.path.exists(sock), 30, "supervisord's socket")
        r = subprocess.run(["/usr/bin/python3", "-c", SV_CLIENT, sock], capture_output=True, text=True)
        out["sv"] = float(r.stdout) if r.returncode == 0 else None
        stop(sv)
    return out


control = run_control()
health_hb_cpu = run_health(50, "heartbeat")
health_tcp_cpu = run_health(50, "tcp")
hang_detect_ms, hang_restart_ms = run_hang()

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


def row(what, qc, sv, unit, target, fmt="%.2f", sv_has_it=True):
    qc_text = (fmt % qc) + " " + unit
    sv_text = (fmt % sv) + " " + unit if sv is not None else ("not installed" if sv_has_it else "no such thing")
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
row("orchestrator CPU time, 50 programs health-checked every second (heartbeat), %g s" % IDLE_S,
    health_hb_cpu, None, "ms", "< 200 ms", sv_has_it=False)
row("the same with TCP-connect checks", health_tcp_cpu, None, "ms", "< 200 ms", sv_has_it=False)
# The hang begins 0.2 s after a good check: 3 failed checks end 2.8 s + one 0.5 s timeout later.
row("a hung program: hang to `unhealthy` (3 checks 1 s apart, 0.5 s timeout; expected 3.3 s)",
    hang_detect_ms, None, "ms", "3300 ms +- 50", sv_has_it=False)
row("control round trip, STATUS of 5 programs, 1,000 sequential, median (supervisord: XML-RPC getAllProcessInfo)",
    control["STATUS"], control.get("sv"), "ms", "< 1 ms", fmt="%.3f")
row("control round trip, HEARTBEAT, median", control["HEARTBEAT"], None, "ms", "< 1 ms", fmt="%.3f",
    sv_has_it=False)
row("a hung program: `unhealthy` to its next run (stop_timeout 0, backoff 0)", hang_restart_ms, None, "ms",
    "< 50 ms", sv_has_it=False)
