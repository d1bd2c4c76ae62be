"""`npkc check` builds, checks and releases each function's NIR in turn
instead of keeping them for the lowering: usage
check-matches-build.py NPKC DIR... runs `npkc check` and
`npkc build --emit=nir` on every .npk file under the directories and fails
(listing the files) unless both report the same diagnostics and the same
success or failure. Prints the number of files compared."""
import os
import subprocess
import sys

npkc, dirs = sys.argv[1], sys.argv[2:]
files = sorted(os.path.join(root, name) for d in dirs for root, _, names in os.walk(d)
               for name in names if name.endswith(".npk"))
differ = []
for path in files:
    env = dict(os.environ, NO_COLOR="1")
    check = subprocess.run([npkc, "check", "--diagnostics-format=json", path], capture_output=True, text=True, env=env)
    build = subprocess.run([npkc, "build", "--emit=nir", "-o", os.devnull, "--diagnostics-format=json", path],
                           capture_output=True, text=True, env=env)
    if (check.returncode == 0) != (build.returncode == 0) or check.stderr != build.stderr:
        differ.append(path)
for path in differ:
    print("differs:", path)
print(f"compared {len(files)} files, {len(differ)} differ")
sys.exit(1 if differ else 0)
