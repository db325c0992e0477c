"""The soak (make soak; not part of make test): qc-launch supervising 50 programs, half of
which crash every 0.1-2 s, for SOAK_SECONDS (180), while qc-ps and qc-heartbeat probe it in
loops. Checked throughout and at the end:
  - no program ever has two live instances (sampled every 50 ms from the process table);
  - every held lock file names a live process;
  - the orchestrator's open descriptors, RSS and child count stay flat (no leak, no zombie);
  - a final qc-shutdown leaves no program and no lock file.
Prints a report (Markdown) and exits non-zero when an invariant broke.

usage: soak.py BIN_DIR
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/bin")
SECONDS = float(os.environ.get("SOAK_SECONDS", "180"))
PROGRAMS = 50
PORT = int(os.environ.get("SOAK_PORT", "25655"))
TAG = "soak-%d" % os.getpid()


def proc_stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    fields = s[s.rfind(")") + 2:].split()
    return fields[0], int(fields[1])  # state, ppid


def orchestrator_sample(pid):
    fds = len(os.listdir("/proc/%d/fd" % pid))
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    children = 0
    zombies = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            state, ppid = proc_stat(int(entry))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
        if ppid == pid:
            children += 1
            if state == "Z":
                zombies.add(int(entry))
    # A program that has just exited is a zombie until qc-launch handles its exit (it kills
    # the rest of the group first, then reaps): that is the design, not a leak. A leak is a
    # zombie still unreaped a second later.
    transient = len(zombies)
    deadline = time.monotonic() + 1
    while zombies and time.monotonic() < deadline:
        time.sleep(0.02)
        zombies = {z for z in zombies if zombie_child_of(z, pid)}
    return {"fds": fds, "rss_kib": rss, "children": children, "zombies": len(zombies),
            "exiting": transient}


def zombie_child_of(z, pid):
    try:
        state, ppid = proc_stat(z)
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return False
    return state == "Z" and ppid == pid


def live_instances():
    """Program name -> PIDs of its live (non-zombie) instances. A process forked by an
    instance (a subshell about to exec) carries the same command line for a moment: it is
    part of that instance, not a second one, so processes whose parent runs the same program
    are not counted. An old instance that outlived its supervisor (its parent is init) is."""
    tagged = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                argv = f.read().split(b"\0")
            state, ppid = proc_stat(int(entry))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
        if state == "Z" or len(argv) < 2:
            continue
        last = (argv[-1] or argv[-2]).decode(errors="replace")
        if last.startswith(TAG + ":"):
            tagged[int(entry)] = (last, ppid)
    seen = {}
    for pid, (name, ppid) in tagged.items():
        if tagged.get(ppid, (None,))[0] == name:
            continue
        seen.setdefault(name, []).append(pid)
    return seen


def main():
    work = tempfile.mkdtemp(prefix="qc-soak-")
    lock_dir = os.path.join(work, "locks")
    programs = [{"name": "gateway", "command": [os.path.join(BIN, "qc-heartbeat"), "--serve",
                                                 "tcp://127.0.0.1:%d" % PORT, "--service", "soak"],
                 "ready": {"heartbeat": "tcp://127.0.0.1:%d" % PORT, "timeout_s": 10}}]
    for i in range(PROGRAMS - 1):
        name = "P%02d" % i
        if i % 2:
            # crashes after 0.1-2 s, is restarted, crashes again, for the whole soak
            body = "sleep %.2f; exit 1" % (0.1 + (i % 20) * 0.1)
        else:
            body = "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done"
        programs.append({"name": name, "command": ["sh", "-c", body, "%s:%s" % (TAG, name)]})
    cfg = {"ACCOUNTS": {}, "LAUNCH": {
        "lock_dir": lock_dir, "log_dir": os.path.join(work, "logs"),
        "defaults": {"restart": "on-failure", "max_restarts": 1000000, "backoff_s": [0.05, 0.2],
                     "reset_after_s": 5, "stop_timeout_s": 2},
        "programs": programs}}
    cfg_path = os.path.join(work, "MASTER_CONFIG.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)

    env = dict(os.environ, QC_LOCK_DIR=lock_dir)
    launch_log = open(os.path.join(work, "qc-launch.stderr"), "w")
    launch = subprocess.Popen([os.path.join(BIN, "qc-launch"), "--status-interval", "30", cfg_path],
                              stdout=subprocess.DEVNULL, stderr=launch_log, env=env,
                              start_new_session=True)
    failures = []
    duplicates = []
    stop = threading.Event()

    # Probing loops: qc-ps and qc-heartbeat, as monitoring would run them.
    probe_counts = {"qc-ps": 0, "qc-heartbeat": 0, "heartbeat_failures": 0}

    def probe_loop():
        while not stop.is_set():
            r = subprocess.run([os.path.join(BIN, "qc-ps"), "--all", "--json"], env=env,
                               capture_output=True, text=True)
            probe_counts["qc-ps"] += 1
            if r.returncode != 0:
                failures.append("qc-ps exited %d" % r.returncode)
            r = subprocess.run([os.path.join(BIN, "qc-heartbeat"), "-t", "2", "tcp://127.0.0.1:%d" % PORT],
                               capture_output=True, text=True)
            probe_counts["qc-heartbeat"] += 1
            if r.returncode != 0 and time.monotonic() > started + 5:
                probe_counts["heartbeat_failures"] += 1

    def duplicate_loop():
        while not stop.is_set():
            for name, pids in live_instances().items():
                if len(pids) > 1:
                    duplicates.append((time.monotonic() - started, name, pids))
            time.sleep(0.05)

    started = time.monotonic()
    deadline = started + 60
    while len(live_instances()) < PROGRAMS - 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    threads = [threading.Thread(target=probe_loop), threading.Thread(target=duplicate_loop)]
    for t in threads:
        t.start()

    samples = []
    next_sample = time.monotonic()
    while time.monotonic() - started < SECONDS:
        if launch.poll() is not None:
            failures.append("qc-launch exited early with %d" % launch.returncode)
            break
        if time.monotonic() >= next_sample:
            s = orchestrator_sample(launch.pid)
            s["t"] = round(time.monotonic() - started)
            samples.append(s)
            # Every held lock file names a live process.
            r = subprocess.run([os.path.join(BIN, "qc-ps"), "--json"], env=env, capture_output=True, text=True)
            for row in map(json.loads, r.stdout.splitlines()):
                if row["state"] != "running":
                    failures.append("t=%ss: %s is %s" % (s["t"], row["name"], row["state"]))
            next_sample += 10
        time.sleep(0.2)

    rows = [json.loads(l) for l in subprocess.run([os.path.join(BIN, "qc-ps"), "--json"], env=env,
                                                  capture_output=True, text=True).stdout.splitlines()]
    restarts = sum(r["restarts"] or 0 for r in rows)
    stop.set()
    for t in threads:
        t.join()

    r = subprocess.run([os.path.join(BIN, "qc-shutdown"), "--yes", "--timeout", "5"], env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        failures.append("qc-shutdown exited %d: %s" % (r.returncode, r.stderr[-500:]))
    try:
        launch.wait(timeout=60)
    except subprocess.TimeoutExpired:
        failures.append("qc-launch did not stop")
        os.killpg(launch.pid, signal.SIGKILL)
    left = live_instances()
    if left:
        failures.append("programs left after qc-shutdown: %s" % sorted(left))
    if os.path.isdir(lock_dir) and os.listdir(lock_dir):
        failures.append("lock files left: %s" % os.listdir(lock_dir))

    if not samples:
        print("SOAK FAILED before the first sample:\n  " + "\n  ".join(failures), file=sys.stderr)
        print(open(os.path.join(work, "qc-launch.stderr")).read()[-2000:], file=sys.stderr)
        return 1
    first, middle, last = samples[0], samples[len(samples) // 2], samples[-1]
    if last["fds"] > first["fds"] + 2:
        failures.append("descriptors grew: %d -> %d" % (first["fds"], last["fds"]))
    if last["rss_kib"] > first["rss_kib"] * 1.25 + 1024:
        failures.append("RSS grew: %d -> %d KiB" % (first["rss_kib"], last["rss_kib"]))
    if max(s["children"] for s in samples) > PROGRAMS or max(s["zombies"] for s in samples) > 0:
        failures.append("children or zombies beyond the programs: %s" % samples)
    if duplicates:
        failures.append("duplicates: %s" % duplicates[:5])

    print("| soak: %d programs, %d crashing every 0.1-2 s, %.0f s | start | middle | end |"
          % (PROGRAMS, (PROGRAMS - 1) // 2, SECONDS))
    print("| --- | --- | --- | --- |")
    print("| time (s) | %d | %d | %d |" % (first["t"], middle["t"], last["t"]))
    print("| orchestrator open descriptors | %d | %d | %d |" % (first["fds"], middle["fds"], last["fds"]))
    print("| orchestrator RSS | %.1f MiB | %.1f MiB | %.1f MiB |"
          % (first["rss_kib"] / 1024, middle["rss_kib"] / 1024, last["rss_kib"] / 1024))
    print("| orchestrator children (zombies) | %d (%d) | %d (%d) | %d (%d) |"
          % (first["children"], first["zombies"], middle["children"], middle["zombies"],
             last["children"], last["zombies"]))
    print()
    print("Zombies: %d caught in passing over %d samples (a program that had just exited, before "
          "qc-launch reaped it), none still unreaped a second later."
          % (sum(s["exiting"] for s in samples), len(samples))
          if not any(s["zombies"] for s in samples) else "Zombies left unreaped: see the failures.")
    print("Restarts done: %d. Duplicates seen: %d. qc-ps runs: %d, qc-heartbeat probes: %d (%d failed)."
          % (restarts, len(duplicates), probe_counts["qc-ps"], probe_counts["qc-heartbeat"],
             probe_counts["heartbeat_failures"]))
    print("Final qc-shutdown: %s." % ("nothing left" if not left and not os.listdir(lock_dir) else "LEFTOVERS"))
    shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("\nSOAK FAILED:\n  " + "\n  ".join(failures[:20]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
