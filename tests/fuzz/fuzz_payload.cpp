// parse_payload on any bytes: returns JSON that dumps and parses back to itself, or
// throws kInvalidArgument (or kTooLarge past the limit); never a crash, whatever the
// nesting or the UTF-8.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/payload.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::optional<quern::Json> payload;
  try {
    payload = quern::parse_payload(text);
  } catch (const quern::Error& e) {
    quern::fuzz::check_error(e, quern::ErrorCode::kInvalidArgument);
  }
  if (!payload) return 0;
  FUZZ_CHECK(quern::parse_payload(payload->dump()) == *payload);
  // The same text under a smaller limit is refused for its size, before any parsing.
  if (size > 0) {
    bool refused = false;
    try {
      quern::parse_payload(text, size - 1);
    } catch (const quern::Error& e) {
      quern::fuzz::check_error(e, quern::ErrorCode::kTooLarge);
      refused = true;
    }
    FUZZ_CHECK(refused);
  }
  return 0;
}
