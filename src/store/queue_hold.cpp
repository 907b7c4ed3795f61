#include "store/queue_hold.h"

#include "quern/error.h"

namespace quern {

void check_queue_hold(const std::string& queue, const std::optional<std::string>& held_while) {
  if (queue.empty() || (held_while && held_while->empty())) {
    throw Error::invalid_argument("queue name must not be empty");
  }
  if (held_while && *held_while == queue) {
    throw Error::invalid_argument("queue " + queue + " cannot be held while it has work itself");
  }
}

void check_no_hold_loop(const std::string& queue, const std::string& held_while,
                        const std::function<std::optional<std::string>(const std::string&)>& hold_of) {
  std::optional<std::string> at = held_while;
  // Each queue's hold is one name, so a walk longer than the queues there are is a
  // loop already (one this check would have refused); stop there.
  for (int step = 0; at && step < 100'000; ++step) {
    at = hold_of(*at);
    if (at == queue) {
      throw Error::invalid_argument("queue " + queue + " cannot be held while " + held_while + " has work: " +
                                    held_while + " is held, through the holds of other queues, while " + queue +
                                    " has work, so neither would run");
    }
  }
}

}  // namespace quern
