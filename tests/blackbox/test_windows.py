"""The .exe files under Wine (issue 6): what the native suites prove, wherever Wine implements
the Win32 calls. Run by the Windows build's CTest with QC_RUNNER (the wine-run script),
QC_EXE_SUFFIX=.exe and QC_BIN_DIR. Windows PIDs are not Linux PIDs here, so these tests read
process state through the tools and qc-testhelper.exe, never through /proc; a Windows
process started by the test is itself a Linux process, so SIGKILL to it is a crash.

Not testable under Wine (it has no console under CI, see WINDOWS.md): Ctrl+Break to a
foreign process group. Tests that would need it say so and are skipped.
"""
import json
import os
import signal
import subprocess
import time
import unittest

from qctest import BIN_DIR, EXE_SUFFIX, PYTHON, QcTestCase, helper, read_text, tool, wait_until

ON_WINE = EXE_SUFFIX == ".exe"


def wpath(path):
    """The Windows view of a Unix path under Wine (drive Z: is /)."""
    return "Z:" + os.path.abspath(path)


def helper_exe():
    return wpath(os.path.join(BIN_DIR, "qc-testhelper" + EXE_SUFFIX))


@unittest.skipUnless(ON_WINE, "the Windows suite runs from the Windows build (make test-windows)")
class WineTestCase(QcTestCase):
    def setUp(self):
        super().setUp()
        os.makedirs(self.lock_dir)
        self.env = dict(os.environ, QC_LOCK_DIR=wpath(self.lock_dir), WINEDEBUG="-all",
                        WINEPREFIX=os.environ.get("QC_WINE_PREFIX", ""))

    def th(self, *args):
        """A qc-testhelper.exe command line, as a qc tool's COMMAND."""
        return [helper_exe()] + [str(a) for a in args]

    def alive(self, windows_pid):
        return subprocess.run(tool("qc-testhelper") + ["alive", str(windows_pid)], env=self.env,
                              capture_output=True, timeout=60).returncode == 0

    def wait_record(self, name, timeout=60):
        return wait_until(lambda: (self.read_record(name) or {}).get("child_pid") and self.read_record(name),
                          timeout, message="%s's child" % name)


class WindowsLockTest(WineTestCase):
    CONTENDERS = 8
    ROUNDS = 20

    def test_race_has_one_holder_and_one_winner_per_round(self):
        for round_no in range(self.ROUNDS):
            work = self.path("round%d" % round_no)
            os.makedirs(work)
            gate = os.path.join(work, "gate")
            contenders = []
            for i in range(self.CONTENDERS):
                argv = tool("qc-testhelper") + ["gate", wpath(gate)] + [wpath(tool("qc-lock")[-1])] + \
                       ["RACE", "--"] + self.th("inside", wpath(work))
                contenders.append(self.start(argv, stderr=subprocess.PIPE, text=True))
            # Every contender waits at the gate; opening it starts them all at once.
            wait_until(lambda: len([f for f in os.listdir(work) if f.endswith(".ready")]) == self.CONTENDERS,
                       timeout=120, message="every contender at the gate")
            open(gate, "w").close()
            wait_until(lambda: sum(p.poll() is not None for p in contenders) >= self.CONTENDERS - 1,
                       timeout=120, message="the losers")
            codes = [p.poll() for p in contenders]
            self.assertEqual(codes.count(75), self.CONTENDERS - 1, (round_no, codes))
            open(os.path.join(work, "release"), "w").close()
            for p in contenders:
                p.wait(timeout=60)
            codes = [p.returncode for p in contenders]
            self.assertEqual(codes.count(0), 1, (round_no, codes))
            self.assertFalse(os.path.exists(os.path.join(work, "violations")), "two holders at once")
            self.assertEqual(len(read_text(os.path.join(work, "winners")).split()), 1)
            loser = next(p for p in contenders if p.returncode == 75)
            self.assertIn("RACE is held by PID", loser.stderr.read())

    def test_a_killed_holder_frees_the_name(self):
        wrapper = self.start_tool("qc-lock", "K", "--", *self.th("sleep", 1000))
        record = self.wait_record("K")
        self.assertTrue(self.alive(record["child_pid"]))
        os.kill(wrapper.pid, signal.SIGKILL)
        wrapper.wait()
        # The command dies with its job (kill on close), and with it the last handle.
        wait_until(lambda: not self.alive(record["child_pid"]), timeout=30, message="the command to die")
        wait_until(lambda: self.run_tool("qc-lock", "--check", "K").returncode == 0, timeout=30,
                   message="the name to be free")
        self.assertEqual(self.run_tool("qc-lock", "K", "--", *self.th("exit", 0)).returncode, 0)

    def test_while_the_command_lives_the_name_is_held(self):
        wrapper = self.start_tool("qc-lock", "H", "--", *self.th("sleep", 1000))
        record = self.wait_record("H")
        r = self.run_tool("qc-lock", "--check", "H")
        self.assertEqual(r.returncode, 75)
        self.assertIn("H is held by PID %d" % record["pid"], r.stderr)
        rows = self.ps_json()
        self.assertEqual([(row["name"], row["state"], row["child_pid"]) for row in rows],
                         [("H", "running", record["child_pid"])])
        os.kill(wrapper.pid, signal.SIGKILL)
        wrapper.wait()

    def test_exit_codes_and_the_holder_message(self):
        self.assertEqual(self.run_tool("qc-lock", "A", "--", *self.th("exit", 7)).returncode, 7)
        r = self.run_tool("qc-lock", "A", "--", "no-such-command-qc.exe")
        self.assertEqual(r.returncode, 127)
        self.assertIn("no-such-command-qc.exe", r.stderr)
        r = self.run_tool("qc-lock", "--account", "212000584", "BRAIN_ATLAS", "--",
                          wpath(tool("qc-lock")[-1]), "BRAIN_ATLAS", "--", *self.th("exit", 0))
        self.assertEqual(r.returncode, 75)
        self.assertRegex(r.stderr, r"BRAIN_ATLAS is held by PID \d+ \(account 212000584, host \S+, since "
                                   r"\d{4}-\d\d-\d\dT[\d:.]+[+-]\d\d:\d\d, command: .*\); stop it with: "
                                   r"qc-shutdown BRAIN_ATLAS")
        r = self.run_tool("qc-lock", "A", "--", wpath(tool("qc-lock")[-1]), "-E", "42", "A", "--",
                          *self.th("exit", 0))
        self.assertEqual(r.returncode, 42)
        self.assertEqual(self.run_tool("qc-lock", "../x", "--", *self.th("exit", 0)).returncode, 64)
        self.assertEqual(os.listdir(self.lock_dir), [])


class WindowsToolsTest(WineTestCase):
    def test_ps_formats(self):
        wrapper = self.start_tool("qc-lock", "--account", "113326", "P", "--", *self.th("sleep", 1000))
        record = self.wait_record("P")
        self.write_lock_file("OLD", "")
        table = self.run_tool("qc-ps").stdout.splitlines()
        self.assertEqual(table[0].split(), ["NAME", "STATE", "PID", "CHILD", "ACCOUNT", "HOST", "UPTIME",
                                            "RESTARTS", "COMMAND"])
        self.assertEqual(table[1].split()[:5], ["P", "running", str(record["pid"]), str(record["child_pid"]),
                                                "113326"])
        tsv = self.run_tool("qc-ps", "--all", "--tsv").stdout.splitlines()
        self.assertEqual([line.split("\t")[0] for line in tsv[1:]], ["OLD", "P"])
        rows = self.ps_json("--all")
        self.assertEqual([(r["name"], r["state"]) for r in rows], [("OLD", "stale"), ("P", "running")])
        self.assertEqual(self.run_tool("qc-ps", "-q").stdout.split(), [str(record["child_pid"])])
        os.kill(wrapper.pid, signal.SIGKILL)
        wrapper.wait()

    def test_control_characters_from_a_record_never_reach_the_terminal(self):
        # The hostile week, item 11: escapes are shown as \xNN; JSON stays exact.
        evil = "\x1b]0;pwned\x07\x1b[2J\r\nX"
        self.write_lock_file("E", self.qc_record("E", 1, 1, account=evil, command=["python", evil]))
        for args in (["qc-ps", "--all"], ["qc-ps", "--all", "--tsv"], ["qc-lock", "--list"]):
            out = self.run_tool(*args).stdout
            self.assertNotIn("\x1b", out, args)
            self.assertIn("\\x1b]0;pwned", out, args)
        [row] = self.ps_json("--all")
        self.assertEqual(row["account"], evil)

    def test_a_closed_stdout_and_stderr_do_not_stop_qc_run(self):
        # The hostile week, item 4 (`qc-run --json | head -n 1`).
        sup = self.start_tool("qc-run", "--json", "--max-restarts", "1000", "--backoff", "0.05,0.05", "SP",
                              "--", *self.th("exit", 1), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        sup.stdout.readline()
        sup.stdout.close()
        sup.stderr.close()
        seen = (self.read_record("SP") or {}).get("restarts", 0)
        wait_until(lambda: (self.read_record("SP") or {}).get("restarts", 0) >= seen + 5, timeout=60,
                   message="restarts after the reader left")
        self.assertIsNone(sup.poll(), "qc-run died when its reader went away")

    def test_clear_stale_and_version(self):
        self.write_lock_file("OLD", "garbage")
        r = self.run_tool("qc-lock", "--clear-stale")
        self.assertEqual(r.returncode, 0)
        self.assertIn("removed 1 lock file", r.stderr)
        self.assertRegex(self.run_tool("qc-ps", "--version").stdout.strip(), r"^qc-ps \d+\.\d+\.\d+$")


class WindowsSupervisionTest(WineTestCase):
    def test_qc_run_counts_and_caps_restarts(self):
        runs = self.path("runs")
        r = self.run_tool("qc-run", "--max-restarts", "3", "--backoff", "0.01,0.05", "--json", "F", "--",
                          *self.th("stamp", wpath(runs)), timeout=120)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(len(read_text(runs).split()), 4)
        events = [json.loads(l)["event"] for l in r.stdout.splitlines()]
        self.assertEqual(events[-1], "gave_up")
        self.assertEqual(os.listdir(self.lock_dir), [])

    def config(self, programs):
        cfg = {"ACCOUNTS": {}, "LAUNCH": {"lock_dir": wpath(self.lock_dir), "log_dir": wpath(self.path("logs")),
                                          "programs": programs}}
        path = self.path("MASTER_CONFIG.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        return wpath(path)

    def test_qc_launch_starts_in_order_and_qc_shutdown_stops_in_reverse(self):
        stamps = self.path("stamps")
        names = ["FIRST", "SECOND", "THIRD"]
        cfg = self.config([{"name": n, "command": self.th("stamp", wpath(stamps), "hold"),
                            "stop_timeout_s": 0.5} for n in names])
        launch = self.start_tool("qc-launch", "--json", cfg, stdout=subprocess.PIPE, text=True)
        wait_until(lambda: len(read_text(stamps).split()) == 3, timeout=60, message="three programs")
        rows = {r["name"]: r["state"] for r in self.ps_json()}
        self.assertEqual(rows, {"FIRST": "running", "SECOND": "running", "THIRD": "running",
                                "MASTER_LAUNCH": "running"})
        r = self.run_tool("qc-shutdown", "--yes", "--timeout", "30", timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(launch.wait(timeout=60), 0)
        events = [json.loads(l) for l in launch.stdout.read().splitlines()]
        started = [e["name"] for e in events if e["event"] == "started"]
        stopped = [e["name"] for e in events if e["event"] == "stopped"]
        self.assertEqual(started, names)
        self.assertEqual(stopped, list(reversed(names)))
        for pid in read_text(stamps).split():
            self.assertFalse(self.alive(pid))
        self.assertEqual(os.listdir(self.lock_dir), [])

    @unittest.skipIf("wine" in os.environ.get("QC_RUNNER", ""),
                     "Wine cannot send Ctrl+Break to a process group without a console (WINDOWS.md); "
                     "under Wine a foreign program is stopped by its job at the stop timeout instead")
    def test_qc_run_stops_a_foreign_program_gracefully_with_ctrl_break(self):
        got = self.path("break")
        sup = self.start_tool("qc-run", "--stop-timeout", "30", "--json", "B", "--",
                              *self.th("on-break", wpath(got)), stdout=subprocess.PIPE, text=True)
        self.wait_record("B")
        r = self.run_tool("qc-shutdown", "--yes", "--timeout", "30", "B")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sup.wait(timeout=60), 0)
        self.assertEqual(read_text(got).split(), ["break"], "the program got Ctrl+Break, not a kill")
        stopped = [json.loads(l) for l in sup.stdout.read().splitlines() if '"stopped"' in l]
        self.assertEqual(stopped[-1]["status"], 0)

    def test_a_killed_orchestrator_takes_its_programs_with_it(self):
        stamps = self.path("stamps")
        cfg = self.config([{"name": "JOBBED", "command": self.th("stamp", wpath(stamps), "hold")}])
        launch = self.start_tool("qc-launch", cfg)
        pid = wait_until(lambda: read_text(stamps).split(), timeout=60, message="the program")[0]
        os.kill(launch.pid, signal.SIGKILL)
        launch.wait()
        wait_until(lambda: not self.alive(pid), timeout=30, message="the program to die with its job")
        wait_until(lambda: self.run_tool("qc-lock", "--check", "JOBBED").returncode == 0, timeout=30,
                   message="the name to be free")


class WindowsEdgesTest(WineTestCase):
    """The one-copy edges (issue 11) and the hostile week (issue 16) where they apply on Windows:
    the job object stands for the subreaper, the handle table for /proc/PID/fd."""

    def stamped(self, path, count=1):
        return wait_until(lambda: len(read_text(path).split()) >= count and read_text(path).split(), timeout=60,
                          message="a stamp in " + path)

    def test_a_launcher_that_exits_leaves_the_name_held_by_its_program(self):
        # Item 1 of issue 11: `start brain.exe` and exit. The program holds the name; qc-lock
        # waits for it (its job), names it, and qc-shutdown stops it and exits 0.
        stamps = self.path("stamps")
        wrapper = self.start_tool("qc-lock", "--stop-timeout", "1", "LAUNCHED", "--",
                                  *self.th("launch", wpath(stamps)),
                                  stderr=subprocess.PIPE, text=True)
        program = self.stamped(stamps)[0]
        wait_until(lambda: (self.read_record("LAUNCHED") or {}).get("child_pid") == int(program), timeout=60,
                   message="the record to name the program")
        self.assertIsNone(wrapper.poll(), "qc-lock left while the program holds the name")
        r = self.run_tool("qc-lock", "LAUNCHED", "--", *self.th("exit", 0))
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertEqual(self.run_tool("qc-ps", "-q", "LAUNCHED").stdout.split(), [program])
        r = self.run_tool("qc-shutdown", "--yes", "--timeout", "5", "LAUNCHED", timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertFalse(self.alive(program))
        self.assertEqual(wrapper.wait(timeout=60), 0, "the launcher's status")
        self.assertIn("left a process running", wrapper.stderr.read())
        self.assertEqual(os.listdir(self.lock_dir), [])

    def test_kill_descendants_stops_what_the_launcher_left(self):
        stamps = self.path("stamps")
        r = self.run_tool("qc-lock", "--kill-descendants", "--stop-timeout", "1", "KD", "--",
                          *self.th("launch", wpath(stamps)), timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(self.alive(self.stamped(stamps)[0]))
        self.assertEqual(os.listdir(self.lock_dir), [])

    def test_a_killed_wrapper_takes_the_grandchild_with_it(self):
        # Item 2 of the hostile week: kill qc-run; the program's own child dies with the job.
        stamps = self.path("stamps")
        sup = self.start_tool("qc-run", "GRAND", "--", *self.th("launch", wpath(stamps), "wait"))
        grandchild = self.stamped(stamps)[0]
        os.kill(sup.pid, signal.SIGKILL)
        sup.wait()
        wait_until(lambda: not self.alive(grandchild), timeout=30, message="the grandchild to die with the job")
        wait_until(lambda: self.run_tool("qc-lock", "--check", "GRAND").returncode == 0, timeout=30,
                   message="the name to be free")

    def test_a_deleted_lock_file_is_put_back(self):
        # Item 1 of the hostile week: deleting a held lock file must not let a second copy in.
        sup = self.start_tool("qc-run", "DEL", "--", *self.th("sleep", 1000))
        self.wait_record("DEL")
        before = self.read_record("DEL")
        r = subprocess.run(tool("qc-testhelper") + ["delete", wpath(self.lock_path("DEL"))], env=self.env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout)  # the lock shares delete: a user can do this
        wait_until(lambda: (self.read_record("DEL") or {}).get("pid") == before["pid"], timeout=30,
                   message="the lock file to be put back")
        r = self.run_tool("qc-run", "DEL", "--", *self.th("exit", 0))
        self.assertEqual(r.returncode, 75, r.stderr)
        # Wine deletes as older Windows did (the name stays until the last handle closes);
        # Windows 10 deletes with POSIX semantics: the name goes at once, as it does here.
        os.remove(self.lock_path("DEL"))
        wait_until(lambda: (self.read_record("DEL") or {}).get("pid") == before["pid"], timeout=30,
                   message="the lock file to be put back after a POSIX-semantics delete")
        r = self.run_tool("qc-run", "DEL", "--", *self.th("exit", 0))
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertIsNone(sup.poll())
        os.kill(sup.pid, signal.SIGKILL)
        sup.wait()

    def test_a_forged_record_never_gets_another_process_stopped(self):
        # Item 3 of the hostile week: a record naming a process that does not hold the file.
        victim = self.start_tool("qc-lock", "VICTIM", "--", *self.th("sleep", 1000))
        record = self.wait_record("VICTIM")
        forged = dict(record, name="FORGED")
        record_file = self.path("forged.json")
        with open(record_file, "w") as f:
            json.dump(forged, f)
        self.start(tool("qc-testhelper") + ["hold", wpath(self.lock_path("FORGED")), wpath(record_file)], env=self.env)
        wait_until(lambda: os.path.exists(record_file + ".held"), timeout=60, message="the forger")
        r = self.run_tool("qc-shutdown", "--yes", "--timeout", "5", "FORGED", timeout=120)
        self.assertIn("not stopping PID %d" % record["pid"], r.stderr)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)  # the real holder was found and stopped
        self.assertIsNone(victim.poll(), "the process named by the forged record was stopped")
        self.assertTrue(self.alive(record["child_pid"]))
        self.assertEqual(self.run_tool("qc-lock", "--check", "VICTIM").returncode, 75)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()

    def test_a_flood_of_output_does_not_starve_a_neighbour_or_the_stop(self):
        # Item 5 of the hostile week: output is read by a thread per program on Windows.
        logs = self.path("logs")
        cfg = {"ACCOUNTS": {}, "LAUNCH": {"lock_dir": wpath(self.lock_dir), "log_dir": wpath(logs), "programs": [
            {"name": "FLOOD", "command": self.th("flood")},
            {"name": "CRASHER", "command": self.th("exit", 1), "max_restarts": 1000,
             "backoff_s": [0.05, 0.05]}]}}
        path = self.path("MASTER_CONFIG.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        launch = self.start_tool("qc-launch", wpath(path))
        wait_until(lambda: os.path.exists(os.path.join(logs, "FLOOD.log")) and
                   os.path.getsize(os.path.join(logs, "FLOOD.log")) > (1 << 20), timeout=60, message="a flood")
        wait_until(lambda: (self.read_record("CRASHER") or {}).get("restarts", 0) >= 10, timeout=60,
                   message="the neighbour's restarts beside the flood")
        r = self.run_tool("qc-shutdown", "--yes", "--timeout", "10", timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(launch.wait(timeout=60), 0)

    def test_an_alert_gets_the_event_on_stdin_and_in_its_environment(self):
        # Issue 12's alerts: the stdin pipe and the environment of a Windows alert command.
        alerts = self.path("alerts")
        r = self.run_tool("qc-run", "--on-event", helper_exe(), "--account", "113326", "--max-restarts", "0",
                          "ALERTED", "--", *self.th("exit", 4), timeout=120)
        self.assertEqual(r.returncode, 1, r.stderr)
        # --on-event names an executable; the helper's mode and file come from a wrapper config
        # in qc-launch below; here the helper runs with no mode and exits 2, which is logged.
        self.assertIn("alert for ALERTED's gave_up", r.stderr)
        cfg = {"ACCOUNTS": {}, "LAUNCH": {"lock_dir": wpath(self.lock_dir),
                                          "on_event": [helper_exe(), "alert", wpath(alerts)],
                                          "programs": [{"name": "FAILS", "command": self.th("exit", 5),
                                                        "max_restarts": 0, "account": "212000584"}]}}
        path = self.path("MASTER_CONFIG.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        r = self.run_tool("qc-launch", wpath(path), timeout=120)
        self.assertEqual(r.returncode, 1, r.stderr)
        text = read_text(alerts)
        self.assertTrue(text.startswith("gave_up FAILS 212000584 5 "), text)
        event = json.loads(text[text.index("{"):])
        self.assertEqual((event["event"], event["name"], event["status"]), ("gave_up", "FAILS", 5))

    @unittest.skipIf(ON_WINE, "Wine 8 shows a Unix symbolic link as a plain file and its CreateSymbolicLinkW "
                              "creates nothing (WINDOWS.md): a reparse point cannot be planted here")
    def test_a_log_file_that_is_a_symbolic_link_is_refused(self):
        pass


class WindowsHeartbeatTest(WineTestCase):
    def peer(self, mode):
        d = self.path("peer-" + mode)
        os.makedirs(d)
        self.start(helper("zmq_peer.py") + [mode, d])
        return "tcp://127.0.0.1:%s" % wait_until(lambda: read_text(os.path.join(d, "port")), message="peer")

    def test_the_probe_against_a_native_pyzmq_peer(self):
        r = self.run_tool("qc-heartbeat", self.peer("correct"), timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn('service="MT5 Gateway"', r.stdout)
        r = self.run_tool("qc-heartbeat", "-t", "2", self.peer("error"), timeout=60)
        self.assertEqual(r.returncode, 2)
        self.assertIn("Gateway not ready", r.stdout)

    def test_the_responder_answers_a_native_pyzmq_client(self):
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        endpoint = "tcp://127.0.0.1:%d" % port
        server = self.start_tool("qc-heartbeat", "--serve", endpoint, "--service", "MT5 Gateway")
        script = ("import json, sys, zmq\n"
                  "s = zmq.Context().socket(zmq.REQ); s.setsockopt(zmq.LINGER, 0); s.connect(sys.argv[1])\n"
                  "s.send_string(json.dumps({'action': 'HEARTBEAT', 'req_id': 'w1', 'timestamp': 1.0, 'payload': {}}))\n"
                  "print(s.recv_string() if s.poll(20000) else 'timeout')\n")
        r = subprocess.run([PYTHON, "-c", script, endpoint], capture_output=True, text=True, timeout=60)
        reply = json.loads(r.stdout)
        self.assertEqual((reply["status"], reply["req_id"]), ("SUCCESS", "w1"))
        self.assertEqual(reply["data"]["service"], "MT5 Gateway")
        # Stopped through its named stop event, as qc-shutdown stops our own tools.
        os.kill(server.pid, signal.SIGKILL)
        server.wait()


class WindowsControlTest(WineTestCase):
    """The control channel on Windows: tcp on loopback and a per-run secret only its user can
    read, required in every request; control commands and a reload, as on Linux."""

    def write(self, names):
        cfg = {"ACCOUNTS": {}, "LAUNCH": {"lock_dir": wpath(self.lock_dir), "programs": [
            {"name": n, "command": self.th("stamp", wpath(self.path("stamps")), "hold"), "stop_timeout_s": 0.5}
            for n in names]}}
        with open(self.path("MASTER_CONFIG.json"), "w") as f:
            json.dump(cfg, f)
        return wpath(self.path("MASTER_CONFIG.json"))

    def control(self, *args):
        r = self.run_tool("qc-launch", *args, self.cfg, timeout=120)
        return r

    def status(self):
        r = self.control("--status", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return {p["name"]: p for p in json.loads(r.stdout)["programs"]}

    def test_control_commands_and_a_reload(self):
        self.cfg = self.write(["FIRST", "SECOND"])
        launch = self.start_tool("qc-launch", "--no-scan", self.cfg)
        endpoint = wait_until(lambda: (self.read_record("MASTER_LAUNCH") or {}).get("control"), timeout=60,
                              message="the control endpoint")
        self.assertTrue(endpoint.startswith("tcp://127.0.0.1:"), endpoint)
        secret_file = os.path.join(self.lock_dir, "MASTER_LAUNCH.secret")
        secret = read_text(secret_file).strip()
        self.assertEqual(len(secret), 32)
        wait_until(lambda: all(p["state"] == "running" for p in self.status().values()), timeout=60,
                   message="both running")
        # Without the secret (or with a wrong one) nothing is answered but the refusal.
        r = self.run_tool("qc-heartbeat", "-t", "10", endpoint, timeout=60)
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn("secret", r.stdout)
        r = self.run_tool("qc-heartbeat", "-t", "10", "--action", "STOP", "--payload",
                          json.dumps({"name": "FIRST", "secret": "0" * 32}), endpoint, timeout=60)
        self.assertEqual(r.returncode, 2, r.stdout)
        r = self.run_tool("qc-heartbeat", "-t", "10", "--payload", json.dumps({"secret": secret}), endpoint, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout)
        first = self.status()["FIRST"]["child_pid"]
        r = self.control("--restart", "FIRST")
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_until(lambda: self.status()["FIRST"]["child_pid"] not in (None, first), timeout=60, message="a new run")
        self.assertEqual(self.control("--stop", "SECOND").returncode, 0)
        wait_until(lambda: self.status()["SECOND"]["state"] == "stopped", timeout=60, message="SECOND stopped")
        r = self.control("--start", "FIRST")
        self.assertEqual(r.returncode, 1)
        self.assertIn("already running", r.stderr)
        # Reload: SECOND removed, THIRD added, FIRST untouched.
        kept = self.status()["FIRST"]["child_pid"]
        self.write(["FIRST", "THIRD"])
        r = self.control("--reload", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        reply = json.loads(r.stdout)
        self.assertEqual((reply["added"], reply["removed"], reply["unchanged"]), (["THIRD"], ["SECOND"], ["FIRST"]))
        wait_until(lambda: self.status().get("THIRD", {}).get("state") == "running", timeout=60, message="THIRD")
        self.assertEqual(self.status()["FIRST"]["child_pid"], kept)
        # An invalid config changes nothing.
        with open(self.path("MASTER_CONFIG.json"), "w") as f:
            f.write("{")
        r = self.run_tool("qc-launch", "--reload", "--lock-dir", wpath(self.lock_dir), self.cfg, timeout=120)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.write(["FIRST", "THIRD"])
        self.assertEqual(self.status()["FIRST"]["child_pid"], kept)
        r = self.run_tool("qc-shutdown", "--yes", "--timeout", "30", timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(launch.wait(timeout=60), 0)
        self.assertEqual(os.listdir(self.lock_dir), [], "the secret goes with the orchestrator")


class WindowsHealthTest(WineTestCase):
    """Health checks on Windows: the non-blocking TCP connect on Winsock, refused and accepted."""

    def test_a_refused_tcp_check_restarts_and_an_accepted_one_does_not(self):
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed_port = s.getsockname()[1]
        r = self.run_tool("qc-run", "--json", "--health-tcp", "127.0.0.1:%d" % closed_port, "--health-interval", "0.2",
                          "--health-timeout", "2", "--health-failures", "2", "--max-restarts", "1",
                          "--backoff", "0.05,0.05", "--stop-timeout", "0.5", "H", "--",
                          *self.th("stamp", wpath(self.path("runs")), "hold"), timeout=120)
        events = [json.loads(l)["event"] for l in r.stdout.splitlines()]
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(events.count("unhealthy"), 2, events)
        self.assertEqual(events[-1], "gave_up")
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(64)
            port = listener.getsockname()[1]
            sup = self.start_tool("qc-run", "--json", "--health-tcp", "127.0.0.1:%d" % port, "--health-interval", "0.2",
                                  "--health-timeout", "2", "--health-failures", "1", "G", "--",
                                  *self.th("stamp", wpath(self.path("good")), "hold"), stdout=subprocess.PIPE,
                                  text=True)
            first = self.wait_record("G")["child_pid"]
            time.sleep(2)  # ten checks or so: the test is that nothing happens
            self.assertEqual(self.read_record("G")["child_pid"], first)
            self.run_tool("qc-shutdown", "--yes", "--timeout", "30", "G", timeout=120)
            sup.wait(timeout=60)
            self.assertNotIn("unhealthy", sup.stdout.read())


@unittest.skipUnless(os.path.exists("/usr/bin/etcd"), "etcd is not installed (Debian: etcd-server)")
class WindowsFleetTest(WineTestCase):
    """qc-lock.exe takes a fleet name from the Linux etcd on 127.0.0.1 (libcurl with Schannel,
    cross-built from Debian's source), against a Linux qc-lock holding it as another host."""

    def setUp(self):
        super().setUp()
        from test_fleet import Etcd
        self.etcd = Etcd(self.tmp)

    def tearDown(self):
        super().tearDown()
        self.etcd.stop()

    def test_a_fleet_name_from_the_linux_etcd_with_its_fencing_token_and_a_conflict(self):
        url = self.etcd.client_urls[0]
        out = self.path("tokens")
        r = subprocess.run(tool("qc-lock") + ["--etcd", url, "WINFLEET", "--"] + self.th("env", wpath(out), "QC_FENCING_TOKEN"),
                           env=dict(self.env, QC_HOST_NAME="winhost"), capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        first = int(read_text(out).split()[0])
        self.assertGreater(first, 0)
        holder = self.start(tool("qc-lock") + ["--etcd", url, "WINFLEET", "--"] + self.th("env", wpath(out), "QC_FENCING_TOKEN", "hold"),
                            env=dict(self.env, QC_HOST_NAME="winhost"))
        wait_until(lambda: len(read_text(out).split()) == 2, timeout=60, message="the holder's command")
        self.assertGreater(int(read_text(out).split()[1]), first)
        linux = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../build/bin/qc-lock")
        if os.path.exists(linux):  # the native build beside the Windows one: another "host"
            r = subprocess.run([linux, "--etcd", url, "--lock-dir", self.path("linux-locks"), "WINFLEET", "--", "true"],
                               env=dict(os.environ, QC_HOST_NAME="linuxhost"), capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 75, r.stderr)
            self.assertIn("held in the fleet by host winhost", r.stderr)
        r = subprocess.run(tool("qc-lock") + ["--etcd", "http://127.0.0.1:1", "WINFLEET2", "--"] + self.th("exit", "0"),
                           env=self.env, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertIn("http://127.0.0.1:1", r.stderr)

    def test_qc_launch_across_a_windows_and_a_linux_host(self):
        """qc-launch.exe with LAUNCH.fleet runs the program; a Linux qc-launch of the same
        programs stands by, and takes it over when the Windows host stops."""
        linux = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../build/bin/qc-launch")
        if not os.path.exists(linux):
            self.skipTest("no native build beside the Windows one to be the other host")
        url = self.etcd.client_urls[0]
        fleet = {"etcd": [url], "ttl_s": 5}
        out = self.path("win-started")
        win_cfg, linux_cfg = self.path("win.json"), self.path("linux.json")
        with open(win_cfg, "w") as f:
            json.dump({"ACCOUNTS": {}, "LAUNCH": {"lock_dir": wpath(self.lock_dir), "fleet": fleet,
                                                  "defaults": {"stop_timeout_s": 1},
                                                  "programs": [{"name": "WINGW", "command": self.th("env", wpath(out), "QC_FENCING_TOKEN", "hold")}]}}, f)
        with open(linux_cfg, "w") as f:
            json.dump({"ACCOUNTS": {}, "LAUNCH": {"lock_dir": self.path("linux-locks"), "fleet": fleet,
                                                  "defaults": {"stop_timeout_s": 1},
                                                  "programs": [{"name": "WINGW", "command": ["sleep", "1000"]}]}}, f)
        win = self.start(tool("qc-launch") + [wpath(win_cfg)], env=dict(self.env, QC_HOST_NAME="winhost"))
        wait_until(lambda: read_text(out).split(), timeout=60, message="the Windows host's program")
        self.assertGreater(int(read_text(out).split()[0]), 0)  # its fencing token
        linux_env = dict(os.environ, QC_HOST_NAME="linuxhost")
        other = self.start([linux, "--status-interval", "0", linux_cfg], env=linux_env)

        def linux_state():
            r = subprocess.run([linux, "--status", "--json", linux_cfg], env=linux_env, capture_output=True, text=True, timeout=30)
            return json.loads(r.stdout)["programs"][0]["state"] if r.returncode == 0 else None
        wait_until(lambda: linux_state() == "standby", timeout=30, message="the Linux host in standby")
        r = subprocess.run(tool("qc-launch") + ["--stop", "WINGW", wpath(win_cfg)], env=dict(self.env, QC_HOST_NAME="winhost"),
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_until(lambda: linux_state() == "running", timeout=30, message="the Linux host to take it over")
        for p in (win, other):
            os.kill(p.pid, signal.SIGTERM)


class WindowsPackageTest(WineTestCase):
    """make windows-package's zip (cmake/windows/package.sh), unpacked into a fresh Wine prefix:
    MASTER_LAUNCH.bat runs its example MASTER_CONFIG.json with nothing else (no build
    directory, no QC_BIN, no QC_LOCK_DIR): a gateway with a heartbeat ready check and one
    stand-in BRAIN per enabled account. qc-shutdown.exe from the zip stops it."""
    ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")

    def tearDown(self):
        prefix = self.path("prefix")
        if os.path.isdir(prefix):
            subprocess.run(["wineserver", "-k"], env=dict(os.environ, WINEPREFIX=prefix), timeout=60)
        super().tearDown()

    def test_the_zip_runs_master_launch_in_a_fresh_prefix(self):
        import zipfile
        r = subprocess.run(["bash", os.path.join(self.ROOT, "cmake", "windows", "package.sh"), BIN_DIR,
                            self.path("out"), "0"], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        zipfile.ZipFile(r.stdout.strip()).extractall(self.path("unpacked"))
        folder = self.path("unpacked", "qc-0-windows")
        env = {k: v for k, v in os.environ.items() if not k.startswith("QC_")}
        env.update(WINEPREFIX=self.path("prefix"), WINEDEBUG="-all", WINEDLLOVERRIDES="mscoree,mshtml=", QC_NOPAUSE="1")
        # The prefix is made first, once (about 10 s): two Wine programs started at once into a
        # prefix that does not exist yet wait for each other's set-up.
        # A persistent wineserver of its own first, with no pipe of ours: Wine's background
        # programs would otherwise hold a reader's pipe open after the program it ran ended.
        os.makedirs(env["WINEPREFIX"])
        subprocess.run(["wineserver", "-p"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
        subprocess.run(["wine", "cmd", "/c", "exit", "0"], env=env, cwd=folder, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
        launch = self.start([os.environ.get("QC_RUNNER", "wine"), "cmd", "/c", "MASTER_LAUNCH.bat"], env=env, cwd=folder,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

        def states():
            r = subprocess.run(["wine", "qc-launch.exe", "--status", "--json"], env=env, cwd=folder,
                               capture_output=True, text=True, timeout=120)
            return {p["name"]: p["state"] for p in json.loads(r.stdout)["programs"]} if r.returncode == 0 else {}
        wait_until(lambda: states() == {"gateway": "running", "BRAIN_ATLAS": "running", "BRAIN_FTMO": "running"},
                   timeout=180, interval=0.5, message="the example's programs running")
        r = subprocess.run(["wine", "qc-shutdown.exe", "--yes"], env=env, cwd=folder, capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out, _ = launch.communicate(timeout=120)
        self.assertIn("gateway is ready", out)
        self.assertEqual(launch.returncode, 0, out)


class WindowsServiceTest(WineTestCase):
    """qc-launch --service (docs/install.md) against Wine's service control manager: install,
    sc qc, net start, qc-launch --service stop / start, net stop, uninstall; the programs start
    in order and stop in reverse through SERVICE_CONTROL_STOP; an automatic service starts
    with a new Wine session (a boot). Wine keeps no failure actions and sends no PRESHUTDOWN:
    those are not shown here (docs/install.md, Under Wine)."""

    def setUp(self):
        super().setUp()
        self.name = "qc-test-%d-%s" % (os.getpid(), self._testMethodName[5:25])
        self.stamps = self.path("stamps")
        self.logs = self.path("logs")

    def tearDown(self):
        self.run_tool("qc-launch", "--service", "uninstall", "--name", self.name, "--control-timeout", "60",
                      timeout=180)
        super().tearDown()

    def config(self, names=("FIRST", "SECOND")):
        cfg = {"ACCOUNTS": {}, "LAUNCH": {"name": "SVC_LAUNCH", "lock_dir": wpath(self.lock_dir),
                                          "log_dir": wpath(self.logs),
                                          "programs": [{"name": n, "command": self.th("stamp", wpath(self.stamps), "hold"),
                                                        "stop_timeout_s": 2} for n in names]}}
        path = self.path("MASTER_CONFIG.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        return wpath(path)

    def wine(self, *args, env=None):
        return subprocess.run([os.environ.get("QC_RUNNER", "wine")] + list(args), env=env or self.env, cwd=self.tmp,
                              capture_output=True, text=True, timeout=180, start_new_session=True)

    def service(self, verb, *args):
        return self.run_tool("qc-launch", "--service", verb, "--name", self.name, *args, timeout=180)

    def sc_state(self, env=None):
        out = self.wine("sc", "query", self.name, env=env).stdout
        for word in ("RUNNING", "STOPPED", "START_PENDING", "STOP_PENDING"):
            if word in out:
                return word
        return out

    def running_programs(self):
        return {r["name"] for r in self.ps_json() if r["state"] == "running"}

    def log_lines(self):
        return read_text(os.path.join(self.logs, "qc-launch.log")).splitlines()

    def test_install_start_stop_uninstall(self):
        cfg = self.config()
        # A relative CONFIG (the test's cwd is its directory) is written absolute: the service
        # starts in the system directory, and the programs below run only if it is found.
        r = self.service("install", "MASTER_CONFIG.json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("installed service " + self.name, r.stderr)
        again = self.service("install", cfg)
        self.assertEqual(again.returncode, 73, again.stderr)
        self.assertIn(self.name, again.stderr)
        # Wine's sc has no "qc": the control manager's registry key says the same.
        key = self.wine("reg", "query", "HKLM\\System\\CurrentControlSet\\Services\\" + self.name).stdout
        self.assertRegex(key, r"Start\s+REG_DWORD\s+0x2\b")  # SERVICE_AUTO_START
        self.assertIn("--as-service --name " + self.name, key)
        self.assertRegex(key, r"[A-Za-z]:[\\/]\S*%s[\\/]MASTER_CONFIG\.json" % os.path.basename(self.tmp))
        self.assertRegex(key, r"PreshutdownTimeout\s+REG_DWORD\s+0x36b0\b")  # 10 s + 2 stop timeouts of 2 s
        self.assertEqual(self.sc_state(), "STOPPED")

        # RUNNING once every program started (Wine's net start returns at START_PENDING;
        # Windows' waits).
        r = self.wine("net", "start", self.name)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        wait_until(lambda: self.sc_state() == "RUNNING", timeout=60, interval=0.2, message="RUNNING")
        self.assertEqual(self.running_programs(), {"FIRST", "SECOND", "SVC_LAUNCH"})
        pids = read_text(self.stamps).split()
        self.assertEqual(len(pids), 2)

        # SERVICE_CONTROL_STOP: the programs in reverse order, then STOPPED with exit code 0.
        r = self.service("stop")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("is stopped", r.stderr)
        self.assertEqual(self.sc_state(), "STOPPED")
        for pid in pids:
            self.assertFalse(self.alive(pid))
        self.assertEqual(os.listdir(self.lock_dir), [])
        stops = [l for l in self.log_lines() if " stopped" in l and ("FIRST" in l or "SECOND" in l)]
        self.assertEqual(["SECOND" in stops[0], "FIRST" in stops[1]], [True, True], stops)

        r = self.service("start")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("runs (PID", r.stderr)
        self.assertEqual(self.running_programs(), {"FIRST", "SECOND", "SVC_LAUNCH"})
        r = self.wine("net", "stop", self.name)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        wait_until(lambda: self.sc_state() == "STOPPED", timeout=60, interval=0.2, message="STOPPED")
        self.assertEqual(self.running_programs(), set())

        r = self.service("uninstall")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(self.sc_state(), ("RUNNING", "STOPPED", "START_PENDING", "STOP_PENDING"))

    def test_an_automatic_service_starts_with_a_new_session(self):
        """A boot, as Wine has one: a new wineserver for a prefix starts its automatic
        services. A prefix of the test's own: the shared one's wineserver must live on."""
        env = dict(self.env, WINEPREFIX=self.path("prefix"))
        os.makedirs(env["WINEPREFIX"])
        self.addCleanup(lambda: subprocess.run(["wineserver", "-k"], env=env, timeout=60))

        def boot():  # Wine's background programs (services.exe, the service) must hold no pipe of ours
            subprocess.run(["wineserver", "-p"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=60)
            subprocess.run([os.environ.get("QC_RUNNER", "wine"), "cmd", "/c", "exit", "0"], env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
        boot()
        cfg = self.config()
        r = self.run_tool("qc-launch", "--service", "install", "--name", self.name, cfg, env=env, timeout=180)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(os.path.exists(self.stamps))
        subprocess.run(["wineserver", "-k"], env=env, timeout=60)  # the machine goes down...
        subprocess.run(["wineserver", "-w"], env=env, timeout=60)
        boot()  # ...and comes back: nobody starts the service
        wait_until(lambda: len(read_text(self.stamps).split()) == 2, timeout=120, interval=0.2,
                   message="both programs started by the service at boot")
        wait_until(lambda: self.sc_state(env) == "RUNNING", timeout=60, interval=0.2, message="RUNNING")
        r = self.run_tool("qc-launch", "--service", "uninstall", "--name", self.name, env=env, timeout=180)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.listdir(self.lock_dir), [])

    def test_bad_input(self):
        r = self.service("start")
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertIn(self.name, r.stderr)
        r = self.service("install", wpath(self.path("missing.json")))
        self.assertEqual(r.returncode, 66, r.stderr)
        self.assertIn("nothing installed", r.stderr)
        r = self.run_tool("qc-launch", "--as-service", "--name", self.name, self.config())
        self.assertEqual(r.returncode, 64, r.stderr)
        self.assertIn("--service start", r.stderr)

    def test_a_program_that_cannot_start_stops_the_service_with_its_exit_code(self):
        cfg = {"ACCOUNTS": {}, "LAUNCH": {"lock_dir": wpath(self.lock_dir), "log_dir": wpath(self.logs),
                                          "programs": [{"name": "NOPE", "command": ["Z:\\no\\such\\program.exe"]}]}}
        with open(self.path("MASTER_CONFIG.json"), "w") as f:
            json.dump(cfg, f)
        self.assertEqual(self.service("install", wpath(self.path("MASTER_CONFIG.json"))).returncode, 0)
        r = self.service("start")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("stopped while starting (qc-launch exit 1", r.stderr)
        self.assertIn("NOPE", read_text(os.path.join(self.logs, "qc-launch.log")))


class WindowsUnicodeTest(WineTestCase):
    """Names beyond ASCII (docs/install.md): a config, its lock and log directories and its
    programs' files under C:\\Trading\\Jürgen and a Cyrillic directory; QC_LOCK_DIR and
    arguments in both. Every .exe runs with UTF-8 as its active code page. (Lock names stay
    ASCII, as the lock file format says.)"""

    def test_an_account_directory_named_juergen_or_in_cyrillic(self):
        for folder in ("Jürgen", "Юрий_Счёт"):
            with self.subTest(folder=folder):
                base = self.path("Trading", folder)
                os.makedirs(base)
                stamps = os.path.join(base, "stamps")
                cfg = {"ACCOUNTS": {}, "LAUNCH": {"name": "LAUNCH_U", "lock_dir": wpath(os.path.join(base, "locks")),
                                                  "log_dir": wpath(os.path.join(base, "logs")),
                                                  "programs": [{"name": "BRAIN_U", "command": self.th("stamp", wpath(stamps), "hold"),
                                                                "stop_timeout_s": 0.5}]}}
                config = os.path.join(base, "MASTER_CONFIG.json")
                with open(config, "w", encoding="utf-8") as f:
                    json.dump(cfg, f, ensure_ascii=False)
                launch = self.start_tool("qc-launch", wpath(config))
                wait_until(lambda: read_text(stamps).strip(), timeout=60, message="the program's stamp in " + folder)
                self.assertEqual(sorted(os.listdir(os.path.join(base, "locks"))),
                                 ["BRAIN_U.lock", "LAUNCH_U.lock", "LAUNCH_U.secret"])
                self.assertIn("BRAIN_U.log", os.listdir(os.path.join(base, "logs")))
                rows = {r["name"]: r for r in self.ps_json("--lock-dir", wpath(os.path.join(base, "locks")))}
                self.assertEqual(rows["BRAIN_U"]["state"], "running")
                self.assertIn(folder, " ".join(rows["BRAIN_U"]["command"]))
                # The environment too: QC_LOCK_DIR names the same directory.
                env = dict(self.env, QC_LOCK_DIR=wpath(os.path.join(base, "locks")))
                r = self.run_tool("qc-lock", "BRAIN_U", "--", helper_exe(), "stamp", wpath(stamps), env=env)
                self.assertEqual(r.returncode, 75, r.stderr)
                self.assertIn(folder, r.stderr)  # the holder's command line
                r = self.run_tool("qc-shutdown", "--yes", "--timeout", "30", "--lock-dir",
                                  wpath(os.path.join(base, "locks")), timeout=120)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(launch.wait(timeout=60), 0)
                self.assertEqual(os.listdir(os.path.join(base, "locks")), [])


class WindowsBatchTest(WineTestCase):
    BATCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "batch")

    def cmd(self, script, *args, input=None):
        env = dict(self.env, QC_NOPAUSE="1", QC_BIN=wpath(BIN_DIR))
        argv = [os.environ.get("QC_RUNNER", "wine"), "cmd", "/c", wpath(os.path.join(self.BATCH, script))] + list(args)
        return subprocess.run(argv, env=env, input=input, capture_output=True, text=True, timeout=180,
                              cwd=self.tmp, start_new_session=True)

    def test_master_launch_refuses_when_a_lock_is_held(self):
        holder = self.start_tool("qc-lock", "BRAIN_X", "--", *self.th("sleep", 1000))
        self.wait_record("BRAIN_X")
        cfg = self.path("MASTER_CONFIG.json")
        with open(cfg, "w") as f:
            json.dump({"ACCOUNTS": {}, "LAUNCH": {"lock_dir": wpath(self.lock_dir),
                                                  "programs": [{"name": "BRAIN_X", "command": self.th("sleep", 1)}]}}, f)
        r = self.cmd("MASTER_LAUNCH.bat", wpath(cfg))
        self.assertEqual(r.returncode, 75, r.stdout + r.stderr)
        self.assertIn("BRAIN_X is held", r.stdout + r.stderr)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()

    def test_check_processes_lists_what_runs(self):
        holder = self.start_tool("qc-lock", "LISTED", "--", *self.th("sleep", 1000))
        self.wait_record("LISTED")
        r = self.cmd("CHECK_PROCESSES.bat")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("LISTED", r.stdout)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()

    def test_safe_shutdown_with_its_confirmation_answered_stops_everything(self):
        holders = [self.start_tool("qc-lock", "SAFE%d" % i, "--", *self.th("sleep", 1000)) for i in range(2)]
        records = [self.wait_record("SAFE%d" % i) for i in range(2)]
        r = self.cmd("SAFE_SHUTDOWN.bat", input="YES\n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for h in holders:
            h.wait(timeout=60)
        for rec in records:
            self.assertFalse(self.alive(rec["child_pid"]))
        self.assertEqual(os.listdir(self.lock_dir), [])
        r = self.cmd("SAFE_SHUTDOWN.bat", input="no\n")
        self.assertEqual(r.returncode, 0, "nothing left to stop: no question asked")


if __name__ == "__main__":
    unittest.main()
