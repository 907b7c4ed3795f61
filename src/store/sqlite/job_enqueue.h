// Inserting new jobs: unique keys, dependencies, the first state and its history.
#pragma once

#include <string>

#include "store/sqlite/write_transaction.h"
#include "store/store.h"

namespace quern::sqlite {

// A NewJob's column texts, made before the transaction so the write lock is held for
// the inserts only. Throws kInvalidArgument / kTooLarge for a job that must not be
// stored (the checks the store relies on; validate_new_job does the full ones).
struct EncodedJob {
  std::string payload;
  std::string tags;
  std::optional<std::string> depends_on;
  std::optional<std::string> needs_files;
};
EncodedJob encode_new_job(const NewJob& job, size_t max_payload_bytes);

// Inserts one job (or finds the live job holding its unique key). Throws kNotFound
// naming a dependency that does not exist.
EnqueueResult enqueue_job(WriteTransaction& txn, const NewJob& job, const EncodedJob& encoded, Time now);

}  // namespace quern::sqlite
