#include "exec/orphaned_runs.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <string>
#include <system_error>

#include "exec/proc_file.h"

namespace fs = std::filesystem;

namespace quern {
namespace {

bool environment_has(pid_t pid, const std::string& entry) {
  const auto read = read_proc_file("/proc/" + std::to_string(pid) + "/environ");
  if (!read) return false;  // gone, or another user's
  const std::string& environ = *read;
  size_t start = 0;
  while (start < environ.size()) {
    size_t end = environ.find('\0', start);
    if (end == std::string::npos) end = environ.size();
    if (environ.compare(start, end - start, entry) == 0) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

int kill_processes_of_run(const fs::path& run_temp_dir) {
  const std::string entry = "QUERN_TMPDIR=" + run_temp_dir.string();
  const pid_t self = getpid();
  const pid_t own_group = getpgrp();
  std::set<pid_t> pids;
  std::error_code ec;
  for (const auto& proc : fs::directory_iterator("/proc", ec)) {
    const std::string name = proc.path().filename().string();
    char* end = nullptr;
    const long pid = std::strtol(name.c_str(), &end, 10);
    if (end == name.c_str() || *end != '\0' || pid <= 0 || pid == self) continue;
    if (environment_has(static_cast<pid_t>(pid), entry)) pids.insert(static_cast<pid_t>(pid));
  }
  for (pid_t pid : pids) {
    const pid_t group = getpgid(pid);
    if (group > 0 && group != own_group) ::kill(-group, SIGKILL);
    ::kill(pid, SIGKILL);
  }
  return static_cast<int>(pids.size());
}

}  // namespace quern
