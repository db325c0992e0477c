"""docs/lock-file.md's seven lock properties, each shown on the built binaries with real processes."""
import json
import os
import random
import signal
import subprocess
import unittest

from qctest import (QcTestCase, blocked_in_poll, dead_pid, helper, is_dead, proc_start, proc_state,
                    read_text, tool, wait_until)

# Sanitizer builds start every process several times slower: they lower the repetitions
# (QC_TEST_ROUNDS, QC_TEST_ACQUIRES); the native suite runs the full counts.
CONTENDERS = 50
ROUNDS = int(os.environ.get("QC_TEST_ROUNDS", "20"))
ACQUIRES = int(os.environ.get("QC_TEST_ACQUIRES", "300"))


class RaceTest(QcTestCase):
    """Property 1: of any number of simultaneous acquirers of one name, exactly one wins."""

    def race_round(self, round_no, plant):
        work = self.path("round%d" % round_no)
        os.makedirs(work)
        if plant == "stale-qc":
            self.write_lock_file("RACE", self.qc_record("RACE", dead_pid(), 1))
        elif plant == "stale-legacy":
            self.write_lock_file("RACE", self.legacy_record("RACE", dead_pid()))
        barrier = os.path.join(work, "barrier")
        open(barrier, "w").close()
        release = os.path.join(work, "release")
        os.mkfifo(release)
        # The test holds an exclusive flock on the barrier; every contender blocks on a shared
        # one, so all of them start qc-lock the moment it is dropped.
        gate = subprocess.Popen(["flock", "-x", barrier, "sh", "-c", "read x"],
                                stdin=subprocess.PIPE, start_new_session=True)
        self._procs.append(gate)
        wait_until(lambda: subprocess.run(["flock", "-n", "-s", barrier, "true"]).returncode == 1,
                   message="the barrier to close")
        # Inside, a command proves it is alone: mkdir fails if another copy is inside.
        protected = ("mkdir %s/inside || echo VIOLATION >> %s/violations; "
                     "echo $$ >> %s/winners; read x < %s; rmdir %s/inside") % (
                         work, work, work, release, work)
        contenders = []
        for i in range(CONTENDERS):
            script = 'touch "%s/ready.%d"; flock -s "%s" true; exec "$@"' % (work, i, barrier)
            contenders.append(self.start(
                ["sh", "-c", script, "contender"] + tool("qc-lock") + ["RACE", "--", "sh", "-c", protected],
                stderr=subprocess.PIPE, text=True))
        wait_until(lambda: len([f for f in os.listdir(work) if f.startswith("ready.")]) == CONTENDERS,
                   message="all contenders at the barrier")
        gate.stdin.close()  # drop the barrier: everyone races now
        gate.wait()
        # Every loser exits 75 while the winner is still inside.
        wait_until(lambda: sum(p.poll() is not None for p in contenders) >= CONTENDERS - 1,
                   timeout=60, message="the losers to give up")
        codes = [p.poll() for p in contenders]
        self.assertEqual(codes.count(75), CONTENDERS - 1, "round %d (%s): %s" % (round_no, plant, codes))
        with open(release, "w") as f:
            f.write("go\n")
        for p in contenders:
            p.wait(timeout=30)
        codes = [p.returncode for p in contenders]
        self.assertEqual(codes.count(0), 1, "round %d (%s): one winner: %s" % (round_no, plant, codes))
        self.assertEqual(codes.count(75), CONTENDERS - 1, codes)
        self.assertFalse(os.path.exists(os.path.join(work, "violations")), "two holders at once")
        with open(os.path.join(work, "winners")) as f:
            self.assertEqual(len(f.read().split()), 1)
        for p in contenders:
            if p.returncode == 75:
                self.assertIn("RACE is held by PID", p.stderr.read())
            p.stderr.close()
        self.assertFalse(os.path.exists(self.lock_path("RACE")), "released and removed")

    def test_fifty_way_race_has_one_winner_each_round(self):
        for round_no in range(ROUNDS):
            self.race_round(round_no, None)

    def test_race_over_a_stale_qc_file(self):
        for round_no in range(ROUNDS):
            self.race_round(round_no, "stale-qc")

    def test_race_over_a_stale_legacy_file(self):
        for round_no in range(ROUNDS):
            self.race_round(round_no, "stale-legacy")


class CrashTest(QcTestCase):
    def test_sigkill_of_wrapper_and_command_frees_the_name_at_once(self):
        wrapper = self.start_tool("qc-lock", "K", "--", "sleep", "1000")
        record = self.wait_for_child("K")
        os.killpg(wrapper.pid, signal.SIGKILL)  # the group: wrapper and command together
        wrapper.wait()
        wait_until(lambda: is_dead(record["child_pid"]), message="the command to die")
        # No clean-up step: the name is free the moment both are dead.
        self.assertEqual(self.run_tool("qc-lock", "--check", "K").returncode, 0)
        self.assertEqual(self.run_tool("qc-lock", "K", "--", "true").returncode, 0)

    def test_sigkill_of_the_wrapper_alone_keeps_the_name_until_the_command_exits(self):
        command, out = self.reporter()
        wrapper = self.start_tool("qc-lock", "ORPHAN", "--", *command)
        child = self.wait_for_reporter("ORPHAN", out)
        os.kill(wrapper.pid, signal.SIGKILL)
        # Not reaped yet: the dead wrapper lingers as a zombie, which must count as gone.
        wait_until(lambda: proc_state(wrapper.pid) == "Z", message="the wrapper to die")
        # The command is told to stop (parent-death SIGTERM)...
        signals_file = os.path.join(out, "signals.%d" % child)
        wait_until(lambda: "SIGTERM" in read_text(signals_file),
                   message="SIGTERM to reach the orphaned command")
        # ...and while it winds down the name stays held: no duplicate can start.
        self.assertFalse(is_dead(child))
        check = self.run_tool("qc-lock", "--check", "ORPHAN")
        self.assertEqual(check.returncode, 75, check.stderr)
        self.assertEqual(self.run_tool("qc-lock", "ORPHAN", "--", "true").returncode, 75)
        [row] = self.ps_json()
        self.assertEqual(row["state"], "orphaned")
        self.assertEqual(row["child_pid"], child)
        self.assertEqual(self.run_tool("qc-ps", "-q").stdout.split(), [str(child)],
                         "-q offers the live command, never the dead wrapper's PID")
        wrapper.wait()
        open(os.path.join(out, "release"), "w").close()
        wait_until(lambda: is_dead(child), message="the command to exit")
        self.assertEqual(self.run_tool("qc-lock", "--check", "ORPHAN").returncode, 0)
        self.assertEqual(self.run_tool("qc-lock", "ORPHAN", "--", "true").returncode, 0)


class ObserverTest(QcTestCase):
    """Property 5: observing never makes a concurrent acquire fail."""

    def test_ps_and_list_in_tight_loops_never_fail_an_acquire(self):
        for i in range(20):  # something for the observers to read
            self.write_lock_file("STALE%d" % i, self.qc_record("STALE%d" % i, dead_pid(), 1))
        observers = []
        for argv in (tool("qc-ps") + ["--all", "--json"], tool("qc-lock") + ["--list"],
                     tool("qc-lock") + ["--check", "HOT"], tool("qc-ps") + ["--all", "--json", "HOT"]):
            loop = 'while :; do "$@" >/dev/null 2>&1; done'
            observers.append(self.start(["sh", "-c", loop, "observer"] + argv))
        failures = []
        for i in range(ACQUIRES):
            r = self.run_tool("qc-lock", "HOT", "--", "true")
            if r.returncode != 0:
                failures.append((i, r.returncode, r.stderr))
        for p in observers:
            os.killpg(p.pid, signal.SIGKILL)
        self.assertEqual(failures, [])


class StaleFileTest(QcTestCase):
    """Property 6: stale files of any shape are ignored, listed as stale, and cleared."""

    def plant_garbage(self):
        self.write_lock_file("STALE_QC", self.qc_record("STALE_QC", dead_pid(), 1))
        self.write_lock_file("STALE_LEGACY", self.legacy_record("STALE_LEGACY", dead_pid()))
        self.write_lock_file("EMPTY", "")
        self.write_lock_file("TRUNCATED", json.dumps(self.qc_record("TRUNCATED", 1, 1))[:40])
        rng = random.Random(7)
        self.write_lock_file("RANDOM", bytes(rng.randrange(256) for _ in range(512)))
        return ["EMPTY", "RANDOM", "STALE_LEGACY", "STALE_QC", "TRUNCATED"]

    def test_garbage_files_are_listed_as_stale_and_cleared(self):
        names = self.plant_garbage()
        holder = self.start_tool("qc-lock", "HELD", "--", "sleep", "1000")
        self.wait_for_child("HELD")
        rows = self.ps_json("--all")
        self.assertEqual([r["name"] for r in rows], sorted(names + ["HELD"]))
        for r in rows:
            self.assertEqual(r["state"], "running" if r["name"] == "HELD" else "stale", r)
        self.assertEqual([r["name"] for r in self.ps_json()], ["HELD"])
        listing = self.run_tool("qc-lock", "--list", "--json")
        self.assertEqual(listing.returncode, 0, listing.stderr)
        self.assertEqual(len(listing.stdout.splitlines()), len(names) + 1)
        table = self.run_tool("qc-lock", "--list")
        self.assertEqual(table.returncode, 0)
        for name in names:
            self.assertIn(name, table.stdout)
        # Each is taken over by an acquirer as if it were not there.
        for name in names:
            self.assertEqual(self.run_tool("qc-lock", name, "--", "true").returncode, 0, name)
        self.plant_garbage()
        cleared = self.run_tool("qc-lock", "--clear-stale", "--json")
        self.assertEqual(cleared.returncode, 0, cleared.stderr)
        self.assertIn("removed 5 lock files", cleared.stderr)
        removed = sorted(json.loads(l)["name"] for l in cleared.stdout.splitlines())
        self.assertEqual(removed, names)
        self.assertEqual(sorted(os.listdir(self.lock_dir)), ["HELD.lock"])
        self.assertIsNone(holder.poll())


class PidReuseTest(QcTestCase):
    """Property 7: a PID is trusted only together with its start time."""

    def test_a_live_process_with_the_pid_but_another_start_time_is_not_the_holder(self):
        bystander = self.start(["sleep", "1000"])
        start = proc_start(bystander.pid)
        self.write_lock_file("REUSED", self.qc_record("REUSED", bystander.pid, start + 1,
                                                      child_pid=bystander.pid, child_start=start - 1))
        [row] = self.ps_json("--all")
        self.assertEqual(row["state"], "stale")
        q = self.run_tool("qc-ps", "--all", "-q")
        self.assertEqual(q.stdout, "", "a stale PID is never offered for kill")
        self.assertEqual(self.run_tool("qc-lock", "--check", "REUSED").returncode, 0)
        self.assertEqual(self.run_tool("qc-lock", "REUSED", "--", "true").returncode, 0)
        self.assertIsNone(bystander.poll(), "the bystander is untouched")

    def test_a_held_lock_whose_wrapper_pid_was_reused_is_orphaned_not_running(self):
        # The OS lock is held by a process whose record names a bystander's PID with another
        # start time as the wrapper: the bystander is not the holder, is never offered for
        # kill, and the holder shows as orphaned (its wrapper is gone).
        bystander = self.start(["sleep", "1000"])
        record = json.dumps(self.qc_record("REUSED", bystander.pid, proc_start(bystander.pid) + 1,
                                           child_pid=0, child_start=0)).replace(
            '"child_pid": 0, "child_start": 0', '"child_pid": $SELF_PID, "child_start": $SELF_START')
        os.makedirs(self.lock_dir)
        holder = self.start(helper("fake_holder.py") + [self.lock_path("REUSED"), record],
                            stdin=subprocess.PIPE)
        wait_until(lambda: os.path.exists(self.lock_path("REUSED") + ".ready"), message="the holder")
        [row] = self.ps_json()
        self.assertEqual((row["state"], row["pid"], row["child_pid"]),
                         ("orphaned", bystander.pid, holder.pid))
        self.assertEqual(self.run_tool("qc-ps", "-q").stdout.split(), [str(holder.pid)])
        conflict = self.run_tool("qc-lock", "REUSED", "--", "true")
        self.assertEqual(conflict.returncode, 75)
        self.assertIn("(gone; its command, PID %d, is winding down)" % holder.pid, conflict.stderr)
        self.assertIsNone(bystander.poll())

    def test_a_zombie_python_does_not_hold_a_legacy_file(self):
        zombie = subprocess.Popen(["/usr/bin/python3", "-c", "pass"])  # exits, left unreaped
        try:
            wait_until(lambda: proc_state(zombie.pid) == "Z", message="a zombie")
            self.write_lock_file("ZOMBIE", self.legacy_record("ZOMBIE", zombie.pid))
            [row] = self.ps_json("--all")
            self.assertEqual(row["state"], "stale")
            self.assertEqual(self.run_tool("qc-lock", "ZOMBIE", "--", "true").returncode, 0)
        finally:
            zombie.wait()

    def test_a_legacy_file_is_held_only_by_a_live_python_process(self):
        not_python = self.start(["sleep", "1000"])
        python = self.start(["/usr/bin/python3", "-c", "import time; time.sleep(1000)"])
        self.write_lock_file("NOT_PY", self.legacy_record("NOT_PY", not_python.pid))
        self.write_lock_file("PY", self.legacy_record("PY", python.pid))
        states = {r["name"]: r["state"] for r in self.ps_json("--all")}
        self.assertEqual(states, {"NOT_PY": "stale", "PY": "legacy"})
        held = self.run_tool("qc-lock", "PY", "--", "true")
        self.assertEqual(held.returncode, 75)
        self.assertIn("PY is held by PID %d (legacy process_lock.py lock, account 212000584" % python.pid,
                      held.stderr)
        self.assertEqual(self.run_tool("qc-lock", "--check", "PY").returncode, 75)
        self.assertEqual(self.run_tool("qc-lock", "NOT_PY", "--", "true").returncode, 0)
        # --clear-stale keeps a live legacy file; --clear-all --yes removes it.
        self.run_tool("qc-lock", "--clear-stale")
        self.assertTrue(os.path.exists(self.lock_path("PY")))
        self.assertEqual(self.run_tool("qc-lock", "--clear-all", "--yes").returncode, 0)
        self.assertFalse(os.path.exists(self.lock_path("PY")))
        self.assertIsNone(python.poll(), "clearing a file never touches its process")

    def test_waiting_on_a_legacy_holder_wakes_when_it_exits(self):
        python = self.start(["/usr/bin/python3", "-c", "import sys; sys.stdin.read()"],
                            stdin=subprocess.PIPE)
        self.write_lock_file("PY", self.legacy_record("PY", python.pid))
        waiter = self.start_tool("qc-lock", "-w", "30", "PY", "--", "true")
        wait_until(lambda: blocked_in_poll(waiter.pid), message="the waiter to block")
        python.stdin.close()  # the legacy holder exits; its file stays behind
        python.wait()
        self.assertEqual(waiter.wait(timeout=10), 0)


if __name__ == "__main__":
    unittest.main()
