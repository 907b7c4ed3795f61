// The API's route groups, each in its own file, and what their handlers share.
#pragma once

#include <memory>

#include "quern/client.h"
#include "server/event_hub.h"
#include "server/lease_broker.h"
#include "server/router.h"
#include "server/server_log.h"
#include "server/server_metrics.h"

namespace quern::server {

struct RouteContext {
  std::shared_ptr<Client> client;
  LeaseBroker& broker;
  EventHub& events;
  ServerMetrics& metrics;
  ServerLog& log;
  size_t max_body_bytes;   // request bodies; payloads are limited by the client
  Duration default_lease;  // remote leases that give none
  Duration max_lease_wait;  // long-polls wait at most this long
};

// POST/GET /api/v1/jobs, one job's reads and admin (retry, cancel, priority, delete),
// retry-failed and clear.
void add_job_routes(Router& router, RouteContext& context);
// Remote workers: leases, heartbeat, complete, fail.
void add_worker_routes(Router& router, RouteContext& context);
// Stats, queues (and pause/resume), settings, throughput.
void add_admin_routes(Router& router, RouteContext& context);
// Cron entries: list, add or replace, read, delete.
void add_cron_routes(Router& router, RouteContext& context);
// /healthz, /metrics and the event stream.
void add_service_routes(Router& router, RouteContext& context);

// The body of a request as JSON (an empty body is {}).
Json body_json(const ApiRequest& request, const RouteContext& context);
// The {id} path parameter.
JobId path_job_id(const ApiRequest& request);

}  // namespace quern::server
