// User text made safe to show: in one-line error messages (quote_for_message) and in JSON, which
// must be valid UTF-8 (valid_utf8). Whatever the bytes, the result is printable.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace quern {

// `text` in double quotes for an error message: valid UTF-8 is kept, quotes and
// backslashes are escaped, control characters and invalid bytes become \n, \t or \xNN,
// and text past `max_bytes` is cut with "...".
std::string quote_for_message(std::string_view text, size_t max_bytes = 64);

// `text` with each byte that is not part of a valid UTF-8 sequence replaced by U+FFFD.
std::string valid_utf8(std::string_view text);

// Whether `text` holds an ASCII control character (below 0x20, or DEL): text that
// would break a line or a terminal where it is shown as is.
bool has_control_character(std::string_view text);

// The length of the valid UTF-8 sequence that starts text[pos] (1 to 4), or 0 if the
// byte there does not start one.
size_t utf8_sequence_length(std::string_view text, size_t pos);

}  // namespace quern
