#include "store/sqlite/write_transaction.h"

#include <chrono>

#include "store/sqlite/job_row.h"
#include "store/sqlite/statements.h"

namespace quern::sqlite {
namespace {

constexpr int64_t kMicrosPerMinute = 60'000'000;
constexpr auto kFinishesKeptFor = std::chrono::days(7);

}  // namespace

void WriteTransaction::record_move(JobId id, const std::string& queue, std::optional<JobState> from, JobState to,
                                   int attempt, Time at, std::string_view detail) {
  if (!ids_loaded_) load_id_high_water();
  history_rows_.add(++last_history_seq_, id, at, from ? std::optional(stored_state(*from)) : std::nullopt,
                    stored_state(to), attempt, std::string(detail));
  if (from) count(queue, *from, -1);
  count(queue, to, +1);
  if (to == JobState::kCompleted || to == JobState::kFailed) {
    const int64_t micros = to_micros(at);
    write_finishes_.push_back({micros - micros % kMicrosPerMinute, to});
  }
  if (is_final(to)) {
    if (const auto keep = kept_for(queue, to)) {
      auto q = db_.prepare(kSchedulePrune);
      q->bind(1, to_micros(at + *keep)).bind(2, id).run();
    }
  }
}

std::optional<Duration> WriteTransaction::kept_for(const std::string& queue, JobState state) {
  if (!retention_) {
    retention_.emplace();
    auto q = db_.prepare(kSelectRetainingQueues);
    while (q->step()) {
      RetentionColumns columns;
      for (size_t i = 0; i < columns.size(); ++i) {
        if (!q->is_null(static_cast<int>(i) + 1)) columns[i] = q->int64(static_cast<int>(i) + 1);
      }
      retention_->emplace(q->text(0), columns);
    }
  }
  const auto found = retention_->find(queue);
  if (found == retention_->end()) return std::nullopt;
  return quern::kept_for(found->second, state);
}

void WriteTransaction::count(const std::string& queue, JobState state, int64_t delta) {
  write_counts_.push_back({queue, state, delta});
}

void WriteTransaction::ensure_queue(const std::string& queue, Time now) {
  if (known_queues_.contains(queue) || batch_queues_.contains(queue)) return;
  for (const auto& name : write_queues_) {
    if (name == queue) return;
  }
  auto q = db_.prepare(kEnsureQueue);
  q->bind(1, queue).bind(2, now).run();
  write_queues_.push_back(queue);
}

void WriteTransaction::note_queue_row(const std::string& queue) { write_queues_.push_back(queue); }

void WriteTransaction::begin_write() {
  write_counts_.clear();
  write_queues_.clear();
  write_finishes_.clear();
}

void WriteTransaction::flush_rows() {
  // Jobs first: history rows name them.
  job_rows_.flush(db_);
  history_rows_.flush(db_);
}

void WriteTransaction::end_write(bool succeeded) {
  job_rows_.clear();
  history_rows_.clear();
  if (succeeded) {
    for (auto& d : write_counts_) batch_counts_[{std::move(d.queue), d.state}] += d.delta;
    for (auto& name : write_queues_) batch_queues_.insert(std::move(name));
    for (const auto& f : write_finishes_) ++batch_finishes_[{f.minute, f.state}];
  }
  write_counts_.clear();
  write_queues_.clear();
  write_finishes_.clear();
}

JobId WriteTransaction::allocate_job_id() {
  if (!ids_loaded_) load_id_high_water();
  return ++last_job_id_;
}

void WriteTransaction::load_id_high_water() {
  auto q = db_.prepare(kSelectIdHighWater);
  if (q->step()) {
    last_job_id_ = q->int64(0);
    last_history_seq_ = q->int64(1);
  }
  ids_loaded_ = true;
}

void WriteTransaction::finish_batch() {
  if (ids_loaded_) {
    for (const auto& [key, value] : {std::pair{"max_job_id", last_job_id_}, {"max_history_seq", last_history_seq_}}) {
      auto q = db_.prepare(kSetStoreMeta);
      q->bind_static(1, key).bind(2, value).run();
    }
  }
  for (const auto& [key, delta] : batch_counts_) {
    if (delta == 0) continue;
    auto q = db_.prepare(kAddToQueueCount);
    q->bind(1, key.first).bind(2, stored_state(key.second)).bind(3, delta).run();
  }
  write_finishes_per_minute();
}

void WriteTransaction::write_finishes_per_minute() {
  if (batch_finishes_.empty()) return;
  for (const auto& [key, n] : batch_finishes_) {
    auto q = db_.prepare(kAddToFinishesPerMinute);
    q->bind(1, key.first).bind_static(2, stored_state(key.second)).bind(3, n).run();
  }
  const int64_t newest = batch_finishes_.rbegin()->first.first;
  auto prune = db_.prepare(kDeleteFinishesBefore);
  prune->bind(1, newest - std::chrono::duration_cast<std::chrono::microseconds>(kFinishesKeptFor).count()).run();
}

void WriteTransaction::committed() {
  for (const auto& name : batch_queues_) known_queues_.insert(name);
}

}  // namespace quern::sqlite
