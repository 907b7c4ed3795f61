#include "core/host_identity.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <vector>

#include "quern/error.h"

namespace quern {

namespace {

constexpr std::string_view kUnreadable = "-";

// What names this machine, its boot and the pid namespace of this process: the same for
// every process of this host that can see the same pids.
struct HostIdentity {
  std::string hostname;
  std::string machine_id;
  std::string boot_id;
  std::string pid_namespace;
};

struct ProcessStat {
  char state = '?';
  uint64_t start_ticks = 0;
};

// A field of the owner string: never empty and never containing the '/' separator.
std::string owner_field(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.empty()) return std::string(kUnreadable);
  for (char& c : text) {
    if (c == '/') c = '_';
  }
  return text;
}

std::string first_line_of(const char* path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return "";
  return line;
}

std::string read_hostname() {
  char buffer[HOST_NAME_MAX + 1] = {};
  if (gethostname(buffer, sizeof buffer - 1) != 0) return "";
  return buffer;
}

std::string read_machine_id() {
  std::string id = first_line_of("/etc/machine-id");
  if (id.empty()) id = first_line_of("/var/lib/dbus/machine-id");
  return id;
}

// The pid namespace's inode number, from the "pid:[4026531836]" link.
std::string read_pid_namespace() {
  struct stat st {};
  if (stat("/proc/self/ns/pid", &st) != 0) return "";
  return std::to_string(st.st_ino);
}

const HostIdentity& this_host() {
  static const HostIdentity host{
      owner_field(read_hostname()),
      owner_field(read_machine_id()),
      owner_field(first_line_of("/proc/sys/kernel/random/boot_id")),
      owner_field(read_pid_namespace()),
  };
  return host;
}

// The whole of a small file, or nullopt with errno set.
std::optional<std::string> read_small_file(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text;
  char buffer[1024];
  while (true) {
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int saved = errno;
      close(fd);
      errno = saved;
      return std::nullopt;
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return text;
}

// Parses /proc/PID/stat: "pid (comm) state ppid … starttime …". The command name may hold
// spaces and parentheses, so the fields are counted from the last ')'. Returns nullopt
// with errno set if the file cannot be read (ENOENT: no such process) or parsed (EINVAL).
std::optional<ProcessStat> read_process_stat(int pid) {
  std::optional<std::string> text = read_small_file("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return std::nullopt;
  const size_t comm_end = text->rfind(')');
  if (comm_end == std::string::npos) {
    errno = EINVAL;
    return std::nullopt;
  }
  std::istringstream fields(text->substr(comm_end + 1));
  ProcessStat stat;
  fields >> stat.state;
  // Fields 4 to 21 lie between the state (3) and the start time (22).
  std::string skipped;
  for (int field = 4; field <= 21; ++field) fields >> skipped;
  fields >> stat.start_ticks;
  if (!fields) {
    errno = EINVAL;
    return std::nullopt;
  }
  return stat;
}

std::string owner_string(const HostIdentity& host, int pid, uint64_t start_ticks) {
  return host.hostname + "/" + host.machine_id + "/" + host.boot_id + "/" + host.pid_namespace + "/" +
         std::to_string(pid) + "/" + std::to_string(start_ticks);
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

// A decimal number of at most 19 digits (so it fits an int64), without sign or spaces.
std::optional<uint64_t> parse_unsigned(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

}  // namespace

std::string process_owner(int pid) {
  std::optional<ProcessStat> stat = pid > 0 ? read_process_stat(pid) : std::nullopt;
  if (!stat) throw Error::not_found("no process with pid " + std::to_string(pid));
  return owner_string(this_host(), pid, stat->start_ticks);
}

std::string this_process_owner() {
  // Cached per pid, so that a child forked after the first call does not claim to be
  // its parent.
  static std::mutex mutex;
  static int cached_pid = 0;
  static std::string cached_owner;
  std::lock_guard lock(mutex);
  const int pid = static_cast<int>(getpid());
  if (pid != cached_pid) {
    std::optional<ProcessStat> stat = read_process_stat(pid);
    cached_owner = owner_string(this_host(), pid, stat ? stat->start_ticks : 0);
    cached_pid = pid;
  }
  return cached_owner;
}

OwnerStatus owner_status(std::string_view owner) {
  const std::vector<std::string_view> fields = split(owner, '/');
  if (fields.size() != 6) return OwnerStatus::kUnknown;
  const std::optional<uint64_t> pid = parse_unsigned(fields[4]);
  const std::optional<uint64_t> start_ticks = parse_unsigned(fields[5]);
  if (!pid || *pid == 0 || *pid > INT_MAX || !start_ticks) return OwnerStatus::kUnknown;

  const HostIdentity& host = this_host();
  if (fields[0] != host.hostname || fields[1] != host.machine_id) return OwnerStatus::kUnknown;
  if (fields[2] == kUnreadable || host.boot_id == kUnreadable) return OwnerStatus::kUnknown;
  if (fields[2] != host.boot_id) return OwnerStatus::kDead;  // every process of that boot is gone
  if (fields[3] == kUnreadable || fields[3] != host.pid_namespace) return OwnerStatus::kUnknown;

  // EPERM means the process exists but belongs to another user; /proc still tells more,
  // unless it is mounted with hidepid, which hides such processes (ENOENT below).
  const bool signalable = kill(static_cast<pid_t>(*pid), 0) == 0;
  if (!signalable && errno == ESRCH) return OwnerStatus::kDead;
  std::optional<ProcessStat> stat = read_process_stat(static_cast<int>(*pid));
  if (!stat) return signalable && errno == ENOENT ? OwnerStatus::kDead : OwnerStatus::kUnknown;
  if (stat->state == 'Z' || stat->state == 'X') return OwnerStatus::kDead;
  if (stat->start_ticks != *start_ticks) return OwnerStatus::kDead;  // the pid was reused
  if (stat->state == 'T' || stat->state == 't') return OwnerStatus::kStopped;
  return OwnerStatus::kAlive;
}

}  // namespace quern
