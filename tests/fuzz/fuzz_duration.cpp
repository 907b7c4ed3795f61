// parse_duration and parse_duration_or_seconds on any bytes: each returns a duration in
// [0, 100 years] that formats and parses back to itself, or throws kInvalidArgument.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "core/duration.h"
#include "fuzz_check.h"

namespace {

constexpr quern::Duration kHundredYears = std::chrono::days(36'525);

void check_parsed(quern::Duration d) {
  FUZZ_CHECK(d.count() >= 0);
  FUZZ_CHECK(d <= kHundredYears);
  std::string formatted = quern::format_duration(d);
  FUZZ_CHECK(quern::parse_duration(formatted) == d);
  FUZZ_CHECK(quern::parse_duration_or_seconds(formatted) == d);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // Only the parse under test may throw; an exception from a check is a finding.
  std::optional<quern::Duration> duration;
  try {
    duration = quern::parse_duration(text);
  } catch (const quern::Error& e) {
    quern::fuzz::check_error(e, quern::ErrorCode::kInvalidArgument);
  }
  std::optional<quern::Duration> duration_or_seconds;
  try {
    duration_or_seconds = quern::parse_duration_or_seconds(text);
  } catch (const quern::Error& e) {
    quern::fuzz::check_error(e, quern::ErrorCode::kInvalidArgument);
  }
  if (duration) {
    check_parsed(*duration);
    // Every duration is also accepted, with the same value, where seconds may be bare.
    FUZZ_CHECK(duration_or_seconds == duration);
  }
  if (duration_or_seconds) check_parsed(*duration_or_seconds);
  // Formatting never fails, whatever the value.
  if (size >= sizeof(int64_t)) {
    int64_t micros;
    std::memcpy(&micros, data, sizeof micros);
    FUZZ_CHECK(!quern::format_duration(quern::Duration(micros)).empty());
  }
  return 0;
}
