#include "server/server_metrics.h"

#include <algorithm>
#include <sstream>

#include "quern/error.h"

namespace quern::server {
namespace {

// A label value in the exposition format: backslash, double quote and newline escaped.
std::string metric_label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// A float as Prometheus reads it, without binary noise ("0.1", not "0.10000000000000001").
std::string metric_number(double value) {
  std::ostringstream out;
  out.precision(15);
  out << value;
  return out.str();
}

}  // namespace

void ServerMetrics::count_request(std::string_view route, int status) {
  std::lock_guard lock(mutex_);
  ++requests_[{std::string(route), status}];
}

void ServerMetrics::observe_claim_latency(Duration latency) {
  const double seconds = std::max(0.0, std::chrono::duration<double>(latency).count());
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    if (seconds <= kLatencyBuckets[i]) {
      ++latency_counts_[i];
      break;
    }
  }
  ++latency_count_;
  latency_sum_ += seconds;
}

void ServerMetrics::count_if_store_error(const Error& error) {
  switch (error.code()) {
    case ErrorCode::kUnavailable:
    case ErrorCode::kDataLoss:
    case ErrorCode::kResourceExhausted:
      count_store_error();
      break;
    default:
      break;
  }
}

std::string ServerMetrics::render(const Stats& stats, size_t waiting_leases, size_t event_listeners) const {
  std::ostringstream out;
  out << "# HELP quern_jobs Jobs in the store by queue and state (the store's kept counts).\n"
      << "# TYPE quern_jobs gauge\n";
  for (const auto& queue : stats.queues) {
    for (size_t i = 0; i < std::size(kAllStates); ++i) {
      out << "quern_jobs{queue=\"" << metric_label(queue.queue) << "\",state=\"" << state_name(kAllStates[i]) << "\"} "
          << queue.by_state[i] << '\n';
    }
  }
  out << "# HELP quern_jobs_enqueued_total Jobs enqueued through this server's HTTP API since it started.\n"
      << "# TYPE quern_jobs_enqueued_total counter\n"
      << "quern_jobs_enqueued_total " << enqueued_.load() << '\n'
      << "# HELP quern_jobs_completed_total Runs completed by this server's worker pool or its remote workers since "
         "it started.\n"
      << "# TYPE quern_jobs_completed_total counter\n"
      << "quern_jobs_completed_total " << completed_.load() << '\n'
      << "# HELP quern_jobs_failed_total Runs that failed (retried or not) in this server's worker pool or its remote "
         "workers since it started.\n"
      << "# TYPE quern_jobs_failed_total counter\n"
      << "quern_jobs_failed_total " << failed_.load() << '\n'
      << "# HELP quern_leases_rescued_total Running jobs this server's maintenance rescued (lease expired or owner "
         "dead) since it started.\n"
      << "# TYPE quern_leases_rescued_total counter\n"
      << "quern_leases_rescued_total " << rescued_.load() << '\n'
      << "# HELP quern_store_errors_total Store errors (unavailable, busy, corrupt, full) this server met since it "
         "started.\n"
      << "# TYPE quern_store_errors_total counter\n"
      << "quern_store_errors_total " << store_errors_.load() << '\n'
      << "# HELP quern_leases_waiting Remote workers' lease requests waiting (long-polling) now.\n"
      << "# TYPE quern_leases_waiting gauge\n"
      << "quern_leases_waiting " << waiting_leases << '\n'
      << "# HELP quern_event_listeners Event streams open now.\n"
      << "# TYPE quern_event_listeners gauge\n"
      << "quern_event_listeners " << event_listeners << '\n'
      << "# HELP quern_maintenance_leader 1 while this server runs the database's maintenance (rescue, promotion, "
         "expiry) as its one leader.\n"
      << "# TYPE quern_maintenance_leader gauge\n"
      << "quern_maintenance_leader " << (maintenance_leader_.load() ? 1 : 0) << '\n';

  std::lock_guard lock(mutex_);
  out << "# HELP quern_lease_claim_latency_seconds From a job being due to its start, for jobs leased by this "
         "server (its worker pool and remote workers).\n"
      << "# TYPE quern_lease_claim_latency_seconds histogram\n";
  int64_t cumulative = 0;
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    cumulative += latency_counts_[i];
    out << "quern_lease_claim_latency_seconds_bucket{le=\"" << metric_number(kLatencyBuckets[i]) << "\"} " << cumulative
        << '\n';
  }
  out << "quern_lease_claim_latency_seconds_bucket{le=\"+Inf\"} " << latency_count_ << '\n'
      << "quern_lease_claim_latency_seconds_sum " << metric_number(latency_sum_) << '\n'
      << "quern_lease_claim_latency_seconds_count " << latency_count_ << '\n';
  out << "# HELP quern_http_requests_total HTTP requests this server answered, by route and status code.\n"
      << "# TYPE quern_http_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    out << "quern_http_requests_total{route=\"" << metric_label(key.first) << "\",code=\"" << key.second << "\"} "
        << count << '\n';
  }
  return out.str();
}

}  // namespace quern::server
