"""Demo stand-in for a market-data feed whose server is down: it fails at once every time,
so qc-launch restarts it a few times, gives up, and qc-ps shows it as failed."""
import sys

print("market_feed: cannot connect to feed.example:9000 (connection refused)", file=sys.stderr, flush=True)
sys.exit(2)
