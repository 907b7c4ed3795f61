// Group commit: every write of a Store goes through one writer connection, and writes
// that arrive together share one transaction and so one fsync.
//
// A caller submits its write (a function run on the writer connection). If no batch
// is running it becomes the leader: it takes every pending write, runs them in one
// BEGIN IMMEDIATE … COMMIT, each inside its own savepoint (a failing write rolls back
// only itself and its caller gets the exception), then wakes the others. Writes that
// arrive meanwhile wait and form the next batch. A write waits for other processes'
// locks at most the busy timeout in all, counting the time it waited for a batch that
// was itself waiting for such a lock, and not the time it waited for this process's
// own batches to run.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <utility>
#include <string>
#include <unordered_set>
#include <vector>

#include "store/sqlite/connection.h"
#include "store/sqlite/write_transaction.h"

namespace quern::sqlite {

class WriteBatcher {
 public:
  using Work = std::function<void(WriteTransaction&)>;

  // `writer` is used by the batch leader only; `busy_timeout` bounds each write's wait.
  // `path` is the file `writer` has open: a batch fails (kDataLoss) once another file
  // is at that path or none is, since what it wrote could never be read again.
  WriteBatcher(Connection& writer, Duration busy_timeout, std::string path);

  // Runs `work` in the next batch and returns once that batch committed; rethrows
  // what `work` threw (then nothing of it was written), the error that failed the
  // whole batch (then nothing of the batch was written), or, as soon as its busy
  // timeout ran out waiting for another process's lock, that busy error. Thread-safe.
  void run(const Work& work);

  // Batches committed by this object so far that changed something.
  uint64_t commits() const;

 private:
  using SteadyClock = std::chrono::steady_clock;

  struct Pending {
    const Work* work;
    Duration lock_wait_at_arrival;  // lock_wait_so_far() when it arrived
    std::exception_ptr error;
    bool done = false;
  };

  // Runs the writes of `batch` (in arrival order) in one transaction, led by the
  // caller of `leader`. False if that write ran out of time waiting for another
  // process's lock: then `batch` holds the writes still waiting, not begun.
  bool run_batch(std::vector<Pending*>& batch, const Pending& leader);
  // BEGIN IMMEDIATE; while another process holds the lock, writes whose busy timeout
  // ran out are taken from `batch`, failed and released. False if not begun: none
  // was left, or `leader`'s was among those that ran out.
  bool begin_within_busy_timeouts(std::vector<Pending*>& batch, const Pending& leader);
  // Wakes the callers of `writes`, done (their Pending may be gone once this returns).
  void release(const std::vector<Pending*>& writes);
  // How long this process has waited, in all, for other processes' locks (a clock
  // that runs only while a BEGIN waits): a write has waited the difference between
  // now and its arrival. Requires mutex_.
  Duration lock_wait_so_far() const;
  void run_one(WriteTransaction& txn, Pending& pending, bool own_savepoint);
  // Throws kDataLoss if the file at path_ is no longer the one opened.
  void check_file_is_the_one_opened() const;

  Connection& writer_;
  const Duration busy_timeout_;
  const std::string path_;
  std::optional<std::pair<dev_t, ino_t>> file_identity_;  // of path_ when opened, if known
  std::unordered_set<std::string> known_queues_;  // touched by the leader only

  mutable std::mutex mutex_;
  std::condition_variable batch_done_;
  bool leader_active_ = false;      // guarded by mutex_
  std::vector<Pending*> pending_;   // guarded by mutex_
  uint64_t commits_ = 0;            // guarded by mutex_
  Duration lock_waited_{0};         // guarded by mutex_: BEGINs that ended
  std::optional<SteadyClock::time_point> lock_wait_started_;  // guarded by mutex_: the BEGIN waiting now
};

}  // namespace quern::sqlite
