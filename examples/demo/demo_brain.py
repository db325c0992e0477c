"""The demo BRAINs' shared loop: think, and, when crash_every_s is given, crash now and
then so that qc-launch's restarts show."""
import os
import random
import sys
import time


def run(name, crash_every_s=None):
    print("%s: trading started (PID %d)" % (name, os.getpid()), flush=True)
    started = time.monotonic()
    crash_after = random.uniform(crash_every_s / 2, crash_every_s) if crash_every_s else None
    while True:
        time.sleep(2)
        print("%s: analysed the market, no duplicate trades" % name, flush=True)
        if crash_after and time.monotonic() - started > crash_after:
            print("%s: simulated crash" % name, file=sys.stderr, flush=True)
            sys.exit(1)
