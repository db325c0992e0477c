"""Demo BRAIN for account ATLAS: steady."""
from demo_brain import run

run("BRAIN_ATLAS")
