// Job payloads: JSON text from users, checked before anything is written.
#pragma once

#include <string_view>

#include "quern/job.h"

namespace quern {

// Parses a payload (any JSON value). Throws Error(kTooLarge) past max_bytes, and
// Error(kInvalidArgument) with the parser's position for malformed JSON, invalid UTF-8,
// numbers out of range (an integer over 64 bits too: kept as a double it would change)
// or nesting deeper than 512 levels (never a crash, whatever the bytes).
Json parse_payload(std::string_view text, size_t max_bytes = kDefaultMaxPayloadBytes);

}  // namespace quern
