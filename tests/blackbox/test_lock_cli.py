"""qc-lock's command line (docs/tools.md): every exit code it can return, with a message naming
the thing concerned, signal forwarding and status pass-through."""
import json
import os
import signal
import subprocess
import unittest

from qctest import QcTestCase, read_text, tool, wait_until


class ExitCodeTest(QcTestCase):
    def test_bad_names_exit_64_and_quote_the_name(self):
        for bad in ["../x", "", "a" * 101, "a b", "x/y"]:
            r = self.run_tool("qc-lock", bad, "--", "true")
            self.assertEqual(r.returncode, 64, bad)
            self.assertIn('invalid lock name "%s"' % bad, r.stderr)
            c = self.run_tool("qc-lock", "--check", bad)
            self.assertEqual(c.returncode, 64, bad)
        self.assertFalse(os.path.exists(self.lock_dir), "nothing created for a bad name")

    def test_a_lock_dir_that_cannot_be_created_exits_73_and_names_it(self):
        blocker = self.path("a-file")
        open(blocker, "w").close()
        bad_dir = os.path.join(blocker, "locks")
        r = self.run_tool("qc-lock", "--lock-dir", bad_dir, "A", "--", "true")
        self.assertEqual(r.returncode, 73)
        self.assertIn("cannot create lock directory %s" % bad_dir, r.stderr)
        env = dict(self.env, QC_LOCK_DIR=bad_dir)
        self.assertEqual(self.run_tool("qc-lock", "A", "--", "true", env=env).returncode, 73)

    def test_a_lock_file_that_is_a_directory_exits_73_and_names_it(self):
        os.makedirs(self.lock_path("D"))
        r = self.run_tool("qc-lock", "D", "--", "true")
        self.assertEqual(r.returncode, 73)
        self.assertIn(self.lock_path("D"), r.stderr)
        self.assertIn("directory", r.stderr)

    def test_a_held_name_exits_75_or_the_conflict_code_and_names_the_holder(self):
        r = self.run_tool("qc-lock", "--account", "212000584", "BRAIN_ATLAS", "--",
                          *tool("qc-lock"), "BRAIN_ATLAS", "--", "true")
        self.assertEqual(r.returncode, 75)
        self.assertRegex(r.stderr, r"qc-lock: BRAIN_ATLAS is held by PID \d+ \(account 212000584, "
                                   r"host \S+, since \d{4}-\d\d-\d\dT[\d:.]+[+-]\d\d:\d\d, command: "
                                   r".*qc-lock BRAIN_ATLAS -- true\); stop it with: qc-shutdown BRAIN_ATLAS")
        r = self.run_tool("qc-lock", "A", "--", *tool("qc-lock"), "-E", "42", "A", "--", "true")
        self.assertEqual(r.returncode, 42)
        r = self.run_tool("qc-lock", "A", "--", *tool("qc-lock"), "--json", "A", "--", "true")
        self.assertEqual(r.returncode, 75)
        conflict = json.loads(r.stdout)
        self.assertEqual(conflict["event"], "conflict")
        self.assertEqual(conflict["name"], "A")
        self.assertIsInstance(conflict["pid"], int)

    def test_check_exits_0_when_free_and_75_when_held(self):
        self.assertEqual(self.run_tool("qc-lock", "--check", "A").returncode, 0)
        r = self.run_tool("qc-lock", "A", "--", *tool("qc-lock"), "--check", "A")
        self.assertEqual(r.returncode, 75)
        self.assertIn("A is held by PID", r.stderr)
        r = self.run_tool("qc-lock", "A", "--", *tool("qc-lock"), "-E", "9", "--check", "A")
        self.assertEqual(r.returncode, 9)
        self.assertFalse(os.path.exists(self.lock_dir) and os.listdir(self.lock_dir))

    def test_a_missing_command_exits_127_and_names_it(self):
        r = self.run_tool("qc-lock", "A", "--", "no-such-command-qc")
        self.assertEqual(r.returncode, 127)
        self.assertIn("no-such-command-qc", r.stderr)
        r = self.run_tool("qc-lock", "A", "--", self.path("missing.sh"))
        self.assertEqual(r.returncode, 127)
        self.assertIn(self.path("missing.sh"), r.stderr)
        self.assertFalse(os.path.exists(self.lock_path("A")), "the lock is released")

    def test_a_non_executable_command_exits_126_and_names_it(self):
        script = self.path("not-executable.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(script, 0o644)
        r = self.run_tool("qc-lock", "A", "--", script)
        self.assertEqual(r.returncode, 126)
        self.assertIn(script, r.stderr)

    def test_the_commands_status_is_passed_on(self):
        self.assertEqual(self.run_tool("qc-lock", "A", "--", "sh", "-c", "exit 7").returncode, 7)
        self.assertEqual(self.run_tool("qc-lock", "A", "--", "sh", "-c", "exit 0").returncode, 0)
        killed = self.run_tool("qc-lock", "A", "--", "sh", "-c", "kill -KILL $$")
        self.assertEqual(killed.returncode, 137)
        self.assertFalse(os.path.exists(self.lock_path("A")))

    def test_usage_errors_exit_64(self):
        for args in [[], ["A"], ["A", "--"], ["--", "true"], ["--check"], ["--list", "A"],
                     ["--check", "A", "--", "true"], ["--bogus"], ["-w", "-1", "A", "--", "true"],
                     ["--yes", "A", "--", "true"], ["--list", "--clear-stale"]]:
            r = self.run_tool("qc-lock", *args)
            self.assertEqual(r.returncode, 64, args)
            self.assertIn("qc-lock", r.stderr)
            self.assertEqual(r.stdout, "")

    def test_clear_all_without_a_terminal_needs_yes(self):
        self.write_lock_file("X", "garbage")
        r = self.run_tool("qc-lock", "--clear-all", input="YES\n")
        self.assertEqual(r.returncode, 64)
        self.assertIn("--yes", r.stderr)
        self.assertTrue(os.path.exists(self.lock_path("X")))

    def test_clear_all_never_removes_a_held_file(self):
        holder = self.start_tool("qc-lock", "HELD", "--", "sleep", "1000")
        self.wait_for_child("HELD")
        self.write_lock_file("X", "garbage")
        r = self.run_tool("qc-lock", "--clear-all", "--yes", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("keeping HELD", r.stderr)
        self.assertEqual([json.loads(l)["name"] for l in r.stdout.splitlines()], ["X"])
        self.assertEqual(os.listdir(self.lock_dir), ["HELD.lock"])
        self.assertIsNone(holder.poll())

    def test_help_and_version(self):
        r = self.run_tool("qc-lock", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--check", r.stdout)
        self.assertIn("Exit status", r.stdout)
        r = self.run_tool("qc-lock", "--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout.strip(), r"^qc-lock \d+\.\d+\.\d+$")


class RunTest(QcTestCase):
    def test_the_record_names_wrapper_command_and_account(self):
        p = self.start_tool("qc-lock", "--account", "113326", "R", "--", "sleep", "1000")
        record = self.wait_for_child("R")
        self.assertEqual(record["name"], "R")
        self.assertEqual(record["pid"], p.pid)
        self.assertEqual(record["account"], "113326")
        self.assertEqual(record["command"], ["sleep", "1000"])
        self.assertEqual(record["tool"], "qc-lock")
        self.assertEqual(record["version"], 1)
        self.assertIsInstance(record["pid_start"], int)
        self.assertIsInstance(record["child_start"], int)
        self.assertEqual(list(record)[:5], ["name", "pid", "account", "timestamp", "host"])

    def test_stdin_and_stdout_are_the_commands(self):
        r = self.run_tool("qc-lock", "A", "--", "tr", "a-z", "A-Z", input="hello\n")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(r.stdout, "HELLO\n")

    def test_signals_are_forwarded_once(self):
        command, out = self.reporter()
        wrapper = self.start_tool("qc-lock", "SIG", "--", *command)
        child = self.wait_for_reporter("SIG", out)
        signals_file = os.path.join(out, "signals.%d" % child)
        sent = []
        for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP, signal.SIGQUIT, signal.SIGINT):
            os.kill(wrapper.pid, sig)
            sent.append(sig.name)
            wait_until(lambda: read_text(signals_file).split() == sent,
                       message="%s to reach the command once" % sig.name)
        # The command stops on SIGTERM or SIGINT only once "release" exists: create it after
        # SIGTERM has arrived, or the command could exit on the SIGINT before SIGTERM is sent.
        os.kill(wrapper.pid, signal.SIGTERM)
        wait_until(lambda: read_text(signals_file).split() == sent + ["SIGTERM"],
                   message="SIGTERM to reach the command once")
        open(os.path.join(out, "release"), "w").close()
        self.assertEqual(wrapper.wait(timeout=10), 0)
        self.assertEqual(read_text(signals_file).split(), sent + ["SIGTERM"])
        self.assertFalse(os.path.exists(self.lock_path("SIG")))

    def test_a_command_killed_by_a_forwarded_signal_gives_128_plus_n(self):
        wrapper = self.start_tool("qc-lock", "T", "--", "sleep", "1000")
        self.wait_for_child("T")
        os.kill(wrapper.pid, signal.SIGTERM)
        self.assertEqual(wrapper.wait(timeout=10), 128 + signal.SIGTERM)

    def test_wait_takes_the_name_when_the_holder_releases(self):
        holder = self.start_tool("qc-lock", "W", "--", "cat", stdin=subprocess.PIPE)
        self.wait_for_child("W")
        waiter = self.start_tool("qc-lock", "-w", "30", "W", "--", "true")
        self.assertEqual(self.run_tool("qc-lock", "-w", "0.2", "W", "--", "true").returncode, 75)
        holder.stdin.close()
        self.assertEqual(holder.wait(timeout=10), 0)
        self.assertEqual(waiter.wait(timeout=10), 0)


if __name__ == "__main__":
    unittest.main()
