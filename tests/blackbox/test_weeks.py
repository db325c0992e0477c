"""Supervision that runs for weeks (issue 12): what is built of it so far."""
import json
import os
import signal
import socket
import subprocess
import time
import unittest

from qctest import CAN_SWITCH_USER, QcTestCase, is_dead, read_text, second_user, tool, wait_until

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


class ControlTest(QcTestCase):
    """A running orchestrator is controlled through its control channel: qc-launch --status,
    --start, --stop, --restart; qc-heartbeat checks it is alive; only its user reaches it."""

    def launch(self, programs, *extra):
        cfg = {"ACCOUNTS": {}, "LAUNCH": {"lock_dir": self.lock_dir, "log_dir": self.path("logs"),
                                          "programs": programs}}
        self.config = self.path("MASTER_CONFIG.json")
        with open(self.config, "w") as f:
            json.dump(cfg, f)
        # --no-scan: other tests running beside this one run "sleep 60" too.
        proc = self.start_tool("qc-launch", "--no-scan", *extra, self.config)
        wait_until(lambda: proc.poll() is not None or (self.read_record("MASTER_LAUNCH") or {}).get("control"),
                   message="the control endpoint")
        self.assertIsNone(proc.poll(), "qc-launch ended")
        return proc

    def control(self, *args):
        return self.run_tool("qc-launch", *args, self.config)

    def status(self):
        r = self.control("--status", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return {p["name"]: p for p in json.loads(r.stdout)["programs"]}

    def test_start_revives_a_program_that_gave_up_with_its_restart_count_at_zero(self):
        flag = self.path("fixed")
        flaky = ["sh", "-c", 'test -e "$0" && exec sleep 60; exit 3', flag]
        self.launch([{"name": "A", "command": ["sleep", "60"]},
                     {"name": "B", "command": flaky, "max_restarts": 1, "backoff_s": [0.05, 0.05]}])
        wait_until(lambda: self.status()["B"]["state"] == "failed", message="B to give up")
        self.assertEqual(self.status()["B"]["restarts"], 1)
        self.assertEqual(self.status()["B"]["last_status"], 3)
        with open(flag, "w"):
            pass
        r = self.control("--start", "B")
        self.assertEqual(r.returncode, 0, r.stderr)
        b = wait_until(lambda: self.status()["B"]["state"] == "running" and self.status()["B"], message="B running")
        self.assertEqual(b["restarts"], 0)
        self.assertEqual(self.read_record("B")["child_pid"], b["child_pid"])

    def test_stop_keeps_a_program_stopped_across_the_next_status_report(self):
        launch = self.launch([{"name": "A", "command": ["sleep", "60"]}, {"name": "B", "command": ["sleep", "60"]}],
                             "--status-interval", "0.2")
        a = self.wait_for_child("A")["child_pid"]
        r = self.control("--stop", "A")
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_until(lambda: is_dead(a), message="A stopped")
        self.assertEqual(self.run_tool("qc-lock", "--check", "A").returncode, 0, "A's name is free")
        # Two status reports later A is still stopped and was not restarted.
        log = self.path("logs", "qc-launch.log")
        reports = lambda: read_text(log).count("status: A STOPPED")
        seen = reports()
        wait_until(lambda: reports() >= seen + 2, message="two status reports")
        self.assertIsNone(launch.poll())
        self.assertEqual(self.status()["A"]["state"], "stopped")
        self.assertIsNone(self.status()["A"]["child_pid"])
        self.assertEqual(self.run_tool("qc-lock", "--check", "A").returncode, 0)
        self.assertEqual(self.status()["B"]["state"], "running")
        r = self.control("--stop", "A")
        self.assertEqual(r.returncode, 1)
        self.assertIn("A is already stopped", r.stderr)
        self.assertEqual(self.control("--start", "A").returncode, 0)
        wait_until(lambda: self.status()["A"]["state"] == "running", message="A started again")

    def test_qc_shutdown_of_one_program_goes_through_the_control_channel(self):
        launch = self.launch([{"name": "A", "command": ["sleep", "60"]}, {"name": "B", "command": ["sleep", "60"]}])
        a = self.wait_for_child("A")["child_pid"]
        r = self.run_tool("qc-shutdown", "--yes", "--timeout", "3", "A")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(is_dead(a))
        self.assertIn("control: STOP A", read_text(self.path("logs", "qc-launch.log")))
        self.assertEqual(self.status()["A"]["state"], "stopped")
        self.assertEqual(self.status()["B"]["state"], "running")
        self.assertIsNone(launch.poll())
        self.assertEqual(self.control("--start", "A").returncode, 0)

    def test_restart_gives_a_new_pid(self):
        self.launch([{"name": "A", "command": ["sleep", "60"]}])
        first = self.wait_for_child("A")["child_pid"]
        r = self.control("--restart", "A")
        self.assertEqual(r.returncode, 0, r.stderr)
        second = wait_until(lambda: (self.read_record("A") or {}).get("child_pid") not in (None, first) and
                            self.read_record("A")["child_pid"], message="a new run")
        self.assertTrue(is_dead(first))
        self.assertEqual(self.status()["A"]["child_pid"], second)
        self.assertEqual(self.status()["A"]["restarts"], 0)

    def test_refusals_say_why_and_a_missing_orchestrator_is_69(self):
        self.config = self.path("MASTER_CONFIG.json")
        with open(self.config, "w") as f:
            json.dump({"ACCOUNTS": {}, "LAUNCH": {"lock_dir": self.lock_dir,
                                                  "programs": [{"name": "A", "command": ["sleep", "60"]}]}}, f)
        r = self.control("--status")
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertIn("no orchestrator runs", r.stderr)
        self.launch([{"name": "A", "command": ["sleep", "60"]}])
        self.wait_for_child("A")
        r = self.control("--start", "A")
        self.assertEqual(r.returncode, 1)
        self.assertIn("A is already running", r.stderr)
        r = self.control("--restart", "NOPE")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no program NOPE in MASTER_LAUNCH (its programs: A)", r.stderr)
        r = self.run_tool("qc-launch", "--start", "A", "--stop", "A", self.config)
        self.assertEqual(r.returncode, 64)

    def test_qc_heartbeat_at_the_control_endpoint_checks_the_orchestrator(self):
        self.launch([{"name": "A", "command": ["sleep", "60"]}])
        endpoint = self.read_record("MASTER_LAUNCH")["control"]
        self.assertTrue(endpoint.startswith("ipc://"))
        self.assertEqual(os.stat(endpoint[len("ipc://"):]).st_mode & 0o777, 0o600)
        r = self.run_tool("qc-heartbeat", endpoint)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn('service="MASTER_LAUNCH"', r.stdout)

    @unittest.skipUnless(CAN_SWITCH_USER, "needs root to create a second user")
    def test_another_user_cannot_control_the_orchestrator(self):
        user = second_user()  # created with useradd when missing
        os.chmod(self.tmp, 0o755)
        launch = self.launch([{"name": "A", "command": ["sleep", "60"]}])
        os.chmod(self.lock_dir, 0o755)
        first = self.wait_for_child("A")["child_pid"]
        as_user = ["runuser", "-u", user.pw_name, "--"]
        for args in (["--stop", "A"], ["--restart", "A"], ["--status"]):
            r = subprocess.run(as_user + tool("qc-launch") + args + ["--control-timeout", "1", self.config],
                               capture_output=True, text=True, timeout=30, cwd=self.tmp)
            self.assertEqual(r.returncode, 69, (args, r.stderr))
            self.assertIn("did not answer", r.stderr)
        endpoint = self.read_record("MASTER_LAUNCH")["control"]
        r = subprocess.run(as_user + tool("qc-heartbeat") + ["-t", "1", endpoint], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertEqual(self.read_record("A")["child_pid"], first, "nothing was done")
        self.assertIsNone(launch.poll())


class ReloadTest(QcTestCase):
    """SIGHUP, qc-launch --reload and RELOAD apply the difference: added programs start, removed
    ones stop, changed ones restart, the others keep their PID; an invalid config changes nothing."""

    def write(self, programs):
        with open(self.config, "w") as f:
            json.dump({"ACCOUNTS": {}, "LAUNCH": {"lock_dir": self.lock_dir, "programs": programs}}, f)

    def setUp(self):
        super().setUp()
        self.config = self.path("MASTER_CONFIG.json")
        self.write([{"name": "KEEP", "command": ["sleep", "61"]}, {"name": "GONE", "command": ["sleep", "62"]},
                    {"name": "CHANGE", "command": ["sleep", "63"]},
                    {"name": "POLICY", "command": ["sleep", "64"], "max_restarts": 1}])
        self.orchestrator = self.start_tool("qc-launch", "--no-scan", "--json", self.config, stdout=subprocess.PIPE,
                                            text=True)
        self.pids = {n: self.wait_for_child(n)["child_pid"] for n in ("KEEP", "GONE", "CHANGE", "POLICY")}

    def changed_config(self):
        self.write([{"name": "KEEP", "command": ["sleep", "61"]}, {"name": "CHANGE", "command": ["sleep", "73"]},
                    {"name": "POLICY", "command": ["sleep", "64"], "max_restarts": 9},
                    {"name": "NEW", "command": ["sleep", "65"]}])

    def check_applied(self):
        new = self.wait_for_child("NEW")["child_pid"]
        changed = wait_until(lambda: (self.read_record("CHANGE") or {}).get("child_pid") not in (None, self.pids["CHANGE"])
                             and self.read_record("CHANGE"), message="CHANGE restarted")
        self.assertEqual(changed["command"][-1], "73")
        wait_until(lambda: is_dead(self.pids["GONE"]), message="GONE stopped")
        wait_until(lambda: self.read_record("GONE") is None, message="GONE's name released")
        self.assertEqual(self.read_record("KEEP")["child_pid"], self.pids["KEEP"])
        self.assertEqual(self.read_record("POLICY")["child_pid"], self.pids["POLICY"])
        self.assertFalse(is_dead(new))
        status = json.loads(self.run_tool("qc-launch", "--status", "--json", self.config).stdout)
        self.assertEqual([p["name"] for p in status["programs"]], ["KEEP", "CHANGE", "POLICY", "NEW"])

    def test_reload_adds_removes_restarts_and_leaves_the_rest_alone(self):
        self.changed_config()
        r = self.run_tool("qc-launch", "--reload", "--json", self.config)
        self.assertEqual(r.returncode, 0, r.stderr)
        reply = json.loads(r.stdout)
        self.assertEqual((reply["added"], reply["removed"], reply["restarted"], reply["updated"], reply["unchanged"]),
                         (["NEW"], ["GONE"], ["CHANGE"], ["POLICY"], ["KEEP"]))
        self.check_applied()

    def test_sighup_reloads(self):
        self.changed_config()
        self.orchestrator.send_signal(signal.SIGHUP)
        self.check_applied()

    def test_an_invalid_config_changes_nothing(self):
        with open(self.config, "w") as f:
            f.write('{"ACCOUNTS": {}, "LAUNCH": {"lock_dir": "x", "programs": [{"name": "A"}]}}')
        r = self.run_tool("qc-launch", "--reload", "--lock-dir", self.lock_dir, self.config)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("nothing was reloaded", r.stderr)
        with open(self.config, "w") as f:
            f.write('{"ACCOUNTS": {}, "LAUNCH": {"lock_dir": "%s", "programs": [' % self.lock_dir)
        self.orchestrator.send_signal(signal.SIGHUP)
        # A control request after the signal is answered after the signal was handled.
        r = self.run_tool("qc-launch", "--status", "--lock-dir", self.lock_dir, self.config)
        self.assertEqual(r.returncode, 0, r.stderr)
        held = lambda n: self.read_record(n) and self.read_record(n)["child_pid"]
        for name, pid in self.pids.items():
            self.assertEqual(held(name), pid, name)
        # A new program whose name is held elsewhere refuses the whole reload.
        self.write([{"name": "KEEP", "command": ["sleep", "61"]}, {"name": "TAKEN", "command": ["sleep", "66"]}])
        holder = self.start_tool("qc-lock", "TAKEN", "--", "sleep", "60")
        self.wait_for_child("TAKEN")
        r = self.run_tool("qc-launch", "--reload", self.config)
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertIn("nothing changed", r.stderr)
        for name, pid in self.pids.items():
            self.assertEqual(held(name), pid, name)
        self.assertIsNone(holder.poll())


class ReloadProblemTest(QcTestCase):
    """A program a reload cannot set up (its log file cannot be opened) is reported; the rest
    of the reload applies and the orchestrator goes on as before."""

    def test_an_added_program_that_cannot_be_set_up_is_reported_and_the_rest_applies(self):
        config = self.path("MASTER_CONFIG.json")
        logs = self.path("logs")

        def write(names):
            with open(config, "w") as f:
                json.dump({"ACCOUNTS": {}, "LAUNCH": {"lock_dir": self.lock_dir, "log_dir": logs, "programs": [
                    {"name": n, "command": ["sleep", "67"]} for n in names]}}, f)
        write(["A"])
        self.start_tool("qc-launch", "--no-scan", config)
        self.wait_for_child("A")
        os.makedirs(os.path.join(logs, "BAD.log"))  # a directory where BAD's log file should be
        write(["A", "BAD", "GOOD"])
        r = self.run_tool("qc-launch", "--reload", "--json", config)
        self.assertEqual(r.returncode, 0, r.stderr)
        reply = json.loads(r.stdout)
        self.assertEqual(reply["added"], ["GOOD"])
        self.assertEqual(len(reply["problems"]), 1, reply)
        self.assertIn("BAD not added", reply["problems"][0])
        self.wait_for_child("GOOD")
        status = json.loads(self.run_tool("qc-launch", "--status", "--json", config).stdout)
        self.assertEqual([(p["name"], p["state"]) for p in status["programs"]], [("A", "running"), ("GOOD", "running")])
        self.assertEqual(self.run_tool("qc-launch", "--restart", "GOOD", config).returncode, 0)


class ServiceNotifyTest(QcTestCase):
    """qc-launch under systemd (Type=notify): the test is the NOTIFY_SOCKET listener."""

    def listen(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        path = self.path("notify")
        sock.bind(path)
        self.addCleanup(sock.close)
        return sock, path

    def messages(self, sock, until, timeout=20):
        """Every datagram's lines, until one carries `until`."""
        got = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                lines = sock.recv(4096).decode().splitlines()
            except socket.timeout:
                break
            got.extend(lines)
            if until in lines:
                return got
        self.fail("no %s in %r" % (until, got))

    def test_ready_only_once_the_last_program_is_ready_and_stopping_on_sigterm(self):
        sock, path = self.listen()
        endpoint = "tcp://127.0.0.1:%d" % free_port()
        cfg = {"ACCOUNTS": {}, "LAUNCH": {"lock_dir": self.lock_dir, "programs": [
            {"name": "FIRST", "command": ["sleep", "60"]},
            {"name": "LAST", "command": tool("qc-heartbeat") + ["--serve", endpoint], "start_delay_s": 1,
             "ready": {"heartbeat": endpoint, "timeout_s": 20}}]}}
        config = self.path("MASTER_CONFIG.json")
        with open(config, "w") as f:
            json.dump(cfg, f)
        env = dict(self.env, NOTIFY_SOCKET=path, WATCHDOG_USEC="200000")
        launch = self.start_tool("qc-launch", "--no-scan", config, env=env)
        got = self.messages(sock, "READY=1")
        # LAST starts a second after FIRST and answers only then: READY=1 before that is a lie.
        probe = self.run_tool("qc-heartbeat", "-t", "0.5", endpoint)
        self.assertEqual(probe.returncode, 0, "READY=1 came before LAST was ready: %r" % got)
        if "STATUS=2 of 2 programs running" not in got:
            self.messages(sock, "STATUS=2 of 2 programs running")
        self.messages(sock, "WATCHDOG=1")  # every 0.1 s: half of WATCHDOG_USEC
        child = self.read_record("FIRST")["child_pid"]
        with open("/proc/%d/environ" % child, "rb") as f:
            self.assertNotIn(b"NOTIFY_SOCKET", f.read(), "a program must not speak for qc-launch")
        launch.send_signal(signal.SIGTERM)
        self.messages(sock, "STOPPING=1")
        self.assertEqual(launch.wait(timeout=30), 0)
