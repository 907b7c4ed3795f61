// Inserting a batch of new jobs in one round trip: unique keys, dependencies, the first
// state and its history.
#pragma once

#include <string>
#include <vector>

#include "store/postgres/transaction.h"
#include "store/store.h"

namespace quern::postgres {

// A NewJob's column texts, made before the transaction. Throws kInvalidArgument /
// kTooLarge for a job that must not be stored (the checks the store relies on;
// validate_new_job does the full ones).
struct EncodedNewJob {
  std::string payload;
  std::string tags;
  std::optional<std::string> depends_on;
  std::optional<std::string> needs_files;
};
EncodedNewJob encode_new_job_for_postgres(const NewJob& job, size_t max_payload_bytes);

// Inserts the jobs (or finds the live jobs holding their unique keys). Throws
// kNotFound naming a dependency that does not exist; then nothing is written.
std::vector<EnqueueResult> enqueue_new_jobs(Transaction& txn, const std::vector<NewJob>& jobs,
                                            const std::vector<EncodedNewJob>& encoded, Time now);

}  // namespace quern::postgres
