// One store call's transaction on a PostgreSQL connection, and the bookkeeping every
// job move needs: a history entry, the queue_counts delta, finishes per minute.
//
// The bookkeeping is kept in memory while the call runs and written at commit in one
// statement (statements.h, kWriteBookkeeping) under an advisory lock held until the
// COMMIT is done. So history seqs, which are the event ids, are handed out in commit
// order: a reader of the event feed that has seen seq N never meets a smaller seq
// later. (PostgreSQL already serializes the commits of transactions that NOTIFY, which
// every change does, so the lock costs no concurrency that was there.)
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "quern/job.h"
#include "store/postgres/pg_connection.h"

namespace quern::postgres {

struct TransactionSettings {
  int64_t bookkeeping_lock_key = 0;  // the advisory lock of kWriteBookkeeping
  std::string channel;               // NOTIFY channel of this database
  std::string notify_payload;        // names this process (its listener skips its own)
};

// A transaction of a caller's own (Connection::borrow): Quern's work runs inside it
// under a savepoint, and the caller commits or rolls back.
struct JoinCallerTransaction {};

class Transaction {
 public:
  // BEGIN on `db`.
  Transaction(Connection& db, const TransactionSettings& settings);
  // SAVEPOINT on `db`, which must be in a transaction already. commit() then releases
  // the savepoint and leaves the transaction open; the bookkeeping's lock is held and
  // its notification is sent when the caller's transaction commits.
  Transaction(Connection& db, const TransactionSettings& settings, JoinCallerTransaction);
  // Rolls back unless committed (to the savepoint, for a joined transaction: the
  // caller's transaction is then as it was before, and usable).
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // A statement that changes nothing.
  Result read(const Statement& statement, const Params& params = {});
  // A statement that may change rows: if it does, the commit notifies listeners.
  Result write(const Statement& statement, const Params& params = {});
  // Writes that do not need each other's results, in one round trip; their results.
  std::vector<Result> write_many(const std::vector<std::pair<const Statement*, const Params*>>& statements);
  // The same, after taking the bookkeeping lock in the same round trip: the statements
  // then run while no other transaction that moves jobs can commit (see job_claim.cpp).
  std::vector<Result> write_many_under_bookkeeping_lock(
      const std::vector<std::pair<const Statement*, const Params*>>& statements);

  // Records that a job moved (`from` unset: it was enqueued): its history entry, the
  // count delta of its queue, and a finish of its minute if it completed or failed.
  void record_move(JobId id, const std::string& queue, std::optional<JobState> from, JobState to, int attempt,
                   Time at, std::string_view detail);
  // Adds `delta` jobs in `state` to `queue`'s count (negative for deleted jobs).
  void count(const std::string& queue, JobState state, int64_t delta);

  // Writes the bookkeeping, notifies if anything changed, and commits (a joined
  // transaction: releases its savepoint). Returns whether anything changed.
  bool commit();

  Connection& db() { return db_; }

 private:
  struct HistoryRow {
    JobId id;
    int64_t at;
    std::optional<JobState> from;
    JobState to;
    int attempt;
    std::string detail;
  };

  // Runs the last statement and ends the transaction (or the savepoint).
  void finish_with(const Statement& statement, const Params& params);
  // A write that affected rows makes the transaction one that changed something.
  void note_changes(const std::vector<Result>& results);

  Connection& db_;
  const TransactionSettings& settings_;
  bool joined_ = false;
  bool open_ = false;
  bool changed_ = false;
  std::vector<HistoryRow> history_;
  std::map<std::pair<std::string, JobState>, int64_t> counts_;
  std::map<std::pair<int64_t, JobState>, int64_t> finishes_;  // (minute, state) → n
};

}  // namespace quern::postgres
