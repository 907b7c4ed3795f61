#include "cli/job_id_arguments.h"

#include <charconv>
#include <climits>
#include <string>
#include <unordered_set>

#include "quern/error.h"

namespace quern::cli {
namespace {

template <typename Int>
bool parse_decimal(std::string_view text, Int& value) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return ec == std::errc() && ptr == end;
}

}  // namespace

JobId parse_job_id(std::string_view text) {
  JobId id = 0;
  if (!parse_decimal(text, id) || id < 1) {
    throw Error::invalid_argument("invalid job id '" + std::string(text) + "': expected a positive integer");
  }
  return id;
}

std::vector<JobId> parse_job_ids(const std::vector<std::string>& texts) {
  std::vector<JobId> ids;
  ids.reserve(texts.size());
  std::unordered_set<JobId> seen;  // `quern rm $(seq 100000)` must not be quadratic
  for (const auto& text : texts) {
    const JobId id = parse_job_id(text);
    if (seen.insert(id).second) ids.push_back(id);
  }
  return ids;
}

int parse_int_at_least(std::string_view text, int minimum, std::string_view what) {
  int value = 0;
  const bool parsed = parse_decimal(text, value);
  if (!parsed || value < minimum) {
    // Only digits, yet not parsed: a number too large, and the message says so.
    const bool too_large =
        !parsed && !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
    const std::string range = too_large ? " and at most " + std::to_string(INT_MAX) : "";
    throw Error::invalid_argument(std::string(what) + " must be an integer of at least " + std::to_string(minimum) + range +
                                  ", not '" + std::string(text) + "'");
  }
  return value;
}

}  // namespace quern::cli
