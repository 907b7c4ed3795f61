#include "server/lease_broker.h"

#include <algorithm>
#include <set>
#include <string>

#include "engine/local_wakeup.h"
#include "quern/error.h"
#include "store/store.h"

namespace quern::server {
namespace {

using BrokerClock = std::chrono::steady_clock;

// How often another process's commits are looked for while leases wait (a cheap read).
constexpr auto kBrokerChangePoll = std::chrono::milliseconds(2);
// Every waiting lease is tried again at least this often, whatever else happens.
constexpr auto kBrokerRecheck = std::chrono::milliseconds(500);

// Leases asking for the same queues and types find the same jobs claimable.
std::string lease_group_key(const RemoteLeaseRequest& request) {
  auto sorted = [](std::vector<std::string> names) {
    std::sort(names.begin(), names.end());
    std::string key;
    for (const auto& name : names) key += name + '\n';
    return key;
  };
  return sorted(request.queues) + '\0' + sorted(request.types);
}

}  // namespace

struct LeaseBroker::Waiter {
  enum class State { kWaiting, kServing, kDone };

  RemoteLeaseRequest request;
  std::string group;
  State state = State::kWaiting;  // guarded by the broker's mutex_, like every field below
  bool fresh = true;              // not yet tried by the broker
  std::vector<Job> jobs;
  std::exception_ptr error;
  std::condition_variable cv;
  std::list<std::shared_ptr<Waiter>>::iterator position;
};

LeaseBroker::LeaseBroker(std::shared_ptr<Client> client, ServerMetrics& metrics)
    : client_(std::move(client)), metrics_(metrics) {}

LeaseBroker::~LeaseBroker() { stop(); }

void LeaseBroker::start() {
  wakeup_ = std::make_unique<LocalWakeupRegistration>(client_->store().get(), [this] { wake_all(); });
  thread_ = std::thread([this] { run(); });
}

void LeaseBroker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& waiter : waiters_) waiter->cv.notify_all();
  }
  broker_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  wakeup_.reset();
}

size_t LeaseBroker::waiting() const {
  std::lock_guard lock(mutex_);
  return waiters_.size();
}

bool LeaseBroker::stopping() const {
  std::lock_guard lock(mutex_);
  return stopping_;
}

void LeaseBroker::wake_all() {
  {
    std::lock_guard lock(mutex_);
    wake_all_ = true;
  }
  broker_cv_.notify_one();
}

void LeaseBroker::remove_waiter(Waiter& waiter) {
  if (waiter.position != waiters_.end()) {
    waiters_.erase(waiter.position);
    waiter.position = waiters_.end();
  }
}

std::vector<Job> LeaseBroker::lease(const RemoteLeaseRequest& request, Duration wait) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return {};
  }
  // First a claim of our own, so a lease that finds work never waits on the broker.
  std::vector<Job> jobs = client_->lease_remote(request);
  if (!jobs.empty() || wait <= Duration::zero()) return jobs;

  auto waiter = std::make_shared<Waiter>();
  waiter->request = request;
  waiter->group = lease_group_key(request);
  const auto deadline = BrokerClock::now() + wait;
  std::unique_lock lock(mutex_);
  if (stopping_) return {};
  // The broker tries a fresh waiter at once: something enqueued between our claim and
  // now must not wait for the next wake-up.
  waiter->position = waiters_.insert(waiters_.end(), waiter);
  fresh_waiters_ = true;
  broker_cv_.notify_one();
  while (waiter->state != Waiter::State::kDone) {
    if (waiter->state == Waiter::State::kWaiting && (stopping_ || BrokerClock::now() >= deadline)) {
      remove_waiter(*waiter);
      return {};
    }
    if (waiter->state == Waiter::State::kServing) {
      waiter->cv.wait(lock);  // the broker's claim for us ends soon either way
    } else {
      waiter->cv.wait_until(lock, deadline);
    }
  }
  if (waiter->error) std::rethrow_exception(waiter->error);
  return std::move(waiter->jobs);
}

void LeaseBroker::run() {
  uint64_t seen_counter = 0;
  auto next_recheck = BrokerClock::now() + kBrokerRecheck;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (waiters_.empty()) {
      broker_cv_.wait(lock, [&] { return stopping_ || !waiters_.empty(); });
      continue;
    }
    broker_cv_.wait_for(lock, kBrokerChangePoll, [&] { return stopping_ || wake_all_ || fresh_waiters_; });
    if (stopping_) break;
    bool every_waiter = wake_all_;
    const bool fresh = fresh_waiters_;
    wake_all_ = fresh_waiters_ = false;
    lock.unlock();
    try {
      // Read before the round: a commit during it (ours included) makes another round.
      const uint64_t counter = client_->store()->change_counter();
      if (counter != seen_counter) {
        seen_counter = counter;
        every_waiter = true;
      }
    } catch (const Error& e) {
      metrics_.count_if_store_error(e);
    }
    if (BrokerClock::now() >= next_recheck) {
      every_waiter = true;
      next_recheck = BrokerClock::now() + kBrokerRecheck;
    }
    if (every_waiter || fresh) serve_round(every_waiter);
    lock.lock();
  }
}

void LeaseBroker::serve_round(bool every_waiter) {
  std::vector<std::shared_ptr<Waiter>> candidates;
  {
    std::lock_guard lock(mutex_);
    for (auto& waiter : waiters_) {
      if (waiter->state != Waiter::State::kWaiting || !(every_waiter || waiter->fresh)) continue;
      waiter->fresh = false;
      candidates.push_back(waiter);
    }
  }
  std::set<std::string> exhausted;  // groups whose claim came back empty this round
  for (auto& waiter : candidates) {
    if (exhausted.count(waiter->group)) continue;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      if (waiter->state != Waiter::State::kWaiting || waiter->position == waiters_.end()) continue;
      waiter->state = Waiter::State::kServing;
    }
    std::vector<Job> jobs;
    std::exception_ptr error;
    try {
      jobs = client_->lease_remote(waiter->request);
    } catch (const Error& e) {
      metrics_.count_if_store_error(e);
      error = std::current_exception();
    }
    std::lock_guard lock(mutex_);
    if (!error && jobs.empty()) {
      waiter->state = Waiter::State::kWaiting;
      exhausted.insert(waiter->group);
    } else {
      // A store error goes to the worker (503) rather than being retried here forever.
      if (error) exhausted.insert(waiter->group);
      waiter->jobs = std::move(jobs);
      waiter->error = error;
      waiter->state = Waiter::State::kDone;
      remove_waiter(*waiter);
    }
    waiter->cv.notify_all();
  }
}

}  // namespace quern::server
