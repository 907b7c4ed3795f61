#include "engine/local_wakeup.h"

#include <cstdint>
#include <map>
#include <mutex>
#include <utility>

namespace quern {
namespace {

struct Registry {
  std::mutex mutex;
  int64_t next_id = 1;
  std::map<int64_t, std::pair<const Store*, std::function<void()>>> pools;
};

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: pools may outlive static teardown
  return *r;
}

}  // namespace

LocalWakeupRegistration::LocalWakeupRegistration(const Store* store, std::function<void()> wake) : store_(store) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  id_ = r.next_id++;
  r.pools.emplace(id_, std::make_pair(store_, std::move(wake)));
}

LocalWakeupRegistration::~LocalWakeupRegistration() {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  r.pools.erase(id_);
}

void wake_local_pools(const Store* store) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  for (auto& [id, entry] : r.pools) {
    if (entry.first == store) entry.second();
  }
}

}  // namespace quern
