// A real `quern serve` for the HTTP tests: started on 127.0.0.1 with port 0 (it picks a
// free port and says which on stderr), over the test's own database, and stopped (or
// killed) when the test ends. Requests go over real HTTP: httplib::Client for ordinary
// ones, RawHttpConnection where a test needs the bytes (oversize bodies, headers a
// client would not send, hundreds of open connections, an event stream).
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "process_harness.h"

namespace quern::http_test {

using Json = nlohmann::json;
using crash_test::TestProcess;
using cli_test::eventually;
using cli_test::QuernCli;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

struct HttpResult {
  int status = -1;  // -1: no answer (connection failed)
  std::string body;
  httplib::Headers headers;

  Json json() const {
    try {
      return Json::parse(body);
    } catch (const Json::exception&) {
      ADD_FAILURE() << "not JSON (status " << status << "): " << body;
      return nullptr;
    }
  }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  // The "code" of an error body.
  std::string error_code() const {
    const Json body = json();
    return body.is_object() && body.contains("error") ? body["error"].value("code", "") : "";
  }
};

// The path of an action on a job: /api/v1/jobs/{id}/{action}.
inline std::string job_path(const Json& job, const std::string& action) {
  return "/api/v1/jobs/" + std::to_string(job["id"].get<int64_t>()) + "/" + action;
}

// The value of an unlabelled metric, or -1.
inline int64_t metric_value(const std::string& text, const std::string& name) {
  const size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stoll(text.substr(at + name.size() + 2));
}

// Lifts the soft limit on open files to the hard one (a test holding 600 connections).
inline void raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// One TCP connection speaking HTTP/1.1 by hand. Not thread-safe.
class RawHttpConnection {
 public:
  explicit RawHttpConnection(int port) : port_(port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ADD_FAILURE() << "cannot connect to 127.0.0.1:" << port;
      close();
    }
  }
  ~RawHttpConnection() { close(); }
  RawHttpConnection(const RawHttpConnection&) = delete;
  RawHttpConnection& operator=(const RawHttpConnection&) = delete;

  bool connected() const { return fd_ >= 0; }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Sends all of `bytes`; false if the connection broke.
  bool send(const std::string& bytes) {
    size_t sent = 0;
    while (fd_ >= 0 && sent < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return fd_ >= 0;
  }

  // A request with a body and the given extra header lines ("Name: value"); a Host
  // header naming the server unless one is given.
  bool send_request(const std::string& method, const std::string& path, const std::string& body = "",
                    const std::vector<std::string>& headers = {}) {
    std::string text = method + " " + path + " HTTP/1.1\r\n";
    bool has_host = false;
    for (const auto& header : headers) has_host |= header.rfind("Host:", 0) == 0;
    if (!has_host) text += "Host: 127.0.0.1:" + std::to_string(port_) + "\r\n";
    for (const auto& header : headers) text += header + "\r\n";
    if (!body.empty() || method == "POST" || method == "PUT") text += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    text += "\r\n" + body;
    return send(text);
  }

  // Reads what arrives until `done(received)` holds, the peer closes, or the deadline.
  bool read_until(const std::function<bool(const std::string&)>& done, std::chrono::milliseconds deadline) {
    const auto until = SteadyClock::now() + deadline;
    while (!done(received_)) {
      if (fd_ < 0) return false;
      // Always one look, even with no time left: what already arrived counts.
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now());
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0))) <= 0) {
        if (SteadyClock::now() >= until) return false;
        continue;
      }
      char buffer[65536];
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) {
        close();
        return done(received_);
      }
      received_.append(buffer, static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one whole response (Content-Length or chunked); its status, or -1.
  HttpResult read_response(std::chrono::milliseconds deadline = 30s) {
    HttpResult result;
    read_until([](const std::string& text) { return parse_response(text).has_value(); }, deadline);
    if (auto parsed = parse_response(received_)) {
      result = parsed->first;
      received_.erase(0, parsed->second);
    }
    return result;
  }

  // What arrived so far: for an event stream, the status line, headers and the
  // de-chunked body.
  const std::string& received() const { return received_; }
  std::string stream_body() const {
    const size_t end = received_.find("\r\n\r\n");
    if (end == std::string::npos) return "";
    return dechunk(received_.substr(end + 4), nullptr);
  }

  // Splits an HTTP response off `text`: the result and how many bytes it took.
  static std::optional<std::pair<HttpResult, size_t>> parse_response(const std::string& text) {
    const size_t header_end = text.find("\r\n\r\n");
    if (header_end == std::string::npos) return std::nullopt;
    HttpResult result;
    if (text.compare(0, 9, "HTTP/1.1 ") != 0) return std::nullopt;
    result.status = std::stoi(text.substr(9, 3));
    size_t line_start = text.find("\r\n") + 2;
    while (line_start < header_end) {
      const size_t line_end = text.find("\r\n", line_start);
      const std::string line = text.substr(line_start, line_end - line_start);
      const size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        result.headers.emplace(line.substr(0, colon), value);
      }
      line_start = line_end + 2;
    }
    const size_t body_start = header_end + 4;
    auto length = result.headers.find("Content-Length");
    if (length != result.headers.end()) {
      const size_t n = std::stoul(length->second);
      if (text.size() < body_start + n) return std::nullopt;
      result.body = text.substr(body_start, n);
      return std::make_pair(result, body_start + n);
    }
    size_t consumed = 0;
    result.body = dechunk(text.substr(body_start), &consumed);
    if (consumed == 0) return std::nullopt;
    return std::make_pair(result, body_start + consumed);
  }

  // The data of a chunked body; `consumed` gets its length once the last chunk arrived.
  static std::string dechunk(const std::string& text, size_t* consumed) {
    std::string body;
    size_t pos = 0;
    while (true) {
      const size_t line_end = text.find("\r\n", pos);
      if (line_end == std::string::npos) break;
      const size_t size = std::stoul(text.substr(pos, line_end - pos), nullptr, 16);
      if (size == 0) {
        if (consumed && text.size() >= line_end + 4) *consumed = line_end + 4;
        break;
      }
      if (text.size() < line_end + 2 + size + 2) break;
      body += text.substr(line_end + 2, size);
      pos = line_end + 2 + size + 2;
    }
    return body;
  }

 private:
  int port_ = 0;
  int fd_ = -1;
  std::string received_;
};

// One server-sent event.
struct StreamEvent {
  std::string event;
  std::string id;
  Json data;
};

// The events of a de-chunked event stream body, comments left out.
inline std::vector<StreamEvent> parse_events(const std::string& body) {
  std::vector<StreamEvent> events;
  size_t pos = 0;
  while (true) {
    const size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) break;
    const std::string block = body.substr(pos, end - pos);
    pos = end + 2;
    StreamEvent event;
    bool has_data = false;
    size_t line_start = 0;
    while (line_start <= block.size()) {
      size_t line_end = block.find('\n', line_start);
      if (line_end == std::string::npos) line_end = block.size();
      const std::string line = block.substr(line_start, line_end - line_start);
      line_start = line_end + 1;
      if (line.rfind("event: ", 0) == 0) event.event = line.substr(7);
      if (line.rfind("id: ", 0) == 0) event.id = line.substr(4);
      if (line.rfind("data: ", 0) == 0) {
        event.data = Json::parse(line.substr(6));
        has_data = true;
      }
    }
    if (has_data) events.push_back(std::move(event));
  }
  return events;
}

// A `quern serve` process on a free port of 127.0.0.1, over the test's database. Its
// stdout and stderr go to a file (a pipe nobody reads would block its logging).
class QuernServer {
 public:
  explicit QuernServer(std::vector<std::string> args = {}, cli_test::RunOptions options = {}) {
    std::vector<std::string> argv = {QUERN_BINARY, "--db", cli_.db().string(), "serve", "--listen", "127.0.0.1:0"};
    argv.insert(argv.end(), args.begin(), args.end());
    options.cwd = cli_.dir();
    process_ = std::make_unique<TestProcess>(argv, cli_.dir() / "serve.log", options);
    static const std::string kListening = "listening on http://127.0.0.1:";
    if (!process_->wait_for_output_line(kListening, 30s)) {
      ADD_FAILURE() << "quern serve did not start: " << process_->output();
      return;
    }
    // "…listening on http://127.0.0.1:PORT…" in a text line or a JSON one.
    const std::string output = process_->output();
    port_ = std::stoi(output.substr(output.find(kListening) + kListening.size()));
  }
  QuernServer(const QuernServer&) = delete;
  QuernServer& operator=(const QuernServer&) = delete;

  int port() const { return port_; }
  const QuernCli& cli() const { return cli_; }
  TestProcess& process() { return *process_; }
  std::string log() const { return process_->output(); }

  // SIGTERM (or `signal`), then waits for the exit; the exit status, or nullopt if it
  // did not exit within the deadline.
  std::optional<int> stop(int signal = SIGTERM, std::chrono::milliseconds deadline = 30s) {
    process_->signal(signal);
    return process_->wait_for_exit(deadline);
  }

  std::unique_ptr<httplib::Client> client(std::chrono::seconds timeout = 60s) const {
    auto client = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client->set_read_timeout(timeout.count(), 0);
    client->set_write_timeout(timeout.count(), 0);
    client->set_connection_timeout(10, 0);
    return client;
  }

  HttpResult request(const std::string& method, const std::string& path, const std::string& body = "",
                     httplib::Headers headers = {}, std::chrono::seconds timeout = 60s) const {
    auto http = client(timeout);
    httplib::Result response{nullptr, httplib::Error::Unknown};
    const std::string type = "application/json";
    if (method == "GET") {
      response = http->Get(path, headers);
    } else if (method == "POST") {
      response = http->Post(path, headers, body, type);
    } else if (method == "PUT") {
      response = http->Put(path, headers, body, type);
    } else if (method == "DELETE") {
      response = body.empty() ? http->Delete(path, headers) : http->Delete(path, headers, body, type);
    } else if (method == "PATCH") {
      response = http->Patch(path, headers, body, type);
    }
    HttpResult result;
    if (!response) {
      ADD_FAILURE() << method << " " << path << ": no answer (" << httplib::to_string(response.error()) << ")";
      return result;
    }
    result.status = response->status;
    result.body = response->body;
    result.headers = response->headers;
    return result;
  }
  HttpResult get(const std::string& path, httplib::Headers headers = {}) const { return request("GET", path, "", headers); }
  HttpResult post(const std::string& path, const Json& body, httplib::Headers headers = {}) const {
    return request("POST", path, body.dump(), headers);
  }

  // POST /api/v1/jobs with one job; the new job object (fails the test unless 201).
  Json enqueue(const Json& job) const {
    const HttpResult result = post("/api/v1/jobs", job);
    EXPECT_EQ(result.status, 201) << result.body;
    return result.json();
  }
  Json job(int64_t id) const { return get("/api/v1/jobs/" + std::to_string(id)).json(); }
  bool wait_for_state(int64_t id, const std::string& state, std::chrono::milliseconds deadline = 30s) const {
    return eventually([&] { return job(id).value("state", "") == state; }, deadline);
  }

 private:
  QuernCli cli_;  // first: its directory outlives the process
  std::unique_ptr<TestProcess> process_;  // killed and reaped when the test ends
  int port_ = 0;
};

}  // namespace quern::http_test
