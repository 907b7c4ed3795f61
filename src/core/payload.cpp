#include "core/payload.h"

#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

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

// Builds the value as nlohmann's own parser does, and remembers the first integer too
// large for 64 bits: nlohmann would keep it as a double, silently changing its digits.
class PayloadSax {
 public:
  explicit PayloadSax(Json& result) : dom_(result) {}

  bool null() { return dom_.null(); }
  bool boolean(bool value) { return dom_.boolean(value); }
  bool number_integer(Json::number_integer_t value) { return dom_.number_integer(value); }
  bool number_unsigned(Json::number_unsigned_t value) { return dom_.number_unsigned(value); }
  bool number_float(Json::number_float_t value, const std::string& text) {
    if (overflowed_integer_.empty() && text.find_first_not_of("-0123456789") == std::string::npos) {
      overflowed_integer_ = text;
    }
    return dom_.number_float(value, text);
  }
  bool string(std::string& value) { return dom_.string(value); }
  bool binary(Json::binary_t& value) { return dom_.binary(value); }
  bool start_object(std::size_t n) {
    keys_of_open_objects_.emplace_back();
    return dom_.start_object(n);
  }
  bool key(std::string& value) {
    if (!keys_of_open_objects_.back().insert(value).second && !duplicate_key_) duplicate_key_ = value;
    return dom_.key(value);
  }
  bool end_object() {
    keys_of_open_objects_.pop_back();
    return dom_.end_object();
  }
  bool start_array(std::size_t n) { return dom_.start_array(n); }
  bool end_array() { return dom_.end_array(); }
  bool parse_error(std::size_t position, const std::string& token, const Json::exception& e) {
    return dom_.parse_error(position, token, e);
  }

  const std::string& overflowed_integer() const { return overflowed_integer_; }
  const std::optional<std::string>& duplicate_key() const { return duplicate_key_; }

 private:
  nlohmann::detail::json_sax_dom_parser<Json> dom_;
  std::string overflowed_integer_;
  // An object's later member would silently replace an earlier one of the same name.
  std::vector<std::unordered_set<std::string>> keys_of_open_objects_;
  std::optional<std::string> duplicate_key_;
};

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
  Json value;
  PayloadSax sax(value);
  try {
    Json::sax_parse(text, &sax);
  } catch (const Json::exception& e) {
    throw Error::invalid_argument("invalid payload: " + describe_json_error(e));
  }
  if (!sax.overflowed_integer().empty()) {
    throw Error::invalid_argument("invalid payload: the integer " + sax.overflowed_integer().substr(0, 40) +
                                  " does not fit in 64 bits (send it as a string)");
  }
  if (const auto& key = sax.duplicate_key()) {
    throw Error::invalid_argument("invalid payload: the member " + quote_for_message(*key) +
                                  " appears twice in one object");
  }
  return value;
}

}  // namespace quern
