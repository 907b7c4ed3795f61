#include "core/payload.h"

#include <string>

#include "core/printable_text.h"
#include "quern/error.h"

namespace quern {

namespace {

// Deeper JSON is refused before parsing: serializing and destroying a JSON value recurse
// once per level, so a megabyte of "[" must not reach them.
constexpr size_t kMaxPayloadDepth = 512;

// The deepest nesting of arrays and objects in `text`, ignoring brackets inside strings.
// Stops counting once past kMaxPayloadDepth.
size_t nesting_depth(std::string_view text) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > kMaxPayloadDepth) break;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

// nlohmann's message without its "[json.exception.parse_error.101] " tag and without the
// raw bytes it quotes ("; last read: '…'"), which may be anything.
std::string describe_json_error(const Json::exception& e) {
  std::string_view what = e.what();
  if (size_t tag_end = what.find("] "); tag_end != std::string_view::npos) what.remove_prefix(tag_end + 2);
  if (size_t last_read = what.find("; last read"); last_read != std::string_view::npos) {
    what = what.substr(0, last_read);
  }
  return valid_utf8(what);
}

}  // namespace

Json parse_payload(std::string_view text, size_t max_bytes) {
  if (text.size() > max_bytes) {
    throw Error::too_large("payload is " + std::to_string(text.size()) + " bytes; the limit is " +
                           std::to_string(max_bytes));
  }
  if (nesting_depth(text) > kMaxPayloadDepth) {
    throw Error::invalid_argument("invalid payload: nested deeper than " + std::to_string(kMaxPayloadDepth) +
                                  " levels");
  }
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    throw Error::invalid_argument("invalid payload: " + describe_json_error(e));
  }
}

}  // namespace quern
