// Pages of jobs for the lists (Store::list_jobs): ids in order from a cursor, filtered by
// state, queue, type and tag.
//
// A page walks one index in id order and stops at the page's end; which one is chosen
// per call, as the one with the fewest entries for the filter: jobs_by_state, by_queue
// (their sizes come from queue_counts), by_type or job_tags (counted, but only up to the
// smallest so far). So a page costs at most the size of the filter's rarest part, and a
// filter that matches nothing answers at once — never a walk of every job. Several
// states walk jobs_by_state once per state, merged.
#pragma once

#include <vector>

#include "quern/job.h"
#include "store/sqlite/connection.h"

namespace quern::sqlite {

std::vector<Job> read_job_page(Connection& db, const JobFilter& filter);

}  // namespace quern::sqlite
