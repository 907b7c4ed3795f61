#include "store/sqlite/write_batcher.h"

#include "store/sqlite/statements.h"

namespace quern::sqlite {

void WriteBatcher::run(const Work& work) {
  Pending mine{&work, nullptr, false};
  std::unique_lock lock(mutex_);
  pending_.push_back(&mine);
  batch_done_.wait(lock, [&] { return mine.done || !leader_active_; });
  if (!mine.done) {
    // Lead: take everything pending (our own write included) as one batch.
    leader_active_ = true;
    std::vector<Pending*> batch;
    batch.swap(pending_);
    lock.unlock();
    run_batch(batch);
    lock.lock();
    leader_active_ = false;
    for (Pending* p : batch) p->done = true;
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

void WriteBatcher::run_batch(const std::vector<Pending*>& batch) {
  WriteTransaction txn(writer_, known_queues_);
  // A lone write needs no savepoint: on failure the whole transaction is rolled back.
  const bool savepoints = batch.size() > 1;
  std::exception_ptr batch_error;
  try {
    writer_.prepare(kBeginImmediate)->run();
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
}

}  // namespace quern::sqlite
