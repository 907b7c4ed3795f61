// Real processes for the crash tests: a child started by argv with its output in a
// file, signaled by its pid only, waited for with a deadline (to stop or to exit), and
// always reaped — its destructor SIGKILLs it if it is still there, so a failed
// assertion never leaves a process behind. Plus what /proc says about processes the
// test did not start itself (a job's process group): whether they are gone.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "cli_runner.h"

namespace quern::crash_test {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// How often a wait looks again at another process's progress.
inline constexpr auto kPollInterval = 5ms;

// One child process started by the test. Not thread-safe.
class TestProcess {
 public:
  // Starts argv[0] (an absolute path) with stdin from /dev/null and stdout and stderr
  // both appended to `output_file`.
  TestProcess(const std::vector<std::string>& argv, const std::filesystem::path& output_file,
              const cli_test::RunOptions& options)
      : output_file_(output_file) {
    const int fd = ::open(output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + output_file.string());
    try {
      pid_ = cli_test::detail::spawn(argv, options, fd, fd);
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::close(fd);
  }

  ~TestProcess() {
    if (!reaped()) kill_and_reap();
  }
  TestProcess(const TestProcess&) = delete;
  TestProcess& operator=(const TestProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool reaped() const { return exit_status_.has_value(); }
  // The exit status once reaped: the code, or 128+N if killed by signal N.
  std::optional<int> exit_status() const { return exit_status_; }

  // Sends `signal` by pid; a no-op once reaped (the pid may belong to someone else by then).
  void signal(int signal_number) {
    if (!reaped()) ::kill(pid_, signal_number);
  }

  // Waits until the process is stopped (SIGSTOP took effect in every thread); false
  // if it exited instead or the deadline passed.
  bool wait_until_stopped(std::chrono::milliseconds deadline = 10s) {
    const auto until = SteadyClock::now() + deadline;
    while (!reaped()) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG | WUNTRACED);
      if (r == pid_) {
        if (WIFSTOPPED(status)) return true;
        if (WIFEXITED(status) || WIFSIGNALED(status)) exit_status_ = cli_test::detail::decode_wait_status(status);
        continue;
      }
      if (r < 0 && errno != EINTR) return false;
      if (SteadyClock::now() >= until) return false;
      std::this_thread::sleep_for(kPollInterval);
    }
    return false;
  }

  // Waits for the process to exit and reaps it; its exit status, or nullopt if it is
  // still running when the deadline passes.
  std::optional<int> wait_for_exit(std::chrono::milliseconds deadline = 30s) {
    const auto until = SteadyClock::now() + deadline;
    while (!reaped()) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_ && (WIFEXITED(status) || WIFSIGNALED(status))) {
        exit_status_ = cli_test::detail::decode_wait_status(status);
        break;
      }
      if (r < 0 && errno != EINTR) return std::nullopt;
      if (SteadyClock::now() >= until) return std::nullopt;
      std::this_thread::sleep_for(kPollInterval);
    }
    return exit_status_;
  }

  // SIGKILL, then reap; returns the exit status (137 unless it had exited already).
  int kill_and_reap() {
    if (reaped()) return *exit_status_;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0) {
      if (errno != EINTR) {
        exit_status_ = -1;
        return -1;
      }
    }
    exit_status_ = cli_test::detail::decode_wait_status(status);
    return *exit_status_;
  }

  // Everything the process has written so far.
  std::string output() const {
    std::ifstream in(output_file_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  // Waits until the output holds a whole line starting with `prefix`.
  bool wait_for_output_line(const std::string& prefix, std::chrono::milliseconds deadline = 30s) const {
    return cli_test::eventually(
        [&] {
          const std::string text = output();
          const size_t start = text.find(prefix);
          return start != std::string::npos && text.find('\n', start) != std::string::npos;
        },
        deadline);
  }

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  std::filesystem::path output_file_;
};

// What /proc/<pid>/stat says of a process: its state letter and process group.
struct ProcessStat {
  char state = '?';
  pid_t pgrp = 0;
};

// nullopt if there is no such process.
inline std::optional<ProcessStat> read_process_stat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return std::nullopt;
  // The command name (field 2) may hold spaces and parentheses; what follows the last
  // ')' is " <state> <ppid> <pgrp> …".
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(text.substr(close + 1));
  ProcessStat stat;
  pid_t ppid = 0;
  if (!(rest >> stat.state >> ppid >> stat.pgrp)) return std::nullopt;
  return stat;
}

// A process is gone for good when there is no such pid or it is a zombie: PID 1 in a
// container may never reap orphans, and a zombie runs nothing.
inline bool process_gone(pid_t pid) {
  const auto stat = read_process_stat(pid);
  return !stat || stat->state == 'Z' || stat->state == 'X';
}

// The pids of processes in group `pgid` that are not zombies.
inline std::vector<pid_t> live_members_of_group(pid_t pgid) {
  std::vector<pid_t> members;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    const auto stat = read_process_stat(pid);
    if (stat && stat->pgrp == pgid && stat->state != 'Z' && stat->state != 'X') members.push_back(pid);
  }
  return members;
}

}  // namespace quern::crash_test
