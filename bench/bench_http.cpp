// `quern serve` under load, over real HTTP on 127.0.0.1: a real server process (no
// local worker slots) on a fresh SQLite database, driven by client threads that each
// keep one connection alive. Measures
//   1. enqueue: single jobs (POST /api/v1/jobs) from 1, 8, 32 connections → requests/s
//      and latency p50/p99/max; batches of 100 jobs ({"jobs":[…]}) → jobs/s and p99;
//   2. remote workers: lease (POST /api/v1/leases) then complete (POST
//      /api/v1/jobs/{id}/complete) over a pre-enqueued backlog → jobs/s, and p50/p99 of
//      each request;
//   3. memory: with 2 listeners (--listeners) on GET /api/v1/events, a sustained mix
//      of enqueue, lease, progress heartbeat and complete for an hour's worth of events
//      (default 100 events/s × 3600 s = 360,000), run as fast as it goes; the server's
//      VmRSS is sampled at the start, every 10% and at the end.
// Prints numbers; exits 1 only if the server gave an unexpected answer (listed at the end).
//
//   bench_http [--quick] [--requests N] [--batches N] [--backlog N] [--threads 1,8,32]
//              [--events N] [--mix-threads N] [--listeners N] [--dir DIR] [--keep]
//              [--quern PATH]
//
// --quick (under a minute): 400 requests, 20 batches, 400 jobs, 1 and 8 connections,
// 20,000 events. Clients set TCP_NODELAY: without it each POST stalls ~40 ms.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
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
#include <httplib.h>

#include "bench_numbers.h"
#include "quern/job.h"
#include "serve_process.h"

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

constexpr int kBatchSize = 100;
constexpr int kRssSamples = 10;  // one every 10% of the events
constexpr int kMaxSseListeners = 16;
constexpr int kMaxErrorsShown = 5;

struct Settings {
  int requests = 5000;      // single enqueues per row, shared by the row's threads
  int batches = 200;        // batch requests per row (of kBatchSize jobs each)
  int backlog = 5000;       // jobs leased and completed per row
  std::vector<int> threads = {1, 8, 32};
  int64_t events = 360000;  // 100 events/s × 3600 s
  int mix_threads = 4;
  int listeners = 2;  // SSE clients during the event mix
  fs::path dir = fs::temp_directory_path() / ("quern-bench-http-" + std::to_string(::getpid()));
  bool keep = false;
  std::string quern = QUERN_BINARY;
};

double ms_since(Steady::time_point start) {
  return std::chrono::duration<double, std::milli>(Steady::now() - start).count();
}

double max_of(const std::vector<double>& v) { return v.empty() ? 0 : *std::max_element(v.begin(), v.end()); }

// Unexpected answers, counted, with the first few kept as evidence.
class ErrorLog {
 public:
  void add(const std::string& what) {
    std::lock_guard lock(mutex_);
    ++count_;
    if (shown_.size() < kMaxErrorsShown) shown_.push_back(what);
  }
  int count() const {
    std::lock_guard lock(mutex_);
    return count_;
  }
  void print() const {
    std::lock_guard lock(mutex_);
    for (const auto& line : shown_) fmt::print("  error: {}\n", line);
  }

 private:
  mutable std::mutex mutex_;
  int count_ = 0;
  std::vector<std::string> shown_;
};

ErrorLog errors;

struct ProcessSample {
  long rss_kb = 0;
  long hwm_kb = 0;
  long threads = 0;
  long fds = 0;
};

ProcessSample sample_process(pid_t pid) {
  ProcessSample sample;
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line)) {
    auto field = [&](std::string_view name, long& out) {
      if (line.rfind(name, 0) == 0) out = std::stol(line.substr(name.size()));
    };
    field("VmRSS:", sample.rss_kb);
    field("VmHWM:", sample.hwm_kb);
    field("Threads:", sample.threads);
  }
  std::error_code error;
  for (auto it = fs::directory_iterator(fmt::format("/proc/{}/fd", pid), error); !error && it != fs::directory_iterator();
       it.increment(error)) {
    ++sample.fds;
  }
  return sample;
}

std::unique_ptr<httplib::Client> connect(int port) {
  auto http = std::make_unique<httplib::Client>("127.0.0.1", port);
  http->set_keep_alive(true);
  // Without it a POST's body waits for the ACK of its headers (Nagle against delayed
  // ACK): ~40 ms per request, whatever the server does.
  http->set_tcp_nodelay(true);
  http->set_read_timeout(30, 0);
  http->set_write_timeout(30, 0);
  return http;
}

// POSTs `body`; the answer's JSON if the status is `expected`, else null (and counted).
Json post(httplib::Client& http, const std::string& path, const Json& body, int expected, double& ms) {
  const auto start = Steady::now();
  auto response = http.Post(path.c_str(), body.dump(), "application/json");
  ms = ms_since(start);
  if (!response) {
    errors.add(fmt::format("POST {}: {}", path, httplib::to_string(response.error())));
    return nullptr;
  }
  if (response->status != expected) {
    errors.add(fmt::format("POST {}: {} {}", path, response->status, response->body.substr(0, 200)));
    return nullptr;
  }
  return Json::parse(response->body);
}

Json new_job(const std::string& queue, int64_t n) {
  return {{"type", "bench.transcode"}, {"queue", queue}, {"payload", {{"file", fmt::format("/media/item-{}.mkv", n)}, {"n", n}}}};
}

// Runs `threads` threads, each given its index and one kept-alive connection.
template <typename Body>
double run_threads(int port, int threads, Body body) {
  std::vector<std::thread> pool;
  const auto start = Steady::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      auto http = connect(port);
      body(t, *http);
    });
  }
  for (auto& thread : pool) thread.join();
  return ms_since(start) / 1000;
}

struct Row {
  std::string what;
  int threads = 0;
  int64_t count = 0;  // requests, jobs or lease/complete pairs
  double seconds = 0;
  std::vector<double> ms;        // the request timed
  std::vector<double> second_ms; // complete, in the lease/complete rows
  int errors = 0;
};

Row bench_single_enqueue(int port, int threads, int requests) {
  Row row;
  row.what = "enqueue 1 job";
  row.threads = threads;
  std::mutex mutex;
  const int before = errors.count();
  const std::string queue = fmt::format("enqueue-{}", threads);
  row.seconds = run_threads(port, threads, [&](int t, httplib::Client& http) {
    std::vector<double> mine;
    for (int i = t; i < requests; i += threads) {
      double ms = 0;
      post(http, "/api/v1/jobs", new_job(queue, i), 201, ms);
      mine.push_back(ms);
    }
    std::lock_guard lock(mutex);
    row.ms.insert(row.ms.end(), mine.begin(), mine.end());
  });
  row.count = static_cast<int64_t>(row.ms.size());
  row.errors = errors.count() - before;
  return row;
}

Row bench_batch_enqueue(int port, int threads, int batches) {
  Row row;
  row.what = fmt::format("enqueue batch of {}", kBatchSize);
  row.threads = threads;
  std::mutex mutex;
  const int before = errors.count();
  const std::string queue = fmt::format("batch-{}", threads);
  row.seconds = run_threads(port, threads, [&](int t, httplib::Client& http) {
    std::vector<double> mine;
    for (int b = t; b < batches; b += threads) {
      Json jobs = Json::array();
      for (int k = 0; k < kBatchSize; ++k) jobs.push_back(new_job(queue, int64_t{b} * kBatchSize + k));
      double ms = 0;
      const Json answer = post(http, "/api/v1/jobs", {{"jobs", std::move(jobs)}}, 201, ms);
      if (!answer.is_null() && answer["jobs"].size() != kBatchSize) errors.add("batch enqueue answered the wrong count");
      mine.push_back(ms);
    }
    std::lock_guard lock(mutex);
    row.ms.insert(row.ms.end(), mine.begin(), mine.end());
  });
  row.count = static_cast<int64_t>(row.ms.size()) * kBatchSize;
  row.errors = errors.count() - before;
  return row;
}

void enqueue_backlog(int port, const std::string& queue, int jobs) {
  auto http = connect(port);
  for (int done = 0; done < jobs; done += kBatchSize * 10) {
    Json list = Json::array();
    for (int k = done; k < std::min(jobs, done + kBatchSize * 10); ++k) list.push_back(new_job(queue, k));
    double ms = 0;
    if (post(*http, "/api/v1/jobs", {{"jobs", std::move(list)}}, 201, ms).is_null()) {
      fmt::print(stderr, "bench_http: could not enqueue the backlog\n");
      errors.print();
      std::exit(1);
    }
  }
}

// Leases one job of `queue` for `worker`; the job, or null when none came within `wait`.
Json lease_one(httplib::Client& http, const std::string& worker, const std::string& queue, const char* wait, double& ms) {
  const Json answer = post(http, "/api/v1/leases", {{"worker", worker}, {"queues", Json::array({queue})}, {"max", 1}, {"wait", wait}}, 200, ms);
  if (answer.is_null() || answer["jobs"].empty()) return nullptr;
  return answer["jobs"][0];
}

Row bench_lease_complete(int port, int threads, int backlog) {
  Row row;
  row.what = "lease + complete";
  row.threads = threads;
  const std::string queue = fmt::format("lease-{}", threads);
  enqueue_backlog(port, queue, backlog);
  std::mutex mutex;
  const int before = errors.count();
  const auto start = Steady::now();
  Steady::time_point last_done = start;
  run_threads(port, threads, [&](int t, httplib::Client& http) {
    std::vector<double> lease_ms, complete_ms;
    Steady::time_point my_last = start;
    const std::string worker = fmt::format("bench-{}", t);
    while (true) {
      double ms = 0;
      // A short wait: with the backlog drained, the empty answer ends this worker.
      const Json job = lease_one(http, worker, queue, "100ms", ms);
      if (job.is_null()) break;
      lease_ms.push_back(ms);
      const std::string path = fmt::format("/api/v1/jobs/{}/complete", job["id"].get<int64_t>());
      post(http, path, {{"attempt", job["attempt"]}, {"result", {{"ok", true}}}}, 200, ms);
      complete_ms.push_back(ms);
      my_last = Steady::now();
    }
    std::lock_guard lock(mutex);
    row.ms.insert(row.ms.end(), lease_ms.begin(), lease_ms.end());
    row.second_ms.insert(row.second_ms.end(), complete_ms.begin(), complete_ms.end());
    last_done = std::max(last_done, my_last);
  });
  row.seconds = std::chrono::duration<double>(last_done - start).count();  // not the final empty waits
  row.count = static_cast<int64_t>(row.second_ms.size());
  row.errors = errors.count() - before;
  if (row.count != backlog) errors.add(fmt::format("lease+complete with {} threads finished {} of {} jobs", threads, row.count, backlog));
  return row;
}

// One reader of GET /api/v1/events that throws everything away but counts it, and
// reconnects with Last-Event-ID if the server drops it.
class EventListenerClient {
 public:
  explicit EventListenerClient(int port) : http_("127.0.0.1", port) {
    http_.set_read_timeout(60, 0);
    thread_ = std::thread([this] { run(); });
  }
  ~EventListenerClient() { stop(); }

  void stop() {
    stopping_ = true;
    while (!done_) {
      http_.stop();
      std::this_thread::sleep_for(20ms);
    }
    if (thread_.joinable()) thread_.join();
  }

  int64_t events() const { return events_; }
  int64_t bytes() const { return bytes_; }
  int reconnects() const { return reconnects_; }

 private:
  void run() {
    bool first = true;
    while (!stopping_) {
      httplib::Headers headers;
      if (last_id_ > 0) headers.emplace("Last-Event-ID", std::to_string(last_id_));
      if (!first) ++reconnects_;
      first = false;
      http_.Get("/api/v1/events", headers, [this](const char* data, size_t length) {
        bytes_ += static_cast<int64_t>(length);
        take(std::string_view(data, length));
        return !stopping_;
      });
      if (!stopping_) std::this_thread::sleep_for(100ms);  // as a browser's EventSource retries
    }
    done_ = true;
  }

  // Counts events and keeps the last id; a line may be split across chunks.
  void take(std::string_view chunk) {
    partial_.append(chunk);
    size_t start = 0;
    for (size_t end; (end = partial_.find('\n', start)) != std::string::npos; start = end + 1) {
      std::string_view line(partial_.data() + start, end - start);
      if (line.rfind("event: ", 0) == 0) ++events_;
      if (line.rfind("id: ", 0) == 0) last_id_ = std::stoll(std::string(line.substr(4)));
    }
    partial_.erase(0, start);
  }

  httplib::Client http_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> done_{false};
  std::atomic<int64_t> events_{0};
  std::atomic<int64_t> bytes_{0};
  std::atomic<int> reconnects_{0};
  int64_t last_id_ = 0;   // the listener thread's
  std::string partial_;   // the listener thread's
  std::thread thread_;
};

struct RssPoint {
  std::string when;
  int64_t events = 0;
  ProcessSample sample;
};

struct MixResult {
  double seconds = 0;
  int64_t events = 0;
  int64_t jobs = 0;
  std::vector<RssPoint> points;
  int64_t sse_events[kMaxSseListeners] = {};
  int64_t sse_bytes[kMaxSseListeners] = {};
  int sse_reconnects[kMaxSseListeners] = {};
  int listeners = 0;
  int errors = 0;
};

// Each mix thread loops: enqueue a job, lease one (perhaps another thread's), send a
// progress heartbeat, complete it. Each of the four requests is one event: a state
// change or a progress update that the event stream carries.
MixResult bench_event_mix(int port, pid_t server, int threads, int listener_count, int64_t events) {
  MixResult result;
  const int before = errors.count();
  std::vector<std::unique_ptr<EventListenerClient>> listeners;
  for (int i = 0; i < listener_count; ++i) listeners.push_back(std::make_unique<EventListenerClient>(port));
  result.points.push_back({"start", 0, sample_process(server)});

  std::atomic<int64_t> counted{0};
  std::atomic<int64_t> jobs{0};
  std::atomic<bool> failed{false};
  const auto start = Steady::now();
  std::thread driver([&] {
    run_threads(port, threads, [&](int t, httplib::Client& http) {
      const std::string worker = fmt::format("mix-{}", t);
      int64_t n = 0;
      while (counted.load() < events && !failed) {
        double ms = 0;
        if (post(http, "/api/v1/jobs", new_job("mix", int64_t{t} << 32 | n++), 201, ms).is_null()) break;
        const Json job = lease_one(http, worker, "mix", "5s", ms);
        if (job.is_null()) {
          errors.add("a mix lease got no job within 5 s though every thread enqueues before it leases");
          failed = true;
          break;
        }
        const std::string id = std::to_string(job["id"].get<int64_t>());
        if (post(http, "/api/v1/jobs/" + id + "/heartbeat",
                 {{"attempt", job["attempt"]}, {"progress", 0.5}, {"stage", "encoding"}}, 200, ms)
                .is_null() ||
            post(http, "/api/v1/jobs/" + id + "/complete", {{"attempt", job["attempt"]}, {"result", {{"bytes", n}}}}, 200, ms)
                .is_null()) {
          failed = true;
          break;
        }
        counted += 4;
        ++jobs;
      }
    });
  });
  // Samples as the count passes each tenth of `events`.
  for (int next = 1; next <= kRssSamples;) {
    const int64_t now = counted.load();
    if (now >= events * next / kRssSamples) {
      result.points.push_back({fmt::format("{:>3}%", next * 100 / kRssSamples), now, sample_process(server)});
      fmt::print("  {:>3}%  {:>8} events  {:6.1f} s  VmRSS {:>7} kB\n", next * 100 / kRssSamples, now, ms_since(start) / 1000,
                 result.points.back().sample.rss_kb);
      std::fflush(stdout);
      ++next;
      continue;
    }
    if (failed) break;
    std::this_thread::sleep_for(10ms);
  }
  driver.join();
  result.seconds = ms_since(start) / 1000;
  result.events = counted;
  result.jobs = jobs;
  result.points.push_back({"end", counted, sample_process(server)});
  // Long enough for every kept-alive connection (2 s) and its idle thread to go.
  std::this_thread::sleep_for(5s);
  result.points.push_back({"end+5s", counted, sample_process(server)});
  result.listeners = listener_count;
  for (int i = 0; i < listener_count; ++i) {
    listeners[i]->stop();
    result.sse_events[i] = listeners[i]->events();
    result.sse_bytes[i] = listeners[i]->bytes();
    result.sse_reconnects[i] = listeners[i]->reconnects();
  }
  result.errors = errors.count() - before;
  return result;
}

Settings parse_arguments(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "bench_http: {} needs a value\n", arg);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--quick") {
      s.requests = 400;
      s.batches = 20;
      s.backlog = 400;
      s.threads = {1, 8};
      s.events = 20000;
    } else if (arg == "--requests") {
      s.requests = std::stoi(value());
    } else if (arg == "--batches") {
      s.batches = std::stoi(value());
    } else if (arg == "--backlog") {
      s.backlog = std::stoi(value());
    } else if (arg == "--threads") {
      s.threads = parse_int_list(value());
    } else if (arg == "--events") {
      s.events = std::stoll(value());
    } else if (arg == "--mix-threads") {
      s.mix_threads = std::stoi(value());
    } else if (arg == "--listeners") {
      s.listeners = std::clamp(std::stoi(value()), 0, kMaxSseListeners);
    } else if (arg == "--dir") {
      s.dir = value();
    } else if (arg == "--keep") {
      s.keep = true;
    } else if (arg == "--quern") {
      s.quern = value();
    } else {
      fmt::print(stderr,
                 "usage: bench_http [--quick] [--requests N] [--batches N] [--backlog N] [--threads 1,8,32]\n"
                 "                  [--events N] [--mix-threads N] [--listeners N] [--dir DIR] [--keep] [--quern PATH]\n");
      std::exit(2);
    }
  }
  return s;
}

void print_rows(const std::vector<Row>& rows) {
  fmt::print("\n{:<22} {:>7} {:>8} {:>8} {:>10} {:>9} {:>9} {:>9} {:>7}\n", "load", "conns", "count", "seconds", "per s",
             "p50 ms", "p99 ms", "max ms", "errors");
  for (const Row& row : rows) {
    fmt::print("{:<22} {:>7} {:>8} {:>8.2f} {:>10.0f} {:>9.2f} {:>9.2f} {:>9.1f} {:>7}\n", row.what, row.threads, row.count,
               row.seconds, row.seconds > 0 ? row.count / row.seconds : 0, percentile(row.ms, 0.5),
               percentile(row.ms, 0.99), max_of(row.ms), row.errors);
    if (!row.second_ms.empty()) {
      fmt::print("{:<22} {:>7} {:>8} {:>8} {:>10} {:>9.2f} {:>9.2f} {:>9.1f}\n", "  of which complete", "", "", "", "",
                 percentile(row.second_ms, 0.5), percentile(row.second_ms, 0.99), max_of(row.second_ms));
    }
  }
  fmt::print("(enqueue 1 job: per s = requests/s; batch: per s = jobs/s, latency per request; "
             "lease + complete: per s = pairs/s, first latency line = lease)\n");
}

void print_mix(const MixResult& mix, int threads) {
  fmt::print("\nhour-equivalent: {} events (enqueue, lease, heartbeat, complete; {} jobs) from {} connections "
             "in {:.1f} s = {:.0f} events/s, {} errors; {} SSE listeners\n",
             mix.events, mix.jobs, threads, mix.seconds, mix.seconds > 0 ? mix.events / mix.seconds : 0, mix.errors,
             mix.listeners);
  for (int i = 0; i < mix.listeners; ++i) {
    fmt::print("  listener {}: {} events, {:.1f} MB, {} reconnects\n", i + 1, mix.sse_events[i], mix.sse_bytes[i] / 1e6,
               mix.sse_reconnects[i]);
  }
  fmt::print("{:<8} {:>9} {:>11} {:>11} {:>8} {:>5}\n", "sample", "events", "VmRSS kB", "VmHWM kB", "threads", "fds");
  for (const RssPoint& p : mix.points) {
    fmt::print("{:<8} {:>9} {:>11} {:>11} {:>8} {:>5}\n", p.when, p.events, p.sample.rss_kb, p.sample.hwm_kb,
               p.sample.threads, p.sample.fds);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Settings s = parse_arguments(argc, argv);
  fs::create_directories(s.dir);
  const fs::path db = s.dir / "bench.db";
  const fs::path log = s.dir / "serve.log";
  const int port = free_port();
  const pid_t server = start_serve(s.quern, db, port, log, "bench_http");
  {
    httplib::Client health("127.0.0.1", port);
    if (!wait_until_healthy(health, server)) {
      fmt::print(stderr, "bench_http: quern serve did not become healthy; see {}\n", log.string());
      stop_serve(server);
      return 1;
    }
  }
  const ProcessSample at_start = sample_process(server);
  fmt::print("quern serve pid {} on 127.0.0.1:{}, database {}; VmRSS at start {} kB\n", server, port, db.string(),
             at_start.rss_kb);
  std::fflush(stdout);

  std::vector<Row> rows;
  for (int threads : s.threads) rows.push_back(bench_single_enqueue(port, threads, s.requests));
  for (int threads : s.threads) rows.push_back(bench_batch_enqueue(port, threads, s.batches));
  for (int threads : s.threads) rows.push_back(bench_lease_complete(port, threads, s.backlog));
  print_rows(rows);
  std::fflush(stdout);

  fmt::print("\nevent mix: {} events with {} SSE listeners\n", s.events, s.listeners);
  const MixResult mix = bench_event_mix(port, server, s.mix_threads, s.listeners, s.events);
  print_mix(mix, s.mix_threads);

  const std::string ended = stop_serve(server);
  std::error_code error;
  const auto log_bytes = fs::file_size(log, error);
  const auto db_bytes = fs::file_size(db, error);
  fmt::print("\nserver stopped by SIGTERM: {}; serve.log {:.1f} MB, database {:.1f} MB; {} unexpected answers in all\n",
             ended, log_bytes / 1e6, db_bytes / 1e6, errors.count());
  errors.print();
  if (!s.keep) fs::remove_all(s.dir);
  return errors.count() == 0 ? 0 : 1;
}
