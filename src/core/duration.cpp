#include "core/duration.h"

#include <cstdint>
#include <string>

#include "core/printable_text.h"
#include "quern/error.h"

namespace quern {

namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;
constexpr int64_t kMicrosPerDay = 86'400 * kMicrosPerSecond;
constexpr int64_t kMaxMicros = kLongestDuration.count();

struct Unit {
  std::string_view name;
  int64_t micros;
};

// Largest first: format_duration writes the terms in this order.
constexpr Unit kUnits[] = {
    {"d", kMicrosPerDay}, {"h", 3'600 * kMicrosPerSecond}, {"m", 60 * kMicrosPerSecond},
    {"s", kMicrosPerSecond}, {"ms", 1'000}, {"us", 1},
};

constexpr std::string_view kExpectedDuration = "expected e.g. 500ms, 30s, 5m, 2h, 1d";
constexpr std::string_view kExpectedDurationOrSeconds =
    "expected seconds (e.g. 2.5) or e.g. 500ms, 30s, 5m, 2h, 1d";

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }

[[noreturn]] void throw_malformed(std::string_view text, std::string_view expected) {
  throw Error::invalid_argument("invalid duration " + quote_for_message(text) + ": " + std::string(expected));
}

[[noreturn]] void throw_too_long(std::string_view text) {
  throw Error::invalid_argument("invalid duration " + quote_for_message(text) + ": longer than 100 years");
}

const Unit* find_unit(std::string_view name) {
  for (const Unit& unit : kUnits) {
    if (unit.name == name) return &unit;
  }
  return nullptr;
}

// Reads the digits at text[pos...] into *value, saturating just past kMaxMicros so that
// any number of digits is safe. Returns how many digits were read.
size_t read_digits(std::string_view text, size_t pos, int64_t* value) {
  size_t start = pos;
  *value = 0;
  while (pos < text.size() && is_digit(text[pos])) {
    if (*value <= kMaxMicros) *value = *value * 10 + (text[pos] - '0');
    ++pos;
  }
  return pos - start;
}

Duration parse_terms(std::string_view text, std::string_view expected) {
  if (text.empty()) throw_malformed(text, expected);
  int64_t total = 0;
  bool too_long = false;
  size_t pos = 0;
  while (pos < text.size()) {
    int64_t value = 0;
    size_t digits = read_digits(text, pos, &value);
    if (digits == 0) throw_malformed(text, expected);
    pos += digits;
    size_t unit_start = pos;
    while (pos < text.size() && is_lower(text[pos])) ++pos;
    const Unit* unit = find_unit(text.substr(unit_start, pos - unit_start));
    if (unit == nullptr) throw_malformed(text, expected);
    // Keep checking the syntax of the rest after an overflow: a malformed text is
    // reported as malformed, not as too long.
    if (too_long || value > (kMaxMicros - total) / unit->micros) {
      too_long = true;
    } else {
      total += value * unit->micros;
    }
  }
  if (too_long) throw_too_long(text);
  return Duration(total);
}

}  // namespace

Duration parse_duration(std::string_view text) { return parse_terms(text, kExpectedDuration); }

Duration parse_duration_or_seconds(std::string_view text) {
  int64_t seconds = 0;
  size_t pos = read_digits(text, 0, &seconds);
  if (pos == 0 || (pos < text.size() && text[pos] != '.')) {
    return parse_terms(text, kExpectedDurationOrSeconds);
  }
  // A bare number of seconds, with an optional fraction (truncated to microseconds).
  int64_t fraction_micros = 0;
  if (pos < text.size()) {
    ++pos;  // '.'
    size_t fraction_start = pos;
    int64_t scale = kMicrosPerSecond / 10;
    while (pos < text.size() && is_digit(text[pos])) {
      fraction_micros += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == fraction_start || pos != text.size()) throw_malformed(text, kExpectedDurationOrSeconds);
  }
  if (seconds > kMaxMicros / kMicrosPerSecond) throw_too_long(text);
  int64_t total = seconds * kMicrosPerSecond + fraction_micros;
  if (total > kMaxMicros) throw_too_long(text);
  return Duration(total);
}

std::string format_duration(Duration d) {
  int64_t micros = d.count();
  if (micros == 0) return "0s";
  std::string out;
  // Work on the magnitude as unsigned so that the most negative value negates safely.
  uint64_t rest = static_cast<uint64_t>(micros);
  if (micros < 0) {
    out = "-";
    rest = ~rest + 1;
  }
  for (const Unit& unit : kUnits) {
    const auto unit_micros = static_cast<uint64_t>(unit.micros);
    if (rest >= unit_micros) {
      out += std::to_string(rest / unit_micros);
      out += unit.name;
      rest %= unit_micros;
    }
  }
  return out;
}

}  // namespace quern
