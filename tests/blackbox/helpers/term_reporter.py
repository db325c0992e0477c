"""A command that reports the signals it gets, for the black-box tests.

usage: term_reporter.py DIR [--ignore-term]
Writes DIR/ready.<pid> once its handlers are set, appends each signal's name to
DIR/signals.<pid>, and exits 0 on SIGTERM/SIGINT once DIR/release exists (it waits for that
file with inotify-free polling of 5 ms, bounded by 60 s). With --ignore-term it ignores SIGTERM.
"""
import os
import signal
import sys
import time

out = sys.argv[1]
ignore_term = "--ignore-term" in sys.argv
pid = os.getpid()
stopping = False


def record(signum, _frame):
    global stopping
    with open(os.path.join(out, "signals.%d" % pid), "a") as f:
        f.write(signal.Signals(signum).name + "\n")
    if signum in (signal.SIGTERM, signal.SIGINT) and not (ignore_term and signum == signal.SIGTERM):
        stopping = True


for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
          signal.SIGUSR2):
    signal.signal(s, record)

with open(os.path.join(out, "ready.%d" % pid), "w") as f:
    f.write(str(pid))

deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    if stopping and os.path.exists(os.path.join(out, "release")):
        sys.exit(0)
    time.sleep(0.005)
sys.exit(3)
