#include "cli/stop_signals.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <limits>

#include "quern/error.h"

namespace quern::cli {
namespace {

// The pipe a signal writes to. A lock-free atomic int is safe to read in a handler.
std::atomic<int> stop_signal_fd{-1};
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void write_stop_signal(int) {
  const int saved_errno = errno;
  const int fd = stop_signal_fd.load();
  const char byte = 1;
  if (fd >= 0) {
    [[maybe_unused]] ssize_t written = ::write(fd, &byte, 1);
  }
  errno = saved_errno;
}

// SIGHUP (the terminal closed) stops as gracefully, unless it was ignored when the
// process started: `nohup quern worker` must outlive the terminal.
bool handles_sighup() {
  static const bool handled = [] {
    struct sigaction current {};
    sigaction(SIGHUP, nullptr, &current);
    return current.sa_handler != SIG_IGN;
  }();
  return handled;
}

void set_stop_signal_handler(void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  if (handles_sighup()) sigaction(SIGHUP, &action, nullptr);
}

}  // namespace

StopSignals::StopSignals() {
  handles_sighup();  // looks before the first handler is set
  if (::pipe2(pipe_, O_CLOEXEC | O_NONBLOCK) != 0) throw Error::internal("pipe2 failed");
  stop_signal_fd.store(pipe_[1]);
  set_stop_signal_handler(write_stop_signal);
}

StopSignals::~StopSignals() {
  set_stop_signal_handler(SIG_DFL);
  stop_signal_fd.store(-1);
  ::close(pipe_[0]);
  ::close(pipe_[1]);
}

void StopSignals::raise() {
  const char byte = 1;
  [[maybe_unused]] ssize_t written = ::write(pipe_[1], &byte, 1);
}

void StopSignals::wait() {
  pollfd fd{pipe_[0], POLLIN, 0};
  while (::poll(&fd, 1, -1) < 0 && errno == EINTR) {
  }
}

bool StopSignals::wait_for(std::chrono::milliseconds timeout) {
  // Nothing is read from the pipe, so a signal seen once is seen by every later wait.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fd{pipe_[0], POLLIN, 0};
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    // poll takes an int of milliseconds: a longer wait is several polls.
    const int64_t wait_ms = std::clamp<int64_t>(left.count(), 0, std::numeric_limits<int>::max());
    const int ready = ::poll(&fd, 1, static_cast<int>(wait_ms));
    if (ready > 0) return true;
    if (ready == 0) {
      if (wait_ms >= left.count()) return false;
      continue;
    }
    if (errno != EINTR) return false;
  }
}

}  // namespace quern::cli
