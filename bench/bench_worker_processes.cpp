// Workers in separate processes on one database, SQLite or PostgreSQL: drain jobs/s with
// 1, 4 and 16 worker processes (one no-op worker slot each), and enqueue→start latency
// across processes (this process enqueues one job at a time; an idle worker process
// claims it), at several queue depths. Prints numbers, never passes or fails.
//
//   bench_worker_processes [--db postgres://USER@HOST:PORT/DB | --dir DIR]
//                          [--depths 1000,100000,1000000] [--processes 1,4,16] [--samples 200]
//
// Each worker process is this program again (`--child URL`): a WorkerPool with one slot
// and a no-op handler. At each depth D and process count, D jobs are enqueued (batches
// of 1000) into a paused queue; the workers are started and report ready; the queue is
// resumed and timed until the store counts all D completed. Latency is a job's
// started_at (its claim) minus its created_at, both from the host's clock, with D jobs
// due tomorrow waiting in the table. PostgreSQL runs get a schema per depth, dropped
// at the end.
#include <libpq-fe.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>

#include "bench_numbers.h"
#include "quern/client.h"
#include "quern/worker_pool.h"

extern char** environ;

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using quern::bench::parse_int_list;
using quern::bench::percentile;
using Steady = std::chrono::steady_clock;

namespace {

std::atomic<quern::WorkerPool*> child_pool{nullptr};

// A worker process: one no-op slot until SIGTERM; touches `ready_file` once started.
int run_child(const std::string& url, const std::string& ready_file) {
  auto client = quern::Client::open(url);
  quern::WorkerPoolOptions options;
  options.concurrency = 1;
  quern::WorkerPool pool(client, options);
  pool.handle("noop", [](quern::JobContext&) { return quern::Outcome::completed(); });
  child_pool = &pool;
  std::signal(SIGTERM, [](int) {
    if (quern::WorkerPool* p = child_pool.load()) p->request_stop();
  });
  pool.start();
  std::fclose(std::fopen(ready_file.c_str(), "w"));
  pool.wait();
  return 0;
}

class WorkerProcesses {
 public:
  WorkerProcesses(const std::string& url, int count, const fs::path& dir) {
    for (int i = 0; i < count; ++i) {
      const std::string ready = (dir / ("ready-" + std::to_string(i))).string();
      fs::remove(ready);
      ready_files_.push_back(ready);
      std::vector<std::string> args = {"/proc/self/exe", "--child", url, ready};
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      pid_t pid = 0;
      if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
        std::perror("posix_spawn");
        std::exit(1);
      }
      pids_.push_back(pid);
    }
    const auto deadline = Steady::now() + 60s;
    for (const auto& ready : ready_files_) {
      while (!fs::exists(ready) && Steady::now() < deadline) std::this_thread::sleep_for(5ms);
    }
  }
  ~WorkerProcesses() {
    for (pid_t pid : pids_) kill(pid, SIGTERM);
    for (pid_t pid : pids_) waitpid(pid, nullptr, 0);
    for (const auto& ready : ready_files_) fs::remove(ready);
  }

 private:
  std::vector<pid_t> pids_;
  std::vector<std::string> ready_files_;
};

void enqueue_noops(quern::Client& client, int n, const std::string& queue, std::optional<quern::Time> run_at = {}) {
  std::vector<quern::NewJob> batch;
  for (int done = 0; done < n;) {
    const int k = std::min(1000, n - done);
    batch.assign(k, quern::NewJob{});
    for (auto& job : batch) {
      job.type = "noop";
      job.queue = queue;
      job.run_at = run_at;
    }
    client.enqueue_many(batch);
    done += k;
  }
}

// jobs/s for `processes` worker processes draining `depth` jobs.
double drain(quern::Client& client, const std::string& url, int processes, int depth, const fs::path& dir) {
  client.pause("bench");
  enqueue_noops(client, depth, "bench");
  const int64_t target = client.stats().total(quern::JobState::kCompleted) + depth;
  WorkerProcesses workers(url, processes, dir);
  const auto start = Steady::now();
  client.resume("bench");
  while (client.stats().total(quern::JobState::kCompleted) < target) std::this_thread::sleep_for(1ms);
  return depth / std::chrono::duration<double>(Steady::now() - start).count();
}

// Claim latencies (ms) of `samples` jobs enqueued 10 ms apart into idle worker processes.
std::vector<double> latency(quern::Client& client, const std::string& url, int samples, const fs::path& dir) {
  WorkerProcesses workers(url, 4, dir);
  std::this_thread::sleep_for(100ms);
  std::vector<quern::JobId> ids;
  for (int i = 0; i < samples; ++i) {
    quern::NewJob job;
    job.type = "noop";
    job.queue = "latency";
    ids.push_back(client.enqueue(job).job.id);
    std::this_thread::sleep_for(10ms);
  }
  std::vector<double> latencies;
  for (quern::JobId id : ids) {
    const quern::Job job = client.wait_final(id, 10s);
    if (job.started_at) {
      latencies.push_back(std::chrono::duration<double, std::milli>(*job.started_at - job.created_at).count());
    }
  }
  return latencies;
}

void drop_schema(const std::string& server_url, const std::string& schema) {
  PGconn* conn = PQconnectdb(server_url.c_str());
  if (PQstatus(conn) == CONNECTION_OK) {
    PQclear(PQexec(conn, ("SET client_min_messages TO warning; DROP SCHEMA IF EXISTS \"" + schema + "\" CASCADE").c_str()));
  }
  PQfinish(conn);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--child") == 0) return run_child(argv[2], argv[3]);
  std::string postgres_url;
  fs::path dir = fs::temp_directory_path() / ("quern-bench-procs-" + std::to_string(getpid()));
  std::vector<int> depths = {1000, 100000, 1000000};
  std::vector<int> processes = {1, 4, 16};
  int samples = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--db") postgres_url = argv[i + 1];
    else if (flag == "--dir") dir = argv[i + 1];
    else if (flag == "--depths") depths = parse_int_list(argv[i + 1]);
    else if (flag == "--processes") processes = parse_int_list(argv[i + 1]);
    else if (flag == "--samples") samples = std::stoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: bench_worker_processes [--db postgres://… | --dir DIR] [--depths a,b] "
                           "[--processes a,b] [--samples N]\n");
      return 2;
    }
  }
  fs::create_directories(dir);
  fmt::print("{}\n", postgres_url.empty() ? "SQLite (synchronous=FULL), one file per depth"
                                         : "PostgreSQL (" + postgres_url + "), a schema per depth");
  fmt::print("{:>9} {:>10} {:>14} {:>12} {:>12}\n", "depth", "processes", "drain jobs/s", "lat p50 ms", "lat p99 ms");
  for (int depth : depths) {
    std::string url;
    std::string schema;
    if (postgres_url.empty()) {
      url = (dir / ("depth-" + std::to_string(depth) + ".db")).string();
    } else {
      schema = "quern_bench_procs_" + std::to_string(depth) + "_" + std::to_string(getpid());
      url = postgres_url + (postgres_url.find('?') == std::string::npos ? "?" : "&") + "schema=" + schema;
    }
    {
      auto client = quern::Client::open(url);
      for (int count : processes) {
        const double rate = drain(*client, url, count, depth, dir);
        fmt::print("{:>9} {:>10} {:>14.0f} {:>12} {:>12}\n", depth, count, rate, "", "");
        std::fflush(stdout);
      }
      enqueue_noops(*client, depth, "bench", client->clock().now() + std::chrono::hours(24));
      const auto lat = latency(*client, url, samples, dir);
      fmt::print("{:>9} {:>10} {:>14} {:>12.2f} {:>12.2f}\n", depth, 4, "", percentile(lat, 0.5), percentile(lat, 0.99));
      std::fflush(stdout);
    }
    if (!schema.empty()) drop_schema(postgres_url, schema);
  }
  fs::remove_all(dir);
  return 0;
}
