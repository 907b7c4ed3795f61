// The API's routes: a method and a path pattern ("/api/v1/jobs/{id}/retry") to a
// handler. Paths are matched segment by segment (no regular expressions: a path is
// whatever a client sends), literal segments before parameters.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <httplib.h>

#include "quern/job.h"

namespace quern::server {

// One request as a handler sees it.
struct ApiRequest {
  const httplib::Request& http;
  std::vector<std::string> params;  // the path's {…} segments, in order
  std::string body;                 // empty for GET

  // A query parameter, if given (the first of repeated ones).
  std::optional<std::string> query(const std::string& name) const;
  // Every value of a repeated query parameter.
  std::vector<std::string> query_all(const std::string& name) const;
};

using RouteHandler = std::function<void(ApiRequest&, httplib::Response&)>;

enum class RouteAccess {
  kToken,   // needs the bearer token when the server has one
  kPublic,  // never: /healthz and the dashboard's static files
};

struct Route {
  std::string method;
  std::string pattern;  // also the route's name in metrics and logs
  std::vector<std::string> segments;
  RouteAccess access = RouteAccess::kToken;
  RouteHandler handler;
};

// Whether every '%' in `path` starts an escape of two hex digits ("%ZZ" and a trailing
// "%" are bad input, not names).
bool has_valid_percent_encoding(std::string_view path);

class Router {
 public:
  void add(std::string method, std::string pattern, RouteHandler handler, RouteAccess access = RouteAccess::kToken);

  // The route for a request, filling `params`; nullptr if none. HEAD finds GET routes.
  // `raw_path` is the path as sent (percent-encoded, no query): it is split at its
  // slashes first and each segment decoded after, so a queue or setting named "a/b"
  // is reached as "a%2Fb".
  const Route* match(std::string_view method, std::string_view raw_path, std::vector<std::string>& params) const;

 private:
  std::vector<Route> routes_;
};

}  // namespace quern::server
