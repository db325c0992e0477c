"""Demo stand-in for the stop-loss watchdog: reports on its account every few seconds."""
import argparse
import time

parser = argparse.ArgumentParser()
parser.add_argument("--account", required=True)
parser.add_argument("--limit", type=float, default=1.0)
args = parser.parse_args()
print("watchdog %s: guarding with a %.2f%% limit" % (args.account, args.limit), flush=True)
while True:
    time.sleep(5)
    print("watchdog %s: positions within limits" % args.account, flush=True)
