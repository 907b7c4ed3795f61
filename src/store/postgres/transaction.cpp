#include "store/postgres/transaction.h"

#include <chrono>

#include "store/postgres/job_row.h"
#include "store/postgres/statements.h"

namespace quern::postgres {
namespace {

constexpr int64_t kPgMicrosPerMinute = 60'000'000;
constexpr auto kPgFinishesKeptFor = std::chrono::days(7);
// A joined transaction's savepoint. Unlikely to be one of the caller's own; even so,
// ours is the latest of that name while it lives, so ROLLBACK TO / RELEASE reach ours.
#define QUERN_PG_CALLER_SAVEPOINT "quern_transactional_enqueue"
constexpr const char* kPgOpenCallerSavepoint = "SAVEPOINT " QUERN_PG_CALLER_SAVEPOINT;
constexpr const char* kPgReleaseCallerSavepoint = "RELEASE SAVEPOINT " QUERN_PG_CALLER_SAVEPOINT;
constexpr const char* kPgRollBackCallerSavepoint =
    "ROLLBACK TO SAVEPOINT " QUERN_PG_CALLER_SAVEPOINT "; RELEASE SAVEPOINT " QUERN_PG_CALLER_SAVEPOINT;
#undef QUERN_PG_CALLER_SAVEPOINT

}  // namespace

Transaction::Transaction(Connection& db, const TransactionSettings& settings) : db_(db), settings_(settings) {
  db_.begin_with_next_statement();  // BEGIN travels with the first statement
  open_ = true;
}

Transaction::Transaction(Connection& db, const TransactionSettings& settings, JoinCallerTransaction)
    : db_(db), settings_(settings), joined_(true) {
  db_.exec_simple(kPgOpenCallerSavepoint, "savepoint");
  open_ = true;
}

Transaction::~Transaction() {
  if (!open_ || !db_.healthy()) return;
  try {
    if (joined_) {
      db_.exec_simple(kPgRollBackCallerSavepoint, "roll back to savepoint");
      return;
    }
    db_.exec_simple("ROLLBACK", "rollback");
  } catch (...) {
    // The connection is unusable; the pool drops it (it is not idle).
  }
}

Result Transaction::read(const Statement& statement, const Params& params) { return db_.exec(statement, params); }

Result Transaction::write(const Statement& statement, const Params& params) {
  Result result = db_.exec(statement, params);
  if (result.affected() > 0) changed_ = true;
  return result;
}

std::vector<Result> Transaction::write_many(const std::vector<std::pair<const Statement*, const Params*>>& statements) {
  std::vector<Result> results = db_.exec_many(statements);
  note_changes(results);
  return results;
}

std::vector<Result> Transaction::write_many_under_bookkeeping_lock(
    const std::vector<std::pair<const Statement*, const Params*>>& statements) {
  const Params lock = Params().add(settings_.bookkeeping_lock_key);
  std::vector<std::pair<const Statement*, const Params*>> locked_first = {{&kTakeBookkeepingLock, &lock}};
  locked_first.insert(locked_first.end(), statements.begin(), statements.end());
  std::vector<Result> results = db_.exec_many(locked_first);
  results.erase(results.begin());  // the lock's row is no change
  note_changes(results);
  return results;
}

void Transaction::note_changes(const std::vector<Result>& results) {
  for (const Result& result : results) {
    if (result.affected() > 0) changed_ = true;
  }
}

void Transaction::record_move(JobId id, const std::string& queue, std::optional<JobState> from, JobState to,
                              int attempt, Time at, std::string_view detail) {
  history_.push_back({id, to_micros(at), from, to, attempt, std::string(detail)});
  if (from) count(queue, *from, -1);
  count(queue, to, +1);
  if (to == JobState::kCompleted || to == JobState::kFailed) {
    const int64_t micros = to_micros(at);
    ++finishes_[{micros - micros % kPgMicrosPerMinute, to}];
  }
}

void Transaction::count(const std::string& queue, JobState state, int64_t delta) { counts_[{queue, state}] += delta; }

bool Transaction::commit() {
  bool bookkeeping = !history_.empty() || !finishes_.empty();
  for (const auto& [key, delta] : counts_) bookkeeping = bookkeeping || delta != 0;
  const bool changed = changed_ || bookkeeping;
  if (bookkeeping) {
    ArrayLiteral ids, ats, froms, tos, attempts, details;
    for (const auto& h : history_) {
      ids.add(h.id);
      ats.add(h.at);
      if (h.from) {
        froms.add(stored_state(*h.from));
      } else {
        froms.add(std::nullopt);
      }
      tos.add(stored_state(h.to));
      attempts.add(h.attempt);
      details.add(h.detail);
    }
    ArrayLiteral queues, states, deltas;
    for (const auto& [key, delta] : counts_) {
      if (delta == 0) continue;
      queues.add(key.first);
      states.add(stored_state(key.second));
      deltas.add(delta);
    }
    ArrayLiteral minutes, finish_states, finish_counts;
    for (const auto& [key, n] : finishes_) {
      minutes.add(key.first);
      finish_states.add(stored_state(key.second));
      finish_counts.add(n);
    }
    std::optional<int64_t> prune_before;
    if (!finishes_.empty()) {
      prune_before = finishes_.rbegin()->first.first -
                     std::chrono::duration_cast<std::chrono::microseconds>(kPgFinishesKeptFor).count();
    }
    Params p;
    p.add(settings_.bookkeeping_lock_key).add(ids).add(ats).add(froms).add(tos).add(attempts).add(details);
    p.add(queues).add(states).add(deltas).add(minutes).add(finish_states).add(finish_counts).add(prune_before);
    p.add(settings_.channel).add(settings_.notify_payload);
    // With COMMIT in the same round trip: the bookkeeping lock is held for no longer
    // than the server takes to commit, whatever happens to this process meanwhile.
    // (A joined transaction holds it until its caller commits: see client.h.)
    finish_with(kWriteBookkeeping, p);
  } else if (changed) {
    finish_with(kNotifyChange, Params().add(settings_.channel).add(settings_.notify_payload));
  } else {
    db_.exec_simple(joined_ ? kPgReleaseCallerSavepoint : "COMMIT", "commit");
  }
  open_ = false;
  return changed;
}

void Transaction::finish_with(const Statement& statement, const Params& params) {
  if (joined_) {
    db_.exec(statement, params);
    db_.exec_simple(kPgReleaseCallerSavepoint, "release savepoint");
  } else {
    db_.exec_and_commit(statement, params);
  }
}

}  // namespace quern::postgres
