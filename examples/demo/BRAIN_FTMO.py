"""Demo BRAIN for account FTMO: crashes every 10-20 s, so qc-launch restarts it; each run
lasts longer than its reset_after_s (5 s), so the restarts never run out."""
from demo_brain import run

run("BRAIN_FTMO", crash_every_s=20)
