// Rules for queue holds that every backend applies the same way.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace quern {

// Throws kInvalidArgument for an empty name or a queue held while itself has work.
void check_queue_hold(const std::string& queue, const std::optional<std::string>& held_while);

// Throws kInvalidArgument if holding `queue` while `held_while` would close a loop
// (`held_while` held, through the holds of others, while `queue` has work: no queue of
// the loop would ever run). `hold_of` reads a queue's current hold, in the caller's
// transaction.
void check_no_hold_loop(const std::string& queue, const std::string& held_while,
                        const std::function<std::optional<std::string>(const std::string&)>& hold_of);

}  // namespace quern
