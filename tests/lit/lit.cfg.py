# lit configuration for npk's file-based tests: one .npk file per case, its
# RUN and CHECK lines inside. Run through ctest (see CMakeLists.txt).
import os
import sys
import lit.formats

config.name = "npk"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".npk"]
config.excludes = ["Inputs", "CMakeLists.txt"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.npk_build_dir, "tests", "lit-out")

npkc = os.path.join(config.npk_build_dir, "bin", "npkc")
config.substitutions.append(("%npkc", npkc))
# `not` as a command word (line start, after `|`, `;`, `&` or `(`, or after
# `env VAR=...`) becomes npk-not: it fails the test when the command crashes,
# exits with npkc's internal-error status or with the sanitizer status, where
# lit's own `not` accepts any non-zero status, a signal included.
config.substitutions.append((r"(?<![^\s|;&(])not(?=\s)", config.npk_not))
config.substitutions.append(("%python", sys.executable))
config.substitutions.append(("%examples", config.npk_examples_dir))
config.substitutions.append(("%shared", config.npk_shared_dir))
config.substitutions.append(("%stdlib", os.path.join(config.npk_source_dir, "stdlib")))
config.environment["PATH"] = os.pathsep.join([config.llvm_tools_dir, config.environment.get("PATH", os.environ.get("PATH", ""))])
for var in ("NPK_PATH", "NPK_WILDX_QUOTA", "NPK_WILDX_GUARD", "NPK_WILDX_AUDIT", "NPK_WILDX_VERIFY"):
    config.environment.pop(var, None)
config.environment["NO_COLOR"] = "1"
# The compiler checks the LLVM IR it generates (off by default in release builds).
config.environment["NPK_VERIFY_IR"] = "1"

# Tests of what npkc does on x86-64 only (the code it emits there).
import platform
if platform.machine() in ("x86_64", "AMD64"):
    config.available_features.add("x86_64")

# Tests of npkc working without its own large stack limit the address space
# (`ulimit -v 300000`) so that the stack cannot be reserved. Builds that cannot
# start at all under that limit (sanitizers reserve terabytes) skip them. The
# probe's own refusal to start is no finding: a sanitizer build's report of it
# goes to the probe's stderr (dropped), not to the run's report directory
# (scripts/sanitize.sh fails on any file there).
import subprocess
probe_env = dict(os.environ)
for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"):
    if var in probe_env:
        probe_env[var] += ":log_path=stderr"  # the last setting of an option wins
try:
    if subprocess.run(["sh", "-c", 'ulimit -v 300000 && exec "$0" --version', npkc], env=probe_env,
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60).returncode == 0:
        config.available_features.add("small-address-space")
except (OSError, subprocess.SubprocessError):
    pass
# Test-only switch of a build with NPK_SANITIZER_PLANT (see CMakeLists.txt):
# passed on so the harness test can prove the suite fails on a planted bug.
if "NPK_SANITIZER_PLANT" in os.environ:
    config.environment["NPK_SANITIZER_PLANT"] = os.environ["NPK_SANITIZER_PLANT"]
