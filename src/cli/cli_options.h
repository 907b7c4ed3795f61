// The options every `quern` command shares (--db, --json) and how they become a
// Client.
#pragma once

#include <memory>
#include <string>

#include "quern/client.h"

namespace quern::cli {

struct GlobalOptions {
  std::string db;     // empty: default_db_url()
  bool json = false;  // machine-readable output on read commands
  bool no_migrate = false;  // refuse a database whose schema is behind instead of migrating it
};

// $QUERN_DB, else $XDG_DATA_HOME/quern/quern.db, else ~/.local/share/quern/quern.db.
std::string default_db_url();

// Opens the database the options name. For the default location under the user's
// data directory, creates that directory first (a first run must just work).
std::shared_ptr<Client> open_client(const GlobalOptions& options);

// The database a worker or error message names: the URL given, or the default.
std::string resolved_db_url(const GlobalOptions& options);

}  // namespace quern::cli
