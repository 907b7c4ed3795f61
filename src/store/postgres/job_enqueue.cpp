#include "store/postgres/job_enqueue.h"

#include <map>
#include <set>

#include "quern/error.h"
#include "store/postgres/job_row.h"
#include "store/postgres/job_transitions.h"
#include "store/postgres/statements.h"

namespace quern::postgres {
namespace {

// The live jobs holding any of the batch's unique keys, by key.
std::map<std::string, Job> live_jobs_by_unique_key(Transaction& txn, const std::vector<NewJob>& jobs) {
  ArrayLiteral keys;
  for (const auto& job : jobs) {
    if (job.unique_key) keys.add(*job.unique_key);
  }
  std::map<std::string, Job> holders;
  if (keys.empty()) return holders;
  Result r = txn.read(kSelectLiveJobsByUniqueKeys, Params().add(keys));
  for (int i = 0; i < r.rows(); ++i) {
    Job job = read_job(r, i);
    std::string key = *job.unique_key;
    holders.emplace(std::move(key), std::move(job));
  }
  return holders;
}

// The states of every job the batch depends on, locked against finishing meanwhile.
std::map<JobId, JobState> lock_dependencies(Transaction& txn, const std::vector<NewJob>& jobs) {
  std::set<JobId> wanted;
  for (const auto& job : jobs) wanted.insert(job.depends_on.begin(), job.depends_on.end());
  std::map<JobId, JobState> states;
  if (wanted.empty()) return states;
  ArrayLiteral ids;
  for (JobId id : wanted) ids.add(id);
  Result r = txn.read(kLockDependencies, Params().add(ids));
  for (int i = 0; i < r.rows(); ++i) states[r.int64(i, 0)] = parse_stored_state(r.text_view(i, 1));
  return states;
}

std::string strings_json_text(const std::vector<std::string>& values) { return Json(values).dump(); }

}  // namespace

EncodedNewJob encode_new_job_for_postgres(const NewJob& job, size_t max_payload_bytes) {
  if (job.type.empty()) throw Error::invalid_argument("job type must not be empty");
  if (job.queue.empty()) throw Error::invalid_argument("queue name must not be empty");
  if (job.max_attempts < 1) {
    throw Error::invalid_argument("max_attempts must be at least 1, got " + std::to_string(job.max_attempts));
  }
  EncodedNewJob encoded;
  encoded.payload = job.payload.dump();
  if (encoded.payload.size() > max_payload_bytes) {
    throw Error::too_large("payload is " + std::to_string(encoded.payload.size()) + " bytes, over the limit of " +
                           std::to_string(max_payload_bytes));
  }
  encoded.tags = job.tags.empty() ? std::string("[]") : strings_json_text(job.tags);
  if (!job.depends_on.empty()) encoded.depends_on = Json(job.depends_on).dump();
  if (!job.needs_files.empty()) encoded.needs_files = strings_json_text(job.needs_files);
  return encoded;
}

std::vector<EnqueueResult> enqueue_new_jobs(Transaction& txn, const std::vector<NewJob>& jobs,
                                            const std::vector<EncodedNewJob>& encoded, Time now) {
  std::map<std::string, Job> holders = live_jobs_by_unique_key(txn, jobs);
  const std::map<JobId, JobState> dependencies = lock_dependencies(txn, jobs);

  // Work out each job's fate in batch order, as if inserted one by one.
  std::vector<EnqueueResult> results(jobs.size());
  std::vector<size_t> inserted;                       // indexes into jobs
  std::map<std::string, size_t> keys_taken_in_batch;  // unique key → index
  std::vector<std::optional<size_t>> same_as(jobs.size());  // a job of the batch holding its key
  std::vector<std::optional<std::pair<JobId, JobState>>> ended_dependency(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    const NewJob& job = jobs[i];
    // An unknown dependency is bad input even when the unique key's holder is returned.
    for (JobId dep : job.depends_on) {
      if (!dependencies.contains(dep)) throw Error::not_found("dependency job " + std::to_string(dep) + " not found");
    }
    if (job.unique_key) {
      if (auto it = holders.find(*job.unique_key); it != holders.end()) {
        results[i] = {it->second, false};
        continue;
      }
      if (auto it = keys_taken_in_batch.find(*job.unique_key); it != keys_taken_in_batch.end()) {
        same_as[i] = it->second;
        results[i].inserted = false;
        continue;
      }
    }
    bool all_completed = true;
    for (JobId dep : job.depends_on) {
      auto it = dependencies.find(dep);
      if (it->second == JobState::kCompleted) continue;
      all_completed = false;
      if (is_final(it->second) && !ended_dependency[i]) ended_dependency[i] = {{dep, it->second}};
    }
    // A job canceled at once (its dependency ended) does not hold its key.
    if (job.unique_key && !(ended_dependency[i] && job.on_dependency_failure == OnDependencyFailure::kCancel)) {
      keys_taken_in_batch[*job.unique_key] = i;
    }
    const Time run_at = job.run_at.value_or(now);
    const bool files_met = job.needs_files.empty();
    JobState state = JobState::kAvailable;
    if (!all_completed || !files_met) {
      state = JobState::kBlocked;
    } else if (run_at > now) {
      state = JobState::kScheduled;
    }
    Job& out = results[i].job;
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
    results[i].inserted = true;
    inserted.push_back(i);
  }

  if (!inserted.empty()) {
    ArrayLiteral queues, types, states, priorities, payloads, max_attempts, run_ats, timeouts, expires, keys, tags,
        depends_on, needs_files, files_met, on_failure;
    for (size_t i : inserted) {
      const NewJob& job = jobs[i];
      const Job& out = results[i].job;
      queues.add(job.queue);
      types.add(job.type);
      states.add(stored_state(out.state));
      priorities.add(job.priority);
      payloads.add(encoded[i].payload);
      max_attempts.add(job.max_attempts);
      run_ats.add(out.run_at);
      if (job.timeout) {
        timeouts.add(static_cast<int64_t>(job.timeout->count()));
      } else {
        timeouts.add(std::nullopt);
      }
      expires.add(job.expires_at);
      keys.add(job.unique_key);
      tags.add(encoded[i].tags);
      depends_on.add(encoded[i].depends_on);
      needs_files.add(encoded[i].needs_files);
      files_met.add(job.needs_files.empty());
      on_failure.add(stored_dependency_failure(job.on_dependency_failure));
    }
    Params p;
    p.add(queues).add(types).add(states).add(priorities).add(payloads).add(max_attempts).add(run_ats).add(timeouts);
    p.add(expires).add(keys).add(tags).add(depends_on).add(needs_files).add(files_met).add(on_failure).add(now);
    Result ids = txn.write(kInsertJobs, p);
    if (ids.rows() != static_cast<int>(inserted.size())) {
      throw Error::internal("postgres: inserted " + std::to_string(ids.rows()) + " jobs of " +
                            std::to_string(inserted.size()));
    }
    for (size_t n = 0; n < inserted.size(); ++n) results[inserted[n]].job.id = ids.int64(static_cast<int>(n), 0);

    ArrayLiteral dependents, dependencies_of;
    for (size_t i : inserted) {
      for (JobId dep : jobs[i].depends_on) {
        dependents.add(results[i].job.id);
        dependencies_of.add(dep);
      }
    }
    if (!dependents.empty()) txn.write(kInsertDependencies, Params().add(dependents).add(dependencies_of));

    for (size_t i : inserted) {
      Job& out = results[i].job;
      txn.record_move(out.id, out.queue, std::nullopt, out.state, 0, now, "enqueued");
      if (ended_dependency[i] && out.on_dependency_failure == OnDependencyFailure::kCancel) {
        const auto [dep, dep_state] = *ended_dependency[i];
        const JobPosition pos{out.queue, out.state, 0, out.on_dependency_failure, out.run_at, out.needs_files.empty()};
        cancel_job_at(txn, out.id, pos, now, "dependency " + std::to_string(dep) + " " + std::string(state_name(dep_state)));
        out.state = JobState::kCanceled;
        out.finished_at = now;
      }
    }
  }
  // A job whose unique key an earlier job of the batch took returns that job.
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (same_as[i]) results[i].job = results[*same_as[i]].job;
  }
  return results;
}

}  // namespace quern::postgres
