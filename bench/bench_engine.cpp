// In-process benchmark of the engine on a real SQLite file: batch enqueue jobs/s,
// no-op drain jobs/s with several worker-thread counts, and enqueue→start latency,
// each at several queue depths; RSS at the end. Prints numbers, never passes or fails.
//
// At each depth D and thread count, a warmed-up pool drains D jobs that were enqueued
// (in batches of 1000) into a paused queue, timed from its resume; depths under
// 100,000 repeat this until 100,000 jobs have run. The latency rows enqueue one job at
// a time into an idle pool while D jobs wait in the table, due tomorrow.
//
//   bench_engine [--dir DIR] [--depths 1000,100000,1000000] [--threads 1,4,16]
//                [--durability full|normal] [--latency-samples 300] [--keep-completed DUR]
//
// --keep-completed: the drained queue keeps its completed jobs for DUR (retention), so
// the drain pays for scheduling their deletion; after each depth, the deletion of all
// of them is timed (jobs/s), as the maintenance leader does it.
//   bench_engine --peer-workload [--dir DIR]   # one JSON line, as ../shared/peers prints
//   … --db postgres://USER@HOST:PORT/DB        # on PostgreSQL: a new schema per run
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>

#include "bench_numbers.h"
#include "core/duration.h"
#include "quern/client.h"
#include "quern/worker_pool.h"
#include "store/store.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using quern::bench::parse_int_list;
using quern::bench::percentile;
using quern::Json;

namespace {

using Steady = std::chrono::steady_clock;

struct Settings {
  fs::path dir = fs::temp_directory_path() / ("quern-bench-" + std::to_string(::getpid()));
  std::vector<int> depths = {1000, 100000, 1000000};
  std::vector<int> threads = {1, 4, 16};
  bool durable = true;
  int latency_samples = 300;
  bool peer_workload = false;
  std::string postgres_url;  // empty: SQLite files under `dir`
  std::optional<quern::Duration> keep_completed;
};

double seconds_since(Steady::time_point start) {
  return std::chrono::duration<double>(Steady::now() - start).count();
}

double rss_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

std::shared_ptr<quern::Client> fresh_client(const Settings& s, const std::string& name) {
  if (!s.postgres_url.empty()) {
    std::string schema = "quern_bench_" + name + "_" + std::to_string(::getpid());
    std::replace(schema.begin(), schema.end(), '-', '_');
    const char separator = s.postgres_url.find('?') == std::string::npos ? '?' : '&';
    return quern::Client::open(s.postgres_url + separator + "schema=" + schema);
  }
  fs::path db = s.dir / (name + ".db");
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db.string() + suffix);
  quern::ClientOptions options;
  options.durable = s.durable;
  return quern::Client::open(db.string(), options);
}

// Enqueues `n` no-op jobs in batches of `batch`; returns jobs/s.
double enqueue_jobs(quern::Client& client, int n, int batch = 1000, const std::string& queue = "default",
                    std::optional<quern::Time> run_at = std::nullopt) {
  std::vector<quern::NewJob> jobs;
  auto start = Steady::now();
  for (int done = 0; done < n;) {
    const int k = std::min(batch, n - done);
    jobs.assign(k, quern::NewJob{});
    for (auto& j : jobs) {
      j.type = "noop";
      j.queue = queue;
      j.run_at = run_at;
    }
    client.enqueue_many(jobs);
    done += k;
  }
  return n / seconds_since(start);
}

// Starts `threads` no-op workers and times them until `expect_completed` jobs are done,
// start-up included (the peers' workload measures it so); returns jobs/s.
double drain_from_start(const std::shared_ptr<quern::Client>& client, int threads, int64_t expect_completed) {
  quern::WorkerPoolOptions options;
  options.concurrency = threads;
  options.run_maintenance = false;
  quern::WorkerPool pool(client, options);
  pool.handle("noop", [](quern::JobContext&) { return quern::Outcome::completed(); });
  auto start = Steady::now();
  pool.start();
  while (pool.jobs_finished() < expect_completed) std::this_thread::sleep_for(1ms);
  const double rate = expect_completed / seconds_since(start);
  pool.stop();
  return rate;
}

struct Rates {
  double enqueue = 0;  // jobs/s
  double drain = 0;    // jobs/s
};

// With `threads` no-op workers: `rounds` times, enqueues `depth` jobs in a paused queue
// (timed: enqueue), resumes it and waits until the pool finished them all (timed:
// drain). The pool is started and warmed up first, so its start-up is not measured,
// and small depths are measured over many rounds.
Rates enqueue_and_drain(const std::shared_ptr<quern::Client>& client, int threads, int depth, int rounds) {
  quern::WorkerPoolOptions options;
  options.concurrency = threads;
  options.run_maintenance = false;
  quern::WorkerPool pool(client, options);
  pool.handle("noop", [](quern::JobContext&) { return quern::Outcome::completed(); });
  pool.start();
  constexpr int kWarmUp = 2000;
  enqueue_jobs(*client, kWarmUp, 1000, "warm-up");
  while (pool.jobs_finished() < kWarmUp) std::this_thread::sleep_for(1ms);
  double enqueue_seconds = 0;
  double drain_seconds = 0;
  for (int round = 0; round < rounds; ++round) {
    client->pause("bench");
    enqueue_seconds += depth / enqueue_jobs(*client, depth, 1000, "bench");
    const int64_t until = pool.jobs_finished() + depth;
    const auto start = Steady::now();
    client->resume("bench");
    while (pool.jobs_finished() < until) std::this_thread::sleep_for(100us);
    drain_seconds += seconds_since(start);
  }
  pool.stop();
  const double jobs = static_cast<double>(depth) * rounds;
  return {jobs / enqueue_seconds, jobs / drain_seconds};
}

// Enqueues single jobs 10 ms apart into an idle pool; returns enqueue→start latencies (ms).
std::vector<double> latency(const std::shared_ptr<quern::Client>& client, int threads, int samples) {
  quern::WorkerPoolOptions options;
  options.concurrency = threads;
  options.run_maintenance = false;
  quern::WorkerPool pool(client, options);
  std::mutex mutex;
  std::vector<double> latencies;
  pool.handle("ping", [&](quern::JobContext& ctx) {
    const auto sent = Steady::time_point(Steady::duration(ctx.payload()["sent"].get<int64_t>()));
    std::lock_guard lock(mutex);
    latencies.push_back(std::chrono::duration<double, std::milli>(Steady::now() - sent).count());
    return quern::Outcome::completed();
  });
  pool.start();
  std::this_thread::sleep_for(50ms);
  for (int i = 0; i < samples; ++i) {
    quern::NewJob job;
    job.type = "ping";
    job.payload = {{"sent", Steady::now().time_since_epoch().count()}};
    client->enqueue(job);
    std::this_thread::sleep_for(10ms);
  }
  while (pool.jobs_finished() < samples) std::this_thread::sleep_for(1ms);
  pool.stop();
  return latencies;
}

void run_depths(const Settings& s) {
  if (s.postgres_url.empty()) {
    fmt::print("SQLite, durability={} (synchronous={})\n", s.durable ? "full" : "normal", s.durable ? "FULL" : "NORMAL");
  } else {
    fmt::print("PostgreSQL ({}), a new schema per depth\n", s.postgres_url);
  }
  fmt::print("{:>9} {:>16} {:>8} {:>14} {:>12} {:>12} {:>8}\n", "depth", "enqueue jobs/s", "threads",
             "drain jobs/s", "lat p50 ms", "lat p99 ms", "rss MB");
  for (int depth : s.depths) {
    auto client = fresh_client(s, "depth-" + std::to_string(depth));
    if (s.keep_completed) client->set_retention("bench", {{quern::JobState::kCompleted, *s.keep_completed}});
    const int rounds = std::max(1, 100000 / depth);
    for (int threads : s.threads) {
      const Rates rates = enqueue_and_drain(client, threads, depth, rounds);
      fmt::print("{:>9} {:>16.0f} {:>8} {:>14.0f} {:>12} {:>12} {:>8.1f}\n", depth, rates.enqueue, threads, rates.drain,
                 "", "", rss_mb());
      std::fflush(stdout);
    }
    if (s.keep_completed) {
      // As the maintenance leader prunes (batches of 1000), once every job is due.
      const quern::Time due = client->clock().now() + *s.keep_completed + std::chrono::seconds(1);
      const auto start = Steady::now();
      int64_t pruned = 0;
      for (bool more = true; more;) {
        const quern::PruneProgress progress = client->store()->prune_finished_jobs(due, 1000);
        pruned += progress.deleted;
        more = progress.more_due;
      }
      fmt::print("{:>9} pruned {} completed jobs at {:.0f} jobs/s\n", depth, pruned, pruned / seconds_since(start));
    }
    // Latency with `depth` jobs in the table, scheduled for tomorrow (in the store,
    // not claimable): what a worker pays to find the one ready job among many.
    enqueue_jobs(*client, depth, 1000, "default", client->clock().now() + std::chrono::hours(24));
    auto lat = latency(client, 4, s.latency_samples);
    fmt::print("{:>9} {:>16} {:>8} {:>14} {:>12.2f} {:>12.2f} {:>8.1f}\n", depth, "", 4, "", percentile(lat, 0.5),
               percentile(lat, 0.99), rss_mb());
    std::fflush(stdout);
  }
  fmt::print("peak RSS {:.1f} MB\n", peak_rss_mb());
}

// The peers' workload (../shared/peers/lib.mjs): 20000 jobs in chunks of 1000, 10
// workers, then 300 single jobs 10 ms apart.
void run_peer_workload(const Settings& s) {
  auto client = fresh_client(s, "peer");
  const int n = 20000;
  double enqueue_rate = enqueue_jobs(*client, n, 1000);
  double drain_rate = drain_from_start(client, 10, n);
  auto lat = latency(client, 10, 300);
  const bool on_postgres = !s.postgres_url.empty();
  Json line = {{"system", on_postgres ? "quern-postgres" : "quern"},
               {"backend", on_postgres ? "postgres" : "sqlite"},
               {"jobs", n},
               {"concurrency", 10},
               {"enqueue_jobs_per_s", static_cast<int64_t>(enqueue_rate)},
               {"drain_jobs_per_s", static_cast<int64_t>(drain_rate)},
               {"latency_p50_ms", std::round(percentile(lat, 0.5) * 10) / 10},
               {"latency_p99_ms", std::round(percentile(lat, 0.99) * 10) / 10},
               {"rss_mb", std::round(peak_rss_mb() * 10) / 10},
               {"notes", std::string("in-process WorkerPool, 10 threads, no-op handler; enqueue_many in chunks of "
                                     "1000; ") +
                             (on_postgres ? std::string("PostgreSQL, synchronous_commit on")
                                          : std::string("SQLite WAL synchronous=") + (s.durable ? "FULL" : "NORMAL")) +
                             "; completed jobs retained"}};
  fmt::print("{}\n", line.dump());
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    auto arg = [&](const char* name) { return std::strcmp(argv[i], name) == 0 && i + 1 < argc; };
    if (arg("--dir")) {
      s.dir = argv[++i];
    } else if (arg("--depths")) {
      s.depths = parse_int_list(argv[++i]);
    } else if (arg("--threads")) {
      s.threads = parse_int_list(argv[++i]);
    } else if (arg("--durability")) {
      s.durable = std::strcmp(argv[++i], "normal") != 0;
    } else if (arg("--latency-samples")) {
      s.latency_samples = std::stoi(argv[++i]);
    } else if (arg("--db")) {
      s.postgres_url = argv[++i];
    } else if (arg("--keep-completed")) {
      s.keep_completed = quern::parse_duration(argv[++i]);
    } else if (std::strcmp(argv[i], "--peer-workload") == 0) {
      s.peer_workload = true;
    } else {
      std::fprintf(stderr, "usage: bench_engine [--dir DIR] [--depths a,b] [--threads a,b] [--durability full|normal] "
                           "[--latency-samples N] [--keep-completed DUR] [--peer-workload] [--db postgres://…]\n");
      return 2;
    }
  }
  fs::create_directories(s.dir);
  if (s.peer_workload) {
    run_peer_workload(s);
  } else {
    run_depths(s);
  }
  fs::remove_all(s.dir);
  return 0;
}
