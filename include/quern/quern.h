// Everything a Quern user includes: Client (enqueue, inspect, manage) and WorkerPool
// (run handlers), with the job model, Clock and Error they use.
#pragma once

#include "quern/client.h"
#include "quern/clock.h"
#include "quern/error.h"
#include "quern/job.h"
#include "quern/worker_pool.h"
