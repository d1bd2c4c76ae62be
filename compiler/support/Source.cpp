#include "support/Source.h"

#include <algorithm>

namespace npk {

namespace {
bool isContinuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }
} // namespace

uint32_t SourceFile::continuationsUpTo(uint32_t offset) const {
  offset = std::min<uint32_t>(offset, static_cast<uint32_t>(text.size()));
  if (continuations == 0) return 0; // ASCII (or empty) text
  uint32_t block = std::min<uint32_t>(offset / kCountStride, static_cast<uint32_t>(continuationsBefore.size() - 1));
  uint32_t count = continuationsBefore[block];
  for (uint32_t i = block * kCountStride; i < offset; ++i)
    if (isContinuation(text[i])) ++count;
  return count;
}

uint32_t SourceManager::add(std::string path, std::string text) {
  SourceFile f;
  f.path = std::move(path);
  f.text = std::move(text);
  f.lineStarts.push_back(0);
  // LF, CRLF and a lone CR each end a line.
  for (uint32_t i = 0; i < f.text.size(); ++i) {
    if (f.text[i] == '\n' || (f.text[i] == '\r' && (i + 1 == f.text.size() || f.text[i + 1] != '\n')))
      f.lineStarts.push_back(i + 1);
  }
  uint32_t continuations = 0;
  for (uint32_t i = 0; i < f.text.size(); ++i) {
    if (i % SourceFile::kCountStride == 0) f.continuationsBefore.push_back(continuations);
    if (isContinuation(f.text[i])) ++continuations;
  }
  f.continuations = continuations;
  files_.push_back(std::move(f));
  return static_cast<uint32_t>(files_.size());
}

LineCol SourceManager::lineCol(uint32_t fileId, uint32_t offset) const {
  const SourceFile &f = file(fileId);
  auto it = std::upper_bound(f.lineStarts.begin(), f.lineStarts.end(), offset);
  uint32_t line = static_cast<uint32_t>(it - f.lineStarts.begin());
  uint32_t start = f.lineStarts[line - 1];
  uint32_t col = offset - start + 1;
  return LineCol{line, col, col - (f.continuationsUpTo(offset) - f.continuationsUpTo(start))};
}

std::string_view SourceManager::lineText(uint32_t fileId, uint32_t line) const {
  const SourceFile &f = file(fileId);
  if (line == 0 || line > f.lineStarts.size()) return {};
  uint32_t begin = f.lineStarts[line - 1];
  uint32_t end = line < f.lineStarts.size() ? f.lineStarts[line] : static_cast<uint32_t>(f.text.size());
  std::string_view s(f.text.data() + begin, end - begin);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string_view SourceManager::text(Span s) const {
  if (!s.valid()) return {};
  const SourceFile &f = file(s.file);
  uint32_t end = std::min<uint32_t>(s.end, static_cast<uint32_t>(f.text.size()));
  uint32_t begin = std::min(s.begin, end);
  return std::string_view(f.text).substr(begin, end - begin);
}

std::string SourceManager::describe(Span s) const {
  if (!s.valid()) return "<unknown>";
  LineCol lc = lineCol(s.file, s.begin);
  return file(s.file).path + ":" + std::to_string(lc.line) + ":" + std::to_string(lc.charCol);
}

} // namespace npk
