#include "store/postgres/schema_qualified_sql.h"

#include <algorithm>
#include <array>

#include "store/postgres/pg_connection.h"

namespace quern::postgres {
namespace {

// Every relation of Quern's schema (schema.cpp) that a statement may name. No column,
// alias or CTE name in statements.h is one of these.
constexpr std::array<std::string_view, 11> kQuernRelationNames = {
    "jobs",     "job_dependencies", "job_history", "job_logs",   "job_tags",   "queues",
    "queue_counts", "finishes_per_minute", "store_meta", "settings", "quern_schema_migrations"};
constexpr std::string_view kEventSequenceLiteral = "'job_history_seq'";

bool is_identifier_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_identifier_char(char c) { return is_identifier_start(c) || (c >= '0' && c <= '9') || c == '$'; }

bool is_quern_relation(std::string_view word) {
  return std::find(kQuernRelationNames.begin(), kQuernRelationNames.end(), word) != kQuernRelationNames.end();
}

// The index just past a literal or quoted identifier opening at `start` with `quote`
// (a doubled quote stays inside).
size_t end_of_quoted(std::string_view sql, size_t start, char quote) {
  size_t i = start + 1;
  while (i < sql.size()) {
    if (sql[i] == quote) {
      if (i + 1 < sql.size() && sql[i + 1] == quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    ++i;
  }
  return sql.size();
}

}  // namespace

std::string schema_qualified_sql(std::string_view sql, std::string_view schema) {
  const std::string prefix = quote_identifier(schema) + ".";
  std::string out;
  out.reserve(sql.size() + 128);
  size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {
      const size_t end = end_of_quoted(sql, i, c);
      const std::string_view quoted = sql.substr(i, end - i);
      if (quoted == kEventSequenceLiteral) {
        // A regclass literal: the schema goes inside it, its quotes doubled.
        std::string inner;
        for (char q : prefix) inner += q == '\'' ? std::string("''") : std::string(1, q);
        out += "'" + inner + std::string(kEventSequenceLiteral.substr(1));
      } else {
        out += quoted;
      }
      i = end;
      continue;
    }
    if (is_identifier_start(c) && (i == 0 || !is_identifier_char(sql[i - 1]))) {
      size_t end = i + 1;
      while (end < sql.size() && is_identifier_char(sql[end])) ++end;
      const std::string_view word = sql.substr(i, end - i);
      const bool dotted = (i > 0 && sql[i - 1] == '.') || (end < sql.size() && sql[end] == '.');
      if (!dotted && is_quern_relation(word)) out += prefix;
      out += word;
      i = end;
      continue;
    }
    out += c;
    ++i;
  }
  return out;
}

}  // namespace quern::postgres
