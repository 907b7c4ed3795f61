// Splits a byte stream (a child's stdout or stderr) into lines, in bounded memory: a
// line longer than the limit is handed on in pieces instead of growing a buffer.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace quern {

// A line, or a piece of one that was longer than the limit.
struct LinePiece {
  std::string_view text;    // without the '\n'
  bool starts_line = true;  // the first piece of its line
  bool ends_line = true;    // the last piece of its line
  bool whole_line() const { return starts_line && ends_line; }
};

using LinePieceCallback = std::function<void(const LinePiece&)>;

class LineSplitter {
 public:
  // Holds at most max_line_bytes (> 0) of an unfinished line.
  explicit LineSplitter(size_t max_line_bytes);

  // Hands on every line `bytes` completes, and every full max_line_bytes piece of an
  // overlong one. A piece's text is valid only during the callback.
  void feed(std::string_view bytes, const LinePieceCallback& on_piece);
  // End of stream: hands on the unterminated last line, if any.
  void finish(const LinePieceCallback& on_piece);

 private:
  const size_t max_line_bytes_;
  std::string pending_;     // the unfinished line, at most max_line_bytes_
  bool continuing_ = false;  // pending_ continues a line already partly handed on
};

}  // namespace quern
