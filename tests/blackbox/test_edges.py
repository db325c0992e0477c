"""The edges of the one-copy promise (issue 11): descendants, a program that gave up, what
qc-ps says, SIGHUP. Each test failed on the main it was written against."""
import json
import os
import signal
import subprocess
import time
import unittest

from qctest import QcTestCase, is_dead, proc_state, read_text, wait_until


class EdgeTestCase(QcTestCase):
    def config(self, programs, **launch):
        cfg = {"ACCOUNTS": {}, "LAUNCH": dict({"lock_dir": self.lock_dir, "log_dir": self.path("logs"),
                                               "programs": programs}, **launch)}
        path = self.path("MASTER_CONFIG.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    def ps_row(self, name):
        rows = [r for r in self.ps_json() if r["name"] == name]
        return rows[0] if rows else None


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
