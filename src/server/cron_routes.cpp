// Routes for cron entries: list, add or replace, read, delete.
#include "core/cron_entry.h"
#include "quern/error.h"
#include "server/http_response.h"
#include "server/job_request.h"
#include "server/request_fields.h"
#include "server/routes.h"

namespace quern::server {
namespace {

// POST /api/v1/cron: {"schedule", "name"?, "expires_in"?} and the fields of a job
// (POST /api/v1/jobs) except those that place it in time or after other jobs.
CronEntry parse_cron_request(const Json& body, Time now) {
  if (!body.is_object()) throw Error::invalid_argument("a cron entry must be a JSON object");
  for (const char* field : {"delay", "run_at", "expires_at", "depends_on", "on_dependency_failure"}) {
    if (find_member(body, field)) {
      throw Error::invalid_argument(std::string(field) + " cannot be used in a cron entry: its jobs run when its schedule fires");
    }
  }
  CronEntry entry;
  const auto schedule = string_member(body, "schedule");
  if (!schedule) throw Error::invalid_argument("a cron entry needs a schedule");
  entry.schedule = *schedule;
  entry.name = string_member(body, "name").value_or("");
  entry.expires_in = duration_member(body, "expires_in");
  Json job = body;
  for (const char* field : {"schedule", "name", "expires_in"}) job.erase(field);
  entry.job = parse_new_job(job, now);
  return entry;
}

CronEntry find_cron_entry(Client& client, const std::string& name) {
  for (auto& entry : client.cron_entries()) {
    if (entry.name == name) return entry;
  }
  throw Error::not_found("no cron entry named '" + name + "'");
}

}  // namespace

void add_cron_routes(Router& router, RouteContext& context) {
  RouteContext* c = &context;
  router.add("GET", "/api/v1/cron", [c](ApiRequest&, httplib::Response& res) {
    Json entries = Json::array();
    for (const auto& entry : c->client->cron_entries()) entries.push_back(cron_entry_to_json(entry));
    send_json(res, 200, {{"cron", std::move(entries)}});
  });
  router.add("POST", "/api/v1/cron", [c](ApiRequest& request, httplib::Response& res) {
    const CronEntry entry = parse_cron_request(body_json(request, *c), c->client->clock().now());
    send_json(res, 201, cron_entry_to_json(c->client->put_cron(entry)));
  });
  router.add("GET", "/api/v1/cron/{name}", [c](ApiRequest& request, httplib::Response& res) {
    send_json(res, 200, cron_entry_to_json(find_cron_entry(*c->client, request.params.at(0))));
  });
  router.add("DELETE", "/api/v1/cron/{name}", [c](ApiRequest& request, httplib::Response& res) {
    c->client->remove_cron({request.params.at(0)});
    res.status = 204;
  });
}

}  // namespace quern::server
