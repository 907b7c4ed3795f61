// SIGINT, SIGTERM and SIGHUP, the signals that ask `quern worker` and `quern serve` to stop
// gracefully: while a StopSignals lives, they only write to a pipe (async-signal-safe),
// and wait() returns once one has arrived.
#pragma once

#include <chrono>

namespace quern::cli {

class StopSignals {
 public:
  StopSignals();   // installs the handlers
  ~StopSignals();  // restores the default handlers
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Blocks until one of them arrives, or raise().
  void wait();
  // The same, for at most `timeout`; whether one arrived (and stays arrived).
  bool wait_for(std::chrono::milliseconds timeout);
  // Ends wait() as a signal would. Safe from any thread while this object lives.
  void raise();

 private:
  int pipe_[2] = {-1, -1};
};

}  // namespace quern::cli
