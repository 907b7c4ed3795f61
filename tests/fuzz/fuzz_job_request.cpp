// POST /api/v1/jobs bodies on any bytes: parse_body then parse_job_request either
// return jobs that pass the engine's own validation, or throw kInvalidArgument (or
// kTooLarge past the size limit) with a one-line message; never a crash, never a
// half-checked job.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/job_validation.h"
#include "fuzz_check.h"
#include "server/job_request.h"
#include "server/request_fields.h"

namespace {

constexpr size_t kMaxBodyBytes = 2 << 20;

void check_rejection(const quern::Error& e) {
  quern::fuzz::check_error(
      e, e.code() == quern::ErrorCode::kTooLarge ? quern::ErrorCode::kTooLarge : quern::ErrorCode::kInvalidArgument);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const quern::Time now = quern::from_micros(1'800'000'000'000'000);
  std::optional<quern::server::JobRequest> request;
  try {
    request = quern::server::parse_job_request(quern::server::parse_body(text, kMaxBodyBytes), now);
  } catch (const quern::Error& e) {
    check_rejection(e);
  }
  if (!request) return 0;
  FUZZ_CHECK(request->batch || request->jobs.size() == 1);
  for (const auto& job : request->jobs) {
    try {
      quern::validate_new_job(job, quern::kDefaultMaxPayloadBytes);
    } catch (const quern::Error& e) {
      // The store would refuse it cleanly, but the request parser should have said so.
      check_rejection(e);
    }
  }
  return 0;
}
