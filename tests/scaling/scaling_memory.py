#!/usr/bin/env python3
"""Checks that `npkc check` of functions with many bindings completes within
a memory cap (deterministic, unlike a time limit): the ownership analysis
must not keep a state per binding in every block. The cap is on the peak
resident set, not the address space, so sanitizer builds (which reserve
terabytes of shadow address space) run it too.

usage: scaling_memory.py NPKC GEN_BINDINGS_PY [N] [CAP_MB]
"""
import os
import resource
import subprocess
import sys
import tempfile

npkc, gen = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
cap = (int(sys.argv[4]) if len(sys.argv) > 4 else 768) << 20


failed = False
with tempfile.TemporaryDirectory() as tmp:
    for shape in ("wild-ifs", "wild-flat", "wild-live", "plain-ifs"):
        path = os.path.join(tmp, f"{shape}.npk")
        with open(path, "w") as f:
            f.write(subprocess.run([sys.executable, gen, shape, str(n)], check=True,
                                   capture_output=True, text=True).stdout)
        r = subprocess.run([npkc, "check", path], capture_output=True, text=True, timeout=600)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss << 10  # KiB
        # the children's peak only grows: a run below an earlier peak shows as that peak
        ok = r.returncode == 0 and not r.stdout and not r.stderr and peak <= cap
        print(f"{shape} x{n}: exit {r.returncode}, peak RSS of the runs so far {peak >> 20} MB "
              f"(cap {cap >> 20} MB){'' if ok else ' FAIL'}")
        if not ok:
            print((r.stdout + r.stderr)[-2000:])
            failed = True
sys.exit(1 if failed else 0)
