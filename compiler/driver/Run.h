// `npkc run`: compile to a private temporary directory, run the program,
// remove the directory on every path.
#pragma once

#include "driver/Driver.h"

#include <string>
#include <vector>

namespace npk {

// Compiles opts.input into a fresh `npk-run-XXXXXX` directory under the
// temporary directory ($TMPDIR, else /tmp) and runs it with `args`. Returns
// the program's exit status, 128+N (with a line on stderr) when a signal N
// killed it, or 1 after the line `npkc: compilation failed` when it does not
// compile. A SIGINT,
// SIGTERM, SIGHUP or SIGQUIT sent to npkc is passed on to the program; once
// it has ended and the directory is gone, npkc dies by the same signal.
int compileAndRun(Options opts, const std::vector<std::string> &args);

} // namespace npk
