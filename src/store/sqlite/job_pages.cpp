#include "store/sqlite/job_pages.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <variant>

#include "store/sqlite/job_row.h"
#include "store/sqlite/statements.h"

namespace quern::sqlite {
namespace {

// The index a page walks.
enum class Walk { kTable, kState, kQueue, kType, kTag };

// How many entries each candidate walk would read at most, from queue_counts.
struct CountedWalks {
  int64_t table = 0;        // every job
  int64_t states = 0;       // jobs in the filter's states
  int64_t queue = 0;        // jobs of the filter's queue
  int64_t queue_states = 0; // jobs of the filter's queue in its states
};

CountedWalks count_walks(Connection& db, const JobFilter& filter) {
  CountedWalks counts;
  auto q = db.prepare(kSelectQueueCounts);
  while (q->step()) {
    const int64_t n = q->int64(2);
    const JobState state = parse_stored_state(q->text_view(1));
    const bool in_states = std::find(filter.states.begin(), filter.states.end(), state) != filter.states.end();
    const bool in_queue = filter.queue && q->text_view(0) == *filter.queue;
    counts.table += n;
    if (in_states) counts.states += n;
    if (in_queue) counts.queue += n;
    if (in_queue && in_states) counts.queue_states += n;
  }
  return counts;
}

// Entries of `key` in the walk `sql` counts, up to `limit`.
int64_t count_up_to(Connection& db, const char* sql, const std::string& key, int64_t limit) {
  auto q = db.prepare(sql);
  q->bind(1, key).bind(2, limit);
  return q->step() ? q->int64(0) : 0;
}

// A statement's text and its parameters, in order.
class PageQuery {
 public:
  void add(std::string_view sql) { sql_ += sql; }
  void add(std::string_view sql, std::variant<int64_t, std::string> value) {
    sql_ += sql;
    params_.push_back(std::move(value));
  }
  // The conditions of `filter` that `walk` does not already apply, for rows of `jobs`.
  void add_conditions(const JobFilter& filter, Walk walk, std::string_view id_column) {
    const bool bounded = !filter.newest_first || filter.after_id > 0;
    if (bounded) add(" AND " + std::string(id_column) + (filter.newest_first ? " < ?" : " > ?"), filter.after_id);
    if (walk != Walk::kState && !filter.states.empty()) {
      add(" AND state IN (");
      for (size_t i = 0; i < filter.states.size(); ++i) add(i == 0 ? "?" : ",?", std::string(stored_state(filter.states[i])));
      add(")");
    }
    if (filter.queue && walk != Walk::kQueue) add(" AND queue = ?", *filter.queue);
    if (filter.type && walk != Walk::kType) add(" AND type = ?", *filter.type);
    if (filter.tag && walk != Walk::kTag) {
      add(" AND EXISTS (SELECT 1 FROM job_tags WHERE job_tags.tag = ? AND job_tags.job_id = jobs.id)", *filter.tag);
    }
  }
  void add_order(const JobFilter& filter, std::string_view id_column) {
    add(std::string(" ORDER BY ") + std::string(id_column) + (filter.newest_first ? " DESC" : "") + " LIMIT ?",
        static_cast<int64_t>(filter.limit));
  }

  std::vector<Job> run(Connection& db) const {
    auto q = db.prepare_text(sql_);
    for (size_t i = 0; i < params_.size(); ++i) {
      const int index = static_cast<int>(i) + 1;
      std::visit([&](const auto& value) { q->bind(index, value); }, params_[i]);
    }
    std::vector<Job> jobs;
    while (q->step()) jobs.push_back(read_job(*q));
    return jobs;
  }

 private:
  std::string sql_;
  std::vector<std::variant<int64_t, std::string>> params_;
};

}  // namespace

std::vector<Job> read_job_page(Connection& db, const JobFilter& filter) {
  if (filter.limit <= 0) return {};
  // Choose the walk with the fewest entries; ties keep the earlier (states before the
  // others, as every move keeps jobs_by_state's pages hot anyway).
  const CountedWalks counts = count_walks(db, filter);
  Walk walk = Walk::kTable;
  int64_t entries = counts.table;
  if (!filter.states.empty() && counts.states <= entries) {
    walk = Walk::kState;
    entries = counts.states;
  }
  if (filter.queue) {
    if (counts.queue == 0 || (!filter.states.empty() && counts.queue_states == 0)) return {};
    if (counts.queue < entries) {
      walk = Walk::kQueue;
      entries = counts.queue;
    }
  }
  if (filter.type) {
    const int64_t n = count_up_to(db, kCountJobsOfTypeUpTo, *filter.type, entries);
    if (n == 0) return {};
    if (n < entries) {
      walk = Walk::kType;
      entries = n;
    }
  }
  if (filter.tag) {
    const int64_t n = count_up_to(db, kCountJobsWithTagUpTo, *filter.tag, entries);
    if (n == 0) return {};
    if (n < entries) walk = Walk::kTag;
  }
  if (entries == 0) return {};

  PageQuery page;
  switch (walk) {
    case Walk::kTable:
      page.add("SELECT" QUERN_JOB_COLUMNS "FROM jobs WHERE 1");
      break;
    case Walk::kState:
      if (filter.states.size() == 1) {
        page.add("SELECT" QUERN_JOB_COLUMNS "FROM jobs INDEXED BY jobs_by_state WHERE state = ?",
                 std::string(stored_state(filter.states.front())));
        break;
      }
      // One walk per state, each at most a page long, merged.
      for (size_t i = 0; i < filter.states.size(); ++i) {
        page.add(i == 0 ? "SELECT * FROM (" : " UNION ALL SELECT * FROM (");
        page.add("SELECT" QUERN_JOB_COLUMNS "FROM jobs INDEXED BY jobs_by_state WHERE state = ?",
                 std::string(stored_state(filter.states[i])));
        page.add_conditions(filter, walk, "id");
        page.add_order(filter, "id");
        page.add(")");
      }
      page.add_order(filter, "id");
      return page.run(db);
    case Walk::kQueue:
      page.add("SELECT" QUERN_JOB_COLUMNS "FROM jobs INDEXED BY jobs_by_queue WHERE queue = ?", *filter.queue);
      break;
    case Walk::kType:
      page.add("SELECT" QUERN_JOB_COLUMNS "FROM jobs INDEXED BY jobs_by_type WHERE type = ?", *filter.type);
      break;
    case Walk::kTag:
      // CROSS JOIN: job_tags is the outer loop, read in job_id order.
      page.add("SELECT" QUERN_JOB_COLUMNS "FROM job_tags CROSS JOIN jobs ON jobs.id = job_tags.job_id "
               "WHERE job_tags.tag = ?",
               *filter.tag);
      page.add_conditions(filter, walk, "job_tags.job_id");
      page.add_order(filter, "job_tags.job_id");
      return page.run(db);
  }
  page.add_conditions(filter, walk, "id");
  page.add_order(filter, "id");
  return page.run(db);
}

}  // namespace quern::sqlite
