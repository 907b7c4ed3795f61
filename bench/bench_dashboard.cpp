// The dashboard's requests at scale: a SQLite database with a million jobs in mixed
// states (completed, failed, scheduled, available; 8 queues, 16 types, some tagged),
// served by a real `quern serve`. Times the requests the dashboard makes — the counts
// (GET /api/v1/stats) and 50-job list pages: the first page, a deep page reached by
// cursor, pages filtered by state, queue, type and tag — and prints p50/p99 per request,
// each on a new connection and on a kept-alive one (what a browser uses). Prints
// numbers, never passes or fails.
//
//   bench_dashboard [--jobs 1000000] [--requests 200] [--dir DIR] [--keep] [--quern PATH]
//
// --keep leaves the database in DIR and reuses it on the next run with the same --jobs.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <httplib.h>

#include "bench_numbers.h"
#include "core/host_identity.h"
#include "quern/client.h"
#include "serve_process.h"
#include "store/store.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using quern::bench::parse_int_list;
using quern::bench::percentile;
using quern::Json;

namespace {

using Steady = std::chrono::steady_clock;
using quern::bench::free_port;
using quern::bench::start_serve;
using quern::bench::stop_serve;
using quern::bench::wait_until_healthy;

constexpr int kQueues = 8;
constexpr int kTypes = 16;
constexpr int kBatch = 10000;
constexpr int kPageSize = 50;

struct Settings {
  int jobs = 1000000;
  int requests = 200;
  fs::path dir = fs::temp_directory_path() / ("quern-bench-dashboard-" + std::to_string(::getpid()));
  bool keep = false;
  std::string quern = QUERN_BINARY;
};

double seconds_since(Steady::time_point start) { return std::chrono::duration<double>(Steady::now() - start).count(); }

// What each of the `jobs` becomes, by its position in its batch: 60% completed, 5%
// failed, 10% scheduled an hour or more ahead, 25% left available.
enum class Fate { kCompleted, kFailed, kScheduled, kAvailable };
Fate fate_of(int i) {
  const int slot = i % 20;
  if (slot < 12) return Fate::kCompleted;
  if (slot < 13) return Fate::kFailed;
  if (slot < 15) return Fate::kScheduled;
  return Fate::kAvailable;
}

// Enqueues a batch, then claims and finishes the jobs meant to complete or fail. Those
// get the higher priority, so the claim takes exactly them (older batches' available
// jobs wait at the lower one).
void fill_database(const fs::path& db, int total) {
  quern::ClientOptions options;
  options.durable = false;  // the bench measures reads; filling needs no fsync per batch
  auto client = quern::Client::open(db.string(), options);
  quern::Store& store = *client->store();
  const std::string owner = quern::this_process_owner();
  const auto start = Steady::now();
  std::vector<quern::NewJob> batch;
  for (int done = 0; done < total;) {
    const int n = std::min(kBatch, total - done);
    const quern::Time now = client->clock().now();
    batch.clear();
    int to_finish = 0;
    for (int k = 0; k < n; ++k) {
      const int i = done + k;
      quern::NewJob job;
      job.queue = fmt::format("q{}", (i + i / 20) % kQueues);  // every fate in every queue
      job.type = fmt::format("t{}", (i / 3) % kTypes);
      job.payload = {{"file", fmt::format("/media/library/item-{}.mkv", i)}, {"n", i}};
      if (i % 7 == 0) job.tags = {"nightly"};
      if (i % 5000 == 1) {  // a needle: a rare queue, type and tag (200 jobs in a million)
        job.queue = "rare";
        job.type = "rare";
        job.tags.push_back("disc-4711");
      }
      const Fate fate = fate_of(i);
      if (fate == Fate::kCompleted || fate == Fate::kFailed) {
        job.priority = quern::kPriorityHigh;
        ++to_finish;
      } else {
        job.priority = quern::kPriorityNormal;
        if (fate == Fate::kScheduled) job.run_at = now + std::chrono::hours(1) + std::chrono::seconds(i % 3600);
      }
      batch.push_back(std::move(job));
    }
    client->enqueue_many(batch);
    for (int finished = 0; finished < to_finish;) {
      quern::ClaimParams claim;
      claim.max = to_finish - finished;
      claim.owner = owner;
      claim.lease = std::chrono::minutes(10);
      claim.now = client->clock().now();
      std::vector<quern::Job> claimed = store.claim_jobs(claim);
      if (claimed.empty()) throw std::runtime_error("claim returned nothing while filling the database");
      std::vector<quern::JobFinish> finishes;
      for (const quern::Job& job : claimed) {
        quern::JobFinish finish;
        finish.id = job.id;
        finish.attempt = job.attempt;
        const bool fail = fate_of(static_cast<int>(job.payload["n"].get<int64_t>())) == Fate::kFailed;
        finish.outcome = fail ? quern::FinishOutcome::kFail : quern::FinishOutcome::kCompleted;
        if (fail) finish.error = "exit status 1";
        finishes.push_back(std::move(finish));
      }
      store.finish_jobs(finishes, client->clock().now());
      finished += static_cast<int>(claimed.size());
    }
    done += n;
    if (done % 100000 == 0 || done == total) {
      fmt::print("  filled {:>8} jobs  {:6.1f} s\n", done, seconds_since(start));
      std::fflush(stdout);
    }
  }
}

// GETs `path`; exits with the answer if it is not 200.
Json get_json(httplib::Client& http, const std::string& path) {
  auto response = http.Get(path.c_str());
  if (!response || response->status != 200) {
    fmt::print(stderr, "bench_dashboard: GET {} failed: {}\n", path,
               response ? fmt::format("{} {}", response->status, response->body) : httplib::to_string(response.error()));
    std::exit(1);
  }
  return Json::parse(response->body);
}

// A cursor `pages` pages deep, newest first, found the way the dashboard pages.
std::string deep_cursor(httplib::Client& http, int pages) {
  std::string cursor;
  for (int i = 0; i < pages; ++i) {
    Json page = get_json(http, fmt::format("/api/v1/jobs?limit={}&order=desc{}", kPageSize,
                                           cursor.empty() ? "" : "&cursor=" + cursor));
    if (page["next_cursor"].is_null()) break;
    cursor = page["next_cursor"].get<std::string>();
  }
  return cursor;
}

struct Timing {
  std::string what;
  size_t rows = 0;
  double target_ms = 0;
  std::vector<double> fresh_ms;       // a new connection per request (as curl does)
  std::vector<double> keep_alive_ms;  // one kept-alive connection (as a browser does)
};

double time_get(httplib::Client& http, const std::string& path, Json& answer) {
  const auto start = Steady::now();
  answer = get_json(http, path);
  return std::chrono::duration<double, std::milli>(Steady::now() - start).count();
}

Timing time_requests(int port, httplib::Client& kept_alive, const std::string& what, const std::string& path,
                     int requests, double target_ms) {
  Timing t{what, 0, target_ms, {}, {}};
  Json answer;
  for (int i = 0; i < 5; ++i) time_get(kept_alive, path, answer);  // warm the caches first
  for (int i = 0; i < requests; ++i) {
    httplib::Client fresh("127.0.0.1", port);
    fresh.set_keep_alive(false);
    t.fresh_ms.push_back(time_get(fresh, path, answer));
    t.keep_alive_ms.push_back(time_get(kept_alive, path, answer));
  }
  if (answer.contains("jobs")) t.rows = answer["jobs"].size();
  if (answer.contains("buckets")) t.rows = answer["buckets"].size();
  return t;
}

Settings parse_arguments(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "bench_dashboard: {} needs a value\n", arg);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--jobs") s.jobs = std::stoi(value());
    else if (arg == "--requests") s.requests = std::stoi(value());
    else if (arg == "--dir") s.dir = value();
    else if (arg == "--keep") s.keep = true;
    else if (arg == "--quern") s.quern = value();
    else {
      fmt::print(stderr, "usage: bench_dashboard [--jobs N] [--requests N] [--dir DIR] [--keep] [--quern PATH]\n");
      std::exit(2);
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const Settings s = parse_arguments(argc, argv);
  fs::create_directories(s.dir);
  const fs::path db = s.dir / fmt::format("dashboard-{}.db", s.jobs);
  const fs::path filled_marker = db.string() + ".filled";
  if (!fs::exists(filled_marker)) {
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db.string() + suffix);
    fmt::print("filling {} with {} jobs (60% completed, 5% failed, 10% scheduled, 25% available)\n", db.string(),
               s.jobs);
    fill_database(db, s.jobs);
    std::ofstream(filled_marker) << s.jobs << "\n";
  } else {
    fmt::print("reusing {}\n", db.string());
  }

  const int port = free_port();
  const pid_t server = start_serve(s.quern, db, port, s.dir / "serve.log", "bench_dashboard");
  httplib::Client http("127.0.0.1", port);
  http.set_keep_alive(true);
  http.set_read_timeout(30, 0);
  if (!wait_until_healthy(http, server)) {
    fmt::print(stderr, "bench_dashboard: quern serve did not become healthy; see {}\n", (s.dir / "serve.log").string());
    stop_serve(server);
    return 1;
  }

  const int deep_pages = 200;
  const auto walk_start = Steady::now();
  const std::string cursor = deep_cursor(http, deep_pages);
  const double walk_ms = std::chrono::duration<double, std::milli>(Steady::now() - walk_start).count();

  const std::string page = fmt::format("limit={}&order=desc", kPageSize);
  std::vector<Timing> timings;
  auto run = [&](const std::string& what, const std::string& path, double target_ms) {
    timings.push_back(time_requests(port, http, what, path, s.requests, target_ms));
  };
  run("GET /api/v1/stats", "/api/v1/stats", 20);
  run("GET /api/v1/queues", "/api/v1/queues", 20);
  run("jobs: first page", "/api/v1/jobs?" + page, 50);
  run(fmt::format("jobs: page {} (cursor)", deep_pages + 1), "/api/v1/jobs?" + page + "&cursor=" + cursor, 50);
  run("jobs: state=available", "/api/v1/jobs?state=available&" + page, 50);
  run("jobs: state=running (none)", "/api/v1/jobs?state=running&" + page, 50);
  run("jobs: state=failed", "/api/v1/jobs?state=failed&" + page, 50);
  run("jobs: state=scheduled", "/api/v1/jobs?state=scheduled&" + page, 50);
  run("jobs: queue=q3", "/api/v1/jobs?queue=q3&" + page, 50);
  run("jobs: queue=q3 state=failed", "/api/v1/jobs?queue=q3&state=failed&" + page, 50);
  run("jobs: type=t5", "/api/v1/jobs?type=t5&" + page, 50);
  run("jobs: tag=nightly state=failed", "/api/v1/jobs?tag=nightly&state=failed&" + page, 50);
  run("jobs: q3 t5 nightly completed", "/api/v1/jobs?queue=q3&type=t5&tag=nightly&state=completed&" + page, 50);
  // Rare filters (200 jobs of a million) and ones matching nothing: each walks the
  // index of its rarest part, never every job.
  run("jobs: queue=rare", "/api/v1/jobs?queue=rare&" + page, 50);
  run("jobs: type=rare state=completed", "/api/v1/jobs?type=rare&state=completed&" + page, 50);
  run("jobs: tag=disc-4711", "/api/v1/jobs?tag=disc-4711&" + page, 50);
  run("jobs: queue matching nothing", "/api/v1/jobs?queue=no-such-queue&" + page, 50);
  run("jobs: type matching nothing", "/api/v1/jobs?type=no-such-type&state=completed&" + page, 50);
  run("jobs: tag matching nothing", "/api/v1/jobs?tag=no-such-tag&" + page, 50);
  run("jobs: first page, ascending", fmt::format("/api/v1/jobs?limit={}", kPageSize), 50);
  run("GET /api/v1/throughput", "/api/v1/throughput?minutes=60", 50);
  stop_serve(server);

  fmt::print("\n{} jobs; {} requests each, on a new connection and on one kept-alive connection; "
             "walking {} pages by cursor took {:.0f} ms\n",
             s.jobs, s.requests, deep_pages, walk_ms);
  fmt::print("{:<32} {:>5} {:>9} {:>9} {:>11} {:>11} {:>8}\n", "request", "rows", "new p50", "new p99", "alive p50",
             "alive p99", "target");
  for (const Timing& t : timings) {
    const double p99 = percentile(t.fresh_ms, 0.99);
    fmt::print("{:<32} {:>5} {:>9.2f} {:>9.2f} {:>11.2f} {:>11.2f} {:>5.0f} ms{}\n", t.what, t.rows,
               percentile(t.fresh_ms, 0.5), p99, percentile(t.keep_alive_ms, 0.5), percentile(t.keep_alive_ms, 0.99),
               t.target_ms, p99 <= t.target_ms ? "" : "  (over)");
  }
  if (!s.keep) fs::remove_all(s.dir);
  return 0;
}
