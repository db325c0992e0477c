"""Supervision that runs for weeks (issue 12): what is built of it so far."""
import json
import os
import signal
import socket
import subprocess
import time
import unittest

from qctest import QcTestCase, is_dead, read_text, tool, wait_until

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "alerts")
TO_FILE = os.path.join(EXAMPLES, "alert-to-file.sh")

# A command that writes the name of the signal that stopped it, then exits 0.
TRAPPER = ["sh", "-c", 'trap "echo INT > \\"$0\\"; exit 0" INT; trap "echo TERM > \\"$0\\"; exit 0" TERM; '
                       'echo up > "$0.up"; while :; do sleep 0.05; done']


class StopSignalTest(QcTestCase):
    def config(self, program_extra, defaults=None):
        program = dict({"name": "PY", "command": TRAPPER + [self.path("got")]}, **program_extra)
        launch = {"lock_dir": self.lock_dir, "programs": [program]}
        if defaults:
            launch["defaults"] = defaults
        path = self.path("MASTER_CONFIG.json")
        with open(path, "w") as f:
            json.dump({"ACCOUNTS": {}, "LAUNCH": launch}, f)
        return path

    def stop_and_read(self, proc):
        wait_until(lambda: os.path.exists(self.path("got.up")), message="the command")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=30), 0)
        return read_text(self.path("got")).strip()

    def test_qc_run_stops_with_the_stop_signal_it_is_given(self):
        sup = self.start_tool("qc-run", "--stop-signal", "INT", "PY", "--", *TRAPPER, self.path("got"))
        self.assertEqual(self.stop_and_read(sup), "INT")

    def test_without_one_qc_run_passes_on_the_signal_it_got(self):
        sup = self.start_tool("qc-run", "PY", "--", *TRAPPER, self.path("got"))
        self.assertEqual(self.stop_and_read(sup), "TERM")

    def test_qc_launch_stops_each_program_with_its_own_stop_signal(self):
        launch = self.start_tool("qc-launch", self.config({"stop_signal": "SIGINT"}))
        self.assertEqual(self.stop_and_read(launch), "INT")

    def test_a_default_stop_signal_applies_to_every_program(self):
        launch = self.start_tool("qc-launch", self.config({}, defaults={"stop_signal": "int"}))
        self.assertEqual(self.stop_and_read(launch), "INT")

    def test_a_signal_that_cannot_stop_gracefully_is_refused(self):
        r = self.run_tool("qc-run", "--stop-signal", "KILL", "PY", "--", "true")
        self.assertEqual(r.returncode, 64)
        self.assertIn("not a stop signal: KILL", r.stderr)
        r = self.run_tool("qc-run", "--stop-signal", "SIGBOGUS", "PY", "--", "true")
        self.assertEqual(r.returncode, 64)
        r = self.run_tool("qc-launch", "--dry-run", self.config({"stop_signal": "KILL"}))
        self.assertEqual(r.returncode, 78)
        self.assertIn('"stop_signal" must be', r.stderr)


class AlertTest(QcTestCase):
    def alerts(self):
        lines = read_text(self.path("alerts.log")).splitlines()
        return [(l.split()[1], l.split()[2], l) for l in lines]

    def alert_env(self):
        return dict(os.environ, QC_ALERT_FILE=self.path("alerts.log"))

    def json_of(self, line):
        return json.loads(line[line.index("{"):])

    def test_qc_run_alerts_restarting_and_gave_up_with_the_event_on_stdin(self):
        r = self.run_tool("qc-run", "--on-event", TO_FILE, "--account", "212000584", "--max-restarts", "1",
                          "--backoff", "0.05,0.05", "BRAIN_A", "--", "sh", "-c", "exit 3", env=self.alert_env())
        self.assertEqual(r.returncode, 1, r.stderr)
        # Alerts run side by side, so their lines may land in either order.
        got = sorted(self.alerts())
        self.assertEqual([(e, n) for e, n, _ in got], [("gave_up", "BRAIN_A"), ("restarting", "BRAIN_A")])
        line = got[0][2]
        self.assertIn("account=212000584 status=3", line)
        event = self.json_of(line)
        self.assertEqual((event["event"], event["name"], event["status"], event["account"]),
                         ("gave_up", "BRAIN_A", 3, "212000584"))

    def test_qc_launch_alerts_through_its_on_event_command(self):
        cfg = {"ACCOUNTS": {}, "LAUNCH": {"lock_dir": self.lock_dir, "on_event": [TO_FILE], "programs": [
            {"name": "FAILS", "command": ["sh", "-c", "exit 5"], "max_restarts": 0}]}}
        path = self.path("MASTER_CONFIG.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        r = self.run_tool("qc-launch", path, env=self.alert_env())
        self.assertEqual(r.returncode, 1, r.stderr)
        [(event, name, line)] = self.alerts()
        self.assertEqual((event, name), ("gave_up", "FAILS"))
        self.assertEqual(self.json_of(line)["status"], 5)

    def test_a_crash_loop_sends_one_restarting_alert_a_minute(self):
        r = self.run_tool("qc-run", "--on-event", TO_FILE, "--max-restarts", "20", "--backoff", "0.01,0.01",
                          "LOOP", "--", "false", env=self.alert_env(), timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        got = sorted(self.alerts())
        self.assertEqual([e for e, _, _ in got], ["gave_up", "restarting"])
        self.assertEqual(self.json_of(got[0][2])["suppressed"], 19)

    def test_an_alert_that_hangs_blocks_nothing_and_is_killed(self):
        hang = self.path("hang.sh")
        with open(hang, "w") as f:
            f.write('#!/bin/sh\necho $$ >> "%s"\nexec sleep 1000\n' % self.path("hung"))
        os.chmod(hang, 0o755)
        sup = self.start_tool("qc-run", "--on-event", hang, "--max-restarts", "1000", "--backoff", "0.05,0.05",
                              "HANGS", "--", "false")
        wait_until(lambda: (self.read_record("HANGS") or {}).get("restarts", 0) >= 20, timeout=30,
                   message="restarts while an alert hangs")
        sup.send_signal(signal.SIGTERM)
        self.assertEqual(sup.wait(timeout=30), 0)
        pids = [int(p) for p in read_text(self.path("hung")).split()]
        self.assertTrue(pids)
        for pid in pids:
            wait_until(lambda: is_dead(pid), timeout=10, message="the hung alert %d to be killed" % pid)

    def test_a_failing_alert_command_is_logged(self):
        r = self.run_tool("qc-run", "--on-event", "/bin/false", "--restart", "no", "X", "--", "sh", "-c", "exit 2")
        self.assertEqual(r.returncode, 2)
        r = self.run_tool("qc-run", "--on-event", "/no/such/alert", "--max-restarts", "0", "X", "--", "false")
        self.assertEqual(r.returncode, 1)
        self.assertIn("alert for X's gave_up not sent: cannot run /no/such/alert", r.stderr)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HealthTest(QcTestCase):
    """A program that stops answering its health checks is restarted; one that answers is not."""

    def launch(self, health):
        port = free_port()
        endpoint = "tcp://127.0.0.1:%d" % port
        program = {"name": "GATEWAY", "command": tool("qc-heartbeat") + ["--serve", endpoint],
                   "health": dict({"heartbeat": endpoint}, **health), "stop_timeout_s": 1,
                   "backoff_s": [0.1, 0.1], "max_restarts": 5}
        cfg = {"ACCOUNTS": {}, "LAUNCH": {"lock_dir": self.lock_dir, "programs": [program]}}
        path = self.path("MASTER_CONFIG.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        return self.start_tool("qc-launch", "--json", path, stdout=subprocess.PIPE, text=True)

    def test_a_program_that_hangs_is_restarted_after_its_failed_checks(self):
        launch = self.launch({"interval_s": 0.3, "timeout_s": 0.3, "failures": 2})
        first = self.wait_for_child("GATEWAY")["child_pid"]
        os.kill(first, signal.SIGSTOP)  # alive, holding its port, answering nothing: hung
        hung_at = time.monotonic()
        second = wait_until(lambda: (self.read_record("GATEWAY") or {}).get("child_pid") not in (None, first) and
                            self.read_record("GATEWAY")["child_pid"], timeout=20, message="a new run")
        # 2 failed checks 0.3 s apart (+ one timeout), the stop (1 s: the hung run is killed),
        # the backoff (0.1 s) and the start: well under 5 s.
        self.assertLess(time.monotonic() - hung_at, 5.0)
        self.assertNotEqual(second, first)
        launch.send_signal(signal.SIGTERM)
        self.assertEqual(launch.wait(timeout=30), 0)
        events = [json.loads(l) for l in launch.stdout.read().splitlines()]
        unhealthy = [e for e in events if e["event"] == "unhealthy"]
        self.assertEqual(len(unhealthy), 1, events)
        self.assertEqual(unhealthy[0]["pid"], first)

    def test_qc_run_restarts_a_command_that_hangs(self):
        endpoint = "tcp://127.0.0.1:%d" % free_port()
        sup = self.start_tool("qc-run", "--json", "--health-heartbeat", endpoint, "--health-interval", "0.3",
                              "--health-timeout", "0.3", "--health-failures", "2", "--stop-timeout", "1",
                              "--backoff", "0.1,0.1", "GW", "--", *tool("qc-heartbeat"), "--serve", endpoint,
                              stdout=subprocess.PIPE, text=True)
        first = self.wait_for_child("GW")["child_pid"]
        os.kill(first, signal.SIGSTOP)
        wait_until(lambda: (self.read_record("GW") or {}).get("child_pid") not in (None, first), timeout=20,
                   message="a new run")
        sup.send_signal(signal.SIGTERM)
        self.assertEqual(sup.wait(timeout=30), 0)
        events = [json.loads(l)["event"] for l in sup.stdout.read().splitlines()]
        self.assertEqual(events.count("unhealthy"), 1, events)

    def test_health_options_are_checked(self):
        for bad in (["--health-heartbeat", "127.0.0.1:5555"], ["--health-tcp", "nohostport"],
                    ["--health-tcp", "h:1", "--health-heartbeat", "tcp://h:1"], ["--health-interval", "0"]):
            r = self.run_tool("qc-run", *bad, "X", "--", "true")
            self.assertEqual(r.returncode, 64, (bad, r.stderr))

    def test_a_program_that_answers_is_never_restarted(self):
        launch = self.launch({"interval_s": 0.2, "timeout_s": 1, "failures": 1})
        first = self.wait_for_child("GATEWAY")["child_pid"]
        time.sleep(2.5)  # ten checks or so: the test is that nothing happens
        self.assertEqual(self.read_record("GATEWAY")["child_pid"], first)
        launch.send_signal(signal.SIGTERM)
        self.assertEqual(launch.wait(timeout=30), 0)
        events = [json.loads(l)["event"] for l in launch.stdout.read().splitlines()]
        self.assertNotIn("unhealthy", events)


if __name__ == "__main__":
    unittest.main()
