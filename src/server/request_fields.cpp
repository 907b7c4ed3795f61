#include "server/request_fields.h"

#include <cmath>
#include <limits>

#include "core/duration.h"
#include "core/payload.h"
#include "core/printable_text.h"
#include "core/priority.h"
#include "core/time_format.h"
#include "quern/error.h"

namespace quern::server {
namespace {

[[noreturn]] void throw_bad_member(std::string_view name, std::string_view expected) {
  throw Error::invalid_argument(std::string(name) + " must be " + std::string(expected));
}

std::string_view json_type_name(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::string: return "a string";
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    case Json::value_t::discarded: return "nothing";
    default: return "a number";
  }
}

}  // namespace

Json parse_body(std::string_view body, size_t max_bytes) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return Json::object();
  try {
    return parse_payload(body, max_bytes);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kTooLarge) throw Error::too_large("request body is larger than " + std::to_string(max_bytes) + " bytes");
    // "invalid payload: <why>" → "request body is not valid JSON: <why>"
    std::string why = e.what();
    if (why.rfind("invalid payload: ", 0) == 0) why.erase(0, 17);
    throw Error::invalid_argument("request body is not valid JSON: " + why);
  }
}

void require_object_with(const Json& body, std::initializer_list<std::string_view> allowed, std::string_view what) {
  if (!body.is_object()) throw Error::invalid_argument(std::string(what) + " must be a JSON object, not " + std::string(json_type_name(body)));
  for (const auto& [key, value] : body.items()) {
    bool known = false;
    for (std::string_view name : allowed) known |= key == name;
    if (!known) throw Error::invalid_argument("unknown field " + quote_for_message(key) + " in " + std::string(what));
  }
}

const Json* find_member(const Json& object, std::string_view name) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<std::string> string_member(const Json& object, std::string_view name) {
  const Json* value = find_member(object, name);
  if (!value) return std::nullopt;
  if (!value->is_string()) throw_bad_member(name, "a string");
  return value->get<std::string>();
}

std::optional<bool> bool_member(const Json& object, std::string_view name) {
  const Json* value = find_member(object, name);
  if (!value) return std::nullopt;
  if (!value->is_boolean()) throw_bad_member(name, "true or false");
  return value->get<bool>();
}

std::optional<int64_t> integer_member(const Json& object, std::string_view name, int64_t minimum, int64_t maximum) {
  const Json* value = find_member(object, name);
  if (!value) return std::nullopt;
  const std::string range = "an integer from " + std::to_string(minimum) + " to " + std::to_string(maximum);
  int64_t n = 0;
  if (value->is_number_integer()) {
    if (value->is_number_unsigned() && value->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      throw_bad_member(name, range);
    }
    n = value->get<int64_t>();
  } else if (value->is_number_float()) {
    const double d = value->get<double>();
    if (!std::isfinite(d) || d != std::floor(d) || d < -9.0e18 || d > 9.0e18) throw_bad_member(name, range);
    n = static_cast<int64_t>(d);
  } else {
    throw_bad_member(name, range);
  }
  if (n < minimum || n > maximum) throw_bad_member(name, range);
  return n;
}

std::optional<double> number_member(const Json& object, std::string_view name) {
  const Json* value = find_member(object, name);
  if (!value) return std::nullopt;
  if (!value->is_number()) throw_bad_member(name, "a number");
  const double d = value->get<double>();
  if (!std::isfinite(d)) throw_bad_member(name, "a finite number");
  return d;
}

std::optional<std::vector<std::string>> string_list_member(const Json& object, std::string_view name) {
  const Json* value = find_member(object, name);
  if (!value) return std::nullopt;
  if (!value->is_array()) throw_bad_member(name, "a list of strings");
  std::vector<std::string> list;
  for (const Json& item : *value) {
    if (!item.is_string()) throw_bad_member(name, "a list of strings");
    list.push_back(item.get<std::string>());
  }
  return list;
}

Duration parse_duration_text(std::string_view text, std::string_view name) {
  try {
    return parse_duration_or_seconds(text);
  } catch (const Error& e) {
    throw Error::invalid_argument(std::string(name) + ": " + e.what());
  }
}

std::optional<Duration> duration_member(const Json& object, std::string_view name) {
  const Json* value = find_member(object, name);
  if (!value) return std::nullopt;
  if (value->is_string()) return parse_duration_text(value->get<std::string>(), name);
  if (!value->is_number()) throw_bad_member(name, "a duration such as \"30s\" or a number of seconds");
  const double seconds = value->get<double>();
  // 100 years, as for durations typed as text.
  constexpr double kLongestSeconds = 100.0 * 366 * 24 * 3600;
  if (!std::isfinite(seconds) || seconds < 0 || seconds > kLongestSeconds) {
    throw_bad_member(name, "a number of seconds from 0 to 100 years");
  }
  return Duration(static_cast<int64_t>(seconds * 1e6));
}

std::optional<Time> time_member(const Json& object, std::string_view name) {
  auto text = string_member(object, name);
  if (!text) return std::nullopt;
  try {
    return parse_rfc3339(*text);
  } catch (const Error& e) {
    throw Error::invalid_argument(std::string(name) + ": " + e.what());
  }
}

int parse_priority_value(const Json& value, std::string_view name) {
  try {
    if (value.is_string()) return parse_priority(value.get<std::string>());
    if (value.is_number_integer() && !(value.is_number_unsigned() && value.get<uint64_t>() > 1'000'000'000)) {
      return parse_priority(std::to_string(value.get<int64_t>()));
    }
  } catch (const Error& e) {
    throw Error::invalid_argument(std::string(name) + ": " + e.what());
  }
  throw_bad_member(name, "an integer or one of low, normal, high, critical");
}

std::optional<int> priority_member(const Json& object, std::string_view name) {
  const Json* value = find_member(object, name);
  if (!value) return std::nullopt;
  return parse_priority_value(*value, name);
}

int64_t parse_integer_text(std::string_view text, int64_t minimum, int64_t maximum, std::string_view name) {
  const std::string range = std::string(name) + " must be an integer from " + std::to_string(minimum) + " to " + std::to_string(maximum);
  bool negative = !text.empty() && text.front() == '-';
  std::string_view digits = negative ? text.substr(1) : text;
  if (digits.empty() || digits.size() > 18) throw Error::invalid_argument(range + ", not " + quote_for_message(text));
  int64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') throw Error::invalid_argument(range + ", not " + quote_for_message(text));
    n = n * 10 + (c - '0');
  }
  if (negative) n = -n;
  if (n < minimum || n > maximum) throw Error::invalid_argument(range + ", not " + quote_for_message(text));
  return n;
}

JobId parse_job_id_text(std::string_view text, std::string_view what) {
  bool valid = !text.empty() && text.size() <= 18;
  JobId id = 0;
  for (char c : text) {
    if (c < '0' || c > '9') valid = false;
    if (valid) id = id * 10 + (c - '0');
  }
  if (!valid || id < 1) {
    throw Error::invalid_argument(std::string(what) + " must be a positive integer, not " + quote_for_message(text));
  }
  return id;
}

}  // namespace quern::server
