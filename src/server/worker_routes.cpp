// Routes for remote workers: lease jobs (long-poll), then heartbeat, complete or fail
// each one with the attempt it was leased at. A stale attempt is 409 and changes nothing.
#include <algorithm>
#include <cstdint>

#include "core/job_json.h"
#include "quern/error.h"
#include "server/http_response.h"
#include "server/request_fields.h"
#include "server/routes.h"

namespace quern::server {
namespace {

int lease_attempt_of(const Json& body) {
  const auto attempt = integer_member(body, "attempt", 1, INT32_MAX);
  if (!attempt) throw Error::invalid_argument("attempt is required: the attempt the job was leased at");
  return static_cast<int>(*attempt);
}

void handle_lease(RouteContext& context, const ApiRequest& request, httplib::Response& res) {
  const Json body = body_json(request, context);
  require_object_with(body, {"worker", "types", "queues", "max", "wait", "lease"}, "a lease request");
  RemoteLeaseRequest lease;
  // The name shows in the lease owner; a worker that gives none is "anonymous".
  lease.worker = string_member(body, "worker").value_or("anonymous");
  lease.types = string_list_member(body, "types").value_or(std::vector<std::string>{});
  lease.queues = string_list_member(body, "queues").value_or(std::vector<std::string>{});
  lease.max = static_cast<int>(integer_member(body, "max", 1, 1000).value_or(1));
  lease.lease = duration_member(body, "lease").value_or(context.default_lease);
  const Duration wait = std::min(duration_member(body, "wait").value_or(Duration::zero()), context.max_lease_wait);

  const std::vector<Job> jobs = context.broker.lease(lease, wait);
  Json list = Json::array();
  for (const Job& job : jobs) {
    if (job.started_at) context.metrics.observe_claim_latency(*job.started_at - job.run_at);
    list.push_back(job_to_json(job));
  }
  if (context.broker.stopping()) {
    send_json_and_close(res, 200, {{"jobs", std::move(list)}});  // no keep-alive: the server is going
  } else {
    send_json(res, 200, {{"jobs", std::move(list)}});
  }
}

void handle_heartbeat(RouteContext& context, const ApiRequest& request, httplib::Response& res) {
  const JobId id = path_job_id(request);
  const Json body = body_json(request, context);
  require_object_with(body, {"attempt", "progress", "stage", "checkpoint", "lease"}, "a heartbeat");
  RemoteHeartbeat beat;
  beat.attempt = lease_attempt_of(body);
  beat.lease = duration_member(body, "lease");  // none: as long as the lease last granted
  beat.progress = number_member(body, "progress");
  beat.stage = string_member(body, "stage");
  if (const Json* checkpoint = find_member(body, "checkpoint")) beat.checkpoint = *checkpoint;
  send_json(res, 200, job_to_json(context.client->heartbeat_remote(id, beat)));
}

void handle_complete(RouteContext& context, const ApiRequest& request, httplib::Response& res) {
  const JobId id = path_job_id(request);
  const Json body = body_json(request, context);
  require_object_with(body, {"attempt", "result"}, "a completion");
  const int attempt = lease_attempt_of(body);
  const Json* result = find_member(body, "result");
  const Job job = context.client->complete_remote(id, attempt, result ? *result : Json(nullptr));
  context.metrics.count_completed();
  send_json(res, 200, job_to_json(job));
}

void handle_fail(RouteContext& context, const ApiRequest& request, httplib::Response& res) {
  const JobId id = path_job_id(request);
  const Json body = body_json(request, context);
  require_object_with(body, {"attempt", "error", "retry", "snooze"}, "a failure");
  RemoteFailure failure;
  failure.attempt = lease_attempt_of(body);
  failure.error = string_member(body, "error").value_or("");
  failure.retry = bool_member(body, "retry").value_or(true);
  failure.snooze = duration_member(body, "snooze");
  if (failure.snooze && !failure.retry) throw Error::invalid_argument("snooze and retry=false cannot be combined");
  if (!failure.snooze && failure.error.empty()) failure.error = "failed by remote worker";
  const Job job = context.client->fail_remote(id, failure);
  if (!failure.snooze) context.metrics.count_failed();
  send_json(res, 200, job_to_json(job));
}

}  // namespace

void add_worker_routes(Router& router, RouteContext& context) {
  RouteContext* c = &context;
  router.add("POST", "/api/v1/leases", [c](ApiRequest& request, httplib::Response& res) { handle_lease(*c, request, res); });
  router.add("POST", "/api/v1/jobs/{id}/heartbeat", [c](ApiRequest& request, httplib::Response& res) { handle_heartbeat(*c, request, res); });
  router.add("POST", "/api/v1/jobs/{id}/complete", [c](ApiRequest& request, httplib::Response& res) { handle_complete(*c, request, res); });
  router.add("POST", "/api/v1/jobs/{id}/fail", [c](ApiRequest& request, httplib::Response& res) { handle_fail(*c, request, res); });
}

}  // namespace quern::server
