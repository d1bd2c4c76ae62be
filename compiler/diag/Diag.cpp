#include "diag/Diag.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace npk {

namespace {
struct DiagInfo {
  std::string_view code, title, explain;
  std::string_view flag; // a warning's -W name; empty for an error
  bool onByDefault = false;
};
constexpr DiagInfo kInfo[] = {
#define DIAG(Id, Code, Title, Explain) {Code, Title, Explain, {}, false},
#define WARN(Id, Code, Flag, OnByDefault, Title, Explain) {Code, Title, Explain, Flag, OnByDefault},
#include "diag/Diagnostics.def"
#undef DIAG
};
constexpr size_t kDiagCount = sizeof kInfo / sizeof kInfo[0];

const DiagInfo &info(DiagId id) { return kInfo[static_cast<size_t>(id)]; }

// `--explain` and docs/diagnostics.md say how a warning is controlled.
std::string warningLine(const DiagInfo &d) {
  std::string flag(d.flag);
  return d.onByDefault ? "Warning, on by default; -Wno-" + flag + " turns it off.\n\n"
                       : "Warning, off by default; -W" + flag + " turns it on.\n\n";
}
} // namespace

std::string_view diagCode(DiagId id) { return info(id).code; }
std::string_view diagTitle(DiagId id) { return info(id).title; }
std::string_view warningFlag(DiagId id) { return info(id).flag; }
bool isWarning(DiagId id) { return !info(id).flag.empty(); }
bool warningOnByDefault(DiagId id) { return info(id).onByDefault; }

const std::vector<DiagId> &allWarnings() {
  static const std::vector<DiagId> warnings = [] {
    std::vector<DiagId> out;
    for (size_t i = 0; i < kDiagCount; ++i)
      if (!kInfo[i].flag.empty()) out.push_back(static_cast<DiagId>(i));
    return out;
  }();
  return warnings;
}

WarningOptions::WarningOptions() : enabled_(kDiagCount, false) {
  for (DiagId id : allWarnings()) enabled_[static_cast<size_t>(id)] = warningOnByDefault(id);
}

bool WarningOptions::enabled(DiagId id) const { return enabled_[static_cast<size_t>(id)]; }

bool WarningOptions::apply(std::string_view flag, std::string &suggestion) {
  suggestion.clear();
  if (flag == "-Wall") {
    for (DiagId id : allWarnings())
      if (warningOnByDefault(id)) enabled_[static_cast<size_t>(id)] = true;
    return true;
  }
  if (flag == "-Werror" || flag == "-Wno-error") {
    werror = flag == "-Werror";
    return true;
  }
  bool on = true;
  std::string_view name = flag.substr(flag.rfind("-W", 0) == 0 ? 2 : 0);
  if (name.rfind("no-", 0) == 0) {
    on = false;
    name.remove_prefix(3);
  }
  for (DiagId id : allWarnings())
    if (warningFlag(id) == name) {
      enabled_[static_cast<size_t>(id)] = on;
      return true;
    }
  std::vector<std::string_view> names = {"error"};
  if (on) names.push_back("all"); // there is no -Wno-all
  for (DiagId id : allWarnings()) names.push_back(warningFlag(id));
  std::string close = closestName(name, names);
  if (!close.empty()) suggestion = std::string(on ? "-W" : "-Wno-") + close;
  return false;
}

std::string explainCode(std::string_view code) {
  auto sameIgnoringCase = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
  };
  for (const DiagInfo &d : kInfo) {
    if (sameIgnoringCase(d.code, code))
      return std::string(d.code) + ": " + std::string(d.title) + "\n\n" +
             (d.flag.empty() ? std::string() : warningLine(d)) + std::string(d.explain);
  }
  return {};
}

std::string closestName(std::string_view name, const std::vector<std::string_view> &candidates) {
  auto lower = [](unsigned char c) { return static_cast<char>(std::tolower(c)); };
  size_t limit = name.size() <= 4 ? 1 : name.size() / 3;
  std::string_view best;
  size_t bestCost = limit * 2 + 1; // costs are doubled so a case-only change costs 1
  std::vector<size_t> before, prev, cur; // rows i-2, i-1, i
  for (std::string_view c : candidates) {
    if (c == name || c.empty()) continue;
    size_t lengthGap = c.size() > name.size() ? c.size() - name.size() : name.size() - c.size();
    if (lengthGap > limit) continue;
    before.assign(c.size() + 1, 0);
    prev.assign(c.size() + 1, 0);
    cur.assign(c.size() + 1, 0);
    for (size_t j = 0; j <= c.size(); ++j) prev[j] = 2 * j;
    for (size_t i = 1; i <= name.size(); ++i) {
      cur[0] = 2 * i;
      for (size_t j = 1; j <= c.size(); ++j) {
        size_t subst = name[i - 1] == c[j - 1] ? 0 : lower(name[i - 1]) == lower(c[j - 1]) ? 1 : 2;
        cur[j] = std::min({prev[j] + 2, cur[j - 1] + 2, prev[j - 1] + subst});
        if (i > 1 && j > 1 && name[i - 1] == c[j - 2] && name[i - 2] == c[j - 1])
          cur[j] = std::min(cur[j], before[j - 2] + 2); // two letters swapped: one edit
      }
      std::swap(before, prev);
      std::swap(prev, cur);
    }
    size_t cost = prev[c.size()];
    if (cost < bestCost || (cost == bestCost && c < best)) {
      bestCost = cost;
      best = c;
    }
  }
  return std::string(best);
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

Diag &DiagEngine::warning(DiagId id, Span at, std::string message) {
  if (warnings_.werror) return error(id, at, std::move(message)); // the renderer adds [-Werror,-W...]
  Diag d;
  d.id = id;
  d.severity = Severity::Warning;
  d.primary = at;
  d.message = std::move(message);
  diags_.push_back(std::move(d));
  ++warningCount_;
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
  // One column per character: continuation bytes take no column.
  for (size_t i = from; i < startCol; ++i)
    if (!isUtf8Continuation(line[i])) out += line[i] == '\t' ? '\t' : ' ';
  size_t chars = 0;
  for (size_t i = startCol; i < std::min(startCol + width, line.size()); ++i)
    if (!isUtf8Continuation(line[i])) ++chars;
  out += mark == '^' ? '^' : '-';
  for (size_t i = 1; i < std::max<size_t>(chars, 1); ++i) out += mark == '^' ? '~' : '-';
  if (!label.empty()) {
    out += ' ';
    out += clip(label);
  }
  out += '\n';
}

} // namespace

std::string renderDiag(const SourceManager &sm, const Diag &d, bool color) {
  const char *bold = color ? "\x1b[1m" : "";
  const char *red = color ? (d.severity == Severity::Error ? "\x1b[1;31m" : "\x1b[1;35m") : "";
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
  if (isWarning(d.id))
    out += std::string(" [") + (d.severity == Severity::Error ? "-Werror," : "") + "-W" +
           std::string(warningFlag(d.id)) + "]";
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
  for (const DiagFixIt &f : d.fixIts) {
    if (!f.span.valid()) continue;
    out += sm.describe(f.span) + ": " + cyan + "fix-it: " + reset;
    if (f.span.begin == f.span.end)
      out += "insert `" + clip(f.replacement) + "`\n";
    else if (f.replacement.empty())
      out += "remove `" + clip(sm.text(f.span)) + "`\n";
    else
      out += "replace `" + clip(sm.text(f.span)) + "` with `" + clip(f.replacement) + "`\n";
  }
  return out;
}

namespace {

// A JSON string literal. Text that is not valid UTF-8 (a path can be any
// bytes) has each bad byte replaced by U+FFFD.
std::string jsonString(std::string_view text) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
      }
      ++i;
      continue;
    }
    size_t len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
    bool ok = len > 0 && i + len <= text.size();
    for (size_t k = 1; ok && k < len; ++k) ok = isUtf8Continuation(text[i + k]);
    if (ok) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  return out + "\"";
}

// "file", "line", "column", "end_line", "end_column", "byte_range" of a span,
// all null when it has no location.
std::string jsonLocation(const SourceManager &sm, Span s) {
  if (!s.valid())
    return "\"file\":null,\"line\":null,\"column\":null,\"end_line\":null,\"end_column\":null,\"byte_range\":null";
  LineCol b = sm.lineCol(s.file, s.begin), e = sm.lineCol(s.file, std::max(s.end, s.begin));
  return "\"file\":" + jsonString(sm.file(s.file).path) + ",\"line\":" + std::to_string(b.line) +
         ",\"column\":" + std::to_string(b.charCol) + ",\"end_line\":" + std::to_string(e.line) +
         ",\"end_column\":" + std::to_string(e.charCol) + ",\"byte_range\":[" + std::to_string(s.begin) + "," +
         std::to_string(std::max(s.end, s.begin)) + "]";
}

} // namespace

std::string renderDiagJson(const SourceManager &sm, const Diag &d) {
  std::string out = "{\"code\":" + jsonString(diagCode(d.id)) + ",\"severity\":" +
                    (d.severity == Severity::Error ? "\"error\"" : "\"warning\"") +
                    ",\"message\":" + jsonString(d.message) + "," + jsonLocation(sm, d.primary);
  out += ",\"labels\":[";
  bool first = true;
  auto label = [&](Span s, const std::string &text, bool primary) {
    if (!s.valid()) return;
    out += first ? "" : ",";
    first = false;
    out += "{" + jsonLocation(sm, s) + ",\"message\":" + jsonString(text) +
           ",\"primary\":" + (primary ? "true" : "false") + "}";
  };
  label(d.primary, d.primaryLabel, true);
  for (const DiagLabel &l : d.secondary) label(l.span, l.text, false);
  out += "],\"notes\":[";
  for (size_t i = 0; i < d.notes.size(); ++i)
    out += (i ? "," : "") + std::string("{\"message\":") + jsonString(d.notes[i].text) + "," +
           jsonLocation(sm, d.notes[i].span) + "}";
  out += "],\"help\":" + (d.help.empty() ? std::string("null") : jsonString(d.help));
  out += ",\"fixits\":[";
  first = true;
  for (const DiagFixIt &f : d.fixIts) {
    if (!f.span.valid()) continue;
    out += first ? "" : ",";
    first = false;
    out += "{" + jsonLocation(sm, f.span) + ",\"replacement\":" + jsonString(f.replacement) + "}";
  }
  return out + "]}";
}

} // namespace npk
