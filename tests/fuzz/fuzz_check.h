// What every fuzzer checks: properties hold (FUZZ_CHECK), and a rejected input gets a
// quern::Error of an expected code with a one-line, valid UTF-8 message.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "quern/error.h"

#define FUZZ_CHECK(condition)                                                             \
  do {                                                                                    \
    if (!(condition)) {                                                                   \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

namespace quern::fuzz {

// The message must fit on one line and be valid UTF-8 (it goes into JSON error bodies;
// nlohmann's dump throws on invalid UTF-8, which the fuzzer reports as a crash).
inline void check_error(const Error& e, ErrorCode expected) {
  FUZZ_CHECK(e.code() == expected);
  std::string_view message = e.what();
  FUZZ_CHECK(!message.empty());
  FUZZ_CHECK(message.find('\n') == std::string_view::npos);
  (void)nlohmann::json(message).dump();
}

}  // namespace quern::fuzz
