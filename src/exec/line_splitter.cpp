#include "exec/line_splitter.h"

namespace quern {

LineSplitter::LineSplitter(size_t max_line_bytes) : max_line_bytes_(max_line_bytes > 0 ? max_line_bytes : 1) {}

void LineSplitter::feed(std::string_view bytes, const LinePieceCallback& on_piece) {
  while (!bytes.empty()) {
    size_t newline = bytes.find('\n');
    std::string_view rest_of_line = bytes.substr(0, newline);
    size_t room = max_line_bytes_ - pending_.size();
    if (rest_of_line.size() > room) {
      // The line outgrows the limit: hand on a full piece and keep going.
      pending_.append(rest_of_line.substr(0, room));
      on_piece({pending_, !continuing_, false});
      pending_.clear();
      continuing_ = true;
      bytes.remove_prefix(room);
      continue;
    }
    if (newline == std::string_view::npos) {
      pending_.append(rest_of_line);
      return;
    }
    if (pending_.empty()) {
      on_piece({rest_of_line, !continuing_, true});  // the common case: no copy
    } else {
      pending_.append(rest_of_line);
      on_piece({pending_, !continuing_, true});
      pending_.clear();
    }
    continuing_ = false;
    bytes.remove_prefix(newline + 1);
  }
}

void LineSplitter::finish(const LinePieceCallback& on_piece) {
  if (!pending_.empty()) on_piece({pending_, !continuing_, true});
  pending_.clear();
  continuing_ = false;
}

}  // namespace quern
