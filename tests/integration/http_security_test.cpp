// Who may call the HTTP API: the bearer token, the loopback rule, cross-site refusals,
// limits on what a request may be, and the dashboard's headers.
#include <gtest/gtest.h>

#include "http_harness.h"

namespace quern::http_test {
namespace {

const char* const kToken = "s3cret-token-value";

TEST(HttpSecurity, TokenIsNeededEverywhereButHealthzAndTheDashboard) {
  QuernServer server({"--concurrency", "0", "--token", kToken});
  const HttpResult none = server.get("/api/v1/stats");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.error_code(), "unauthenticated");
  EXPECT_EQ(none.header("WWW-Authenticate"), "Bearer");
  const HttpResult wrong = server.get("/api/v1/stats", {{"Authorization", "Bearer nope"}});
  EXPECT_EQ(wrong.status, 401);
  const HttpResult prefix = server.get("/api/v1/stats", {{"Authorization", std::string("Bearer ") + kToken + "x"}});
  EXPECT_EQ(prefix.status, 401);
  const HttpResult basic = server.get("/api/v1/stats", {{"Authorization", std::string("Basic ") + kToken}});
  EXPECT_EQ(basic.status, 401);
  const HttpResult right = server.get("/api/v1/stats", {{"Authorization", std::string("Bearer ") + kToken}});
  EXPECT_EQ(right.status, 200);

  // Writes, metrics, the event stream and unknown routes too; nothing was enqueued.
  EXPECT_EQ(server.post("/api/v1/jobs", {{"type", "a"}}).status, 401);
  EXPECT_EQ(server.get("/metrics").status, 401);
  EXPECT_EQ(server.get("/api/v1/events").status, 401);
  EXPECT_EQ(server.get("/api/v1/nothing").status, 401);
  EXPECT_EQ(server.cli().job_count(), 0u);
  EXPECT_EQ(server.post("/api/v1/jobs", {{"type", "a"}}, {{"Authorization", std::string("Bearer ") + kToken}}).status, 201);

  EXPECT_EQ(server.get("/healthz").status, 200);
  EXPECT_EQ(server.get("/").status, 200);
}

TEST(HttpSecurity, TokenMayComeFromTheEnvironment) {
  cli_test::RunOptions options;
  options.set_env["QUERN_TOKEN"] = kToken;
  QuernServer server({"--concurrency", "0"}, options);
  EXPECT_EQ(server.get("/api/v1/stats").status, 401);
  EXPECT_EQ(server.get("/api/v1/stats", {{"Authorization", std::string("Bearer ") + kToken}}).status, 200);
}

TEST(HttpSecurity, ListeningOffLoopbackWithoutATokenExits2) {
  QuernCli cli;
  for (const std::string address : {"0.0.0.0:0", "[::]:0", "192.0.2.1:7070"}) {
    const cli_test::CliResult result = cli.run({"serve", "--listen", address});
    EXPECT_EQ(result.status, 2) << address << ": " << result.err;
    EXPECT_EQ(result.err_lines(), 1u) << result.err;
    EXPECT_NE(result.err.find("token"), std::string::npos) << result.err;
  }
  // Bad options are usage errors too.
  EXPECT_EQ(cli.run({"serve", "--listen", "nonsense"}).status, 2);
  EXPECT_EQ(cli.run({"serve", "--listen", "127.0.0.1:99999"}).status, 2);
  EXPECT_EQ(cli.run({"serve", "--log-format", "xml"}).status, 2);
  EXPECT_EQ(cli.run({"serve", "--concurrency", "-1"}).status, 2);
}

TEST(HttpSecurity, AnAddressInUseIsAStoreLikeErrorNotACrash) {
  QuernServer first({"--concurrency", "0"});
  const cli_test::CliResult result =
      first.cli().run({"serve", "--concurrency", "0", "--listen", "127.0.0.1:" + std::to_string(first.port())});
  EXPECT_EQ(result.status, 5) << result.err;
  EXPECT_EQ(result.err_lines(), 1u) << result.err;
}

TEST(HttpSecurity, CrossSiteWritesAreForbidden) {
  QuernServer server({"--concurrency", "0"});
  const std::string own_origin = "http://127.0.0.1:" + std::to_string(server.port());
  const HttpResult other_origin = server.post("/api/v1/jobs", {{"type", "a"}}, {{"Origin", "http://evil.example"}});
  EXPECT_EQ(other_origin.status, 403);
  EXPECT_EQ(other_origin.error_code(), "forbidden");
  EXPECT_EQ(server.post("/api/v1/jobs", {{"type", "a"}}, {{"Origin", "null"}}).status, 403);
  EXPECT_EQ(server.post("/api/v1/jobs", {{"type", "a"}}, {{"Sec-Fetch-Site", "cross-site"}}).status, 403);
  EXPECT_EQ(server.request("DELETE", "/api/v1/jobs/1", "", {{"Origin", "http://evil.example"}}).status, 403);
  EXPECT_EQ(server.request("PUT", "/api/v1/settings/k", "1", {{"Origin", "http://evil.example"}}).status, 403);
  EXPECT_EQ(server.cli().job_count(), 0u);

  // The dashboard's own page may write; reads are never refused for their origin.
  EXPECT_EQ(server.post("/api/v1/jobs", {{"type", "a"}}, {{"Origin", own_origin}, {"Sec-Fetch-Site", "same-origin"}}).status,
            201);
  EXPECT_EQ(server.get("/api/v1/stats", {{"Origin", "http://evil.example"}}).status, 200);
}

// A body's length must be stated once and plainly: anything a proxy might read another
// way (request smuggling) is a 400, the connection closes, and nothing is created.
TEST(HttpSecurity, AmbiguousContentLengthIsRefused) {
  QuernServer server({"--concurrency", "0"});
  for (const std::string& length : std::vector<std::string>{"Content-Length: abc", "Content-Length: 1_5",
                                                            "Content-Length: -5", "Content-Length: 2\r\nContent-Length: 15",
                                                            "Content-Length: 15\r\nTransfer-Encoding: chunked"}) {
    RawHttpConnection raw(server.port());
    ASSERT_TRUE(raw.send("POST /api/v1/jobs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" + length +
                         "\r\n\r\n{\"type\":\"cl\"}xx"));
    const HttpResult result = raw.read_response();
    EXPECT_EQ(result.status, 400) << length << ": " << result.body;
    EXPECT_EQ(result.error_code(), "invalid_argument") << result.body;
  }
  EXPECT_EQ(server.cli().job_count(), 0u);
  // Two lengths, the first one fitting the JSON body exactly: it used to be created.
  RawHttpConnection raw(server.port());
  ASSERT_TRUE(raw.send("POST /api/v1/jobs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                       "Content-Length: 13\r\nContent-Length: 99\r\n\r\n{\"type\":\"cl\"}"));
  const HttpResult two = raw.read_response();
  EXPECT_EQ(two.status, 400) << two.body;
  EXPECT_NE(two.body.find("Content-Length"), std::string::npos) << two.body;
  const auto connection = two.headers.find("Connection");
  ASSERT_NE(connection, two.headers.end());
  EXPECT_EQ(connection->second, "close");
  EXPECT_EQ(server.cli().job_count(), 0u);
}

// DNS rebinding: a page whose own name resolves to 127.0.0.1 is same-origin with
// itself, so Origin matches Host; without a token only loopback names are answered.
TEST(HttpSecurity, WithoutATokenOnlyLoopbackHostNamesAreAnswered) {
  QuernServer server({"--concurrency", "0"});
  const std::string port = std::to_string(server.port());
  for (const std::string& host : std::vector<std::string>{"attacker.example:" + port, "attacker.example", "192.0.2.1:" + port}) {
    RawHttpConnection raw(server.port());
    ASSERT_TRUE(raw.send_request("POST", "/api/v1/jobs", R"({"command":["touch","pwned"]})",
                                 {"Host: " + host, "Origin: http://" + host, "Content-Type: application/json"}));
    const HttpResult write = raw.read_response();
    EXPECT_EQ(write.status, 403) << host << ": " << write.body;
    EXPECT_EQ(write.error_code(), "forbidden") << write.body;
    RawHttpConnection reader(server.port());
    ASSERT_TRUE(reader.send_request("GET", "/api/v1/jobs", "", {"Host: " + host}));
    EXPECT_EQ(reader.read_response().status, 403) << host;
  }
  EXPECT_EQ(server.cli().job_count(), 0u);
  for (const std::string& host : std::vector<std::string>{"127.0.0.1:" + port, "localhost:" + port, "[::1]:" + port, "localhost",
                                                          "LocalHost:" + port}) {
    RawHttpConnection raw(server.port());
    ASSERT_TRUE(raw.send_request("GET", "/api/v1/stats", "", {"Host: " + host}));
    EXPECT_EQ(raw.read_response().status, 200) << host;
  }
  // With a token, the token decides, whatever name the client used.
  QuernServer with_token({"--concurrency", "0", "--token", kToken});
  RawHttpConnection raw(with_token.port());
  ASSERT_TRUE(raw.send_request("GET", "/api/v1/stats", "",
                               {"Host: queue.internal.example", std::string("Authorization: Bearer ") + kToken}));
  EXPECT_EQ(raw.read_response().status, 200);
}

// A client without the token is refused before its body is read: no one can make the
// server read 30 MB without it.
TEST(HttpSecurity, TokenIsCheckedBeforeTheBodyIsRead) {
  QuernServer server({"--concurrency", "0", "--token", kToken});
  RawHttpConnection raw(server.port());
  // 30 MB declared, one byte sent: the answer comes without waiting for the rest.
  ASSERT_TRUE(raw.send("POST /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(server.port()) +
                       "\r\nContent-Type: application/json\r\nContent-Length: 31457280\r\n\r\n{"));
  const HttpResult refused = raw.read_response();
  EXPECT_EQ(refused.status, 401) << refused.body;
  EXPECT_EQ(refused.error_code(), "unauthenticated");
}

TEST(HttpSecurity, ABrowsersBodyMustBeJson) {
  QuernServer server({"--concurrency", "0"});
  const std::string own_origin = "http://127.0.0.1:" + std::to_string(server.port());
  RawHttpConnection raw(server.port());
  // A form post, as a page could make a browser send without asking.
  ASSERT_TRUE(raw.send_request("POST", "/api/v1/jobs", R"({"type":"a"})", {"Origin: " + own_origin, "Content-Type: text/plain"}));
  const HttpResult form = raw.read_response();
  EXPECT_EQ(form.status, 415) << form.body;
  EXPECT_EQ(server.cli().job_count(), 0u);
  // curl and scripts are not browsers: their bodies are taken as JSON whatever they say.
  ASSERT_TRUE(raw.send_request("POST", "/api/v1/jobs", R"({"type":"a"})", {"Content-Type: application/x-www-form-urlencoded"}));
  EXPECT_EQ(raw.read_response().status, 201);
}

TEST(HttpSecurity, OverlongPathsAndTooManyHeadersAreRefused) {
  QuernServer server({"--concurrency", "0"});
  const HttpResult long_path = server.get("/api/v1/jobs/" + std::string(5000, '1'));
  EXPECT_EQ(long_path.status, 414);
  EXPECT_EQ(long_path.error_code(), "invalid_argument");
  // With a body the connection is closed, since the body was never read.
  RawHttpConnection raw(server.port());
  ASSERT_TRUE(raw.send_request("POST", "/api/v1/" + std::string(5000, 'a'), R"({"type":"a"})"));
  EXPECT_EQ(raw.read_response().status, 414);

  // A GET with a body: refused, and the connection closed (the body is not read).
  RawHttpConnection get_with_body(server.port());
  ASSERT_TRUE(get_with_body.send_request("GET", "/api/v1/stats", R"({"x":1})"));
  EXPECT_EQ(get_with_body.read_response().status, 400);

  httplib::Headers many;
  for (int i = 0; i < 150; ++i) many.emplace("X-Filler-" + std::to_string(i), "1");
  const HttpResult headers = server.get("/api/v1/stats", many);
  EXPECT_EQ(headers.status, 431);
  // One header line over 8 KiB: refused by the parser, in the same error shape.
  const HttpResult long_header = server.get("/api/v1/stats", {{"X-Filler", std::string(20000, 'x')}});
  EXPECT_EQ(long_header.status, 400);
  EXPECT_EQ(long_header.error_code(), "invalid_argument");
  EXPECT_EQ(server.get("/api/v1/stats").status, 200);
}

TEST(HttpSecurity, DashboardHasStrictHeadersAndNoInlineScript) {
  QuernServer server({"--concurrency", "0"});
  const HttpResult page = server.get("/");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.header("Content-Type").rfind("text/html", 0), 0u);
  const std::string policy = page.header("Content-Security-Policy");
  EXPECT_NE(policy.find("default-src 'self'"), std::string::npos) << policy;
  EXPECT_EQ(policy.find("unsafe-inline"), std::string::npos) << policy;
  EXPECT_EQ(page.header("X-Frame-Options"), "DENY");
  EXPECT_EQ(page.header("X-Content-Type-Options"), "nosniff");
  // Every <script> of the page loads a file.
  size_t at = 0;
  while ((at = page.body.find("<script", at)) != std::string::npos) {
    const size_t end = page.body.find('>', at);
    EXPECT_NE(page.body.substr(at, end - at).find("src="), std::string::npos) << page.body.substr(at, 200);
    at = end;
  }
}

}  // namespace
}  // namespace quern::http_test
