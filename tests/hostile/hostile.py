#!/usr/bin/env python3
"""Hostile inputs: each case ends in diagnostics or success, within bounds.

Every case writes its input files, runs `npkc check` on the main one, and
requires:
  - the process ends by itself within the case's time bound (scaled by
    TIME_SCALE for slow builds) and its peak resident set stays under the
    case's memory bound (scaled by MEM_SCALE);
  - exit status 0 or 1, never a signal or the internal-error status;
  - the case's expectation: `ok` (status 0, no diagnostics), `error`
    (status 1 and a coded diagnostic, optionally a given code), or `either`
    (one of the two).

usage: hostile.py NPKC [TIME_SCALE] [MEM_SCALE] [CASE-NAME-SUBSTRING]
"""
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time

DIAG = re.compile(rb"error: \[(NPK-[A-Z]\d{3}|ARIA-\d{3})\]")

MAIN = "func:main = int32() {{\n{body}\n    exit 0;\n}};\n"


def program(body):
    return MAIN.format(body=body).encode()


# Reads `x`, so that a program expected to compile cleanly has no unused
# variable (a warning on stderr).
READ_X = "\n    if (x < 0i32) { exit 1; }"


def big_source(target_bytes):
    parts, size, i = [], 0, 0
    while size < target_bytes:
        f = (f"func:f{i} = int32(int32:a, int32:b) {{\n"
             f"    int32:s = a;\n"
             f"    if (b > 3i32) {{ s = s + b; }} else {{ s = s - 1i32; }}\n"
             f"    while (s > 100i32) {{ s = s - 7i32; }}\n"
             f"    pass s;\n}};\n")
        parts.append(f)
        size += len(f)
        i += 1
    parts.append(MAIN.format(body="    int32:r = raw f0(1i32, 2i32);\n    if (r < 0i32) { exit 1; }"))
    return "".join(parts).encode()


def random_bytes(n, seed):
    return random.Random(seed).randbytes(n)


def random_text(n, seed):
    """Printable ASCII and newlines: valid UTF-8 that lexes into a flood of errors."""
    rng = random.Random(seed)
    alphabet = bytes(range(32, 127)) + b"\n" * 8
    return bytes(rng.choice(alphabet) for _ in range(n))


TOKENS = ["func", ":", "main", "=", "int32", "(", ")", "{", "}", ";", "wild", "int8", "->",
          "alloc", "free", "pass", "fail", "if", "while", "raw", "drop", "x", "1i32", "+",
          "@", "<-", "=>", "[", "]", ",", "defer", "exit", "\n"]


def random_tokens(n, seed):
    rng = random.Random(seed)
    out, size = [], 0
    while size < n:
        t = rng.choice(TOKENS)
        out.append(t)
        size += len(t) + 1
    return " ".join(out).encode()


# name: (files {relative path: bytes or None for a directory}, main file,
#        expectation, code or None, seconds, MiB)
def cases():
    deep = 100_000
    yield ("nested_parentheses_100k",
           {"m.npk": program("    int32:x = " + "(" * deep + "1i32" + ")" * deep + ";")},
           "m.npk", "error", "NPK-P006", 10, 512)
    yield ("nested_blocks_10k",
           {"m.npk": program("    " + "{ " * 10_000 + "int32:x = 1i32;" + " }" * 10_000)},
           "m.npk", "either", None, 20, 1024)
    yield ("flat_expression_100k_terms",
           {"m.npk": program("    int32:x = 1i32;\n    int32:y = x" + " + x" * 99_999 + ";\n"
                             "    if (y == 0i32) { exit 1; }")},
           "m.npk", "either", None, 30, 1536)
    yield ("source_10mb",
           {"m.npk": big_source(10 << 20)},
           "m.npk", "ok", None, 60, 2048)
    yield ("identifier_1mb",
           {"m.npk": program("    int32:" + "a" * (1 << 20) + " = 1i32;")},
           "m.npk", "either", None, 10, 512)
    yield ("literal_200_digits",
           {"m.npk": program("    int64:x = " + "9" * 200 + ";")},
           "m.npk", "error", None, 5, 256)
    yield ("invalid_utf8_in_code",
           {"m.npk": program("    int32:x@@ = 1i32;").replace(b"@@", b"\xff\xfe")},
           "m.npk", "error", None, 5, 256)
    yield ("invalid_utf8_in_comment",
           {"m.npk": b"// \xff\xfe\xc0\n" + program("    int32:x = 1i32;")},
           "m.npk", "either", None, 5, 256)
    yield ("nul_bytes",
           {"m.npk": program("    int32:x = 1i32;\x00\x00;")},
           "m.npk", "error", None, 5, 256)
    yield ("crlf_line_ends",
           {"m.npk": program("    int32:x = 1i32;\n    if (x == 1i32) { exit 0; }").replace(b"\n", b"\r\n")},
           "m.npk", "ok", None, 5, 256)
    yield ("utf8_bom",
           {"m.npk": b"\xef\xbb\xbf" + program("    int32:x = 1i32;" + READ_X)},
           "m.npk", "ok", None, 5, 256)
    yield ("unterminated_comment_at_eof",
           {"m.npk": program("    int32:x = 1i32;") + b"/* never closed"},
           "m.npk", "error", None, 5, 256)
    yield ("unterminated_string_at_eof",
           {"m.npk": program("    int32:x = 1i32;") + b'func:g = int32() { println("never closed'},
           "m.npk", "error", None, 5, 256)
    yield ("module_imports_itself",
           {"m.npk": b'use "m.npk".*;\n' + program("    int32:x = 1i32;")},
           "m.npk", "error", None, 5, 256)
    chain = {"m.npk": b'use "c1.npk".*;\n' + program("    int32:x = raw g1();" + READ_X)}
    for i in range(1, 1001):
        nxt = f'use "c{i + 1}.npk".*;\n' if i < 1000 else ""
        chain[f"c{i}.npk"] = (nxt + f"func:g{i} = int32() {{ pass {i}i32; }};\n").encode()
    yield ("import_chain_1000_modules", chain, "m.npk", "ok", None, 60, 1024)
    yield ("import_a_directory",
           {"m.npk": b'use "lib".*;\n' + program("    int32:x = 1i32;"), "lib": None},
           "m.npk", "error", None, 5, 256)
    yield ("import_through_dotdot",
           {"app/m.npk": b'use "../lib/util.npk".*;\n' + program("    int32:x = raw util();" + READ_X),
            "lib/util.npk": b"func:util = int32() { pass 7i32; };\n"},
           "app/m.npk", "ok", None, 5, 256)
    # Module-level constants, each defined by the next: a chain the checker
    # orders without recursion, and a cycle it follows only so far.
    consts = 100_000
    chain_src = "".join(f"const int64:C{i} = C{i + 1} +% 1;\n" for i in range(consts - 1))
    yield ("constant_chain_100k",
           {"m.npk": (chain_src + f"const int64:C{consts - 1} = 0;\n").encode() +
            program("    if (C0 != 99999) { exit 1; }")},
           "m.npk", "ok", None, 30, 1024)
    yield ("constant_cycle_100k",
           {"m.npk": (chain_src + f"const int64:C{consts - 1} = C0;\n").encode() + program("    int32:x = 1i32;")},
           "m.npk", "error", "NPK-T011", 30, 1024)
    yield ("random_bytes_10mb",
           {"m.npk": random_bytes(10 << 20, 20261202)},
           "m.npk", "error", None, 10, 512)
    yield ("random_text_10mb",
           {"m.npk": random_text(10 << 20, 7)},
           "m.npk", "error", None, 3, 160)
    yield ("random_tokens_10mb",
           {"m.npk": random_tokens(10 << 20, 11)},
           "m.npk", "error", None, 30, 768)


def run_bounded(argv, seconds):
    """Runs argv; returns (status, stderr, stdout, wall seconds, peak RSS MiB, timed out)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=err)
        timed_out = threading.Event()

        def kill():
            timed_out.set()
            proc.kill()

        timer = threading.Timer(seconds, kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        return proc.returncode, err.read(), out.read(), wall, usage.ru_maxrss / 1024, timed_out.is_set()


def main():
    npkc = sys.argv[1]
    time_scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    mem_scale = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
    only = sys.argv[4] if len(sys.argv) > 4 else ""
    failures = 0
    for name, files, main_file, expect, code, seconds, mib in cases():
        if only and only not in name:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            for rel, data in files.items():
                path = os.path.join(tmp, rel)
                if data is None:
                    os.makedirs(path, exist_ok=True)
                    continue
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.write(data)
            bound_s, bound_mib = seconds * time_scale, mib * mem_scale
            status, err, out, wall, peak, timed_out = run_bounded(
                [npkc, "check", os.path.join(tmp, main_file)], bound_s)
        problems = []
        if timed_out:
            problems.append(f"still running after {bound_s:.0f} s")
        elif status not in (0, 1):
            problems.append(f"exit status {status}")
        else:
            coded = DIAG.search(err)
            if expect == "ok" and (status != 0 or err):
                problems.append("expected success")
            if expect == "error" and (status != 1 or not coded):
                problems.append("expected a coded diagnostic and exit status 1")
            if expect == "either" and status == 1 and not coded:
                problems.append("exit status 1 without a coded diagnostic")
            if code and code.encode() not in err:
                problems.append(f"expected {code}")
        if peak > bound_mib:
            problems.append(f"peak RSS {peak:.0f} MiB over {bound_mib:.0f} MiB")
        verdict = "FAIL" if problems else "ok"
        first = err.decode(errors="replace").splitlines()[:1]
        print(f"{verdict:4} {name}: exit {status}, {wall:.2f} s (bound {bound_s:.0f}), "
              f"{peak:.0f} MiB (bound {bound_mib:.0f}) {first[0][:120] if first else ''}")
        for p in problems:
            print(f"     {p}")
        if problems:
            print(err.decode(errors="replace")[-1500:])
            failures += 1
    print(f"{failures} failing case(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
