"""Demo stand-in for quantum_server.py: opens its port after a second (so qc-launch's
readiness check has something to wait for), then answers connections until stopped."""
import socket
import sys
import time

port = int(sys.argv[1]) if len(sys.argv) > 1 else 18000
print("quantum_server: warming up", flush=True)
time.sleep(1)
server = socket.create_server(("127.0.0.1", port))
print("quantum_server: listening on 127.0.0.1:%d" % port, flush=True)
while True:
    conn, _ = server.accept()
    conn.close()
