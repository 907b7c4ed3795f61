// quern::Error — the one error type every layer throws.
//
// A small set of codes, each with a rule for when to use it; the CLI maps a code to
// an exit status once (exit_status) and the HTTP API to a status code once
// (http_status). Backends translate their raw errors at their edge and keep the raw
// text in the message.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace quern {

enum class ErrorCode {
  kInvalidArgument,     // the caller's input is malformed or out of range (exit 2, HTTP 400)
  kNotFound,            // an id, queue or key that does not exist (exit 3, HTTP 404)
  kFailedPrecondition,  // illegal transition for the job's state, e.g. retry a running job (exit 4, HTTP 409)
  kAlreadyExists,       // a conflict with existing data (exit 4, HTTP 409)
  kAborted,             // lost a race: a stale attempt / lease taken over (exit 4, HTTP 409)
  kTooLarge,            // payload or body over its limit (exit 2, HTTP 413)
  kUnavailable,         // the store cannot be reached or stayed busy past its timeout (exit 5, HTTP 503)
  kDataLoss,            // the store is corrupt or is not a Quern database (exit 5, HTTP 503)
  kResourceExhausted,   // disk full, out of memory (exit 5, HTTP 503)
  kInternal,            // a bug: an invariant of Quern itself was broken (exit 5, HTTP 500)
};

// Stable snake_case name of a code, used as the HTTP error "code" field.
std::string_view error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message) : std::runtime_error(std::move(message)), code_(code) {}

  ErrorCode code() const noexcept { return code_; }

  static Error invalid_argument(std::string m) { return {ErrorCode::kInvalidArgument, std::move(m)}; }
  static Error not_found(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
  static Error failed_precondition(std::string m) { return {ErrorCode::kFailedPrecondition, std::move(m)}; }
  static Error already_exists(std::string m) { return {ErrorCode::kAlreadyExists, std::move(m)}; }
  static Error aborted(std::string m) { return {ErrorCode::kAborted, std::move(m)}; }
  static Error too_large(std::string m) { return {ErrorCode::kTooLarge, std::move(m)}; }
  static Error unavailable(std::string m) { return {ErrorCode::kUnavailable, std::move(m)}; }
  static Error data_loss(std::string m) { return {ErrorCode::kDataLoss, std::move(m)}; }
  static Error resource_exhausted(std::string m) { return {ErrorCode::kResourceExhausted, std::move(m)}; }
  static Error internal(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }

 private:
  ErrorCode code_;
};

// The `quern` command's exit status for an error of this code (see the README).
int exit_status(ErrorCode code);

// The HTTP status for an error of this code.
int http_status(ErrorCode code);

}  // namespace quern
