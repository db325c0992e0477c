"""A Protocol v1.0 peer written with pyzmq (Debian's python3-zmq), independent of qc's code,
for qc-heartbeat's black-box tests.

usage: zmq_peer.py MODE DIR
Binds a ROUTER socket to a random loopback port, writes it to DIR/port, appends each
received request to DIR/requests (one JSON line), and answers by MODE:
  correct      SUCCESS with {"status": "alive", "service": "MT5 Gateway"}
  error        ERROR "Gateway not ready"
  wrong-reqid  SUCCESS but another req_id
  non-json     bytes that are not JSON
  array        a JSON array
  pending      PENDING
  slow         correct, after 0.3 s
  drop-first   never answers the first request, answers the rest correctly
  multipart    a two-frame reply
  huge         a correct reply padded to 100 MB
  silent       never answers
  pub          (a PUB socket instead) publishes a tick every 50 ms
"""
import json
import os
import sys
import time

import zmq

mode, out = sys.argv[1], sys.argv[2]
ctx = zmq.Context()
if mode == "pub":
    sock = ctx.socket(zmq.PUB)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    with open(os.path.join(out, "port"), "w") as f:
        f.write(str(port))
    n = 0
    while True:
        sock.send_string(json.dumps({"symbol": "BTCUSD", "bid": 97000.5 + n}))
        n += 1
        time.sleep(0.05)

sock = ctx.socket(zmq.ROUTER)
port = sock.bind_to_random_port("tcp://127.0.0.1")
with open(os.path.join(out, "port.tmp"), "w") as f:
    f.write(str(port))
os.rename(os.path.join(out, "port.tmp"), os.path.join(out, "port"))
seen = 0
while True:
    frames = sock.recv_multipart()
    identity, body = frames[0], frames[-1]
    seen += 1
    try:
        request = json.loads(body)
    except ValueError:
        request = {}
    with open(os.path.join(out, "requests"), "a") as f:
        f.write(json.dumps(request) + "\n")
    req_id = request.get("req_id") if isinstance(request, dict) else None
    reply = {"req_id": req_id, "status": "SUCCESS", "timestamp": time.time(),
             "data": {"status": "alive", "service": "MT5 Gateway"}, "error": None}
    if mode == "silent" or (mode == "drop-first" and seen == 1):
        continue
    if mode == "slow":
        time.sleep(0.3)
    if mode == "error":
        reply.update(status="ERROR", data=None, error="Gateway not ready")
    elif mode == "pending":
        reply.update(status="PENDING")
    elif mode == "wrong-reqid":
        reply["req_id"] = "someone-else"
    payload = [json.dumps(reply).encode()]
    if mode == "non-json":
        payload = [b"\xff\xfe this is not json"]
    elif mode == "array":
        payload = [b"[1, 2, 3]"]
    elif mode == "multipart":
        payload = [json.dumps(reply).encode(), b"extra"]
    elif mode == "huge":
        reply["data"]["padding"] = "x" * (100 * 1024 * 1024)
        payload = [json.dumps(reply).encode()]
    sock.send_multipart([identity, b""] + payload)
