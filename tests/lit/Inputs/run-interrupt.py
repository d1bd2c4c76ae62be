"""Interrupts `npkc run FILE` while the program runs.

usage: run-interrupt.py NPKC FILE TMPDIR SIGNAL

Runs npkc with TMPDIR set, waits until the program has written "ready" to
stderr, prints "running in TMPDIR" if its npk-run-* directory is there, sends
SIGNAL (INT or TERM) to npkc alone, and prints how npkc ended
("killed by SIGINT" or "exit status: N") and every npk-run-* entry left in
TMPDIR ("left: NAME").
"""
import os
import signal
import subprocess
import sys
import time

npkc, source, tmpdir, signame = sys.argv[1:5]
os.makedirs(tmpdir, exist_ok=True)
env = dict(os.environ, TMPDIR=tmpdir)

def default_signals():
    # lit's workers ignore SIGINT, and an ignored signal stays ignored.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


# Its own process group, so that a hang can be ended whole.
proc = subprocess.Popen([npkc, "run", source], env=env, stderr=subprocess.PIPE,
                        preexec_fn=default_signals, start_new_session=True)
line = proc.stderr.readline()
if b"ready" not in line:
    print("program did not start: %r" % line)
    sys.exit(1)
time.sleep(0.1)
if any(name.startswith("npk-run-") for name in os.listdir(tmpdir)):
    print("running in TMPDIR")
proc.send_signal(getattr(signal, "SIG" + signame))
try:
    status = proc.wait(timeout=20)
except subprocess.TimeoutExpired:
    os.killpg(proc.pid, signal.SIGKILL)
    status = proc.wait()
    print("npkc did not end")
if status < 0:
    print("killed by " + signal.Signals(-status).name)
else:
    print("exit status: %d" % status)
for name in sorted(os.listdir(tmpdir)):
    if name.startswith("npk-run-"):
        print("left: " + name)
try:  # a program npkc left running would spin on
    os.killpg(proc.pid, signal.SIGKILL)
    print("program left running")
except ProcessLookupError:
    pass
