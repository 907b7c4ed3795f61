#include "core/cron_entry.h"

#include <chrono>
#include <optional>

#include "core/cron_schedule.h"
#include "core/job_json.h"
#include "core/job_validation.h"
#include "core/printable_text.h"
#include "core/time_format.h"
#include "quern/error.h"

namespace quern {
namespace {

Json milliseconds_or_null(const std::optional<Duration>& d) {
  return d ? Json(std::chrono::duration_cast<std::chrono::milliseconds>(*d).count()) : Json(nullptr);
}

}  // namespace

void validate_cron_entry(const CronEntry& entry, size_t max_payload_bytes) {
  if (!entry.name.empty()) check_name("cron name", entry.name);  // empty: the store numbers it
  CronSchedule::parse(entry.schedule);
  if (entry.job.run_at) throw Error::invalid_argument("a cron job runs when its schedule fires: it cannot have a run time");
  if (entry.job.expires_at) {
    throw Error::invalid_argument("a cron job's expiry is relative to each firing (expires_in), not a time");
  }
  if (!entry.job.depends_on.empty()) throw Error::invalid_argument("a cron job cannot depend on other jobs");
  if (entry.expires_in && *entry.expires_in <= Duration::zero()) {
    throw Error::invalid_argument("a cron job's expires_in must be longer than 0s");
  }
  validate_new_job(entry.job, max_payload_bytes);
}

std::string encode_cron_job(const CronEntry& entry) {
  const NewJob& job = entry.job;
  Json out = {
      {"queue", job.queue},
      {"type", job.type},
      {"payload", job.payload},
      {"priority", job.priority},
      {"max_attempts", job.max_attempts},
      {"tags", job.tags},
      {"needs_files", job.needs_files},
  };
  if (job.timeout) out["timeout_us"] = job.timeout->count();
  if (job.unique_key) out["unique_key"] = *job.unique_key;
  if (entry.expires_in) out["expires_in_us"] = entry.expires_in->count();
  return out.dump();
}

void decode_cron_job(std::string_view text, CronEntry& entry) {
  try {
    const Json in = Json::parse(text);
    NewJob job;
    job.queue = in.at("queue").get<std::string>();
    job.type = in.at("type").get<std::string>();
    job.payload = in.at("payload");
    job.priority = in.at("priority").get<int>();
    job.max_attempts = in.at("max_attempts").get<int>();
    job.tags = in.at("tags").get<std::vector<std::string>>();
    job.needs_files = in.at("needs_files").get<std::vector<std::string>>();
    if (in.contains("timeout_us")) job.timeout = Duration(in["timeout_us"].get<int64_t>());
    if (in.contains("unique_key")) job.unique_key = in["unique_key"].get<std::string>();
    entry.expires_in.reset();
    if (in.contains("expires_in_us")) entry.expires_in = Duration(in["expires_in_us"].get<int64_t>());
    entry.job = std::move(job);
  } catch (const Json::exception& e) {
    throw Error::data_loss("cron entry " + entry.name + " has a job template this Quern cannot read: " + e.what());
  }
}

std::optional<CronFiring> plan_cron_firing(const CronEntry& entry, Time now) {
  CronFiring firing;
  try {
    firing.next_run_at = CronSchedule::parse(entry.schedule).next_after(now);
  } catch (const Error&) {
    return std::nullopt;
  }
  firing.job = entry.job;
  if (entry.expires_in) firing.job.expires_at = now + *entry.expires_in;
  return firing;
}

void throw_cron_entries_not_found(const std::vector<std::string>& names) {
  std::string list;
  for (const auto& name : names) list += (list.empty() ? "" : ", ") + quote_for_message(name);
  throw Error::not_found((names.size() == 1 ? "no cron entry named " : "no cron entries named ") + list);
}

Json cron_entry_to_json(const CronEntry& entry) {
  const NewJob& job = entry.job;
  return Json{
      {"name", entry.name},
      {"schedule", entry.schedule},
      {"queue", job.queue},
      {"type", job.type},
      {"payload", job.payload},
      {"priority", job.priority},
      {"max_attempts", job.max_attempts},
      {"timeout_ms", milliseconds_or_null(job.timeout)},
      {"unique_key", job.unique_key ? Json(*job.unique_key) : Json(nullptr)},
      {"tags", job.tags},
      {"needs_files", job.needs_files},
      {"expires_in_ms", milliseconds_or_null(entry.expires_in)},
      {"next_run_at", format_rfc3339(entry.next_run_at)},
      {"last_run_at", time_or_null(entry.last_run_at)},
      {"last_job_id", entry.last_job_id ? Json(*entry.last_job_id) : Json(nullptr)},
      {"created_at", format_rfc3339(entry.created_at)},
      {"updated_at", format_rfc3339(entry.updated_at)},
  };
}

}  // namespace quern
