// Gathers a job's log text and hands it on in batches, so a chatty command costs one
// store write per batch rather than one per line.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "quern/clock.h"

namespace quern {

class LogBatcher {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;
  using Sink = std::function<void(const std::string& text)>;

  // Text goes to `sink` once `max_bytes` are pending, or `max_delay` after the oldest
  // pending line arrived (when the owner calls flush_if_due), or on flush().
  LogBatcher(Sink sink, size_t max_bytes, Duration max_delay);

  // Adds `line` and a '\n'.
  void add_line(std::string_view line);
  // When the pending text is due; nullopt when nothing is pending.
  std::optional<SteadyTime> deadline() const;
  void flush_if_due(SteadyTime now);
  void flush();

 private:
  Sink sink_;
  const size_t max_bytes_;
  const Duration max_delay_;
  std::string pending_;
  SteadyTime oldest_pending_at_{};
};

}  // namespace quern
