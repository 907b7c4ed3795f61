// open_store: the URL forms a user may give for a database (--db, $QUERN_DB).
#include <memory>
#include <string>
#include <string_view>

#include "quern/error.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace quern {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Applies a "?key=value&…" suffix of a SQLite URL to the options.
void apply_query(std::string_view query, StoreOptions& options) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (key == "durability" && value == "normal") {
      options.durable = false;
    } else if (key == "durability" && value == "full") {
      options.durable = true;
    } else if (key == "durability") {
      throw Error::invalid_argument("unknown durability '" + std::string(value) +
                                    "' in database URL (expected full or normal)");
    } else {
      throw Error::invalid_argument("unknown option '" + std::string(key) +
                                    "' in database URL (expected durability=full|normal)");
    }
  }
}

}  // namespace

std::shared_ptr<Store> open_store(const std::string& url, const StoreOptions& options) {
  std::string_view rest = url;
  if (starts_with(rest, "postgres://") || starts_with(rest, "postgresql://")) {
    throw Error::invalid_argument("PostgreSQL is not supported yet");
  }
  if (starts_with(rest, "sqlite://")) {
    rest.remove_prefix(9);
  } else if (starts_with(rest, "sqlite:")) {
    rest.remove_prefix(7);
  }
  StoreOptions effective = options;
  if (const size_t q = rest.find('?'); q != std::string_view::npos) {
    apply_query(rest.substr(q + 1), effective);
    rest = rest.substr(0, q);
  }
  if (rest.empty()) throw Error::invalid_argument("database URL '" + url + "' names no file");
  return std::make_shared<sqlite::SqliteStore>(std::string(rest), effective);
}

}  // namespace quern
