// Reading the fields of a request: JSON body members and query parameters, each
// checked for its type and range, with the one-line error (kInvalidArgument, HTTP 400)
// a client sees when one is wrong. A member that is null counts as absent.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "quern/clock.h"
#include "quern/job.h"

namespace quern::server {

// Parses a request body as JSON (depth and size limited like payloads); an empty body
// is an empty object. Throws kInvalidArgument for malformed JSON, kTooLarge past
// `max_bytes`.
Json parse_body(std::string_view body, size_t max_bytes);

// Throws unless `body` is a JSON object whose members are all in `allowed`.
void require_object_with(const Json& body, std::initializer_list<std::string_view> allowed, std::string_view what);

// The member, or nullptr if it is missing or null.
const Json* find_member(const Json& object, std::string_view name);

std::optional<std::string> string_member(const Json& object, std::string_view name);
std::optional<bool> bool_member(const Json& object, std::string_view name);
// An integer in [minimum, maximum] (a number with no fraction).
std::optional<int64_t> integer_member(const Json& object, std::string_view name, int64_t minimum, int64_t maximum);
// A finite number.
std::optional<double> number_member(const Json& object, std::string_view name);
// A list of strings; a single string is a list of one.
std::optional<std::vector<std::string>> string_list_member(const Json& object, std::string_view name);
// A duration: a string like "500ms", "30s", "1h30m", or a number of seconds (may have
// a fraction), never negative.
std::optional<Duration> duration_member(const Json& object, std::string_view name);
// An RFC 3339 time.
std::optional<Time> time_member(const Json& object, std::string_view name);
// A priority: an integer or a level name (low, normal, high, critical).
std::optional<int> priority_member(const Json& object, std::string_view name);

// The same value checks for text: a duration (as above) and a priority.
Duration parse_duration_text(std::string_view text, std::string_view name);
int parse_priority_value(const Json& value, std::string_view name);

// A job id in a path or cursor: a positive decimal integer.
JobId parse_job_id_text(std::string_view text, std::string_view what);
// A decimal integer in [minimum, maximum] from a query parameter.
int64_t parse_integer_text(std::string_view text, int64_t minimum, int64_t maximum, std::string_view name);

}  // namespace quern::server
