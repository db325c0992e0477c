"""qc-launch (docs/tools.md) on temporary configs: the plan, account selection, the pre-check,
readiness ordering, reverse-order stop, config errors, no orphans when it is killed."""
import json
import os
import signal
import socket
import subprocess
import unittest
from datetime import datetime

from qctest import (PYTHON, QcTestCase, helper, is_dead, read_text, tool, wait_until)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def iso(t):
    return datetime.fromisoformat(t).timestamp()


class LaunchTestCase(QcTestCase):
    def setUp(self):
        super().setUp()
        self.work = self.path("work")
        os.makedirs(self.work)
        self.marks = self.path("marks")
        os.makedirs(self.marks)

    def config(self, programs, accounts=None, defaults=None, **launch):
        cfg = {"ACCOUNTS": accounts if accounts is not None else {},
               "LAUNCH": dict({"lock_dir": self.lock_dir, "log_dir": self.path("logs"),
                               "programs": programs}, **launch)}
        if defaults:
            cfg["LAUNCH"]["defaults"] = defaults
        path = os.path.join(self.work, "MASTER_CONFIG.json")
        with open(path, "w") as f:
            json.dump(cfg, f, indent=2)
        return path

    def marker(self, name):
        """A command that records that NAME started, then runs until it is stopped."""
        return ["sh", "-c", 'echo "$$" >> "%s/%s.started"; exec sleep 1000' % (self.marks, name)]

    def started(self, name):
        return read_text(os.path.join(self.marks, name + ".started")).split()

    def launch(self, *args, **kwargs):
        return self.start_tool("qc-launch", *args, stdout=subprocess.PIPE, text=True, **kwargs)

    def events(self, proc):
        out = proc.stdout.read()
        proc.stdout.close()
        return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


class PlanTest(LaunchTestCase):
    ACCOUNTS = {"ATLAS": {"account": 212000584, "enabled": True, "brain": "BRAIN_ATLAS.py"},
                "GL_1": {"account": 113326, "enabled": False, "brain": "BRAIN_GETLEVERAGED.py"},
                "FTMO": {"account": 1521063483, "enabled": True, "brain": "BRAIN_FTMO.py"}}

    def seed_config(self):
        return self.config([
            {"name": "quantum_server", "command": ["python", "quantum_server.py"]},
            {"name": "WATCHDOG_{key}", "for_each": "account",
             "command": ["python", "STOPLOSS_WATCHDOG_V2.py", "--account", "{key}", "--limit", "1.00"]},
            {"name": "BRAIN_{key}", "for_each": "account", "account": "{account}",
             "command": ["python", "{brain}"]}], accounts=self.ACCOUNTS)

    def test_dry_run_prints_the_plan_in_start_order_and_starts_nothing(self):
        cfg = self.seed_config()
        r = self.run_tool("qc-launch", "--dry-run", cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = [line.split(None, 3) for line in r.stdout.splitlines()]
        self.assertEqual(rows[0], ["NAME", "ACCOUNT", "READY", "COMMAND"])
        self.assertEqual([row[0] for row in rows[1:]],
                         ["quantum_server", "WATCHDOG_ATLAS", "WATCHDOG_FTMO", "BRAIN_ATLAS", "BRAIN_FTMO"])
        self.assertEqual(rows[4][3], "python BRAIN_ATLAS.py")
        self.assertEqual(rows[2][3], "python STOPLOSS_WATCHDOG_V2.py --account ATLAS --limit 1.00")
        self.assertEqual(rows[4][1], "212000584")
        self.assertFalse(os.path.exists(self.lock_dir), "a dry run takes no lock")
        self.assertFalse(os.path.exists(self.path("logs")))
        j = self.run_tool("qc-launch", "--dry-run", "--json", cfg)
        plan = [json.loads(l) for l in j.stdout.splitlines()]
        self.assertEqual(plan[3]["command"], ["python", "BRAIN_ATLAS.py"])
        self.assertEqual(plan[3]["cwd"], self.work, "relative paths resolve against the config")

    def test_accounts_narrows_and_disabled_accounts_are_skipped(self):
        cfg = self.seed_config()
        names = lambda *args: [json.loads(l)["name"] for l in
                               self.run_tool("qc-launch", "--dry-run", "--json", *args).stdout.splitlines()]
        self.assertNotIn("BRAIN_GL_1", names(cfg))
        self.assertEqual(names("--accounts", "FTMO", "--", cfg),
                         ["quantum_server", "WATCHDOG_FTMO", "BRAIN_FTMO"])
        self.assertEqual(names("--accounts", "GL_1,ATLAS", cfg),
                         ["quantum_server", "WATCHDOG_ATLAS", "WATCHDOG_GL_1", "BRAIN_ATLAS", "BRAIN_GL_1"])
        r = self.run_tool("qc-launch", "--dry-run", "--accounts", "NOPE", "--", cfg)
        self.assertEqual(r.returncode, 64)
        self.assertIn("NOPE", r.stderr)
        self.assertIn("ATLAS, GL_1, FTMO", r.stderr)

    def test_a_missing_config_exits_66(self):
        r = self.run_tool("qc-launch", self.path("nope.json"))
        self.assertEqual(r.returncode, 66)
        self.assertIn(self.path("nope.json"), r.stderr)
        r = self.run_tool("qc-launch", cwd=self.work)  # ./MASTER_CONFIG.json by default
        self.assertEqual(r.returncode, 66)
        self.assertIn("MASTER_CONFIG.json", r.stderr)


class ConfigErrorTest(LaunchTestCase):
    def check(self, text, *expected):
        path = os.path.join(self.work, "MASTER_CONFIG.json")
        with open(path, "w") as f:
            f.write(text if isinstance(text, str) else json.dumps(text))
        r = self.run_tool("qc-launch", path)
        self.assertEqual(r.returncode, 78, r.stderr)
        for e in expected:
            self.assertIn(e, r.stderr)
        self.assertFalse(os.path.exists(self.lock_dir) and os.listdir(self.lock_dir))
        return r

    def launch_section(self, programs, **extra):
        return {"ACCOUNTS": {"A": {"enabled": True, "account": 1}},
                "LAUNCH": dict({"lock_dir": self.lock_dir, "programs": programs}, **extra)}

    def test_invalid_json_names_line_and_column(self):
        self.check('{\n  "LAUNCH": {\n    "programs": [,]\n  }\n}\n', "invalid JSON", "line 3, column")

    def test_an_unknown_placeholder_field_names_program_account_and_field(self):
        self.check(self.launch_section([{"name": "BRAIN_{key}", "for_each": "account",
                                         "command": ["python", "{brain}"]}]),
                   "program BRAIN_{key}", "account A", '"brain"')

    def test_a_duplicate_name_is_named(self):
        self.check(self.launch_section([{"name": "X", "command": ["true"]},
                                        {"name": "X", "command": ["false"]}]),
                   "duplicate program name X")

    def test_wrong_types_and_unknown_keys_are_named(self):
        self.check(self.launch_section([{"name": "X", "command": "python x.py"}]),
                   'program X: "command" must be a non-empty array')
        self.check(self.launch_section([{"name": "X", "command": ["x"], "max_restarts": "5"}]),
                   '"max_restarts" must be an integer')
        self.check(self.launch_section([{"name": "X", "command": ["x"], "restrat": "no"}]),
                   'unknown key "restrat"')
        self.check(self.launch_section([{"name": "X", "command": ["x"]}], defaults={"backoff_s": [5, 1]}),
                   "backoff_s")
        self.check(self.launch_section([{"name": "../X", "command": ["x"]}]), "invalid lock name")
        self.check({"ACCOUNTS": {}}, 'no "LAUNCH" section')
        self.check(self.launch_section([{"name": "X", "command": ["x"], "ready": {"tcp": "nowhere"}}]),
                   "HOST:PORT")


class RunLaunchTest(LaunchTestCase):
    def test_the_pre_check_starts_nothing_when_a_lock_is_held(self):
        cfg = self.config([{"name": n, "command": self.marker(n)} for n in ("A", "B", "C")])
        holder = self.start_tool("qc-lock", "B", "--", "sleep", "1000")
        self.wait_for_child("B")
        r = self.run_tool("qc-launch", cfg)
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertIn("B is held by PID %d" % holder.pid, r.stderr)
        self.assertIn("nothing started", r.stderr)
        self.assertEqual(os.listdir(self.marks), [])
        self.assertEqual(sorted(os.listdir(self.lock_dir)), ["B.lock"])

    def test_a_second_orchestrator_is_refused(self):
        cfg = self.config([{"name": "A", "command": self.marker("A")}])
        first = self.launch(cfg)
        wait_until(lambda: self.started("A"), message="A")
        r = self.run_tool("qc-launch", cfg)
        self.assertEqual(r.returncode, 75)
        self.assertIn("MASTER_LAUNCH is held by PID %d" % first.pid, r.stderr)
        self.assertEqual(len(self.started("A")), 1)

    def test_a_program_waits_for_the_one_before_to_be_ready(self):
        port = free_port()
        server = ("import socket, time; time.sleep(1); "
                  "s = socket.create_server(('127.0.0.1', %d)); time.sleep(1000)") % port
        cfg = self.config([
            {"name": "SERVER", "command": [PYTHON, "-c", server],
             "ready": {"tcp": "127.0.0.1:%d" % port, "timeout_s": 20}},
            {"name": "CLIENT", "command": self.marker("CLIENT")}])
        proc = self.launch("--json", cfg)
        wait_until(lambda: self.started("CLIENT"), timeout=20, message="CLIENT")
        os.kill(proc.pid, signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=30), 0)
        events = self.events(proc)
        when = {(e["event"], e["name"]): iso(e["time"]) for e in events}
        gap = when[("started", "CLIENT")] - when[("started", "SERVER")]
        self.assertGreaterEqual(gap, 0.95)
        self.assertLess(gap, 2.5)
        self.assertLessEqual(when[("ready", "SERVER")], when[("started", "CLIENT")])

    def test_heartbeat_readiness_waits_for_a_success_reply(self):
        port = free_port()
        gateway = ["sh", "-c", 'sleep 1; exec "$0" --serve tcp://127.0.0.1:%d --service "MT5 Gateway"' % port,
                   tool("qc-heartbeat")[-1]]
        cfg = self.config([
            {"name": "gateway", "command": gateway,
             "ready": {"heartbeat": "tcp://127.0.0.1:%d" % port, "timeout_s": 20}},
            {"name": "BRAIN", "command": self.marker("BRAIN")}])
        proc = self.launch("--json", cfg)
        wait_until(lambda: self.started("BRAIN"), timeout=20, message="BRAIN")
        r = self.run_tool("qc-heartbeat", "tcp://127.0.0.1:%d" % port)
        self.assertEqual(r.returncode, 0, "the gateway answers once it is ready")
        os.kill(proc.pid, signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=30), 0)
        when = {(e["event"], e["name"]): iso(e["time"]) for e in self.events(proc)}
        self.assertGreaterEqual(when[("started", "BRAIN")] - when[("started", "gateway")], 0.95)

    def test_a_gateway_that_answers_error_is_never_ready(self):
        peer_dir = self.path("peer")
        os.makedirs(peer_dir)
        # The program itself just idles; the readiness check talks to a pyzmq peer that
        # answers every request with ERROR.
        self.start(helper("zmq_peer.py") + ["error", peer_dir])
        port = wait_until(lambda: read_text(os.path.join(peer_dir, "port")), message="the peer")
        cfg = self.config([
            {"name": "gateway", "command": self.marker("gateway"),
             "ready": {"heartbeat": "tcp://127.0.0.1:%s" % port, "timeout_s": 1}},
            {"name": "BRAIN", "command": self.marker("BRAIN")}])
        r = self.run_tool("qc-launch", cfg, timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("gateway was not ready within 1s (heartbeat", r.stderr)
        self.assertIn("Gateway not ready", r.stderr)
        self.assertEqual(self.started("BRAIN"), [])

    def test_a_program_not_ready_in_time_stops_everything_and_exits_1(self):
        cfg = self.config([
            {"name": "FIRST", "command": self.marker("FIRST")},
            {"name": "DEAF", "command": self.marker("DEAF"),
             "ready": {"tcp": "127.0.0.1:%d" % free_port(), "timeout_s": 0.5}},
            {"name": "NEVER", "command": self.marker("NEVER")}])
        r = self.run_tool("qc-launch", cfg, timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("DEAF was not ready within 0.5s", r.stderr)
        self.assertEqual(self.started("NEVER"), [])
        for pid in self.started("FIRST") + self.started("DEAF"):
            wait_until(lambda: is_dead(int(pid)), message="%s to be stopped" % pid)
        self.assertEqual(os.listdir(self.lock_dir), [])

    def test_sigterm_stops_every_program_in_reverse_order_and_leaves_no_lock_file(self):
        order = self.path("order")
        stopper = ('trap \'echo %s >> "%s"; exit 0\' TERM; echo $$ >> "%s/%s.started"; '
                   'while :; do sleep 0.05; done')
        names = ["FIRST", "SECOND", "THIRD"]
        cfg = self.config([{"name": n, "command": ["sh", "-c", stopper % (n, order, self.marks, n)]}
                           for n in names])
        proc = self.launch("--json", cfg)
        wait_until(lambda: all(self.started(n) for n in names), message="all three")
        states = {r["name"]: r["state"] for r in self.ps_json()}
        self.assertEqual(states, {"FIRST": "running", "SECOND": "running", "THIRD": "running",
                                  "MASTER_LAUNCH": "running"})
        os.kill(proc.pid, signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=30), 0)
        self.assertEqual(read_text(order).split(), ["THIRD", "SECOND", "FIRST"])
        self.assertEqual(os.listdir(self.lock_dir), [])
        stopped = [e["name"] for e in self.events(proc) if e["event"] == "stopped"]
        self.assertEqual(stopped, ["THIRD", "SECOND", "FIRST"])

    def test_a_crashing_program_is_restarted_while_the_others_run_on(self):
        cfg = self.config([
            {"name": "STEADY", "command": self.marker("STEADY")},
            {"name": "CRASHY", "command": ["sh", "-c", 'echo $$ >> "%s/CRASHY.started"; exit 1' % self.marks],
             "max_restarts": 3, "backoff_s": [0.01, 0.01]}])
        proc = self.launch(cfg)
        wait_until(lambda: len(self.started("CRASHY")) == 4, message="four runs of CRASHY")
        self.assertIsNone(proc.poll())
        self.assertEqual(len(self.started("STEADY")), 1)
        os.kill(proc.pid, signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=30), 0)

    def test_status_reports_on_sigusr1(self):
        cfg = self.config([{"name": "A", "command": self.marker("A")}])
        proc = self.launch("--json", cfg)
        wait_until(lambda: self.started("A"), message="A")
        os.kill(proc.pid, signal.SIGUSR1)
        wait_until(lambda: "status: A RUNNING" in read_text(self.path("logs", "qc-launch.log")),
                   message="a status report")
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        status = [e for e in self.events(proc) if e["event"] == "status"]
        self.assertEqual(status[0]["name"], "A")
        self.assertEqual(status[0]["state"], "RUNNING")
        self.assertEqual(status[0]["pid"], int(self.started("A")[0]))
        self.assertEqual(read_text(self.path("logs", "A.log")), "", "a quiet program's log is empty")

    def test_a_killed_orchestrator_leaves_nothing_unsupervised(self):
        command, out = self.reporter()
        cfg = self.config([{"name": "ORPHAN", "command": command}])
        proc = self.launch(cfg)
        child = self.wait_for_reporter("ORPHAN", out)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        wait_until(lambda: "SIGTERM" in read_text(os.path.join(out, "signals.%d" % child)),
                   message="SIGTERM to the program")
        self.assertEqual(self.run_tool("qc-lock", "--check", "ORPHAN").returncode, 75)
        r = self.run_tool("qc-launch", cfg)
        self.assertEqual(r.returncode, 75, "no second copy while it winds down")
        open(os.path.join(out, "release"), "w").close()
        wait_until(lambda: is_dead(child), message="the program to exit")
        self.assertEqual(self.run_tool("qc-lock", "--check", "ORPHAN").returncode, 0)


if __name__ == "__main__":
    unittest.main()
