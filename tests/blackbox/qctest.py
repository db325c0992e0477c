"""Shared harness for the black-box tests: run the built qc binaries, in temp directories,
on loopback only. Every process a test starts gets its own session (so its own process
group) and is killed by PID in teardown; nothing is ever killed by name. Waits poll a
condition against a deadline; nothing sleeps and hopes.

Environment: QC_BIN_DIR (the built binaries), QC_EXE_SUFFIX (".exe" under Wine),
QC_RUNNER (a command prefix such as "wine"), QC_PYTHON (an interpreter with zmq).
"""
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

BIN_DIR = os.environ.get("QC_BIN_DIR", os.path.join(os.path.dirname(__file__), "../../build/bin"))
EXE_SUFFIX = os.environ.get("QC_EXE_SUFFIX", "")
RUNNER = os.environ.get("QC_RUNNER", "").split()
# Added to the time limits a test asserts as a promise (a takeover within TTL + 1 s): the
# sanitized suites (make asan, make tsan) run instrumented binaries several times slower and
# set it; the native suite and bench/ hold the promise itself.
TIME_SLACK = float(os.environ.get("QC_TEST_TIME_SLACK", "0"))
PYTHON = os.environ.get("QC_PYTHON", "/usr/bin/python3")
HELPERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "helpers")


def tool(name):
    """The command prefix that runs qc tool `name` ("qc-lock")."""
    return RUNNER + [os.path.abspath(os.path.join(BIN_DIR, name + EXE_SUFFIX))]


def helper(name):
    return [PYTHON, os.path.join(HELPERS, name)]


def wait_until(condition, timeout=10.0, interval=0.005, message="condition"):
    """Polls `condition` until it returns a truthy value or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, message))
        time.sleep(interval)


def proc_state(pid):
    """'R', 'S', 'Z'... or None when the PID is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat[stat.rfind(")") + 2]


def proc_start(pid):
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    return int(stat[stat.rfind(")") + 2:].split()[19])


def is_dead(pid):
    """Gone or a zombie: PID 1 here does not reap orphans."""
    return proc_state(pid) in (None, "Z", "X")


def read_text(path):
    """The file's text, or "" when it does not exist (yet)."""
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def blocked_in_poll(pid):
    """True when the process sleeps in poll/ppoll/epoll_wait (x86_64 syscall numbers)."""
    fields = read_text("/proc/%d/syscall" % pid).split()
    return proc_state(pid) == "S" and bool(fields) and fields[0] in ("7", "271", "232", "281")


def second_user(name="qcsecond"):
    """A second, unprivileged user (created with useradd when missing: the tests run as root)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", name], check=True)
        return pwd.getpwnam(name)


CAN_SWITCH_USER = os.geteuid() == 0 and shutil.which("useradd") and shutil.which("runuser")


def dead_pid():
    """The PID of a process that has exited and been reaped."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


class QcTestCase(unittest.TestCase):
    """A temp directory as cwd-independent lock dir, and process bookkeeping."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="qc-test-")
        self.lock_dir = os.path.join(self.tmp, "locks")
        self._procs = []
        self.env = dict(os.environ, QC_LOCK_DIR=self.lock_dir)

    def tearDown(self):
        for p in self._procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
            for stream in (p.stdin, p.stdout, p.stderr):
                if stream:
                    stream.close()
        self._kill_extra_pids()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _kill_extra_pids(self):
        for pid, start in getattr(self, "_extra_pids", []):
            try:
                if proc_state(pid) not in (None, "Z") and proc_start(pid) == start:
                    os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, FileNotFoundError):
                pass

    def track_pid(self, pid):
        """Kill this PID (if it is still the same process) in teardown."""
        if not hasattr(self, "_extra_pids"):
            self._extra_pids = []
        try:
            self._extra_pids.append((pid, proc_start(pid)))
        except FileNotFoundError:
            pass

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def lock_path(self, name):
        return os.path.join(self.lock_dir, name + ".lock")

    def run_tool(self, name, *args, input=None, timeout=60, env=None, cwd=None):
        """Runs a tool to completion; returns CompletedProcess with text stdout/stderr."""
        return subprocess.run(tool(name) + list(args), input=input, capture_output=True,
                              text=True, timeout=timeout, env=env or self.env,
                              cwd=cwd or self.tmp, start_new_session=True)

    def start(self, argv, env=None, cwd=None, **kwargs):
        """Starts a process in its own session; it is killed (group) in teardown."""
        kwargs.setdefault("stdout", subprocess.DEVNULL)
        kwargs.setdefault("stderr", subprocess.DEVNULL)
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen(argv, env=env or self.env, cwd=cwd or self.tmp,
                             start_new_session=True, **kwargs)
        self._procs.append(p)
        return p

    def start_tool(self, name, *args, **kwargs):
        return self.start(tool(name) + list(args), **kwargs)

    def read_record(self, name):
        try:
            with open(self.lock_path(name)) as f:
                return json.loads(f.read())
        except (FileNotFoundError, ValueError):
            return None

    def wait_for_child(self, name, timeout=10):
        """Waits until NAME's lock file records a child; returns the record."""
        return wait_until(lambda: (self.read_record(name) or {}).get("child_pid") and
                          self.read_record(name), timeout, message="%s's child" % name)

    def reporter(self):
        """A term_reporter.py command line, and the directory it reports its signals into."""
        out = self.path("out")
        os.makedirs(out)
        return helper("term_reporter.py") + [out], out

    def wait_for_reporter(self, name, out):
        """The PID of the term_reporter.py that a tool runs as NAME, once its signal handlers
        are set; killed in teardown if it is still that process."""
        child = self.wait_for_child(name)["child_pid"]
        self.track_pid(child)
        wait_until(lambda: os.path.exists(os.path.join(out, "ready.%d" % child)),
                   message="%s's signal handlers" % name)
        return child

    def write_lock_file(self, name, content):
        os.makedirs(self.lock_dir, exist_ok=True)
        mode = "wb" if isinstance(content, bytes) else "w"
        with open(self.lock_path(name), mode) as f:
            f.write(content if isinstance(content, (bytes, str)) else json.dumps(content))

    def ps_json(self, *args):
        r = self.run_tool("qc-ps", "--json", *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [json.loads(line) for line in r.stdout.splitlines()]

    def qc_record(self, name, pid, pid_start, **extra):
        record = {"name": name, "pid": pid, "account": None,
                  "timestamp": "2026-02-11T10:00:00.000+00:00", "host": "test", "version": 1,
                  "pid_start": pid_start, "child_pid": None, "child_start": None,
                  "command": ["python", name + ".py"], "tool": "qc-lock", "restarts": 0}
        record.update(extra)
        return record

    def legacy_record(self, name, pid, timestamp=None):
        """process_lock.py's record, stamped now (local time, no offset, as it wrote them):
        a legacy holder counts only if it started before its file's timestamp."""
        import datetime
        return {"name": name, "pid": pid, "account": "212000584",
                "timestamp": timestamp or datetime.datetime.now().isoformat(), "host": "test"}
