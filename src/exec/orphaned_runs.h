// Stopping what is left of a run whose worker is gone.
//
// A shell job runs in its own process group, so a worker killed with -9 cannot take
// its children down with it: they keep running while the job is rescued and run again
// elsewhere — the same work twice, at once. Every process of a run (the command and
// whatever it starts) inherits QUERN_TMPDIR, the run's private temp dir, unique per
// database, job and attempt; so the rescuer finds them by that value in
// /proc/PID/environ and kills their process groups. Only processes of this user and
// host can be found; a run on another host is out of reach (its lease fences it).
#pragma once

#include <filesystem>

namespace quern {

// SIGKILLs every process (and its process group) whose environment has
// QUERN_TMPDIR=`run_temp_dir`, except this process and its group. Returns how many
// processes were found.
int kill_processes_of_run(const std::filesystem::path& run_temp_dir);

}  // namespace quern
