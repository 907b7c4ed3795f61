// quern::Client — the one way in for producers and administrators: the CLI, the HTTP
// API and library users all enqueue, inspect and manage jobs through it.
//
// A Client is safe for concurrent use from many threads. Every method throws
// quern::Error on failure and then has changed nothing.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "quern/clock.h"
#include "quern/error.h"
#include "quern/job.h"

namespace quern {

class Store;

struct ClientOptions {
  std::shared_ptr<Clock> clock;  // unset: the system clock
  bool durable = true;           // false: survive crashes but not power loss (faster)
  Duration busy_timeout{std::chrono::seconds(5)};
  size_t max_payload_bytes = kDefaultMaxPayloadBytes;
};

class Client {
 public:
  // Opens (creating and migrating if new) the database a URL names: a SQLite path,
  // `sqlite:PATH`, or `postgres://…`.
  static std::shared_ptr<Client> open(const std::string& url, ClientOptions options = {});
  // A client over an already open store (tests, the worker pool, the server).
  Client(std::shared_ptr<Store> store, std::shared_ptr<Clock> clock, size_t max_payload_bytes = kDefaultMaxPayloadBytes);
  ~Client();

  // Validates and enqueues one job. Durable when it returns.
  EnqueueResult enqueue(const NewJob& job);
  // Enqueues a batch atomically: all or none.
  std::vector<EnqueueResult> enqueue_many(const std::vector<NewJob>& jobs);

  // kNotFound if there is no such job.
  Job get(JobId id);
  std::vector<Job> list(const JobFilter& filter);
  std::vector<HistoryEntry> history(JobId id);

  // failed/canceled/expired → available; kFailedPrecondition for other states.
  Job retry(JobId id);
  // Retries every failed job (of one queue if given); returns how many.
  int64_t retry_failed(std::optional<std::string> queue = std::nullopt);
  // Any non-final → canceled. A running job's worker stops its handler.
  Job cancel(JobId id);
  // Deletes a job that is not running. A job that is still waiting (scheduled,
  // available, blocked) is canceled first, so its dependents are canceled as for any
  // dependency that will never complete (or stay blocked, if they chose to).
  void remove(JobId id);
  // Deletes final jobs in `states`; returns how many.
  int64_t clear(const std::vector<JobState>& states);
  Job set_priority(JobId id, int priority);

  void pause(const std::string& queue);
  void resume(const std::string& queue);
  std::vector<QueueInfo> queues();
  Stats stats();
  // Completions and failures per minute over the last `window`, oldest first, one
  // bucket per minute (empty minutes included); the last is the current minute.
  std::vector<ThroughputBucket> throughput(Duration window);

  std::optional<Json> setting(const std::string& key);
  void set_setting(const std::string& key, const Json& value);
  std::vector<std::pair<std::string, Json>> settings();

  // Blocks until the job is final or `timeout` passes; returns the job as last seen.
  Job wait_final(JobId id, std::optional<Duration> timeout);

  Clock& clock() const { return *clock_; }
  std::shared_ptr<Clock> clock_ptr() const { return clock_; }
  // The store underneath, for Quern's own engine and server (not a user API).
  const std::shared_ptr<Store>& store() const { return store_; }

 private:
  std::shared_ptr<Store> store_;
  std::shared_ptr<Clock> clock_;
  size_t max_payload_bytes_;
};

}  // namespace quern
