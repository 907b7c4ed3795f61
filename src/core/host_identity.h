// Lease owners name a process so that a dead one is never taken for a live one:
// "<hostname>/<machine-id>/<boot-id>/<pid-namespace>/<pid>/<process start time in clock
// ticks since boot>". A field that cannot be read is "-"; a '/' in the hostname is "_".
// The pid namespace is there because a pid only names a process inside its namespace:
// two containers on one machine may share a database file, a hostname and a boot id.
#pragma once

#include <string>
#include <string_view>

namespace quern {

// This process's owner string (computed once per process; a forked child gets its own).
std::string this_process_owner();

// The owner string of another process of this host (tests, diagnostics). Throws
// Error(kNotFound) if there is no such process.
std::string process_owner(int pid);

enum class OwnerStatus {
  kAlive,    // same host and boot, the pid runs and started at the recorded time
  kStopped,  // the same, but stopped (SIGSTOP): it can act on nothing until continued
  kDead,     // same host: rebooted since, or the pid is gone, reused or a zombie
  kUnknown,  // another host or pid namespace, or not an owner string: only the lease can tell
};

// Never throws. Same host means the same hostname and machine id.
OwnerStatus owner_status(std::string_view owner);

}  // namespace quern
