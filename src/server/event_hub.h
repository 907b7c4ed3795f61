// The event stream (GET /api/v1/events, server-sent events). One poller thread serves
// every listener: every ~100 ms, and only when the store's change counter moved, it
// reads the job history after the last entry it sent (so other processes' changes show
// too), the running jobs (for progress and stage) and the queues (for pause/resume),
// and queues the events for each listener. With no listener it does nothing at all.
//
// Events: `job` (id: the history seq) for every state transition, `progress` (no id)
// when a running job's progress or stage changes, `queue` on pause and resume. A
// listener that gives Last-Event-ID first gets the transitions it missed. A listener
// too slow to take its events is disconnected; it resumes from its last id.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <httplib.h>

#include "quern/client.h"
#include "server/server_metrics.h"

namespace quern::server {

struct EventListener;

// One event, formatted for the wire.
struct EventFrame {
  int64_t seq = 0;  // the history seq of a `job` event; 0 for the others
  std::string text;
};

class EventHub {
 public:
  EventHub(std::shared_ptr<Client> client, ServerMetrics& metrics,
           std::chrono::milliseconds ping_interval = std::chrono::seconds(15));
  ~EventHub();
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  void start();
  // Ends every stream cleanly and refuses new ones. Idempotent.
  void stop();

  // Makes `res` one listener's stream: the transitions after `last_event_id` (if given),
  // then live events until the client goes away or stop(). Throws kUnavailable when
  // stopping, or a store error.
  void serve(httplib::Response& res, std::optional<int64_t> last_event_id);

  size_t listener_count() const;

 private:
  void run();
  void tick();
  void sync_with_store();  // requires poll_mutex_
  int64_t last_history_seq();
  std::string job_event(const HistoryEntry& entry);
  std::vector<EventFrame> progress_events();
  std::vector<EventFrame> queue_events();
  bool pump(EventListener& listener, httplib::DataSink& sink);
  bool catch_up(EventListener& listener, httplib::DataSink& sink);
  void remove_listener(const std::shared_ptr<EventListener>& listener);

  std::shared_ptr<Client> client_;
  ServerMetrics& metrics_;
  const std::chrono::milliseconds ping_interval_;

  // Held for a whole poll, and while a first listener syncs with the store. Taken
  // before mutex_ when both are needed.
  std::mutex poll_mutex_;
  uint64_t last_counter_ = 0;                                      // guarded by poll_mutex_
  std::map<JobId, std::pair<double, std::string>> running_;        // guarded by poll_mutex_
  std::map<std::string, QueueInfo> queues_;                        // guarded by poll_mutex_
  std::unordered_map<JobId, std::pair<std::string, std::string>> queue_and_type_;  // guarded by poll_mutex_

  mutable std::mutex mutex_;
  std::condition_variable poller_cv_;
  std::vector<std::shared_ptr<EventListener>> listeners_;  // guarded by mutex_
  int64_t last_seq_ = 0;                                   // guarded by mutex_: the last history seq sent
  bool stopping_ = false;                                  // guarded by mutex_
  std::thread thread_;
};

}  // namespace quern::server
