"""json-odd-names.py NPKC DIR: writes a failing program under names that JSON
must escape (a quote, a backslash and a tab; a byte that is not UTF-8), runs
`NPKC check --diagnostics-format=json` on each, and prints the `file` field
each diagnostic line decodes to (strict JSON: a raw control character or a
bad escape fails the parse), for FileCheck."""
import json
import os
import subprocess
import sys

npkc, work = sys.argv[1], os.fsencode(sys.argv[2])
os.makedirs(work, exist_ok=True)
for name in (b'we"ird\\back\ttab.npk', b"b\xffd.npk"):
    path = os.path.join(work, name)
    with open(path, "wb") as f:
        f.write(b"func:main = int32() { exit x; };\n")
    run = subprocess.run([npkc, "check", "--diagnostics-format=json", path], capture_output=True, cwd=work)
    for line in run.stderr.decode("utf-8").splitlines():  # npkc writes UTF-8 only
        d = json.loads(line)
        print(f"exit {run.returncode} {d['code']} file={json.dumps(d['file'], ensure_ascii=True)} "
              f"label_file={json.dumps(d['labels'][0]['file'], ensure_ascii=True)}")
