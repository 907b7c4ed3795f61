#include "store/postgres/job_row.h"

#include "quern/error.h"

namespace quern::postgres {
namespace {

Json json_or_null(const Result& r, int row, int column, JobId id, std::string_view name) {
  if (r.is_null(row, column)) return nullptr;
  return parse_stored_json(r.text_view(row, column), id, name);
}

template <typename T>
std::vector<T> json_list(const Result& r, int row, int column, JobId id, std::string_view name) {
  const Json value = json_or_null(r, row, column, id, name);
  std::vector<T> out;
  if (value.is_array()) {
    out.reserve(value.size());
    for (const auto& item : value) out.push_back(item.get<T>());
  }
  return out;
}

}  // namespace

std::string_view stored_state(JobState state) { return state_name(state); }

JobState parse_stored_state(std::string_view name) {
  for (JobState s : {JobState::kRunning, JobState::kAvailable, JobState::kCompleted, JobState::kScheduled,
                     JobState::kBlocked, JobState::kFailed, JobState::kCanceled, JobState::kExpired}) {
    if (state_name(s) == name) return s;
  }
  throw Error::data_loss("postgres: unknown job state '" + std::string(name) + "' in the database");
}

std::string_view stored_dependency_failure(OnDependencyFailure choice) {
  return choice == OnDependencyFailure::kCancel ? "cancel" : "stay_blocked";
}

OnDependencyFailure parse_dependency_failure(std::string_view name) {
  return name == "stay_blocked" ? OnDependencyFailure::kStayBlocked : OnDependencyFailure::kCancel;
}

std::optional<std::string> json_text(const Json& value) {
  if (value.is_null()) return std::nullopt;
  return value.dump();
}

Json parse_stored_json(std::string_view text, JobId id, std::string_view column) {
  Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    throw Error::data_loss("postgres: job " + std::to_string(id) + " has malformed " + std::string(column) +
                           " JSON in the database");
  }
  return value;
}

Job read_job(const Result& r, int row, int c) {
  Job job;
  job.id = r.int64(row, c + 0);
  job.queue = r.text(row, c + 1);
  job.type = r.text(row, c + 2);
  job.state = parse_stored_state(r.text_view(row, c + 3));
  job.priority = r.integer(row, c + 4);
  job.payload = json_or_null(r, row, c + 5, job.id, "payload");
  job.stage = r.text(row, c + 6);
  job.progress = r.real(row, c + 7);
  job.attempt = r.integer(row, c + 8);
  job.failures = r.integer(row, c + 9);
  job.max_attempts = r.integer(row, c + 10);
  job.run_at = r.time(row, c + 11);
  job.created_at = r.time(row, c + 12);
  job.started_at = r.optional_time(row, c + 13);
  job.finished_at = r.optional_time(row, c + 14);
  job.updated_at = r.time(row, c + 15);
  job.lease_owner = r.text(row, c + 16);
  job.lease_expires_at = r.optional_time(row, c + 17);
  if (!r.is_null(row, c + 18)) job.timeout = Duration(r.int64(row, c + 18));
  job.expires_at = r.optional_time(row, c + 19);
  job.unique_key = r.optional_text(row, c + 20);
  job.checkpoint = json_or_null(r, row, c + 21, job.id, "checkpoint");
  job.result = json_or_null(r, row, c + 22, job.id, "result");
  job.error = r.text(row, c + 23);
  job.tags = json_list<std::string>(r, row, c + 24, job.id, "tags");
  job.depends_on = json_list<JobId>(r, row, c + 25, job.id, "depends_on");
  job.needs_files = json_list<std::string>(r, row, c + 26, job.id, "needs_files");
  job.on_dependency_failure = parse_dependency_failure(r.text_view(row, c + 27));
  return job;
}

}  // namespace quern::postgres
