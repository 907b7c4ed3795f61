#include "server/http_response.h"

#include <memory>

#include "core/printable_text.h"

namespace quern::server {

std::string json_text(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

void send_json(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(json_text(body), "application/json");
}

void send_error(httplib::Response& res, int status, std::string_view code, std::string_view message) {
  send_json(res, status, Json{{"error", {{"code", code}, {"message", valid_utf8(message)}}}});
}

void send_error(httplib::Response& res, const Error& error) {
  send_error(res, http_status(error.code()), error_code_name(error.code()), error.what());
}

namespace {

// httplib keeps a connection open whatever the response says, unless writing the
// response fails: so the provider writes the whole body, then reports failure.
void send_then_close(httplib::Response& res, int status, std::string text) {
  res.status = status;
  auto body = std::make_shared<std::string>(std::move(text));
  res.set_content_provider(body->size(), "application/json", [body](size_t offset, size_t length, httplib::DataSink& sink) {
    sink.write(body->data() + offset, length);
    return false;
  });
  res.set_header("Connection", "close");
}

}  // namespace

void send_error_and_close(httplib::Response& res, int status, std::string_view code, std::string_view message) {
  send_then_close(res, status, json_text(Json{{"error", {{"code", code}, {"message", valid_utf8(message)}}}}));
}

// Not through send_then_close's content provider: httplib skips a provider once the
// server has stopped, so a long-poll that ended as the server stopped would send its
// headers and no body.
void send_json_and_close(httplib::Response& res, int status, const Json& body) {
  send_json(res, status, body);
  res.set_header("Connection", "close");
}

std::string_view error_code_for_status(int status) {
  switch (status) {
    case 401: return kUnauthenticatedCode;
    case 403: return kForbiddenCode;
    case 404: return error_code_name(ErrorCode::kNotFound);
    case 409: return error_code_name(ErrorCode::kFailedPrecondition);
    case 413: return error_code_name(ErrorCode::kTooLarge);
    case 503: return error_code_name(ErrorCode::kUnavailable);
    default: return status >= 500 ? error_code_name(ErrorCode::kInternal) : error_code_name(ErrorCode::kInvalidArgument);
  }
}

}  // namespace quern::server
