"""Supervision that runs for weeks (issue 12): what is built of it so far."""
import json
import os
import signal
import unittest

from qctest import QcTestCase, read_text, wait_until

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


if __name__ == "__main__":
    unittest.main()
