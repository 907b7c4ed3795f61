// A real `quern serve` for the benchmarks that measure it over HTTP: started on a free
// port of 127.0.0.1 with no worker slots, awaited on /healthz, stopped by its pid.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <httplib.h>

extern char** environ;

namespace quern::bench {

// A port of 127.0.0.1 free at the time of asking.
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::perror("free port");
    std::exit(1);
  }
  const int port = ntohs(address.sin_port);
  ::close(fd);
  return port;
}

// Starts `quern serve` (no worker slots) on `db` and `port`, its output in `log`; exits
// the benchmark (named `program` in the message) if it cannot.
inline pid_t start_serve(const std::string& quern, const std::filesystem::path& db, int port,
                         const std::filesystem::path& log, const char* program) {
  std::vector<std::string> args = {quern, "serve", "--db", db.string(), "--listen",
                                   fmt::format("127.0.0.1:{}", port), "--concurrency", "0"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    fmt::print(stderr, "{}: cannot start {}: {}\n", program, quern, std::strerror(rc));
    std::exit(1);
  }
  return pid;
}

// SIGTERM, then wait; returns how the server ended, for the report.
inline std::string stop_serve(pid_t pid) {
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
  return "ended";
}

// Whether the server answered /healthz with 200 within a minute (false if it exited).
inline bool wait_until_healthy(httplib::Client& http, pid_t pid) {
  using namespace std::chrono_literals;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return false;
    auto response = http.Get("/healthz");
    if (response && response->status == 200) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

}  // namespace quern::bench
