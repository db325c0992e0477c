"""bench: what a user would otherwise write: a pyzmq Protocol v1.0 heartbeat client.

usage: pyzmq_probe.py ENDPOINT [COUNT]
One probe: prints an OK line, exits 0 (2 on failure). With COUNT > 1: COUNT sequential
probes on one socket, then one line per probe with its round trip in ms."""
import json
import sys
import time
import uuid

import zmq

endpoint = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 1
ctx = zmq.Context()
sock = ctx.socket(zmq.REQ)
sock.setsockopt(zmq.LINGER, 0)
sock.connect(endpoint)
rtts = []
for _ in range(count):
    req_id = "hb-" + uuid.uuid4().hex[:8]
    request = {"action": "HEARTBEAT", "req_id": req_id, "timestamp": time.time(), "payload": {}}
    t0 = time.perf_counter()
    sock.send_string(json.dumps(request))
    if not sock.poll(5000):
        print("CRITICAL no reply")
        sys.exit(2)
    reply = json.loads(sock.recv())
    rtts.append((time.perf_counter() - t0) * 1000)
    if reply.get("req_id") != req_id or reply.get("status") != "SUCCESS":
        print("CRITICAL bad reply")
        sys.exit(2)
if count == 1:
    print("OK %s HEARTBEAT rtt=%.2fms" % (endpoint, rtts[0]))
else:
    print("\n".join("%.4f" % r for r in rtts))
sock.close()
ctx.term()
