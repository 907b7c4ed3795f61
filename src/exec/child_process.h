// A command run as a child process: spawned by argv in its own process group, its
// stdout and stderr read through pipes, its whole group stopped on request.
//
// Stopping means SIGTERM to the group, then SIGKILL `kill_grace` later if any of it is
// still there. A job ends when its command does: whatever the command leaves running
// in its group (`sh -c 'sleep 100 & exit 0'`) is stopped the same way before
// run_child returns. Processes that leave the group (setsid, daemons) are out of reach.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "exec/line_splitter.h"
#include "quern/clock.h"

namespace quern {

struct ChildSpec {
  std::vector<std::string> argv;   // non-empty; argv[0] is looked up in PATH (execvp)
  std::optional<std::string> cwd;  // unset: the parent's working directory
  std::vector<std::string> env;    // the complete environment, "NAME=value" each
};

// This process's environment with `overrides` set (added or replaced).
std::vector<std::string> environment_with(const std::map<std::string, std::string>& overrides);

// How a child ended, as waitpid reported it.
struct ExitStatus {
  int code = -1;   // the exit status; -1 when killed by a signal or unknown
  int signal = 0;  // the signal that killed it, 0 if none
  // "exit status 1", "killed by signal 9 (SIGKILL)".
  std::string describe() const;
};

// The command could not be started: not found, not executable, bad cwd.
class SpawnError : public std::runtime_error {
 public:
  SpawnError(int error_number, const std::string& message)
      : std::runtime_error(message), error_number_(error_number) {}
  int error_number() const noexcept { return error_number_; }

 private:
  int error_number_;
};

// One spawned child and the process group it leads. Not thread-safe.
class ChildProcess {
 public:
  // Starts the command: stdin from /dev/null, stdout and stderr to pipes, no other
  // descriptor inherited, signal mask cleared and SIGPIPE/SIGINT/SIGTERM/SIGQUIT at
  // their defaults. Throws SpawnError with a one-line message if it cannot start.
  static std::unique_ptr<ChildProcess> spawn(const ChildSpec& spec);

  // If the group may still be running, SIGKILLs it and reaps the leader.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }  // also the process group id
  int stdout_fd() const { return stdout_fd_; }
  int stderr_fd() const { return stderr_fd_; }
  // Readable once the leader has exited; -1 if the kernel has no pidfd.
  int exit_fd() const { return pidfd_; }

  // Reaps the leader if it has exited; true once it has.
  bool try_reap();
  // Blocks until the leader has exited and reaps it.
  void reap();
  // Set once the leader is reaped.
  const std::optional<ExitStatus>& status() const { return status_; }

  // Sends `signal` to every process of the group (a no-op once it is known gone).
  void signal_group(int signal);
  // Whether any process of the group is left (a zombie leader counts).
  bool group_alive();

  void close_stdout();
  void close_stderr();

 private:
  ChildProcess() = default;

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  int pidfd_ = -1;
  std::optional<ExitStatus> status_;
  bool group_gone_ = false;
};

enum class OutputStream { kStdout, kStderr };

// What run_child tells its caller while the child runs, on the caller's thread. An
// exception thrown here stops run_child; the ChildProcess's destructor then kills the
// group.
class ChildObserver {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;
  virtual ~ChildObserver() = default;
  virtual void on_output(OutputStream stream, const LinePiece& piece) = 0;
  // A line for the job's log from the supervisor itself ("quern: sent SIGTERM …").
  virtual void on_note(std::string_view note) = 0;
  // When on_timer should next be called (e.g. to flush batched log text); nullopt: not.
  virtual std::optional<SteadyTime> timer_deadline() const = 0;
  virtual void on_timer(SteadyTime now) = 0;
};

struct ChildRunOptions {
  Duration kill_grace{std::chrono::seconds(2)};  // SIGTERM → SIGKILL
  size_t max_line_bytes = 1 << 20;
};

struct ChildRunResult {
  ExitStatus status;
  bool stopped = false;  // `stop` was requested and the group was signaled for it
};

// Runs `child` to its end: hands its output on line by line, stops the group when
// `stop` is requested, and returns once the leader is reaped and its group is gone
// (or has outlived SIGKILL by another kill_grace, which is noted). Sleeps in poll()
// between events; a stop request wakes it at once.
ChildRunResult run_child(ChildProcess& child, ChildObserver& observer, std::stop_token stop,
                         const ChildRunOptions& options);

}  // namespace quern
