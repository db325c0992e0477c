"""Demo BRAIN for account FTMO: crashes every 10-20 s, so qc-launch restarts it."""
from demo_brain import run

run("BRAIN_FTMO", crash_every_s=20)
