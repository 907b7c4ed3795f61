#include "store/sqlite/write_batcher.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "quern/error.h"
#include "store/sqlite/sqlite_error.h"
#include "store/sqlite/statements.h"

namespace quern::sqlite {
namespace {

std::optional<std::pair<dev_t, ino_t>> identity_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return std::pair{st.st_dev, st.st_ino};
}

}  // namespace

WriteBatcher::WriteBatcher(Connection& writer, Duration busy_timeout, std::string path)
    : writer_(writer), busy_timeout_(busy_timeout), path_(std::move(path)), file_identity_(identity_of(path_)) {}

void WriteBatcher::check_file_is_the_one_opened() const {
  if (!file_identity_ || identity_of(path_) == file_identity_) return;
  throw Error::data_loss("database " + path_ +
                           " was deleted or replaced after this process opened it; restart it to use the file now "
                           "at that path");
}

void WriteBatcher::run(const Work& work) {
  std::unique_lock lock(mutex_);
  Pending mine{&work, lock_wait_so_far(), nullptr, false};
  pending_.push_back(&mine);
  batch_done_.wait(lock, [&] { return mine.done || !leader_active_; });
  if (!mine.done) {
    // Lead: take everything pending (our own write included) as one batch.
    leader_active_ = true;
    std::vector<Pending*> batch;
    batch.swap(pending_);
    lock.unlock();
    const bool led = run_batch(batch, mine);  // takes out (and releases) the writes it gave up on
    lock.lock();
    leader_active_ = false;
    if (led) {
      for (Pending* p : batch) p->done = true;
    } else {
      // Our own write ran out of time first: the others go back to the head of the
      // line, and one of them leads them.
      pending_.insert(pending_.begin(), batch.begin(), batch.end());
    }
    batch_done_.notify_all();
  }
  if (mine.error) std::rethrow_exception(mine.error);
}

uint64_t WriteBatcher::commits() const {
  std::lock_guard lock(mutex_);
  return commits_;
}

void WriteBatcher::run_one(WriteTransaction& txn, Pending& pending, bool own_savepoint) {
  txn.begin_write();
  if (own_savepoint) writer_.prepare(kSavepoint)->run();
  try {
    (*pending.work)(txn);
    txn.finish_write();
    if (own_savepoint) writer_.prepare(kReleaseSavepoint)->run();
    txn.end_write(true);
  } catch (...) {
    pending.error = std::current_exception();
    txn.end_write(false);
    // Some errors (disk full, I/O) make SQLite roll back the whole transaction; then
    // there is no savepoint left and the caller of run_batch fails the batch.
    if (own_savepoint && writer_.in_transaction()) {
      writer_.prepare(kRollbackToSavepoint)->run();
      writer_.prepare(kReleaseSavepoint)->run();
    }
  }
}

Duration WriteBatcher::lock_wait_so_far() const {
  if (!lock_wait_started_) return lock_waited_;
  return lock_waited_ + std::chrono::duration_cast<Duration>(SteadyClock::now() - *lock_wait_started_);
}

bool WriteBatcher::begin_within_busy_timeouts(std::vector<Pending*>& batch, const Pending& leader) {
  // The busy timeout is set in whole milliseconds: a write this close to its limit has
  // had its wait.
  constexpr auto kSlack = std::chrono::milliseconds(2);
  while (!batch.empty()) {
    // Wait for the lock only as long as the write that waited most has left...
    Duration most_waited{0};
    {
      std::lock_guard lock(mutex_);
      const Duration so_far = lock_wait_so_far();
      for (const Pending* p : batch) most_waited = std::max(most_waited, so_far - p->lock_wait_at_arrival);
      lock_wait_started_ = SteadyClock::now();
    }
    writer_.set_busy_timeout(busy_timeout_ - most_waited);
    const int rc = sqlite3_exec(writer_.handle(), kBeginImmediate, nullptr, nullptr, nullptr);
    Duration so_far;
    {
      std::lock_guard lock(mutex_);
      lock_waited_ = lock_wait_so_far();
      lock_wait_started_.reset();
      so_far = lock_waited_;
    }
    if (rc == SQLITE_OK) return true;
    std::exception_ptr error;
    try {
      throw_sqlite_error(writer_.handle(), rc, std::string("run ") + kBeginImmediate);
    } catch (const Error&) {
      error = std::current_exception();
    }
    if ((rc & 0xff) != SQLITE_BUSY) std::rethrow_exception(error);
    // ...then fail the writes whose time is up, at once; the others wait on.
    std::vector<Pending*> expired;
    std::erase_if(batch, [&](Pending* p) {
      if (so_far - p->lock_wait_at_arrival + kSlack < busy_timeout_) return false;
      p->error = error;
      expired.push_back(p);
      return true;
    });
    release(expired);
    if (std::find(expired.begin(), expired.end(), &leader) != expired.end()) return false;
    // SQLite answers busy without waiting in a few cases: do not spin on it.
    if (expired.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

void WriteBatcher::release(const std::vector<Pending*>& writes) {
  {
    std::lock_guard lock(mutex_);
    for (Pending* p : writes) p->done = true;
  }
  batch_done_.notify_all();
}

bool WriteBatcher::run_batch(std::vector<Pending*>& batch, const Pending& leader) {
  WriteTransaction txn(writer_, known_queues_);
  std::exception_ptr batch_error;
  try {
    if (!begin_within_busy_timeouts(batch, leader)) return false;
    check_file_is_the_one_opened();  // a stat per batch, not per write
    // A lone write needs no savepoint: on failure the whole transaction is rolled back.
    const bool savepoints = batch.size() > 1;
    const int64_t changes_before = writer_.total_changes();
    for (Pending* p : batch) {
      run_one(txn, *p, savepoints);
      if (!writer_.in_transaction()) {
        batch_error = p->error;
        break;
      }
    }
    if (!batch_error) {
      bool any_succeeded = false;
      for (Pending* p : batch) any_succeeded |= !p->error;
      if (any_succeeded) {
        txn.finish_batch();
        writer_.prepare(kCommit)->run();
        txn.committed();
        // Only a batch that changed something counts: an empty claim is no news.
        if (writer_.total_changes() != changes_before) {
          std::lock_guard lock(mutex_);
          ++commits_;
        }
      } else {
        writer_.prepare(kRollback)->run();
      }
    }
  } catch (...) {
    batch_error = std::current_exception();
  }
  if (batch_error) {
    if (writer_.in_transaction()) {
      try {
        writer_.prepare(kRollback)->run();
      } catch (...) {
        // The transaction is already gone or the connection is unusable; the batch
        // fails either way.
      }
    }
    for (Pending* p : batch) p->error = batch_error;
  }
  return true;
}

}  // namespace quern::sqlite
