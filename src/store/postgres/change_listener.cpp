#include "store/postgres/change_listener.h"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <random>

#include "quern/error.h"

namespace quern::postgres {
namespace {

// Reconnects back off from 50 ms to 2 s.
constexpr int kListenerFirstBackoffMs = 50;
constexpr int kListenerMaxBackoffMs = 2000;

std::string random_hex64() {
  std::random_device device;
  const uint64_t value = (static_cast<uint64_t>(device()) << 32) ^ device();
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 0; i < 16; ++i) out[i] = kDigits[(value >> (60 - 4 * i)) & 0xF];
  return out;
}

}  // namespace

const std::string& this_process_notify_payload() {
  static const std::string payload = "pid " + std::to_string(::getpid()) + " " + random_hex64();
  return payload;
}

std::shared_ptr<std::atomic<uint64_t>> local_change_counter(const std::string& database_id) {
  // Leaked on purpose: stores may be destroyed during static destruction.
  static auto* mutex = new std::mutex;
  static auto* counters = new std::map<std::string, std::weak_ptr<std::atomic<uint64_t>>>;
  std::lock_guard lock(*mutex);
  auto& slot = (*counters)[database_id];
  if (auto counter = slot.lock()) return counter;
  auto counter = std::make_shared<std::atomic<uint64_t>>(0);
  slot = counter;
  return counter;
}

ChangeListener::ChangeListener(ConnectionSettings settings, Duration lock_timeout, std::string channel)
    : settings_(std::move(settings)), lock_timeout_(lock_timeout), channel_(std::move(channel)) {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) throw Error::resource_exhausted("postgres: cannot create an eventfd for the change listener");
  try {
    connection_ = connect_and_listen();
  } catch (const Error&) {
    // The thread retries.
  }
  thread_ = std::thread([this] { run(); });
}

ChangeListener::~ChangeListener() {
  stopping_.store(true);
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = ::write(wake_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  ::close(wake_fd_);
}

std::unique_ptr<Connection> ChangeListener::connect_and_listen() {
  auto connection = connect(settings_, lock_timeout_);
  connection->exec_simple("LISTEN " + quote_identifier(channel_), "listen for changes");
  return connection;
}

bool ChangeListener::wait(int socket, int timeout_ms) {
  pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {socket, POLLIN, 0}};
  const int n = ::poll(fds, socket >= 0 ? 2 : 1, timeout_ms);
  return n > 0 && (fds[0].revents & POLLIN) != 0;
}

void ChangeListener::run() {
  int backoff_ms = kListenerFirstBackoffMs;
  while (!stopping_.load()) {
    if (!connection_) {
      if (wait(-1, backoff_ms)) break;
      try {
        connection_ = connect_and_listen();
        backoff_ms = kListenerFirstBackoffMs;
        // Changes made while we were not listening went unseen: wake everyone once.
        seen_.fetch_add(1, std::memory_order_release);
      } catch (const Error&) {
        backoff_ms = std::min(backoff_ms * 2, kListenerMaxBackoffMs);
      }
      continue;
    }
    if (wait(connection_->socket(), 1000)) break;
    PGconn* conn = connection_->handle();
    if (PQconsumeInput(conn) == 0 || PQstatus(conn) != CONNECTION_OK) {
      connection_.reset();
      seen_.fetch_add(1, std::memory_order_release);
      continue;
    }
    uint64_t others = 0;
    while (PGnotify* notification = PQnotifies(conn)) {
      if (this_process_notify_payload() != notification->extra) ++others;
      PQfreemem(notification);
    }
    if (others > 0) seen_.fetch_add(others, std::memory_order_release);
  }
  connection_.reset();
}

}  // namespace quern::postgres
