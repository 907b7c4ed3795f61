#include "store/sqlite/sqlite_store.h"

#include <sqlite3.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include "core/job_actions.h"
#include "quern/error.h"
#include "store/queue_hold.h"
#include "store/queue_retention.h"
#include "store/run_end.h"
#include "store/sqlite/cron_entries.h"
#include "store/sqlite/job_claim.h"
#include "store/sqlite/job_enqueue.h"
#include "store/sqlite/job_pages.h"
#include "store/sqlite/job_row.h"
#include "store/sqlite/job_transitions.h"
#include "store/sqlite/multi_row.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/sqlite_error.h"
#include "store/sqlite/statements.h"

namespace quern::sqlite {
namespace {

namespace fs = std::filesystem;

// Checks the path before SQLite touches it: a directory, or a file that is not a
// SQLite database at all, is refused without being opened (so it is never modified).
void check_path(const std::string& path) {
  if (path.empty()) throw Error::invalid_argument("database path must not be empty");
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (fs::is_directory(status)) throw Error::unavailable("cannot open database " + path + ": it is a directory");
  if (fs::exists(status)) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error::unavailable("cannot open database " + path + ": the file cannot be read");
    char header[16] = {};
    in.read(header, sizeof header);
    const auto got = in.gcount();
    static constexpr char kSqliteHeader[16] = "SQLite format 3";  // 15 characters and a NUL
    if (got > 0 && (got < 16 || std::memcmp(header, kSqliteHeader, 16) != 0)) {
      throw Error::data_loss(path + " is not a Quern database (file is not a database)");
    }
    return;
  }
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::exists(parent, ec)) {
    fs::create_directories(parent, ec);
    if (ec) {
      throw Error::unavailable("cannot create directory " + parent.string() + " for database " + path + ": " +
                               ec.message());
    }
  }
}

std::string pragma_text(Connection& db, const std::string& pragma) {
  auto q = db.prepare_text(pragma);
  return q->step() ? q->text(0) : std::string();
}

std::string job_not_found(JobId id) { return "job " + std::to_string(id) + " not found"; }

Job select_job(Connection& db, JobId id) {
  auto q = db.prepare(kSelectJob);
  q->bind(1, id);
  if (!q->step()) throw Error::not_found(job_not_found(id));
  return read_job(*q);
}

std::vector<JobId> select_ids(Connection& db, const char* sql, auto&&... params) {
  auto q = db.prepare(sql);
  int index = 0;
  (q->bind(++index, params), ...);
  std::vector<JobId> ids;
  while (q->step()) ids.push_back(q->int64(0));
  return ids;
}

HistoryEntry read_history_entry(const Statement& row) {
  HistoryEntry e;
  e.seq = row.int64(0);
  e.job_id = row.int64(1);
  e.at = row.time(2);
  if (!row.is_null(3)) e.from = parse_stored_state(row.text_view(3));
  e.to = parse_stored_state(row.text_view(4));
  e.attempt = row.integer(5);
  e.detail = row.text(6);
  return e;
}

Json parse_setting(std::string_view key, std::string_view text) {
  Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    throw Error::data_loss("sqlite: setting '" + std::string(key) + "' has malformed JSON in the database");
  }
  return value;
}

// Removes a job and everything kept about it.
void delete_job_rows(WriteTransaction& txn, JobId id, const std::string& queue, JobState state, Time now) {
  if (state != JobState::kCompleted) cancel_dependents_of_deleted(txn, id, now);
  for (const char* sql : {kDeleteJob, kDeleteHistoryOfJob, kDeleteLogsOfJob, kDeleteDependenciesOfJob,
                          kDeleteDependenciesOnJob, kDeleteTagsOfJob}) {
    auto q = txn.db().prepare(sql);
    q->bind(1, id).run();
  }
  txn.count(queue, state, -1);
}

// Moves a failed, canceled or expired job back to work (see retry_job).
Job retry_one(WriteTransaction& txn, JobId id, Time now) {
  const auto pos = find_job_position(txn, id);
  if (!pos) throw Error::not_found(job_not_found(id));
  check_can_retry(id, pos->state);
  const Job job = select_job(txn.db(), id);
  if (job.unique_key) {
    auto q = txn.db().prepare(kSelectLiveJobByUniqueKey);
    q->bind(1, *job.unique_key);
    if (q->step()) {
      throw Error::already_exists("job " + std::to_string(id) + " cannot be retried: job " +
                                  std::to_string(q->int64(0)) + " holds its unique key '" + *job.unique_key + "'");
    }
  }
  bool waits = false;
  {
    auto q = txn.db().prepare(kCountUnmetDependencies);
    q->bind(1, id);
    waits = q->step() && q->int64(0) > 0;
  }
  {
    auto q = txn.db().prepare(kSelectFilesMet);
    q->bind(1, id);
    waits = waits || (q->step() && q->int64(0) == 0);
  }
  const JobState to = waits ? JobState::kBlocked : JobState::kAvailable;
  {
    auto q = txn.db().prepare(kRetryJob);
    q->bind(1, id).bind(2, stored_state(to)).bind(3, now).run();
  }
  txn.record_move(id, pos->queue, pos->state, to, pos->attempt, now, "retried");
  return select_job(txn.db(), id);
}

// Keeps the last `max_bytes` of `text`, cut at a UTF-8 character boundary.
std::string tail_of(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t start = text.size() - max_bytes;
  while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) ++start;
  return text.substr(start);
}

}  // namespace

SqliteStore::SqliteStore(const std::string& path, const StoreOptions& options)
    : path_(path), options_(options), leadership_instance_(new_leadership_instance_id()) {
  check_path(path_);
  writer_ = std::make_unique<Connection>(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, options_.busy_timeout);
  // Processes opening a new file at once (`quern worker &` then `quern add`) can meet
  // SQLITE_BUSY at once, without the busy handler: SQLite does not wait where waiting
  // could deadlock, as while one of them turns the file to WAL. Each step below may run
  // again, so the open is tried again until the busy timeout has passed.
  const auto give_up_at = std::chrono::steady_clock::now() + options_.busy_timeout;
  while (true) {
    try {
      // Only reads until the file is known to be ours (or new).
      check_quern_database(*writer_);
      if (pragma_text(*writer_, "PRAGMA journal_mode = WAL") != "wal") {
        throw Error::unavailable("cannot open database " + path_ + ": it cannot be put in WAL mode");
      }
      writer_->exec(options_.durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
      // The hot index pages of a deep queue should stay in memory (the default is 2 MiB).
      writer_->exec("PRAGMA cache_size = -16384");
      migrate_schema(*writer_);
      database_id_ = pragma_text(*writer_, kSelectDatabaseId);
      break;
    } catch (const Error& e) {
      if (!is_busy_error(e) || std::chrono::steady_clock::now() >= give_up_at) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  batcher_ = std::make_unique<WriteBatcher>(*writer_, options_.busy_timeout, path_);
  readers_ = std::make_unique<ReaderPool>(path_, options_.busy_timeout);
  change_reader_ = std::make_unique<Connection>(path_, SQLITE_OPEN_READWRITE, options_.busy_timeout);
  change_reader_->exec("PRAGMA query_only = 1");
}

SqliteStore::~SqliteStore() { release_leadership(); }

template <typename Work>
auto SqliteStore::write(Work&& work) {
  using Result = std::invoke_result_t<Work&, WriteTransaction&>;
  if constexpr (std::is_void_v<Result>) {
    batcher_->run([&](WriteTransaction& txn) { work(txn); });
  } else {
    std::optional<Result> result;
    batcher_->run([&](WriteTransaction& txn) { result.emplace(work(txn)); });
    return std::move(*result);
  }
}

// --- producers -----------------------------------------------------------------------

std::vector<EnqueueResult> SqliteStore::enqueue_jobs(const std::vector<NewJob>& jobs, Time now) {
  if (jobs.empty()) return {};
  std::vector<EncodedJob> encoded;
  encoded.reserve(jobs.size());
  for (const auto& job : jobs) encoded.push_back(encode_new_job(job, options_.max_payload_bytes));
  return write([&](WriteTransaction& txn) {
    std::vector<EnqueueResult> results;
    results.reserve(jobs.size());
    for (size_t i = 0; i < jobs.size(); ++i) results.push_back(enqueue_job(txn, jobs[i], encoded[i], now));
    return results;
  });
}

// --- workers -------------------------------------------------------------------------

std::vector<Job> SqliteStore::claim_jobs(const ClaimParams& params) {
  return write([&](WriteTransaction& txn) { return claim_available_jobs(txn, params); });
}

std::vector<FinishStatus> SqliteStore::heartbeat_jobs(const std::vector<JobHeartbeat>& beats, Time now) {
  if (beats.empty()) return {};
  std::vector<std::optional<std::string>> checkpoints;
  checkpoints.reserve(beats.size());
  for (const auto& beat : beats) {
    checkpoints.push_back(beat.checkpoint ? json_column(*beat.checkpoint) : std::nullopt);
  }
  return write([&](WriteTransaction& txn) {
    std::vector<FinishStatus> statuses;
    statuses.reserve(beats.size());
    for (size_t i = 0; i < beats.size(); ++i) {
      const auto& beat = beats[i];
      auto q = txn.db().prepare(kHeartbeatJob);
      q->bind(1, beat.id).bind(2, beat.attempt).bind(3, beat.lease_us()).bind(4, beat.progress);
      q->bind(5, beat.stage).bind(6, checkpoints[i]).bind(7, now).bind(8, kDefaultLease.count());
      q->run();
      statuses.push_back(txn.db().changes() == 1 ? FinishStatus::kOk : FinishStatus::kStale);
    }
    return statuses;
  });
}

std::vector<FinishStatus> SqliteStore::finish_jobs(const std::vector<JobFinish>& items, Time now) {
  if (items.empty()) return {};
  std::vector<std::optional<std::string>> results;
  results.reserve(items.size());
  std::vector<JobId> ids;
  ids.reserve(items.size());
  for (const auto& item : items) {
    results.push_back(json_column(item.result));
    ids.push_back(item.id);
  }
  return write([&](WriteTransaction& txn) {
    struct Run {
      JobState state;
      int attempt;
      std::string queue;
      int failures;
      int max_attempts;
    };
    std::unordered_map<JobId, Run> runs;
    runs.reserve(ids.size());
    run_over_ids(
        txn.db(), kSelectRunStatesIn, ids, 0, [](Statement&) {},
        [&](const Statement& row) {
          runs.emplace(row.int64(0), Run{parse_stored_state(row.text_view(1)), row.integer(2), row.text(3),
                                         row.integer(4), row.integer(5)});
        });
    std::vector<FinishStatus> statuses(items.size(), FinishStatus::kStale);
    std::vector<JobId> completed;              // every completed run: their dependents may be ready
    std::vector<JobId> completed_no_result;    // updated by one statement per chunk
    for (size_t i = 0; i < items.size(); ++i) {
      const JobFinish& item = items[i];
      auto it = runs.find(item.id);
      // The fence: the job must still be running at the run's attempt.
      if (it == runs.end() || it->second.state != JobState::kRunning || it->second.attempt != item.attempt) continue;
      Run& run = it->second;
      // Where the run sends the job: a later run_at waits as scheduled.
      const JobState waiting = item.run_at > now ? JobState::kScheduled : JobState::kAvailable;
      JobState to = JobState::kCompleted;
      switch (item.outcome) {
        case FinishOutcome::kCompleted: {
          if (results[i]) {
            auto q = txn.db().prepare(kCompleteRunningJob);
            q->bind(1, item.id).bind(2, results[i]).bind(3, now).run();
          } else {
            completed_no_result.push_back(item.id);
          }
          completed.push_back(item.id);
          break;
        }
        case FinishOutcome::kRetry:
        case FinishOutcome::kFail: {
          const bool spent = item.outcome == FinishOutcome::kFail || run.failures + 1 >= run.max_attempts;
          to = spent ? JobState::kFailed : waiting;
          auto q = txn.db().prepare(kCountFailedRun);
          q->bind(1, item.id).bind_static(2, item.error).bind_static(3, stored_state(to));
          if (spent) {
            q->bind(5, now);  // finished; run_at stays
          } else {
            q->bind(4, item.run_at);
          }
          q->bind(6, now).run();
          break;
        }
        case FinishOutcome::kSnooze:
        case FinishOutcome::kRelease: {
          const bool snooze = item.outcome == FinishOutcome::kSnooze;
          to = snooze ? waiting : JobState::kAvailable;
          auto q = txn.db().prepare(kEndRunWithoutFailure);
          q->bind(1, item.id).bind_static(2, stored_state(to));
          if (snooze) q->bind(3, item.run_at);
          q->bind(4, now).run();
          break;
        }
      }
      run.state = to;  // a second finish of this run in the same call is stale
      txn.record_move(item.id, run.queue, JobState::kRunning, to, item.attempt, now, run_end_detail(item));
      if (is_final(to) && to != JobState::kCompleted) after_job_final(txn, item.id, to, now);
      statuses[i] = FinishStatus::kOk;
    }
    run_over_ids(txn.db(), kCompleteJobsIn, completed_no_result, 1, [&](Statement& q) { q.bind(1, now); });
    unblock_dependents_of(txn, completed, now);
    return statuses;
  });
}

FinishStatus SqliteStore::append_log(JobId id, int attempt, const std::string& text, Time now) {
  const size_t max_bytes = options_.max_log_bytes;
  const std::string chunk = tail_of(text, max_bytes);
  return write([&](WriteTransaction& txn) {
    Connection& db = txn.db();
    int64_t total = 0;
    {
      auto q = db.prepare(kSelectRunningJobLogBytes);
      q->bind(1, id).bind(2, attempt);
      if (!q->step()) return FinishStatus::kStale;
      total = q->int64(0);
    }
    int64_t seq = 0;
    {
      auto q = db.prepare(kSelectLastLogSeq);
      q->bind(1, id);
      if (q->step()) seq = q->int64(0) + 1;
    }
    {
      auto q = db.prepare(kInsertLogChunk);
      q->bind(1, id).bind(2, seq).bind(3, attempt).bind(4, now).bind(5, static_cast<int64_t>(chunk.size()));
      q->bind(6, chunk).run();
    }
    total += static_cast<int64_t>(chunk.size());
    if (total > static_cast<int64_t>(max_bytes)) {
      // Drop the oldest chunks until the rest fits; the new chunk always fits alone.
      int64_t drop_through = 0;
      {
        auto q = db.prepare(kSelectOldestLogChunks);
        q->bind(1, id);
        while (total > static_cast<int64_t>(max_bytes) && q->step()) {
          drop_through = q->int64(0);
          total -= q->int64(1);
        }
      }
      auto q = db.prepare(kDeleteLogChunksUpTo);
      q->bind(1, id).bind(2, drop_through).run();
    }
    auto q = db.prepare(kSetLogBytes);
    q->bind(1, id).bind(2, total).run();
    return FinishStatus::kOk;
  });
}

// --- maintenance ---------------------------------------------------------------------

std::vector<MovedJob> SqliteStore::rescue_jobs(WriteTransaction& txn, const std::vector<JobId>& ids,
                                               std::string_view why, Time now) {
  std::vector<MovedJob> moved;
  for (JobId id : ids) {
    std::string queue;
    MovedJob m;
    bool spent = false;
    {
      auto q = txn.db().prepare(kSelectRunningJobById);
      q->bind(1, id);
      if (!q->step()) continue;
      queue = q->text(0);
      spent = q->integer(2) + 1 >= q->integer(3);
      m = {id, q->integer(1), spent ? JobState::kFailed : JobState::kAvailable};
    }
    {
      // A lost run counts as a failure; the job runs again now unless its attempts are spent.
      auto q = txn.db().prepare(kCountFailedRun);
      q->bind(1, id).bind_static(2, why).bind_static(3, stored_state(m.to));
      if (spent) q->bind(5, now);
      q->bind(6, now).run();
    }
    txn.record_move(id, queue, JobState::kRunning, m.to, m.attempt, now, why);
    if (is_final(m.to)) after_job_final(txn, id, m.to, now);
    moved.push_back(m);
  }
  return moved;
}

std::vector<MovedJob> SqliteStore::rescue_expired_leases(Time now) {
  return write([&](WriteTransaction& txn) {
    return rescue_jobs(txn, select_ids(txn.db(), kSelectExpiredLeases, now), "lease expired", now);
  });
}

std::vector<MovedJob> SqliteStore::rescue_jobs_of_owners(const std::vector<std::string>& owners, Time now) {
  if (owners.empty()) return {};
  return write([&](WriteTransaction& txn) {
    std::vector<MovedJob> moved;
    for (const auto& owner : owners) {
      auto some = rescue_jobs(txn, select_ids(txn.db(), kSelectRunningJobsOfOwner, owner), "worker process died", now);
      moved.insert(moved.end(), some.begin(), some.end());
    }
    return moved;
  });
}

std::vector<std::string> SqliteStore::lease_owners() {
  auto db = readers_->acquire();
  auto q = db->prepare(kSelectLeaseOwners);
  std::vector<std::string> owners;
  while (q->step()) owners.push_back(q->text(0));
  return owners;
}

int SqliteStore::promote_scheduled_jobs(Time now) {
  return write([&](WriteTransaction& txn) { return promote_due_jobs(txn, now); });
}

std::optional<Time> SqliteStore::next_scheduled_at(const std::vector<std::string>& queues) {
  auto db = readers_->acquire();
  std::vector<std::string> names = queues;
  if (names.empty()) {
    auto q = db->prepare(kSelectQueues);
    while (q->step()) names.push_back(q->text(0));
  }
  std::optional<Time> earliest;
  for (const auto& name : names) {
    auto q = db->prepare(kSelectNextScheduledAt);
    q->bind(1, name);
    if (q->step() && !q->is_null(0)) {
      const Time t = q->time(0);
      if (!earliest || t < *earliest) earliest = t;
    }
  }
  return earliest;
}

int SqliteStore::expire_jobs(Time now) {
  return write([&](WriteTransaction& txn) {
    int expired = 0;
    for (JobId id : select_ids(txn.db(), kSelectExpiringJobs, now)) {
      // An earlier expiry in this pass may have canceled this one as a dependent.
      const auto pos = find_job_position(txn, id);
      if (!pos || is_final(pos->state) || pos->state == JobState::kRunning) continue;
      expire_job_at(txn, id, *pos, now);
      ++expired;
    }
    return expired;
  });
}

std::vector<FileWait> SqliteStore::jobs_waiting_on_files() {
  auto db = readers_->acquire();
  auto q = db->prepare(kSelectJobsWaitingOnFiles);
  std::vector<FileWait> waits;
  while (q->step()) {
    FileWait w;
    w.id = q->int64(0);
    if (!q->is_null(1)) {
      const Json paths = Json::parse(q->text_view(1), nullptr, /*allow_exceptions=*/false);
      if (paths.is_array()) {
        for (const auto& p : paths) {
          if (p.is_string()) w.paths.push_back(p.get<std::string>());
        }
      }
    }
    waits.push_back(std::move(w));
  }
  return waits;
}

void SqliteStore::mark_files_present(JobId id, Time now) {
  write([&](WriteTransaction& txn) {
    const auto pos = find_job_position(txn, id);
    if (!pos) throw Error::not_found(job_not_found(id));
    {
      auto q = txn.db().prepare(kMarkFilesMet);
      q->bind(1, id).bind(2, now).run();
    }
    if (pos->state == JobState::kBlocked) unblock_if_ready(txn, id, now, "files present");
  });
}

int64_t SqliteStore::delete_finished_jobs(const std::vector<JobState>& given_states,
                                          const std::optional<std::string>& queue, std::optional<Time> finished_before,
                                          Time now) {
  for (JobState s : given_states) {
    if (!is_final(s)) {
      throw Error::invalid_argument("only final jobs can be cleared, not " + std::string(state_name(s)) + " ones");
    }
  }
  if (given_states.empty()) return 0;
  const std::vector<JobState> states = canceled_first(given_states);
  return write([&](WriteTransaction& txn) {
    int64_t deleted = 0;
    for (JobState state : states) {
      std::vector<std::pair<JobId, std::string>> jobs;
      {
        auto q = txn.db().prepare(kSelectFinishedJobs);
        q->bind(1, stored_state(state)).bind(2, finished_before).bind(3, queue);
        while (q->step()) jobs.emplace_back(q->int64(0), q->text(1));
      }
      for (const auto& [id, queue] : jobs) delete_job_rows(txn, id, queue, state, now);
      deleted += static_cast<int64_t>(jobs.size());
    }
    return deleted;
  });
}

// --- admin ---------------------------------------------------------------------------

std::optional<Job> SqliteStore::get_job(JobId id) {
  auto db = readers_->acquire();
  auto q = db->prepare(kSelectJob);
  q->bind(1, id);
  if (!q->step()) return std::nullopt;
  return read_job(*q);
}

std::vector<Job> SqliteStore::list_jobs(const JobFilter& filter) {
  auto db = readers_->acquire();
  return read_job_page(*db, filter);
}

std::vector<HistoryEntry> SqliteStore::job_history(JobId id) {
  auto db = readers_->acquire();
  auto q = db->prepare(kSelectHistoryOfJob);
  q->bind(1, id);
  std::vector<HistoryEntry> entries;
  while (q->step()) entries.push_back(read_history_entry(*q));
  return entries;
}

std::vector<LogChunk> SqliteStore::read_log(JobId id, int64_t after_seq) {
  auto db = readers_->acquire();
  auto q = db->prepare(kSelectLogChunks);
  q->bind(1, id).bind(2, after_seq);
  std::vector<LogChunk> chunks;
  while (q->step()) chunks.push_back({q->int64(0), q->integer(1), q->time(2), q->text(3)});
  return chunks;
}

Job SqliteStore::retry_job(JobId id, Time now) {
  return write([&](WriteTransaction& txn) { return retry_one(txn, id, now); });
}

int64_t SqliteStore::retry_failed_jobs(std::optional<std::string> queue, Time now) {
  return write([&](WriteTransaction& txn) {
    int64_t retried = 0;
    for (JobId id : select_ids(txn.db(), kSelectFailedJobs, queue)) {
      try {
        retry_one(txn, id, now);
        ++retried;
      } catch (const Error& e) {
        // Another live job took its unique key meanwhile: it stays failed. (The check
        // comes before any change, so nothing needs undoing.)
        if (e.code() != ErrorCode::kAlreadyExists) throw;
      }
    }
    return retried;
  });
}

Job SqliteStore::cancel_job(JobId id, Time now) {
  return write([&](WriteTransaction& txn) {
    const auto pos = find_job_position(txn, id);
    if (!pos) throw Error::not_found(job_not_found(id));
    check_can_cancel(id, pos->state);
    cancel_job_at(txn, id, *pos, now, "canceled");
    return select_job(txn.db(), id);
  });
}

void SqliteStore::delete_job(JobId id, Time now) {
  write([&](WriteTransaction& txn) {
    const auto pos = find_job_position(txn, id);
    if (!pos) throw Error::not_found(job_not_found(id));
    check_can_delete(id, pos->state);
    delete_job_rows(txn, id, pos->queue, pos->state, now);
  });
}

Job SqliteStore::set_priority(JobId id, int priority, Time now) {
  return write([&](WriteTransaction& txn) {
    {
      auto q = txn.db().prepare(kSetPriority);
      q->bind(1, id).bind(2, priority).bind(3, now).run();
    }
    if (txn.db().changes() == 0) throw Error::not_found(job_not_found(id));
    return select_job(txn.db(), id);
  });
}

void SqliteStore::set_queue_paused(const std::string& queue, bool paused, Time now) {
  if (queue.empty()) throw Error::invalid_argument("queue name must not be empty");
  write([&](WriteTransaction& txn) {
    auto q = txn.db().prepare(kSetQueuePaused);
    q->bind(1, queue).bind(2, paused ? 1 : 0).bind(3, now).run();
    txn.note_queue_row(queue);
  });
}

void SqliteStore::set_queue_concurrency_limit(const std::string& queue, std::optional<int> limit, Time now) {
  if (queue.empty()) throw Error::invalid_argument("queue name must not be empty");
  if (limit && *limit < 1) throw Error::invalid_argument("a concurrency limit must be at least 1");
  write([&](WriteTransaction& txn) {
    auto q = txn.db().prepare(kSetQueueConcurrencyLimit);
    q->bind(1, queue).bind(2, now);
    if (limit) {
      q->bind(3, static_cast<int64_t>(*limit));
    } else {
      q->bind(3, std::nullopt);
    }
    q->run();
    txn.note_queue_row(queue);
  });
}

void SqliteStore::set_queue_hold(const std::string& queue, std::optional<std::string> held_while, Time now) {
  check_queue_hold(queue, held_while);
  write([&](WriteTransaction& txn) {
    if (held_while) {
      check_no_hold_loop(queue, *held_while, [&](const std::string& name) -> std::optional<std::string> {
        auto q = txn.db().prepare(kSelectQueueHeldWhile);
        q->bind(1, name);
        if (!q->step() || q->is_null(0)) return std::nullopt;
        return q->text(0);
      });
    }
    auto q = txn.db().prepare(kSetQueueHold);
    q->bind(1, queue).bind(2, now).bind(3, held_while);
    q->run();
    txn.note_queue_row(queue);
  });
}

namespace {

// The retention columns of a row, from column `first` on.
RetentionColumns read_retention_columns(Statement& q, int first) {
  RetentionColumns columns;
  for (size_t i = 0; i < columns.size(); ++i) {
    const int column = first + static_cast<int>(i);
    if (!q.is_null(column)) columns[i] = q.int64(column);
  }
  return columns;
}

}  // namespace

void SqliteStore::set_queue_retention(const std::string& queue, const RetentionChanges& changes, Time now) {
  check_retention_changes(queue, changes);
  write([&](WriteTransaction& txn) {
    RetentionColumns columns;
    {
      auto q = txn.db().prepare(kSelectQueueRetention);
      q->bind(1, queue);
      if (q->step()) columns = read_retention_columns(*q, 0);
    }
    columns = apply_retention_changes(columns, changes);
    auto q = txn.db().prepare(kSetQueueRetention);
    q->bind(1, queue).bind(2, now);
    for (size_t i = 0; i < columns.size(); ++i) q->bind(3 + static_cast<int>(i), columns[i]);
    q->run();
    txn.note_queue_row(queue);
    txn.forget_retention();
    // Jobs that ended before are due too (an entry that comes due early is moved on).
    for (const auto& [state, keep] : changes) {
      if (!keep) continue;
      auto count = [&](const char* sql, std::string_view key) {
        auto q = txn.db().prepare(sql);
        q->bind(1, key);
        return q->step() ? q->int64(0) : 0;
      };
      const bool by_queue = count(kCountJobsOfQueue, queue) < count(kCountJobsInState, stored_state(state));
      auto schedule =
          txn.db().prepare(by_queue ? kScheduleFinishedJobsOfQueueByQueue : kScheduleFinishedJobsOfQueueByState);
      schedule->bind(1, queue).bind(2, stored_state(state)).bind(3, static_cast<int64_t>(keep->count())).run();
    }
  });
}

PruneProgress SqliteStore::prune_finished_jobs(Time now, int max_jobs) {
  return write([&](WriteTransaction& txn) {
    std::vector<std::pair<int64_t, JobId>> due;
    {
      auto q = txn.db().prepare(kSelectDuePrunes);
      q->bind(1, now).bind(2, static_cast<int64_t>(max_jobs));
      while (q->step()) due.emplace_back(q->int64(0), q->int64(1));
    }
    PruneProgress progress;
    // Entries made stale (a job gone, retried, or kept longer now) count too, so a
    // backlog of them is worked through at the batch's pace.
    progress.more_due = static_cast<int>(due.size()) == max_jobs;
    for (const auto& [prune_at, id] : due) {
      txn.db().prepare(kDeletePruneEntry)->bind(1, prune_at).bind(2, id).run();
      std::string queue;
      JobState state;
      Time finished_at;
      {
        auto q = txn.db().prepare(kSelectJobEnd);
        q->bind(1, id);
        if (!q->step() || q->is_null(2)) continue;  // gone, or retried since
        queue = q->text(0);
        state = parse_stored_state(q->text_view(1));
        finished_at = q->time(2);
      }
      // Retried since (a later end has an entry of its own).
      if (!is_final(state)) continue;
      const auto keep = txn.kept_for(queue, state);
      if (!keep) continue;  // kept for ever now
      if (finished_at + *keep <= now) {
        delete_job_rows(txn, id, queue, state, now);
        ++progress.deleted;
      } else {
        // The retention grew since this entry was made.
        txn.db().prepare(kSchedulePrune)->bind(1, finished_at + *keep).bind(2, id).run();
      }
    }
    return progress;
  });
}

std::vector<QueueInfo> SqliteStore::list_queues() {
  auto db = readers_->acquire();
  auto q = db->prepare(kSelectQueueInfos);
  std::vector<QueueInfo> queues;
  while (q->step()) {
    queues.push_back({q->text(0), q->int64(1) != 0, q->int64(2),
                      q->is_null(3) ? std::nullopt : std::optional<int>(q->integer(3)),
                      q->is_null(4) ? std::nullopt : std::optional<std::string>(q->text(4)),
                      retention_of(read_retention_columns(*q, 5))});
  }
  return queues;
}

Stats SqliteStore::stats() {
  auto db = readers_->acquire();
  auto q = db->prepare(kSelectStats);
  Stats stats;
  while (q->step()) {
    const std::string_view name = q->text_view(0);
    if (stats.queues.empty() || stats.queues.back().queue != name) {
      Stats::QueueCounts counts;
      counts.queue = std::string(name);
      counts.paused = q->int64(1) != 0;
      stats.queues.push_back(std::move(counts));
    }
    if (!q->is_null(2)) {
      const JobState state = parse_stored_state(q->text_view(2));
      stats.queues.back().by_state[static_cast<size_t>(state)] = q->int64(3);
    }
  }
  return stats;
}

std::optional<Json> SqliteStore::get_setting(const std::string& key) {
  auto db = readers_->acquire();
  auto q = db->prepare(kSelectSetting);
  q->bind(1, key);
  if (!q->step()) return std::nullopt;
  return parse_setting(key, q->text_view(0));
}

void SqliteStore::check_writable() {
  // A connection of its own: SQLite opens a file it may not write read-only, and says
  // so without taking a lock (a database merely locked by another process is writable).
  Connection probe(path_, SQLITE_OPEN_READWRITE, options_.busy_timeout);
  if (sqlite3_db_readonly(probe.handle(), "main") == 1) {
    throw Error::unavailable("database " + path_ + " is read-only for this process (no write permission on the file)");
  }
}

void SqliteStore::put_setting(const std::string& key, const Json& value, Time now) {
  if (key.empty()) throw Error::invalid_argument("setting key must not be empty");
  const std::string text = value.dump();
  write([&](WriteTransaction& txn) {
    auto q = txn.db().prepare(kPutSetting);
    q->bind(1, key).bind(2, text).bind(3, now).run();
  });
}

std::vector<std::pair<std::string, Json>> SqliteStore::list_settings() {
  auto db = readers_->acquire();
  auto q = db->prepare(kSelectSettings);
  std::vector<std::pair<std::string, Json>> settings;
  while (q->step()) {
    std::string key = q->text(0);
    Json value = parse_setting(key, q->text_view(1));
    settings.emplace_back(std::move(key), std::move(value));
  }
  return settings;
}

CronEntry SqliteStore::put_cron_entry(const CronEntry& entry, Time now) {
  return write([&](WriteTransaction& txn) { return sqlite::put_cron_entry(txn, entry, now); });
}

std::vector<CronEntry> SqliteStore::list_cron_entries() {
  auto db = readers_->acquire();
  return read_cron_entries(*db);
}

void SqliteStore::delete_cron_entries(const std::vector<std::string>& names) {
  write([&](WriteTransaction& txn) { sqlite::delete_cron_entries(txn, names); });
}

std::vector<EnqueueResult> SqliteStore::fire_due_cron_entries(Time now) {
  {
    auto db = readers_->acquire();
    if (!any_cron_entry_due(*db, now)) return {};
  }
  return write([&](WriteTransaction& txn) { return sqlite::fire_due_cron_entries(txn, now, options_.max_payload_bytes); });
}

std::vector<IngestedFile> SqliteStore::ingest_files(const std::string& watch, const std::vector<FileToIngest>& files,
                                                   Time now) {
  if (files.empty()) return {};
  std::vector<EncodedJob> encoded;
  encoded.reserve(files.size());
  for (const auto& file : files) encoded.push_back(encode_new_job(file.job, options_.max_payload_bytes));
  return write([&](WriteTransaction& txn) {
    std::vector<IngestedFile> ingested;
    for (size_t i = 0; i < files.size(); ++i) {
      {
        auto seen = txn.db().prepare(kSelectIngestedFile);
        seen->bind(1, watch).bind(2, files[i].path);
        if (seen->step()) continue;
      }
      EnqueueResult result = enqueue_job(txn, files[i].job, encoded[i], now);
      auto record = txn.db().prepare(kRecordIngestedFile);
      record->bind(1, watch).bind(2, files[i].path).bind(3, result.job.id).bind(4, now).run();
      ingested.push_back({i, std::move(result)});
    }
    return ingested;
  });
}

std::vector<HistoryEntry> SqliteStore::history_since(int64_t after_seq, int limit) {
  if (limit <= 0) return {};
  auto db = readers_->acquire();
  auto q = db->prepare(kSelectHistorySince);
  q->bind(1, after_seq).bind(2, limit);
  std::vector<HistoryEntry> entries;
  while (q->step()) entries.push_back(read_history_entry(*q));
  return entries;
}

std::vector<ThroughputBucket> SqliteStore::throughput(Time since) {
  constexpr int64_t kMicrosPerMinute = 60'000'000;
  const int64_t from = to_micros(since) - to_micros(since) % kMicrosPerMinute;
  auto db = readers_->acquire();
  auto q = db->prepare(kSelectFinishesSince);
  q->bind(1, from);
  std::vector<ThroughputBucket> buckets;
  while (q->step()) {
    const Time minute = q->time(0);
    if (buckets.empty() || buckets.back().minute != minute) buckets.push_back({minute, 0, 0});
    const JobState state = parse_stored_state(q->text(1));
    (state == JobState::kCompleted ? buckets.back().completed : buckets.back().failed) += q->int64(2);
  }
  return buckets;
}

uint64_t SqliteStore::change_counter() {
  // data_version moves when another connection (this store's writer included, or
  // another process) commits; the writer's own count is added so that a commit of
  // this store shows at once even if the pragma lags.
  int64_t data_version = 0;
  {
    std::lock_guard lock(change_mutex_);
    auto q = change_reader_->prepare(kSelectDataVersion);
    if (q->step()) data_version = q->int64(0);
  }
  return static_cast<uint64_t>(data_version) + batcher_->commits();
}

}  // namespace quern::sqlite
