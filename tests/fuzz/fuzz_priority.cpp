// parse_priority on any bytes: returns a priority in [-1000000, 1000000] whose decimal
// form parses back to it, or throws kInvalidArgument.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/priority.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::optional<int> priority;
  try {
    priority = quern::parse_priority(text);
  } catch (const quern::Error& e) {
    quern::fuzz::check_error(e, quern::ErrorCode::kInvalidArgument);
  }
  if (priority) {
    FUZZ_CHECK(*priority >= -1'000'000 && *priority <= 1'000'000);
    FUZZ_CHECK(quern::parse_priority(std::to_string(*priority)) == *priority);
    // Only a level name, or a sign and digits, is a priority: never empty text or spaces.
    FUZZ_CHECK(!text.empty() && text.find(' ') == std::string_view::npos);
  }
  return 0;
}
