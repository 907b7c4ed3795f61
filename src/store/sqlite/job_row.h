// How a Job is stored in a row of `jobs`: the column order of QUERN_JOB_COLUMNS and
// the text forms of states, JSON and lists.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "quern/job.h"
#include "store/sqlite/connection.h"

namespace quern::sqlite {

// Reads the QUERN_JOB_COLUMNS of the current row.
Job read_job(const Statement& row);

// State names are the ones of state_name(); parse_stored_state throws kDataLoss for a
// name no Quern writes.
std::string_view stored_state(JobState state);
JobState parse_stored_state(std::string_view name);

std::string_view stored_dependency_failure(OnDependencyFailure choice);

// JSON columns: NULL for a null Json, compact text otherwise.
std::optional<std::string> json_column(const Json& value);
std::string ids_json(const std::vector<JobId>& ids);
std::string strings_json(const std::vector<std::string>& values);

}  // namespace quern::sqlite
