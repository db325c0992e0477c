"""Holds a qc lock file's OS lock itself and writes a chosen record: for tests that need a
held lock whose record names other processes (a reused PID, a zombie).

usage: fake_holder.py LOCK_FILE RECORD_JSON
RECORD_JSON may contain "$SELF_PID" and "$SELF_START" placeholders. Writes LOCK_FILE.ready
when it holds the lock; holds it until stdin closes.
"""
import fcntl
import os
import struct
import sys

path, record = sys.argv[1], sys.argv[2]
with open("/proc/self/stat") as f:
    stat = f.read()
start = stat[stat.rfind(")") + 2:].split()[19]
record = record.replace("$SELF_PID", str(os.getpid())).replace("$SELF_START", start)
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
lock = struct.pack("hhqqi4x", fcntl.F_WRLCK, 0, 0, 0, 0)  # struct flock, whole file
fcntl.fcntl(fd, fcntl.F_OFD_SETLK, lock)
os.ftruncate(fd, 0)
os.pwrite(fd, record.encode() + b"\n", 0)
open(path + ".ready", "w").close()
sys.stdin.read()
