#include "cli/cli_options.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "quern/error.h"
#include "store/schema_status.h"

namespace quern::cli {
namespace {

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::string(value) : std::string();
}

std::string home_directory() {
  std::string home = env_or_empty("HOME");
  if (!home.empty()) return home;
  if (const passwd* entry = getpwuid(getuid()); entry && entry->pw_dir) return entry->pw_dir;
  throw Error::invalid_argument("cannot find a default database: neither --db, $QUERN_DB, $XDG_DATA_HOME nor $HOME is set");
}

// The default database's path under the user's data directory.
std::filesystem::path data_home_db_path() {
  std::string data_home = env_or_empty("XDG_DATA_HOME");
  // The XDG spec says a relative $XDG_DATA_HOME is invalid and must be ignored.
  if (data_home.empty() || data_home.front() != '/') data_home = home_directory() + "/.local/share";
  return std::filesystem::path(data_home) / "quern" / "quern.db";
}

}  // namespace

std::string default_db_url() {
  std::string from_env = env_or_empty("QUERN_DB");
  if (!from_env.empty()) return from_env;
  return data_home_db_path().string();
}

std::string resolved_db_url(const GlobalOptions& options) {
  return options.db.empty() ? default_db_url() : options.db;
}

std::shared_ptr<Client> open_client(const GlobalOptions& options) {
  const bool uses_data_home = options.db.empty() && env_or_empty("QUERN_DB").empty();
  if (uses_data_home) {
    const auto directory = data_home_db_path().parent_path();
    std::error_code error;
    std::filesystem::create_directories(directory, error);
    if (error) {
      throw Error::unavailable("cannot create " + directory.string() + ": " + error.message());
    }
  }
  // --no-migrate: check first (a store migrates as it opens; a current schema needs nothing).
  if (options.no_migrate) require_current_schema_of(resolved_db_url(options));
  return Client::open(resolved_db_url(options));
}

}  // namespace quern::cli
