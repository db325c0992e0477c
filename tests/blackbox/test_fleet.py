"""The fleet lock (docs/fleet.md) against a real etcd (Debian's etcd-server) started on
loopback ports of the test's own, with a temporary data directory, one member or three.
Several "hosts" are qc-lock processes with their own lock directories and QC_HOST_NAME. A
network partition is a TCP proxy between a host and etcd that stops forwarding without
closing (a black hole). Every command writes start and stop stamps from CLOCK_MONOTONIC
(helpers/stamp.py), and overlaps are counted from them."""
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest
import urllib.request

from qctest import TIME_SLACK, QcTestCase, helper, is_dead, tool, wait_until

ETCD = shutil.which("etcd") or "/usr/bin/etcd"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Etcd:
    """An etcd cluster of `members` on 127.0.0.1, each member a process of its own."""

    def __init__(self, tmp, members=1, tls=None):
        """tls: (cert, key, ca) for the client URLs, which then want a client certificate."""
        self.procs = []
        self.client_urls = []
        self.tls = tls
        scheme = "https" if tls else "http"
        peers = [("m%d" % i, free_port(), free_port()) for i in range(members)]
        cluster = ",".join("%s=http://127.0.0.1:%d" % (name, peer) for name, _, peer in peers)
        for name, client, peer in peers:
            url = "%s://127.0.0.1:%d" % (scheme, client)
            argv = [ETCD, "--name", name, "--data-dir", os.path.join(tmp, "etcd-" + name),
                    "--listen-client-urls", url, "--advertise-client-urls", url,
                    "--listen-peer-urls", "http://127.0.0.1:%d" % peer,
                    "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer,
                    "--initial-cluster", cluster, "--initial-cluster-state", "new",
                    "--heartbeat-interval", "50", "--election-timeout", "500"]
            if tls:
                argv += ["--cert-file", tls[0], "--key-file", tls[1], "--trusted-ca-file", tls[2],
                         "--client-cert-auth"]
            log = open(os.path.join(tmp, "etcd-%s.log" % name), "w")
            self.procs.append(subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                               start_new_session=True))
            log.close()
            self.client_urls.append(url)
        for url in self.client_urls:
            wait_until(lambda: self.healthy(url), timeout=30, interval=0.05, message="etcd at " + url)

    def healthy(self, url):
        if self.tls:  # the health endpoint wants a client certificate too: a TCP connect will do
            try:
                socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=1).close()
                return True
            except OSError:
                return False
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as r:
                return json.loads(r.read()).get("health") == "true"
        except Exception:
            return False

    def post(self, path, body):
        req = urllib.request.Request(self.client_urls[-1] + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def kill(self, index):
        p = self.procs[index]
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()

    def stop(self):
        for i in range(len(self.procs)):
            self.kill(i)


def shut_down(sockets):
    """Both directions of each socket, whichever are still open."""
    for s in sockets:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Proxy:
    """TCP from 127.0.0.1:port to `target`; black_hole() stops forwarding without closing
    anything (and accepts new connections it never forwards); pause() resets every connection
    and refuses new ones until resume(). Counts the HTTP requests that went through."""

    def __init__(self, target_url):
        host, port = target_url.replace("http://", "").split(":")
        self.target = (host, int(port))
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.url = "http://127.0.0.1:%d" % self.server.getsockname()[1]
        self.holed = threading.Event()
        self.closed = False
        self.cutting = False
        self.refusing = False
        self.requests = 0
        self.lock = threading.Lock()
        self.sockets = []
        threading.Thread(target=self._accept, daemon=True).start()

    def black_hole(self):
        self.holed.set()

    def cut(self):
        """A cut instead of a black hole: every connection reset, new ones refused. (shutdown()
        first: closing a socket another thread blocks on would leave it open in the kernel.)"""
        self.cutting = True
        shut_down([self.server] + self.sockets)
        self.close()

    def pause(self):
        self.refusing = True
        shut_down(self.sockets)

    def resume(self):
        self.refusing = False

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            self.sockets.append(client)
            if self.cutting:
                client.close()
                return
            if self.refusing:
                client.close()
                continue
            if self.holed.is_set():
                continue  # accepted, never answered
            try:
                upstream = socket.create_connection(self.target, timeout=2)
                upstream.settimeout(None)  # a watch is idle for as long as the name is held
            except OSError:
                client.close()
                continue
            self.sockets.append(upstream)
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src, dst, counting):
        try:
            while True:
                data = src.recv(65536)
                if not data or self.cutting:
                    break
                if self.holed.is_set():
                    self.holed.wait()  # hold on to it, forever: a black hole
                    continue
                if counting:
                    with self.lock:
                        self.requests += data.count(b"POST ")
                dst.sendall(data)
        except OSError:
            pass
        if not self.holed.is_set():
            shut_down((src, dst))

    def close(self):
        self.closed = True
        self.server.close()
        for s in self.sockets:
            try:
                s.close()
            except OSError:
                pass


def read_stamps(path):
    """[(what, host, t, token)] in file order."""
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for line in f:
            what, host, t, token = line.split()
            out.append((what, host, float(t), token))
    return out


def overlaps(stamps):
    """How many times a command started while another still ran."""
    running, count = 0, 0
    for what, _, _, _ in sorted(stamps, key=lambda s: s[2]):
        if what == "start":
            if running > 0:
                count += 1
            running += 1
        else:
            running -= 1
    return count


class FleetTestCase(QcTestCase):
    MEMBERS = 1

    def setUp(self):
        super().setUp()
        if not os.path.exists(ETCD):
            self.skipTest("etcd is not installed (Debian: etcd-server)")
        self.etcd = Etcd(self.tmp, self.MEMBERS)
        self.stamps = self.path("stamps")
        self._proxies = []

    def tearDown(self):
        for p in self._proxies:
            p.close()
        QcTestCase.tearDown(self)
        self.etcd.stop()

    def proxy(self):
        p = Proxy(self.etcd.client_urls[0])
        self._proxies.append(p)
        return p

    def host_env(self, host):
        return dict(self.env, QC_HOST_NAME=host, QC_LOCK_DIR=self.path("locks-" + host))

    def lock_argv(self, host, name, *options, endpoints=None, seconds=None):
        argv = tool("qc-lock") + ["--etcd", endpoints or ",".join(self.etcd.client_urls)] + list(options)
        argv += [name, "--"] + helper("stamp.py") + [self.stamps, host]
        if seconds is not None:
            argv.append(str(seconds))
        return argv

    def start_host(self, host, name, *options, endpoints=None, seconds=None):
        return self.start(self.lock_argv(host, name, *options, endpoints=endpoints, seconds=seconds),
                          env=self.host_env(host), stderr=subprocess.PIPE, stdout=subprocess.PIPE)

    def starts(self, host):
        return [s for s in read_stamps(self.stamps) if s[0] == "start" and s[1] == host]

    def wait_started(self, host, before=0, timeout=15):
        """The start stamp of `host`'s next command, once there are more than `before`."""
        return wait_until(lambda: len(self.starts(host)) > before and self.starts(host)[before],
                          timeout=timeout, message="%s's command to start" % host)

    def wait_watching(self, proxy):
        """A waiter that talks through `proxy` is watching the name: its watch went out after its
        lease, its try and the lease's revoke (a waiter holds no lease while it waits)."""
        wait_until(lambda: proxy.requests >= 4, message="the waiter's watch (lease, try, revoke, watch)")

    def stamp_of(self, what, host, index=-1):
        found = [s for s in read_stamps(self.stamps) if s[0] == what and s[1] == host]
        return found[index] if found else None


class FleetBasicsTest(FleetTestCase):
    def test_a_conflict_names_the_holding_host_and_exits_75(self):
        holder = self.start_host("hostA", "BRAIN_ATLAS")
        self.wait_started("hostA")
        r = subprocess.run(self.lock_argv("hostB", "BRAIN_ATLAS", "--json"), env=self.host_env("hostB"),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertIn("held in the fleet by host hostA (PID %d)" % holder.pid, r.stderr)
        event = json.loads(r.stdout.splitlines()[0])
        self.assertEqual((event["event"], event["host"], event["pid"]), ("conflict", "hostA", holder.pid))
        self.assertIsNone(self.stamp_of("start", "hostB"))

    def test_the_fencing_token_is_in_the_record_and_the_environment_and_grows(self):
        tokens = []
        for host in ("hostA", "hostB", "hostA"):
            r = subprocess.run(self.lock_argv(host, "GW", seconds=0), env=self.host_env(host),
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            tokens.append(int(self.stamp_of("start", host)[3]))
        self.assertEqual(tokens, sorted(set(tokens)), tokens)
        holder = self.start_host("hostC", "GW")
        self.wait_started("hostC")
        record = wait_until(lambda: self.record_in("hostC", "GW"), message="hostC's record")
        self.assertEqual(record["fencing_token"], int(self.stamp_of("start", "hostC")[3]))
        self.assertGreater(record["fencing_token"], tokens[-1])
        self.assertEqual(record["host"], "hostC")
        holder.send_signal(signal.SIGTERM)
        holder.wait(timeout=10)

    def record_in(self, host, name):
        """NAME's record in `host`'s lock directory, once it names the command."""
        try:
            with open(os.path.join(self.path("locks-" + host), name + ".lock")) as f:
                record = json.loads(f.read())
        except (FileNotFoundError, ValueError):
            return None
        return record if record.get("child_pid") else None

    def test_qc_ps_fleet_lists_every_name_held_in_the_cluster(self):
        holder = self.start_host("hostA", "BRAIN_PS", "--account", "212000584", "--lease-ttl", "15")
        self.wait_started("hostA")
        env = dict(self.env, QC_ETCD_ENDPOINTS=self.etcd.client_urls[0])
        r = subprocess.run(tool("qc-ps") + ["--fleet", "--json"], env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        [row] = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual((row["name"], row["host"], row["pid"], row["account"], row["state"], row["fleet"]),
                         ("BRAIN_PS", "hostA", holder.pid, "212000584", "running", True))
        self.assertTrue(0 < row["lease_left_s"] <= 15, row)
        self.assertEqual(row["fencing_token"], int(self.stamp_of("start", "hostA")[3]))
        r = subprocess.run(tool("qc-ps") + ["--fleet"], env=env, capture_output=True, text=True, timeout=30)
        self.assertIn("hostA", r.stdout)
        self.assertIn("LEASE_LEFT", r.stdout)
        r = subprocess.run(tool("qc-ps") + ["--fleet", "--etcd", "http://127.0.0.1:%d" % free_port()],
                           env=self.env, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 69, r.stderr)
        holder.send_signal(signal.SIGTERM)
        holder.wait(timeout=10)

    def test_a_graceful_release_revokes_the_lease_at_once(self):
        holder = self.start_host("hostA", "HUB")
        self.wait_started("hostA")
        holder.send_signal(signal.SIGTERM)
        self.assertEqual(holder.wait(timeout=10), 0)
        keys = self.etcd.post("/v3/kv/range", {"key": "L3FjLw==", "range_end": "L3FjMA=="})  # /qc/ .. /qc0
        self.assertEqual(keys.get("kvs", []), [])

    def test_an_unreachable_cluster_exits_69_naming_the_endpoints(self):
        dead = "http://127.0.0.1:%d,http://127.0.0.1:%d" % (free_port(), free_port())
        r = subprocess.run(self.lock_argv("hostA", "X", endpoints=dead), env=self.host_env("hostA"),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 69, r.stderr)
        for url in dead.split(","):
            self.assertIn(url, r.stderr)
        self.assertIsNone(self.stamp_of("start", "hostA"))

    def test_a_lease_that_cannot_outlive_the_stop_is_refused(self):
        r = subprocess.run(self.lock_argv("hostA", "X", "--lease-ttl", "12", "--stop-timeout", "10"),
                           env=self.host_env("hostA"), capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 64, r.stderr)
        self.assertIn("must exceed the stop timeout", r.stderr)

    def test_wait_takes_over_on_release_without_polling(self):
        holder = self.start_host("hostA", "BRAIN_X")
        self.wait_started("hostA")
        proxy = self.proxy()
        waiter = self.start_host("hostB", "BRAIN_X", "-w", "60", endpoints=proxy.url)
        self.wait_watching(proxy)
        seen = proxy.requests
        time.sleep(3)  # the check is that nothing happens for longer than any polling period
        self.assertEqual(proxy.requests, seen, "the waiter polled while the name was held")
        released = time.monotonic()
        holder.send_signal(signal.SIGTERM)
        start = self.wait_started("hostB")
        self.assertLess(start[2] - released, 1.0 + TIME_SLACK)
        self.assertGreater(start[2], self.stamp_of("stop", "hostA")[2])
        waiter.send_signal(signal.SIGTERM)
        self.assertEqual(waiter.wait(timeout=10), 0)


def make_certificates(directory):
    """A CA, a server certificate for 127.0.0.1 and a client certificate, with openssl(1)."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), cwd=directory, check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=qc-test-ca")
    with open(os.path.join(directory, "san.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n")
    for who in ("server", "client"):
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", who + "-key.pem", "-out", who + ".csr",
            "-subj", "/CN=" + who)
        run("x509", "-req", "-in", who + ".csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
            "-out", who + ".pem", "-days", "2", "-extfile", "san.cnf")
    return {k: os.path.join(directory, k + ".pem") for k in ("ca", "server", "server-key", "client", "client-key")}


@unittest.skipUnless(shutil.which("openssl"), "openssl(1) makes the test's certificates")
class FleetTlsTest(FleetTestCase):
    def setUp(self):
        QcTestCase.setUp(self)
        if not os.path.exists(ETCD):
            self.skipTest("etcd is not installed (Debian: etcd-server)")
        os.makedirs(self.path("pki"))
        self.pki = make_certificates(self.path("pki"))
        self.etcd = Etcd(self.tmp, 1, tls=(self.pki["server"], self.pki["server-key"], self.pki["ca"]))
        self.stamps = self.path("stamps")
        self._proxies = []

    def test_tls_with_a_client_certificate_as_etcdctl_names_it(self):
        tls = ["--etcd-cacert", self.pki["ca"], "--etcd-cert", self.pki["client"], "--etcd-key", self.pki["client-key"]]
        r = subprocess.run(self.lock_argv("hostA", "TLS", *tls, seconds=0), env=self.host_env("hostA"),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIsNotNone(self.stamp_of("start", "hostA"))
        r = subprocess.run(self.lock_argv("hostA", "TLS", "--etcd-cacert", self.pki["ca"], seconds=0),
                           env=self.host_env("hostA"), capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 69, r.stderr)  # no client certificate: refused by etcd
        self.assertIn(self.etcd.client_urls[0], r.stderr)
        r = subprocess.run(self.lock_argv("hostA", "TLS", seconds=0), env=self.host_env("hostA"),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 69, r.stderr)  # etcd's certificate not trusted
        self.assertEqual(len(self.starts("hostA")), 1)


class FleetRaceTest(FleetTestCase):
    def test_two_hosts_racing_for_one_name_never_both_run(self):
        for _ in range(int(os.environ.get("QC_TEST_ROUNDS", "200"))):
            a = self.start_host("hostA", "RACE", "-w", "20", seconds=0.02)
            b = self.start_host("hostB", "RACE", "-w", "20", seconds=0.02)
            self.assertEqual(a.wait(timeout=60), 0, a.stderr.read())
            self.assertEqual(b.wait(timeout=60), 0, b.stderr.read())
            a.stderr.close(), b.stderr.close(), a.stdout.close(), b.stdout.close()
            self._procs.clear()
        stamps = read_stamps(self.stamps)
        self.assertEqual(len(stamps), 4 * int(os.environ.get("QC_TEST_ROUNDS", "200")))
        self.assertEqual(overlaps(stamps), 0)


class FleetFailoverTest(FleetTestCase):
    TTL = "4"
    STOP = "1"

    def test_sigkill_of_the_holder_hands_over_after_its_command_exited_within_ttl_plus_1s(self):
        holder = self.start_host("hostA", "SK", "--lease-ttl", self.TTL, "--stop-timeout", self.STOP)
        self.wait_started("hostA")
        watch = self.proxy()
        waiter = self.start_host("hostB", "SK", "-w", "60", "--lease-ttl", self.TTL, "--stop-timeout", self.STOP,
                                 endpoints=watch.url)
        self.wait_watching(watch)
        killed = time.monotonic()
        os.kill(holder.pid, signal.SIGKILL)
        start = self.wait_started("hostB", timeout=int(self.TTL) + 5)
        stop = wait_until(lambda: self.stamp_of("stop", "hostA"), message="hostA's command to stop")
        self.assertLess(stop[2], start[2])
        self.assertLess(start[2] - killed, int(self.TTL) + 1.0 + TIME_SLACK)
        waiter.send_signal(signal.SIGTERM)
        waiter.wait(timeout=10)

    def test_a_black_holed_holder_stops_its_command_before_the_waiter_starts(self):
        rounds = int(os.environ.get("QC_TEST_ROUNDS", "20"))
        hosts = ("hostA", "hostB")
        for r in range(rounds):
            holder_host, waiter_host = hosts[r % 2], hosts[(r + 1) % 2]
            proxy = self.proxy()
            before = {h: len(self.starts(h)) for h in hosts}
            holder = self.start_host(holder_host, "BH", "--lease-ttl", self.TTL, "--stop-timeout", self.STOP,
                                     endpoints=proxy.url)
            self.wait_started(holder_host, before[holder_host])
            watch = self.proxy()
            waiter = self.start_host(waiter_host, "BH", "-w", "60", "--lease-ttl", self.TTL,
                                     "--stop-timeout", self.STOP, endpoints=watch.url)
            self.wait_watching(watch)
            proxy.black_hole()
            self.assertEqual(holder.wait(timeout=20), 75)
            self.assertIn("lost BH in the fleet", holder.stderr.read().decode())
            self.wait_started(waiter_host, before[waiter_host], timeout=20)
            waiter.send_signal(signal.SIGTERM)
            self.assertEqual(waiter.wait(timeout=10), 0)
            for p in (holder, waiter):
                p.stderr.close(), p.stdout.close()
            self._procs.clear()
            proxy.close()
            watch.close()
        stamps = read_stamps(self.stamps)
        self.assertEqual(len(stamps), 4 * rounds)
        self.assertEqual(overlaps(stamps), 0, stamps)


class FleetRunTest(FleetTestCase):
    """qc-run with a fleet: the engine runner holds the fleet name across restarts."""

    def run_argv(self, host, name, *options, endpoints=None):
        argv = tool("qc-run") + ["--etcd", endpoints or ",".join(self.etcd.client_urls), "--json"] + list(options)
        return argv + [name, "--"] + helper("stamp.py") + [self.stamps, host]

    def test_qc_run_holds_the_fleet_name_and_a_waiter_takes_it_on_release(self):
        holder = self.start(self.run_argv("hostA", "SUP", "--restart", "always", "--backoff", "0.1,0.1"),
                            env=self.host_env("hostA"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.wait_started("hostA")
        r = subprocess.run(self.lock_argv("hostB", "SUP"), env=self.host_env("hostB"),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertIn("held in the fleet by host hostA", r.stderr)
        watch = self.proxy()
        waiter = self.start(self.run_argv("hostB", "SUP", "-w", "60", endpoints=watch.url), env=self.host_env("hostB"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.wait_watching(watch)
        holder.send_signal(signal.SIGTERM)
        self.assertEqual(holder.wait(timeout=15), 0)
        start = self.wait_started("hostB", timeout=5)
        self.assertGreater(start[2], self.stamp_of("stop", "hostA")[2])
        self.assertEqual(int(start[3]), max(int(s[3]) for s in read_stamps(self.stamps)))
        waiter.send_signal(signal.SIGTERM)
        self.assertEqual(waiter.wait(timeout=15), 0)

    def test_a_black_holed_qc_run_stops_its_program_for_good_and_exits_75(self):
        proxy = self.proxy()
        holder = self.start(self.run_argv("hostA", "SUPBH", "--restart", "always", "--lease-ttl", "4",
                                          "--stop-timeout", "1", endpoints=proxy.url),
                            env=self.host_env("hostA"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.wait_started("hostA")
        watch = self.proxy()
        waiter = self.start_host("hostB", "SUPBH", "-w", "60", "--lease-ttl", "4", "--stop-timeout", "1",
                                 endpoints=watch.url)
        self.wait_watching(watch)
        proxy.black_hole()
        self.assertEqual(holder.wait(timeout=20), 75)
        events = [json.loads(line) for line in holder.stdout.read().decode().splitlines()]
        self.assertIn("lease_lost", [e["event"] for e in events])
        self.assertEqual(len(self.starts("hostA")), 1)  # stopped for good, not restarted
        self.wait_started("hostB", timeout=20)
        self.assertEqual(overlaps(read_stamps(self.stamps)), 0)
        waiter.send_signal(signal.SIGTERM)
        self.assertEqual(waiter.wait(timeout=10), 0)


class FleetCutTest(FleetTestCase):
    def test_a_holder_cut_off_from_etcd_fences_itself_before_the_waiter_starts(self):
        proxy = self.proxy()
        holder = self.start_host("hostA", "CUT", "--lease-ttl", "4", "--stop-timeout", "1", endpoints=proxy.url)
        self.wait_started("hostA")
        watch = self.proxy()
        waiter = self.start_host("hostB", "CUT", "-w", "60", "--lease-ttl", "4", "--stop-timeout", "1",
                                 endpoints=watch.url)
        self.wait_watching(watch)
        proxy.cut()
        self.assertEqual(holder.wait(timeout=20), 75)
        self.assertIn("lost CUT in the fleet", holder.stderr.read().decode())
        self.wait_started("hostB", timeout=20)
        self.assertEqual(overlaps(read_stamps(self.stamps)), 0, read_stamps(self.stamps))
        waiter.send_signal(signal.SIGTERM)
        self.assertEqual(waiter.wait(timeout=10), 0)


class FleetMemberLossTest(FleetTestCase):
    MEMBERS = 3

    def test_losing_one_member_of_three_changes_nothing_for_the_holder(self):
        # TTL 6: the holder fences 4 s after its last confirmed renewal, room for the new leader's
        # election when the member killed led (with TTL 4, 2 s, which a loaded machine missed).
        holder = self.start_host("hostA", "ML", "--lease-ttl", "6", "--stop-timeout", "1")
        self.wait_started("hostA")
        self.etcd.kill(0)  # the member the holder talks to first
        time.sleep(7)      # more than a lease: renewals went to the others
        self.assertIsNone(holder.poll())
        self.assertIsNone(self.stamp_of("stop", "hostA"))
        r = subprocess.run(self.lock_argv("hostB", "ML"), env=self.host_env("hostB"),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 75, r.stderr)
        holder.send_signal(signal.SIGTERM)
        self.assertEqual(holder.wait(timeout=10), 0)


if __name__ == "__main__":
    unittest.main()
