#!/usr/bin/env python3
"""Docs match behaviour.

- Every complete program shown in README.md, docs/*.md and docs/guide/*.md as
  a plain fenced block that starts with `use`, `func:`, `struct:` or `Type:`
  must compile without warnings (`-Werror`) and exit 0.
- Every block fenced as ```npk is a complete program, checked according to
  its info string:
    ```npk                 `npkc run -Werror` exits 0 (no warnings)
    ```npk exit=N          `npkc run -Werror` exits N
    ```npk error=CODE      `npkc check` exits 1 reporting CODE and no other code
    ```npk warning=CODE    `npkc check` exits 0 reporting warning CODE and no other code
    ```npk env=VAR=VALUE   runs with VAR=VALUE in the environment (repeatable)
    ```npk flag=-WOPT      passes the npkc option -WOPT too (repeatable; -W
                           options only, as the guide's warning examples use)
    ```npk arg=WORD        runs the program with WORD as an argument
                           (`npkc run FILE -- WORD...`; repeatable, in order)
  A run block followed directly by an ```output block must print exactly
  that text on stdout.
- The guide's pages (GUIDE below) exist and each shows at least one ```npk
  program, so a page cannot vanish or lose its examples unnoticed.
- No doc sends the reader outside the repository for the language: README.md
  and docs/ name no `../shared` path and no LANGUAGE.md / LANGUAGE-2 spec.
- docs/guide/runtime-environment.md names every `NPK_*` variable that the
  runtime's sources read (getenv, env_flag, env_on).
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

PLAIN = re.compile(r"```\n((?:use |func:|struct:|Type:).*?)```", re.S)
TAGGED = re.compile(r"```npk([^\n]*)\n(.*?)```(?:\s*```output\n(.*?)```)?", re.S)
CODE = re.compile(r"error: \[([A-Z]+-[A-Z]?[0-9]+)\]")
WARNING = re.compile(r"warning: \[([A-Z]+-[A-Z]?[0-9]+)\]")
GUIDE = ["docs/guide/README.md", "docs/guide/getting-started.md", "docs/guide/tour.md", "docs/guide/memory.md",
         "docs/guide/runtime-environment.md", "docs/jit-cookbook.md", "docs/diagnostics.md"]
OUTSIDE = re.compile(r"\.\./shared|LANGUAGE\.md|LANGUAGE-2")
RUNTIME_ENV = re.compile(r"\b(?:getenv|env_flag|env_on)\(\s*\"(NPK_[A-Z0-9_]+)\"")


def run_plain(npkc, path):
    proc = subprocess.run([npkc, "run", "-Werror", path], capture_output=True, timeout=120)
    if proc.returncode != 0:
        return f"exit {proc.returncode}\n{proc.stderr.decode(errors='replace')}"
    return None


def run_tagged(npkc, path, info, expected_output):
    opts = {"exit": "0", "error": None, "warning": None}
    env = dict(os.environ)
    flags, args = [], []
    for word in info.split():
        key, _, value = word.partition("=")
        if key == "env":
            name, _, val = value.partition("=")
            env[name] = val
        elif key == "flag" and value.startswith("-W"):
            flags.append(value)
        elif key == "arg":
            args.append(value)
        elif key in opts:
            opts[key] = value
        else:
            return f"unknown info word `{word}`"
    if opts["error"]:
        proc = subprocess.run([npkc, "check", *flags, path], capture_output=True, timeout=120, env=env)
        stderr = proc.stderr.decode(errors="replace")
        codes = set(CODE.findall(stderr))
        if proc.returncode != 1 or codes != {opts["error"]}:
            return f"expected only {opts['error']}, got exit {proc.returncode} and {sorted(codes)}\n{stderr}"
        return None
    if opts["warning"]:
        proc = subprocess.run([npkc, "check", *flags, path], capture_output=True, timeout=120, env=env)
        stderr = proc.stderr.decode(errors="replace")
        codes = set(CODE.findall(stderr)) | set(WARNING.findall(stderr))
        if proc.returncode != 0 or codes != {opts["warning"]} or not WARNING.search(stderr):
            return f"expected only warning {opts['warning']}, got exit {proc.returncode} and {sorted(codes)}\n{stderr}"
        return None
    proc = subprocess.run([npkc, "run", "-Werror", *flags, path, "--", *args], capture_output=True, timeout=120,
                          env=env)
    stdout = proc.stdout.decode(errors="replace")
    if proc.returncode != int(opts["exit"]):
        return f"expected exit {opts['exit']}, got {proc.returncode}\n{proc.stderr.decode(errors='replace')}"
    if expected_output is not None and stdout != expected_output:
        return f"expected output:\n{expected_output}got:\n{stdout}"
    return None


def check_docs(root, docs):
    """The checks on the docs' text; returns the problems found."""
    problems = []
    for page in GUIDE:
        path = os.path.join(root, page)
        if not os.path.isfile(path):
            problems.append(f"{page} is missing")
        elif page != "docs/diagnostics.md" and page != "docs/guide/README.md" and \
                not TAGGED.search(open(path, encoding="utf-8").read()):
            problems.append(f"{page} shows no ```npk program")
    for doc in docs:
        for n, line in enumerate(open(doc, encoding="utf-8"), 1):
            if OUTSIDE.search(line):
                problems.append(f"{os.path.relpath(doc, root)}:{n} points outside the repository: {line.strip()}")
    env_doc = open(os.path.join(root, "docs", "guide", "runtime-environment.md"), encoding="utf-8").read()
    read = set()
    for src in glob.glob(os.path.join(root, "runtime", "src", "*.cpp")):
        read |= set(RUNTIME_ENV.findall(open(src, encoding="utf-8").read()))
    if not read:
        problems.append("found no environment variable read in runtime/src (the pattern is stale)")
    for name in sorted(read):
        if f"`{name}`" not in env_doc:
            problems.append(f"docs/guide/runtime-environment.md does not name `{name}`, which the runtime reads")
    return problems


def main():
    npkc, root = sys.argv[1], sys.argv[2]
    docs = [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "*.md"))) \
        + sorted(glob.glob(os.path.join(root, "docs", "guide", "*.md")))
    problems = check_docs(root, docs)
    failures, count, tagged = [], 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for doc in docs:
            text = open(doc, encoding="utf-8").read()
            cases = [(m.group(1), None, None) for m in PLAIN.finditer(text)]
            cases += [(m.group(2), m.group(1).strip(), m.group(3)) for m in TAGGED.finditer(text)]
            for n, (block, info, output) in enumerate(cases):
                count += 1
                path = os.path.join(tmp, f"example{count}.npk")
                with open(path, "w", encoding="utf-8") as f:
                    f.write(block)
                if info is None:
                    problem = run_plain(npkc, path)
                else:
                    tagged += 1
                    problem = run_tagged(npkc, path, info, output)
                if problem:
                    label = f"{os.path.relpath(doc, root)} example {n + 1} (`{block.splitlines()[0]}`...)"
                    failures.append(f"{label}: {problem}")
    for f in problems + failures:
        print("FAIL:", f)
    print(f"{count - len(failures)} passed, {len(failures)} failed ({tagged} ```npk blocks); "
          f"{len(problems)} problems in the docs' text")
    return 1 if problems or failures or count == 0 or tagged == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
