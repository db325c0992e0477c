"""qc-ps (docs/tools.md): formats, filters, --scan duplicate detection, --check, exit codes."""
import os
import subprocess
import unittest

from qctest import PYTHON, QcTestCase, dead_pid, read_text, wait_until

COLUMNS = ["NAME", "STATE", "PID", "CHILD", "ACCOUNT", "HOST", "UPTIME", "RESTARTS", "COMMAND"]
JSON_KEYS = ["name", "state", "pid", "child_pid", "account", "host", "started", "uptime_s",
             "restarts", "command", "lock_file", "run_started", "held_since", "last_status"]


class PsTest(QcTestCase):
    def hold(self, name, *extra):
        p = self.start_tool("qc-lock", *extra, name, "--", "sleep", "1000")
        return p, self.wait_for_child(name)

    def test_no_locks_is_empty_output_and_exit_0(self):
        r = self.run_tool("qc-ps")
        self.assertEqual((r.returncode, r.stdout), (0, ""))
        self.assertIn("No active locks.", r.stderr)
        for fmt in ("--json", "-q"):
            r = self.run_tool("qc-ps", fmt)
            self.assertEqual((r.returncode, r.stdout), (0, ""), fmt)
        r = self.run_tool("qc-ps", "--tsv")
        self.assertEqual(r.stdout, "\t".join(COLUMNS) + "\n")

    def test_table_tsv_json_and_pids_show_the_same_rows(self):
        b, brec = self.hold("BRAIN_ATLAS", "--account", "212000584")
        w, wrec = self.hold("WATCHDOG_ATLAS")
        self.write_lock_file("OLD", self.qc_record("OLD", dead_pid(), 1))

        table = self.run_tool("qc-ps")
        lines = table.stdout.splitlines()
        self.assertEqual(lines[0].split(), COLUMNS)
        self.assertEqual([l.split()[0] for l in lines[1:]], ["BRAIN_ATLAS", "WATCHDOG_ATLAS"])
        first = lines[1].split()
        self.assertEqual(first[1:5], ["running", str(b.pid), str(brec["child_pid"]), "212000584"])
        self.assertEqual(" ".join(first[8:]), "sleep 1000")

        tsv = self.run_tool("qc-ps", "--all", "--tsv").stdout.splitlines()
        self.assertEqual(tsv[0].split("\t"), COLUMNS)
        self.assertEqual([row.split("\t")[0] for row in tsv[1:]], ["BRAIN_ATLAS", "OLD", "WATCHDOG_ATLAS"])
        self.assertTrue(all(len(row.split("\t")) == 9 for row in tsv))

        rows = self.ps_json("--all")
        self.assertEqual([list(r) for r in rows], [JSON_KEYS] * 3)
        brain = rows[0]
        self.assertEqual(brain["state"], "running")
        self.assertEqual(brain["pid"], b.pid)
        self.assertEqual(brain["account"], "212000584")
        self.assertEqual(brain["command"], ["sleep", "1000"])
        self.assertEqual(brain["lock_file"], self.lock_path("BRAIN_ATLAS"))
        self.assertGreaterEqual(brain["uptime_s"], 0)
        self.assertEqual(brain["restarts"], 0)
        self.assertEqual(rows[1]["state"], "stale")

        pids = self.run_tool("qc-ps", "-q").stdout.split()
        self.assertEqual(pids, [str(brec["child_pid"]), str(wrec["child_pid"])],
                         "-q prints the program (CHILD), not its wrapper")
        self.assertEqual(self.run_tool("qc-ps", "-q", "--all").stdout.split(), pids,
                         "stale PIDs are never printed for xargs")

    def test_name_globs_narrow_the_rows(self):
        self.hold("BRAIN_ATLAS")
        self.hold("BRAIN_FTMO")
        self.hold("WATCHDOG_ATLAS")
        names = lambda *globs: [r["name"] for r in self.ps_json(*globs)]
        self.assertEqual(names("BRAIN_*"), ["BRAIN_ATLAS", "BRAIN_FTMO"])
        self.assertEqual(names("*ATLAS"), ["BRAIN_ATLAS", "WATCHDOG_ATLAS"])
        self.assertEqual(names("BRAIN_FTMO", "WATCH*"), ["BRAIN_FTMO", "WATCHDOG_ATLAS"])
        self.assertEqual(names("NOTHING*"), [])

    def test_check_exits_1_on_stale_entries_only_with_all(self):
        self.hold("A")
        self.assertEqual(self.run_tool("qc-ps", "--check").returncode, 0)
        self.write_lock_file("OLD", "")
        self.assertEqual(self.run_tool("qc-ps", "--check").returncode, 0)
        r = self.run_tool("qc-ps", "--check", "--all")
        self.assertEqual(r.returncode, 1)
        self.assertIn("OLD", r.stdout)

    def test_scan_lists_unmanaged_copies_and_marks_duplicates(self):
        scripts = self.path("bots")
        os.makedirs(scripts)
        for script in ("BRAIN_SCANA.py", "BRAIN_SCANB.py"):
            with open(os.path.join(scripts, script), "w") as f:
                f.write("import sys\nsys.stdin.read()\n")
        # One managed copy of A, one unmanaged copy of A under another interpreter path,
        # and a single unmanaged B.
        m = self.start_tool("qc-lock", "BRAIN_SCANA", "--", PYTHON, "BRAIN_SCANA.py",
                            cwd=scripts, stdin=subprocess.PIPE)
        rec = self.wait_for_child("BRAIN_SCANA")
        # The seed's case: a venv's python and the system python running the same script.
        venv_python = self.path("venv", "bin", "python")
        os.makedirs(os.path.dirname(venv_python))
        os.symlink(PYTHON, venv_python)
        dup = self.start([venv_python, os.path.join(scripts, "BRAIN_SCANA.py")], stdin=subprocess.PIPE)
        single = self.start([PYTHON, "BRAIN_SCANB.py"], cwd=scripts, stdin=subprocess.PIPE)
        for p in (m, dup, single):
            wait_until(lambda: "BRAIN_SCAN" in read_text("/proc/%d/cmdline" % p.pid),
                       message="PID %d to run its script" % p.pid)
        wait_until(lambda: "BRAIN_SCAN" in read_text("/proc/%d/cmdline" % rec["child_pid"]),
                   message="the managed command to run its script")
        rows = self.ps_json("--scan", r"BRAIN_SCAN[AB]\.py")
        by_pid = {r["pid"]: r for r in rows}
        self.assertEqual(by_pid[m.pid]["state"], "running")
        self.assertEqual(by_pid[dup.pid]["state"], "duplicate")
        self.assertEqual(by_pid[dup.pid]["name"], "BRAIN_SCANA.py")
        self.assertIsNone(by_pid[dup.pid]["lock_file"])
        self.assertEqual(by_pid[single.pid]["state"], "unmanaged")
        self.assertNotIn(rec["child_pid"], by_pid, "the managed command is not unmanaged")
        self.assertEqual(self.run_tool("qc-ps", "--scan", "BRAIN_SCAN", "--check").returncode, 1)
        self.assertEqual(self.run_tool("qc-ps", "--scan", "BRAIN_SCANB", "--check").returncode, 0)
        table = self.run_tool("qc-ps", "--scan", "BRAIN_SCAN").stdout
        self.assertIn("duplicate", table)

    def test_exit_codes_for_bad_input(self):
        r = self.run_tool("qc-ps", "--scan", "(unclosed")
        self.assertEqual(r.returncode, 64)
        self.assertIn("(unclosed", r.stderr)
        r = self.run_tool("qc-ps", "--bogus")
        self.assertEqual(r.returncode, 64)
        r = self.run_tool("qc-ps", "--json", "-q")
        self.assertEqual(r.returncode, 64)
        not_a_dir = self.path("file")
        open(not_a_dir, "w").close()
        r = self.run_tool("qc-ps", "--lock-dir", not_a_dir)
        self.assertEqual(r.returncode, 66)
        self.assertIn(not_a_dir, r.stderr)
        r = self.run_tool("qc-ps", "--lock-dir", self.path("missing"))
        self.assertEqual((r.returncode, r.stdout), (0, ""))
        self.assertFalse(os.path.exists(self.path("missing")), "observing creates nothing")

    def test_help_and_version(self):
        r = self.run_tool("qc-ps", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--scan", r.stdout)
        self.assertRegex(self.run_tool("qc-ps", "--version").stdout.strip(), r"^qc-ps \d+\.\d+\.\d+$")


if __name__ == "__main__":
    unittest.main()
