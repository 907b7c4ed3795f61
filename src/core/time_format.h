// RFC 3339 times, the form every time takes in the CLI and JSON (always UTC out).
#pragma once

#include <string>
#include <string_view>

#include "quern/clock.h"

namespace quern {

// "2026-11-25T10:24:00Z", "2026-11-25T10:24:00.123456Z", "2026-11-25T12:24:00+02:00";
// 't' and 'z' may be lower case; up to 9 fraction digits, truncated to microseconds.
// Throws Error(kInvalidArgument) for anything else, including impossible dates, leap
// seconds (:60) and times outside the years 0000 to 9999 once in UTC.
Time parse_rfc3339(std::string_view text);

// UTC with a "Z"; fractional seconds only when non-zero (milliseconds, or microseconds
// when needed): "2026-11-25T10:24:00Z", "2026-11-25T10:24:00.120Z". A time outside the
// years 0000 to 9999 is clamped to them.
std::string format_rfc3339(Time t);

}  // namespace quern
