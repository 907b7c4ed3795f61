// Claiming: promote due scheduled jobs, then lease the best available ones, in one
// statement each (statements.h: kPromoteDueJobs, kClaimJobsOfTypes/OfAnyType).
//
// O(log n) in queue depth: for each (queue, type) the partial index jobs_claimable
// yields that pair's best rows in claim order, locked with FOR UPDATE SKIP LOCKED as
// they are read, so concurrent claimers pass over each other's rows instead of
// waiting; the best `max` of all pairs are leased.
#pragma once

#include <vector>

#include "store/postgres/transaction.h"
#include "store/store.h"

namespace quern::postgres {

// scheduled → available for every job with run_at <= now. Returns how many moved.
int promote_due_jobs(Transaction& txn, Time now);

std::vector<Job> claim_available_jobs(Transaction& txn, const ClaimParams& params);

}  // namespace quern::postgres
