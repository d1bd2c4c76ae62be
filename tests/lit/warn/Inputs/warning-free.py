"""Checks every `.npk` file directly in the given directories with
`npkc check -Werror` (the default warnings as errors): prints `clean NAME` for
each, or the diagnostics and exits 1. Usage: warning-free.py NPKC DIR..."""
import glob
import os
import subprocess
import sys

npkc, dirs = sys.argv[1], sys.argv[2:]
failed = False
for d in dirs:
    for path in sorted(glob.glob(os.path.join(d, "*.npk"))):
        proc = subprocess.run([npkc, "check", "-Werror", path], capture_output=True, text=True, timeout=120)
        if proc.returncode != 0 or proc.stderr:
            failed = True
            print(f"not clean {os.path.basename(path)}:\n{proc.stderr}")
        else:
            print(f"clean {os.path.basename(path)}")
sys.exit(1 if failed else 0)
