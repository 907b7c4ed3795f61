// open_store: the backend a database URL names (store_url.h), opened.
#include <memory>
#include <string>

#include "store/postgres/postgres_store.h"
#include "store/schema_status.h"
#include "store/sqlite/sqlite_store.h"
#include "quern/error.h"
#include "store/store.h"
#include "store/store_url.h"

namespace quern {

std::shared_ptr<Store> open_store(const std::string& url, const StoreOptions& options) {
  const StoreUrl parsed = parse_store_url(url, options);
  if (parsed.backend == StoreUrl::Backend::kPostgres) {
    return std::make_shared<postgres::PostgresStore>(parsed.target, parsed.options);
  }
  // The SQLite store always migrates as it opens: check first when told not to.
  if (!parsed.options.migrate) require_current_schema_of(url, options);
  return std::make_shared<sqlite::SqliteStore>(parsed.target, parsed.options);
}

// Only the PostgreSQL store overrides it.
std::vector<EnqueueResult> Store::enqueue_jobs_in_transaction(PGconn*, const std::vector<NewJob>&, Time) {
  throw Error::failed_precondition("transactional enqueue needs a PostgreSQL database");
}

}  // namespace quern
