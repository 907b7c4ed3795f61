#include "exec/child_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "core/duration.h"

extern char** environ;

namespace quern {

namespace {

using SteadyClock = std::chrono::steady_clock;

// Once the leader is gone no descriptor says when the rest of its group is, so that
// is checked this often.
constexpr auto kGroupCheckInterval = std::chrono::milliseconds(20);
constexpr size_t kReadChunkBytes = 64 * 1024;
// What is read from a pipe after the group is gone: what it buffered, not the output
// of some process that escaped the group and keeps writing.
constexpr int kMaxDrainReads = 64;

std::string errno_text(int error_number) { return std::generic_category().message(error_number); }

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = other.release();
    }
    return *this;
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Keeps a pipe end off descriptors 0–2, so that in the child dup2 onto 0–2 always
// really duplicates it (and so clears close-on-exec), even when the parent runs with
// a standard descriptor closed.
UniqueFd above_stdio(UniqueFd fd) {
  if (fd.get() > STDERR_FILENO) return fd;
  int moved = fcntl(fd.get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  if (moved < 0) throw SpawnError(errno, fmt::format("cannot create a pipe: {}", errno_text(errno)));
  return UniqueFd(moved);
}

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

Pipe make_pipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw SpawnError(errno, fmt::format("cannot create a pipe: {}", errno_text(errno)));
  Pipe pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
  pipe.read = above_stdio(std::move(pipe.read));
  pipe.write = above_stdio(std::move(pipe.write));
  return pipe;
}

void check_spawn_call(int rc, std::string_view what) {
  if (rc != 0) throw SpawnError(rc, fmt::format("cannot set up the child ({}): {}", what, errno_text(rc)));
}

class FileActions {
 public:
  FileActions() { check_spawn_call(posix_spawn_file_actions_init(&actions_), "file actions"); }
  ~FileActions() { posix_spawn_file_actions_destroy(&actions_); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

class SpawnAttributes {
 public:
  SpawnAttributes() { check_spawn_call(posix_spawnattr_init(&attr_), "attributes"); }
  ~SpawnAttributes() { posix_spawnattr_destroy(&attr_); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  posix_spawnattr_t* get() { return &attr_; }

 private:
  posix_spawnattr_t attr_;
};

// The working directory is checked first so that a bad one is reported as such, not
// as the ENOENT of a missing program.
void check_directory(const std::string& dir) {
  struct stat info;
  if (stat(dir.c_str(), &info) != 0) {
    throw SpawnError(errno, fmt::format("cannot change to directory {}: {}", dir, errno_text(errno)));
  }
  if (!S_ISDIR(info.st_mode)) {
    throw SpawnError(ENOTDIR, fmt::format("cannot change to directory {}: {}", dir, errno_text(ENOTDIR)));
  }
  if (access(dir.c_str(), X_OK) != 0) {
    throw SpawnError(errno, fmt::format("cannot change to directory {}: {}", dir, errno_text(errno)));
  }
}

// `cwd`: where a relative program path was looked up.
std::string spawn_failure_message(int error_number, const std::string& program, const std::optional<std::string>& cwd) {
  switch (error_number) {
    case ENOENT: {
      // exec says ENOENT too when the file is there but its #! interpreter is not.
      const bool is_path = program.find('/') != std::string::npos;
      const std::string at = program.starts_with('/') || !cwd ? program : *cwd + "/" + program;
      if (is_path && ::access(at.c_str(), F_OK) == 0) {
        return fmt::format("cannot run {}: the interpreter its #! line names (or a library it needs) was not found",
                           program);
      }
      return fmt::format("command not found: {}", program);
    }
    case EACCES: return fmt::format("command not executable: {} ({})", program, errno_text(EACCES));
    default: return fmt::format("cannot run {}: {}", program, errno_text(error_number));
  }
}

ExitStatus decode_wait_status(int raw) {
  if (WIFEXITED(raw)) return {WEXITSTATUS(raw), 0};
  if (WIFSIGNALED(raw)) return {-1, WTERMSIG(raw)};
  return {};
}

// Whether group `pgid` has a member that is not a zombie. kill(-pgid, 0) counts
// zombies too, and a member orphaned by its leader stays a zombie for good under an
// init that does not reap (a container's PID 1), so /proc is asked. Without /proc,
// any member counts.
bool group_has_live_member(pid_t pgid) {
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return true;
  bool live = false;
  while (!live) {
    dirent* entry = readdir(proc);
    if (entry == nullptr) break;
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) continue;  // exited meanwhile
    char stat[512];
    ssize_t n = ::read(fd.get(), stat, sizeof stat - 1);
    if (n <= 0) continue;
    stat[n] = '\0';
    // "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses.
    const char* after_comm = strrchr(stat, ')');
    char state = 0;
    int ppid = 0;
    int pgrp = 0;
    if (after_comm == nullptr || std::sscanf(after_comm + 1, " %c %d %d", &state, &ppid, &pgrp) != 3) continue;
    live = pgrp == pgid && state != 'Z' && state != 'X';
  }
  closedir(proc);
  return live;
}

// Wakes a poll() from another thread (the stop callback).
class WakeFd {
 public:
  WakeFd() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (fd_.get() < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  }
  int get() const { return fd_.get(); }
  void signal() noexcept {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(fd_.get(), &one, sizeof one);
  }
  void drain() noexcept {
    uint64_t count;
    [[maybe_unused]] ssize_t n = ::read(fd_.get(), &count, sizeof count);
  }

 private:
  UniqueFd fd_;
};

// One of the child's output pipes, split into lines for the observer.
class OutputReader {
 public:
  OutputReader(OutputStream stream, int fd, size_t max_line_bytes)
      : stream_(stream), fd_(fd), splitter_(max_line_bytes) {}

  bool open() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Reads what is there (one chunk); false once the pipe is at its end.
  bool read_some(std::vector<char>& buffer, ChildObserver& observer) {
    ssize_t n;
    do n = ::read(fd_, buffer.data(), buffer.size());
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n <= 0) {
      end(observer);
      return false;
    }
    splitter_.feed(std::string_view(buffer.data(), static_cast<size_t>(n)),
                   [&](const LinePiece& piece) { observer.on_output(stream_, piece); });
    return true;
  }

  // Reads what the pipe has buffered, then stops listening.
  void drain(std::vector<char>& buffer, ChildObserver& observer) {
    for (int i = 0; i < kMaxDrainReads && open(); ++i) {
      pollfd ready{fd_, POLLIN, 0};
      if (poll(&ready, 1, 0) <= 0) break;
      if (!read_some(buffer, observer)) return;
    }
    if (open()) end(observer);
  }

 private:
  void end(ChildObserver& observer) {
    splitter_.finish([&](const LinePiece& piece) { observer.on_output(stream_, piece); });
    fd_ = -1;  // the ChildProcess owns and closes the descriptor
  }

  OutputStream stream_;
  int fd_;
  LineSplitter splitter_;
};

}  // namespace

std::vector<std::string> environment_with(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view var(*entry);
    std::string name(var.substr(0, var.find('=')));
    if (!overrides.contains(name)) env.emplace_back(var);
  }
  for (const auto& [name, value] : overrides) env.push_back(name + "=" + value);
  return env;
}

std::string ExitStatus::describe() const {
  if (signal != 0) {
    const char* abbrev = sigabbrev_np(signal);
    if (abbrev == nullptr) return fmt::format("killed by signal {}", signal);
    return fmt::format("killed by signal {} (SIG{})", signal, abbrev);
  }
  if (code < 0) return "exit status unknown";
  return fmt::format("exit status {}", code);
}

std::unique_ptr<ChildProcess> ChildProcess::spawn(const ChildSpec& spec) {
  if (spec.argv.empty()) throw SpawnError(EINVAL, "cannot run an empty command");
  if (spec.cwd) check_directory(*spec.cwd);

  Pipe out = make_pipe();
  Pipe err = make_pipe();

  FileActions actions;
  check_spawn_call(posix_spawn_file_actions_addopen(actions.get(), STDIN_FILENO, "/dev/null", O_RDONLY, 0), "stdin");
  check_spawn_call(posix_spawn_file_actions_adddup2(actions.get(), out.write.get(), STDOUT_FILENO), "stdout");
  check_spawn_call(posix_spawn_file_actions_adddup2(actions.get(), err.write.get(), STDERR_FILENO), "stderr");
  // Descriptors opened without O_CLOEXEC elsewhere in this process stay out of it too.
  check_spawn_call(posix_spawn_file_actions_addclosefrom_np(actions.get(), STDERR_FILENO + 1), "closefrom");
  if (spec.cwd) check_spawn_call(posix_spawn_file_actions_addchdir_np(actions.get(), spec.cwd->c_str()), "cwd");

  SpawnAttributes attr;
  // Its own process group (pgid = its pid), so that stopping it reaches what it starts.
  check_spawn_call(posix_spawnattr_setpgroup(attr.get(), 0), "process group");
  // A worker may block or ignore signals for its own shutdown; the command must not
  // inherit that (an ignored SIGTERM would survive exec).
  sigset_t empty_mask;
  sigemptyset(&empty_mask);
  check_spawn_call(posix_spawnattr_setsigmask(attr.get(), &empty_mask), "signal mask");
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int signal : {SIGPIPE, SIGINT, SIGTERM, SIGQUIT}) sigaddset(&defaults, signal);
  check_spawn_call(posix_spawnattr_setsigdefault(attr.get(), &defaults), "signal defaults");
  check_spawn_call(posix_spawnattr_setflags(attr.get(), POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                            POSIX_SPAWN_SETSIGDEF),
                   "flags");

  std::vector<char*> argv;
  for (const auto& arg : spec.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& var : spec.env) envp.push_back(const_cast<char*>(var.c_str()));
  envp.push_back(nullptr);

  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], actions.get(), attr.get(), argv.data(), envp.data());
  if (rc != 0) throw SpawnError(rc, spawn_failure_message(rc, spec.argv[0], spec.cwd));

  std::unique_ptr<ChildProcess> child(new ChildProcess());
  child->pid_ = pid;
  child->stdout_fd_ = out.read.release();
  child->stderr_fd_ = err.read.release();
  for (int fd : {child->stdout_fd_, child->stderr_fd_}) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  // glibc 2.36 declares no pidfd_open for C++; the system call is the same.
  child->pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  return child;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    if (!status_) {
      // The leader is alive or an unreaped zombie, so pid_ is still this group's id.
      ::kill(-pid_, SIGKILL);
      reap();
    } else if (!group_gone_) {
      ::kill(-pid_, SIGKILL);
    }
  }
  close_fd(stdout_fd_);
  close_fd(stderr_fd_);
  close_fd(pidfd_);
}

bool ChildProcess::try_reap() {
  if (status_) return true;
  int raw = 0;
  pid_t r;
  do r = waitpid(pid_, &raw, WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r == 0) return false;
  status_ = r > 0 ? decode_wait_status(raw) : ExitStatus{};  // ECHILD: reaped elsewhere
  return true;
}

void ChildProcess::reap() {
  if (status_) return;
  int raw = 0;
  pid_t r;
  do r = waitpid(pid_, &raw, 0);
  while (r < 0 && errno == EINTR);
  status_ = r > 0 ? decode_wait_status(raw) : ExitStatus{};
}

void ChildProcess::signal_group(int signal) {
  if (group_gone_) return;
  if (::kill(-pid_, signal) != 0 && errno == ESRCH) group_gone_ = true;
}

bool ChildProcess::group_alive() {
  if (group_gone_) return false;
  if (::kill(-pid_, 0) != 0 && errno == ESRCH) {
    group_gone_ = true;
    return false;
  }
  if (!status_) return true;  // the leader itself
  if (!group_has_live_member(pid_)) group_gone_ = true;
  return !group_gone_;
}

void ChildProcess::close_stdout() { close_fd(stdout_fd_); }
void ChildProcess::close_stderr() { close_fd(stderr_fd_); }

ChildRunResult run_child(ChildProcess& child, ChildObserver& observer, std::stop_token stop,
                         const ChildRunOptions& options) {
  WakeFd wake;
  std::stop_callback wake_on_stop(stop, [&wake] { wake.signal(); });

  OutputReader readers[] = {{OutputStream::kStdout, child.stdout_fd(), options.max_line_bytes},
                            {OutputStream::kStderr, child.stderr_fd(), options.max_line_bytes}};
  std::vector<char> buffer(kReadChunkBytes);

  ChildRunResult result;
  std::optional<SteadyClock::time_point> sigkill_at;  // set when SIGTERM is sent
  std::optional<SteadyClock::time_point> give_up_at;  // set when SIGKILL is sent
  auto terminate = [&](std::string_view why) {
    child.signal_group(SIGTERM);
    sigkill_at = SteadyClock::now() + options.kill_grace;
    observer.on_note(fmt::format("quern: {}; sent SIGTERM to its process group", why));
  };

  for (;;) {
    if (child.exit_fd() < 0) child.try_reap();  // no pidfd: look each time round
    if (stop.stop_requested() && !result.stopped && !sigkill_at && !child.try_reap()) {
      result.stopped = true;
      terminate("stop requested");
    }
    if (child.status()) {
      if (!child.group_alive()) break;
      if (!sigkill_at) terminate("the command exited but left processes running");
    }
    auto now = SteadyClock::now();
    if (sigkill_at && !give_up_at && now >= *sigkill_at) {
      child.signal_group(SIGKILL);
      give_up_at = now + options.kill_grace;
      observer.on_note(fmt::format("quern: still running {} after SIGTERM; sent SIGKILL to its process group",
                                   format_duration(options.kill_grace)));
    }
    if (give_up_at && now >= *give_up_at && child.status()) {
      observer.on_note("quern: processes of the group outlived SIGKILL; leaving them");
      break;
    }
    if (auto due = observer.timer_deadline(); due && now >= *due) observer.on_timer(now);

    // Sleep until output, the leader's exit, a stop request, or the next deadline.
    std::optional<SteadyClock::time_point> wake_at = observer.timer_deadline();
    auto wake_by = [&](SteadyClock::time_point t) {
      if (!wake_at || t < *wake_at) wake_at = t;
    };
    if (sigkill_at && !give_up_at) wake_by(*sigkill_at);
    if (give_up_at) wake_by(*give_up_at);
    if (child.status() || child.exit_fd() < 0) wake_by(now + kGroupCheckInterval);

    pollfd fds[4];
    nfds_t count = 0;
    int reader_slot[2] = {-1, -1};
    for (int i = 0; i < 2; ++i) {
      if (!readers[i].open()) continue;
      reader_slot[i] = static_cast<int>(count);
      fds[count++] = {readers[i].fd(), POLLIN, 0};
    }
    int exit_slot = -1;
    if (!child.status() && child.exit_fd() >= 0) {
      exit_slot = static_cast<int>(count);
      fds[count++] = {child.exit_fd(), POLLIN, 0};
    }
    int wake_slot = static_cast<int>(count);
    fds[count++] = {wake.get(), POLLIN, 0};

    int timeout_ms = -1;
    if (wake_at) {
      auto wait = std::chrono::ceil<std::chrono::milliseconds>(*wake_at - SteadyClock::now());
      timeout_ms = static_cast<int>(std::max<int64_t>(0, wait.count()));
    }
    if (poll(fds, count, timeout_ms) < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "poll");
    }
    for (int i = 0; i < 2; ++i) {
      if (reader_slot[i] >= 0 && fds[reader_slot[i]].revents != 0) readers[i].read_some(buffer, observer);
    }
    if (exit_slot >= 0 && fds[exit_slot].revents != 0) child.try_reap();
    if (fds[wake_slot].revents != 0) wake.drain();
  }

  // What the group wrote before it was gone is still in the pipes.
  for (auto& reader : readers) reader.drain(buffer, observer);
  child.close_stdout();
  child.close_stderr();
  result.status = *child.status();
  return result;
}

}  // namespace quern
