// The HTTP API of `quern serve` (see the README's HTTP section for the contract): JSON
// routes over one Client, long-poll leases for remote workers, the event stream,
// /metrics, /healthz and the embedded dashboard, with bearer-token auth, CSRF checks
// and size limits. Connections are served by threads of their own (long-polls hold
// one each), so hundreds of waiting workers do not delay anyone else.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "quern/client.h"
#include "quern/worker_pool.h"
#include "server/server_log.h"

namespace quern::server {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 7070;    // 0: any free port (see HttpServer::port())
  std::string token;  // empty: no token asked (the caller keeps this to loopback)
  LogFormat log_format = LogFormat::kText;
  Duration default_lease{std::chrono::seconds(30)};    // remote leases that give none
  Duration max_lease_wait{std::chrono::seconds(60)};   // a long-poll waits at most this long
  size_t max_connections = 2048;                       // served at once; more wait for a thread
  bool run_maintenance = true;                         // rescue, promotion, expiry, file checks
  std::filesystem::path temp_root;                     // of local jobs' temp dirs (default: the pools')
};

class HttpServer {
 public:
  HttpServer(std::shared_ptr<Client> client, HttpServerOptions options);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving on background threads. kUnavailable if it cannot bind.
  void start();
  // The bound port (the chosen one when options.port was 0).
  int port() const;
  // "http://host:port".
  std::string url() const;

  // Ends waiting long-polls and event streams now; later ones return at once. Other
  // requests (a remote worker's complete, say) are still answered.
  void stop_streams();
  // stop_streams(), then stops listening and waits until every connection has ended.
  void stop();

  // `handler` counted in /metrics (completed/failed runs, claim latency): for the
  // local worker pool's handlers.
  Handler counted(Handler handler);

  ServerLog& log();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether `host` (a --listen address) only accepts connections from this machine.
bool is_loopback_host(std::string_view host);

}  // namespace quern::server
