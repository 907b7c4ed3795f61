// `quern serve`: the HTTP API and dashboard, a worker pool for shell jobs and the
// maintenance, until SIGINT or SIGTERM; then it stops like `quern worker`.
#include <sys/resource.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "cli/job_id_arguments.h"
#include "cli/stop_signals.h"
#include "core/duration.h"
#include "core/printable_text.h"
#include "exec/shell_handler.h"
#include "quern/error.h"
#include "quern/worker_pool.h"
#include "server/http_server.h"
#include "store/store_url.h"

#if defined(__SANITIZE_THREAD__)
// cpp-httplib is Debian's prebuilt library, not built with ThreadSanitizer: the
// function-local statics it reads without the (uninstrumented) guard check look like
// races between connection threads. Its accesses are left out; Quern's own code is
// checked as ever. TSAN_OPTIONS still overrides this.
extern "C" const char* __tsan_default_options() { return "ignore_noninstrumented_modules=1"; }
#endif

namespace quern::cli {
namespace {

struct ServeArguments {
  std::string listen = "127.0.0.1:7070";
  std::string concurrency = "1";
  std::string token;
  std::string log_format = "text";
  std::vector<std::string> queues;
  std::string lease = "30s";
  std::string grace = "10s";
};

struct ServeSettings {
  server::HttpServerOptions server;
  int concurrency = 1;
  WorkerPoolOptions pool;
};

// "127.0.0.1:7070", "localhost:7070", "[::1]:7070", "0.0.0.0:0" (any free port).
void parse_listen_address(const std::string& text, server::HttpServerOptions& options) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    throw Error::invalid_argument("--listen takes ADDRESS:PORT, not " + quote_for_message(text));
  }
  std::string host = text.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) throw Error::invalid_argument("--listen takes ADDRESS:PORT, not " + quote_for_message(text));
  options.host = host;
  options.port = parse_int_at_least(text.substr(colon + 1), 0, "--listen port");
  if (options.port > 65535) throw Error::invalid_argument("--listen port must be at most 65535");
}

ServeSettings build_serve_settings(const ServeArguments& args) {
  ServeSettings settings;
  parse_listen_address(args.listen, settings.server);
  settings.server.token = args.token;
  if (settings.server.token.empty()) {
    if (const char* token = std::getenv("QUERN_TOKEN")) settings.server.token = token;
  }
  if (!server::is_loopback_host(settings.server.host) && settings.server.token.empty()) {
    throw Error::invalid_argument("listening on " + settings.server.host +
                                  " (not loopback) needs a token: give --token or set QUERN_TOKEN");
  }
  settings.server.log_format = server::parse_log_format(args.log_format);
  settings.concurrency = parse_int_at_least(args.concurrency, 0, "--concurrency");
  settings.pool.queues = args.queues;
  for (const auto& queue : args.queues) {
    if (queue.empty()) throw Error::invalid_argument("--queue needs a non-empty name");
  }
  settings.pool.concurrency = std::max(settings.concurrency, 1);
  settings.pool.lease = parse_duration(args.lease);
  if (settings.pool.lease < std::chrono::milliseconds(100)) throw Error::invalid_argument("--lease must be at least 100ms");
  settings.pool.grace = parse_duration(args.grace);
  // The server runs maintenance (it counts rescues for /metrics), pool or not.
  settings.pool.run_maintenance = false;
  settings.server.default_lease = settings.pool.lease;
  return settings;
}

// Every connection is a descriptor: lift the soft limit to the hard one, so a few
// hundred waiting workers do not run a default limit of 1024 dry.
void raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int run_serve(const GlobalOptions& global, const ServeArguments& args) {
  // Input is checked before the database is opened: bad input touches nothing.
  ServeSettings settings = build_serve_settings(args);
  raise_open_file_limit();
  // Caught from here on: a SIGTERM while the database opens still means a clean stop.
  StopSignals stop_signals;
  auto client = open_client(global);
  server::HttpServer http(client, settings.server);
  std::optional<WorkerPool> pool;
  if (settings.concurrency > 0) {
    settings.pool.on_stale_finish = [&http](JobId id, int attempt) {
      http.log().warn("a run ended too late: its lease was lost or it was canceled; its outcome was not recorded",
                      {{"job", id}, {"attempt", attempt}});
    };
    settings.pool.on_store_error = [&http](const Error& error) {
      http.log().error("the worker pool's store call failed; retrying", {{"error", error.what()}});
    };
    pool.emplace(client, settings.pool);
    pool->handle(std::string(kShellType), http.counted(make_shell_handler()));
  }
  http.start();
  if (pool) pool->start();
  http.log().info("listening on " + http.url(), {{"dashboard", http.url() + "/"},
                                                   {"slots", settings.concurrency},
                                                   {"database", database_display_name(resolved_db_url(global))},
                                                   {"auth", settings.server.token.empty() ? "none" : "token"}});
  stop_signals.wait();
  // Long-polls and event streams end at once; the pool's running jobs get their grace
  // while the API still takes remote workers' completions; then the listener closes.
  http.log().info("stopping");
  http.stop_streams();
  if (pool) pool->stop();
  http.stop();
  if (pool && pool->runs_unrecorded() > 0) {
    http.log().error("the store stayed out of reach: the ends of some runs were not recorded; they stay running "
                     "until rescued, which counts a failed attempt",
                     {{"runs", pool->runs_unrecorded()}});
    return exit_status(ErrorCode::kUnavailable);
  }
  http.log().info("stopped");
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, CliContext& context) {
  auto args = std::make_shared<ServeArguments>();
  CLI::App* command =
      app.add_subcommand("serve", "Run the HTTP API, the dashboard and a worker pool for shell jobs until SIGINT/SIGTERM/SIGHUP");
  command->add_option("--listen", args->listen, "ADDRESS:PORT to listen on (default 127.0.0.1:7070; port 0: any)");
  command->add_option("--concurrency", args->concurrency, "Shell jobs run at once by this server (default 1; 0: none)");
  command->add_option("--token", args->token,
                      "Bearer token every request but /healthz and the dashboard's files needs (default $QUERN_TOKEN); "
                      "required off loopback");
  command->add_option("--log-format", args->log_format, "Log lines on stderr: text (default) or json");
  command->add_option("--queue", args->queues, "The worker pool takes jobs from this queue (repeatable; default every queue)")
      ->allow_extra_args(false);
  command->add_option("--lease", args->lease, "Lease length of local and (by default) remote workers (default 30s)");
  command->add_option("--grace", args->grace, "On stop, how long running jobs may finish (default 10s)");
  command->callback([&context, args] {
    context.action = [&context, args] { return run_serve(context.global, *args); };
  });
}

}  // namespace quern::cli
