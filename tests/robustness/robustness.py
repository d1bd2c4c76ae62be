#!/usr/bin/env python3
"""The compiler never crashes or hangs on bad input.

Feeds `npkc check` an empty file, every incomplete prefix of the seed example,
the seed example with single bytes flipped, and seeded random byte strings.
Each run must end by itself within the time limit, exit with status 1 (never a
signal, never the internal-error status) and print at least one diagnostic
with a stable code: `error: [CODE]`.

Then every valid program of the run tests is mutated token by token (deleted,
duplicated, replaced) and compiled to LLVM IR: whatever the mutation makes of
it, npkc must answer with success or coded diagnostics, never a crash.
"""
import glob
import os
import random
import re
import subprocess
import sys
import tempfile

TIMEOUT_S = 20
DIAG = re.compile(rb"error: \[(NPK-[A-Z]\d{3}|ARIA-\d{3})\]")


def check_one(npkc, path, label, failures):
    try:
        proc = subprocess.run([npkc, "check", path], capture_output=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        failures.append(f"{label}: hung for more than {TIMEOUT_S}s")
        return
    if proc.returncode != 1:
        failures.append(f"{label}: exit status {proc.returncode} (expected 1)\n{proc.stderr[-600:].decode(errors='replace')}")
    elif not DIAG.search(proc.stderr):
        failures.append(f"{label}: no coded diagnostic on stderr\n{proc.stderr[-600:].decode(errors='replace')}")


TOKEN = re.compile(r"\s+|\w+|\"[^\"\n]*\"|`[^`]*`|->|<-|=>|\S")


def mutate_programs(npkc, program_dir, rng, tmp, failures):
    count = 0
    for source in sorted(glob.glob(os.path.join(program_dir, "*.npk"))):
        tokens = TOKEN.findall(open(source).read())
        for round_ in range(3):
            t = list(tokens)
            for _ in range(rng.randint(1, 3)):
                j = rng.randrange(len(t))
                pick = t[rng.randrange(len(t))]
                op = rng.random()
                if op < 0.3:
                    del t[j]
                elif op < 0.6:
                    t.insert(j, pick)
                else:
                    t[j] = pick
            path = os.path.join(tmp, "mutant.npk")
            with open(path, "w") as f:
                f.write("".join(t))
            label = f"mutant {round_} of {os.path.basename(source)}"
            count += 1
            try:
                proc = subprocess.run([npkc, "build", "--emit=llvm", "-o", os.devnull, "-I",
                                       os.path.join(program_dir, "Inputs"), path],
                                      capture_output=True, timeout=TIMEOUT_S)
            except subprocess.TimeoutExpired:
                failures.append(f"{label}: hung for more than {TIMEOUT_S}s")
                continue
            if proc.returncode not in (0, 1) or (proc.returncode == 1 and not DIAG.search(proc.stderr)):
                failures.append(f"{label}: exit status {proc.returncode}\n{proc.stderr[-600:].decode(errors='replace')}")
    return count


def main():
    npkc, seed_path = sys.argv[1], sys.argv[2]
    program_dir = sys.argv[3] if len(sys.argv) > 3 else None
    seed = open(seed_path, "rb").read()
    # A prefix is a complete program only once it contains main's closing `};`.
    complete_at = seed.rindex(b"};") + 2
    rng = random.Random(20261124)
    cases = [("empty file", b"")]
    cases += [(f"seed prefix {n}", seed[:n]) for n in range(1, complete_at)]
    for i in range(60):
        data = bytearray(seed)
        pos = rng.randrange(len(data))
        data[pos] = rng.choice(b"{}();:=\"`/*&!@$#\x00\xff")
        cases.append((f"seed mutation {i} at byte {pos}", bytes(data)))
    for i in range(60):
        n = rng.randrange(1, 400)
        cases.append((f"random bytes {i}", bytes(rng.randrange(256) for _ in range(n))))
    for i in range(20):
        n = rng.randrange(1, 300)
        alphabet = b"func:main=int32(){}[];,.`&{raw drop pass fail exit wildx int8->} \n\"'/*"
        cases.append((f"random tokens {i}", bytes(rng.choice(alphabet) for _ in range(n))))
    cases.append(("deep nesting", b"func:main = int32() { exit " + b"(" * 10000 + b"1" + b")" * 10000 + b"; }"))
    cases.append(("deep blocks", b"func:main = int32() " + b"{" * 10000 + b"}" * 10000))
    # Chains the parser builds in a loop but every later phase walks recursively.
    cases.append(("long + chain", b"func:main = int32() { int32:x = " + b" + ".join([b"1"] * 12000) + b"; exit x; };"))
    cases.append(("long && chain", b"func:main = int32() { bool:b = " + b" && ".join([b"true"] * 30000) + b"; exit 0; };"))
    cases.append(("long else-if chain", b"func:main = int32() { int32:x = 0; if (x == 0) { x = 1; }"
                  + b"".join(b" else if (x == %d) { x = 1; }" % i for i in range(20000)) + b" exit x; };"))
    cases.append(("long defer chain", b"func:main = int32() { " + b"defer " * 20000 + b"println(\"x\"); exit 0; };"))
    cases.append(("long cast chain", b"func:main = int32() { exit 0" + b" => int32" * 20000 + b"; };"))
    cases.append(("nested call arguments", b"func:f = int32(int32:x) { pass x; }; func:main = int32() { exit "
                  + b"raw f(" * 10000 + b"0" + b")" * 10000 + b"; };"))
    # Printing this type in a mismatch would recurse once per `->`.
    cases.append(("deep pointer type", b"func:main = int32() { int32" + b"->" * 300000 + b":p = NULL; int32:x = p; exit 0; };"))
    cases.append(("struct cycle", b"struct:A = { B:b; }; struct:B = { A:a; }; func:main = int32() { A:a; exit 0; };"))

    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, data in cases:
            path = os.path.join(tmp, "case.npk")
            with open(path, "wb") as f:
                f.write(data)
            before = len(failures)
            check_one(npkc, path, label, failures)
            # Mutations may by chance still be valid programs; only a crash,
            # hang or uncoded output is a failure for those.
            if label.startswith(("seed mutation", "random tokens")) and len(failures) > before:
                if re.search(r"exit status 0 \(expected 1\)", failures[-1]):
                    failures.pop()
        total = len(cases)
        if program_dir:
            total += mutate_programs(npkc, program_dir, rng, tmp, failures)
    for f in failures:
        print("FAIL:", f)
    passed = total - len(failures)
    print(f"{passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
