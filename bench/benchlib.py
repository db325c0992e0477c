"""Helpers shared by the bench/ scripts (imported from the script's own directory)."""
import time


def stamps(path):
    """The numbers in PATH, one per line (a stamp helper's output); none when it is missing."""
    try:
        with open(path) as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit("bench: timed out waiting for %s" % what)
        time.sleep(0.01)
