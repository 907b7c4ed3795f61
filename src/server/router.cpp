#include "server/router.h"

namespace quern::server {
namespace {

// "/api/v1/jobs/7" → {"api", "v1", "jobs", "7"}; "/" → {}.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  size_t start = 0;
  while (start < path.size()) {
    if (path[start] == '/') {
      ++start;
      continue;
    }
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    segments.push_back(path.substr(start, end - start));
    start = end;
  }
  return segments;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "%2F" → "/" (paths with a '%' not followed by two hex digits are refused before).
std::string percent_decoded(std::string_view segment) {
  std::string out;
  out.reserve(segment.size());
  for (size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] == '%' && i + 2 < segment.size()) {
      const int high = hex_value(segment[i + 1]);
      const int low = hex_value(segment[i + 2]);
      if (high >= 0 && low >= 0) {
        out += static_cast<char>(high * 16 + low);
        i += 2;
        continue;
      }
    }
    out += segment[i];
  }
  return out;
}

bool is_parameter(std::string_view segment) { return segment.size() > 2 && segment.front() == '{' && segment.back() == '}'; }

}  // namespace

bool has_valid_percent_encoding(std::string_view path) {
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '%') continue;
    if (i + 2 >= path.size() || hex_value(path[i + 1]) < 0 || hex_value(path[i + 2]) < 0) return false;
    i += 2;
  }
  return true;
}

std::optional<std::string> ApiRequest::query(const std::string& name) const {
  if (!http.has_param(name)) return std::nullopt;
  return http.get_param_value(name);
}

std::vector<std::string> ApiRequest::query_all(const std::string& name) const {
  std::vector<std::string> values;
  const size_t count = http.get_param_value_count(name);
  for (size_t i = 0; i < count; ++i) values.push_back(http.get_param_value(name, i));
  return values;
}

void Router::add(std::string method, std::string pattern, RouteHandler handler, RouteAccess access) {
  Route route;
  route.method = std::move(method);
  for (std::string_view segment : split_path(pattern)) route.segments.emplace_back(segment);
  route.pattern = std::move(pattern);
  route.access = access;
  route.handler = std::move(handler);
  routes_.push_back(std::move(route));
}

const Route* Router::match(std::string_view method, std::string_view raw_path, std::vector<std::string>& params) const {
  if (method == "HEAD") method = "GET";
  std::vector<std::string> segments;
  for (std::string_view raw : split_path(raw_path)) segments.push_back(percent_decoded(raw));
  // A trailing slash names another resource ("/api/v1/jobs/" is not the list), except "/".
  if (raw_path.size() > 1 && raw_path.back() == '/') return nullptr;
  const Route* best = nullptr;
  int best_literals = -1;
  for (const Route& route : routes_) {
    if (route.method != method || route.segments.size() != segments.size()) continue;
    int literals = 0;
    bool matches = true;
    for (size_t i = 0; i < segments.size() && matches; ++i) {
      if (is_parameter(route.segments[i])) {
        matches = !segments[i].empty();
      } else {
        matches = route.segments[i] == segments[i];
        ++literals;
      }
    }
    if (matches && literals > best_literals) {
      best = &route;
      best_literals = literals;
    }
  }
  if (best) {
    params.clear();
    for (size_t i = 0; i < segments.size(); ++i) {
      if (is_parameter(best->segments[i])) params.emplace_back(segments[i]);
    }
  }
  return best;
}

}  // namespace quern::server
