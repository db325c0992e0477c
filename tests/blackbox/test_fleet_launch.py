"""Fleet orchestration (docs/fleet.md): qc-launch with LAUNCH.fleet on a rig of three "hosts"
on one machine: three qc-launch processes with their own lock and log directories and
QC_HOST_NAME, the same programs, one etcd (test_fleet.Etcd) with a partition proxy between
each host and it. Every program writes start and stop stamps from CLOCK_MONOTONIC to a file
of its own (helpers/stamp.py), from which overlaps are counted."""
import base64
import json
import os
import signal
import subprocess
import time
import unittest

from qctest import TIME_SLACK, helper, tool, wait_until
from test_fleet import FleetTestCase, overlaps, read_stamps

ACCOUNTS = ("ATLAS", "FTMO")
KINDS = ("BRAIN", "WATCHDOG", "GATEWAY")
NAMES = ["%s_%s" % (kind, account) for kind in KINDS for account in ACCOUNTS]
TTL = 4  # > stop_timeout_s (1) + 2


class Host:
    """One qc-launch of the rig."""

    def __init__(self, test, name, endpoint, prefer=None, ttl=TTL):
        self.test, self.name = test, name
        self.dir = test.path(name)
        os.makedirs(self.dir, exist_ok=True)
        fleet = {"etcd": endpoint if isinstance(endpoint, list) else [endpoint], "ttl_s": ttl, "prefix": "/rig/"}
        if prefer:
            fleet["prefer"] = prefer
        config = {
            "ACCOUNTS": {a: {"enabled": True} for a in ACCOUNTS},
            "LAUNCH": {
                "lock_dir": "locks", "log_dir": "logs", "fleet": fleet,
                "defaults": {"stop_timeout_s": 1, "backoff_s": [0.1, 0.5]},
                "programs": [
                    {"name": kind + "_{key}", "for_each": "account", "account": "{key}",
                     "command": helper("stamp.py") + [test.stamp_file(kind + "_{key}"), "@"]}
                    for kind in KINDS]}}
        self.config = os.path.join(self.dir, "MASTER_CONFIG.json")
        with open(self.config, "w") as f:
            json.dump(config, f)
        self.env = dict(test.env, QC_HOST_NAME=name)
        self.proc = None
        self.start()

    def start(self):
        with open(os.path.join(self.dir, "qc-launch.err"), "a") as err:
            self.proc = self.test.start(tool("qc-launch") + ["--status-interval", "0", self.config], env=self.env,
                                        stderr=err)

    def status(self):
        try:
            r = subprocess.run(tool("qc-launch") + ["--status", "--json", self.config], env=self.env,
                               capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            return None
        if r.returncode != 0:
            return None
        return json.loads(r.stdout)

    def states(self):
        s = self.status()
        return {p["name"]: p["state"] for p in s["programs"]} if s else {}

    def running(self):
        return {name for name, state in self.states().items() if state == "running"}

    def kill_tree(self):
        """SIGKILL of the orchestrator and every program it runs (a host that dies)."""
        s = self.status()
        pids = [p["child_pid"] for p in s["programs"] if p["child_pid"]] if s else []
        os.kill(self.proc.pid, signal.SIGKILL)
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)

    def errors(self):
        with open(os.path.join(self.dir, "qc-launch.err")) as f:
            return f.read()


class RigTestCase(FleetTestCase):
    """test_fleet's etcd (MEMBERS of them) and its proxies, closed in its teardown; here one
    proxy per host."""

    def setUp(self):
        super().setUp()
        self.proxies = {}  # host name -> its proxy
        self.hosts = {}

    def stamp_file(self, name):
        return self.path("stamps-" + name)

    def host(self, name, **kwargs):
        proxy = self.proxies.get(name) or self.proxy()
        self.proxies[name] = proxy
        h = Host(self, name, proxy.url, **kwargs)
        self.hosts[name] = h
        return h

    def program_stamps(self, name):
        return read_stamps(self.stamp_file(name))

    def runs_now(self, name):
        """The hosts whose copy of `name` has started and not stopped (from the stamps)."""
        running = {}
        for what, host, _, _ in self.program_stamps(name):
            running[host] = running.get(host, 0) + (1 if what == "start" else -1)
        return {h for h, n in running.items() if n > 0}

    def placement(self):
        """name -> the hosts that say it runs there."""
        where = {name: set() for name in NAMES}
        for h in self.hosts.values():
            if h.proc.poll() is None:
                for name in h.running():
                    where[name].add(h.name)
        return where

    def wait_each_once(self, hosts=None, timeout=20):
        def settled():
            where = self.placement()
            return all(len(v) == 1 and (hosts is None or v <= hosts) for v in where.values()) and where
        return wait_until(settled, timeout=timeout, interval=0.1, message="every program running on exactly one host")

    def start_times_after(self, name, t):
        return [s[2] for s in self.program_stamps(name) if s[0] == "start" and s[2] > t]


class FleetPlacementTest(RigTestCase):
    def test_six_programs_run_exactly_once_across_three_hosts(self):
        for name in ("hostA", "hostB", "hostC"):
            self.host(name)
        where = self.wait_each_once()
        # Settled: the stamps say the same as the hosts (once each program's Python has started).
        wait_until(lambda: all(self.runs_now(n) == where[n] for n in NAMES), timeout=10, message="the stamps")
        for name in NAMES:
            self.assertEqual(len(self.runs_now(name)), 1, (name, self.program_stamps(name)))
            self.assertEqual(overlaps(self.program_stamps(name)), 0, name)
        # The others say standby for what runs elsewhere.
        for h in self.hosts.values():
            for name, state in h.states().items():
                self.assertIn(state, ("running", "standby"), (h.name, name))
                self.assertEqual(state == "running", h.name in where[name], (h.name, name))
        # qc-ps --fleet: each name's holder, and the hosts that stand by for it.
        def listed():
            r = self.run_tool("qc-ps", "--fleet", "--json", "--etcd", self.etcd.client_urls[0], "--etcd-prefix", "/rig/")
            self.assertEqual(r.returncode, 0, r.stderr)
            rows = [json.loads(line) for line in r.stdout.splitlines()]
            return {n: sorted((row["host"], row["state"]) for row in rows if row["name"] == n) for n in NAMES}
        expected = {n: sorted([(h, "running" if h in where[n] else "standby") for h in self.hosts]) for n in NAMES}
        wait_until(lambda: listed() == expected, timeout=10, message="qc-ps --fleet's standby rows")

    def test_a_graceful_stop_hands_every_program_over_within_a_second(self):
        a = self.host("hostA")
        self.wait_each_once({"hostA"})
        b = self.host("hostB")
        wait_until(lambda: set(b.states().values()) == {"standby"}, timeout=15, message="hostB in standby")
        before = time.monotonic()
        a.proc.send_signal(signal.SIGTERM)
        self.wait_each_once({"hostB"})
        wait_until(lambda: all(self.runs_now(n) == {"hostB"} for n in NAMES), timeout=10,
                   message="every program's start stamp on hostB")
        for name in NAMES:
            stop = [s for s in self.program_stamps(name) if s[0] == "stop" and s[1] == "hostA"][-1][2]
            start = [s for s in self.program_stamps(name) if s[0] == "start" and s[1] == "hostB"][-1][2]
            self.assertGreater(start, stop, name)  # never side by side
            # Handed over within a second of its stop here (the whole host: bench/fleet_launch.py).
            self.assertLess(start - stop, 1.0 + TIME_SLACK, name)
            self.assertGreater(stop, before, name)
            self.assertEqual(overlaps(self.program_stamps(name)), 0, name)
        self.assertEqual(a.proc.wait(timeout=10), 0)


class HostFailoverTest(RigTestCase):
    def test_a_host_killed_whole_hands_its_programs_over_within_the_ttl(self):
        for name in ("hostA", "hostB", "hostC"):
            self.host(name)
        where = self.wait_each_once()
        victim = self.hosts["hostA"]
        moved = [name for name, hosts in where.items() if "hostA" in hosts]
        if not moved:  # hostA got nothing: kill the one that holds BRAIN_ATLAS
            victim = self.hosts[next(iter(where["BRAIN_ATLAS"]))]
            moved = [name for name, hosts in where.items() if victim.name in hosts]
        killed_at = time.monotonic()
        victim.kill_tree()
        survivors = {h for h in self.hosts if h != victim.name}
        self.wait_each_once(survivors, timeout=TTL + 10)
        wait_until(lambda: all(self.start_times_after(n, killed_at) for n in moved), timeout=10,
                   message="the moved programs' start stamps")
        for name in moved:
            later = self.start_times_after(name, killed_at)
            self.assertTrue(later, name)
            self.assertLess(later[0] - killed_at, TTL + 1.0 + TIME_SLACK, name)

    def test_a_black_holed_host_stops_its_programs_before_any_other_starts_them(self):
        rounds = int(os.environ.get("QC_TEST_ROUNDS", "10"))
        holder, spare = self.host("hostA"), self.host("hostB")
        for r in range(rounds):
            held_here = holder
            self.wait_each_once()
            names = [n for n, hosts in self.placement().items() if held_here.name in hosts]
            if not names:
                holder, spare = spare, holder
                held_here = holder
                names = [n for n, hosts in self.placement().items() if held_here.name in hosts]
            self.proxies[held_here.name].black_hole()
            cut_at = time.monotonic()
            # The other host takes them over once the lease has expired, after they stopped.
            wait_until(lambda: all(self.start_times_after(n, cut_at) for n in names), timeout=TTL + 10,
                       interval=0.05, message="round %d: the other host to take over" % r)
            for n in names:
                self.assertEqual(overlaps(self.program_stamps(n)), 0, (r, n, self.program_stamps(n)))
            # The black-holed host is reconnected through a new proxy, as a new host would be.
            held_here.stop()
            self.proxies[held_here.name].close()
            del self.proxies[held_here.name]
            self.hosts[held_here.name] = self.host(held_here.name)
            holder, spare = spare, self.hosts[held_here.name]
        for n in NAMES:
            self.assertEqual(overlaps(self.program_stamps(n)), 0, n)


class FleetStopTest(RigTestCase):
    def test_a_fleet_stop_holds_everywhere_until_start(self):
        a, b, c = self.host("hostA"), self.host("hostB"), self.host("hostC")
        where = self.wait_each_once()
        holder = self.hosts[next(iter(where["BRAIN_ATLAS"]))]
        other = next(h for h in (a, b, c) if h is not holder)
        # A standby host asked to START or RESTART it starts nothing beside the holder.
        for action in ("--start", "--restart"):
            r = subprocess.run(tool("qc-launch") + [action, "BRAIN_ATLAS", other.config], env=other.env,
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("standby", r.stderr + r.stdout)
        wait_until(lambda: self.runs_now("BRAIN_ATLAS") == {holder.name}, timeout=10, message="the stamps")
        self.assertEqual(other.states().get("BRAIN_ATLAS"), "standby")
        r = self.run_tool("qc-shutdown", "--fleet", "--etcd", self.etcd.client_urls[0], "--etcd-prefix", "/rig/",
                          "BRAIN_ATLAS")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("stopped on host " + holder.name, r.stderr)
        self.assertEqual(self.runs_now("BRAIN_ATLAS"), set())
        # No standby takes it: give them the time a take-over needs, and more.
        time.sleep(1.5)
        self.assertEqual(self.runs_now("BRAIN_ATLAS"), set())
        for h in (a, b, c):
            self.assertEqual(h.states().get("BRAIN_ATLAS"), "stopped", h.name)
        # --start from any host brings it back on exactly one.
        r = subprocess.run(tool("qc-launch") + ["--start", "BRAIN_ATLAS", other.config], env=other.env,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_until(lambda: len(self.runs_now("BRAIN_ATLAS")) == 1, timeout=10, message="BRAIN_ATLAS back")
        self.wait_each_once()
        self.assertEqual(overlaps(self.program_stamps("BRAIN_ATLAS")), 0)

    def test_release_lets_it_run_again(self):
        self.host("hostA")
        self.wait_each_once()
        url = self.etcd.client_urls[0]
        r = self.run_tool("qc-shutdown", "--fleet", "--etcd", url, "--etcd-prefix", "/rig/", "GATEWAY_FTMO")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_tool("qc-shutdown", "--fleet", "--release", "--etcd", url, "--etcd-prefix", "/rig/",
                          "GATEWAY_FTMO")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.wait_each_once()

    def test_bad_fleet_input(self):
        r = self.run_tool("qc-shutdown", "--fleet", "--etcd", "http://127.0.0.1:1", "BRAIN_ATLAS")
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertIn("127.0.0.1:1", r.stderr)
        r = self.run_tool("qc-shutdown", "--fleet", "--etcd", self.etcd.client_urls[0], "BRAIN_*")
        self.assertEqual(r.returncode, 64, r.stderr)


class FleetPreferTest(RigTestCase):
    def test_the_preferred_host_takes_its_programs_back_without_overlap(self):
        prefer = {"ATLAS": "hostA"}  # by account key
        b = self.host("hostB", prefer=prefer)
        self.wait_each_once({"hostB"})
        returned_at = time.monotonic()
        self.host("hostA", prefer=prefer)
        atlas = [n for n in NAMES if n.endswith("_ATLAS")]

        def placed():
            where = self.placement()
            return all(where[n] == {"hostA"} for n in atlas) and all(where[n] == {"hostB"} for n in NAMES if n not in atlas)
        wait_until(placed, timeout=15, interval=0.1, message="ATLAS's programs back on hostA")
        for n in NAMES:
            self.assertEqual(overlaps(self.program_stamps(n)), 0, n)
        for n in atlas:
            self.assertTrue(self.start_times_after(n, returned_at), n)
        self.assertEqual(b.proc.poll(), None)


class FleetMemberLossTest(RigTestCase):
    MEMBERS = 3

    def test_losing_one_member_of_three_changes_nothing(self):
        # A lease long enough to ride out the new leader's election (when the killed member led)
        # without coming near the fence deadline: TTL - stop - 1 = 8 s after the last renewal.
        a = Host(self, "hostA", self.etcd.client_urls, ttl=10)
        b = Host(self, "hostB", self.etcd.client_urls, ttl=10)
        self.hosts = {"hostA": a, "hostB": b}
        where = self.wait_each_once()
        wait_until(lambda: all(self.runs_now(n) == where[n] for n in NAMES), timeout=10, message="the stamps")
        before = {n: len(self.program_stamps(n)) for n in NAMES}
        self.etcd.kill(0)
        time.sleep(3 * 10 / 5 + 1)  # three renewal periods: they and the watch move to the other members
        self.assertEqual(self.placement(), where)
        self.assertEqual({n: len(self.program_stamps(n)) for n in NAMES}, before)  # no stop, no start
        self.assertNotIn("in the fleet:", a.errors() + b.errors())  # no lease lost, no take failed


class FleetConfigTest(RigTestCase):
    def test_a_ttl_that_cannot_outlive_the_stop_is_78(self):
        config = {"ACCOUNTS": {}, "LAUNCH": {"fleet": {"etcd": ["http://127.0.0.1:2379"], "ttl_s": 5},
                                             "programs": [{"name": "GW", "command": ["sleep", "9"],
                                                           "stop_timeout_s": 3}]}}
        path = self.path("short.json")
        with open(path, "w") as f:
            json.dump(config, f)
        r = self.run_tool("qc-launch", path)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("ttl_s", r.stderr)

    def test_an_unreachable_cluster_is_69_and_nothing_starts(self):
        config = {"ACCOUNTS": {}, "LAUNCH": {"fleet": {"etcd": ["http://127.0.0.1:1"]},
                                             "programs": [{"name": "GW", "command": helper("stamp.py") +
                                                           [self.stamp_file("GW"), "@"]}]}}
        path = self.path("down.json")
        with open(path, "w") as f:
            json.dump(config, f)
        r = self.run_tool("qc-launch", path)
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertIn("127.0.0.1:1", r.stderr)
        self.assertEqual(self.program_stamps("GW"), [])


class FleetCompactionTest(RigTestCase):
    def test_a_standby_that_missed_the_give_back_in_compacted_history_still_takes_over(self):
        # TTL 10: hostB's lease outlives the pause, so nothing but its watch can tell it.
        a = self.host("hostA", ttl=10)
        self.wait_each_once({"hostA"})
        b = self.host("hostB", ttl=10)
        wait_until(lambda: set(b.states().values()) == {"standby"}, timeout=15, message="hostB in standby")
        self.proxies["hostB"].pause()  # hostB's watch is cut and cannot come back ...
        a.stop()                       # ... while hostA gives every name back
        key = base64.b64encode(b"/rig/").decode()
        revision = int(self.etcd.post("/v3/kv/range", {"key": key})["header"]["revision"])
        self.etcd.post("/v3/kv/compaction", {"revision": str(revision), "physical": True})
        self.proxies["hostB"].resume()  # its watch from before the give-back: compacted
        self.wait_each_once({"hostB"}, timeout=15)
        self.assertIn("compacted", b.errors())
        for name in NAMES:
            self.assertEqual(overlaps(self.program_stamps(name)), 0, name)
        b.stop()
        self.assertEqual(b.proc.returncode, 0)

    def test_a_holder_whose_name_was_taken_in_compacted_history_stops_its_copy(self):
        a = self.host("hostA", ttl=10)
        self.wait_each_once({"hostA"})
        b = self.host("hostB", ttl=10)
        wait_until(lambda: set(b.states().values()) == {"standby"}, timeout=15, message="hostB in standby")
        self.proxies["hostA"].pause()  # hostA's watch is cut (its lease outlives the pause) ...
        # ... while somebody deletes BRAIN_ATLAS's key by hand and hostB takes the name.
        key = base64.b64encode(b"/rig/locks/BRAIN_ATLAS").decode()
        self.etcd.post("/v3/kv/deleterange", {"key": key})
        wait_until(lambda: "hostB" in self.runs_now("BRAIN_ATLAS"), timeout=10, message="BRAIN_ATLAS on hostB")
        revision = int(self.etcd.post("/v3/kv/range", {"key": key})["header"]["revision"])
        self.etcd.post("/v3/kv/compaction", {"revision": str(revision), "physical": True})
        self.proxies["hostA"].resume()  # its watch from before the deletion: compacted
        wait_until(lambda: self.runs_now("BRAIN_ATLAS") == {"hostB"}, timeout=15,
                   message="hostA's copy of BRAIN_ATLAS to stop")
        self.assertIn("its key was deleted in etcd", a.errors())
        for name in NAMES:
            if name != "BRAIN_ATLAS":
                self.assertEqual(self.runs_now(name), {"hostA"}, name)


if __name__ == "__main__":
    unittest.main()
