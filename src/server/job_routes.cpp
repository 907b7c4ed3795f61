// Routes for producers and administrators of jobs.
#include <cstdint>
#include <string>

#include "core/job_json.h"
#include "core/time_format.h"
#include "quern/error.h"
#include "server/http_response.h"
#include "server/job_request.h"
#include "server/request_fields.h"
#include "server/routes.h"
#include "store/store.h"

namespace quern::server {
namespace {

constexpr int kJobListDefaultPage = 100;
constexpr int kJobListMaxPage = 1000;

// ?state=a,b&state=c → {a, b, c}.
std::vector<JobState> query_states(const ApiRequest& request) {
  std::vector<JobState> states;
  for (const std::string& value : request.query_all("state")) {
    size_t start = 0;
    while (start <= value.size()) {
      size_t end = value.find(',', start);
      if (end == std::string::npos) end = value.size();
      const std::string name = value.substr(start, end - start);
      if (!name.empty()) states.push_back(parse_state(name));
      start = end + 1;
    }
  }
  return states;
}

// The ?NAME= query parameter as a number from 0 to `max` (absent or empty: 0).
int64_t query_number(const ApiRequest& request, const std::string& name, int64_t max) {
  if (auto value = request.query(name); value && !value->empty()) return parse_integer_text(*value, 0, max, name);
  return 0;
}

// A list shows a line of each job: with ?max_payload_bytes=N, a payload, result or
// checkpoint longer than N bytes (as compact JSON) comes as null, its size under
// "omitted", so a page of jobs with megabyte payloads stays small.
void omit_large_values(Json& job, int64_t max_bytes) {
  for (const char* key : {"payload", "result", "checkpoint"}) {
    auto it = job.find(key);
    if (it == job.end() || it->is_null()) continue;
    const size_t bytes = it->dump(-1, ' ', false, Json::error_handler_t::replace).size();
    if (bytes <= static_cast<size_t>(max_bytes)) continue;
    *it = nullptr;
    job["omitted"][key] = bytes;
  }
}

void handle_list_jobs(const RouteContext& context, const ApiRequest& request, httplib::Response& res) {
  JobFilter filter;
  filter.states = query_states(request);
  auto non_empty = [&](const std::string& name) -> std::optional<std::string> {
    auto value = request.query(name);
    if (value && value->empty()) return std::nullopt;
    return value;
  };
  filter.queue = non_empty("queue");
  filter.type = non_empty("type");
  filter.tag = non_empty("tag");
  const auto limit = non_empty("limit");
  const int page_size = limit ? static_cast<int>(parse_integer_text(*limit, 1, kJobListMaxPage, "limit")) : kJobListDefaultPage;
  if (auto cursor = non_empty("cursor")) filter.after_id = parse_job_id_text(*cursor, "cursor");
  const std::string order = non_empty("order").value_or("asc");
  if (order != "asc" && order != "desc") throw Error::invalid_argument("order must be asc or desc, not " + order);
  filter.newest_first = order == "desc";
  // One more than asked tells whether another page follows, so the last page says so.
  filter.limit = page_size + 1;
  std::vector<Job> jobs = context.client->list(filter);
  Json next_cursor = nullptr;
  if (static_cast<int>(jobs.size()) > page_size) {
    jobs.resize(page_size);
    next_cursor = std::to_string(jobs.back().id);
  }
  const auto max_payload = request.query("max_payload_bytes");
  const bool omit = max_payload && !max_payload->empty();
  const int64_t max_bytes = query_number(request, "max_payload_bytes", INT64_MAX / 2);
  Json list = Json::array();
  for (const Job& job : jobs) {
    list.push_back(job_to_json(job));
    if (omit) omit_large_values(list.back(), max_bytes);
  }
  send_json(res, 200, {{"jobs", std::move(list)}, {"next_cursor", std::move(next_cursor)}});
}

void handle_enqueue(RouteContext& context, const ApiRequest& request, httplib::Response& res) {
  const JobRequest parsed = parse_job_request(body_json(request, context), context.client->clock().now());
  const auto results = context.client->enqueue_many(parsed.jobs);
  int64_t inserted = 0;
  for (const auto& result : results) inserted += result.inserted ? 1 : 0;
  context.metrics.count_enqueued(inserted);
  if (!parsed.batch) {
    send_json(res, 201, job_to_json(results.front().job));
    return;
  }
  Json jobs = Json::array();
  for (const auto& result : results) jobs.push_back(job_to_json(result.job));
  send_json(res, 201, {{"jobs", std::move(jobs)}});
}

void handle_read_log(const RouteContext& context, const ApiRequest& request, httplib::Response& res) {
  const JobId id = path_job_id(request);
  context.client->get(id);  // kNotFound for an unknown job
  const int64_t after = query_number(request, "after", INT64_MAX / 2);
  Json chunks = Json::array();
  for (const LogChunk& chunk : context.client->store()->read_log(id, after)) {
    chunks.push_back({{"seq", chunk.seq}, {"attempt", chunk.attempt}, {"at", format_rfc3339(chunk.at)}, {"text", chunk.text}});
  }
  send_json(res, 200, {{"log", std::move(chunks)}});
}

}  // namespace

Json body_json(const ApiRequest& request, const RouteContext& context) {
  return parse_body(request.body, context.max_body_bytes);
}

JobId path_job_id(const ApiRequest& request) { return parse_job_id_text(request.params.at(0), "job id"); }

void add_job_routes(Router& router, RouteContext& context) {
  RouteContext* c = &context;
  router.add("POST", "/api/v1/jobs", [c](ApiRequest& request, httplib::Response& res) { handle_enqueue(*c, request, res); });
  router.add("GET", "/api/v1/jobs", [c](ApiRequest& request, httplib::Response& res) { handle_list_jobs(*c, request, res); });
  router.add("GET", "/api/v1/jobs/{id}", [c](ApiRequest& request, httplib::Response& res) {
    send_json(res, 200, job_to_json(c->client->get(path_job_id(request))));
  });
  router.add("GET", "/api/v1/jobs/{id}/log", [c](ApiRequest& request, httplib::Response& res) { handle_read_log(*c, request, res); });
  router.add("GET", "/api/v1/jobs/{id}/history", [c](ApiRequest& request, httplib::Response& res) {
    // ?after=SEQ: only the newer entries, so a page showing a long history is sent it once.
    const int64_t after = query_number(request, "after", INT64_MAX / 2);
    Json history = Json::array();
    for (const HistoryEntry& entry : c->client->history(path_job_id(request))) {
      if (entry.seq > after) history.push_back(history_entry_to_json(entry));
    }
    send_json(res, 200, {{"history", std::move(history)}});
  });
  router.add("POST", "/api/v1/jobs/{id}/retry", [c](ApiRequest& request, httplib::Response& res) {
    send_json(res, 200, job_to_json(c->client->retry(path_job_id(request))));
  });
  router.add("POST", "/api/v1/jobs/{id}/cancel", [c](ApiRequest& request, httplib::Response& res) {
    send_json(res, 200, job_to_json(c->client->cancel(path_job_id(request))));
  });
  router.add("POST", "/api/v1/jobs/{id}/priority", [c](ApiRequest& request, httplib::Response& res) {
    const JobId id = path_job_id(request);
    const Json body = body_json(request, *c);
    require_object_with(body, {"priority"}, "a priority change");
    const auto priority = priority_member(body, "priority");
    if (!priority) throw Error::invalid_argument("priority is required");
    send_json(res, 200, job_to_json(c->client->set_priority(id, *priority)));
  });
  router.add("DELETE", "/api/v1/jobs/{id}", [c](ApiRequest& request, httplib::Response& res) {
    c->client->remove(path_job_id(request));
    res.status = 204;
  });
  router.add("POST", "/api/v1/jobs/retry-failed", [c](ApiRequest& request, httplib::Response& res) {
    const Json body = body_json(request, *c);
    require_object_with(body, {"queue"}, "retry-failed");
    send_json(res, 200, {{"retried", c->client->retry_failed(string_member(body, "queue"))}});
  });
  router.add("POST", "/api/v1/jobs/clear", [c](ApiRequest& request, httplib::Response& res) {
    const Json body = body_json(request, *c);
    require_object_with(body, {"states", "queue"}, "clear");
    const auto names = string_list_member(body, "states");
    if (!names || names->empty()) throw Error::invalid_argument("states must list the final states to clear");
    std::vector<JobState> states;
    for (const auto& name : *names) states.push_back(parse_state(name));
    send_json(res, 200, {{"deleted", c->client->clear(states, string_member(body, "queue"))}});
  });
}

}  // namespace quern::server
