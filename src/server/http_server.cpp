#include "server/http_server.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <atomic>
#include <cctype>
#include <cmath>
#include <thread>

#include <httplib.h>

#include "core/printable_text.h"
#include "quern/error.h"
#include "server/connection_thread_pool.h"
#include "server/event_hub.h"
#include "server/http_response.h"
#include "server/lease_broker.h"
#include "server/maintenance_loop.h"
#include "server/router.h"
#include "server/routes.h"
#include "server/server_metrics.h"

#if __has_include("server/dashboard_assets.h")
#include "server/dashboard_assets.h"
#define QUERN_SERVER_HAS_DASHBOARD 1
#endif

namespace quern::server {
// Named, not anonymous: HttpServer::Impl (external linkage) holds these types.
namespace http_server_detail {

using RequestClock = std::chrono::steady_clock;

// Every path is matched by hand, but httplib runs its own std::regex over the paths of
// requests with a body, and libstdc++'s regex recurses once per character: a path is
// cut off well before that could exhaust a connection thread's stack.
constexpr size_t kMaxPathBytes = 1024;
constexpr size_t kMaxHeaderCount = 100;
// Room for a payload at its limit plus the rest of a job object, escapes included.
constexpr size_t kBodySlackBytes = 1 << 20;
// A declared body larger than this is refused without reading it (and the connection
// closed); smaller oversize bodies are read and dropped so the client sees a clean 413.
constexpr size_t kMaxDrainedBodyBytes = 64 << 20;
constexpr int kListenBacklog = 1024;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr size_t kConnectionStackBytes = 8 << 20;  // sanitizers grow every frame
#else
constexpr size_t kConnectionStackBytes = 1 << 20;
#endif
// An idle keep-alive connection holds a thread (polling) and delays a stop this long.
constexpr time_t kKeepAliveSeconds = 2;
constexpr size_t kKeepAliveRequests = 1000;
constexpr time_t kSocketTimeoutSeconds = 30;
constexpr auto kMaintenanceInterval = std::chrono::seconds(1);

// cpp-httplib listens with a backlog of 5: a few hundred workers connecting at once
// would be dropped and retried by TCP. Listening again on the bound socket raises it.
class BacklogServer : public httplib::Server {
 public:
  void raise_backlog(int backlog) { ::listen(svr_sock_, backlog); }
};

// What the handlers of one request share across httplib's callbacks, which all run
// on the connection's thread: matched route, path parameters, start time.
struct RequestState {
  bool active = false;
  RequestClock::time_point start;
  const Route* route = nullptr;
  std::string_view route_name = "unmatched";
  std::vector<std::string> params;
};

thread_local RequestState current_request;

bool declares_body(const httplib::Request& req) {
  return req.has_header("Content-Length") ? req.get_header_value<uint64_t>("Content-Length") > 0
                                          : req.has_header("Transfer-Encoding");
}

// Whether the request's framing is unambiguous: every Content-Length is the same run of
// decimal digits, and there is none beside a Transfer-Encoding. Anything else is how a
// request is smuggled past a proxy that reads it differently (RFC 9112 §6.3: a 400).
bool has_clear_framing(const httplib::Request& req) {
  const auto [first, last] = req.headers.equal_range("Content-Length");
  if (first == last) return true;
  if (req.has_header("Transfer-Encoding")) return false;
  for (auto it = first; it != last; ++it) {
    const std::string& value = it->second;
    if (value.empty() || value.size() > 18 || value != first->second) return false;
    for (char c : value) {
      if (c < '0' || c > '9') return false;
    }
  }
  return true;
}

// cpp-httplib answers a client that accepts brotli (every browser does) with brotli at
// its slowest quality: a 1,000-job list took a second, a 1 MiB log over two, and the
// work went on after the client left. gzip is nearly as small and a hundred times
// faster, so brotli is struck from what the client accepts. (The library reads the
// request it hands us, a non-const object of its own, only after this.)
void accept_no_brotli(const httplib::Request& req) {
  auto& headers = const_cast<httplib::Headers&>(req.headers);
  const auto [first, last] = headers.equal_range("Accept-Encoding");
  for (auto it = first; it != last; ++it) {
    if (it->second.find("br") == std::string::npos) continue;
    std::string kept;
    std::string_view rest = it->second;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      std::string_view coding = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      while (!coding.empty() && coding.front() == ' ') coding.remove_prefix(1);
      const std::string_view name = coding.substr(0, coding.find(';'));
      if (name.find("br") != std::string_view::npos || coding.empty()) continue;
      if (!kept.empty()) kept += ", ";
      kept += coding;
    }
    it->second = kept.empty() ? "identity" : kept;
  }
}

bool expects_body(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "DELETE" || method == "PATCH";
}

// The message of an error httplib answered by itself.
std::string_view status_text(int status) {
  switch (status) {
    case 400: return "malformed request";
    case 404: return "not found";
    case 413: return "request body too large";
    case 414: return "request target too long";
    case 416: return "bad range";
    default: return status >= 500 ? "internal error" : "request refused";
  }
}

bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

// Compares in time that depends only on the expected token's length.
bool token_matches(std::string_view given, std::string_view expected) {
  unsigned char difference = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    difference |= g ^ static_cast<unsigned char>(expected[i]);
  }
  return difference == 0;
}

// A browser names the page that sent a request (Origin) and how it relates to us
// (Sec-Fetch-Site). A page of another origin may make a browser send us a POST with
// the user's network position, so such requests are refused.
bool is_cross_site(const httplib::Request& req) {
  if (ascii_iequals(req.get_header_value("Sec-Fetch-Site"), "cross-site")) return true;
  if (!req.has_header("Origin")) return false;
  const std::string origin = req.get_header_value("Origin");
  const size_t scheme_end = origin.find("://");
  if (scheme_end == std::string::npos) return true;  // "null" and other opaque origins
  return !ascii_iequals(std::string_view(origin).substr(scheme_end + 3), req.get_header_value("Host"));
}

// The name a Host header gives, without its port: "[::1]:7070" → "::1".
std::string_view host_name(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(1, close - 1);
  }
  const size_t colon = host.find(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

// Requests a browser sends on a page's behalf carry these; curl and scripts do not.
bool is_from_browser(const httplib::Request& req) {
  return req.has_header("Origin") || req.has_header("Sec-Fetch-Site") || req.has_header("Sec-Fetch-Mode");
}

bool is_json_content_type(const httplib::Request& req) {
  std::string type = req.get_header_value("Content-Type");
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return ascii_iequals(type, "application/json");
}

void set_dashboard_headers(httplib::Response& res) {
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                 "form-action 'self'; frame-ancestors 'none'");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Referrer-Policy", "no-referrer");
}

// GET / and the page's files; false if `path` is none of them.
bool serve_dashboard_file(const std::string& path, httplib::Response& res) {
  if (path.rfind("/api/", 0) == 0) return false;
#ifdef QUERN_SERVER_HAS_DASHBOARD
  const Asset* asset = find_dashboard_asset(path);
  if (!asset) return false;
  res.set_content(std::string(asset->body), std::string(asset->content_type));
#else
  if (path != "/") return false;
  res.set_content(
      "<!doctype html><meta charset=\"utf-8\"><title>Quern</title>"
      "<p>This build of Quern has no dashboard. The HTTP API is under <code>/api/v1/</code>.</p>\n",
      "text/html; charset=utf-8");
#endif
  res.status = 200;
  set_dashboard_headers(res);
  return true;
}

}  // namespace http_server_detail
using namespace http_server_detail;

class HttpServer::Impl {
 public:
  Impl(std::shared_ptr<Client> client, HttpServerOptions options);
  ~Impl() { stop(); }

  void start();
  void stop_streams();
  void stop();
  int port() const { return port_; }
  const HttpServerOptions& options() const { return options_; }
  ServerLog& log() { return log_; }
  Handler counted(Handler handler);

 private:
  httplib::Server::HandlerResponse pre_route(const httplib::Request& req, httplib::Response& res);
  void route_with_body(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader);
  void run_route(const httplib::Request& req, httplib::Response& res, std::string body);
  bool authorized(const httplib::Request& req) const;
  void log_request(const httplib::Request& req, const httplib::Response& res);
  // A refusal before the body was read: for a request with a body, the connection closes.
  void refuse(const httplib::Request& req, httplib::Response& res, int status, std::string_view code,
              std::string_view message);

  std::shared_ptr<Client> client_;
  HttpServerOptions options_;
  const size_t max_body_bytes_;
  ServerLog log_;
  ServerMetrics metrics_;
  LeaseBroker broker_;
  EventHub events_;
  RouteContext context_;
  Router router_;
  std::unique_ptr<MaintenanceLoop> maintenance_;
  BacklogServer http_;  // after everything its handlers use: its threads end first
  std::thread listen_thread_;
  int port_ = 0;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
};

HttpServer::Impl::Impl(std::shared_ptr<Client> client, HttpServerOptions options)
    : client_(std::move(client)),
      options_(std::move(options)),
      max_body_bytes_(client_->max_payload_bytes() + kBodySlackBytes),
      log_(options_.log_format),
      broker_(client_, metrics_),
      events_(client_, metrics_),
      context_{client_, broker_, events_, metrics_, log_, max_body_bytes_, options_.default_lease, options_.max_lease_wait} {
  add_service_routes(router_, context_);
  add_job_routes(router_, context_);
  add_worker_routes(router_, context_);
  add_admin_routes(router_, context_);
  add_cron_routes(router_, context_);
  if (options_.run_maintenance) {
    maintenance_ = std::make_unique<MaintenanceLoop>(client_, options_.temp_root, kMaintenanceInterval, metrics_, log_);
  }
}

void HttpServer::Impl::start() {
  if (started_.exchange(true)) return;
  const size_t max_connections = options_.max_connections;
  http_.new_task_queue = [this, max_connections] {
    return new ConnectionThreadPool(max_connections, kConnectionStackBytes, log_);
  };
  http_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) { return pre_route(req, res); });
  auto with_body = [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    route_with_body(req, res, reader);
  };
  // The only regular expression httplib sees; every path reaching it is short.
  http_.Post(".*", with_body);
  http_.Put(".*", with_body);
  http_.Patch(".*", with_body);
  http_.Delete(".*", with_body);
  http_.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
    // httplib's own refusals (a malformed request, say) get the API's error body too.
    if (!res.body.empty() || res.content_provider_) return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, res.status, error_code_for_status(res.status), status_text(res.status));
    return httplib::Server::HandlerResponse::Handled;
  }));
  http_.set_exception_handler([this](const httplib::Request&, httplib::Response& res, std::exception_ptr error) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log_.error("request failed", {{"error", valid_utf8(what)}});
    send_error(res, 500, error_code_name(ErrorCode::kInternal), "internal error: " + what);
  });
  http_.set_logger([this](const httplib::Request& req, const httplib::Response& res) { log_request(req, res); });
  http_.set_payload_max_length(max_body_bytes_);
  http_.set_keep_alive_max_count(kKeepAliveRequests);
  http_.set_keep_alive_timeout(kKeepAliveSeconds);
  // Without it a response on a kept-alive connection waits for the client's delayed
  // ACK (Nagle): ~40 ms per dashboard request instead of well under 1 ms.
  http_.set_tcp_nodelay(true);
  http_.set_read_timeout(kSocketTimeoutSeconds, 0);
  http_.set_write_timeout(kSocketTimeoutSeconds, 0);
  http_.set_default_headers({{"X-Content-Type-Options", "nosniff"}});
  // httplib's default is SO_REUSEPORT, which lets a second server bind the same port and
  // silently take half the connections. SO_REUSEADDR only allows a quick restart.
  http_.set_socket_options([](socket_t socket) {
    int yes = 1;
    ::setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });

  if (options_.port == 0) {
    port_ = http_.bind_to_any_port(options_.host);
  } else if (http_.bind_to_port(options_.host, options_.port)) {
    port_ = options_.port;
  } else {
    port_ = -1;
  }
  if (port_ <= 0) {
    throw Error::unavailable("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                             " (in use, or not an address of this machine)");
  }
  http_.raise_backlog(kListenBacklog);
  if (maintenance_) maintenance_->start();
  broker_.start();
  events_.start();
  listen_thread_ = std::thread([this] { http_.listen_after_bind(); });
  // stop() must find the server running, or it would not end the accept loop.
  while (!http_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void HttpServer::Impl::stop_streams() {
  broker_.stop();
  events_.stop();
}

void HttpServer::Impl::stop() {
  if (!started_ || stopped_.exchange(true)) return;
  stop_streams();
  http_.stop();
  if (listen_thread_.joinable()) listen_thread_.join();
  if (maintenance_) maintenance_->stop();
}

Handler HttpServer::Impl::counted(Handler handler) {
  // A run stopped by a shutdown or a cancel is not a failure (DESIGN: failures are a
  // non-zero exit, a timeout, a lost lease), whatever its handler then returned.
  auto stopped_without_failing = [](const JobContext& context) {
    return context.stop_reason() == StopReason::kShutdown || context.stop_reason() == StopReason::kCanceled;
  };
  return [this, handler = std::move(handler), stopped_without_failing](JobContext& context) {
    const Job& job = context.job();
    if (job.started_at) metrics_.observe_claim_latency(*job.started_at - job.run_at);
    Outcome outcome;
    try {
      outcome = handler(context);
    } catch (...) {
      if (!stopped_without_failing(context)) metrics_.count_failed();
      throw;
    }
    if (outcome.kind == Outcome::Kind::kCompleted) {
      metrics_.count_completed();
    } else if ((outcome.kind == Outcome::Kind::kRetry || outcome.kind == Outcome::Kind::kFail) &&
               !stopped_without_failing(context)) {
      metrics_.count_failed();
    }
    return outcome;
  };
}

void HttpServer::Impl::refuse(const httplib::Request& req, httplib::Response& res, int status, std::string_view code,
                              std::string_view message) {
  if (declares_body(req)) {  // and it was not read
    send_error_and_close(res, status, code, message);
  } else {
    send_error(res, status, code, message);
  }
}

httplib::Server::HandlerResponse HttpServer::Impl::pre_route(const httplib::Request& req, httplib::Response& res) {
  RequestState& state = current_request;
  state = RequestState{};
  state.active = true;
  state.start = RequestClock::now();
  accept_no_brotli(req);
  // First: every refusal below leaves the connection open when no body was declared,
  // which is only safe once the body's length is known beyond doubt.
  if (!has_clear_framing(req)) {
    send_error_and_close(res, 400, error_code_name(ErrorCode::kInvalidArgument),
                         "malformed request: Content-Length must be one number of decimal digits, without "
                         "Transfer-Encoding");
    return httplib::Server::HandlerResponse::Handled;
  }
  if (req.path.size() > kMaxPathBytes) {
    refuse(req, res, 414, error_code_name(ErrorCode::kInvalidArgument),
           "the request path is longer than " + std::to_string(kMaxPathBytes) + " bytes");
    return httplib::Server::HandlerResponse::Handled;
  }
  if (req.headers.size() > kMaxHeaderCount) {
    refuse(req, res, 431, error_code_name(ErrorCode::kInvalidArgument),
           "the request has more than " + std::to_string(kMaxHeaderCount) + " headers");
    return httplib::Server::HandlerResponse::Handled;
  }
  // Without a token the server trusts whoever can reach loopback, so it must also know
  // that the request was meant for loopback: a page whose own name was made to resolve
  // to 127.0.0.1 (DNS rebinding) is same-origin with itself, and its requests name it.
  if (options_.token.empty() && req.has_header("Host") && !is_loopback_host(host_name(req.get_header_value("Host")))) {
    refuse(req, res, 403, kForbiddenCode,
           "Host " + quote_for_message(req.get_header_value("Host"), 100) +
               " is not a loopback name; without a token this server answers requests to localhost only");
    return httplib::Server::HandlerResponse::Handled;
  }
  if ((req.method == "GET" || req.method == "HEAD") && serve_dashboard_file(req.path, res)) {
    state.route_name = "dashboard";
    return httplib::Server::HandlerResponse::Handled;
  }
  // Matched on the path as sent, so a "%2F" inside a name is not taken for a separator
  // (the absolute form "http://host/path…" that proxies send names the same path).
  std::string_view target = std::string_view(req.target).substr(0, req.target.find('?'));
  if (const size_t scheme = target.find("://"); !target.starts_with('/') && scheme != std::string_view::npos) {
    const size_t path = target.find('/', scheme + 3);
    target = path == std::string_view::npos ? std::string_view("/") : target.substr(path);
  }
  state.route = router_.match(req.method, target, state.params);
  if (state.route) state.route_name = state.route->pattern;
  // Before any body is read: a client without the token is refused at once.
  if ((!state.route || state.route->access == RouteAccess::kToken) && !authorized(req)) {
    res.set_header("WWW-Authenticate", "Bearer");
    refuse(req, res, 401, kUnauthenticatedCode,
           req.has_header("Authorization") ? "the bearer token is wrong" : "this server needs a bearer token");
    return httplib::Server::HandlerResponse::Handled;
  }
  if (!has_valid_percent_encoding(target)) {
    refuse(req, res, 400, error_code_name(ErrorCode::kInvalidArgument),
           "the path " + quote_for_message(std::string(target), 100) +
               " has a '%' that is not followed by two hex digits");
    return httplib::Server::HandlerResponse::Handled;
  }
  if (!expects_body(req.method)) {
    if (declares_body(req)) {
      refuse(req, res, 400, error_code_name(ErrorCode::kInvalidArgument), "a " + req.method + " request takes no body");
    } else {
      run_route(req, res, std::string());
    }
    return httplib::Server::HandlerResponse::Handled;
  }
  if (req.has_header("Content-Length") && req.get_header_value<uint64_t>("Content-Length") > kMaxDrainedBodyBytes) {
    send_error_and_close(res, 413, error_code_name(ErrorCode::kTooLarge),
                         "request body is larger than " + std::to_string(max_body_bytes_) + " bytes");
    return httplib::Server::HandlerResponse::Handled;
  }
  return httplib::Server::HandlerResponse::Unhandled;  // route_with_body() reads the body, then runs it
}

void HttpServer::Impl::route_with_body(const httplib::Request& req, httplib::Response& res,
                                       const httplib::ContentReader& reader) {
  std::string body;
  const bool chunked = req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos;
  // HTTP/1.1: without Content-Length or chunked encoding, a request has no body.
  if (req.has_header("Content-Length") || chunked) {
    size_t received = 0;
    bool too_large = false;
    const bool read = reader([&](const char* data, size_t length) {
      received += length;
      if (received > kMaxDrainedBodyBytes) return false;
      if (!too_large && body.size() + length <= max_body_bytes_) {
        body.append(data, length);
      } else {
        too_large = true;  // keep reading (and dropping) so the connection stays usable
        body.clear();
      }
      return true;
    });
    const std::string limit_message = "request body is larger than " + std::to_string(max_body_bytes_) + " bytes";
    if (!read && res.status == 413) {
      // httplib read and dropped a declared body over the limit.
      send_error(res, 413, error_code_name(ErrorCode::kTooLarge), limit_message);
      return;
    }
    if (!read) {
      send_error_and_close(res, received > kMaxDrainedBodyBytes ? 413 : 400,
                           received > kMaxDrainedBodyBytes ? error_code_name(ErrorCode::kTooLarge)
                                                           : error_code_name(ErrorCode::kInvalidArgument),
                           received > kMaxDrainedBodyBytes ? limit_message : "could not read the request body");
      return;
    }
    if (too_large) {
      send_error(res, 413, error_code_name(ErrorCode::kTooLarge), limit_message);
      return;
    }
  }
  run_route(req, res, std::move(body));
}

bool HttpServer::Impl::authorized(const httplib::Request& req) const {
  if (options_.token.empty()) return true;
  const std::string header = req.get_header_value("Authorization");
  constexpr std::string_view kScheme = "Bearer ";
  if (header.size() < kScheme.size() || !ascii_iequals(std::string_view(header).substr(0, kScheme.size()), kScheme)) {
    return false;
  }
  return token_matches(std::string_view(header).substr(kScheme.size()), options_.token);
}

void HttpServer::Impl::run_route(const httplib::Request& req, httplib::Response& res, std::string body) {
  RequestState& state = current_request;
  const Route* route = state.active ? state.route : nullptr;
  if (!route) {
    send_error(res, 404, error_code_name(ErrorCode::kNotFound),
               "no route for " + req.method + " " + quote_for_message(req.path, 200));
    return;
  }
  if (expects_body(req.method)) {
    if (is_cross_site(req)) {
      send_error(res, 403, kForbiddenCode, "cross-site request refused (Origin does not match Host)");
      return;
    }
    // Forms and other "simple" requests of a browser never carry this type.
    if (!body.empty() && is_from_browser(req) && !is_json_content_type(req)) {
      send_error(res, 415, error_code_name(ErrorCode::kInvalidArgument), "a browser's request body must be application/json");
      return;
    }
  }
  ApiRequest request{req, state.params, std::move(body)};
  try {
    route->handler(request, res);
  } catch (const Error& e) {
    metrics_.count_if_store_error(e);
    send_error(res, e);
  } catch (const std::exception& e) {
    log_.error("request failed", {{"method", req.method}, {"path", valid_utf8(req.path)}, {"error", valid_utf8(e.what())}});
    send_error(res, 500, error_code_name(ErrorCode::kInternal), std::string("internal error: ") + e.what());
  }
}

void HttpServer::Impl::log_request(const httplib::Request& req, const httplib::Response& res) {
  RequestState& state = current_request;
  const double duration_ms =
      state.active ? std::chrono::duration<double, std::milli>(RequestClock::now() - state.start).count() : 0.0;
  metrics_.count_request(state.active ? state.route_name : "unmatched", res.status);
  log_.info("request", {{"method", req.method},
                        {"path", valid_utf8(req.path.substr(0, 200))},
                        {"status", res.status},
                        {"duration_ms", std::round(duration_ms * 1000) / 1000}});
  state = RequestState{};
}

HttpServer::HttpServer(std::shared_ptr<Client> client, HttpServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(client), std::move(options))) {}
HttpServer::~HttpServer() = default;
void HttpServer::start() { impl_->start(); }
int HttpServer::port() const { return impl_->port(); }
std::string HttpServer::url() const {
  const std::string& host = impl_->options().host;
  const bool ipv6 = host.find(':') != std::string::npos;
  return "http://" + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(impl_->port());
}
void HttpServer::stop_streams() { impl_->stop_streams(); }
void HttpServer::stop() { impl_->stop(); }
Handler HttpServer::counted(Handler handler) { return impl_->counted(std::move(handler)); }
ServerLog& HttpServer::log() { return impl_->log(); }

bool is_loopback_host(std::string_view host) {
  if (ascii_iequals(host, "localhost")) return true;  // host names are case-insensitive
  const std::string text(host);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    // ::ffff:127.x.y.z
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

}  // namespace quern::server
