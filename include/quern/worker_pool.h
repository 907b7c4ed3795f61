// quern::WorkerPool — runs jobs with handlers registered by type, N at a time, with
// leases, heartbeats, timeouts, retries and graceful shutdown.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "quern/client.h"
#include "quern/error.h"
#include "quern/job.h"

namespace quern {

// Why a running handler is asked to stop.
enum class StopReason { kNone, kShutdown, kCanceled, kTimeout, kLeaseLost };

// What a handler's run ended in.
struct Outcome {
  enum class Kind { kCompleted, kRetry, kFail, kSnooze };
  Kind kind = Kind::kCompleted;
  Json result;          // kCompleted
  std::string error;    // kRetry, kFail
  Duration snooze_for{};  // kSnooze

  static Outcome completed(Json result = nullptr) { return {Kind::kCompleted, std::move(result), {}, {}}; }
  // A failed attempt: retried with backoff while attempts remain.
  static Outcome retry(std::string error) { return {Kind::kRetry, nullptr, std::move(error), {}}; }
  // A permanent failure: no retry.
  static Outcome fail(std::string error) { return {Kind::kFail, nullptr, std::move(error), {}}; }
  // Run again after `d`, not counted as a failure.
  static Outcome snooze(Duration d) { return {Kind::kSnooze, nullptr, {}, d}; }
};

// What a handler sees of its job. Used from the handler's thread only.
class JobContext {
 public:
  virtual ~JobContext() = default;
  virtual const Job& job() const = 0;
  const Json& payload() const { return job().payload; }
  int attempt() const { return job().attempt; }
  // The checkpoint saved by this or an earlier attempt (null if none).
  virtual const Json& checkpoint() const = 0;

  // Reports progress in [0,1] and a stage name; coalesced, sent with heartbeats.
  virtual void progress(double fraction) = 0;
  virtual void stage(const std::string& name) = 0;
  // Saves a checkpoint durably before returning; the next attempt starts from it.
  // While the store is busy or out of reach it waits and retries (the run is not failed
  // for it); it returns without saving only once the run is stopped (stop_requested()).
  virtual void save_checkpoint(const Json& checkpoint) = 0;
  // Appends text to the job's log (bounded, kept with the job). Waits out store
  // failures as save_checkpoint does; the text is dropped once the run is stopped.
  virtual void log(const std::string& text) = 0;
  // A private directory, removed before the final state is recorded or on rescue.
  virtual const std::filesystem::path& temp_dir() = 0;

  // Set when the handler should stop (shutdown past grace, cancel, timeout, lost lease).
  virtual std::stop_token stop_token() const = 0;
  bool stop_requested() const { return stop_token().stop_requested(); }
  virtual StopReason stop_reason() const = 0;

  // For follow-up jobs and settings.
  virtual Client& client() = 0;
};

// A handler returns an Outcome; an exception it throws is a failed attempt (retried).
using Handler = std::function<Outcome(JobContext&)>;

struct WorkerPoolOptions {
  std::vector<std::string> queues;  // empty: every queue
  int concurrency = 1;
  Duration lease{std::chrono::seconds(30)};
  Duration grace{std::chrono::seconds(10)};
  // How often to look for another process's changes (cheap; a local enqueue wakes at once).
  Duration change_poll{std::chrono::milliseconds(2)};
  // Where private temp dirs go (default: $TMPDIR/quern-<uid>).
  std::filesystem::path temp_root;
  // Run rescue, promotion, expiry and file checks in this pool. Those about the whole
  // database run only while this pool is its maintenance leader (one at a time).
  bool run_maintenance = true;
  // Called from the maintenance thread when this pool becomes (true) or stops being
  // (false) the maintenance leader of its database.
  std::function<void(bool leader)> on_leadership_change;
  // Called from a pool thread when the end of a run was refused because the job no
  // longer ran at that attempt (its lease expired and it was rescued, or it was
  // canceled), or when the run was stopped because its lease was found lost: the run's
  // outcome was not recorded. A finish that reached the store but whose reply was lost
  // is recognized when retried, and is not reported.
  std::function<void(JobId id, int attempt)> on_stale_finish;
  // Called from a pool thread when a store call of the pool fails (claiming, recording
  // finishes, heartbeats, a handler's log and checkpoint writes, which wait and retry
  // rather than fail the run): the pool keeps trying, so this is how the failure is
  // seen. Called when failures begin and again if the kind of error (its code) changes
  // or a minute passed without one, not at every retry.
  std::function<void(const Error& error)> on_store_error;
};

class WorkerPool {
 public:
  WorkerPool(std::shared_ptr<Client> client, WorkerPoolOptions options);
  ~WorkerPool();  // stops (graceful) if still running
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Registers the handler for a job type. Call before start().
  void handle(const std::string& type, Handler handler);

  // Rescues jobs left by dead processes of this host, then starts claiming. Throws
  // (and starts nothing) if the store cannot take writes: a read-only database, say.
  void start();
  // Graceful stop: stop claiming, let handlers finish within the grace period, then ask
  // them to stop and return their jobs to available without counting a failure.
  // Blocks until every handler has returned. Safe to call from any thread, and twice.
  void stop();
  // Async-signal-safe request for stop(); `wait()` then performs it.
  void request_stop() noexcept;
  // Blocks until request_stop() or stop(), then stops gracefully.
  void wait();

  // Jobs this pool finished (completed, failed or retried) since start.
  int64_t jobs_finished() const;
  // Claimed jobs whose end (or release, at stop) stop() gave up recording because the
  // store stayed out of reach 5 s after the last run ended: unless a try whose answer
  // was lost did land, they stay running until rescued, which counts a failed attempt.
  int64_t runs_unrecorded() const;

  // Wakes the claim loop now (e.g. after a local enqueue).
  void notify();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace quern
