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

struct Diag {
  DiagId id;
  Severity severity = Severity::Error;
  Span primary;
  std::string message;
  std::string primaryLabel;
  std::vector<DiagLabel> secondary;
  std::vector<DiagNote> notes;
  std::string help;

  Diag &label(Span s, std::string text) { secondary.push_back({s, std::move(text)}); return *this; }
  Diag &note(std::string text, Span s = {}) { notes.push_back({s, std::move(text)}); return *this; }
  Diag &withHelp(std::string text) { help = std::move(text); return *this; }
};

std::string_view diagCode(DiagId id);
std::string_view diagTitle(DiagId id);
// Long form for `npkc --explain CODE`; empty when the code is unknown.
std::string explainCode(std::string_view code);

class DiagEngine {
public:
  // After this many errors the phases stop early (the lexer ends the file, the
  // parser stops reading declarations) and the last error says so: a file of
  // garbage costs the time to find this many errors, not to find them all.
  static constexpr unsigned kErrorLimit = 50;

  Diag &error(DiagId id, Span at, std::string message);
  bool limitReached() const { return errorCount_ >= kErrorLimit; }
  bool hasErrors() const { return errorCount_ > 0; }
  unsigned errorCount() const { return errorCount_; }
  const std::vector<Diag> &all() const { return diags_; }
  // Diagnostics are appended; ids keep pointers stable by index only.
  Diag &last() { return diags_.back(); }

private:
  std::vector<Diag> diags_;
  unsigned errorCount_ = 0;
};

// Renders `file:line:col: error: [CODE] message`, the source line with a caret
// under the primary span, labelled secondary spans, notes and help.
std::string renderDiag(const SourceManager &sm, const Diag &d, bool color);

} // namespace npk
