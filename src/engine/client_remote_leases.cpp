// Client's side of remote workers: jobs leased over the HTTP API by workers in other
// processes (any language), fenced by the attempt exactly like local ones.
#include <cmath>
#include <string>

#include "core/backoff.h"
#include "core/host_identity.h"
#include "core/printable_text.h"
#include "quern/client.h"
#include "quern/error.h"
#include "store/store.h"

namespace quern {
namespace {

constexpr size_t kMaxRemoteWorkerNameBytes = 200;
constexpr size_t kMaxRemoteStageBytes = 200;
constexpr int kMaxRemoteLeaseJobs = 1000;
// Shorter leases could expire between a worker's heartbeats on any real network.
constexpr Duration kMinRemoteLease = std::chrono::milliseconds(100);

bool remote_has_control_byte(std::string_view text) {
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) return true;
  }
  return false;
}

// "remote:<worker>@<this process's owner>": the hostname field of the owner string no
// longer names this host, so owner_status() says kUnknown and only the lease's expiry
// can rescue the job. A dead server must not make its remote workers' jobs look dead.
std::string remote_lease_owner(const std::string& worker) {
  if (worker.empty()) throw Error::invalid_argument("a remote worker needs a non-empty name");
  if (worker.size() > kMaxRemoteWorkerNameBytes || remote_has_control_byte(worker) || valid_utf8(worker) != worker) {
    throw Error::invalid_argument("worker name " + quote_for_message(worker) +
                                  " must be printable UTF-8 of at most 200 bytes");
  }
  std::string name = worker;
  for (char& c : name) {
    if (c == '/') c = '_';  // '/' separates the owner string's fields
  }
  return "remote:" + name + "@" + this_process_owner();
}

void check_remote_lease(Duration lease) {
  if (lease < kMinRemoteLease) throw Error::invalid_argument("a lease must be at least 100ms");
}

void check_remote_attempt(int attempt) {
  if (attempt < 1) throw Error::invalid_argument("attempt must be a positive integer (the one the job was leased at)");
}

}  // namespace

std::vector<Job> Client::lease_remote(const RemoteLeaseRequest& request) {
  if (request.max < 1 || request.max > kMaxRemoteLeaseJobs) {
    throw Error::invalid_argument("max must be between 1 and " + std::to_string(kMaxRemoteLeaseJobs));
  }
  check_remote_lease(request.lease);
  for (const auto& queue : request.queues) {
    if (queue.empty()) throw Error::invalid_argument("queue names must not be empty");
  }
  for (const auto& type : request.types) {
    if (type.empty()) throw Error::invalid_argument("type names must not be empty");
  }
  ClaimParams params;
  params.queues = request.queues;
  params.types = request.types;
  params.max = request.max;
  params.owner = remote_lease_owner(request.worker);
  params.lease = request.lease;
  params.now = clock_->now();
  return store_->claim_jobs(params);
}

// After a store call said the job was not running at `attempt`: why, as the error.
[[noreturn]] static void throw_stale_remote(Store& store, JobId id, int attempt) {
  auto job = store.get_job(id);
  if (!job) throw Error::not_found("job " + std::to_string(id) + " not found");
  throw Error::aborted("job " + std::to_string(id) + " is not running at attempt " + std::to_string(attempt) +
                       " (it is " + std::string(state_name(job->state)) + " at attempt " +
                       std::to_string(job->attempt) + ")");
}

Job Client::heartbeat_remote(JobId id, const RemoteHeartbeat& beat) {
  check_remote_attempt(beat.attempt);
  if (beat.lease) check_remote_lease(*beat.lease);
  if (beat.progress && !(std::isfinite(*beat.progress) && *beat.progress >= 0 && *beat.progress <= 1)) {
    throw Error::invalid_argument("progress must be a number from 0 to 1");
  }
  if (beat.stage && (beat.stage->size() > kMaxRemoteStageBytes || remote_has_control_byte(*beat.stage) ||
                     valid_utf8(*beat.stage) != *beat.stage)) {
    throw Error::invalid_argument("stage must be printable UTF-8 of at most 200 bytes");
  }
  if (beat.checkpoint && beat.checkpoint->dump(-1, ' ', false, Json::error_handler_t::replace).size() > max_payload_bytes_) {
    throw Error::too_large("checkpoint is larger than " + std::to_string(max_payload_bytes_) + " bytes");
  }
  const Time now = clock_->now();
  JobHeartbeat heartbeat;
  heartbeat.id = id;
  heartbeat.attempt = beat.attempt;
  heartbeat.lease = beat.lease;
  heartbeat.progress = beat.progress;
  heartbeat.stage = beat.stage;
  heartbeat.checkpoint = beat.checkpoint;
  const auto statuses = store_->heartbeat_jobs({heartbeat}, now);
  if (statuses.empty() || statuses.front() != FinishStatus::kOk) throw_stale_remote(*store_, id, beat.attempt);
  return get(id);
}

Job Client::complete_remote(JobId id, int attempt, const Json& result) {
  check_remote_attempt(attempt);
  if (result.dump(-1, ' ', false, Json::error_handler_t::replace).size() > max_payload_bytes_) {
    throw Error::too_large("result is larger than " + std::to_string(max_payload_bytes_) + " bytes");
  }
  JobFinish finish;
  finish.id = id;
  finish.attempt = attempt;
  finish.outcome = FinishOutcome::kCompleted;
  finish.result = result;
  const auto statuses = store_->finish_jobs({finish}, clock_->now());
  if (statuses.empty() || statuses.front() != FinishStatus::kOk) throw_stale_remote(*store_, id, attempt);
  return get(id);
}

Job Client::fail_remote(JobId id, const RemoteFailure& failure) {
  check_remote_attempt(failure.attempt);
  if (failure.snooze && *failure.snooze < Duration::zero()) throw Error::invalid_argument("snooze must not be negative");
  if (failure.error.size() > max_payload_bytes_) {
    throw Error::too_large("error is larger than " + std::to_string(max_payload_bytes_) + " bytes");
  }
  // The failure count decides the backoff; it cannot change while the job runs at this
  // attempt, and if the job moved on meanwhile the fenced finish below changes nothing.
  const Job job = get(id);
  if (job.state != JobState::kRunning || job.attempt != failure.attempt) throw_stale_remote(*store_, id, failure.attempt);
  const Time now = clock_->now();
  JobFinish finish;
  finish.id = id;
  finish.attempt = failure.attempt;
  finish.error = failure.error;
  if (failure.snooze) {
    finish.outcome = FinishOutcome::kSnooze;
    finish.error.clear();
    finish.run_at = now + *failure.snooze;
  } else if (!failure.retry) {
    finish.outcome = FinishOutcome::kFail;
  } else {
    finish.outcome = FinishOutcome::kRetry;
    finish.run_at = now + retry_backoff(job.failures + 1);
  }
  const auto statuses = store_->finish_jobs({finish}, now);
  if (statuses.empty() || statuses.front() != FinishStatus::kOk) throw_stale_remote(*store_, id, failure.attempt);
  return get(id);
}

}  // namespace quern
