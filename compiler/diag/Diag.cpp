#include "diag/Diag.h"

#include <algorithm>

namespace npk {

namespace {
struct DiagInfo {
  std::string_view code, title, explain;
};
constexpr DiagInfo kInfo[] = {
#define DIAG(Id, Code, Title, Explain) {Code, Title, Explain},
#include "diag/Diagnostics.def"
#undef DIAG
};
} // namespace

std::string_view diagCode(DiagId id) { return kInfo[static_cast<int>(id)].code; }
std::string_view diagTitle(DiagId id) { return kInfo[static_cast<int>(id)].title; }

std::string explainCode(std::string_view code) {
  for (const DiagInfo &info : kInfo) {
    if (info.code == code)
      return std::string(info.code) + ": " + std::string(info.title) + "\n\n" + std::string(info.explain);
  }
  return {};
}

Diag &DiagEngine::error(DiagId id, Span at, std::string message) {
  Diag d;
  d.id = id;
  d.primary = at;
  d.message = std::move(message);
  diags_.push_back(std::move(d));
  if (++errorCount_ == kErrorLimit)
    diags_.back().note("npkc stops after " + std::to_string(kErrorLimit) +
                       " errors; fix these and compile again to see the rest");
  return diags_.back();
}

namespace {

// Source lines longer than this many bytes are shown as a window of about
// that width around the marked span, with `...` where the line is cut.
constexpr size_t kSnippetWidth = 120;

bool isUtf8Continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Messages, notes and help quote source text (a name, a module path), which
// can be megabytes long. Text longer than this many bytes keeps its start and
// its end, joined by ` ... `.
constexpr size_t kMaxTextBytes = 480;

std::string clip(std::string_view text) {
  if (text.size() <= kMaxTextBytes) return std::string(text);
  size_t head = kMaxTextBytes / 2, tail = text.size() - kMaxTextBytes / 2;
  while (head > 0 && isUtf8Continuation(text[head])) --head;
  while (tail < text.size() && isUtf8Continuation(text[tail])) ++tail;
  return std::string(text.substr(0, head)) + " ... " + std::string(text.substr(tail));
}

// One source line with a marker under [col, col+width). A long line is cut
// to a window that starts a little before the span and holds as much of it
// as fits, so the output stays small whatever the line's length.
void renderSnippet(std::string &out, const SourceManager &sm, Span s, char mark,
                   std::string_view label) {
  LineCol lc = sm.lineCol(s.file, s.begin);
  std::string_view line = sm.lineText(s.file, lc.line);
  std::string num = std::to_string(lc.line);
  std::string pad(std::max<size_t>(num.size(), 4) + 1, ' ');
  std::string gutter = std::string(pad.size() - num.size() - 1, ' ') + num + " | ";
  size_t startCol = std::min<size_t>(lc.col - 1, line.size());
  size_t width = 1;
  if (s.end > s.begin) {
    LineCol endLc = sm.lineCol(s.file, s.end);
    width = endLc.line == lc.line ? s.end - s.begin : line.size() - startCol;
    width = std::max<size_t>(width, 1);
  }
  size_t from = 0, to = line.size();
  if (line.size() > kSnippetWidth) {
    from = startCol > kSnippetWidth / 4 ? startCol - kSnippetWidth / 4 : 0;
    to = std::min(line.size(), from + kSnippetWidth);
    if (to == line.size()) from = std::min(from, line.size() - kSnippetWidth);
    while (from > 0 && from < line.size() && isUtf8Continuation(line[from])) --from;
    while (to < line.size() && isUtf8Continuation(line[to])) ++to;
    width = std::min(width, std::max<size_t>(to, startCol + 1) - startCol);
  }
  std::string_view cut = from > 0 ? "..." : "";
  out += gutter;
  out += cut;
  out += line.substr(from, to - from);
  if (to < line.size()) out += "...";
  out += '\n';
  out += pad;
  out += "| ";
  out += std::string(cut.size(), ' ');
  for (size_t i = from; i < startCol; ++i) out += line[i] == '\t' ? '\t' : ' ';
  out += mark == '^' ? '^' : '-';
  for (size_t i = 1; i < width; ++i) out += mark == '^' ? '~' : '-';
  if (!label.empty()) {
    out += ' ';
    out += clip(label);
  }
  out += '\n';
}

} // namespace

std::string renderDiag(const SourceManager &sm, const Diag &d, bool color) {
  const char *bold = color ? "\x1b[1m" : "";
  const char *red = color ? "\x1b[1;31m" : "";
  const char *cyan = color ? "\x1b[1;36m" : "";
  const char *reset = color ? "\x1b[0m" : "";
  std::string out;
  out += bold;
  if (d.primary.valid()) out += sm.describe(d.primary) + ": ";
  out += reset;
  out += red;
  out += d.severity == Severity::Error ? "error: " : "warning: ";
  out += reset;
  out += bold;
  out += "[" + std::string(diagCode(d.id)) + "] " + clip(d.message);
  out += reset;
  out += '\n';
  if (d.primary.valid()) renderSnippet(out, sm, d.primary, '^', d.primaryLabel);
  for (const DiagLabel &l : d.secondary) {
    if (!l.span.valid()) continue;
    out += sm.describe(l.span) + ": " + cyan + "note: " + reset + clip(l.text) + "\n";
    renderSnippet(out, sm, l.span, '-', "");
  }
  for (const DiagNote &n : d.notes) {
    if (n.span.valid()) out += sm.describe(n.span) + ": ";
    out += std::string(cyan) + "note: " + reset + clip(n.text) + "\n";
    if (n.span.valid()) renderSnippet(out, sm, n.span, '-', "");
  }
  if (!d.help.empty()) out += std::string(cyan) + "help: " + reset + clip(d.help) + "\n";
  return out;
}

} // namespace npk
