#include "server/event_hub.h"

#include <algorithm>
#include <deque>

#include "core/job_json.h"
#include "quern/error.h"
#include "server/http_response.h"
#include "store/store.h"

namespace quern::server {

namespace {

using EventClock = std::chrono::steady_clock;

constexpr auto kEventPollInterval = std::chrono::milliseconds(100);
constexpr int kEventHistoryPage = 500;
constexpr int kEventHistoryPagesPerTick = 20;  // the rest waits for the next tick
constexpr int kRunningJobsWatched = 1000;
// A queue paused and resumed more often than this between two polls shows only its last changes.
constexpr int64_t kMaxQueueEventsPerPoll = 64;
// Past this many queued bytes a listener is too slow: it is disconnected and resumes
// from its last event id.
constexpr size_t kMaxQueuedEventBytes = 8 << 20;
constexpr size_t kMaxCachedJobNames = 100'000;
// How long one call of the stream's writer waits for events before it looks around
// (is the server stopping, is a ping due).
constexpr auto kPumpWait = std::chrono::milliseconds(500);

std::string sse_frame(std::string_view event, std::optional<int64_t> id, const Json& data) {
  std::string text = "event: " + std::string(event) + "\n";
  if (id) text += "id: " + std::to_string(*id) + "\n";
  text += "data: " + json_text(data) + "\n\n";
  return text;
}

}  // namespace

// One connected client of the stream.
struct EventListener {
  std::optional<int64_t> resume_after;  // Last-Event-ID
  int64_t live_after = 0;               // live `job` events have seq > this
  bool caught_up = false;               // used by the stream's writer only
  EventClock::time_point last_write = EventClock::now();  // used by the stream's writer only

  std::mutex mutex;
  std::condition_variable cv;
  std::deque<EventFrame> frames;  // guarded by mutex
  size_t queued_bytes = 0;        // guarded by mutex
  bool closed = false;            // guarded by mutex: stop, or too slow

  void push(const std::vector<EventFrame>& events) {
    {
      std::lock_guard lock(mutex);
      if (closed) return;
      for (const auto& event : events) {
        if (event.seq != 0 && resume_after && event.seq <= *resume_after) continue;
        queued_bytes += event.text.size();
        frames.push_back(event);
      }
      if (queued_bytes > kMaxQueuedEventBytes) {
        closed = true;
        frames.clear();
        queued_bytes = 0;
      }
    }
    cv.notify_all();
  }

  void close() {
    {
      std::lock_guard lock(mutex);
      closed = true;
    }
    cv.notify_all();
  }
};

EventHub::EventHub(std::shared_ptr<Client> client, ServerMetrics& metrics, std::chrono::milliseconds ping_interval)
    : client_(std::move(client)), metrics_(metrics), ping_interval_(ping_interval) {}

EventHub::~EventHub() { stop(); }

void EventHub::start() { thread_ = std::thread([this] { run(); }); }

void EventHub::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& listener : listeners_) listener->close();
  }
  poller_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

size_t EventHub::listener_count() const {
  std::lock_guard lock(mutex_);
  return listeners_.size();
}

void EventHub::serve(httplib::Response& res, std::optional<int64_t> last_event_id) {
  auto listener = std::make_shared<EventListener>();
  listener->resume_after = last_event_id;
  {
    std::lock_guard poll_lock(poll_mutex_);
    bool first;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) throw Error::unavailable("the server is stopping");
      first = listeners_.empty();
    }
    // Idle until now: find where the history ends, and what runs and what is paused,
    // so that only what happens from here on is news.
    if (first) sync_with_store();
    std::lock_guard lock(mutex_);
    if (stopping_) throw Error::unavailable("the server is stopping");
    listener->live_after = last_seq_;
    // An id this database never gave (from another database, or one restored from an
    // older copy) would hold back every event until the history caught up with it.
    if (listener->resume_after && *listener->resume_after > last_seq_) listener->resume_after.reset();
    listeners_.push_back(listener);
  }
  poller_cv_.notify_all();
  res.status = 200;
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream", [this, listener](size_t, httplib::DataSink& sink) { return pump(*listener, sink); },
      [this, listener](bool) { remove_listener(listener); });
}

void EventHub::remove_listener(const std::shared_ptr<EventListener>& listener) {
  std::lock_guard lock(mutex_);
  listeners_.erase(std::remove(listeners_.begin(), listeners_.end(), listener), listeners_.end());
}

bool EventHub::catch_up(EventListener& listener, httplib::DataSink& sink) {
  if (!listener.resume_after || *listener.resume_after >= listener.live_after) return true;
  int64_t after = *listener.resume_after;
  while (true) {
    std::string text;
    bool done = false;
    {
      // job_event() uses the name cache the poller keeps; the write below is outside.
      std::lock_guard poll_lock(poll_mutex_);
      const auto entries = client_->store()->history_since(after, kEventHistoryPage);
      done = static_cast<int>(entries.size()) < kEventHistoryPage;
      for (const auto& entry : entries) {
        if (entry.seq > listener.live_after) {
          done = true;  // the live events take it from here
          break;
        }
        text += job_event(entry);
        after = entry.seq;
      }
    }
    if (!text.empty() && !sink.write(text.data(), text.size())) return false;
    if (done || after >= listener.live_after) return true;
  }
}

bool EventHub::pump(EventListener& listener, httplib::DataSink& sink) {
  if (!listener.caught_up) {
    listener.caught_up = true;
    // A comment first, so that the client sees the stream open at once.
    static constexpr std::string_view kHello = ": quern events\n\n";
    if (!sink.write(kHello.data(), kHello.size())) return false;
    try {
      if (!catch_up(listener, sink)) return false;
    } catch (const Error& e) {
      metrics_.count_if_store_error(e);
      return false;  // the client reconnects and resumes from its last id
    }
    listener.last_write = EventClock::now();
  }
  std::deque<EventFrame> frames;
  bool closed = false;
  {
    std::unique_lock lock(listener.mutex);
    listener.cv.wait_for(lock, kPumpWait, [&] { return !listener.frames.empty() || listener.closed; });
    frames.swap(listener.frames);
    listener.queued_bytes = 0;
    closed = listener.closed;
  }
  if (!frames.empty()) {
    std::string text;
    for (const auto& frame : frames) text += frame.text;
    if (!sink.write(text.data(), text.size())) return false;
    listener.last_write = EventClock::now();
  }
  if (closed) {
    // The last chunk, then "failure": httplib closes a connection only when writing a
    // response fails, and a stopping server must not keep it for keep-alive.
    sink.done();
    return false;
  }
  if (EventClock::now() - listener.last_write >= ping_interval_) {
    static constexpr std::string_view kPing = ": ping\n\n";
    if (!sink.write(kPing.data(), kPing.size())) return false;
    listener.last_write = EventClock::now();
  }
  return true;
}

void EventHub::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (listeners_.empty()) {
      poller_cv_.wait(lock, [&] { return stopping_ || !listeners_.empty(); });
      continue;
    }
    poller_cv_.wait_for(lock, kEventPollInterval, [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    try {
      tick();
    } catch (const Error& e) {
      metrics_.count_if_store_error(e);
      std::lock_guard poll_lock(poll_mutex_);
      last_counter_ = 0;  // look again next tick
    }
    lock.lock();
  }
}

int64_t EventHub::last_history_seq() {
  // The store lists history forward only; "is there an entry after x" is monotonic in
  // x, so the last seq is found by doubling then bisecting (a few dozen index probes).
  Store& store = *client_->store();
  int64_t known;
  {
    std::lock_guard lock(mutex_);
    known = last_seq_;
  }
  auto exists_after = [&](int64_t seq) { return !store.history_since(seq, 1).empty(); };
  if (!exists_after(known)) return known;
  int64_t low = known, step = 1024, high = known + step;
  while (exists_after(high)) {
    low = high;
    step *= 2;
    high = low + step;
  }
  while (high - low > 1) {
    const int64_t middle = low + (high - low) / 2;
    if (exists_after(middle)) {
      low = middle;
    } else {
      high = middle;
    }
  }
  return high;
}

void EventHub::sync_with_store() {
  last_counter_ = client_->store()->change_counter();
  const int64_t seq = last_history_seq();
  running_.clear();
  queues_.clear();
  progress_events();
  queue_events();
  std::lock_guard lock(mutex_);
  last_seq_ = seq;
}

std::string EventHub::job_event(const HistoryEntry& entry) {
  auto cached = queue_and_type_.find(entry.job_id);
  if (cached == queue_and_type_.end()) {
    if (queue_and_type_.size() >= kMaxCachedJobNames) queue_and_type_.clear();
    auto job = client_->store()->get_job(entry.job_id);
    // A deleted job's transitions are still news; its queue and type are gone.
    std::pair<std::string, std::string> names;
    if (job) names = {job->queue, job->type};
    cached = queue_and_type_.emplace(entry.job_id, std::move(names)).first;
  }
  Json data = history_entry_to_json(entry);
  data["queue"] = cached->second.first.empty() ? Json(nullptr) : Json(cached->second.first);
  data["type"] = cached->second.second.empty() ? Json(nullptr) : Json(cached->second.second);
  return sse_frame("job", entry.seq, data);
}

std::vector<EventFrame> EventHub::progress_events() {
  JobFilter filter;
  filter.states = {JobState::kRunning};
  filter.limit = kRunningJobsWatched;
  std::map<JobId, std::pair<double, std::string>> now_running;
  std::vector<EventFrame> events;
  for (const Job& job : client_->list(filter)) {
    auto before = running_.find(job.id);
    const bool changed = before == running_.end() ? (job.progress > 0 || !job.stage.empty())
                                                  : (before->second.first != job.progress || before->second.second != job.stage);
    if (changed) {
      events.push_back({0, sse_frame("progress", std::nullopt,
                                     {{"job_id", job.id},
                                      {"progress", job.progress},
                                      {"stage", job.stage.empty() ? Json(nullptr) : Json(job.stage)}})});
    }
    now_running.emplace(job.id, std::make_pair(job.progress, job.stage));
  }
  running_.swap(now_running);
  return events;
}

std::vector<EventFrame> EventHub::queue_events() {
  std::vector<EventFrame> events;
  auto queue_event = [&](const std::string& name, bool paused) {
    events.push_back({0, sse_frame("queue", std::nullopt, {{"queue", name}, {"paused", paused}})});
  };
  for (const QueueInfo& queue : client_->queues()) {
    auto before = queues_.find(queue.name);
    // A queue not seen before started resumed, with no changes.
    QueueInfo was;
    if (before == queues_.end()) {
      was.name = queue.name;
    } else {
      was = before->second;
    }
    int64_t flips = queue.pause_changes - was.pause_changes;
    if (flips <= 0 && queue.paused != was.paused) flips = 1;
    // Each pause and resume since the last look is news, also when several came
    // between two looks (they alternate, ending in the state the queue is in now).
    flips = std::min(flips, kMaxQueueEventsPerPoll);
    for (int64_t i = flips - 1; i >= 0; --i) queue_event(queue.name, i % 2 == 0 ? queue.paused : !queue.paused);
    queues_[queue.name] = queue;
  }
  return events;
}

void EventHub::tick() {
  std::lock_guard poll_lock(poll_mutex_);
  int64_t seq;
  {
    std::lock_guard lock(mutex_);
    if (listeners_.empty()) return;
    seq = last_seq_;
  }
  Store& store = *client_->store();
  const uint64_t counter = store.change_counter();
  if (counter == last_counter_) return;
  last_counter_ = counter;

  std::vector<EventFrame> events;
  for (int page = 0; page < kEventHistoryPagesPerTick; ++page) {
    const auto entries = store.history_since(seq, kEventHistoryPage);
    for (const auto& entry : entries) {
      events.push_back({entry.seq, job_event(entry)});
      seq = entry.seq;
    }
    if (static_cast<int>(entries.size()) < kEventHistoryPage) break;
    if (page + 1 == kEventHistoryPagesPerTick) last_counter_ = 0;  // more to read: next tick goes on
  }
  auto progress = progress_events();
  events.insert(events.end(), progress.begin(), progress.end());
  auto queues = queue_events();
  events.insert(events.end(), queues.begin(), queues.end());

  std::lock_guard lock(mutex_);
  last_seq_ = seq;
  if (events.empty()) return;
  for (auto& listener : listeners_) listener->push(events);
}

}  // namespace quern::server
