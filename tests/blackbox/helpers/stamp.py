"""A command for the fleet tests: appends "start HOST T" to FILE when it starts and
"stop HOST T" when it ends (on SIGTERM, SIGINT or after SECONDS), T from CLOCK_MONOTONIC,
one clock for every process on the machine. Usage: stamp.py FILE HOST [SECONDS]; HOST "@" is
$QC_HOST_NAME (a qc-launch "host" of the fleet tests)."""
import os
import signal
import sys
import time

path, host = sys.argv[1], sys.argv[2]
if host == "@":
    host = os.environ.get("QC_HOST_NAME", "?")
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 3600.0


def stamp(what):
    line = "%s %s %.6f %s\n" % (what, host, time.monotonic(), os.environ.get("QC_FENCING_TOKEN", "-"))
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, line.encode())
    os.close(fd)


def stop(*_):
    stamp("stop")
    os._exit(0)


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
stamp("start")
time.sleep(seconds)
stop()
