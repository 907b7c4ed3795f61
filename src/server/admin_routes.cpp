// Routes for the overview: counts, queues (pause, limit, hold, retention), settings and
// throughput.
#include <algorithm>
#include <climits>

#include "core/stats_report.h"
#include "core/time_format.h"
#include "quern/error.h"
#include "server/http_response.h"
#include "server/request_fields.h"
#include "server/routes.h"

namespace quern::server {
namespace {

constexpr int kLongestThroughputMinutes = 7 * 24 * 60;

Json queues_json(const Stats& stats) {
  Json queues = Json::array();
  for (const auto& queue : stats.queues) queues.push_back(queue_to_json(queue, "counts"));
  return {{"queues", std::move(queues)}};
}

const std::string& queue_name_of(const ApiRequest& request) {
  const std::string& name = request.params.at(0);
  if (name.empty()) throw Error::invalid_argument("a queue needs a non-empty name");
  return name;
}

// {"concurrency_limit": N} (N ≥ 1) or {"concurrency_limit": null} (no limit).
std::optional<int> concurrency_limit_of(const Json& body) {
  require_object_with(body, {"concurrency_limit"}, "a queue's limit");
  if (!body.contains("concurrency_limit")) throw Error::invalid_argument("concurrency_limit is required (a number or null)");
  const Json& limit = body["concurrency_limit"];
  if (limit.is_null()) return std::nullopt;
  if (!limit.is_number_integer() || limit.get<int64_t>() < 1 || limit.get<int64_t>() > INT_MAX) {
    throw Error::invalid_argument("concurrency_limit must be a whole number from 1 to " + std::to_string(INT_MAX) +
                                  ", or null");
  }
  return limit.get<int>();
}

// {"held_while": "QUEUE"} or {"held_while": null} (not held).
std::optional<std::string> held_while_of(const Json& body) {
  require_object_with(body, {"held_while"}, "a queue's hold");
  if (!body.contains("held_while")) throw Error::invalid_argument("held_while is required (a queue name or null)");
  const Json& held_while = body["held_while"];
  if (held_while.is_null()) return std::nullopt;
  if (!held_while.is_string()) throw Error::invalid_argument("held_while must be a queue name or null");
  return held_while.get<std::string>();
}

// {"completed": DUR, "failed": null, …}: for each final state named, how long its jobs
// are kept (a duration string or seconds; null or "forever": until deleted by hand).
RetentionChanges retention_changes_of(const Json& body) {
  require_object_with(body, {"completed", "failed", "canceled", "expired"}, "a queue's retention");
  RetentionChanges changes;
  for (JobState state : kFinalStates) {
    const std::string name(state_name(state));
    if (!body.contains(name)) continue;
    const Json& keep = body[name];
    changes[state] = keep.is_null() || keep == "forever" ? std::nullopt : duration_member(body, name);
  }
  if (changes.empty()) {
    throw Error::invalid_argument("name at least one of completed, failed, canceled, expired, with how long to keep them");
  }
  return changes;
}

// PUT /api/v1/settings/{key}: {"value": V} sets V; any other body is the value itself.
Json setting_value_of(const Json& body) {
  if (body.is_object() && body.size() == 1 && body.contains("value")) return body["value"];
  return body;
}

}  // namespace

void add_admin_routes(Router& router, RouteContext& context) {
  RouteContext* c = &context;
  router.add("GET", "/api/v1/stats", [c](ApiRequest&, httplib::Response& res) {
    send_json(res, 200, stats_to_json(c->client->stats()));
  });
  router.add("GET", "/api/v1/queues", [c](ApiRequest&, httplib::Response& res) {
    send_json(res, 200, queues_json(c->client->stats()));
  });
  router.add("POST", "/api/v1/queues/{name}/pause", [c](ApiRequest& request, httplib::Response& res) {
    const std::string& queue = queue_name_of(request);
    c->client->pause(queue);
    send_json(res, 200, {{"queue", queue}, {"paused", true}});
  });
  router.add("POST", "/api/v1/queues/{name}/resume", [c](ApiRequest& request, httplib::Response& res) {
    const std::string& queue = queue_name_of(request);
    c->client->resume(queue);
    send_json(res, 200, {{"queue", queue}, {"paused", false}});
  });
  router.add("PUT", "/api/v1/queues/{name}/limit", [c](ApiRequest& request, httplib::Response& res) {
    const std::string& queue = queue_name_of(request);
    const std::optional<int> limit = concurrency_limit_of(body_json(request, *c));
    c->client->set_concurrency_limit(queue, limit);
    send_json(res, 200, {{"queue", queue}, {"concurrency_limit", limit ? Json(*limit) : Json(nullptr)}});
  });
  router.add("PUT", "/api/v1/queues/{name}/hold", [c](ApiRequest& request, httplib::Response& res) {
    const std::string& queue = queue_name_of(request);
    const std::optional<std::string> held_while = held_while_of(body_json(request, *c));
    c->client->set_hold(queue, held_while);
    send_json(res, 200, {{"queue", queue}, {"held_while", held_while ? Json(*held_while) : Json(nullptr)}});
  });
  router.add("PUT", "/api/v1/queues/{name}/retention", [c](ApiRequest& request, httplib::Response& res) {
    const std::string& queue = queue_name_of(request);
    c->client->set_retention(queue, retention_changes_of(body_json(request, *c)));
    std::map<JobState, Duration> retention;
    for (const QueueInfo& info : c->client->queues()) {
      if (info.name == queue) retention = info.retention;
    }
    send_json(res, 200, {{"queue", queue}, {"retention", retention_to_json(retention)}});
  });
  router.add("GET", "/api/v1/settings", [c](ApiRequest&, httplib::Response& res) {
    Json settings = Json::object();
    for (const auto& [key, value] : c->client->settings()) settings[key] = value;
    send_json(res, 200, {{"settings", std::move(settings)}});
  });
  router.add("GET", "/api/v1/settings/{key}", [c](ApiRequest& request, httplib::Response& res) {
    const std::string& key = request.params.at(0);
    auto value = c->client->setting(key);
    if (!value) throw Error::not_found("setting " + key + " not found");
    send_json(res, 200, {{"key", key}, {"value", *value}});
  });
  router.add("PUT", "/api/v1/settings/{key}", [c](ApiRequest& request, httplib::Response& res) {
    const std::string& key = request.params.at(0);
    if (request.body.find_first_not_of(" \t\r\n") == std::string::npos) {
      throw Error::invalid_argument("the body must be the setting's JSON value, or {\"value\": …}");
    }
    const Json value = setting_value_of(body_json(request, *c));
    c->client->set_setting(key, value);
    send_json(res, 200, {{"key", key}, {"value", value}});
  });
  router.add("GET", "/api/v1/throughput", [c](ApiRequest& request, httplib::Response& res) {
    int64_t minutes = 60;
    if (auto value = request.query("minutes"); value && !value->empty()) {
      minutes = parse_integer_text(*value, 1, kLongestThroughputMinutes, "minutes");
    }
    Json buckets = Json::array();
    for (const ThroughputBucket& bucket : c->client->throughput(std::chrono::minutes(minutes))) {
      buckets.push_back({{"minute", format_rfc3339(bucket.minute)}, {"completed", bucket.completed}, {"failed", bucket.failed}});
    }
    send_json(res, 200, {{"buckets", std::move(buckets)}});
  });
}

}  // namespace quern::server
