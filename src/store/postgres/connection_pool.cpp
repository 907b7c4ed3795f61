#include "store/postgres/connection_pool.h"

#include "quern/error.h"

namespace quern::postgres {

ConnectionPool::ConnectionPool(ConnectionSettings settings, Duration lock_timeout, size_t max_connections,
                               Duration wait_timeout, std::unique_ptr<Connection> first)
    : settings_(std::move(settings)),
      lock_timeout_(lock_timeout),
      max_connections_(std::max<size_t>(max_connections, 1)),
      wait_timeout_(wait_timeout) {
  if (first) {
    idle_.push_back(std::move(first));
    open_ = 1;
  }
}

ConnectionPool::~ConnectionPool() = default;

ConnectionPool::Lease ConnectionPool::acquire() {
  std::unique_lock lock(mutex_);
  const auto deadline = std::chrono::steady_clock::now() + wait_timeout_;
  while (true) {
    if (!idle_.empty()) {
      std::unique_ptr<Connection> connection = std::move(idle_.back());
      idle_.pop_back();
      lock.unlock();
      connection->poll_idle();
      if (connection->idle()) return Lease(*this, std::move(connection));
      connection.reset();  // it died while idle: open another
      lock.lock();
      --open_;
      continue;
    }
    if (open_ < max_connections_) {
      ++open_;
      lock.unlock();
      try {
        return Lease(*this, connect(settings_, lock_timeout_));
      } catch (...) {
        lock.lock();
        --open_;
        freed_.notify_one();
        throw;
      }
    }
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() && open_ >= max_connections_) {
      throw Error::unavailable("postgres: all " + std::to_string(max_connections_) + " connections to " +
                               settings_.display_name + " stayed busy past the timeout");
    }
  }
}

void ConnectionPool::give_back(std::unique_ptr<Connection> connection) {
  const bool reusable = connection->idle();
  if (!reusable) connection.reset();  // closed outside the lock would be nicer, but it is rare
  std::lock_guard lock(mutex_);
  if (reusable) {
    idle_.push_back(std::move(connection));
  } else {
    --open_;
  }
  freed_.notify_one();
}

}  // namespace quern::postgres
