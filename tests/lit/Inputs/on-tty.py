"""Runs a command with its stderr on a pseudo-terminal (so npkc's
--color=auto sees a terminal) and prints what it wrote there, with ESC shown
as `<ESC>`, on stdout. Exits 0 whatever the command's status."""
import os
import pty
import subprocess
import sys

master, slave = pty.openpty()
proc = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
os.close(slave)
chunks = []
while True:
    try:
        data = os.read(master, 4096)
    except OSError:  # EIO once the command has closed the terminal
        break
    if not data:
        break
    chunks.append(data)
proc.wait()
sys.stdout.write(b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n").replace("\x1b", "<ESC>"))
