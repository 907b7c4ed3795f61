// Runs the real `quern` binary (QUERN_BINARY) as a user would: argv passed as is (no
// shell, no quoting pitfalls), stdout, stderr and exit status captured. Each QuernCli
// has its own temp directory and database file.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

extern char** environ;

namespace quern::cli_test {

using Json = nlohmann::json;
using namespace std::chrono_literals;

struct CliResult {
  int status = -1;  // exit status; 128+N if killed by signal N
  std::string out;
  std::string err;

  // Lines of stderr (the contract: an error is exactly one line).
  size_t err_lines() const {
    size_t lines = 0;
    for (char c : err) lines += c == '\n';
    return lines;
  }
};

// What to run a program with, beyond its argv.
struct RunOptions {
  std::filesystem::path cwd;                      // empty: the test's own
  std::map<std::string, std::string> set_env;     // added or replaced
  std::vector<std::string> unset_env = {"QUERN_DB"};  // removed (QUERN_DB must not leak in)
  std::chrono::milliseconds deadline = 60s;       // killed past this (a hung command fails the test)
};

namespace detail {

inline void check_posix(int rc, const char* what) {
  if (rc != 0) throw std::system_error(rc, std::generic_category(), what);
}

inline std::vector<std::string> child_environment(const RunOptions& options) {
  std::map<std::string, std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text(*entry);
    const auto equals = text.find('=');
    if (equals != std::string::npos) env[text.substr(0, equals)] = text.substr(equals + 1);
  }
  for (const auto& name : options.unset_env) env.erase(name);
  for (const auto& [name, value] : options.set_env) env[name] = value;
  std::vector<std::string> result;
  for (const auto& [name, value] : env) result.push_back(name + "=" + value);
  return result;
}

inline std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (auto& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// Starts argv[0] with stdin from /dev/null and stdout/stderr to the given fds.
inline pid_t spawn(std::vector<std::string> argv, const RunOptions& options, int stdout_fd, int stderr_fd) {
  posix_spawn_file_actions_t actions;
  check_posix(posix_spawn_file_actions_init(&actions), "posix_spawn_file_actions_init");
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, stderr_fd, STDERR_FILENO);
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, options.cwd.c_str());
  std::vector<std::string> env = child_environment(options);
  auto argv_pointers = c_strings(argv);
  auto env_pointers = c_strings(env);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv_pointers[0], &actions, nullptr, argv_pointers.data(), env_pointers.data());
  posix_spawn_file_actions_destroy(&actions);
  check_posix(rc, "posix_spawn");
  return pid;
}

inline int decode_wait_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

inline void make_pipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
}

// Appends what is readable on fd to `sink`; false at end of file.
inline bool read_available(int fd, std::string& sink) {
  char buffer[65536];
  const ssize_t n = read(fd, buffer, sizeof buffer);
  if (n > 0) {
    sink.append(buffer, static_cast<size_t>(n));
    return true;
  }
  return n < 0 && (errno == EINTR || errno == EAGAIN);
}

}  // namespace detail

// Runs argv to completion and captures everything.
inline CliResult run_program(const std::vector<std::string>& argv, const RunOptions& options = {}) {
  int out_pipe[2];
  int err_pipe[2];
  detail::make_pipe(out_pipe);
  detail::make_pipe(err_pipe);
  const pid_t pid = detail::spawn(argv, options, out_pipe[1], err_pipe[1]);
  close(out_pipe[1]);
  close(err_pipe[1]);

  CliResult result;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  const auto deadline = std::chrono::steady_clock::now() + options.deadline;
  bool killed = false;
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) {
      kill(pid, SIGKILL);
      killed = true;
      break;
    }
    if (poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        if (!detail::read_available(fds[i].fd, *sinks[i])) {
          close(fds[i].fd);
          fds[i].fd = -1;
          --open_fds;
        }
      }
    }
  }
  for (auto& fd : fds) {
    if (fd.fd >= 0) close(fd.fd);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = detail::decode_wait_status(status);
  if (killed) ADD_FAILURE() << "killed after " << options.deadline.count() << " ms: " << argv[0];
  return result;
}

// A long-running child (a worker): stdout goes to a file, stderr is read as it comes.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv, const std::filesystem::path& stdout_file,
                    const RunOptions& options = {}) {
    const int out_fd = open(stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out_fd < 0) throw std::system_error(errno, std::generic_category(), "open " + stdout_file.string());
    int err_pipe[2];
    detail::make_pipe(err_pipe);
    pid_ = detail::spawn(argv, options, out_fd, err_pipe[1]);
    close(out_fd);
    close(err_pipe[1]);
    err_fd_ = err_pipe[0];
  }
  ~BackgroundProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (err_fd_ >= 0) close(err_fd_);
  }
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& err() const { return err_; }

  // Reads stderr until it contains `text`; false at end of file or past the deadline.
  bool wait_for_stderr(const std::string& text, std::chrono::milliseconds deadline = 30s) {
    return read_stderr_until([&] { return err_.find(text) != std::string::npos; }, deadline);
  }

  // Reads stderr until it holds a whole line starting with `prefix`.
  bool wait_for_stderr_line(const std::string& prefix, std::chrono::milliseconds deadline = 30s) {
    return read_stderr_until(
        [&] {
          const size_t start = err_.find(prefix);
          return start != std::string::npos && err_.find('\n', start) != std::string::npos;
        },
        deadline);
  }

  // Sends `signal` (0: none, just wait), reads stderr to its end and reaps the
  // process; returns its exit status.
  int stop(int signal = SIGTERM, std::chrono::milliseconds deadline = 30s) {
    if (pid_ <= 0) return -1;
    if (signal != 0) kill(pid_, signal);
    read_stderr_until([] { return false; }, deadline);  // returns at end of file (or the deadline)
    if (err_fd_ >= 0) {
      ADD_FAILURE() << "process " << pid_ << " did not exit within " << deadline.count() << " ms";
      kill(pid_, SIGKILL);
    }
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return detail::decode_wait_status(status);
  }

 private:
  // Reads stderr as it comes until `done()`; false at end of file or past the deadline.
  bool read_stderr_until(const std::function<bool()>& done, std::chrono::milliseconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (!done()) {
      if (err_fd_ < 0) return false;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left <= 0ms) return false;
      pollfd fd = {err_fd_, POLLIN, 0};
      if (poll(&fd, 1, static_cast<int>(left.count())) > 0 && !detail::read_available(err_fd_, err_)) {
        close(err_fd_);
        err_fd_ = -1;
      }
    }
    return true;
  }

  pid_t pid_ = -1;
  int err_fd_ = -1;
  std::string err_;
};

// Polls `condition` until it holds or `deadline` passes: for waiting on another
// process's progress (a job reaching a state), never for time itself to pass.
inline bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds deadline = 30s) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// The contract for errors: exit `status` and one line on stderr, "quern: …" (`what`
// names the case in failure messages).
inline void expect_one_error_line(const CliResult& result, int status, const std::string& what) {
  EXPECT_EQ(result.status, status) << what << ": " << result.err;
  EXPECT_EQ(result.err_lines(), 1u) << what << ": " << result.err;
  EXPECT_TRUE(result.err.starts_with("quern: ")) << what << ": " << result.err;
}

// A temp directory with a database path, and `quern --db <that path> …` runs in it.
class QuernCli {
 public:
  QuernCli() {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("quern-cli-" + std::to_string(getpid()) + "-" + test->test_suite_name() + "-" + test->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    db_ = dir_ / "quern.db";
  }
  ~QuernCli() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  QuernCli(const QuernCli&) = delete;
  QuernCli& operator=(const QuernCli&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  const std::filesystem::path& db() const { return db_; }

  // `quern --db <db> args…`, run in dir().
  CliResult run(const std::vector<std::string>& args, RunOptions options = {}) const {
    std::vector<std::string> argv = {QUERN_BINARY, "--db", db_.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    if (options.cwd.empty()) options.cwd = dir_;
    return run_program(argv, options);
  }

  // `quern args…` with no --db (for the default database and bad --db values).
  CliResult run_bare(const std::vector<std::string>& args, RunOptions options = {}) const {
    std::vector<std::string> argv = {QUERN_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    if (options.cwd.empty()) options.cwd = dir_;
    return run_program(argv, options);
  }

  // Runs a command that must succeed and print JSON; returns that JSON.
  Json json(const std::vector<std::string>& args) const {
    std::vector<std::string> with_json = args;
    with_json.push_back("--json");
    const CliResult result = run(with_json);
    EXPECT_EQ(result.status, 0) << "quern " << join(args) << ": " << result.err;
    try {
      return Json::parse(result.out);
    } catch (const Json::exception& e) {
      ADD_FAILURE() << "quern " << join(args) << " printed no JSON: " << result.out;
      return nullptr;
    }
  }

  // `quern add args…`; returns the new job's id.
  int64_t add(const std::vector<std::string>& args) const {
    std::vector<std::string> with_add = {"add"};
    with_add.insert(with_add.end(), args.begin(), args.end());
    const CliResult result = run(with_add);
    EXPECT_EQ(result.status, 0) << "quern " << join(with_add) << ": " << result.err;
    try {
      return std::stoll(result.out);
    } catch (const std::exception&) {
      ADD_FAILURE() << "quern add printed no id: " << result.out;
      return 0;
    }
  }

  Json job(int64_t id) const { return json({"show", std::to_string(id)}); }
  std::string state(int64_t id) const { return job(id).value("state", ""); }

  // How many jobs the database holds (to prove bad input changed nothing).
  size_t job_count() const { return json({"ls", "--limit", "1000000"}).size(); }

  // Waits (polling the CLI) until the job is in `state`.
  bool wait_for_state(int64_t id, const std::string& state, std::chrono::milliseconds deadline = 30s) const {
    return eventually([&] { return this->state(id) == state; }, deadline);
  }

  // `quern worker args…` in the background, once it has said it started.
  std::unique_ptr<BackgroundProcess> start_worker(const std::vector<std::string>& args = {}) const {
    std::vector<std::string> argv = {QUERN_BINARY, "--db", db_.string(), "worker"};
    argv.insert(argv.end(), args.begin(), args.end());
    RunOptions options;
    options.cwd = dir_;
    auto worker = std::make_unique<BackgroundProcess>(argv, dir_ / "worker.out", options);
    EXPECT_TRUE(worker->wait_for_stderr_line("quern worker:")) << worker->err();
    return worker;
  }

  static std::string join(const std::vector<std::string>& args) {
    std::string text;
    for (const auto& a : args) text += (text.empty() ? "" : " ") + a;
    return text;
  }

 private:
  std::filesystem::path dir_;
  std::filesystem::path db_;
};

}  // namespace quern::cli_test
