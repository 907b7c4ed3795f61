// How a Job is stored in a row of `jobs`: the columns of QUERN_PG_JOB_COLUMNS and the
// text forms of states, JSON and lists (the same forms as the SQLite store's).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "quern/job.h"
#include "store/postgres/pg_connection.h"

namespace quern::postgres {

// Reads the QUERN_PG_JOB_COLUMNS of `row`, starting at `first_column`.
Job read_job(const Result& result, int row, int first_column = 0);

// State names are the ones of state_name(); parse_stored_state throws kDataLoss for a
// name no Quern writes.
std::string_view stored_state(JobState state);
JobState parse_stored_state(std::string_view name);
std::string_view stored_dependency_failure(OnDependencyFailure choice);
OnDependencyFailure parse_dependency_failure(std::string_view name);

// JSON columns: NULL for a null Json, compact text otherwise.
std::optional<std::string> json_text(const Json& value);
// A JSON column's value; kDataLoss naming the job if it is not JSON.
Json parse_stored_json(std::string_view text, JobId id, std::string_view column);

}  // namespace quern::postgres
