#include "exec/log_batcher.h"

namespace quern {

LogBatcher::LogBatcher(Sink sink, size_t max_bytes, Duration max_delay)
    : sink_(std::move(sink)), max_bytes_(max_bytes), max_delay_(max_delay) {}

void LogBatcher::add_line(std::string_view line) {
  if (pending_.empty()) oldest_pending_at_ = std::chrono::steady_clock::now();
  pending_.append(line);
  pending_.push_back('\n');
  if (pending_.size() >= max_bytes_) flush();
}

std::optional<LogBatcher::SteadyTime> LogBatcher::deadline() const {
  if (pending_.empty()) return std::nullopt;
  return oldest_pending_at_ + max_delay_;
}

void LogBatcher::flush_if_due(SteadyTime now) {
  auto due = deadline();
  if (due && now >= *due) flush();
}

void LogBatcher::flush() {
  if (pending_.empty()) return;
  std::string text;
  text.swap(pending_);
  sink_(text);
}

}  // namespace quern
