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
  if (job.unique_key) {
    if (auto existing = find_live_job_by_unique_key(txn, *job.unique_key)) return {std::move(*existing), false};
  }
  const DependencyCheck deps = check_dependencies(txn, job.depends_on);
  const Time run_at = job.run_at.value_or(now);
  const bool files_met = job.needs_files.empty();
  JobState state = JobState::kAvailable;
  if (!deps.all_completed || !files_met) {
    state = JobState::kBlocked;
  } else if (run_at > now) {
    state = JobState::kScheduled;
  }

  const JobId id = txn.allocate_job_id();
  {
    // Every text bound here lives in `job` or `encoded`, beyond this statement's use.
    auto q = txn.db().prepare(kInsertJob);
    q->bind_static(1, job.queue).bind_static(2, job.type).bind_static(3, stored_state(state)).bind(4, job.priority);
    q->bind_static(5, encoded.payload).bind(6, job.max_attempts).bind(7, run_at).bind(8, now);
    if (job.timeout) q->bind(9, static_cast<int64_t>(job.timeout->count()));
    q->bind(10, job.expires_at);
    if (job.unique_key) q->bind_static(11, *job.unique_key);
    q->bind_static(12, encoded.tags);
    if (encoded.depends_on) q->bind_static(13, *encoded.depends_on);
    if (encoded.needs_files) q->bind_static(14, *encoded.needs_files);
    q->bind(15, files_met ? 1 : 0);
    q->bind_static(16, stored_dependency_failure(job.on_dependency_failure));
    q->bind(17, id);
    q->run();
  }
  for (JobId dep : job.depends_on) {
    auto q = txn.db().prepare(kInsertDependency);
    q->bind(1, id).bind(2, dep).run();
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
    cancel_job_at(txn, id, pos, now, "dependency " + std::to_string(dep) + " " + std::string(state_name(dep_state)));
    out.state = JobState::kCanceled;
    out.finished_at = now;
  }
  return {std::move(out), true};
}

}  // namespace quern::sqlite
