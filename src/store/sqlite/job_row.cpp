#include "store/sqlite/job_row.h"

#include "quern/error.h"

namespace quern::sqlite {
namespace {

Json parse_json_column(const Statement& row, int column, std::string_view name) {
  if (row.is_null(column)) return nullptr;
  const std::string_view text = row.text_view(column);
  // Most payloads and lists are empty; the parser is not needed for those.
  if (text == "{}") return Json::object();
  if (text == "[]") return Json::array();
  Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    throw Error::data_loss("sqlite: job " + std::to_string(row.int64(0)) + " has malformed " + std::string(name) +
                           " JSON in the database");
  }
  return value;
}

template <typename T>
std::vector<T> parse_json_list(const Statement& row, int column, std::string_view name) {
  const Json value = parse_json_column(row, column, name);
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
  // Ordered by how often each state is read.
  for (JobState s : {JobState::kRunning, JobState::kAvailable, JobState::kCompleted, JobState::kScheduled,
                     JobState::kBlocked, JobState::kFailed, JobState::kCanceled, JobState::kExpired}) {
    if (state_name(s) == name) return s;
  }
  throw Error::data_loss("sqlite: unknown job state '" + std::string(name) + "' in the database");
}

std::string_view stored_dependency_failure(OnDependencyFailure choice) {
  return choice == OnDependencyFailure::kCancel ? "cancel" : "stay_blocked";
}

std::optional<std::string> json_column(const Json& value) {
  if (value.is_null()) return std::nullopt;
  return value.dump();
}

std::string ids_json(const std::vector<JobId>& ids) { return Json(ids).dump(); }

std::string strings_json(const std::vector<std::string>& values) { return Json(values).dump(); }

Job read_job(const Statement& row) {
  Job job;
  job.id = row.int64(0);
  job.queue = row.text(1);
  job.type = row.text(2);
  job.state = parse_stored_state(row.text_view(3));
  job.priority = row.integer(4);
  job.payload = parse_json_column(row, 5, "payload");
  job.stage = row.text(6);
  job.progress = row.real(7);
  job.attempt = row.integer(8);
  job.failures = row.integer(9);
  job.max_attempts = row.integer(10);
  job.run_at = row.time(11);
  job.created_at = row.time(12);
  job.started_at = row.optional_time(13);
  job.finished_at = row.optional_time(14);
  job.updated_at = row.time(15);
  job.lease_owner = row.text(16);
  job.lease_expires_at = row.optional_time(17);
  if (!row.is_null(18)) job.timeout = Duration(row.int64(18));
  job.expires_at = row.optional_time(19);
  job.unique_key = row.optional_text(20);
  job.checkpoint = parse_json_column(row, 21, "checkpoint");
  job.result = parse_json_column(row, 22, "result");
  job.error = row.text(23);
  job.tags = parse_json_list<std::string>(row, 24, "tags");
  job.depends_on = parse_json_list<JobId>(row, 25, "depends_on");
  job.needs_files = parse_json_list<std::string>(row, 26, "needs_files");
  job.on_dependency_failure =
      row.text_view(27) == "stay_blocked" ? OnDependencyFailure::kStayBlocked : OnDependencyFailure::kCancel;
  return job;
}

}  // namespace quern::sqlite
