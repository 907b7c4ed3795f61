#include "store/postgres/pg_connection.h"

#include <libpq-fe.h>
#include <poll.h>

#include <charconv>
#include <cstring>

#include "core/printable_text.h"
#include "quern/error.h"
#include "store/postgres/pg_error.h"
#include "store/postgres/schema_qualified_sql.h"

namespace quern::postgres {
namespace {

bool plain_ascii(std::string_view text) {
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte == 0 || byte >= 0x80) return false;
  }
  return true;
}

std::string number_text(double value) {
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, end);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Server notices (and a terminated session's farewell, which arrives while idle) are
// not the user's business: the CLI's stderr carries one line per error, no more.
void ignore_notice(void*, const char*) {}

[[noreturn]] void throw_bad_column(std::string_view text, std::string_view type) {
  throw Error::data_loss("postgres: unexpected " + std::string(type) + " value '" + std::string(text.substr(0, 40)) +
                         "' from the server");
}

}  // namespace

std::string postgres_text(std::string_view text) {
  if (plain_ascii(text)) return std::string(text);
  std::string valid = valid_utf8(text);
  std::string out;
  out.reserve(valid.size());
  for (char c : valid) {
    if (c == '\0') {
      out += "\xEF\xBF\xBD";
    } else {
      out += c;
    }
  }
  return out;
}

// --- ArrayLiteral ----------------------------------------------------------------------

ArrayLiteral& ArrayLiteral::add(std::string_view text) {
  if (!empty()) text_ += ',';
  text_ += '"';
  for (char c : postgres_text(text)) {
    if (c == '"' || c == '\\') text_ += '\\';
    text_ += c;
  }
  text_ += '"';
  return *this;
}

ArrayLiteral& ArrayLiteral::add(int64_t value) {
  if (!empty()) text_ += ',';
  text_ += std::to_string(value);
  return *this;
}

ArrayLiteral& ArrayLiteral::add(bool value) {
  if (!empty()) text_ += ',';
  text_ += value ? "t" : "f";
  return *this;
}

ArrayLiteral& ArrayLiteral::add(double value) {
  if (!empty()) text_ += ',';
  text_ += number_text(value);
  return *this;
}

ArrayLiteral& ArrayLiteral::add(std::nullopt_t) {
  if (!empty()) text_ += ',';
  text_ += "NULL";
  return *this;
}

// --- Params ------------------------------------------------------------------------------

Params& Params::add_raw(std::string value) {
  values_.push_back(std::move(value));
  nulls_.push_back(false);
  formats_.push_back(0);
  return *this;
}

Params& Params::add(std::string_view text) { return add_raw(postgres_text(text)); }
Params& Params::add(int64_t value) { return add_raw(std::to_string(value)); }
Params& Params::add(double value) { return add_raw(number_text(value)); }
Params& Params::add(bool value) { return add_raw(value ? "t" : "f"); }

Params& Params::add(std::nullopt_t) {
  values_.emplace_back();
  nulls_.push_back(true);
  formats_.push_back(0);
  return *this;
}

Params& Params::add_bytes(std::string_view bytes) {
  values_.emplace_back(bytes);
  nulls_.push_back(false);
  formats_.push_back(1);
  return *this;
}

// --- Result ------------------------------------------------------------------------------

Result::Result(pg_result* result) : result_(result) {}
Result::Result(Result&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }
Result& Result::operator=(Result&& other) noexcept {
  if (this != &other) {
    if (result_ != nullptr) PQclear(result_);
    result_ = other.result_;
    other.result_ = nullptr;
  }
  return *this;
}
Result::~Result() {
  if (result_ != nullptr) PQclear(result_);
}

int Result::rows() const { return result_ != nullptr ? PQntuples(result_) : 0; }

int64_t Result::affected() const {
  if (result_ == nullptr) return 0;
  const char* text = PQcmdTuples(result_);
  if (text == nullptr || *text == '\0') return PQntuples(result_);
  return std::strtoll(text, nullptr, 10);
}

bool Result::is_null(int row, int column) const { return PQgetisnull(result_, row, column) != 0; }

std::string_view Result::text_view(int row, int column) const {
  return std::string_view(PQgetvalue(result_, row, column), static_cast<size_t>(PQgetlength(result_, row, column)));
}

std::optional<std::string> Result::optional_text(int row, int column) const {
  if (is_null(row, column)) return std::nullopt;
  return text(row, column);
}

int64_t Result::int64(int row, int column) const {
  const std::string_view text = text_view(row, column);
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) throw_bad_column(text, "integer");
  return value;
}

double Result::real(int row, int column) const {
  const std::string_view text = text_view(row, column);
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) throw_bad_column(text, "number");
  return value;
}

bool Result::boolean(int row, int column) const {
  const std::string_view text = text_view(row, column);
  if (text == "t") return true;
  if (text == "f") return false;
  throw_bad_column(text, "boolean");
}

std::optional<Time> Result::optional_time(int row, int column) const {
  if (is_null(row, column)) return std::nullopt;
  return time(row, column);
}

std::string Result::bytes(int row, int column) const {
  const std::string_view text = text_view(row, column);
  if (text.substr(0, 2) != "\\x" || text.size() % 2 != 0) throw_bad_column(text, "bytea");
  std::string out;
  out.reserve(text.size() / 2 - 1);
  for (size_t i = 2; i < text.size(); i += 2) {
    const int high = hex_digit(text[i]);
    const int low = hex_digit(text[i + 1]);
    if (high < 0 || low < 0) throw_bad_column(text, "bytea");
    out += static_cast<char>(high * 16 + low);
  }
  return out;
}

// --- Connection --------------------------------------------------------------------------

Connection::Connection(const ConnectionSettings& settings, Duration lock_timeout)
    : display_name_(settings.display_name) {
  std::vector<const char*> keywords;
  std::vector<const char*> values;
  for (const auto& [key, value] : settings.parameters) {
    keywords.push_back(key.c_str());
    values.push_back(value.c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/0);
  if (conn_ == nullptr) throw Error::resource_exhausted("postgres: cannot connect to " + display_name_ + ": out of memory");
  if (PQstatus(conn_) != CONNECTION_OK) {
    const std::string message = one_line(PQerrorMessage(conn_));
    PQfinish(conn_);
    conn_ = nullptr;
    throw Error::unavailable("postgres: cannot connect to " + display_name_ + ": " + message);
  }
  PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
  const auto lock_ms = std::chrono::duration_cast<std::chrono::milliseconds>(lock_timeout).count();
  // A transaction left idle (its process frozen or gone silent) is ended by the server,
  // so its locks never hold every other writer up for long. A queue's hot rows are in
  // memory: priced as such (random_page_cost near seq_page_cost), a batch of a few
  // hundred jobs is found by its ids through the primary key, not by scanning the table.
  try {
    exec_simple("SET search_path TO " + quote_identifier(settings.schema) +
                    "; SET client_encoding TO 'UTF8'; SET bytea_output TO 'hex'; SET extra_float_digits TO 1;"
                    " SET client_min_messages TO warning; SET jit TO off; SET random_page_cost TO 1.1;"
                    " SET lock_timeout TO " + std::to_string(std::max<int64_t>(lock_ms, 1)) +
                    "; SET idle_in_transaction_session_timeout TO 60000",
                "set up the session");
  } catch (...) {
    // The destructor does not run for a constructor that throws.
    PQfinish(conn_);
    conn_ = nullptr;
    throw;
  }
}

std::unique_ptr<Connection> Connection::borrow(pg_conn* conn, const std::string& schema) {
  std::unique_ptr<Connection> borrowed(new Connection());
  borrowed->conn_ = conn;
  borrowed->borrowed_ = true;
  borrowed->borrowed_schema_ = schema;
  borrowed->display_name_ = "(the caller's connection)";
  return borrowed;
}

Connection::~Connection() {
  if (conn_ != nullptr && !borrowed_) PQfinish(conn_);
}

std::unique_ptr<Connection> connect(const ConnectionSettings& settings, Duration lock_timeout) {
  return std::make_unique<Connection>(settings, lock_timeout);
}

bool Connection::healthy() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

bool Connection::idle() const { return healthy() && PQtransactionStatus(conn_) == PQTRANS_IDLE; }

int Connection::socket() const { return PQsocket(conn_); }

void Connection::poll_idle() {
  if (!healthy()) return;
  pollfd fd{PQsocket(conn_), POLLIN, 0};
  if (::poll(&fd, 1, 0) <= 0) return;
  // Something arrived while idle: a notice, or the server's goodbye. Reading it lets
  // libpq see a closed connection (PQstatus turns bad).
  if (PQconsumeInput(conn_) == 0) return;
  while (PGnotify* n = PQnotifies(conn_)) PQfreemem(n);
}

namespace {

// Fails unless `result` is a success; takes ownership of it either way.
Result checked_result(pg_conn* conn, std::string_view server, pg_result* raw, std::string_view what) {
  const ExecStatusType status = raw != nullptr ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Result(raw);
  Result owner(raw);  // freed when the error leaves
  throw_postgres_error(conn, raw, server, what);
}

}  // namespace

Params::Pointers Params::pointers() const {
  Pointers pointers;
  for (size_t i = 0; i < values_.size(); ++i) {
    pointers.values.push_back(nulls_[i] ? nullptr : values_[i].c_str());
    pointers.lengths.push_back(static_cast<int>(values_[i].size()));
  }
  return pointers;
}

void Connection::exec_simple(const std::string& sql, std::string_view what) {
  if (begin_pending_) {
    begin_pending_ = false;
    // A transaction that ran nothing ends without a word to the server.
    if (sql == "COMMIT" || sql == "ROLLBACK") return;
    checked_result(conn_, display_name_, PQexec(conn_, ("BEGIN; " + sql).c_str()), what);
    return;
  }
  checked_result(conn_, display_name_, PQexec(conn_, sql.c_str()), what);
}

void Connection::begin_with_next_statement() {
  if (borrowed_) throw Error::internal("postgres: a borrowed connection's transaction is its owner's");
  begin_pending_ = true;
}

Result Connection::run_unnamed(const std::string& sql, const Params& params, std::string_view what) {
  const std::string qualified = schema_qualified_sql(sql, borrowed_schema_);
  const int n = params.size();
  const auto [values, lengths] = params.pointers();
  return checked_result(conn_, display_name_,
                        PQexecParams(conn_, qualified.c_str(), n, nullptr, values.data(), lengths.data(),
                                     params.formats_.data(), /*resultFormat=*/0),
                        what);
}

Result Connection::run_prepared(const std::string& name, const std::string& sql, bool prepared,
                                const Params& params, std::string_view what) {
  if (begin_pending_) return std::move(run_pipeline({{name, sql.c_str(), &params}}, /*then_commit=*/false, what).front());
  if (!prepared) {
    checked_result(conn_, display_name_, PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr), what);
    prepared_.insert(name);
  }
  const int n = params.size();
  const auto [values, lengths] = params.pointers();
  return checked_result(conn_, display_name_,
                        PQexecPrepared(conn_, name.c_str(), n, values.data(), lengths.data(), params.formats_.data(),
                                       /*resultFormat=*/0),
                        what);
}

void Connection::exec_and_commit(const Statement& statement, const Params& params) {
  if (borrowed_) throw Error::internal("postgres: a borrowed connection's transaction is its owner's to commit");
  run_pipeline({{statement.name, statement.sql, &params}}, /*then_commit=*/true,
               std::string(statement.name) + " and commit");
}

std::vector<Result> Connection::exec_many(const std::vector<std::pair<const Statement*, const Params*>>& statements) {
  std::vector<Result> results;
  if (borrowed_) {
    for (const auto& [statement, params] : statements) results.push_back(exec(*statement, *params));
    return results;
  }
  std::vector<PipelineStep> steps;
  for (const auto& [statement, params] : statements) steps.push_back({statement->name, statement->sql, params});
  return run_pipeline(steps, /*then_commit=*/false, statements.empty() ? "" : statements.front().first->name);
}

std::vector<Result> Connection::run_pipeline(const std::vector<PipelineStep>& steps, bool then_commit,
                                             std::string_view what) {
  const bool begin = std::exchange(begin_pending_, false);
  // The commands sent, in order (the results come back in the same order): BEGIN,
  // PREPARE, EXECUTE (with the index of its step), COMMIT.
  enum class Kind { kBegin, kPrepare, kExecute, kCommit };
  struct Command {
    Kind kind;
    size_t step = 0;
  };
  std::vector<Command> commands;
  std::vector<std::string> newly_prepared;
  bool sent = PQenterPipelineMode(conn_) == 1;
  if (sent && begin) {
    sent = PQsendQueryParams(conn_, "BEGIN", 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
    commands.push_back({Kind::kBegin});
  }
  for (size_t i = 0; sent && i < steps.size(); ++i) {
    const PipelineStep& step = steps[i];
    if (!prepared_.contains(step.name) &&
        std::find(newly_prepared.begin(), newly_prepared.end(), step.name) == newly_prepared.end()) {
      sent = PQsendPrepare(conn_, step.name.c_str(), step.sql, 0, nullptr) == 1;
      commands.push_back({Kind::kPrepare, i});
      newly_prepared.push_back(step.name);
    }
    const int n = step.params->size();
    const auto [values, lengths] = step.params->pointers();
    sent = sent && PQsendQueryPrepared(conn_, step.name.c_str(), n, values.data(), lengths.data(),
                                       step.params->formats_.data(), /*resultFormat=*/0) == 1;
    commands.push_back({Kind::kExecute, i});
  }
  if (sent && then_commit) {
    sent = PQsendQueryParams(conn_, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
    commands.push_back({Kind::kCommit});
  }
  sent = sent && PQpipelineSync(conn_) == 1;
  // Read every result up to the sync point; keep the statements', and the first error.
  std::vector<Result> results(steps.size());
  Result first_error;
  bool failed = !sent;
  bool prepare_failed = false;
  size_t command = 0;
  while (sent) {
    PGresult* raw = PQgetResult(conn_);
    if (raw == nullptr) {
      if (PQstatus(conn_) != CONNECTION_OK) {
        failed = true;
        break;
      }
      ++command;  // the end of one command's results
      continue;
    }
    const ExecStatusType status = PQresultStatus(raw);
    if (status == PGRES_PIPELINE_SYNC) {
      PQclear(raw);
      break;
    }
    const Command* current = command < commands.size() ? &commands[command] : nullptr;
    if (status == PGRES_FATAL_ERROR && !failed) {
      failed = true;
      prepare_failed = current != nullptr && current->kind == Kind::kPrepare;
      first_error = Result(raw);
      continue;
    }
    if (status == PGRES_PIPELINE_ABORTED) failed = true;
    if (current != nullptr && current->kind == Kind::kExecute &&
        (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK)) {
      results[current->step] = Result(raw);
      continue;
    }
    PQclear(raw);
  }
  if (PQpipelineStatus(conn_) != PQ_PIPELINE_OFF) PQexitPipelineMode(conn_);
  // A statement whose PREPARE failed is prepared again next time; the others are kept
  // (a pipeline aborted after them still ran their PREPARE first).
  if (sent && !prepare_failed) prepared_.insert(newly_prepared.begin(), newly_prepared.end());
  if (failed) throw_postgres_error(conn_, first_error.raw(), display_name_, std::string(what));
  return results;
}

Result Connection::exec(const Statement& statement, const Params& params) {
  if (borrowed_) return run_unnamed(statement.sql, params, statement.name);
  const std::string name = statement.name;
  return run_prepared(name, statement.sql, prepared_.contains(name), params, statement.name);
}

Result Connection::exec_text(const std::string& sql, const Params& params) {
  if (borrowed_) return run_unnamed(sql, params, "query");
  auto it = dynamic_names_.find(sql);
  if (it == dynamic_names_.end()) {
    it = dynamic_names_.emplace(sql, "quern_dynamic_" + std::to_string(dynamic_names_.size() + 1)).first;
  }
  return run_prepared(it->second, sql, prepared_.contains(it->second), params, "query");
}

std::string quote_identifier(std::string_view name) {
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace quern::postgres
