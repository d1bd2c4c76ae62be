#!/usr/bin/env python3
"""For every program under tests/lit that compiles, the NIR (`--emit=nir`)
and the emitted LLVM IR (`--emit=llvm -O0`) agree, per function:
 - drops: each NIR `drop` is lowered to calls tagged `!npk.drop !{i32 N}`
   with its own N, and no tagged call is left without one. A drop the
   lowering skipped, or a drop it made up, fails the test.
 - blocks: the LLVM blocks are the NIR blocks, one for one (by name), plus
   only the blocks the lowering makes inside one instruction: the prologue
   (`entry`), a check's cold path (`trap...` and its `ok`), `raw` of an
   error (`raw.fail`, `raw.ok`), the range tests of a `switch`
   (`pick.test`, `pick.none`) and the inside of a drop (`drop.`,
   `dropped.`, `release.`, `released.`, `result.`, `array.`). Control flow
   the lowering made up on its own (say `&&` lowered to blocks NIR does not
   have) fails it.

Usage: drops_match.py NPKC LIT_DIR. Prints one line per mismatch and a
summary; exit status 1 on any mismatch or when too few programs compiled.
"""
import collections
import os
import re
import subprocess
import sys

FUNC_NIR = re.compile(r"^func (\S+) = ")
DEFINE = re.compile(r"^define .*@([\w.$]+)\(")
DROP_REF = re.compile(r"!npk\.drop (![0-9]+)")
NIR_LABEL = re.compile(r"^([\w.]+)\.[0-9]+:")
LLVM_LABEL = re.compile(r"^([-\w.$]+):")
# The blocks the lowering makes inside one NIR instruction (see above).
INSTRUCTION_BLOCKS = ("entry", "ok", "raw.fail", "raw.ok", "pick.test", "pick.none")
INSTRUCTION_BLOCK_PREFIXES = ("trap", "drop.", "dropped.", "release.", "released.", "result.", "array.")


def run(npkc, path, kind):
    try:
        p = subprocess.run([npkc, "build", "-O0", "--emit=" + kind, path, "-o", "-"], cwd=os.path.dirname(path),
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=120)
    except subprocess.TimeoutExpired:
        return None
    return p.stdout.decode("utf-8", "replace") if p.returncode == 0 else None


def nir_drops(text):
    drops, fn = collections.Counter(), None
    for line in text.splitlines():
        m = FUNC_NIR.match(line)
        if m:
            fn = m.group(1)
            drops[fn] += 0
        elif fn and line.startswith("  drop "):
            drops[fn] += 1
    return drops


def nir_blocks(text):
    blocks, fn = {}, None
    for line in text.splitlines():
        m = FUNC_NIR.match(line)
        if m:
            fn = m.group(1)
            blocks[fn] = collections.Counter()
        elif fn and (m := NIR_LABEL.match(line)):
            blocks[fn][m.group(1)] += 1
    return blocks


def llvm_blocks(text):
    """Per function, the names of its blocks without LLVM's numbering and
    without the blocks of a single instruction."""
    blocks, fn = {}, None
    for line in text.splitlines():
        m = DEFINE.match(line)
        if m:
            fn = m.group(1)
            blocks[fn] = collections.Counter()
        elif line.startswith("}"):
            fn = None
        elif fn and (m := LLVM_LABEL.match(line)):
            name = m.group(1).rstrip("0123456789")
            if name in INSTRUCTION_BLOCKS or name.startswith(INSTRUCTION_BLOCK_PREFIXES):
                continue
            blocks[fn][name] += 1
    return blocks


def llvm_drops(text):
    drops, fn = {}, None
    for line in text.splitlines():
        m = DEFINE.match(line)
        if m:
            fn = m.group(1)
            drops[fn] = set()
        elif line.startswith("}"):
            fn = None
        elif fn:
            drops[fn].update(DROP_REF.findall(line))
    return {f: len(ids) for f, ids in drops.items()}


def main():
    npkc, lit_dir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    compiled = checked_drops = checked_blocks = 0
    bad = []
    for root, _, files in os.walk(lit_dir):
        for name in sorted(files):
            if not name.endswith(".npk"):
                continue
            path = os.path.join(root, name)
            nir = run(npkc, path, "nir")
            if nir is None:
                continue
            llvm = run(npkc, path, "llvm")
            if llvm is None:
                bad.append(f"{path}: compiles to NIR but not to LLVM IR")
                continue
            compiled += 1
            ir_blocks = llvm_blocks(llvm)
            for fn, names in nir_blocks(nir).items():
                checked_blocks += sum(names.values())
                if fn in ir_blocks and ir_blocks[fn] != names:
                    extra = ir_blocks[fn] - names
                    missing = names - ir_blocks[fn]
                    bad.append(f"{path}: {fn}: LLVM blocks differ from NIR: extra {dict(extra)}, missing {dict(missing)}")
            in_ir = llvm_drops(llvm)
            for fn, n in nir_drops(nir).items():
                checked_drops += n
                if in_ir.get(fn, 0) != n:
                    bad.append(f"{path}: {fn}: {n} drops in NIR, {in_ir.get(fn, 0)} in LLVM IR")
    for b in bad:
        print(b)
    print(f"{compiled} programs, {checked_drops} NIR drops and {checked_blocks} NIR blocks compared")
    # The suite has well over a hundred compiling programs with drops in them;
    # far fewer means the harness, not the compiler, went wrong.
    if compiled < 100 or checked_drops < 50 or checked_blocks < 1000:
        print("too few programs or drops compared")
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
