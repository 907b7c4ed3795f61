// The threads that serve HTTP connections. cpp-httplib gives each connection one task
// for its whole life, and a long-poll lease or an event stream holds its thread for
// minutes, so a fixed pool of a few threads would let a few hundred waiting workers
// starve every other request. This pool grows a thread for each task that finds no
// idle one, up to a cap, and lets idle threads go after a while. Threads get small
// stacks (hundreds of them are normal), which is why request paths are kept short
// before anything runs a regular expression over them (see http_server.cpp).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>

#include <httplib.h>

#include "server/server_log.h"

namespace quern::server {

class ConnectionThreadPool final : public httplib::TaskQueue {
 public:
  // Up to `max_threads` at once; past that, connections wait for a free thread. A
  // thread that cannot be started is reported to `log`.
  ConnectionThreadPool(size_t max_threads, size_t stack_bytes, ServerLog& log);
  ~ConnectionThreadPool() override;

  void enqueue(std::function<void()> task) override;
  // Runs the queued tasks, then returns once every thread has ended.
  void shutdown() override;

  // For tests and metrics: threads alive now.
  size_t thread_count() const;

 private:
  static void* thread_main(void* pool);
  void run();
  bool start_thread();  // requires mutex_

  const size_t max_threads_;
  const size_t stack_bytes_;
  ServerLog& log_;
  mutable std::mutex mutex_;
  std::condition_variable task_cv_;     // a task was queued, or shutdown
  std::condition_variable exited_cv_;   // a thread ended
  std::deque<std::function<void()>> tasks_;  // guarded by mutex_
  size_t threads_ = 0;                       // guarded by mutex_
  size_t idle_ = 0;                          // guarded by mutex_
  bool shutdown_ = false;                    // guarded by mutex_
};

}  // namespace quern::server
