#include "core/priority.h"

#include <cstdint>
#include <string>

#include "core/printable_text.h"
#include "quern/error.h"
#include "quern/job.h"

namespace quern {

namespace {

// Symmetric, so that a magnitude check covers both ends.
constexpr int kMaxPriority = 1'000'000;
constexpr int kMinPriority = -kMaxPriority;

struct NamedPriority {
  std::string_view name;
  int value;
};

constexpr NamedPriority kNamedPriorities[] = {
    {"low", kPriorityLow}, {"normal", kPriorityNormal}, {"high", kPriorityHigh}, {"critical", kPriorityCritical}};

// ASCII only: "HIGH" and "High" name a level, but no locale decides what a letter is.
bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

int parse_priority(std::string_view text) {
  for (const NamedPriority& level : kNamedPriorities) {
    if (equals_ignoring_case(text, level.name)) return level.value;
  }
  std::string_view digits = text;
  bool negative = false;
  if (!digits.empty() && (digits.front() == '+' || digits.front() == '-')) {
    negative = digits.front() == '-';
    digits.remove_prefix(1);
  }
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos) {
    throw Error::invalid_argument("invalid priority " + quote_for_message(text) +
                                  ": expected low, normal, high, critical or an integer");
  }
  // Saturates just past the limit, so that any number of digits is safe.
  int64_t magnitude = 0;
  for (char c : digits) {
    if (magnitude <= kMaxPriority) magnitude = magnitude * 10 + (c - '0');
  }
  if (magnitude > kMaxPriority) {
    throw Error::invalid_argument("invalid priority " + quote_for_message(text) + ": out of range [" +
                                  std::to_string(kMinPriority) + ", " + std::to_string(kMaxPriority) + "]");
  }
  return static_cast<int>(negative ? -magnitude : magnitude);
}

}  // namespace quern
