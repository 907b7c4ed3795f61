// Job ids and counts typed on the command line.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "quern/job.h"

namespace quern::cli {

// A positive decimal integer; anything else is Error(kInvalidArgument).
JobId parse_job_id(std::string_view text);

// Every id parsed before any is used, so one bad id changes nothing; an id given twice
// counts once (in the order first given).
std::vector<JobId> parse_job_ids(const std::vector<std::string>& texts);

// A decimal integer >= minimum, named in the error as `what` (e.g. "--limit").
int parse_int_at_least(std::string_view text, int minimum, std::string_view what);

}  // namespace quern::cli
