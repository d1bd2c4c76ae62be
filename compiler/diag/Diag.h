// Diagnostics are data: phases return them, one renderer prints them.
#pragma once

#include "support/Source.h"

#include <string>
#include <string_view>
#include <vector>

namespace npk {

enum class DiagId {
#define DIAG(Id, Code, Title, Explain) Id,
#include "diag/Diagnostics.def"
#undef DIAG
};

enum class Severity { Error, Warning };

struct DiagLabel {
  Span span;
  std::string text;
};

struct DiagNote {
  Span span; // may be invalid: a note without location
  std::string text;
};

// A machine-applicable edit: replace the bytes of `span` with `replacement`
// (an empty span inserts, an empty replacement removes).
struct DiagFixIt {
  Span span;
  std::string replacement;
};

struct Diag {
  DiagId id;
  Severity severity = Severity::Error;
  Span primary;
  std::string message;
  std::string primaryLabel;
  std::vector<DiagLabel> secondary;
  std::vector<DiagNote> notes;
  std::string help;
  std::vector<DiagFixIt> fixIts;

  Diag &fix(Span s, std::string replacement) { fixIts.push_back({s, std::move(replacement)}); return *this; }
  Diag &label(Span s, std::string text) { secondary.push_back({s, std::move(text)}); return *this; }
  Diag &note(std::string text, Span s = {}) { notes.push_back({s, std::move(text)}); return *this; }
  Diag &withHelp(std::string text) { help = std::move(text); return *this; }
};

std::string_view diagCode(DiagId id);
std::string_view diagTitle(DiagId id);

// ---- warnings (the WARN entries of Diagnostics.def)

// The `-W` name of a warning (`unused-variable`); empty for an error.
std::string_view warningFlag(DiagId id);
bool isWarning(DiagId id);
bool warningOnByDefault(DiagId id);
// Every warning, in the order of Diagnostics.def.
const std::vector<DiagId> &allWarnings();

// Which warnings are reported and whether they are errors: the defaults,
// changed by the command line's `-W` flags in order.
class WarningOptions {
public:
  WarningOptions();
  bool enabled(DiagId id) const;
  // Applies one flag: `-Wall`, `-Werror`, `-Wno-error`, `-W<name>`,
  // `-Wno-<name>`. False when the name is not a warning's; `suggestion` is
  // then the closest flag (`-Wshadow`) or empty.
  bool apply(std::string_view flag, std::string &suggestion);
  bool werror = false;

private:
  std::vector<bool> enabled_; // by DiagId
};
// Long form for `npkc --explain CODE` (any letter case); empty when the code
// is unknown.
std::string explainCode(std::string_view code);

// The candidate closest to `name` by edit distance (insertions, deletions,
// substitutions, swaps of two neighbours; a difference of letter case only
// is closest), when it is close enough to be a likely typo: at most one edit
// for names of up to four characters, a third of the length for longer ones.
// Empty when none is.
std::string closestName(std::string_view name, const std::vector<std::string_view> &candidates);

class DiagEngine {
public:
  // After this many errors the phases stop early (the lexer ends the file, the
  // parser stops reading declarations) and the last error says so: a file of
  // garbage costs the time to find this many errors, not to find them all.
  static constexpr unsigned kErrorLimit = 50;

  Diag &error(DiagId id, Span at, std::string message);
  // Whether warning `id` is reported (WarningOptions); ask before warning().
  bool wants(DiagId id) const { return warnings_.enabled(id); }
  // A warning, or an error under -Werror (its severity says which).
  Diag &warning(DiagId id, Span at, std::string message);
  void setWarnings(const WarningOptions &w) { warnings_ = w; }
  unsigned warningCount() const { return warningCount_; }
  bool limitReached() const { return errorCount_ >= kErrorLimit; }
  bool hasErrors() const { return errorCount_ > 0; }
  unsigned errorCount() const { return errorCount_; }
  const std::vector<Diag> &all() const { return diags_; }
  // Diagnostics are appended; ids keep pointers stable by index only.
  Diag &last() { return diags_.back(); }

  // How many of all() the driver has printed (it prints each phase's new
  // diagnostics once).
  size_t printed = 0;

private:
  std::vector<Diag> diags_;
  unsigned errorCount_ = 0;
  unsigned warningCount_ = 0;
  WarningOptions warnings_;
};

// Renders `file:line:col: error: [CODE] message` (a warning: `warning:` and
// the message ends with ` [-Wflag]`, or ` [-Werror,-Wflag]` when -Werror made
// it an error), the source line with a caret
// under the primary span, labelled secondary spans, notes, help and fix-its.
// Columns and carets count characters (UTF-8 code points), not bytes.
std::string renderDiag(const SourceManager &sm, const Diag &d, bool color);

// The same diagnostic as one line of JSON (no newline inside), for
// `--diagnostics-format=json`: code, severity, message, file, line, column,
// end_line, end_column, byte_range, labels, notes, help, fixits. Lines and
// columns are 1-based, columns in characters; byte ranges are [begin, end)
// offsets into the file after any byte order mark.
std::string renderDiagJson(const SourceManager &sm, const Diag &d);

} // namespace npk
