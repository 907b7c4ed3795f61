// Read-only connections for queries, handed out one per caller at a time; a few are
// kept open between uses. In WAL mode
// readers never wait for the writer, so admin queries and claims' neighbours don't
// queue behind a batch.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "quern/clock.h"
#include "store/sqlite/connection.h"

namespace quern::sqlite {

class ReaderPool {
 public:
  ReaderPool(std::string path, Duration busy_timeout) : path_(std::move(path)), busy_timeout_(busy_timeout) {}

  // A connection for the caller's exclusive use until the lease is destroyed.
  class Lease {
   public:
    Lease(ReaderPool& pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    ~Lease() { pool_.give_back(std::move(conn_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Connection* operator->() const { return conn_.get(); }
    Connection& operator*() const { return *conn_; }

   private:
    ReaderPool& pool_;
    std::unique_ptr<Connection> conn_;
  };

  Lease acquire();

 private:
  void give_back(std::unique_ptr<Connection> conn);

  const std::string path_;
  const Duration busy_timeout_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mutex_
};

}  // namespace quern::sqlite
