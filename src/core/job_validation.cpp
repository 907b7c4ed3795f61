#include "core/job_validation.h"

#include <string>

#include "core/printable_text.h"
#include "quern/error.h"

namespace quern {

namespace {

constexpr size_t kMaxNameBytes = 200;
// Room for a file path, the usual key; PostgreSQL's index holds at most 2704 bytes per
// entry, so every backend takes the same keys.
constexpr size_t kMaxUniqueKeyBytes = 2048;

[[noreturn]] void throw_invalid(const std::string& what) { throw Error::invalid_argument("invalid job: " + what); }

bool is_valid_utf8(std::string_view s) {
  for (size_t pos = 0; pos < s.size();) {
    size_t length = utf8_sequence_length(s, pos);
    if (length == 0) return false;
    pos += length;
  }
  return true;
}

size_t compact_json_size(const Json& payload) {
  try {
    return payload.dump().size();
  } catch (const Json::exception&) {
    // dump() refuses strings that are not valid UTF-8.
    throw_invalid("payload contains text that is not valid UTF-8");
  }
}

// What is wrong with a queue, type or tag name, if anything.
std::string name_problem(std::string_view field, std::string_view name) {
  if (name.empty()) return std::string(field) + " is empty";
  if (name.size() > kMaxNameBytes) {
    return std::string(field) + " " + quote_for_message(name) + " is longer than " + std::to_string(kMaxNameBytes) +
           " bytes";
  }
  if (has_control_character(name)) return std::string(field) + " " + quote_for_message(name) + " contains a control character";
  if (!is_valid_utf8(name)) return std::string(field) + " " + quote_for_message(name) + " is not valid UTF-8";
  // A browser resolves these as URL path segments (also when escaped), so the HTTP API
  // could never name such a queue or setting; no name may be one, for one rule.
  if (name == "." || name == "..") return std::string(field) + " " + quote_for_message(name) + " is reserved";
  return "";
}

// What is wrong with an absolute path of this host, if anything.
std::string path_problem(std::string_view field, std::string_view path) {
  if (path.empty() || path.front() != '/') return std::string(field) + " " + quote_for_message(path) + " is not absolute";
  if (path.find('\0') != std::string::npos) return std::string(field) + " " + quote_for_message(path) + " contains a NUL byte";
  if (!is_valid_utf8(path)) return std::string(field) + " " + quote_for_message(path) + " is not valid UTF-8";
  return "";
}

void check_job_name(std::string_view field, std::string_view name) {
  if (std::string problem = name_problem(field, name); !problem.empty()) throw_invalid(problem);
}

}  // namespace

void check_watch_name(std::string_view name) {
  // Kept as given by every backend (PostgreSQL text holds neither NUL nor invalid UTF-8).
  if (name.empty() || name.find('\0') != std::string_view::npos || !is_valid_utf8(name)) {
    throw Error::invalid_argument("directory watch name " + quote_for_message(name) +
                                  " must be non-empty UTF-8 text without NUL bytes");
  }
}

void check_absolute_path(std::string_view field, std::string_view path) {
  if (std::string problem = path_problem(field, path); !problem.empty()) throw Error::invalid_argument(problem);
}

void check_name(std::string_view field, std::string_view name) {
  if (std::string problem = name_problem(field, name); !problem.empty()) throw Error::invalid_argument(problem);
}

void validate_new_job(const NewJob& job, size_t max_payload_bytes) {
  check_job_name("type", job.type);
  check_job_name("queue", job.queue);
  for (const auto& tag : job.tags) check_job_name("tag", tag);
  if (job.max_attempts < 1) {
    throw_invalid("max_attempts is " + std::to_string(job.max_attempts) + "; it must be at least 1");
  }
  if (job.timeout && job.timeout->count() <= 0) throw_invalid("timeout must be positive");
  if (job.unique_key) {
    if (job.unique_key->empty()) throw_invalid("unique_key is empty");
    if (job.unique_key->size() > kMaxUniqueKeyBytes) {
      throw_invalid("unique_key is longer than " + std::to_string(kMaxUniqueKeyBytes) + " bytes");
    }
    // Every backend must keep the key byte for byte, or two keys could become one.
    if (job.unique_key->find('\0') != std::string::npos) throw_invalid("unique_key contains a NUL byte");
    if (!is_valid_utf8(*job.unique_key)) throw_invalid("unique_key " + quote_for_message(*job.unique_key) + " is not valid UTF-8");
  }
  for (JobId id : job.depends_on) {
    if (id < 1) throw_invalid("depends_on id " + std::to_string(id) + " is not a positive integer");
  }
  for (const auto& path : job.needs_files) {
    if (std::string problem = path_problem("needs_files path", path); !problem.empty()) throw_invalid(problem);
  }
  size_t payload_bytes = compact_json_size(job.payload);
  if (payload_bytes > max_payload_bytes) {
    throw Error::too_large("payload is " + std::to_string(payload_bytes) + " bytes; the limit is " +
                           std::to_string(max_payload_bytes));
  }
}

}  // namespace quern
