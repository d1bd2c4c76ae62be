"""Reads `llvm-objdump -d` of an object and fails (listing them) on every
jump that crosses a 32-byte boundary or ends at one; prints the number of
jumps checked. Usage: llvm-objdump -d OBJ | jumps-within-32b.py [--expect-some]
(--expect-some: fail unless some jump does cross or end at a boundary, to
show that the check can tell)."""
import re
import sys

INSN = re.compile(r"^\s*([0-9a-f]+):\s+(?:[0-9a-f]{2} )*\s*\t?([a-z][a-z0-9.]*)")
insns = []
for line in sys.stdin:
    m = INSN.match(line)
    if m:
        insns.append((int(m.group(1), 16), m.group(2)))
jumps = bad = 0
for (addr, name), (end, _) in zip(insns, insns[1:]):
    if not name.startswith("j") or end <= addr:
        continue
    jumps += 1
    if addr // 32 != (end - 1) // 32 or end % 32 == 0:
        bad += 1
        if "--expect-some" not in sys.argv:
            print(f"jump `{name}` at {addr:#x}..{end:#x} crosses or ends at a 32-byte boundary")
print(f"{jumps} jumps checked, {bad} against a boundary")
if "--expect-some" in sys.argv:
    sys.exit(0 if bad else 1)
sys.exit(1 if bad or jumps < 8 else 0)  # a program with loops has jumps: none read means the parse went wrong
