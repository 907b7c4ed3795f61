// POST /api/v1/jobs bodies: one job object, or {"jobs":[…]}, turned into NewJobs with
// the same rules and shapes as `quern add` (a shell job's payload is built the same
// way). See the README's HTTP section for every field.
#pragma once

#include <vector>

#include "quern/job.h"

namespace quern::server {

struct JobRequest {
  std::vector<NewJob> jobs;
  bool batch = false;  // the body was {"jobs":[…]}
};

// Throws kInvalidArgument naming the bad field (and, in a batch, the job's index).
JobRequest parse_job_request(const Json& body, Time now);

// One job object.
NewJob parse_new_job(const Json& object, Time now);

}  // namespace quern::server
