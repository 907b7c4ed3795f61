// Cross-process enqueue→start latency: `quern worker` runs in one process and
// `quern add -- true` is run again and again from another, as a user would. Latency is
// the job's started_at (set when the worker claims it) minus its created_at (set when
// `quern add` enqueued it); both come from the same host clock. Prints numbers only.
//
//   bench_cross_process [--depths 1000,100000,1000000] [--samples 200] [--quern PATH]
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>

#include "bench_numbers.h"
#include "quern/client.h"

extern char** environ;

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using quern::bench::parse_int_list;
using quern::bench::percentile;

namespace {

// Starts a process with its stdout on /dev/null (the ids `quern add` prints).
pid_t spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    std::perror("posix_spawn");
    std::exit(1);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

int main(int argc, char** argv) {
  std::string quern = QUERN_BINARY;
  std::vector<int> depths = {1000, 100000, 1000000};
  int samples = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--depths") depths = parse_int_list(argv[i + 1]);
    else if (flag == "--samples") samples = std::stoi(argv[i + 1]);
    else if (flag == "--quern") quern = argv[i + 1];
  }
  fs::path dir = fs::temp_directory_path() / ("quern-bench-xproc-" + std::to_string(getpid()));
  fs::create_directories(dir);
  fmt::print("{:>9} {:>8} {:>12} {:>12} {:>12}\n", "depth", "samples", "p50 ms", "p99 ms", "max ms");
  for (int depth : depths) {
    const std::string db = (dir / ("x-" + std::to_string(depth) + ".db")).string();
    {
      // The backlog: `depth` jobs scheduled for tomorrow, in the table but not claimable.
      auto client = quern::Client::open(db);
      std::vector<quern::NewJob> batch(1000);
      for (auto& j : batch) {
        j.type = "shell";
        j.payload = {{"command", {"true"}}};
        j.run_at = client->clock().now() + std::chrono::hours(24);
      }
      for (int done = 0; done < depth; done += 1000) client->enqueue_many(batch);
    }
    pid_t worker = spawn({quern, "--db", db, "worker", "--concurrency", "4"});
    std::this_thread::sleep_for(300ms);
    for (int i = 0; i < samples; ++i) {
      if (wait_exit(spawn({quern, "--db", db, "add", "--", "true"})) != 0) {
        fmt::print(stderr, "quern add failed\n");
        return 1;
      }
      std::this_thread::sleep_for(10ms);
    }
    auto client = quern::Client::open(db);
    quern::JobFilter filter;
    filter.states = {quern::JobState::kCompleted};
    filter.limit = samples;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    std::vector<quern::Job> done;
    while (std::chrono::steady_clock::now() < deadline) {
      done = client->list(filter);
      if (static_cast<int>(done.size()) >= samples) break;
      std::this_thread::sleep_for(50ms);
    }
    kill(worker, SIGTERM);
    wait_exit(worker);
    std::vector<double> latencies;
    for (const auto& job : done) {
      if (job.started_at) {
        latencies.push_back(std::chrono::duration<double, std::milli>(*job.started_at - job.created_at).count());
      }
    }
    fmt::print("{:>9} {:>8} {:>12.2f} {:>12.2f} {:>12.2f}\n", depth, latencies.size(), percentile(latencies, 0.5),
               percentile(latencies, 0.99), percentile(latencies, 1.0));
    std::fflush(stdout);
  }
  fs::remove_all(dir);
  return 0;
}
