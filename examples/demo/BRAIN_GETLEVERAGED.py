"""Demo BRAIN for the disabled account GL_1: qc-launch never starts it unless asked with
--accounts GL_1."""
from demo_brain import run

run("BRAIN_GETLEVERAGED")
