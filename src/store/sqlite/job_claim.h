// Claiming: promote due scheduled jobs, then lease the best available ones.
//
// O(log n) in queue depth: for each queue and type, the covering partial index
// jobs_claimable yields that (queue, type)'s best `max` candidates in order; the
// candidates of all pairs are merged in memory. With no type filter, the types of a
// queue are found by a skip scan of the same index (one probe per type).
#pragma once

#include <vector>

#include "store/sqlite/write_transaction.h"
#include "store/store.h"

namespace quern::sqlite {

// scheduled → available for every job with run_at <= now. Returns how many moved.
int promote_due_jobs(WriteTransaction& txn, Time now);

std::vector<Job> claim_available_jobs(WriteTransaction& txn, const ClaimParams& params);

}  // namespace quern::sqlite
