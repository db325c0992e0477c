"""The edges of the one-copy promise (issue 11): descendants, a program that gave up, what
qc-ps says, SIGHUP. Each test failed on the main it was written against."""
import json
import os
import signal
import subprocess
import time
import unittest

from qctest import PYTHON, QcTestCase, is_dead, proc_start, proc_state, read_text, wait_until

# A command that leaves a process holding the lock behind and exits at once: a plain
# background child, or a double-forked setsid() daemon (what launchers and `start` do).
BACKGROUND = ["sh", "-c", 'sleep 60 & echo $! > "$0"; exit 0']
DAEMON = [PYTHON, "-c", """
import os, sys, time
if os.fork():
    sys.exit(0)
os.setsid()
if os.fork():
    os._exit(0)
open(sys.argv[1] + ".tmp", "w").write(str(os.getpid()))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(60)
"""]


class EdgeTestCase(QcTestCase):
    def config(self, programs, **launch):
        cfg = {"ACCOUNTS": {}, "LAUNCH": dict({"lock_dir": self.lock_dir, "log_dir": self.path("logs"),
                                               "programs": programs}, **launch)}
        path = self.path("MASTER_CONFIG.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    def started_by_hand(self, script_name, copies=1):
        """Copies of a python script started by hand, outside qc, each once it runs the script
        (with another interpreter path than a config's "python3")."""
        script = self.path(script_name)
        with open(script, "w") as f:
            f.write("import time\ntime.sleep(60)\n")
        started = [self.start([PYTHON, script]) for _ in range(copies)]
        for c in started:
            wait_until(lambda: script_name in read_text("/proc/%d/cmdline" % c.pid), message="a copy")
        return started

    def ps_row(self, name):
        rows = [r for r in self.ps_json() if r["name"] == name]
        return rows[0] if rows else None


class DescendantsTest(EdgeTestCase):
    """Items 1 and 2: what a command leaves running holds the name, is named, and stops."""

    def leftover(self, command, *options):
        pidfile = self.path("leftover.pid")
        wrapper = self.start_tool("qc-lock", *options, "G", "--", *command, pidfile,
                                  stderr=subprocess.PIPE, text=True)
        pid = int(wait_until(lambda: read_text(pidfile), message="the leftover's PID"))
        self.track_pid(pid)
        return wrapper, pid

    def check_held_named_and_stopped(self, wrapper, pid):
        self.assertEqual(self.run_tool("qc-lock", "G", "--", "true").returncode, 75,
                         "a second copy must not start while the leftover lives")
        self.assertEqual(self.run_tool("qc-lock", "-w", "0.3", "G", "--", "true").returncode, 75)
        row = wait_until(lambda: (self.ps_row("G") or {}).get("child_pid") == pid and self.ps_row("G"),
                         message="qc-ps naming the leftover")
        self.assertEqual(self.run_tool("qc-ps", "-q", "G").stdout.split(), [str(pid)])
        r = self.run_tool("qc-shutdown", "--yes", "--timeout", "5", "G")
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_until(lambda: is_dead(pid), message="the leftover's end")
        self.assertFalse(os.path.exists(self.lock_path("G")))
        self.assertEqual(self.run_tool("qc-lock", "G", "--", "true").returncode, 0)
        return row

    def test_a_background_child_keeps_the_name_until_it_exits(self):
        wrapper, pid = self.leftover(BACKGROUND)
        wait_until(lambda: "left a process running" in (wrapper.stderr.readline() or ""),
                   message="qc-lock's report of the leftover")
        self.check_held_named_and_stopped(wrapper, pid)
        self.assertEqual(wrapper.wait(timeout=10), 0, "the exit status stays the command's")

    def test_a_double_forked_setsid_daemon_keeps_the_name_until_it_exits(self):
        wrapper, pid = self.leftover(DAEMON)
        self.assertNotEqual(os.getsid(pid), os.getsid(wrapper.pid), "the daemon left the session")
        self.check_held_named_and_stopped(wrapper, pid)
        self.assertEqual(wrapper.wait(timeout=10), 0)

    def test_the_leftover_exiting_by_itself_frees_the_name(self):
        pidfile = self.path("leftover.pid")
        wrapper = self.start_tool("qc-lock", "G", "--", "sh", "-c",
                                  'sleep 0.5 & echo $! > "$0"; exit 3', pidfile)
        self.assertEqual(wrapper.wait(timeout=20), 3)
        self.assertTrue(is_dead(int(read_text(pidfile))))
        self.assertFalse(os.path.exists(self.lock_path("G")))

    def test_kill_descendants_stops_them_and_keeps_the_commands_status(self):
        pidfile = self.path("leftover.pid")
        r = self.run_tool("qc-lock", "--kill-descendants", "--stop-timeout", "5", "G", "--",
                          *DAEMON, pidfile)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(is_dead(int(read_text(pidfile))))
        self.assertEqual(self.run_tool("qc-lock", "G", "--", "true").returncode, 0)

    def test_a_killed_wrappers_daemon_is_named_by_qc_ps_and_stopped_by_qc_shutdown(self):
        wrapper, pid = self.leftover(DAEMON)
        wait_until(lambda: (self.read_record("G") or {}).get("child_pid") == pid, message="the record")
        os.kill(wrapper.pid, signal.SIGKILL)
        wrapper.wait()
        row = self.ps_row("G")
        self.assertEqual((row["state"], row["child_pid"]), ("orphaned", pid))
        self.check_held_named_and_stopped(wrapper, pid)

    def test_qc_shutdown_finds_an_unrecorded_holder_by_its_open_lock_file(self):
        # The record names a command that is gone; the holder is a process in no record.
        pidfile = self.path("holder.pid")
        os.makedirs(self.lock_dir)
        holder = self.start([PYTHON, "-c", """
import fcntl, os, struct, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi4x", fcntl.F_WRLCK, 0, 0, 0, 0))
os.pwrite(fd, b"not a record", 0)
open(sys.argv[2], "w").write(str(os.getpid()))
time.sleep(60)
""", self.lock_path("U"), pidfile])
        wait_until(lambda: read_text(pidfile), message="the holder")
        r = self.run_tool("qc-shutdown", "--yes", "--timeout", "5", "U")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIsNotNone(holder.wait(timeout=10))
        self.assertFalse(os.path.exists(self.lock_path("U")))


class GaveUpTest(EdgeTestCase):
    """Item 3: a program that gave up must not look healthy."""

    def test_a_program_that_gave_up_is_failed_in_qc_ps_and_check_says_so(self):
        cfg = self.config([{"name": "UP", "command": ["sleep", "1000"]},
                           {"name": "CRASHY", "command": ["sh", "-c", "exit 3"], "max_restarts": 2,
                            "backoff_s": [0.01, 0.01]}])
        sup = self.start_tool("qc-launch", cfg)
        row = wait_until(lambda: (self.ps_row("CRASHY") or {}).get("state") == "failed" and
                         self.ps_row("CRASHY"), message="CRASHY failed")
        self.assertIsNone(row["child_pid"])
        self.assertIsNone(row["uptime_s"], "no run, no uptime")
        self.assertEqual(row["last_status"], 3)
        self.assertEqual(row["restarts"], 2)
        table = self.run_tool("qc-ps").stdout
        self.assertRegex(table, r"\nCRASHY\s+failed\s")
        self.assertRegex(table, r"\nUP\s+running\s")
        self.assertEqual(self.run_tool("qc-ps", "--check").returncode, 1, "--check sees the failure")
        self.assertEqual(self.run_tool("qc-ps", "--check", "UP").returncode, 0)
        self.assertEqual(self.run_tool("qc-lock", "CRASHY", "--", "true").returncode, 75,
                         "the name stays held, so nothing restarts it behind the supervisor's back")
        os.kill(sup.pid, signal.SIGTERM)
        self.assertEqual(sup.wait(timeout=30), 0)

    def test_uptime_and_state_are_the_current_runs(self):
        flag = self.path("crash-once")
        open(flag, "w").close()
        # Runs 2 s, crashes once, then runs on: UPTIME must count from the second run.
        script = 'if [ -e "$0" ]; then rm "$0"; sleep 2; exit 9; fi; exec sleep 1000'
        sup = self.start_tool("qc-run", "--backoff", "0.5,0.5", "AGAIN", "--", "sh", "-c", script, flag)
        wait_until(lambda: not os.path.exists(flag), message="the first run")
        restarting = wait_until(lambda: (self.ps_row("AGAIN") or {}).get("state") == "restarting" and
                                self.ps_row("AGAIN"), message="restarting")
        self.assertEqual(restarting["last_status"], 9)
        row = wait_until(lambda: (self.ps_row("AGAIN") or {}).get("child_pid") and self.ps_row("AGAIN"),
                         message="the second run")
        self.assertEqual((row["state"], row["restarts"]), ("running", 1))
        self.assertLess(row["uptime_s"], 2, "UPTIME is the current run's, not the lock's")
        self.assertIsNotNone(row["run_started"])
        self.assertLess(row["held_since"], row["run_started"])
        os.kill(sup.pid, signal.SIGTERM)
        self.assertEqual(sup.wait(timeout=30), 0)


class PidsForXargsTest(EdgeTestCase):
    """Item 7: `qc-ps -q BRAIN_X | xargs kill` must not stop the orchestrator."""

    def test_q_prints_the_program_not_the_orchestrator(self):
        cfg = self.config([{"name": "A", "command": ["sleep", "1000"]},
                           {"name": "B", "command": ["sleep", "1000"]}])
        sup = self.start_tool("qc-launch", cfg)
        b = wait_until(lambda: (self.ps_row("B") or {}).get("child_pid"), message="B's child")
        self.assertEqual(self.run_tool("qc-ps", "-q", "B").stdout.split(), [str(b)])
        os.kill(b, signal.SIGTERM)
        wait_until(lambda: (self.ps_row("B") or {}).get("child_pid") not in (None, b),
                   message="B restarted")
        self.assertIsNone(sup.poll(), "the orchestrator runs on")
        os.kill(sup.pid, signal.SIGTERM)
        self.assertEqual(sup.wait(timeout=30), 0)


class UnmanagedCopiesTest(EdgeTestCase):
    """Item 5: copies started outside any lock are caught by default."""

    def test_the_pre_check_refuses_to_start_beside_an_unmanaged_copy(self):
        [copy] = self.started_by_hand("BRAIN_SCAN.py")
        cfg = self.config([{"name": "BRAIN_SCAN", "command": ["python3", "BRAIN_SCAN.py"]}])
        r = self.run_tool("qc-launch", cfg)
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertIn("BRAIN_SCAN already runs outside qc as PID %d" % copy.pid, r.stderr)
        self.assertEqual(self.ps_json(), [], "nothing started, no lock left")
        sup = self.start_tool("qc-launch", "--no-scan", cfg)
        self.wait_for_child("BRAIN_SCAN")
        os.kill(sup.pid, signal.SIGTERM)
        self.assertEqual(sup.wait(timeout=30), 0)


class ShutdownByConfigTest(EdgeTestCase):
    """Item 5: qc-shutdown --config finds copies started by hand, without a regex."""

    def test_config_matches_every_program_of_the_config(self):
        copies = self.started_by_hand("BRAIN_HAND.py", copies=3)  # the original incident
        bystander = self.start([PYTHON, "-c", "import time; time.sleep(60)"])
        cfg = self.config([{"name": "BRAIN_HAND", "command": ["python3", "BRAIN_HAND.py"]}])
        r = self.run_tool("qc-shutdown", "--yes", "--timeout", "5", "--config", cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        for c in copies:
            self.assertIsNotNone(c.wait(timeout=10))
        self.assertIsNone(bystander.poll())
        broken = self.path("broken.json")
        with open(broken, "w") as f:
            f.write("{")
        self.assertEqual(self.run_tool("qc-shutdown", "--yes", "--config", broken).returncode, 78)


class ForeignListenerTest(EdgeTestCase):
    """Item 6: a readiness check must not pass on someone else's listener."""

    def test_a_port_taken_before_the_start_is_reported_and_a_crash_loop_is_never_ready(self):
        import socket
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        port = listener.getsockname()[1]
        try:
            cfg = self.config([
                {"name": "SERVER", "command": ["sh", "-c", "exit 1"], "max_restarts": 3,
                 "backoff_s": [0.3, 0.3], "ready": {"tcp": "127.0.0.1:%d" % port, "timeout_s": 10}},
                {"name": "CLIENT", "command": ["sleep", "1000"]}])
            r = self.run_tool("qc-launch", "--json", cfg, timeout=60)
        finally:
            listener.close()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("already answers before SERVER starts", r.stderr)
        self.assertIn("a connect cannot tell whether SERVER is ready", r.stderr)
        events = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertNotIn(("ready", "SERVER"), [(e["event"], e["name"]) for e in events])
        self.assertNotIn("CLIENT", [e["name"] for e in events], "nothing after it started")


class HangupTest(EdgeTestCase):
    """Item 4: an SSH disconnect or a stray kill -HUP stops nothing."""

    def test_sighup_stops_neither_qc_run_nor_qc_launch(self):
        run = self.start_tool("qc-run", "--log-dir", self.path("logs"), "R", "--", "sleep", "1000")
        cfg = self.config([{"name": "L", "command": ["sleep", "1000"]}])
        launch = self.start_tool("qc-launch", cfg)
        r_child = self.wait_for_child("R")["child_pid"]
        l_child = self.wait_for_child("L")["child_pid"]
        os.kill(run.pid, signal.SIGHUP)
        os.kill(launch.pid, signal.SIGHUP)
        # Each logs the SIGHUP: wait for that line in qc-launch's log, then look again.
        for log in ("qc-launch.log", "R.log"):
            wait_until(lambda: "SIGHUP" in read_text(self.path("logs", log)), message="%s's word on SIGHUP" % log)
        self.assertIsNone(run.poll())
        self.assertIsNone(launch.poll())
        self.assertFalse(is_dead(r_child))
        self.assertFalse(is_dead(l_child))
        self.assertEqual(self.read_record("R")["child_pid"], r_child)
        for p in (run, launch):
            os.kill(p.pid, signal.SIGTERM)
            self.assertEqual(p.wait(timeout=30), 0)


if __name__ == "__main__":
    unittest.main()
