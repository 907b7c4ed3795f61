#include "store/sqlite/job_enqueue.h"

#include "quern/error.h"
#include "store/sqlite/job_row.h"
#include "store/sqlite/job_transitions.h"
#include "store/sqlite/statements.h"

namespace quern::sqlite {
namespace {

std::optional<Job> find_live_job_by_unique_key(WriteTransaction& txn, const std::string& key) {
  auto q = txn.db().prepare(kSelectLiveJobByUniqueKey);
  q->bind(1, key);
  if (!q->step()) return std::nullopt;
  return read_job(*q);
}

struct DependencyCheck {
  bool all_completed = true;
  std::optional<std::pair<JobId, JobState>> ended;  // the first dependency that failed/was canceled/expired
};

DependencyCheck check_dependencies(WriteTransaction& txn, const std::vector<JobId>& ids) {
  DependencyCheck check;
  for (JobId id : ids) {
    const auto pos = find_job_position(txn, id);
    if (!pos) throw Error::not_found("dependency job " + std::to_string(id) + " not found");
    if (pos->state == JobState::kCompleted) continue;
    check.all_completed = false;
    if (is_final(pos->state) && !check.ended) check.ended = {{id, pos->state}};
  }
  return check;
}

}  // namespace

EncodedJob encode_new_job(const NewJob& job, size_t max_payload_bytes) {
  if (job.type.empty()) throw Error::invalid_argument("job type must not be empty");
  if (job.queue.empty()) throw Error::invalid_argument("queue name must not be empty");
  if (job.max_attempts < 1) {
    throw Error::invalid_argument("max_attempts must be at least 1, got " + std::to_string(job.max_attempts));
  }
  EncodedJob encoded;
  encoded.payload = job.payload.dump();
  if (encoded.payload.size() > max_payload_bytes) {
    throw Error::too_large("payload is " + std::to_string(encoded.payload.size()) + " bytes, over the limit of " +
                           std::to_string(max_payload_bytes));
  }
  encoded.tags = job.tags.empty() ? std::string("[]") : strings_json(job.tags);
  if (!job.depends_on.empty()) encoded.depends_on = ids_json(job.depends_on);
  if (!job.needs_files.empty()) encoded.needs_files = strings_json(job.needs_files);
  return encoded;
}

EnqueueResult enqueue_job(WriteTransaction& txn, const NewJob& job, const EncodedJob& encoded, Time now) {
  // Unique keys and dependencies read `jobs`, which must then hold the rows buffered so far.
  if (job.unique_key || !job.depends_on.empty()) txn.flush_rows();
  // An unknown dependency is bad input even when the unique key's holder is returned.
  const DependencyCheck deps = check_dependencies(txn, job.depends_on);
  if (job.unique_key) {
    if (auto existing = find_live_job_by_unique_key(txn, *job.unique_key)) return {std::move(*existing), false};
  }
  const Time run_at = job.run_at.value_or(now);
  const bool files_met = job.needs_files.empty();
  JobState state = JobState::kAvailable;
  if (!deps.all_completed || !files_met) {
    state = JobState::kBlocked;
  } else if (run_at > now) {
    state = JobState::kScheduled;
  }

  const JobId id = txn.allocate_job_id();
  // Every text here lives in `job` or `encoded`, which outlive the write.
  txn.new_job_rows().add(id, std::string_view(job.queue), std::string_view(job.type), stored_state(state),
                         job.priority, std::string_view(encoded.payload), job.max_attempts, run_at, now, now,
                         job.timeout ? std::optional<int64_t>(job.timeout->count()) : std::nullopt, job.expires_at,
                         job.unique_key ? std::optional<std::string_view>(*job.unique_key) : std::nullopt,
                         std::string_view(encoded.tags),
                         encoded.depends_on ? std::optional<std::string_view>(*encoded.depends_on) : std::nullopt,
                         encoded.needs_files ? std::optional<std::string_view>(*encoded.needs_files) : std::nullopt,
                         files_met ? 1 : 0, stored_dependency_failure(job.on_dependency_failure));
  for (JobId dep : job.depends_on) {
    auto q = txn.db().prepare(kInsertDependency);
    q->bind(1, id).bind(2, dep).run();
  }
  for (const std::string& tag : job.tags) {
    auto q = txn.db().prepare(kInsertJobTag);
    q->bind(1, tag).bind(2, id).run();
  }
  txn.ensure_queue(job.queue, now);
  txn.record_move(id, job.queue, std::nullopt, state, 0, now, "enqueued");

  Job out;
  out.id = id;
  out.queue = job.queue;
  out.type = job.type;
  out.payload = job.payload;
  out.priority = job.priority;
  out.state = state;
  out.max_attempts = job.max_attempts;
  out.run_at = run_at;
  out.created_at = now;
  out.updated_at = now;
  out.timeout = job.timeout;
  out.expires_at = job.expires_at;
  out.unique_key = job.unique_key;
  out.tags = job.tags;
  out.depends_on = job.depends_on;
  out.needs_files = job.needs_files;
  out.on_dependency_failure = job.on_dependency_failure;

  if (deps.ended && job.on_dependency_failure == OnDependencyFailure::kCancel) {
    const auto [dep, dep_state] = *deps.ended;
    const JobPosition pos{job.queue, state, 0, job.on_dependency_failure, run_at};
    txn.flush_rows();
    cancel_job_at(txn, id, pos, now, "dependency " + std::to_string(dep) + " " + std::string(state_name(dep_state)));
    out.state = JobState::kCanceled;
    out.finished_at = now;
  }
  return {std::move(out), true};
}

}  // namespace quern::sqlite
