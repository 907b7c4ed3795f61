// `quern worker`: runs shell jobs until SIGINT or SIGTERM, then stops gracefully.
#include <atomic>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/job_id_arguments.h"
#include "cli/stop_signals.h"
#include "core/duration.h"
#include "exec/shell_handler.h"
#include "quern/error.h"
#include "quern/worker_pool.h"
#include "store/store_url.h"

namespace quern::cli {
namespace {

struct WorkerArguments {
  std::vector<std::string> queues;
  std::string concurrency = "1";
  std::string lease = "30s";
  std::string grace = "10s";
};

std::string join_queue_names(const std::vector<std::string>& queues) {
  if (queues.empty()) return "all";
  std::string text;
  for (const auto& queue : queues) text += (text.empty() ? "" : ", ") + queue;
  return text;
}

WorkerPoolOptions build_pool_options(const WorkerArguments& args) {
  WorkerPoolOptions options;
  options.on_leadership_change = [](bool leader) {
    std::cerr << (leader ? "quern worker: leading maintenance\n" : "quern worker: stopped leading maintenance\n")
              << std::flush;
  };
  options.on_stale_finish = [](JobId id, int attempt) {
    std::cerr << "quern worker: job " + std::to_string(id) + " attempt " + std::to_string(attempt) +
                     " ended too late: its lease was lost or it was canceled, so the outcome was not recorded\n"
              << std::flush;
  };
  options.queues = args.queues;
  for (const auto& queue : options.queues) {
    if (queue.empty()) throw Error::invalid_argument("--queue needs a non-empty name");
  }
  options.concurrency = parse_int_at_least(args.concurrency, 1, "--concurrency");
  options.lease = parse_duration(args.lease);
  if (options.lease <= Duration::zero()) throw Error::invalid_argument("--lease must be longer than 0s");
  options.grace = parse_duration(args.grace);
  return options;
}

int run_worker(const GlobalOptions& global, const WorkerArguments& args) {
  WorkerPoolOptions options = build_pool_options(args);
  // Caught from here on: a SIGTERM while the database opens still means a clean stop.
  StopSignals stop_signals;
  // A store that fails is retried, unless retrying cannot help: a corrupt database, or
  // one deleted or replaced under the worker. Then it stops (exit 5).
  std::atomic<bool> store_lost{false};
  options.on_store_error = [&](const Error& error) {
    const bool lost = error.code() == ErrorCode::kDataLoss;
    std::cerr << (lost ? "quern worker: store error, stopping: " : "quern worker: store error, retrying: ") +
                     std::string(error.what()) + "\n"
              << std::flush;
    if (lost && !store_lost.exchange(true)) stop_signals.raise();
  };
  auto client = open_client(global);
  WorkerPool pool(client, options);
  pool.handle(std::string(kShellType), make_shell_handler());
  pool.start();
  // Each status line is one write: whoever reads it (a supervisor, a test) sees it whole.
  std::cerr << "quern worker: " + std::to_string(options.concurrency) +
                   (options.concurrency == 1 ? " slot" : " slots") + " on " + database_display_name(resolved_db_url(global)) +
                   ", queues: " + join_queue_names(options.queues) + "\n"
            << std::flush;
  stop_signals.wait();
  pool.stop();
  const int64_t finished = pool.jobs_finished();
  std::cerr << "quern worker: stopped after " + std::to_string(finished) + (finished == 1 ? " job\n" : " jobs\n")
            << std::flush;
  if (const int64_t unrecorded = pool.runs_unrecorded(); unrecorded > 0) {
    std::cerr << "quern worker: the store stayed out of reach: the ends of " + std::to_string(unrecorded) +
                     (unrecorded == 1 ? " run" : " runs") +
                     " may not be recorded; such jobs stay running until rescued, which counts a failed attempt\n"
              << std::flush;
    return exit_status(ErrorCode::kUnavailable);
  }
  return store_lost ? exit_status(ErrorCode::kDataLoss) : 0;
}

}  // namespace

void add_worker_command(CLI::App& app, CliContext& context) {
  auto args = std::make_shared<WorkerArguments>();
  CLI::App* command = app.add_subcommand("worker", "Run shell jobs until SIGINT/SIGTERM/SIGHUP, then stop gracefully");
  command->add_option("--queue", args->queues, "Take jobs from this queue (repeatable; default every queue)")
      ->allow_extra_args(false);
  command->add_option("--concurrency", args->concurrency, "Jobs run at once (default 1)");
  command->add_option("--lease", args->lease, "Lease length, renewed by heartbeats (default 30s)");
  command->add_option("--grace", args->grace, "On stop, how long running jobs may finish (default 10s)");
  command->callback([&context, args] {
    context.action = [&context, args] { return run_worker(context.global, *args); };
  });
}

}  // namespace quern::cli
