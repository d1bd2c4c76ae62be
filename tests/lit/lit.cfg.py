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
config.substitutions.append(("%python", sys.executable))
config.substitutions.append(("%examples", config.npk_examples_dir))
config.substitutions.append(("%shared", config.npk_shared_dir))
config.substitutions.append(("%stdlib", os.path.join(config.npk_source_dir, "stdlib")))
config.environment["PATH"] = os.pathsep.join([config.llvm_tools_dir, config.environment.get("PATH", os.environ.get("PATH", ""))])
for var in ("NPK_PATH", "NPK_WILDX_QUOTA", "NPK_WILDX_GUARD", "NPK_WILDX_AUDIT", "NPK_WILDX_VERIFY"):
    config.environment.pop(var, None)
config.environment["NO_COLOR"] = "1"

# Tests of npkc working without its own large stack limit the address space
# (`ulimit -v 300000`) so that the stack cannot be reserved. Builds that cannot
# start at all under that limit (sanitizers reserve terabytes) skip them.
import subprocess
try:
    if subprocess.run(["sh", "-c", 'ulimit -v 300000 && exec "$0" --version', npkc],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60).returncode == 0:
        config.available_features.add("small-address-space")
except (OSError, subprocess.SubprocessError):
    pass
