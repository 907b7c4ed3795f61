#include "server/job_request.h"

#include <cstdint>
#include <filesystem>
#include <system_error>

#include "core/printable_text.h"
#include "exec/shell_payload.h"
#include "quern/error.h"
#include "server/request_fields.h"

namespace quern::server {
namespace {

constexpr size_t kMaxJobsPerRequest = 10000;

void set_request_shell_command(const Json& object, NewJob& job) {
  const Json* command = find_member(object, "command");
  if (!command->is_array() || command->empty()) {
    throw Error::invalid_argument("command must be a non-empty list of strings (the program and its arguments)");
  }
  ShellCommand shell;
  for (const Json& arg : *command) {
    if (!arg.is_string()) throw Error::invalid_argument("command must be a list of strings");
    shell.argv.push_back(arg.get<std::string>());
  }
  if (auto cwd = string_member(object, "cwd")) {
    // The command runs on the server's host, so its directory is one of that host's.
    if (cwd->empty() || cwd->front() != '/') throw Error::invalid_argument("cwd must be an absolute path");
    std::error_code error;
    if (!std::filesystem::is_directory(*cwd, error)) {
      throw Error::invalid_argument("cwd " + quote_for_message(*cwd) + " is not a directory");
    }
    shell.cwd = std::filesystem::path(*cwd).lexically_normal().string();
  }
  if (const Json* env = find_member(object, "env")) {
    if (!env->is_object()) throw Error::invalid_argument("env must be an object of strings");
    for (const auto& [name, value] : env->items()) {
      if (!value.is_string()) throw Error::invalid_argument("env " + quote_for_message(name) + " must be a string");
      shell.env[name] = value.get<std::string>();
    }
  }
  job.type = std::string(kShellType);
  job.payload = make_shell_payload(shell);
}

void set_request_type_and_payload(const Json& object, NewJob& job) {
  const bool has_command = find_member(object, "command") != nullptr;
  auto type = string_member(object, "type");
  if (has_command) {
    if (type && *type != kShellType) {
      throw Error::invalid_argument("a job with a command is a shell job; it cannot have type " + quote_for_message(*type));
    }
    if (find_member(object, "payload")) {
      throw Error::invalid_argument("payload cannot be combined with command: a shell job's payload is its command");
    }
    set_request_shell_command(object, job);
    return;
  }
  if (find_member(object, "cwd") || find_member(object, "env")) {
    throw Error::invalid_argument("cwd and env apply only to a job with a command");
  }
  if (!type) throw Error::invalid_argument("a job needs a type (or a command, for a shell job)");
  job.type = *type;
  if (const Json* payload = find_member(object, "payload")) job.payload = *payload;
  if (job.type == kShellType) parse_shell_payload(job.payload);  // a shell job's payload must be a command
}

}  // namespace

NewJob parse_new_job(const Json& object, Time now) {
  require_object_with(object,
                      {"command", "cwd", "env", "type", "payload", "queue", "priority", "delay", "run_at",
                       "max_attempts", "timeout", "unique_key", "depends_on", "needs_files", "expires_at",
                       "expires_in", "tags", "on_dependency_failure"},
                      "a job");
  NewJob job;
  set_request_type_and_payload(object, job);
  if (auto queue = string_member(object, "queue")) job.queue = *queue;
  if (auto priority = priority_member(object, "priority")) job.priority = *priority;
  auto delay = duration_member(object, "delay");
  auto run_at = time_member(object, "run_at");
  if (delay && run_at) throw Error::invalid_argument("delay and run_at cannot be combined");
  if (delay) job.run_at = now + *delay;
  if (run_at) job.run_at = *run_at;
  if (auto max_attempts = integer_member(object, "max_attempts", 1, 1'000'000)) {
    job.max_attempts = static_cast<int>(*max_attempts);
  }
  if (auto timeout = duration_member(object, "timeout")) {
    if (*timeout <= Duration::zero()) throw Error::invalid_argument("timeout must be longer than 0s");
    job.timeout = *timeout;
  }
  if (auto unique_key = string_member(object, "unique_key")) {
    if (unique_key->empty()) throw Error::invalid_argument("unique_key must not be empty");
    job.unique_key = *unique_key;
  }
  if (const Json* depends_on = find_member(object, "depends_on")) {
    if (!depends_on->is_array()) throw Error::invalid_argument("depends_on must be a list of job ids");
    for (const Json& id : *depends_on) {
      if (!id.is_number_integer() || id.get<int64_t>() < 1 ||
          (id.is_number_unsigned() && id.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))) {
        throw Error::invalid_argument("depends_on must be a list of positive integer job ids");
      }
      job.depends_on.push_back(id.get<int64_t>());
    }
  }
  if (auto needs_files = string_list_member(object, "needs_files")) {
    for (const auto& path : *needs_files) {
      // No working directory of the caller's to resolve against: the path must be whole.
      if (path.empty() || path.front() != '/') {
        throw Error::invalid_argument("needs_files paths must be absolute, not " + quote_for_message(path));
      }
      job.needs_files.push_back(std::filesystem::path(path).lexically_normal().string());
    }
  }
  auto expires_at = time_member(object, "expires_at");
  auto expires_in = duration_member(object, "expires_in");
  if (expires_at && expires_in) throw Error::invalid_argument("expires_at and expires_in cannot be combined");
  if (expires_at) job.expires_at = *expires_at;
  if (expires_in) job.expires_at = now + *expires_in;
  if (auto tags = string_list_member(object, "tags")) job.tags = *tags;
  if (auto on_failure = string_member(object, "on_dependency_failure")) {
    if (*on_failure == "cancel") {
      job.on_dependency_failure = OnDependencyFailure::kCancel;
    } else if (*on_failure == "wait") {
      job.on_dependency_failure = OnDependencyFailure::kStayBlocked;
    } else {
      throw Error::invalid_argument("on_dependency_failure must be cancel or wait, not " + quote_for_message(*on_failure));
    }
  }
  return job;
}

JobRequest parse_job_request(const Json& body, Time now) {
  if (!body.is_object()) throw Error::invalid_argument("the body must be a job object or {\"jobs\":[…]}");
  JobRequest request;
  if (!body.contains("jobs")) {
    request.jobs.push_back(parse_new_job(body, now));
    return request;
  }
  require_object_with(body, {"jobs"}, "a batch");
  const Json& jobs = body["jobs"];
  if (!jobs.is_array() || jobs.empty()) throw Error::invalid_argument("jobs must be a non-empty list of job objects");
  if (jobs.size() > kMaxJobsPerRequest) {
    throw Error::invalid_argument("a batch holds at most " + std::to_string(kMaxJobsPerRequest) + " jobs");
  }
  request.batch = true;
  for (size_t i = 0; i < jobs.size(); ++i) {
    try {
      request.jobs.push_back(parse_new_job(jobs[i], now));
    } catch (const Error& e) {
      throw Error(e.code(), "jobs[" + std::to_string(i) + "]: " + e.what());
    }
  }
  return request;
}

}  // namespace quern::server
