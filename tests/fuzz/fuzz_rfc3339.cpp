// parse_rfc3339 on any bytes: returns a time whose UTC form parses back to it, or throws
// kInvalidArgument. format_rfc3339 of any time gives text that parses.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "core/time_format.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::optional<quern::Time> parsed;
  try {
    parsed = quern::parse_rfc3339(text);
  } catch (const quern::Error& e) {
    quern::fuzz::check_error(e, quern::ErrorCode::kInvalidArgument);
  }
  if (parsed) {
    std::string formatted = quern::format_rfc3339(*parsed);
    FUZZ_CHECK(formatted.size() >= 20 && formatted.size() <= 27);
    FUZZ_CHECK(formatted.back() == 'Z');
    FUZZ_CHECK(quern::parse_rfc3339(formatted) == *parsed);
  }
  if (size >= sizeof(int64_t)) {
    static const quern::Time kMin = quern::parse_rfc3339("0000-01-01T00:00:00Z");
    static const quern::Time kMax = quern::parse_rfc3339("9999-12-31T23:59:59.999999Z");
    int64_t micros;
    std::memcpy(&micros, data, sizeof micros);
    quern::Time t = quern::from_micros(micros);
    // Clamped into the years 0000 to 9999, and then exact.
    FUZZ_CHECK(quern::parse_rfc3339(quern::format_rfc3339(t)) == std::clamp(t, kMin, kMax));
  }
  return 0;
}
