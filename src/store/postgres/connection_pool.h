// A small pool of PostgreSQL connections shared by a store's callers. Connections are
// opened on demand up to a limit; a caller waits (up to a timeout) for a free one.
// A connection that broke, or came back inside a transaction, is dropped rather than
// reused, so after a server restart or pg_terminate_backend the next calls simply get
// new connections.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "store/postgres/pg_connection.h"

namespace quern::postgres {

class ConnectionPool {
 public:
  // `first` (already connected, may be null) joins the pool.
  ConnectionPool(ConnectionSettings settings, Duration lock_timeout, size_t max_connections, Duration wait_timeout,
                 std::unique_ptr<Connection> first);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // A connection for one caller, given back when the lease ends.
  class Lease {
   public:
    Lease(ConnectionPool& pool, std::unique_ptr<Connection> connection)
        : pool_(&pool), connection_(std::move(connection)) {}
    Lease(Lease&& other) noexcept = default;
    ~Lease() {
      if (connection_) pool_->give_back(std::move(connection_));
    }
    Connection& operator*() const { return *connection_; }
    Connection* operator->() const { return connection_.get(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Connection> connection_;
  };

  // Throws kUnavailable if no connection can be opened, or none frees up in time.
  Lease acquire();

 private:
  void give_back(std::unique_ptr<Connection> connection);

  const ConnectionSettings settings_;
  const Duration lock_timeout_;
  const size_t max_connections_;
  const Duration wait_timeout_;

  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mutex_
  size_t open_ = 0;                                // guarded by mutex_: idle + leased + connecting
};

}  // namespace quern::postgres
