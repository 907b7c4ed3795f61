// Durations as people type them: "500ms", "30s", "5m", "2h", "1d", and sums such as
// "1h30m". Used by the CLI (--delay, --timeout, --lease, …) and the HTTP API.
#pragma once

#include <string>
#include <string_view>

#include "quern/clock.h"

namespace quern {

// The longest duration parsed: 100 years, longer than any delay, timeout, lease or
// retention that makes sense, and far from overflowing int64 microseconds when added
// to a time.
inline constexpr Duration kLongestDuration = std::chrono::hours(24 * 36'525);

// Parses a non-negative duration: one or more <integer><unit> terms, units us, ms, s, m,
// h, d, summed ("1h30m"). Throws Error(kInvalidArgument) with a one-line message for
// anything else (empty, a bare number, negative, fractional, unknown unit, past 100 years).
Duration parse_duration(std::string_view text);

// Like parse_duration, but a bare non-negative number (possibly fractional, e.g. "2.5")
// is seconds; digits past microseconds are dropped.
Duration parse_duration_or_seconds(std::string_view text);

// The shortest exact form, largest unit first: "1h30m", "500ms", "1s250us", "0s"; a
// negative one a leading "-". parse_duration(format_duration(d)) == d for 0 <= d <= 100 years.
std::string format_duration(Duration d);

}  // namespace quern
