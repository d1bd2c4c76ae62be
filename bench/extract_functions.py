#!/usr/bin/env python3
"""Cuts the functions out of object files for the validator benchmark.

usage: extract_functions.py BLOB INDEX OBJECT...

For every function symbol of an object's .text section (objdump -t), its
bytes (objcopy -O binary --only-section=.text) are appended to BLOB and one
"offset size" line to INDEX. The objects are the compiler's, built in the
tree, so the blob is compiler-generated machine code; which functions the
validator accepts is decided by the benchmark, not here.
"""
import subprocess, sys, tempfile
out, index_out = sys.argv[1], sys.argv[2]
blob = bytearray(); index = []
for obj in sys.argv[3:]:
    with tempfile.NamedTemporaryFile() as t:
        if subprocess.run(["objcopy", "-O", "binary", "--only-section=.text", obj, t.name]).returncode != 0: continue
        text = open(t.name, "rb").read()
    for line in subprocess.run(["objdump", "-t", obj], capture_output=True, text=True).stdout.splitlines():
        parts = line.split()
        if len(parts) < 5 or parts[-3] != ".text" or "F" not in parts[1:-3]: continue
        start, size = int(parts[0], 16), int(parts[-2], 16)
        if size == 0 or start + size > len(text): continue
        index.append((len(blob), size)); blob += text[start:start+size]
open(out, "wb").write(blob)
open(index_out, "w").write("".join(f"{o} {s}\n" for o, s in index))
