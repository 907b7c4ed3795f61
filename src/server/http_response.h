// How the HTTP API answers: JSON bodies, and errors as {"error":{"code","message"}}
// where code is error_code_name() of a quern::Error, or one of the API's own codes
// below for refusals that are not a quern::Error.
#pragma once

#include <string>
#include <string_view>

#include <httplib.h>

#include "quern/error.h"
#include "quern/job.h"

namespace quern::server {

inline constexpr std::string_view kUnauthenticatedCode = "unauthenticated";  // 401
inline constexpr std::string_view kForbiddenCode = "forbidden";              // 403

// Compact JSON; text that is not valid UTF-8 gets U+FFFD rather than failing.
std::string json_text(const Json& value);

void send_json(httplib::Response& res, int status, const Json& body);
void send_error(httplib::Response& res, int status, std::string_view code, std::string_view message);
void send_error(httplib::Response& res, const Error& error);

// Like send_error, then closes the connection: for a request whose body was left
// unread, which would otherwise be taken for the next request on the connection.
void send_error_and_close(httplib::Response& res, int status, std::string_view code, std::string_view message);

// Like send_json, saying "Connection: close": for a stopping server answering a
// long-poll (httplib ends the connection itself once the server has stopped).
void send_json_and_close(httplib::Response& res, int status, const Json& body);

// The error code to use for a status httplib set by itself (a malformed request, …).
std::string_view error_code_for_status(int status);

}  // namespace quern::server
