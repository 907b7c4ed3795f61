// How the end of a run is written into its job's history, the same in every backend:
// the detail of the run's one move out of `running`. A finisher whose write failed in
// flight (the commit may have landed with its reply lost) reads it back to tell its
// own recorded end from a rescue or a cancel.
#pragma once

#include <string>

#include "quern/job.h"
#include "store/store.h"

namespace quern {

// The history detail a finish records: "completed", the error (or "failed"),
// "snoozed" or "released".
std::string run_end_detail(const JobFinish& finish);

// Whether `entry` is the record of `finish` itself: its run's move out of running, at
// its attempt, with its outcome and detail.
bool records_finish(const HistoryEntry& entry, const JobFinish& finish);

}  // namespace quern
