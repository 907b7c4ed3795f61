// How long a failed job waits before its next attempt.
#pragma once

#include "quern/clock.h"

namespace quern {

// Exponential backoff with jitter after the `failures`-th failure (1-based):
// 1s, 2s, 4s, … capped at 1h, each scaled by a random factor in [0.75, 1.25].
// `unit_random` is a number in [0,1) (injected so tests are deterministic; clamped to
// [0,1]). A `failures` below 1 counts as 1. NaN unit_random is treated as 0.
Duration retry_backoff(int failures, double unit_random);

// retry_backoff with a thread-local random source.
Duration retry_backoff(int failures);

}  // namespace quern
