"""bench: a pyzmq Protocol v1.0 responder (what the Python gateway's REP loop does), to
compare qc-heartbeat --serve against.   usage: pyzmq_responder.py ENDPOINT"""
import json
import sys
import time

import zmq

ctx = zmq.Context()
sock = ctx.socket(zmq.REP)
sock.bind(sys.argv[1])
while True:
    raw = sock.recv()
    try:
        request = json.loads(raw)
        ok = isinstance(request, dict) and isinstance(request.get("req_id"), str)
    except ValueError:
        request, ok = {}, False
    reply = {"req_id": request.get("req_id") if ok else None, "timestamp": time.time(),
             "status": "SUCCESS" if ok else "ERROR",
             "data": {"status": "alive", "service": "pyzmq"} if ok else None,
             "error": None if ok else "Invalid request structure"}
    sock.send_string(json.dumps(reply))
