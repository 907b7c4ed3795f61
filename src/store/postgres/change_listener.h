// How a PostgreSQL store notices that anyone changed the database, within milliseconds
// and without asking the server on every look:
// - every transaction that changes something sends one NOTIFY on the database's
//   channel before it commits (delivered only if it commits), naming its process;
// - a ChangeListener holds a dedicated connection that LISTENs on that channel in a
//   background thread and counts the notifications of other processes (and each
//   reconnect, since notifications may have been missed meanwhile);
// - the commits of this process are counted at once in a counter shared by every
//   store of the process on the same database (local_change_counter).
// Store::change_counter() is the sum, so it is an atomic load.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "store/postgres/pg_connection.h"

namespace quern::postgres {

// Names this process in NOTIFY payloads (pid and a random number).
const std::string& this_process_notify_payload();

// The counter of this process's commits to the database `database_id`.
std::shared_ptr<std::atomic<uint64_t>> local_change_counter(const std::string& database_id);

class ChangeListener {
 public:
  // Connects and LISTENs before returning, so no later commit goes unseen. If the
  // server cannot be reached, the thread keeps trying (and counts its success as a
  // change); nothing is thrown.
  ChangeListener(ConnectionSettings settings, Duration lock_timeout, std::string channel);
  ~ChangeListener();
  ChangeListener(const ChangeListener&) = delete;
  ChangeListener& operator=(const ChangeListener&) = delete;

  // Notifications from other processes seen so far, plus reconnects.
  uint64_t seen() const { return seen_.load(std::memory_order_acquire); }

 private:
  void run();
  std::unique_ptr<Connection> connect_and_listen();
  // Waits up to `timeout_ms` for the connection (if any) or the stop signal.
  bool wait(int socket, int timeout_ms);

  const ConnectionSettings settings_;
  const Duration lock_timeout_;
  const std::string channel_;
  std::atomic<uint64_t> seen_{0};
  std::atomic<bool> stopping_{false};
  int wake_fd_ = -1;  // eventfd: written to stop the thread
  std::unique_ptr<Connection> connection_;  // used by the thread only, once started
  std::thread thread_;
};

}  // namespace quern::postgres
