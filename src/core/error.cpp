#include "quern/error.h"

namespace quern {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kFailedPrecondition: return "failed_precondition";
    case ErrorCode::kAlreadyExists: return "already_exists";
    case ErrorCode::kAborted: return "aborted";
    case ErrorCode::kTooLarge: return "too_large";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kDataLoss: return "data_loss";
    case ErrorCode::kResourceExhausted: return "resource_exhausted";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

int exit_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kTooLarge: return 2;
    case ErrorCode::kNotFound: return 3;
    case ErrorCode::kFailedPrecondition:
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kAborted: return 4;
    case ErrorCode::kUnavailable:
    case ErrorCode::kDataLoss:
    case ErrorCode::kResourceExhausted:
    case ErrorCode::kInternal: return 5;
  }
  return 5;
}

int http_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kFailedPrecondition:
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kAborted: return 409;
    case ErrorCode::kTooLarge: return 413;
    case ErrorCode::kUnavailable:
    case ErrorCode::kDataLoss:
    case ErrorCode::kResourceExhausted: return 503;
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

}  // namespace quern
