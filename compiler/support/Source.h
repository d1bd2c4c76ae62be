// Source files and spans. A Span is a byte range inside one loaded file; line
// and column are computed on demand from the file's line table.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace npk {

struct Span {
  uint32_t file = 0;  // 0 = no location
  uint32_t begin = 0; // byte offset
  uint32_t end = 0;   // byte offset, exclusive

  bool valid() const { return file != 0; }
  static Span cover(Span a, Span b) {
    if (!a.valid()) return b;
    if (!b.valid()) return a;
    return Span{a.file, a.begin < b.begin ? a.begin : b.begin, a.end > b.end ? a.end : b.end};
  }
};

struct LineCol {
  uint32_t line = 0; // 1-based
  uint32_t col = 0;  // 1-based, in bytes
  uint32_t charCol = 0; // 1-based, in characters (UTF-8 code points): what users see
};

struct SourceFile {
  std::string path;     // as given / resolved
  std::string text;
  std::vector<uint32_t> lineStarts;
  // UTF-8 continuation bytes before offset i * kCountStride, for columns
  // counted in characters without scanning a whole (possibly huge) line.
  static constexpr uint32_t kCountStride = 256;
  std::vector<uint32_t> continuationsBefore;
  uint32_t continuations = 0; // in the whole text (0: ASCII, every column is its byte)
  uint32_t continuationsUpTo(uint32_t offset) const;
};

class SourceManager {
public:
  // Adds a file and returns its id (>= 1).
  uint32_t add(std::string path, std::string text);
  const SourceFile &file(uint32_t id) const { return files_[id - 1]; }
  LineCol lineCol(uint32_t fileId, uint32_t offset) const;
  std::string_view lineText(uint32_t fileId, uint32_t line) const;
  std::string_view text(Span s) const;
  // "path:line:col" of a span's start; the column counts characters.
  std::string describe(Span s) const;
  size_t fileCount() const { return files_.size(); }

private:
  std::vector<SourceFile> files_;
};

} // namespace npk
