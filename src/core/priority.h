// Priorities: any integer (larger runs first) or a named level.
#pragma once

#include <string_view>

namespace quern {

// "low"=0, "normal"=10, "high"=20, "critical"=30 (in any letter case), or a decimal
// integer with an optional sign in [-1000000, 1000000]. Throws Error(kInvalidArgument)
// otherwise (empty, "1.5", "10abc", spaces, out of range).
int parse_priority(std::string_view text);

}  // namespace quern
