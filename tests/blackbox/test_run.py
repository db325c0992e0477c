"""qc-run (docs/tools.md): restarts counted and capped, the lock held between runs, stopping a
command and its children, no orphans when qc-run is killed, logs, events, exit codes."""
import json
import os
import re
import signal
import subprocess
import time
import unittest

from qctest import (QcTestCase, is_dead, read_text, tool, wait_until)


def events_of(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


class RestartTest(QcTestCase):
    def test_an_always_failing_command_runs_max_restarts_plus_one_times_then_gives_up(self):
        runs = self.path("runs")
        r = self.run_tool("qc-run", "--max-restarts", "3", "--backoff", "0.01,0.05", "--json",
                          "FAILING", "--", "sh", "-c", 'echo run >> "$0"; exit 3', runs)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(read_text(runs).split(), ["run"] * 4)
        events = events_of(r.stdout)
        self.assertEqual([e["event"] for e in events],
                         ["started", "exited", "restarting"] * 3 + ["started", "exited", "gave_up"])
        for e in events:
            self.assertEqual(list(e)[:6], ["event", "name", "pid", "status", "restarts", "time"])
            self.assertEqual(e["name"], "FAILING")
        self.assertEqual(events[-1]["restarts"], 3)
        self.assertEqual(events[-1]["status"], 3)
        self.assertIn("giving up on FAILING after 3 restarts", r.stderr)
        self.assertFalse(os.path.exists(self.lock_path("FAILING")))

    def test_backoff_doubles_from_initial(self):
        r = self.run_tool("qc-run", "--max-restarts", "3", "--backoff", "0.1,0.3", "--json",
                          "B", "--", "false")
        delays = [e["delay_s"] for e in events_of(r.stdout) if e["event"] == "restarting"]
        self.assertEqual(delays, [0.1, 0.2, 0.3])

    def test_success_is_not_restarted_under_on_failure(self):
        runs = self.path("runs")
        r = self.run_tool("qc-run", "--backoff", "0,0", "OK", "--", "sh", "-c",
                          'echo run >> "$0"', runs)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(read_text(runs).split(), ["run"])

    def test_restart_no_passes_the_status_on_and_always_restarts_success(self):
        self.assertEqual(self.run_tool("qc-run", "--restart", "no", "N", "--", "sh", "-c",
                                       "exit 7").returncode, 7)
        self.assertEqual(self.run_tool("qc-run", "--restart", "no", "N", "--", "sh", "-c",
                                       "kill -KILL $$").returncode, 137)
        runs = self.path("runs")
        r = self.run_tool("qc-run", "--restart", "always", "--max-restarts", "2", "--backoff", "0,0",
                          "A", "--", "sh", "-c", 'echo run >> "$0"', runs)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(read_text(runs).split(), ["run"] * 3)

    def test_the_lock_is_never_free_between_two_runs(self):
        runs = self.path("runs")
        sup = self.start_tool("qc-run", "--max-restarts", "100000", "--backoff", "0.005,0.005",
                              "HELD", "--", "sh", "-c", 'echo run >> "$0"; exit 1', runs)
        wait_until(lambda: os.path.exists(self.lock_path("HELD")), message="the lock")
        before = len(read_text(runs).split())
        checks = [self.run_tool("qc-lock", "--check", "HELD").returncode for _ in range(30)]
        during = len(read_text(runs).split()) - before
        os.kill(sup.pid, signal.SIGTERM)
        self.assertEqual(sup.wait(timeout=30), 0)
        self.assertGreater(during, 2, "restarts happened while the name was checked")
        self.assertEqual([c for c in checks if c != 75], [], "the name was free between two runs")
        self.assertEqual(self.run_tool("qc-lock", "--check", "HELD").returncode, 0)

    def test_a_crashed_runs_leftover_children_die_before_the_next_run(self):
        pids = self.path("pids")
        script = 'sleep 1000 & echo $! >> "$0"; exit 1'
        r = self.run_tool("qc-run", "--max-restarts", "2", "--backoff", "0,0", "LEFT", "--",
                          "sh", "-c", script, pids)
        self.assertEqual(r.returncode, 1)
        leftovers = [int(p) for p in read_text(pids).split()]
        self.assertEqual(len(leftovers), 3)
        for pid in leftovers:
            wait_until(lambda: is_dead(pid), message="leftover %d to be killed" % pid)

    def test_a_command_that_cannot_start_is_not_restarted(self):
        r = self.run_tool("qc-run", "--backoff", "0,0", "M", "--", "no-such-command-qc")
        self.assertEqual(r.returncode, 127)
        self.assertIn("cannot start M: no-such-command-qc", r.stderr)
        script = self.path("plain.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\n")
        r = self.run_tool("qc-run", "M", "--", script)
        self.assertEqual(r.returncode, 126)


class StopTest(QcTestCase):
    def test_sigterm_stops_the_command_and_a_grandchild_within_the_stop_timeout(self):
        gc = self.path("grandchild")
        sup = self.start_tool("qc-run", "--stop-timeout", "5", "S", "--", "sh", "-c",
                              'sleep 1000 & echo $! > "$0"; wait', gc)
        child = self.wait_for_child("S")["child_pid"]
        grandchild = int(wait_until(lambda: read_text(gc).strip(), message="the grandchild"))
        started = time.monotonic()
        os.kill(sup.pid, signal.SIGTERM)
        self.assertEqual(sup.wait(timeout=10), 0)
        self.assertLess(time.monotonic() - started, 5)
        wait_until(lambda: is_dead(child) and is_dead(grandchild), timeout=2, message="both gone")
        self.assertFalse(os.path.exists(self.lock_path("S")))

    def test_a_command_that_ignores_sigterm_is_killed_after_the_timeout(self):
        sup = self.start_tool("qc-run", "--stop-timeout", "1", "--json", "I", "--", "sh", "-c",
                              'trap "" TERM; echo ready > "$0"; while :; do sleep 0.05; done',
                              self.path("ready"), stdout=subprocess.PIPE, text=True)
        child = self.wait_for_child("I")["child_pid"]
        wait_until(lambda: os.path.exists(self.path("ready")), message="the trap")
        started = time.monotonic()
        os.kill(sup.pid, signal.SIGTERM)
        self.assertEqual(sup.wait(timeout=10), 0)
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, 1.0)
        self.assertLess(elapsed, 3.0)
        wait_until(lambda: is_dead(child), timeout=2, message="the command to be killed")
        stopped = events_of(sup.stdout.read())[-1]
        sup.stdout.close()
        self.assertEqual((stopped["event"], stopped["status"]), ("stopped", 137))

    def test_sigint_is_forwarded_as_sigint_and_usr1_passes_through(self):
        command, out = self.reporter()
        sup = self.start_tool("qc-run", "SIG", "--", *command)
        child = self.wait_for_reporter("SIG", out)
        signals_file = os.path.join(out, "signals.%d" % child)
        os.kill(sup.pid, signal.SIGUSR1)
        wait_until(lambda: read_text(signals_file).split() == ["SIGUSR1"], message="SIGUSR1")
        open(os.path.join(out, "release"), "w").close()
        os.kill(sup.pid, signal.SIGINT)
        self.assertEqual(sup.wait(timeout=10), 0)
        self.assertEqual(read_text(signals_file).split(), ["SIGUSR1", "SIGINT"])

    def test_a_killed_qc_run_leaves_nothing_unsupervised(self):
        command, out = self.reporter()
        sup = self.start_tool("qc-run", "K", "--", *command)
        child = self.wait_for_reporter("K", out)
        os.kill(sup.pid, signal.SIGKILL)
        sup.wait()
        signals_file = os.path.join(out, "signals.%d" % child)
        wait_until(lambda: "SIGTERM" in read_text(signals_file), message="SIGTERM to the command")
        self.assertEqual(self.run_tool("qc-lock", "--check", "K").returncode, 75)
        self.assertEqual(self.run_tool("qc-run", "K", "--", "true").returncode, 75)
        open(os.path.join(out, "release"), "w").close()
        wait_until(lambda: is_dead(child), message="the command to exit")
        self.assertEqual(self.run_tool("qc-lock", "--check", "K").returncode, 0)


class LogAndCliTest(QcTestCase):
    def test_output_goes_to_a_rotated_log_without_split_lines(self):
        logs = self.path("logs")
        script = 'i=0; while [ $i -lt 400 ]; do echo "line-$i-end"; i=$((i+1)); done; printf tail'
        r = self.run_tool("qc-run", "--log-dir", logs, "--log-max-bytes", "4000", "--log-files", "3",
                          "L", "--", "sh", "-c", script)
        self.assertEqual(r.returncode, 0, r.stderr)
        files = sorted(os.listdir(logs))
        self.assertEqual(files, ["L.1.log", "L.2.log", "L.3.log", "L.log"])
        out_lines = []
        for name in files:
            text = read_text(os.path.join(logs, name))
            self.assertLessEqual(len(text), 4000)
            for line in text.splitlines():
                m = re.match(r"^\d{4}-\d\d-\d\dT[\d:.]+[+-]\d\d:?\d\d \[(out|qc-run)\] (.*)$", line)
                self.assertIsNotNone(m, line)
                if m.group(1) == "out":
                    out_lines.append(m.group(2))
        for line in out_lines:
            self.assertRegex(line, r"^(line-\d+-end|tail)$")
        self.assertIn("line-399-end", out_lines)
        self.assertIn("tail", out_lines)

    def test_a_held_name_exits_75_and_a_bad_log_dir_73(self):
        r = self.run_tool("qc-lock", "H", "--", *tool("qc-run"), "H", "--", "true")
        self.assertEqual(r.returncode, 75)
        self.assertIn("H is held by PID", r.stderr)
        r = self.run_tool("qc-lock", "H", "--", *tool("qc-run"), "-E", "9", "H", "--", "true")
        self.assertEqual(r.returncode, 9)
        blocker = self.path("file")
        open(blocker, "w").close()
        r = self.run_tool("qc-run", "--log-dir", os.path.join(blocker, "logs"), "X", "--", "true")
        self.assertEqual(r.returncode, 73)
        self.assertIn(os.path.join(blocker, "logs"), r.stderr)

    def test_usage_errors_exit_64(self):
        for args in [[], ["X"], ["X", "--"], ["--restart", "sometimes", "X", "--", "true"],
                     ["--backoff", "5,1", "X", "--", "true"], ["--backoff", "1", "X", "--", "true"],
                     ["--max-restarts", "-1", "X", "--", "true"], ["../x", "--", "true"]]:
            r = self.run_tool("qc-run", *args)
            self.assertEqual(r.returncode, 64, (args, r.stderr))

    def test_the_lock_record_tracks_the_current_run(self):
        sup = self.start_tool("qc-run", "--account", "366604", "--restart", "always",
                              "--backoff", "0,0", "R", "--", "sleep", "1000")
        record = self.wait_for_child("R")
        self.assertEqual((record["tool"], record["account"], record["pid"]), ("qc-run", "366604", sup.pid))
        self.assertEqual(record["restarts"], 0)
        first = record["child_pid"]
        os.kill(first, signal.SIGKILL)
        record = wait_until(lambda: (self.read_record("R") or {}).get("child_pid") not in (None, first)
                            and self.read_record("R"), message="the next run's record")
        self.assertEqual(record["restarts"], 1)
        [row] = self.ps_json()
        self.assertEqual((row["state"], row["restarts"], row["child_pid"]),
                         ("running", 1, record["child_pid"]))


if __name__ == "__main__":
    unittest.main()
