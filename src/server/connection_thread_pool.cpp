#include "server/connection_thread_pool.h"

#include <malloc.h>
#include <pthread.h>

namespace quern::server {
namespace {

// An idle thread beyond the few kept ends after this long without work.
constexpr auto kIdleThreadLinger = std::chrono::seconds(30);
constexpr size_t kThreadsKeptIdle = 8;

}  // namespace

ConnectionThreadPool::ConnectionThreadPool(size_t max_threads, size_t stack_bytes, ServerLog& log)
    : max_threads_(max_threads < 1 ? 1 : max_threads), stack_bytes_(stack_bytes), log_(log) {}

ConnectionThreadPool::~ConnectionThreadPool() { shutdown(); }

void ConnectionThreadPool::enqueue(std::function<void()> task) {
  std::lock_guard lock(mutex_);
  tasks_.push_back(std::move(task));
  // Every queued task needs an idle thread of its own, else a new one if allowed.
  if (idle_ >= tasks_.size() || threads_ >= max_threads_ || !start_thread()) {
    task_cv_.notify_one();
  }
}

bool ConnectionThreadPool::start_thread() {
  pthread_attr_t attributes;
  if (pthread_attr_init(&attributes) != 0) return false;
  pthread_attr_setstacksize(&attributes, stack_bytes_);
  pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  const int rc = pthread_create(&thread, &attributes, &ConnectionThreadPool::thread_main, this);
  pthread_attr_destroy(&attributes);
  if (rc != 0) {
    // Out of threads or memory: the queued task waits for a busy thread instead.
    log_.warn("cannot start a connection thread", {{"errno", rc}});
    return false;
  }
  ++threads_;
  return true;
}

void* ConnectionThreadPool::thread_main(void* pool) {
  static_cast<ConnectionThreadPool*>(pool)->run();
  return nullptr;
}

void ConnectionThreadPool::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    ++idle_;
    const bool woke = task_cv_.wait_for(lock, kIdleThreadLinger, [&] { return shutdown_ || !tasks_.empty(); });
    --idle_;
    if (tasks_.empty() && (shutdown_ || (!woke && threads_ > kThreadsKeptIdle))) break;
    if (tasks_.empty()) continue;
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    task();
    task = nullptr;  // the connection's state goes with it, before the next wait
    lock.lock();
  }
  // The last touch of this pool: shutdown() returns only after every thread is here
  // (and has let go of the lock).
  --threads_;
  const bool burst_over = !shutdown_ && threads_ == kThreadsKeptIdle;
  exited_cv_.notify_all();
  lock.unlock();
  // The connections of a burst are gone: give what their requests freed back to the
  // system, which glibc would otherwise keep in its per-thread arenas.
  if (burst_over) malloc_trim(0);
}

void ConnectionThreadPool::shutdown() {
  std::unique_lock lock(mutex_);
  shutdown_ = true;
  task_cv_.notify_all();
  exited_cv_.wait(lock, [&] { return threads_ == 0; });
}

size_t ConnectionThreadPool::thread_count() const {
  std::lock_guard lock(mutex_);
  return threads_;
}

}  // namespace quern::server
