#!/usr/bin/env python3
"""gdb debugs a program built with `npkc build -g`.

usage: gdb_session.py NPKC FILECHECK PROGRAM.npk WORKDIR

Builds PROGRAM with -g and runs a gdb batch session: breakpoints on the
source lines marked `// BREAK` and `// BREAK-INNER` (the program's file) and
`// BREAK-MODULE` (its imported module) and on a function by its Nitpick
name, locals, struct fields, a shadowed local and backtraces. FileCheck
matches the session against the CHECK lines of PROGRAM, with BREAK,
BREAK_INNER and BREAK_MODULE defined as the marked lines. The same
program built with -g0 is the near miss (prefix NODEBUG): gdb has no source
lines to break on. Built with -g -O2 (prefix OPT), the backtrace still names
the Nitpick functions, inlined ones included. Exits 77 (skipped) with a message when gdb is absent.
"""
import os
import re
import shutil
import subprocess
import sys


def marked_line(path, marker):
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if re.search(r"//\s*" + re.escape(marker) + r"\s*$", line):
                return number
    sys.exit(f"{path}: no line marked `// {marker}`")


def gdb_session(exe, commands):
    args = ["gdb", "-nx", "-batch", "-iex", "set debuginfod enabled off"]
    for c in commands:
        args += ["-ex", c]
    run = subprocess.run(args + [exe], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    return run.stdout


def filecheck(filecheck_bin, program, text, prefix, defines):
    args = [filecheck_bin, program, "--check-prefix=" + prefix] + ["-D" + d for d in defines]
    run = subprocess.run(args, input=text, text=True)
    return run.returncode == 0


def main():
    npkc, filecheck_bin, program, work = sys.argv[1:5]
    if shutil.which("gdb") is None:
        print("skipped: gdb is not installed (scripts/install-deps.sh installs it)")
        return 77
    os.makedirs(work, exist_ok=True)
    module = os.path.join(os.path.dirname(program), "geometry.npk")
    name = os.path.basename(program)
    lines = {"BREAK": marked_line(program, "BREAK"), "BREAK_MODULE": marked_line(module, "BREAK-MODULE"),
             "BREAK_INNER": marked_line(program, "BREAK-INNER")}
    defines = [f"{k}={v}" for k, v in lines.items()]

    ok = True
    for flag, prefix, commands in [
        ("-g", "CHECK", [
            f"break {name}:{lines['BREAK']}",
            f"break geometry.npk:{lines['BREAK_MODULE']}",
            "break Shape.area",
            f"break {name}:{lines['BREAK_INNER']}",
            "run",
            "info args", "print r.w", "print scale",
            "continue",
            "print a", "bt",
            "continue",
            "print total", "print n.v", "print *n", "print head.next.v", "bt",
            "delete 1",
            "continue",
            "print t", "info locals",
            "kill",
        ]),
        ("-g -O2", "OPT", [f"break {name}:{lines['BREAK']}", "run", "bt"]),
        ("-g0", "NODEBUG", [f"break {name}:{lines['BREAK']}", "run", "bt"]),
    ]:
        exe = os.path.join(work, "gdb_program" + flag.replace(" ", ""))
        build = subprocess.run([npkc, "build", *flag.split(), program, "-o", exe], capture_output=True, text=True)
        if build.returncode != 0:
            print(f"FAIL: npkc build {flag} failed:\n{build.stderr}")
            return 1
        out = gdb_session(exe, commands)
        print(f"---- gdb session, built with {flag}\n{out}")
        ok = filecheck(filecheck_bin, program, out, prefix, defines) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
