// The job model: what a job is, its states, and what it takes to enqueue one.
// See docs/architecture.md for the state diagram.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "quern/clock.h"

namespace quern {

using JobId = int64_t;
using Json = nlohmann::json;

enum class JobState {
  kScheduled,  // waiting for run_at (a delay, a retry backoff or a snooze)
  kAvailable,  // ready to be claimed
  kBlocked,    // waiting on other jobs to complete or files to exist
  kRunning,    // leased by a worker
  kCompleted,  // final
  kFailed,     // final: failures reached max_attempts, or a permanent failure
  kCanceled,   // final
  kExpired,    // final: expires_at passed before it started
};

inline constexpr JobState kAllStates[] = {JobState::kScheduled, JobState::kAvailable, JobState::kBlocked,
                                          JobState::kRunning,   JobState::kCompleted, JobState::kFailed,
                                          JobState::kCanceled,  JobState::kExpired};
inline constexpr JobState kFinalStates[] = {JobState::kCompleted, JobState::kFailed, JobState::kCanceled,
                                            JobState::kExpired};

// "scheduled", "available", … — the names used in the CLI, JSON and the store.
std::string_view state_name(JobState s);
// Parses a state name; throws Error(kInvalidArgument) for anything else.
JobState parse_state(std::string_view name);
// completed, failed, canceled, expired.
bool is_final(JobState s);

// Named priority levels; any integer is a valid priority, larger runs first.
inline constexpr int kPriorityLow = 0;
inline constexpr int kPriorityNormal = 10;
inline constexpr int kPriorityHigh = 20;
inline constexpr int kPriorityCritical = 30;

inline constexpr int kDefaultMaxAttempts = 3;
inline constexpr size_t kDefaultMaxPayloadBytes = 1 << 20;  // 1 MiB
inline constexpr std::string_view kDefaultQueue = "default";
inline constexpr std::string_view kShellType = "shell";

// What to do with a blocked job when a job it depends on fails, is canceled or expires.
enum class OnDependencyFailure { kCancel, kStayBlocked };

// Everything a producer says about a new job. Only `type` is required.
struct NewJob {
  std::string queue = std::string(kDefaultQueue);
  std::string type;
  Json payload = Json::object();
  int priority = kPriorityNormal;
  std::optional<Time> run_at;  // unset: now
  int max_attempts = kDefaultMaxAttempts;
  std::optional<Duration> timeout;  // per attempt; unset: none
  std::optional<std::string> unique_key;
  std::vector<JobId> depends_on;
  std::vector<std::string> needs_files;  // absolute paths
  OnDependencyFailure on_dependency_failure = OnDependencyFailure::kCancel;
  std::optional<Time> expires_at;
  std::vector<std::string> tags;
};

struct Job {
  JobId id = 0;
  std::string queue;
  std::string type;
  Json payload;
  int priority = kPriorityNormal;
  JobState state = JobState::kAvailable;
  std::string stage;
  double progress = 0;
  int attempt = 0;   // runs started; the lease's fencing token; never goes down
  int failures = 0;  // failed runs; the job fails for good when it reaches max_attempts
  int max_attempts = kDefaultMaxAttempts;
  Time run_at;
  Time created_at;
  std::optional<Time> started_at;
  std::optional<Time> finished_at;
  Time updated_at;
  std::string lease_owner;  // empty unless running
  std::optional<Time> lease_expires_at;
  std::optional<Duration> timeout;
  std::optional<Time> expires_at;
  std::optional<std::string> unique_key;
  Json checkpoint;  // null when none saved
  Json result;      // null until completed with a result
  std::string error;  // last error, empty if none
  std::vector<std::string> tags;
  std::vector<JobId> depends_on;
  std::vector<std::string> needs_files;
  OnDependencyFailure on_dependency_failure = OnDependencyFailure::kCancel;
};

// One recorded transition of a job.
struct HistoryEntry {
  int64_t seq = 0;  // global, increasing: also the event id of the event stream
  JobId job_id = 0;
  Time at;
  std::optional<JobState> from;  // unset for the enqueue
  JobState to = JobState::kAvailable;
  int attempt = 0;
  std::string detail;  // why, e.g. "lease expired", "exit status 1"
};

// A filter for listing jobs, a page at a time: ids ascending after `after_id`, or with
// `newest_first` ids descending below `after_id` (0: from the newest).
struct JobFilter {
  std::vector<JobState> states;  // empty: every state
  std::optional<std::string> queue;
  std::optional<std::string> type;
  std::optional<std::string> tag;
  JobId after_id = 0;
  bool newest_first = false;
  int limit = 100;
};

// Jobs that finished in one minute (the dashboard's throughput chart).
struct ThroughputBucket {
  Time minute;  // the minute's start
  int64_t completed = 0;
  int64_t failed = 0;
};

// What enqueue returns: the job, and whether it was inserted (false: a live job held
// the unique key, and `job` is that job).
struct EnqueueResult {
  Job job;
  bool inserted = true;
};

// A file a directory watch found (Client::ingest_files), and the job it is to get.
struct FileToIngest {
  std::string path;  // absolute
  NewJob job;
};

// A file Client::ingest_files enqueued a job for: its index in the request, and the job.
struct IngestedFile {
  size_t index = 0;
  EnqueueResult enqueued;
};

struct QueueInfo {
  std::string name;
  bool paused = false;
  // Pauses and resumes so far: tells a poller how often `paused` flipped between looks.
  int64_t pause_changes = 0;
  // At most this many of the queue's jobs run at once, across every worker (none: no limit).
  std::optional<int> concurrency_limit;
  // None of the queue's jobs start while this queue has jobs running, or available and
  // not paused (background work held while foreground work runs).
  std::optional<std::string> held_while;
  // How long the queue's jobs are kept after they end, by the final state they end in
  // (zero: deleted by the next maintenance pass). A final state not here: kept until
  // deleted by hand.
  std::map<JobState, Duration> retention;
};

// Changes to a queue's retention: a final state → how long its jobs are kept
// (nullopt: until deleted by hand). States not named keep theirs.
using RetentionChanges = std::map<JobState, std::optional<Duration>>;

// Job counts, kept by the store (never counted per call).
struct Stats {
  struct QueueCounts {
    std::string queue;
    bool paused = false;
    std::optional<int> concurrency_limit;  // filled by with_every_queue, from QueueInfo
    std::optional<std::string> held_while;  // the same
    std::map<JobState, Duration> retention;  // the same
    int64_t by_state[std::size(kAllStates)] = {};
  };
  std::vector<QueueCounts> queues;
  int64_t total(JobState s) const;
};

}  // namespace quern
