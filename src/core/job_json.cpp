#include "core/job_json.h"

#include <optional>
#include <string>

#include "core/printable_text.h"
#include "core/time_format.h"

namespace quern {

namespace {

// Free text (errors, stages, tags) may hold any bytes a command printed; JSON text must
// be valid UTF-8, so invalid bytes become U+FFFD here rather than failing a dump later.
Json text(const std::string& s) { return valid_utf8(s); }

Json text_or_null(const std::string& s) { return s.empty() ? Json(nullptr) : text(s); }

Json texts(const std::vector<std::string>& list) {
  Json out = Json::array();
  for (const auto& s : list) out.push_back(text(s));
  return out;
}

}  // namespace

Json time_or_null(const std::optional<Time>& t) { return t ? Json(format_rfc3339(*t)) : Json(nullptr); }

Json job_to_json(const Job& job) {
  Json depends_on = Json::array();
  for (JobId id : job.depends_on) depends_on.push_back(id);
  return Json{
      {"id", job.id},
      {"queue", text(job.queue)},
      {"type", text(job.type)},
      {"state", state_name(job.state)},
      {"priority", job.priority},
      {"attempt", job.attempt},
      {"failures", job.failures},
      {"max_attempts", job.max_attempts},
      {"payload", job.payload},
      {"result", job.result},
      {"error", text_or_null(job.error)},
      {"progress", job.progress},
      {"stage", text_or_null(job.stage)},
      {"checkpoint", job.checkpoint},
      {"unique_key", job.unique_key ? text(*job.unique_key) : Json(nullptr)},
      {"tags", texts(job.tags)},
      {"run_at", format_rfc3339(job.run_at)},
      {"created_at", format_rfc3339(job.created_at)},
      {"started_at", time_or_null(job.started_at)},
      {"finished_at", time_or_null(job.finished_at)},
      {"expires_at", time_or_null(job.expires_at)},
      {"depends_on", std::move(depends_on)},
      {"timeout_ms", job.timeout ? Json(std::chrono::duration_cast<std::chrono::milliseconds>(*job.timeout).count())
                                 : Json(nullptr)},
      {"needs_files", texts(job.needs_files)},
      {"updated_at", format_rfc3339(job.updated_at)},
      {"lease_owner", text_or_null(job.lease_owner)},
      {"lease_expires_at", time_or_null(job.lease_expires_at)},
  };
}

Json history_entry_to_json(const HistoryEntry& entry) {
  return Json{
      {"seq", entry.seq},
      {"job_id", entry.job_id},
      {"at", format_rfc3339(entry.at)},
      {"from", entry.from ? Json(state_name(*entry.from)) : Json(nullptr)},
      {"to", state_name(entry.to)},
      {"attempt", entry.attempt},
      {"detail", text_or_null(entry.detail)},
  };
}

}  // namespace quern
