// Routes for operators: health, Prometheus metrics, and the event stream.
#include "quern/error.h"
#include "server/http_response.h"
#include "server/request_fields.h"
#include "server/routes.h"

namespace quern::server {

void add_service_routes(Router& router, RouteContext& context) {
  RouteContext* c = &context;
  router.add(
      "GET", "/healthz",
      [c](ApiRequest&, httplib::Response& res) {
        // A read of the kept counts: the database can be opened and read.
        c->client->stats();
        send_json(res, 200, {{"status", "ok"}, {"leader", c->metrics.maintenance_leader()}});
      },
      RouteAccess::kPublic);
  router.add("GET", "/metrics", [c](ApiRequest&, httplib::Response& res) {
    res.status = 200;
    res.set_content(c->metrics.render(c->client->stats(), c->broker.waiting(), c->events.listener_count()),
                    "text/plain; version=0.0.4; charset=utf-8");
  });
  router.add("GET", "/api/v1/events", [c](ApiRequest& request, httplib::Response& res) {
    std::optional<int64_t> last_event_id;
    std::string resume = request.http.get_header_value("Last-Event-ID");
    if (resume.empty()) resume = request.query("last_event_id").value_or("");
    if (!resume.empty()) last_event_id = parse_integer_text(resume, 0, INT64_MAX / 2, "Last-Event-ID");
    c->events.serve(res, last_event_id);
  });
}

}  // namespace quern::server
