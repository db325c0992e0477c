"""qc-heartbeat (docs/protocol.md) against pyzmq, an independent implementation of Protocol v1.0:
the probe against peers that answer well and badly, retries, timing, and the responder
driven by a pyzmq REQ client."""
import json
import os
import random
import signal
import subprocess
import time
import unittest

from qctest import QcTestCase, helper, read_text, wait_until

try:
    import zmq
except ImportError:  # the probe tests need only the helper's interpreter to have it
    zmq = None


class PeerTestCase(QcTestCase):
    def peer(self, mode):
        self.peers = getattr(self, "peers", 0) + 1
        d = self.path("peer-%d-%s" % (self.peers, mode))
        os.makedirs(d)
        self.start(helper("zmq_peer.py") + [mode, d])
        port = wait_until(lambda: read_text(os.path.join(d, "port")), message="the peer's port")
        self.peer_dir = d
        return "tcp://127.0.0.1:%s" % port

    def requests(self):
        return [json.loads(l) for l in read_text(os.path.join(self.peer_dir, "requests")).splitlines()]

    def probe(self, *args, timeout=60):
        return self.run_tool("qc-heartbeat", *args, timeout=timeout)


class ProbeTest(PeerTestCase):
    def test_ok_against_a_correct_peer(self):
        ep = self.peer("correct")
        r = self.probe(ep)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r'^OK %s HEARTBEAT rtt=\d+\.\d\dms service="MT5 Gateway"\n$' % ep)
        [request] = self.requests()
        self.assertEqual(sorted(request), ["action", "payload", "req_id", "timestamp"])
        self.assertEqual(request["action"], "HEARTBEAT")
        self.assertIsInstance(request["timestamp"], float)
        self.assertEqual(request["payload"], {})

    def test_json_output_has_one_line_per_probe_with_stable_keys(self):
        ep = self.peer("correct")
        r = self.probe("--json", "-c", "2", "-i", "0", ep)
        lines = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual(len(lines), 2)
        for line in lines:
            self.assertEqual(list(line), ["endpoint", "action", "req_id", "status", "rtt_ms",
                                          "data", "error", "result"])
            self.assertEqual((line["result"], line["status"]), ("OK", "SUCCESS"))
            self.assertEqual(line["data"], {"status": "alive", "service": "MT5 Gateway"})
        self.assertEqual([l["req_id"] for l in lines], [q["req_id"] for q in self.requests()])

    def test_critical_for_error_mismatch_non_json_array_pending_and_multipart(self):
        expected = {"error": "ERROR: Gateway not ready", "wrong-reqid": "req_id mismatch",
                    "non-json": "malformed reply: not JSON",
                    "array": "malformed reply: a JSON array, not an object",
                    "pending": "PENDING", "multipart": "2 frames"}
        for mode, message in expected.items():
            ep = self.peer(mode)
            r = self.probe("-t", "5", ep)
            self.assertEqual(r.returncode, 2, (mode, r.stdout))
            self.assertTrue(r.stdout.startswith("CRITICAL %s HEARTBEAT" % ep), r.stdout)
            self.assertIn(message, r.stdout)

    def test_json_error_is_the_peers_own_string_as_it_came(self):
        ep = self.peer("error")
        r = self.probe("--json", "-t", "5", ep)
        self.assertEqual(r.returncode, 2, r.stdout)
        [line] = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual((line["status"], line["error"], line["result"]),
                         ("ERROR", "Gateway not ready", "CRITICAL"))
        text = self.probe("-t", "5", ep).stdout
        self.assertIn("ERROR: Gateway not ready", text, "the text line may add words around it")

    def test_critical_within_timeout_plus_one_second_when_nothing_listens(self):
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        started = time.monotonic()
        r = self.probe("-t", "1", "-r", "1", "tcp://127.0.0.1:%d" % port)
        elapsed = time.monotonic() - started
        self.assertEqual(r.returncode, 2)
        self.assertIn("no reply within 1s (2 attempts)", r.stdout)
        self.assertIn("Connection refused", r.stdout)
        self.assertGreaterEqual(elapsed, 2.0)
        self.assertLess(elapsed, 3.0)

    def test_a_silent_peer_is_critical_within_the_bound(self):
        ep = self.peer("silent")
        started = time.monotonic()
        r = self.probe("-t", "0.5", "-r", "2", ep)
        self.assertEqual(r.returncode, 2)
        self.assertLess(time.monotonic() - started, 3 * 0.5 + 1)
        self.assertIn("does not answer", r.stdout)
        self.assertEqual(len(self.requests()), 3, "each attempt is a fresh request on a fresh socket")

    def test_warning_for_a_slow_peer_under_warn(self):
        ep = self.peer("slow")
        r = self.probe("-w", "100", ep)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertTrue(r.stdout.startswith("WARNING %s HEARTBEAT rtt=" % ep), r.stdout)
        self.assertEqual(self.probe("-w", "2000", ep).returncode, 0)

    def test_a_dropped_first_request_passes_with_one_retry_only(self):
        ep = self.peer("drop-first")
        r = self.probe("-t", "0.5", ep)
        self.assertEqual(r.returncode, 2, r.stdout)
        ep = self.peer("drop-first")
        r = self.probe("-t", "0.5", "-r", "1", ep)
        self.assertEqual(r.returncode, 0, r.stdout)
        first, second = self.requests()
        self.assertNotEqual(first["req_id"], "", "the retry resends the same request")
        self.assertEqual(first["req_id"], second["req_id"])

    def test_count_sends_exactly_that_many_requests_and_the_worst_counts(self):
        ep = self.peer("correct")
        r = self.probe("-c", "3", "-i", "0.05", ep)
        self.assertEqual(r.returncode, 0)
        self.assertEqual(len(r.stdout.splitlines()), 3)
        self.assertEqual(len(self.requests()), 3)

    def test_action_and_payload_are_sent_as_given(self):
        ep = self.peer("correct")
        self.probe("--action", "GET_POSITIONS", "--payload", '{"symbol": "BTCUSD"}', ep)
        [request] = self.requests()
        self.assertEqual((request["action"], request["payload"]), ("GET_POSITIONS", {"symbol": "BTCUSD"}))

    def test_the_endpoint_defaults_to_qc_gateway(self):
        ep = self.peer("correct")
        r = self.run_tool("qc-heartbeat", env=dict(self.env, QC_GATEWAY=ep))
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn(ep, r.stdout)

    def test_a_signal_ends_repeated_probes_with_the_worst_result(self):
        ep = self.peer("correct")
        proc = self.start_tool("qc-heartbeat", "-c", "0", "-i", "0.05", ep, stdout=subprocess.PIPE, text=True)
        # A second request means the first probe is complete: probes are sequential.
        wait_until(lambda: len(self.requests()) >= 2 if os.path.exists(os.path.join(self.peer_dir, "requests")) else False,
                   message="a first complete probe")
        os.kill(proc.pid, signal.SIGINT)
        self.assertEqual(proc.wait(timeout=5), 0)
        self.assertTrue(all(l.startswith("OK ") for l in proc.stdout.read().splitlines()))

    def test_a_signal_interrupts_a_probe_waiting_for_its_reply(self):
        ep = self.peer("silent")
        proc = self.start_tool("qc-heartbeat", "-t", "30", ep)
        wait_until(lambda: os.path.exists(os.path.join(self.peer_dir, "requests")), message="the request")
        started = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=5), 3, "interrupted before any probe finished: UNKNOWN")
        self.assertLess(time.monotonic() - started, 1)

    @unittest.skipIf(len(os.sched_getaffinity(0)) < 2, "needs two CPUs to choose from")
    def test_a_probe_keeps_its_threads_on_one_cpu_unless_told_not_to(self):
        def cpus_of_threads(pid):
            def read():
                try:
                    tasks = os.listdir("/proc/%d/task" % pid)
                    return [os.sched_getaffinity(int(t)) for t in tasks]
                except (FileNotFoundError, ProcessLookupError):
                    return None
            # main, the signal watcher, and ZeroMQ's I/O and reaper threads
            return wait_until(lambda: (lambda c: c if c and len(c) >= 4 else None)(read()),
                              message="the probe's threads")

        ep = self.peer("silent")
        pinned = self.start_tool("qc-heartbeat", "-t", "30", ep)
        cpus = cpus_of_threads(pinned.pid)
        self.assertEqual(len(cpus[0]), 1, cpus)
        self.assertTrue(all(c == cpus[0] for c in cpus), cpus)
        pinned.kill()
        pinned.wait()

        free = self.start_tool("qc-heartbeat", "--no-pin", "-t", "30", ep)
        self.assertTrue(all(c == os.sched_getaffinity(0) for c in cpus_of_threads(free.pid)))

    def test_unknown_for_bad_arguments(self):
        for args in (["--payload", "[1]"], ["--payload", "nope"], ["--bogus"], ["-t", "0"],
                     ["-c", "-1"], ["not-an-endpoint"], ["--serve", "x", "--sub", "y"]):
            r = self.probe(*args)
            self.assertEqual(r.returncode, 3, args)
            self.assertTrue(r.stdout.startswith("UNKNOWN"), (args, r.stdout))

    def test_a_100_megabyte_reply_is_refused_not_swallowed(self):
        ep = self.peer("huge")
        started = time.monotonic()
        r = self.probe("-t", "3", ep)
        self.assertEqual(r.returncode, 2)
        self.assertLess(time.monotonic() - started, 4)

    def test_sub_is_ok_when_the_pub_channel_delivers(self):
        ep = self.peer("pub")
        r = self.run_tool("qc-heartbeat", "--sub", ep, "-t", "5")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("BTCUSD", r.stdout)
        silent = self.peer("silent")  # a ROUTER publishes nothing
        r = self.run_tool("qc-heartbeat", "--sub", silent, "-t", "0.5")
        self.assertEqual(r.returncode, 2)
        self.assertIn("no message within 0.5s", r.stdout)


@unittest.skipIf(zmq is None, "needs python3-zmq")
class ResponderTest(PeerTestCase):
    def setUp(self):
        super().setUp()
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.endpoint = "tcp://127.0.0.1:%d" % self.port
        self.server = self.start_tool("qc-heartbeat", "--serve", self.endpoint, "--service", "MT5 Gateway",
                                      stderr=subprocess.PIPE, text=True)
        self.ctx = zmq.Context()
        self.req = None
        wait_until(lambda: self.ask(b"{}", timeout_ms=200) is not None, message="the responder")

    def tearDown(self):
        if self.req is not None:
            self.req.close(linger=0)
        self.ctx.term()
        super().tearDown()

    def ask(self, *frames, timeout_ms=5000):
        """Sends FRAMES on a REQ socket; the reply as JSON, or None on timeout (new socket)."""
        if self.req is None:
            self.req = self.ctx.socket(zmq.REQ)
            self.req.setsockopt(zmq.LINGER, 0)
            self.req.connect(self.endpoint)
        self.req.send_multipart(list(frames))
        if not self.req.poll(timeout_ms):
            self.req.close(linger=0)
            self.req = None
            return None
        return json.loads(self.req.recv())

    def request(self, **fields):
        return json.dumps(fields).encode()

    def test_a_valid_heartbeat_is_answered_with_the_req_id(self):
        reply = self.ask(self.request(action="HEARTBEAT", req_id="hb-1", timestamp=time.time(), payload={}))
        self.assertEqual(sorted(reply), ["data", "error", "req_id", "status", "timestamp"])
        self.assertEqual(reply["req_id"], "hb-1")
        self.assertEqual(reply["status"], "SUCCESS")
        self.assertEqual(reply["data"], {"status": "alive", "service": "MT5 Gateway"})
        self.assertIsNone(reply["error"])
        self.assertAlmostEqual(reply["timestamp"], time.time(), delta=5)

    def test_missing_or_ill_typed_fields_and_non_json_are_invalid(self):
        good = dict(action="HEARTBEAT", req_id="r", timestamp=1.5, payload={})
        cases = [dict(action="HEARTBEAT", timestamp=time.time())]  # the seed's first request
        for key in good:
            cases.append({k: v for k, v in good.items() if k != key})
        for key, bad in (("action", 7), ("timestamp", "now"), ("payload", [1]), ("payload", None)):
            cases.append(dict(good, **{key: bad}))
        for case in cases:
            reply = self.ask(json.dumps(case).encode())
            self.assertEqual((reply["status"], reply["error"]), ("ERROR", "Invalid request structure"), case)
            self.assertEqual(reply["req_id"], case.get("req_id"), case)
        for raw in (b"not json", b"[1,2]", b"", b"\xff\xfe", b"null"):
            reply = self.ask(raw)
            self.assertEqual(reply["error"], "Invalid request structure", raw)
            self.assertIsNone(reply["req_id"])

    def test_an_unknown_action_is_named(self):
        reply = self.ask(self.request(action="FOO", req_id="f", timestamp=1, payload={}))
        self.assertEqual((reply["status"], reply["error"], reply["req_id"]), ("ERROR", "Unknown action: FOO", "f"))

    def test_still_correct_after_a_thousand_random_or_malformed_requests(self):
        rng = random.Random(11)
        for i in range(1000):
            kind = i % 4
            if kind == 0:
                frames = [bytes(rng.randrange(256) for _ in range(rng.randrange(64)))]
            elif kind == 1:
                frames = [b'{"action": "HEARTBEAT", "req_id": %d}' % i]
            elif kind == 2:
                frames = [b"part1", b"part2", b"part3"]
            else:
                frames = [json.dumps({"action": rng.choice(["X", "HEARTBEAT"]), "req_id": str(i),
                                      "timestamp": "bad", "payload": {}}).encode()]
            reply = self.ask(*frames)
            self.assertIsNotNone(reply, "request %d went unanswered" % i)
            self.assertEqual(reply["status"], "ERROR")
        near_limit = self.ask(b"[" + b"1," * (30 * 1024) + b"1]")  # 60 KiB: under the 64 KiB cap
        self.assertEqual(near_limit["error"], "Invalid request structure")
        # Over the cap (docs/protocol.md): the connection is dropped, nothing is allocated,
        # and the responder goes on serving everyone else.
        self.assertIsNone(self.ask(b"[" + b"1," * (1024 * 1024) + b"1]", timeout_ms=1000))
        reply = self.ask(self.request(action="HEARTBEAT", req_id="after", timestamp=1, payload={}))
        self.assertEqual((reply["status"], reply["req_id"]), ("SUCCESS", "after"))
        self.assertEqual(self.run_tool("qc-heartbeat", self.endpoint).returncode, 0)

    def test_our_probe_against_our_responder_and_sigterm_exits_0(self):
        r = self.run_tool("qc-heartbeat", self.endpoint)
        self.assertEqual(r.returncode, 0)
        self.assertIn('service="MT5 Gateway"', r.stdout)
        os.kill(self.server.pid, signal.SIGTERM)
        self.assertEqual(self.server.wait(timeout=5), 0)
        self.assertIn("stopped after answering", self.server.stderr.read())

    def test_a_busy_endpoint_is_a_clear_error(self):
        r = self.run_tool("qc-heartbeat", "--serve", self.endpoint)
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot serve on %s" % self.endpoint, r.stderr)
        self.assertIn("in use", r.stderr)


if __name__ == "__main__":
    unittest.main()
