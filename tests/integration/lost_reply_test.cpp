// A finish whose COMMIT reaches PostgreSQL but whose reply never comes back: the worker
// cannot know it landed, so it retries, and the retry is refused because the job is no
// longer running. The pool must recognize its own recorded end and count the job
// finished, not report its outcome as lost. The reply is lost for real: the pool talks
// to the server through a TCP proxy on 127.0.0.1 that, once armed, passes a session's
// COMMIT on but drops what the server answers, then cuts the session.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <list>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "cli_runner.h"
#include "postgres_test_database.h"
#include "quern/client.h"
#include "quern/worker_pool.h"
#include "store/store.h"

namespace quern {
namespace {

using namespace std::chrono_literals;

// Forwards 127.0.0.1:port() to the server at `server_port`, one pair of sockets per
// session. While armed, a session that sends COMMIT has every later server byte dropped.
class LostReplyProxy {
 public:
  explicit LostReplyProxy(int server_port) : server_port_(server_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(listener_, 64) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "proxy cannot listen: " << std::strerror(errno);
    }
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~LostReplyProxy() {
    stopping_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    acceptor_.join();
    ::close(listener_);
    std::list<Session> sessions;
    {
      std::lock_guard lock(mutex_);
      sessions.swap(sessions_);
    }
    for (Session& s : sessions) {
      ::shutdown(s.client, SHUT_RDWR);
      ::shutdown(s.server, SHUT_RDWR);
      s.pump.join();
      ::close(s.client);
      ::close(s.server);
    }
  }

  int port() const { return port_; }
  void arm() { armed_ = true; }
  // Sessions whose replies were dropped since arm().
  int swallowing() const { return swallowing_.load(); }
  // Disarms and cuts every swallowing session: its client sees the connection close.
  void cut_swallowing() {
    armed_ = false;
    std::lock_guard lock(mutex_);
    for (Session& s : sessions_) {
      if (s.swallow) ::shutdown(s.client, SHUT_RDWR);
    }
  }

 private:
  struct Session {
    int client = -1;
    int server = -1;
    std::atomic<bool> swallow{false};
    std::thread pump;
  };

  void accept_loop() {
    while (!stopping_) {
      const int client = ::accept(listener_, nullptr, nullptr);
      if (client < 0) return;
      const int server = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      address.sin_port = htons(static_cast<uint16_t>(server_port_));
      if (::connect(server, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        ::close(client);
        ::close(server);
        continue;
      }
      std::lock_guard lock(mutex_);
      Session& s = sessions_.emplace_back();
      s.client = client;
      s.server = server;
      s.pump = std::thread([this, &s] { pump(s); });
    }
  }

  // Copies both ways until either side closes.
  void pump(Session& s) {
    std::string sent_tail;  // the end of what the client sent, so a split "COMMIT" is seen
    char buffer[65536];
    pollfd fds[2] = {{s.client, POLLIN, 0}, {s.server, POLLIN, 0}};
    while (::poll(fds, 2, -1) > 0) {
      if (fds[0].revents != 0) {
        const ssize_t n = ::read(s.client, buffer, sizeof buffer);
        if (n <= 0 || !write_all(s.server, buffer, n)) break;
        sent_tail.append(buffer, n);
        if (armed_ && !s.swallow && sent_tail.find("COMMIT") != std::string::npos) {
          s.swallow = true;
          ++swallowing_;
        }
        if (sent_tail.size() > 5) sent_tail.erase(0, sent_tail.size() - 5);
      }
      if (fds[1].revents != 0) {
        const ssize_t n = ::read(s.server, buffer, sizeof buffer);
        if (n <= 0) break;
        if (!s.swallow && !write_all(s.client, buffer, n)) break;
      }
    }
    ::shutdown(s.client, SHUT_RDWR);
    ::shutdown(s.server, SHUT_RDWR);
  }

  static bool write_all(int fd, const char* data, ssize_t size) {
    while (size > 0) {
      const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);  // a cut peer is an error, not SIGPIPE
      if (n <= 0) return false;
      data += n;
      size -= n;
    }
    return true;
  }

  const int server_port_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> armed_{false};
  std::atomic<int> swallowing_{0};
  std::mutex mutex_;
  std::list<Session> sessions_;
  std::thread acceptor_;
};

class CrashPostgresLostReply : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!postgres_test::postgres_test_url()) GTEST_SKIP() << "QUERN_TEST_POSTGRES_URL is not set";
    postgres_test::drop_postgres_schema(schema());
  }
  void TearDown() override {
    if (postgres_test::postgres_test_url()) postgres_test::drop_postgres_schema(schema());
  }
  std::string schema() const { return "lost_reply_" + std::to_string(getpid()); }
};

TEST_F(CrashPostgresLostReply, FinishWhoseReplyWasLostIsRecognizedNotReportedStale) {
  // postgres://user@127.0.0.1:PORT/db?…: the same URL with the proxy's port.
  const std::string url = postgres_test::postgres_schema_url(schema());
  const size_t port_at = url.find(':', url.find('@')) + 1;
  const size_t port_end = url.find('/', port_at);
  ASSERT_TRUE(port_at > 0 && port_end != std::string::npos) << url;
  LostReplyProxy proxy(std::stoi(url.substr(port_at, port_end - port_at)));
  const std::string proxied_url = url.substr(0, port_at) + std::to_string(proxy.port()) + url.substr(port_end);

  auto clock = std::make_shared<SystemClock>();
  auto observer = std::make_shared<Client>(open_store(url), clock);  // the test's own view, not proxied
  WorkerPoolOptions options;
  options.concurrency = 1;
  options.lease = 60s;  // no rescue in this test: the job stays leased to the pool
  options.grace = 100ms;
  options.run_maintenance = false;
  options.temp_root = std::filesystem::temp_directory_path() / ("quern-lost-reply-" + std::to_string(getpid()));
  std::mutex stale_mutex;
  std::vector<std::pair<JobId, int>> reported_stale;
  options.on_stale_finish = [&](JobId id, int attempt) {
    std::lock_guard lock(stale_mutex);
    reported_stale.emplace_back(id, attempt);
  };
  WorkerPool pool(std::make_shared<Client>(open_store(proxied_url), clock), options);
  std::mutex gate_mutex;
  std::condition_variable gate_cv;
  bool gate_open = false;
  pool.handle("transcode", [&](JobContext&) {
    std::unique_lock lock(gate_mutex);
    gate_cv.wait(lock, [&] { return gate_open; });
    return Outcome::completed(Json{{"frames", 1200}});
  });
  pool.start();

  NewJob job;
  job.type = "transcode";
  const JobId id = observer->enqueue(job).job.id;
  ASSERT_TRUE(cli_test::eventually([&] { return observer->get(id).state == JobState::kRunning; }, 10s));

  // The handler returns; the finish's COMMIT goes through and its answer is dropped.
  proxy.arm();
  {
    std::lock_guard lock(gate_mutex);
    gate_open = true;
  }
  gate_cv.notify_all();
  ASSERT_TRUE(cli_test::eventually([&] { return observer->get(id).state == JobState::kCompleted; }, 10s));
  EXPECT_GE(proxy.swallowing(), 1);
  EXPECT_EQ(pool.jobs_finished(), 0) << "the pool cannot know yet that its finish landed";

  // The session is cut: the finish fails, is retried on a new session, refused as the
  // job is no longer running, and recognized as the pool's own.
  proxy.cut_swallowing();
  ASSERT_TRUE(cli_test::eventually([&] { return pool.jobs_finished() == 1; }, 15s));
  pool.stop();
  {
    std::lock_guard lock(stale_mutex);
    EXPECT_TRUE(reported_stale.empty()) << "job " << reported_stale.front().first << " attempt "
                                        << reported_stale.front().second << " was reported as not recorded";
  }
  const Job done = observer->get(id);
  EXPECT_EQ(done.state, JobState::kCompleted);
  EXPECT_EQ(done.attempt, 1);
  EXPECT_EQ(done.result, (Json{{"frames", 1200}}));
  int completions = 0;
  for (const HistoryEntry& e : observer->store()->job_history(id)) completions += e.to == JobState::kCompleted;
  EXPECT_EQ(completions, 1);
  std::filesystem::remove_all(options.temp_root);
}

}  // namespace
}  // namespace quern
