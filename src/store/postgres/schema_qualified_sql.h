// Quern's statements name their tables unqualified, resolved through the search_path
// of the store's own connections. On a connection Quern does not own (a library user's,
// for a transactional enqueue) the search_path is the user's, so each statement is
// rewritten to name Quern's schema explicitly.
#pragma once

#include <string>
#include <string_view>

namespace quern::postgres {

// `sql` with every Quern table name (a bare identifier, not part of a dotted name, and
// outside string literals and quoted identifiers) prefixed with the quoted `schema`,
// and the event-id sequence's name in nextval('job_history_seq') qualified likewise.
std::string schema_qualified_sql(std::string_view sql, std::string_view schema);

}  // namespace quern::postgres
