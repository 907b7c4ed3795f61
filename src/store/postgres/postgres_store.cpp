#include "store/postgres/postgres_store.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <type_traits>

#include "core/job_actions.h"
#include "quern/error.h"
#include "store/postgres/cron_entries.h"
#include "store/postgres/job_claim.h"
#include "store/postgres/job_enqueue.h"
#include "store/postgres/job_row.h"
#include "store/postgres/job_transitions.h"
#include "store/postgres/pg_error.h"
#include "store/postgres/schema.h"
#include "store/postgres/statements.h"
#include "store/queue_hold.h"
#include "store/queue_retention.h"
#include "store/run_end.h"

namespace quern::postgres {
namespace {

// Connections per store: enough for a worker pool's threads and an HTTP server's
// handlers at once; more callers wait for one (up to the busy timeout).
constexpr size_t kPgMaxConnectionsPerStore = 12;
// Reruns of a transaction that lost a deadlock or a unique-key race.
constexpr int kPgMaxTransactionRuns = 8;

// The NOTIFY channel of a schema: readable when it fits in an identifier.
std::string channel_of_schema(const std::string& schema) {
  const std::string readable = "quern_" + schema;
  if (readable.size() <= 63) return readable;
  uint64_t hash = 14695981039346656037ull;
  for (char c : schema) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return "quern_" + std::to_string(hash);
}

ArrayLiteral id_array(const std::vector<JobId>& ids) {
  ArrayLiteral array;
  for (JobId id : ids) array.add(id);
  return array;
}

HistoryEntry read_history_row(const Result& r, int row) {
  HistoryEntry e;
  e.seq = r.int64(row, 0);
  e.job_id = r.int64(row, 1);
  e.at = r.time(row, 2);
  if (!r.is_null(row, 3)) e.from = parse_stored_state(r.text_view(row, 3));
  e.to = parse_stored_state(r.text_view(row, 4));
  e.attempt = r.integer(row, 5);
  e.detail = r.text(row, 6);
  return e;
}

Json parse_setting_value(std::string_view key, std::string_view text) {
  Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    throw Error::data_loss("postgres: setting '" + std::string(key) + "' has malformed JSON in the database");
  }
  return value;
}

// Keeps the last `max_bytes` of `text`, cut at a UTF-8 character boundary.
std::string log_tail(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t start = text.size() - max_bytes;
  while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) ++start;
  return text.substr(start);
}

// Removes jobs and everything kept about them.
void delete_job_rows(Transaction& txn, const std::vector<JobId>& ids) {
  const ArrayLiteral array = id_array(ids);
  for (const Statement* s :
       {&kDeleteJobs, &kDeleteHistoryOfJobs, &kDeleteLogsOfJobs, &kDeleteDependenciesOfJobs, &kDeleteTagsOfJobs}) {
    txn.write(*s, Params().add(array));
  }
}

// Moves a failed, canceled or expired job back to work (see Store::retry_job).
Job retry_one_job(Transaction& txn, JobId id, Time now) {
  const auto pos = lock_job_position(txn, id);
  if (!pos) throw Error::not_found(job_not_found_message(id));
  check_can_retry(id, pos->state);
  const Job job = select_job(txn, id);
  if (job.unique_key) {
    Result r = txn.read(kSelectLiveJobIdByUniqueKey, Params().add(*job.unique_key));
    if (r.rows() > 0) {
      throw Error::already_exists("job " + std::to_string(id) + " cannot be retried: job " +
                                  std::to_string(r.int64(0, 0)) + " holds its unique key '" + *job.unique_key + "'");
    }
  }
  bool waits = !pos->files_met;
  if (!waits) {
    Result r = txn.read(kCountUnmetDependencies, Params().add(id));
    waits = r.rows() > 0 && r.int64(0, 0) > 0;
  }
  const JobState to = waits ? JobState::kBlocked : JobState::kAvailable;
  txn.write(kRetryJob, Params().add(id).add(stored_state(to)).add(now));
  txn.record_move(id, pos->queue, pos->state, to, pos->attempt, now, "retried");
  return select_job(txn, id);
}

// One row of kLockJobsForFinish / kLockExpiredLeases / kLockRunningJobsOfOwners.
struct LockedRun {
  std::string queue;
  JobState state;
  int attempt;
  int failures;
  int max_attempts;
};

LockedRun read_locked_run(const Result& r, int row) {
  return {r.text(row, 1), parse_stored_state(r.text_view(row, 2)), r.integer(row, 3), r.integer(row, 4),
          r.integer(row, 5)};
}

// The columns of kEndRuns, a row per run ended.
struct EndedRuns {
  ArrayLiteral ids, states, failed, errors, run_ats, finished_ats, results;
  std::vector<std::pair<JobId, JobState>> finals;
  bool empty = true;

  void add(JobId id, JobState to, bool failure, const std::optional<std::string>& error, std::optional<Time> run_at,
           std::optional<Time> finished_at, const std::optional<std::string>& result) {
    ids.add(id);
    states.add(stored_state(to));
    failed.add(failure ? 1 : 0);
    errors.add(error);
    run_ats.add(run_at);
    finished_ats.add(finished_at);
    results.add(result);
    if (is_final(to)) finals.emplace_back(id, to);
    empty = false;
  }

  void write(Transaction& txn, Time now) {
    if (empty) return;
    txn.write(kEndRuns, Params().add(ids).add(states).add(failed).add(errors).add(run_ats).add(finished_ats)
                            .add(results).add(now));
    after_jobs_final(txn, finals, now);
  }
};

}  // namespace

PostgresStore::PostgresStore(const std::string& url, const StoreOptions& options) : options_(options) {
  const auto timeout_seconds = std::chrono::duration_cast<std::chrono::seconds>(options_.busy_timeout).count();
  settings_ = parse_postgres_url(url, static_cast<int>(std::max<int64_t>(timeout_seconds, 1)));
  auto first = connect(settings_, options_.busy_timeout);
  if (options_.migrate) {
    migrate_schema(*first, settings_.schema, system_clock()->now());
  } else {
    require_current_schema(*first, settings_.schema, settings_.display_name);
  }
  {
    Result r = first->exec(kSelectDatabaseId);
    if (r.rows() != 1) throw Error::data_loss("postgres: " + settings_.display_name + " has no database id");
    database_id_ = r.text(0, 0);
  }
  transaction_settings_.bookkeeping_lock_key = bookkeeping_lock_key(settings_.schema);
  transaction_settings_.channel = channel_of_schema(settings_.schema);
  transaction_settings_.notify_payload = this_process_notify_payload();
  caller_transaction_settings_ = transaction_settings_;
  caller_transaction_settings_.notify_payload = "transactional enqueue";
  pool_ = std::make_unique<ConnectionPool>(settings_, options_.busy_timeout, kPgMaxConnectionsPerStore,
                                           options_.busy_timeout, std::move(first));
  local_changes_ = local_change_counter(database_id_);
}

PostgresStore::~PostgresStore() = default;

template <typename Work>
auto PostgresStore::write(Work&& work) {
  using Value = std::invoke_result_t<Work&, Transaction&>;
  for (int run = 1;; ++run) {
    try {
      auto connection = pool_->acquire();
      Transaction txn(*connection, transaction_settings_);
      if constexpr (std::is_void_v<Value>) {
        work(txn);
        if (txn.commit()) local_changes_->fetch_add(1, std::memory_order_release);
        return;
      } else {
        Value value = work(txn);
        if (txn.commit()) local_changes_->fetch_add(1, std::memory_order_release);
        return value;
      }
    } catch (const TransactionConflict& conflict) {
      if (run >= kPgMaxTransactionRuns) throw Error(conflict.code(), conflict.what());
      // Let the transaction we collided with finish before running again.
      thread_local std::minstd_rand jitter(std::random_device{}());
      std::this_thread::sleep_for(std::chrono::microseconds(200 * run + jitter() % 1000));
    }
  }
}

template <typename Read>
auto PostgresStore::read(Read&& read) {
  auto connection = pool_->acquire();
  return read(*connection);
}

// --- producers -----------------------------------------------------------------------

std::vector<EnqueueResult> PostgresStore::enqueue_jobs(const std::vector<NewJob>& jobs, Time now) {
  if (jobs.empty()) return {};
  std::vector<EncodedNewJob> encoded;
  encoded.reserve(jobs.size());
  for (const auto& job : jobs) encoded.push_back(encode_new_job_for_postgres(job, options_.max_payload_bytes));
  return write([&](Transaction& txn) { return enqueue_new_jobs(txn, jobs, encoded, now); });
}

std::vector<EnqueueResult> PostgresStore::enqueue_jobs_in_transaction(PGconn* conn, const std::vector<NewJob>& jobs,
                                                                      Time now) {
  if (conn == nullptr) throw Error::invalid_argument("transactional enqueue needs a connection, got none");
  switch (PQtransactionStatus(conn)) {
    case PQTRANS_INTRANS:
      break;
    case PQTRANS_IDLE:
      throw Error::invalid_argument("transactional enqueue needs the connection inside an open transaction (BEGIN first)");
    case PQTRANS_INERROR:
      throw Error::invalid_argument("transactional enqueue: the connection's transaction has failed; roll it back first");
    case PQTRANS_ACTIVE:
      throw Error::invalid_argument("transactional enqueue: the connection is busy running a command");
    default:
      throw Error::invalid_argument("transactional enqueue: the connection is broken or not connected");
  }
  if (jobs.empty()) return {};
  std::vector<EncodedNewJob> encoded;
  encoded.reserve(jobs.size());
  for (const auto& job : jobs) encoded.push_back(encode_new_job_for_postgres(job, options_.max_payload_bytes));
  auto borrowed = Connection::borrow(conn, settings_.schema);
  for (int run = 1;; ++run) {
    try {
      Transaction txn(*borrowed, caller_transaction_settings_, JoinCallerTransaction{});
      auto results = enqueue_new_jobs(txn, jobs, encoded, now);
      txn.commit();
      return results;
    } catch (const TransactionConflict& conflict) {
      // Rolled back to the savepoint: in READ COMMITTED the rerun sees what the other
      // transaction committed.
      if (run >= kPgMaxTransactionRuns) throw Error(conflict.code(), conflict.what());
      thread_local std::minstd_rand caller_jitter(std::random_device{}());
      std::this_thread::sleep_for(std::chrono::microseconds(200 * run + caller_jitter() % 1000));
    }
  }
}

// --- workers -------------------------------------------------------------------------

std::vector<Job> PostgresStore::claim_jobs(const ClaimParams& params) {
  if (params.max <= 0) return {};
  return write([&](Transaction& txn) { return claim_available_jobs(txn, params); });
}

std::vector<FinishStatus> PostgresStore::heartbeat_jobs(const std::vector<JobHeartbeat>& beats, Time now) {
  if (beats.empty()) return {};
  ArrayLiteral ids, attempts, leases, progress, stages, checkpoints;
  for (const auto& beat : beats) {
    ids.add(beat.id);
    attempts.add(beat.attempt);
    leases.add(beat.lease_us());
    progress.add(beat.progress);
    stages.add(beat.stage);
    checkpoints.add(beat.checkpoint ? json_text(*beat.checkpoint) : std::nullopt);
  }
  return write([&](Transaction& txn) {
    Result r = txn.write(kHeartbeatJobs, Params().add(ids).add(attempts).add(leases).add(progress).add(stages)
                                             .add(checkpoints).add(now).add(kDefaultLease.count()));
    std::set<std::pair<JobId, int>> kept;
    for (int i = 0; i < r.rows(); ++i) kept.emplace(r.int64(i, 0), r.integer(i, 1));
    std::vector<FinishStatus> statuses;
    statuses.reserve(beats.size());
    for (const auto& beat : beats) {
      statuses.push_back(kept.contains({beat.id, beat.attempt}) ? FinishStatus::kOk : FinishStatus::kStale);
    }
    return statuses;
  });
}

std::vector<FinishStatus> PostgresStore::finish_jobs(const std::vector<JobFinish>& items, Time now) {
  if (items.empty()) return {};
  std::vector<std::optional<std::string>> results;
  results.reserve(items.size());
  std::vector<JobId> ids;
  for (const auto& item : items) {
    results.push_back(json_text(item.result));
    ids.push_back(item.id);
  }
  return write([&](Transaction& txn) {
    std::map<JobId, LockedRun> runs;
    {
      Result r = txn.read(kLockJobsForFinish, Params().add(id_array(ids)));
      for (int i = 0; i < r.rows(); ++i) runs.emplace(r.int64(i, 0), read_locked_run(r, i));
    }
    EndedRuns ended;
    std::vector<FinishStatus> statuses;
    statuses.reserve(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      const JobFinish& item = items[i];
      auto it = runs.find(item.id);
      if (it == runs.end() || it->second.state != JobState::kRunning || it->second.attempt != item.attempt) {
        statuses.push_back(FinishStatus::kStale);
        continue;
      }
      LockedRun& run = it->second;
      // Where the run sends the job: a later run_at waits as scheduled.
      const JobState waiting = item.run_at > now ? JobState::kScheduled : JobState::kAvailable;
      JobState to = JobState::kCompleted;
      switch (item.outcome) {
        case FinishOutcome::kCompleted:
          ended.add(item.id, to, false, std::nullopt, std::nullopt, now, results[i]);
          break;
        case FinishOutcome::kRetry:
        case FinishOutcome::kFail: {
          const bool spent = item.outcome == FinishOutcome::kFail || run.failures + 1 >= run.max_attempts;
          to = spent ? JobState::kFailed : waiting;
          ended.add(item.id, to, true, item.error, spent ? std::nullopt : std::optional<Time>(item.run_at),
                    spent ? std::optional<Time>(now) : std::nullopt, std::nullopt);
          break;
        }
        case FinishOutcome::kSnooze:
        case FinishOutcome::kRelease: {
          const bool snooze = item.outcome == FinishOutcome::kSnooze;
          to = snooze ? waiting : JobState::kAvailable;
          ended.add(item.id, to, false, std::nullopt, snooze ? std::optional<Time>(item.run_at) : std::nullopt,
                    std::nullopt, std::nullopt);
          break;
        }
      }
      run.state = to;  // a second finish of the same run in this batch is stale
      txn.record_move(item.id, run.queue, JobState::kRunning, to, item.attempt, now, run_end_detail(item));
      statuses.push_back(FinishStatus::kOk);
    }
    ended.write(txn, now);
    return statuses;
  });
}

FinishStatus PostgresStore::append_log(JobId id, int attempt, const std::string& text, Time now) {
  const size_t max_bytes = options_.max_log_bytes;
  const std::string chunk = log_tail(text, max_bytes);
  return write([&](Transaction& txn) {
    int64_t total = 0;
    int64_t seq = 0;
    {
      Result r = txn.read(kLockRunningJobLog, Params().add(id).add(attempt));
      if (r.rows() == 0) return FinishStatus::kStale;
      total = r.int64(0, 0);
      seq = r.int64(0, 1) + 1;
    }
    txn.write(kInsertLogChunk, Params().add(id).add(seq).add(attempt).add(now)
                                   .add(static_cast<int64_t>(chunk.size())).add_bytes(chunk));
    total += static_cast<int64_t>(chunk.size());
    if (total > static_cast<int64_t>(max_bytes)) {
      // Drop the oldest chunks until the rest fits; the new chunk always fits alone.
      int64_t drop_through = 0;
      Result r = txn.read(kSelectLogChunkSizes, Params().add(id));
      for (int i = 0; i < r.rows() && total > static_cast<int64_t>(max_bytes); ++i) {
        drop_through = r.int64(i, 0);
        total -= r.int64(i, 1);
      }
      txn.write(kDeleteLogChunksUpTo, Params().add(id).add(drop_through));
    }
    txn.write(kSetLogBytes, Params().add(id).add(total));
    return FinishStatus::kOk;
  });
}

// --- maintenance ---------------------------------------------------------------------

std::vector<MovedJob> PostgresStore::rescue_locked_jobs(Transaction& txn, const Result& locked, std::string_view why,
                                                        Time now) {
  std::vector<MovedJob> moved;
  EndedRuns ended;
  const std::string error(why);
  for (int i = 0; i < locked.rows(); ++i) {
    const JobId id = locked.int64(i, 0);
    const LockedRun run = read_locked_run(locked, i);
    if (run.state != JobState::kRunning) continue;
    // A lost run counts as a failure; the job runs again now unless its attempts are spent.
    const bool spent = run.failures + 1 >= run.max_attempts;
    const JobState to = spent ? JobState::kFailed : JobState::kAvailable;
    ended.add(id, to, true, error, std::nullopt, spent ? std::optional<Time>(now) : std::nullopt, std::nullopt);
    txn.record_move(id, run.queue, JobState::kRunning, to, run.attempt, now, why);
    moved.push_back({id, run.attempt, to});
  }
  ended.write(txn, now);
  return moved;
}

std::vector<MovedJob> PostgresStore::rescue_expired_leases(Time now) {
  return write([&](Transaction& txn) {
    Result locked = txn.read(kLockExpiredLeases, Params().add(now));
    return rescue_locked_jobs(txn, locked, "lease expired", now);
  });
}

std::vector<MovedJob> PostgresStore::rescue_jobs_of_owners(const std::vector<std::string>& owners, Time now) {
  if (owners.empty()) return {};
  ArrayLiteral names;
  for (const auto& owner : owners) names.add(owner);
  return write([&](Transaction& txn) {
    Result locked = txn.read(kLockRunningJobsOfOwners, Params().add(names));
    return rescue_locked_jobs(txn, locked, "worker process died", now);
  });
}

std::vector<std::string> PostgresStore::lease_owners() {
  return read([&](Connection& db) {
    Result r = db.exec(kSelectLeaseOwners);
    std::vector<std::string> owners;
    for (int i = 0; i < r.rows(); ++i) owners.push_back(r.text(i, 0));
    return owners;
  });
}

int PostgresStore::promote_scheduled_jobs(Time now) {
  return write([&](Transaction& txn) { return promote_due_jobs(txn, now); });
}

std::optional<Time> PostgresStore::next_scheduled_at(const std::vector<std::string>& queues) {
  Params p;
  if (queues.empty()) {
    p.add(std::nullopt);
  } else {
    ArrayLiteral names;
    for (const auto& q : queues) names.add(q);
    p.add(names);
  }
  return read([&](Connection& db) -> std::optional<Time> {
    Result r = db.exec(kSelectNextScheduledAt, p);
    if (r.rows() == 0 || r.is_null(0, 0)) return std::nullopt;
    return r.time(0, 0);
  });
}

int PostgresStore::expire_jobs(Time now) {
  return write([&](Transaction& txn) {
    std::vector<JobId> ids;
    {
      Result r = txn.read(kLockExpiringJobs, Params().add(now));
      for (int i = 0; i < r.rows(); ++i) ids.push_back(r.int64(i, 0));
    }
    int expired = 0;
    for (JobId id : ids) {
      // An earlier expiry in this pass may have canceled this one as a dependent.
      const auto pos = lock_job_position(txn, id);
      if (!pos || is_final(pos->state) || pos->state == JobState::kRunning) continue;
      expire_job_at(txn, id, *pos, now);
      ++expired;
    }
    return expired;
  });
}

std::vector<FileWait> PostgresStore::jobs_waiting_on_files() {
  return read([&](Connection& db) {
    Result r = db.exec(kSelectJobsWaitingOnFiles);
    std::vector<FileWait> waits;
    for (int i = 0; i < r.rows(); ++i) {
      FileWait w;
      w.id = r.int64(i, 0);
      if (!r.is_null(i, 1)) {
        const Json paths = Json::parse(r.text_view(i, 1), nullptr, /*allow_exceptions=*/false);
        if (paths.is_array()) {
          for (const auto& p : paths) {
            if (p.is_string()) w.paths.push_back(p.get<std::string>());
          }
        }
      }
      waits.push_back(std::move(w));
    }
    return waits;
  });
}

void PostgresStore::mark_files_present(JobId id, Time now) {
  write([&](Transaction& txn) {
    const auto pos = lock_job_position(txn, id);
    if (!pos) throw Error::not_found(job_not_found_message(id));
    txn.write(kMarkFilesMet, Params().add(id).add(now));
    if (pos->state == JobState::kBlocked) unblock_if_ready(txn, id, now, "files present");
  });
}

int64_t PostgresStore::delete_finished_jobs(const std::vector<JobState>& given_states,
                                            const std::optional<std::string>& queue,
                                            std::optional<Time> finished_before, Time now) {
  for (JobState s : given_states) {
    if (!is_final(s)) {
      throw Error::invalid_argument("only final jobs can be cleared, not " + std::string(state_name(s)) + " ones");
    }
  }
  if (given_states.empty()) return 0;
  const std::vector<JobState> states = canceled_first(given_states);
  return write([&](Transaction& txn) {
    int64_t deleted = 0;
    for (JobState state : states) {
      Result r = txn.write(kDeleteFinishedJobs, Params().add(stored_state(state)).add(finished_before).add(queue));
      if (r.rows() == 0) continue;
      std::vector<JobId> ids;
      ids.reserve(r.rows());
      for (int i = 0; i < r.rows(); ++i) {
        ids.push_back(r.int64(i, 0));
        txn.count(r.text(i, 1), state, -1);
      }
      if (state != JobState::kCompleted) cancel_dependents_of_deleted(txn, ids, now);
      delete_job_rows(txn, ids);
      deleted += static_cast<int64_t>(ids.size());
    }
    return deleted;
  });
}

// --- admin ---------------------------------------------------------------------------

std::optional<Job> PostgresStore::get_job(JobId id) {
  return read([&](Connection& db) -> std::optional<Job> {
    Result r = db.exec(kSelectJob, Params().add(id));
    if (r.rows() == 0) return std::nullopt;
    return read_job(r, 0);
  });
}

// Built per call from the filter's parts (and prepared once per shape and connection).
// A page of one state walks jobs_by_state in id order and stops at the page's end;
// several states are one such walk each, merged (a Merge Append, never a sort of every
// job in those states). Without states it walks the primary key.
std::vector<Job> PostgresStore::list_jobs(const JobFilter& filter) {
  if (filter.limit <= 0) return {};
  const bool bounded = !filter.newest_first || filter.after_id > 0;
  const std::string order = filter.newest_first ? " ORDER BY id DESC LIMIT " : " ORDER BY id LIMIT ";
  Params params;
  int index = 0;
  auto next = [&] { return fmt::format("${}", ++index); };
  auto walk = [&](std::optional<JobState> state) {
    std::string sql = "SELECT" QUERN_PG_JOB_COLUMNS "FROM jobs j WHERE ";
    if (state) {
      sql += "j.state = " + next() + "::text";
      params.add(stored_state(*state));
    } else {
      sql += "true";
    }
    if (bounded) {
      sql += (filter.newest_first ? " AND j.id < " : " AND j.id > ") + next() + "::bigint";
      params.add(filter.after_id);
    }
    if (filter.queue) {
      sql += " AND j.queue = " + next() + "::text";
      params.add(*filter.queue);
    }
    if (filter.type) {
      sql += " AND j.type = " + next() + "::text";
      params.add(*filter.type);
    }
    if (filter.tag) {
      sql += " AND EXISTS (SELECT 1 FROM job_tags t WHERE t.job_id = j.id AND t.tag = " + next() + "::text)";
      params.add(*filter.tag);
    }
    sql += order + next() + "::integer";
    params.add(filter.limit);
    return sql;
  };
  std::string sql;
  if (filter.states.size() <= 1) {
    sql = walk(filter.states.empty() ? std::nullopt : std::optional<JobState>(filter.states.front()));
  } else {
    for (size_t i = 0; i < filter.states.size(); ++i) sql += (i == 0 ? "(" : " UNION ALL (") + walk(filter.states[i]) + ")";
    sql += order + next() + "::integer";
    params.add(filter.limit);
  }
  return read([&](Connection& db) {
    Result r = db.exec_text(sql, params);
    std::vector<Job> jobs;
    jobs.reserve(r.rows());
    for (int i = 0; i < r.rows(); ++i) jobs.push_back(read_job(r, i));
    return jobs;
  });
}

std::vector<HistoryEntry> PostgresStore::job_history(JobId id) {
  return read([&](Connection& db) {
    Result r = db.exec(kSelectHistoryOfJob, Params().add(id));
    std::vector<HistoryEntry> entries;
    for (int i = 0; i < r.rows(); ++i) entries.push_back(read_history_row(r, i));
    return entries;
  });
}

std::vector<LogChunk> PostgresStore::read_log(JobId id, int64_t after_seq) {
  return read([&](Connection& db) {
    Result r = db.exec(kSelectLogChunks, Params().add(id).add(after_seq));
    std::vector<LogChunk> chunks;
    for (int i = 0; i < r.rows(); ++i) chunks.push_back({r.int64(i, 0), r.integer(i, 1), r.time(i, 2), r.bytes(i, 3)});
    return chunks;
  });
}

Job PostgresStore::retry_job(JobId id, Time now) {
  return write([&](Transaction& txn) { return retry_one_job(txn, id, now); });
}

int64_t PostgresStore::retry_failed_jobs(std::optional<std::string> queue, Time now) {
  return write([&](Transaction& txn) {
    std::vector<JobId> ids;
    {
      Result r = txn.read(kSelectFailedJobIds, Params().add(queue));
      for (int i = 0; i < r.rows(); ++i) ids.push_back(r.int64(i, 0));
    }
    int64_t retried = 0;
    for (JobId id : ids) {
      try {
        retry_one_job(txn, id, now);
        ++retried;
      } catch (const TransactionConflict&) {
        throw;  // the transaction is aborted: rerun it whole
      } catch (const Error& e) {
        // Another live job holds its unique key, or it is no longer failed: it stays
        // as it is. (Both checks come before any change, so nothing needs undoing.)
        if (e.code() != ErrorCode::kAlreadyExists && e.code() != ErrorCode::kFailedPrecondition) throw;
      }
    }
    return retried;
  });
}

Job PostgresStore::cancel_job(JobId id, Time now) {
  return write([&](Transaction& txn) {
    const auto pos = lock_job_position(txn, id);
    if (!pos) throw Error::not_found(job_not_found_message(id));
    check_can_cancel(id, pos->state);
    cancel_job_at(txn, id, *pos, now, "canceled");
    return select_job(txn, id);
  });
}

void PostgresStore::delete_job(JobId id, Time now) {
  write([&](Transaction& txn) {
    const auto pos = lock_job_position(txn, id);
    if (!pos) throw Error::not_found(job_not_found_message(id));
    check_can_delete(id, pos->state);
    if (pos->state != JobState::kCompleted) cancel_dependents_of_deleted(txn, {id}, now);
    delete_job_rows(txn, {id});
    txn.count(pos->queue, pos->state, -1);
  });
}

Job PostgresStore::set_priority(JobId id, int priority, Time now) {
  return write([&](Transaction& txn) {
    Result r = txn.write(kSetPriority, Params().add(id).add(priority).add(now));
    if (r.rows() == 0) throw Error::not_found(job_not_found_message(id));
    return read_job(r, 0);
  });
}

void PostgresStore::set_queue_paused(const std::string& queue, bool paused, Time now) {
  if (queue.empty()) throw Error::invalid_argument("queue name must not be empty");
  write([&](Transaction& txn) { txn.write(kSetQueuePaused, Params().add(queue).add(paused).add(now)); });
}

void PostgresStore::set_queue_concurrency_limit(const std::string& queue, std::optional<int> limit, Time now) {
  if (queue.empty()) throw Error::invalid_argument("queue name must not be empty");
  if (limit && *limit < 1) throw Error::invalid_argument("a concurrency limit must be at least 1");
  write([&](Transaction& txn) { txn.write(kSetQueueConcurrencyLimit, Params().add(queue).add(now).add(limit)); });
}

void PostgresStore::set_queue_hold(const std::string& queue, std::optional<std::string> held_while, Time now) {
  check_queue_hold(queue, held_while);
  write([&](Transaction& txn) {
    if (held_while) {
      check_no_hold_loop(queue, *held_while, [&](const std::string& name) -> std::optional<std::string> {
        Result r = txn.write(kSelectQueueHeldWhile, Params().add(name));
        if (r.rows() == 0 || r.is_null(0, 0)) return std::nullopt;
        return r.text(0, 0);
      });
    }
    txn.write(kSetQueueHold, Params().add(queue).add(now).add(held_while));
  });
}

namespace {

// The retention columns of row `row`, from column `first` on.
RetentionColumns read_retention_columns(const Result& r, int row, int first) {
  RetentionColumns columns;
  for (size_t i = 0; i < columns.size(); ++i) {
    const int column = first + static_cast<int>(i);
    if (!r.is_null(row, column)) columns[i] = r.int64(row, column);
  }
  return columns;
}

}  // namespace

void PostgresStore::set_queue_retention(const std::string& queue, const RetentionChanges& changes, Time now) {
  check_retention_changes(queue, changes);
  write([&](Transaction& txn) {
    RetentionColumns columns;
    // The row first, so two changes of a new queue's retention cannot both merge into
    // nothing and overwrite each other.
    txn.write(kEnsureQueueRow, Params().add(queue).add(now));
    Result current = txn.write(kLockQueueRetention, Params().add(queue));
    if (current.rows() > 0) columns = read_retention_columns(current, 0, 0);
    columns = apply_retention_changes(columns, changes);
    Params params;
    params.add(queue).add(now);
    for (const auto& column : columns) params.add(column);
    txn.write(kSetQueueRetention, params);
  });
}

// Each queue and state that keeps jobs for a while, in a transaction of its own, found
// by jobs_finished_by_queue.
PruneProgress PostgresStore::prune_finished_jobs(Time now, int max_jobs) {
  PruneProgress progress;
  for (const QueueInfo& queue : list_queues()) {
    for (const auto& [state, keep] : queue.retention) {
      if (progress.deleted >= max_jobs) {
        progress.more_due = true;
        return progress;
      }
      progress.deleted += write([&](Transaction& txn) {
        Result r = txn.write(kDeleteJobsFinishedBefore, Params()
                                                            .add(queue.name)
                                                            .add(stored_state(state))
                                                            .add(now - keep)
                                                            .add(static_cast<int64_t>(max_jobs - progress.deleted)));
        if (r.rows() == 0) return int64_t{0};
        std::vector<JobId> ids;
        ids.reserve(r.rows());
        for (int i = 0; i < r.rows(); ++i) ids.push_back(r.int64(i, 0));
        txn.count(queue.name, state, -static_cast<int64_t>(ids.size()));
        if (state != JobState::kCompleted) cancel_dependents_of_deleted(txn, ids, now);
        delete_job_rows(txn, ids);
        return static_cast<int64_t>(ids.size());
      });
    }
  }
  progress.more_due = progress.deleted >= max_jobs;
  return progress;
}

std::vector<QueueInfo> PostgresStore::list_queues() {
  return read([&](Connection& db) {
    Result r = db.exec(kSelectQueueInfos);
    std::vector<QueueInfo> queues;
    for (int i = 0; i < r.rows(); ++i) {
      queues.push_back({r.text(i, 0), r.boolean(i, 1), r.int64(i, 2),
                        r.is_null(i, 3) ? std::nullopt : std::optional<int>(r.integer(i, 3)),
                        r.is_null(i, 4) ? std::nullopt : std::optional<std::string>(r.text(i, 4)),
                        retention_of(read_retention_columns(r, i, 5))});
    }
    return queues;
  });
}

Stats PostgresStore::stats() {
  return read([&](Connection& db) {
    Result r = db.exec(kSelectStats);
    Stats stats;
    for (int i = 0; i < r.rows(); ++i) {
      const std::string_view name = r.text_view(i, 0);
      if (stats.queues.empty() || stats.queues.back().queue != name) {
        Stats::QueueCounts counts;
        counts.queue = std::string(name);
        counts.paused = r.boolean(i, 1);
        stats.queues.push_back(std::move(counts));
      }
      if (!r.is_null(i, 2)) {
        const JobState state = parse_stored_state(r.text_view(i, 2));
        stats.queues.back().by_state[static_cast<size_t>(state)] = r.int64(i, 3);
      }
    }
    return stats;
  });
}

std::optional<Json> PostgresStore::get_setting(const std::string& key) {
  return read([&](Connection& db) -> std::optional<Json> {
    Result r = db.exec(kSelectSetting, Params().add(key));
    if (r.rows() == 0) return std::nullopt;
    return parse_setting_value(key, r.text_view(0, 0));
  });
}

void PostgresStore::check_writable() {
  const bool can_write = read([](Connection& db) { return db.exec(kSelectCanWrite).text(0, 0) == "t"; });
  if (!can_write) {
    throw Error::unavailable("postgres: " + settings_.display_name +
                             " is read-only for this session (a standby, a read-only transaction, or a role "
                             "without UPDATE on jobs)");
  }
}

void PostgresStore::put_setting(const std::string& key, const Json& value, Time now) {
  if (key.empty()) throw Error::invalid_argument("setting key must not be empty");
  const std::string text = value.dump();
  write([&](Transaction& txn) { txn.write(kPutSetting, Params().add(key).add(text).add(now)); });
}

std::vector<std::pair<std::string, Json>> PostgresStore::list_settings() {
  return read([&](Connection& db) {
    Result r = db.exec(kSelectSettings);
    std::vector<std::pair<std::string, Json>> settings;
    for (int i = 0; i < r.rows(); ++i) {
      std::string key = r.text(i, 0);
      Json value = parse_setting_value(key, r.text_view(i, 1));
      settings.emplace_back(std::move(key), std::move(value));
    }
    return settings;
  });
}

CronEntry PostgresStore::put_cron_entry(const CronEntry& entry, Time now) {
  return write([&](Transaction& txn) { return postgres::put_cron_entry(txn, entry, now); });
}

std::vector<CronEntry> PostgresStore::list_cron_entries() {
  return read([&](Connection& db) { return read_cron_entries(db); });
}

void PostgresStore::delete_cron_entries(const std::vector<std::string>& names) {
  write([&](Transaction& txn) { postgres::delete_cron_entries(txn, names); });
}

std::vector<EnqueueResult> PostgresStore::fire_due_cron_entries(Time now) {
  if (!read([&](Connection& db) { return any_cron_entry_due(db, now); })) return {};
  return write([&](Transaction& txn) { return postgres::fire_due_cron_entries(txn, now, options_.max_payload_bytes); });
}

std::vector<IngestedFile> PostgresStore::ingest_files(const std::string& watch, const std::vector<FileToIngest>& files,
                                                     Time now) {
  if (files.empty()) return {};
  std::vector<EncodedNewJob> encoded;
  encoded.reserve(files.size());
  for (const auto& file : files) encoded.push_back(encode_new_job_for_postgres(file.job, options_.max_payload_bytes));
  return write([&](Transaction& txn) {
    txn.read(kLockWatch, Params().add(watch_lock_key(settings_.schema, watch)));
    std::set<std::string, std::less<>> seen;
    {
      ArrayLiteral paths;
      for (const auto& file : files) paths.add(file.path);
      Result r = txn.read(kSelectIngestedPaths, Params().add(watch).add(paths));
      for (int row = 0; row < r.rows(); ++row) seen.insert(r.text(row, 0));
    }
    std::vector<size_t> fresh;
    std::vector<NewJob> jobs;
    std::vector<EncodedNewJob> fresh_encoded;
    for (size_t i = 0; i < files.size(); ++i) {
      // A path given twice is one file.
      if (!seen.insert(files[i].path).second) continue;
      fresh.push_back(i);
      jobs.push_back(files[i].job);
      fresh_encoded.push_back(encoded[i]);
    }
    std::vector<IngestedFile> ingested;
    if (fresh.empty()) return ingested;
    std::vector<EnqueueResult> results = enqueue_new_jobs(txn, jobs, fresh_encoded, now);
    ArrayLiteral paths, ids;
    for (size_t k = 0; k < fresh.size(); ++k) {
      paths.add(files[fresh[k]].path);
      ids.add(results[k].job.id);
      ingested.push_back({fresh[k], std::move(results[k])});
    }
    txn.write(kRecordIngestedFiles, Params().add(watch).add(paths).add(ids).add(now));
    return ingested;
  });
}

std::vector<HistoryEntry> PostgresStore::history_since(int64_t after_seq, int limit) {
  if (limit <= 0) return {};
  return read([&](Connection& db) {
    Result r = db.exec(kSelectHistorySince, Params().add(after_seq).add(limit));
    std::vector<HistoryEntry> entries;
    for (int i = 0; i < r.rows(); ++i) entries.push_back(read_history_row(r, i));
    return entries;
  });
}

std::vector<ThroughputBucket> PostgresStore::throughput(Time since) {
  constexpr int64_t kMicrosPerMinute = 60'000'000;
  const int64_t from = to_micros(since) - to_micros(since) % kMicrosPerMinute;
  return read([&](Connection& db) {
    Result r = db.exec(kSelectFinishesSince, Params().add(from));
    std::vector<ThroughputBucket> buckets;
    for (int i = 0; i < r.rows(); ++i) {
      const Time minute = r.time(i, 0);
      if (buckets.empty() || buckets.back().minute != minute) buckets.push_back({minute, 0, 0});
      const JobState state = parse_stored_state(r.text_view(i, 1));
      (state == JobState::kCompleted ? buckets.back().completed : buckets.back().failed) += r.int64(i, 2);
    }
    return buckets;
  });
}

uint64_t PostgresStore::change_counter() {
  std::call_once(listener_started_, [this] {
    listener_ = std::make_unique<ChangeListener>(settings_, options_.busy_timeout, transaction_settings_.channel);
  });
  return listener_->seen() + local_changes_->load(std::memory_order_acquire);
}

}  // namespace quern::postgres
