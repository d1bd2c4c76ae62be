#!/usr/bin/env python3
"""Writes a chain of N modules into DIR: DIR/main.npk imports m1.npk, which
imports m2.npk, and so on to mN.npk. Every module defines `fK`, returning the
sum over the rest of the chain, so the program exits 0 when it runs.

usage: import_chain.py N DIR [cycle]. With `cycle`, mN.npk imports m1.npk
again, closing an import cycle at the far end of the chain.
"""
import os
import sys

n, out = int(sys.argv[1]), sys.argv[2]
cycle = len(sys.argv) > 3 and sys.argv[3] == "cycle"
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "main.npk"), "w") as f:
    f.write('use "m1.npk".*;\nfunc:main = int32() { exit raw f1() - %d; };\n' % n)
for k in range(1, n + 1):
    with open(os.path.join(out, "m%d.npk" % k), "w") as f:
        if k < n:
            f.write('use "m%d.npk".*;\npub func:f%d = int32() { pass raw f%d() + 1; };\n' % (k + 1, k, k + 1))
        else:
            f.write(('use "m1.npk".*;\n' if cycle else "") + "pub func:f%d = int32() { pass 1; };\n" % k)
