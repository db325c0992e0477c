"""qc-shutdown (docs/tools.md): everything stops and nothing restarts, one deadline for all, no
stop without confirmation, no signal to a recycled PID, one name stops one program."""
import json
import os
import pty
import signal
import subprocess
import time
import unittest

from qctest import (PYTHON, QcTestCase, helper, is_dead, proc_start, read_text, tool, wait_until)


class ShutdownTestCase(QcTestCase):
    def setUp(self):
        super().setUp()
        self.marks = self.path("marks")
        os.makedirs(self.marks)

    def sleeper(self, name, ignore_term=False):
        """A program that records each start, then runs until it is stopped (or killed)."""
        trap = 'trap "" TERM; ' if ignore_term else ""
        return ["sh", "-c", trap + 'echo $$ >> "%s/%s.started"; while :; do sleep 0.05; done' % (self.marks, name)]

    def starts(self, name):
        return [int(p) for p in read_text(os.path.join(self.marks, name + ".started")).split()]

    def orchestrator(self, names, ignore_term=False):
        cfg = {"ACCOUNTS": {}, "LAUNCH": {"lock_dir": self.lock_dir, "log_dir": self.path("logs"),
                                          "defaults": {"backoff_s": [0, 0]},
                                          "programs": [{"name": n, "command": self.sleeper(n, ignore_term)}
                                                       for n in names]}}
        path = self.path("MASTER_CONFIG.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        proc = self.start_tool("qc-launch", path)
        wait_until(lambda: all(self.starts(n) for n in names), message="every program started")
        return proc

    def shutdown(self, *args, **kwargs):
        return self.run_tool("qc-shutdown", *args, **kwargs)

    def alive(self, pid):
        return not is_dead(pid)


class StopEverythingTest(ShutdownTestCase):
    def test_a_running_orchestrator_with_five_programs_stops_and_nothing_restarts(self):
        names = ["P%d" % i for i in range(5)]
        launch = self.orchestrator(names)
        pids = [self.starts(n)[0] for n in names]
        r = self.shutdown("--yes", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(launch.wait(timeout=10), 0)
        for pid in pids:
            self.assertTrue(is_dead(pid), pid)
        self.assertEqual(os.listdir(self.lock_dir), [])
        before = {n: len(self.starts(n)) for n in names}
        time.sleep(2)  # the check is that nothing happens: no program comes back
        self.assertEqual({n: len(self.starts(n)) for n in names}, before)
        self.assertEqual(before, {n: 1 for n in names})
        rows = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual({row["name"] for row in rows}, set(names) | {"MASTER_LAUNCH"})
        self.assertEqual([row["how"] for row in rows if row["role"] == "qc-launch"], ["terminated"])
        self.assertIn("stopped 6 of 6 processes", r.stderr)

    def test_eight_programs_that_ignore_sigterm_share_one_deadline(self):
        holders = []
        for i in range(8):
            holders.append(self.start_tool("qc-lock", "STUBBORN%d" % i, "--",
                                           *self.sleeper("STUBBORN%d" % i, ignore_term=True)))
        wait_until(lambda: all(self.starts("STUBBORN%d" % i) for i in range(8)), message="all eight")
        started = time.monotonic()
        r = self.shutdown("--yes", "--timeout", "2", "--json")
        elapsed = time.monotonic() - started
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertLess(elapsed, 4)
        self.assertGreaterEqual(elapsed, 2)
        hows = [json.loads(l)["how"] for l in r.stdout.splitlines()]
        # qc-lock passes SIGTERM on and waits for its command, so both are killed at the deadline.
        self.assertEqual(hows.count("killed"), 16, hows)
        for i in range(8):
            self.assertTrue(is_dead(self.starts("STUBBORN%d" % i)[0]))
        self.assertEqual(os.listdir(self.lock_dir), [])

    def test_nothing_running_exits_0_and_says_so(self):
        r = self.shutdown("--yes")
        self.assertEqual(r.returncode, 0)
        self.assertIn("Nothing to stop", r.stderr)
        r = self.shutdown()  # no terminal, but nothing to confirm either
        self.assertEqual(r.returncode, 0)

    def test_stale_files_are_removed_unless_keep_locks(self):
        self.write_lock_file("OLD", self.qc_record("OLD", 0x7fffff, 1))
        self.assertEqual(self.shutdown("--yes", "--keep-locks").returncode, 0)
        self.assertTrue(os.path.exists(self.lock_path("OLD")))
        self.assertEqual(self.shutdown("--yes").returncode, 0)
        self.assertFalse(os.path.exists(self.lock_path("OLD")))

    def test_legacy_holders_and_orphans_are_stopped_too(self):
        python = self.start([PYTHON, "-c", "import time; time.sleep(1000)"])
        self.write_lock_file("LEGACY", self.legacy_record("LEGACY", python.pid))
        command, out = self.reporter()
        wrapper = self.start_tool("qc-lock", "ORPHAN", "--", *command)
        orphan = self.wait_for_reporter("ORPHAN", out)
        os.kill(wrapper.pid, signal.SIGKILL)  # the command outlives it (it waits for "release")
        wrapper.wait()
        wait_until(lambda: "SIGTERM" in read_text(os.path.join(out, "signals.%d" % orphan)),
                   message="the parent-death signal")
        [row] = [r for r in self.ps_json() if r["name"] == "ORPHAN"]
        self.assertEqual(row["state"], "orphaned")
        open(os.path.join(out, "release"), "w").close()  # from now on SIGTERM ends it
        r = self.shutdown("--yes", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(is_dead(orphan))
        self.assertEqual(python.wait(timeout=5), -signal.SIGTERM)
        self.assertEqual(os.listdir(self.lock_dir), [])


class SafetyTest(ShutdownTestCase):
    def test_dry_run_and_a_non_terminal_without_yes_stop_nothing(self):
        holder = self.start_tool("qc-lock", "KEEP", "--", *self.sleeper("KEEP"))
        pid = wait_until(lambda: self.starts("KEEP"), message="KEEP")[0]
        r = self.shutdown("--dry-run")
        self.assertEqual(r.returncode, 0)
        self.assertIn("KEEP", r.stderr)
        r = self.shutdown(input="YES\n")
        self.assertEqual(r.returncode, 64)
        self.assertIn("--yes", r.stderr)
        self.assertTrue(self.alive(pid))
        self.assertIsNone(holder.poll())
        self.assertTrue(os.path.exists(self.lock_path("KEEP")))

    def test_the_confirmation_on_a_terminal(self):
        self.start_tool("qc-lock", "ASKED", "--", *self.sleeper("ASKED"))
        pid = wait_until(lambda: self.starts("ASKED"), message="ASKED")[0]
        for answer, code in ((b"no\n", 1), (b"YES\n", 0)):
            child, fd = pty.fork()
            if child == 0:
                os.environ["QC_LOCK_DIR"] = self.lock_dir
                os.execv(tool("qc-shutdown")[-1], ["qc-shutdown"])
            seen = b""
            while b"Type YES to stop 2 processes:" not in seen:
                seen += os.read(fd, 1024)
            os.write(fd, answer)
            try:
                while os.read(fd, 1024):
                    pass
            except OSError:
                pass
            _, status = os.waitpid(child, 0)
            os.close(fd)
            self.assertEqual(os.waitstatus_to_exitcode(status), code, answer)
            if code == 1:
                self.assertTrue(self.alive(pid), "declined: nothing stopped")
        wait_until(lambda: is_dead(pid), message="the command to be stopped")

    def test_a_recycled_pid_in_a_lock_file_is_never_signalled(self):
        bystander = self.start(["sleep", "1000"])
        start = proc_start(bystander.pid)
        self.write_lock_file("REUSED", self.qc_record("REUSED", bystander.pid, start + 1,
                                                      child_pid=bystander.pid, child_start=start + 2))
        legacy = self.start(["sleep", "1000"])  # not python: a legacy file naming it is stale
        self.write_lock_file("OLDPY", self.legacy_record("OLDPY", legacy.pid))
        # A held lock whose record names the bystander (another start time) as its wrapper:
        # the real holder is stopped, the bystander is not.
        record = json.dumps(self.qc_record("HELD", bystander.pid, start + 1, child_pid=0, child_start=0)).replace(
            '"child_pid": 0, "child_start": 0', '"child_pid": $SELF_PID, "child_start": $SELF_START')
        holder = self.start(helper("fake_holder.py") + [self.lock_path("HELD"), record], stdin=subprocess.PIPE)
        wait_until(lambda: os.path.exists(self.lock_path("HELD") + ".ready"), message="the holder")
        os.remove(self.lock_path("HELD") + ".ready")
        r = self.shutdown("--yes", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([json.loads(l)["pid"] for l in r.stdout.splitlines()], [holder.pid])
        self.assertEqual(holder.wait(timeout=5), -signal.SIGTERM)
        self.assertIsNone(bystander.poll())
        self.assertIsNone(legacy.poll())
        self.assertEqual(os.listdir(self.lock_dir), [], "the stale files are gone")

    def test_a_bad_name_is_a_usage_error(self):
        self.assertEqual(self.shutdown("../x").returncode, 64)
        self.assertEqual(self.shutdown("--match", "(").returncode, 64)


class SelectionTest(ShutdownTestCase):
    def test_naming_one_program_stops_only_that_one(self):
        a = self.start_tool("qc-run", "ALONE_A", "--", *self.sleeper("ALONE_A"))
        b = self.start_tool("qc-lock", "ALONE_B", "--", *self.sleeper("ALONE_B"))
        wait_until(lambda: self.starts("ALONE_A") and self.starts("ALONE_B"), message="both")
        r = self.shutdown("--yes", "ALONE_A")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(a.wait(timeout=10), 0)
        self.assertIsNone(b.poll())
        self.assertTrue(self.alive(self.starts("ALONE_B")[0]))
        self.assertEqual(os.listdir(self.lock_dir), ["ALONE_B.lock"])

    def test_naming_one_program_of_an_orchestrator_leaves_the_others_running(self):
        names = ["BRAIN_ATLAS", "BRAIN_FTMO", "WATCHDOG_ATLAS"]
        launch = self.orchestrator(names)
        r = self.shutdown("--yes", "--json", "BRAIN_ATLAS")
        self.assertEqual(r.returncode, 0, r.stderr)
        [row] = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual((row["name"], row["role"]), ("BRAIN_ATLAS", "program"))
        self.assertTrue(is_dead(self.starts("BRAIN_ATLAS")[0]))
        time.sleep(1)  # zero backoff: a restart would have happened by now
        self.assertEqual(len(self.starts("BRAIN_ATLAS")), 1, "not restarted")
        self.assertIsNone(launch.poll())
        for other in ("BRAIN_FTMO", "WATCHDOG_ATLAS"):
            self.assertTrue(self.alive(self.starts(other)[0]), other)
        self.assertFalse(os.path.exists(self.lock_path("BRAIN_ATLAS")), "its name is free again")
        self.assertEqual(self.run_tool("qc-lock", "BRAIN_ATLAS", "--", "true").returncode, 0)

    def test_match_stops_matching_unmanaged_processes_only(self):
        bots = self.path("bots")
        os.makedirs(bots)
        for script in ("BRAIN_ROGUE.py", "OTHER_TOOL.py"):
            with open(os.path.join(bots, script), "w") as f:
                f.write("import time\ntime.sleep(1000)\n")
        rogue = self.start([PYTHON, "BRAIN_ROGUE.py"], cwd=bots)
        other = self.start([PYTHON, "OTHER_TOOL.py"], cwd=bots)
        for p in (rogue, other):
            wait_until(lambda: ".py" in read_text("/proc/%d/cmdline" % p.pid), message="the scripts")
        r = self.shutdown("--yes", "--match", r"BRAIN_ROGUE\.py")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(rogue.wait(timeout=5), -signal.SIGTERM)
        self.assertIsNone(other.poll())


if __name__ == "__main__":
    unittest.main()
