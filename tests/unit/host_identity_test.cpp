#include "core/host_identity.h"

#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <string>
#include <vector>

#include "quern/error.h"

namespace quern {
namespace {

constexpr size_t kHostname = 0, kMachineId = 1, kBootId = 2, kPidNamespace = 3, kPid = 4, kStartTime = 5;

std::vector<std::string> fields_of(const std::string& owner) {
  std::vector<std::string> fields;
  size_t start = 0;
  while (true) {
    size_t end = owner.find('/', start);
    fields.push_back(owner.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return fields;
    start = end + 1;
  }
}

std::string with_field(const std::string& owner, size_t index, const std::string& value) {
  std::vector<std::string> fields = fields_of(owner);
  fields.at(index) = value;
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) out += (i ? "/" : "") + fields[i];
  return out;
}

// A child process that lives until the returned pipe end is closed.
struct BlockedChild {
  pid_t pid = -1;
  int release_fd = -1;  // closing it lets the child exit

  static BlockedChild start() {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      close(fds[1]);
      char byte;
      while (read(fds[0], &byte, 1) > 0) {
      }
      _exit(0);
    }
    close(fds[0]);
    return {pid, fds[1]};
  }

  void release() {
    if (release_fd >= 0) close(release_fd);
    release_fd = -1;
  }

  // Blocks until the child has exited, leaving it a zombie (not reaped).
  void wait_until_zombie() {
    release();
    siginfo_t info{};
    ASSERT_EQ(waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT), 0);
  }

  void reap() {
    release();
    if (pid > 0) waitpid(pid, nullptr, 0);
    pid = -1;
  }
};

TEST(HostIdentity, OwnerNamesHostBootNamespacePidAndStartTime) {
  std::vector<std::string> fields = fields_of(this_process_owner());
  ASSERT_EQ(fields.size(), 6u);
  for (const auto& field : fields) EXPECT_FALSE(field.empty());
  EXPECT_EQ(fields[kPid], std::to_string(getpid()));
  EXPECT_NE(fields[kStartTime], "0");
  EXPECT_EQ(this_process_owner(), process_owner(getpid()));
}

TEST(HostIdentity, ThisProcessIsAlive) { EXPECT_EQ(owner_status(this_process_owner()), OwnerStatus::kAlive); }

TEST(HostIdentity, RunningChildIsAlive) {
  BlockedChild child = BlockedChild::start();
  EXPECT_EQ(owner_status(process_owner(child.pid)), OwnerStatus::kAlive);
  child.reap();
}

TEST(HostIdentity, StoppedChildIsStoppedUntilContinued) {
  BlockedChild child = BlockedChild::start();
  const std::string owner = process_owner(child.pid);
  ASSERT_EQ(kill(child.pid, SIGSTOP), 0);
  siginfo_t info{};
  ASSERT_EQ(waitid(P_PID, static_cast<id_t>(child.pid), &info, WSTOPPED | WNOWAIT), 0);
  EXPECT_EQ(owner_status(owner), OwnerStatus::kStopped);
  ASSERT_EQ(kill(child.pid, SIGCONT), 0);
  ASSERT_EQ(waitid(P_PID, static_cast<id_t>(child.pid), &info, WCONTINUED), 0);
  EXPECT_EQ(owner_status(owner), OwnerStatus::kAlive);
  child.reap();
}

TEST(HostIdentity, ExitedChildIsDead) {
  BlockedChild child = BlockedChild::start();
  std::string owner = process_owner(child.pid);
  child.reap();
  EXPECT_EQ(owner_status(owner), OwnerStatus::kDead);
}

TEST(HostIdentity, ZombieChildIsDead) {
  BlockedChild child = BlockedChild::start();
  std::string owner = process_owner(child.pid);
  child.wait_until_zombie();
  EXPECT_EQ(owner_status(owner), OwnerStatus::kDead);
  child.reap();
}

TEST(HostIdentity, ReusedPidIsDead) {
  // The pid runs, but it is not the process that started at the recorded time.
  std::string owner = this_process_owner();
  std::string start = fields_of(owner)[kStartTime];
  std::string other_start = std::to_string(std::stoull(start) + 1);
  EXPECT_EQ(owner_status(with_field(owner, kStartTime, other_start)), OwnerStatus::kDead);
}

TEST(HostIdentity, OwnerFromAnEarlierBootIsDead) {
  std::string owner = with_field(this_process_owner(), kBootId, "00000000-0000-0000-0000-000000000000");
  EXPECT_EQ(owner_status(owner), OwnerStatus::kDead);
}

TEST(HostIdentity, OwnerOnAnotherHostIsUnknown) {
  std::string owner = this_process_owner();
  EXPECT_EQ(owner_status(with_field(owner, kMachineId, "ffffffffffffffffffffffffffffffff")), OwnerStatus::kUnknown);
  EXPECT_EQ(owner_status(with_field(owner, kHostname, "elsewhere")), OwnerStatus::kUnknown);
}

TEST(HostIdentity, OwnerInAnotherPidNamespaceIsUnknown) {
  EXPECT_EQ(owner_status(with_field(this_process_owner(), kPidNamespace, "1")), OwnerStatus::kUnknown);
}

TEST(HostIdentity, OwnerWithUnreadableBootIdIsUnknown) {
  EXPECT_EQ(owner_status(with_field(this_process_owner(), kBootId, "-")), OwnerStatus::kUnknown);
}

TEST(HostIdentity, MalformedOwnerIsUnknown) {
  std::string owner = this_process_owner();
  for (const std::string& bad : {std::string(), std::string("garbage"), std::string("a/b/c/d/e"), owner + "/7",
                                 with_field(owner, kPid, "abc"), with_field(owner, kPid, "0"),
                                 with_field(owner, kPid, "-1"), with_field(owner, kPid, ""),
                                 with_field(owner, kPid, "99999999999999999999"),
                                 with_field(owner, kPid, std::to_string(static_cast<long long>(INT_MAX) + 1)),
                                 with_field(owner, kStartTime, "12x"), with_field(owner, kStartTime, "")}) {
    EXPECT_EQ(owner_status(bad), OwnerStatus::kUnknown) << bad;
  }
}

TEST(HostIdentity, NoSuchPidIsDead) {
  // INT_MAX is above any kernel's pid_max, so it never names a process.
  EXPECT_EQ(owner_status(with_field(this_process_owner(), kPid, std::to_string(INT_MAX))), OwnerStatus::kDead);
}

TEST(HostIdentity, ProcessOwnerOfNoProcessIsNotFound) {
  for (int pid : {INT_MAX, 0, -1}) {
    try {
      process_owner(pid);
      ADD_FAILURE() << "found pid " << pid;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    }
  }
}

TEST(HostIdentity, StartTimeIsReadPastACommandNameWithSpacesAndParentheses) {
  int ready[2];
  int release[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(release), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(ready[0]);
    close(release[1]);
    // Send the owner as the child sees it, then take a name that looks like more fields.
    std::string owner = this_process_owner();
    prctl(PR_SET_NAME, "a) R 1 (b) Z 9", 0, 0, 0);
    if (write(ready[1], owner.data(), owner.size()) < 0) _exit(1);
    close(ready[1]);
    char byte;
    while (read(release[0], &byte, 1) > 0) {
    }
    _exit(0);
  }
  close(ready[1]);
  close(release[0]);
  std::string child_owner;
  char buffer[256];
  ssize_t n;
  while ((n = read(ready[0], buffer, sizeof buffer)) > 0) child_owner.append(buffer, static_cast<size_t>(n));
  close(ready[0]);

  EXPECT_EQ(fields_of(child_owner)[kPid], std::to_string(pid));  // not the parent's cached owner
  EXPECT_EQ(process_owner(pid), child_owner);
  EXPECT_EQ(owner_status(child_owner), OwnerStatus::kAlive);
  close(release[1]);
  waitpid(pid, nullptr, 0);
}

}  // namespace
}  // namespace quern
