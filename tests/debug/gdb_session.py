#!/usr/bin/env python3
"""gdb debugs a program built with `npkc build -g`.

usage: gdb_session.py NPKC FILECHECK PROGRAM.npk WORKDIR [GUIDE.md]

Builds PROGRAM with -g and runs a gdb batch session: breakpoints on the
source lines marked `// BREAK` and `// BREAK-INNER` (the program's file) and
`// BREAK-MODULE` (its imported module) and on a function by its Nitpick
name, locals, struct fields, a shadowed local and backtraces. FileCheck
matches the session against the CHECK lines of PROGRAM, with BREAK,
BREAK_INNER and BREAK_MODULE defined as the marked lines. The same
program built with -g0 is the near miss (prefix NODEBUG): gdb has no source
lines to break on. Built with -g -O2 (prefix OPT), the backtrace still names
the Nitpick functions, inlined ones included. With GUIDE (the getting-started
page), its gdb example is replayed too: the program saved as `walk.npk`, the
`npkc build` and `gdb` commands shown after it, and the transcript shown
after those, which must appear in gdb's output in order (addresses aside).
Exits 77 (skipped) with a message when gdb is absent.
"""
import os
import re
import shlex
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


def guide_example(npkc, guide, work):
    """Replays the guide's gdb example; returns the problems found."""
    text = open(guide, encoding="utf-8").read()
    saved = re.search(r"Saved as `(\w+\.npk)`:\s*```sh\n(.*?)```\s*```\n(.*?)```", text, re.S)
    blocks = re.findall(r"```npk\n(.*?)```", text[:saved.start()], re.S) if saved else []
    if not blocks:
        return [f"{guide}: no gdb example (a ```npk block, `Saved as NAME.npk:`, a ```sh block, a transcript)"]
    source = blocks[-1]
    name, commands, transcript = saved.groups()
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(work, name), "w", encoding="utf-8") as f:
        f.write(source)
    out = ""
    for line in commands.strip().splitlines():
        words = shlex.split(line, comments=True)
        if words[0] == "npkc":
            build = subprocess.run([os.path.abspath(npkc)] + words[1:], cwd=work, capture_output=True, text=True)
            if build.returncode != 0:
                return [f"`{line}` failed:\n{build.stderr}"]
        elif words[0] == "gdb":
            exe = os.path.join(work, words[-1])
            out = gdb_session(exe, [words[i + 1] for i, w in enumerate(words) if w == "-ex"])
        else:
            return [f"{guide}: unexpected command `{line}` in the gdb example"]
    print(f"---- gdb session of the guide's example\n{out}")
    address = re.compile(r"0x[0-9a-f]+")
    got = [address.sub("0x_", l.rstrip()) for l in out.splitlines()]
    at = 0
    for want in transcript.strip().splitlines():
        want = address.sub("0x_", want.rstrip())
        while at < len(got) and got[at] != want:
            at += 1
        if at == len(got):
            return [f"{guide}: the gdb transcript's line `{want}` is not in gdb's output (in order)"]
        at += 1
    return []


def main():
    npkc, filecheck_bin, program, work = sys.argv[1:5]
    guide = sys.argv[5] if len(sys.argv) > 5 else None
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
            "print t", "info locals", "print visits", "print UNIT",
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
    if guide:
        for problem in guide_example(npkc, guide, os.path.join(work, "guide")):
            print("FAIL:", problem)
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
