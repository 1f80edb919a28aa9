#include "actors/http_client.hpp"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace webhookd;
using namespace std::chrono_literals;

namespace {

std::string pattern_body(std::size_t size) {
  std::string body(size, ' ');
  for (std::size_t i = 0; i < size; ++i) body[i] = static_cast<char>('a' + i % 26);
  return body;
}

// What the test server saw of one request.
struct seen_request {
  std::string path;
  std::string method;
  std::string body;
  std::multimap<std::string, std::string> headers;  // as httplib stores them
  int remote_port = 0;
};

// A real HTTP server on 127.0.0.1 and a port the OS picks.
class test_server {
 public:
  test_server() {
    server_.set_tcp_nodelay(true);
    server_.set_keep_alive_max_count(1000);
    server_.set_keep_alive_timeout(2);
    server_.new_task_queue = [] { return new httplib::ThreadPool(48); };
    server_.Post("/ok", [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      res.status = 200;
      res.set_content(pattern_body(10 * 1024), "text/plain");
    });
    server_.Post("/utf8", [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      // A two-byte character straddles the 4096-byte cut.
      res.set_content(std::string(4095, 'x') + "\xC3\xA9" + std::string(100, 'y'), "text/plain");
    });
    server_.Post("/redirect", [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      res.status = 301;
      res.set_header("Location", "/echo");
    });
    server_.Post("/busy", [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      res.status = 503;
      res.set_header("Retry-After", "120");
      res.set_content("try later", "text/plain");
    });
    server_.Post("/echo", [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      res.status = 204;
    });
    server_.Post("/slow", [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      std::unique_lock<std::mutex> lock{mutex_};
      released_cv_.wait_for(lock, 20s, [this] { return released_; });
      res.status = 200;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // httplib's stop() is a no-op before its accept loop runs: wait for it.
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!server_.is_running() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    REQUIRE(server_.is_running());
  }

  ~test_server() {
    release();
    server_.stop();
    thread_.join();
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int port() const { return port_; }

  // Lets every held /slow request answer.
  void release() {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      released_ = true;
    }
    released_cv_.notify_all();
  }

  std::vector<seen_request> seen() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return seen_;
  }

  std::size_t count(const std::string& path) const {
    std::lock_guard<std::mutex> guard{mutex_};
    return count_locked(path);
  }

  // Waits (10 s at most) until `n` requests to `path` have reached a handler; a transfer the
  // client counts as running may not have been read by the server yet.
  bool wait_for_count(const std::string& path, std::size_t n) {
    std::unique_lock<std::mutex> lock{mutex_};
    return seen_cv_.wait_for(lock, 10s, [&] { return count_locked(path) >= n; });
  }

 private:
  void record(const httplib::Request& req) {
    seen_request r;
    r.path = req.path;
    r.method = req.method;
    r.body = req.body;
    r.remote_port = req.remote_port;
    for (const auto& [name, value] : req.headers) r.headers.emplace(name, value);
    {
      std::lock_guard<std::mutex> guard{mutex_};
      seen_.push_back(std::move(r));
    }
    seen_cv_.notify_all();
  }

  std::size_t count_locked(const std::string& path) const {
    return static_cast<std::size_t>(std::count_if(
        seen_.begin(), seen_.end(), [&](const seen_request& r) { return r.path == path; }));
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable seen_cv_;
  std::condition_variable released_cv_;
  bool released_ = false;
  std::vector<seen_request> seen_;
};

std::shared_ptr<const ssrf_policy> make_policy(std::vector<std::string> allow) {
  auto policy = ssrf_policy::create(ssrf_settings{std::move(allow), true});
  REQUIRE(policy.ok());
  return std::make_shared<const ssrf_policy>(std::move(*policy));
}

std::shared_ptr<const ssrf_policy> loopback_policy() {
  return make_policy({"127.0.0.0/8"});
}

// An actor system with one http client; the client is stopped before the system goes away.
class client_env {
 public:
  explicit client_env(std::shared_ptr<const ssrf_policy> policy, std::size_t max_in_flight = 1024,
                      std::size_t max_host_connections = 64, std::size_t suspect_after = 3,
                      std::size_t suspect_connections = 4) {
    cfg_.set("scheduler.max-threads", 2);
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    http_client_settings settings;
    settings.policy = std::move(policy);
    settings.max_in_flight = max_in_flight;
    settings.max_host_connections = max_host_connections;
    settings.suspect_after_timeouts = suspect_after;
    settings.suspect_host_connections = suspect_connections;
    settings.user_agent = "webhookd/test";
    client_ = spawn_http_client(*sys_, std::move(settings));
  }

  ~client_env() {
    caf::anon_send_exit(client_, caf::exit_reason::user_shutdown);
    client_ = nullptr;
    sys_.reset();  // waits for every actor
  }

  caf::actor_system& sys() { return *sys_; }
  const http_client_actor& client() const { return client_; }

  // One request, answered within a generous deadline.
  http_response call(const http_request& request) {
    caf::scoped_actor self{*sys_};
    http_response out;
    bool answered = false;
    self->request(client_, 30s, request)
        .receive(
            [&](http_response& response) {
              out = std::move(response);
              answered = true;
            },
            [&](caf::error& err) { FAIL_CHECK("request failed: " << sys_->render(err)); });
    REQUIRE(answered);
    return out;
  }

  http_client_stats stats() {
    caf::scoped_actor self{*sys_};
    http_client_stats out;
    self->request(client_, 10s, state_atom::value)
        .receive([&](http_client_stats& s) { out = s; },
                 [&](caf::error& err) { FAIL("state query failed: " << sys_->render(err)); });
    return out;
  }

  // Polls the client's counters until `condition` holds; false after 10 s.
  template <class Condition>
  bool wait_for_stats(Condition condition) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (condition(stats())) return true;
      std::this_thread::sleep_for(2ms);
    }
    return false;
  }

 private:
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  http_client_actor client_;
};

http_request post(const std::string& url) {
  http_request request;
  request.url = url;
  request.body = R"({"hello":"world"})";
  return request;
}

// A port on 127.0.0.1 with nothing listening.
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Accepts one connection on 127.0.0.1, keeps the raw request head, answers 204 and closes.
class raw_head_server {
 public:
  raw_head_server() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(fd_, 4) == 0);
    socklen_t len = sizeof(addr);
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve_one(); });
  }
  ~raw_head_server() {
    ::shutdown(fd_, SHUT_RDWR);  // unblocks accept if no client came
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  // The request line and headers; complete once the client has its answer.
  std::string head() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return head_;
  }

 private:
  void serve_one() {
    int conn = ::accept(fd_, nullptr, nullptr);
    if (conn < 0) return;
    std::string data;
    char buffer[4096];
    while (data.find("\r\n\r\n") == std::string::npos) {
      auto n = ::recv(conn, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      data.append(buffer, static_cast<std::size_t>(n));
    }
    {
      std::lock_guard<std::mutex> guard{mutex_};
      head_ = data.substr(0, data.find("\r\n\r\n") + 2);
    }
    const std::string answer = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
    (void)::send(conn, answer.data(), answer.size(), MSG_NOSIGNAL);
    ::close(conn);
  }

  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::string head_;
};

}  // namespace

TEST_CASE("http_client: a 200 answer keeps the first 4096 bytes of the body", "[unit]") {
  test_server server;
  client_env env{loopback_policy()};
  auto response = env.call(post(server.url("/ok")));
  CHECK(response.error_kind.empty());
  CHECK(response.error.empty());
  CHECK(response.status_code == 200);
  CHECK(response.body_excerpt.size() == http_body_excerpt_limit);
  CHECK(response.body_excerpt == pattern_body(10 * 1024).substr(0, 4096));
  CHECK(response.retry_after.empty());
  CHECK(response.location.empty());
  CHECK(response.duration_ms >= 0);
}

TEST_CASE("http_client: an excerpt cut inside a UTF-8 character drops the partial character",
          "[unit]") {
  test_server server;
  client_env env{loopback_policy()};
  auto response = env.call(post(server.url("/utf8")));
  CHECK(response.status_code == 200);
  CHECK(response.body_excerpt == std::string(4095, 'x'));
}

TEST_CASE("http_client: a redirect is reported, never followed", "[unit]") {
  test_server server;
  client_env env{loopback_policy()};
  auto response = env.call(post(server.url("/redirect")));
  CHECK(response.error_kind.empty());
  CHECK(response.status_code == 301);
  CHECK(response.location == "/echo");
  CHECK(server.count("/redirect") == 1);
  CHECK(server.count("/echo") == 0);
}

TEST_CASE("http_client: 503 with Retry-After is captured", "[unit]") {
  test_server server;
  client_env env{loopback_policy()};
  auto response = env.call(post(server.url("/busy")));
  CHECK(response.error_kind.empty());
  CHECK(response.status_code == 503);
  CHECK(response.retry_after == "120");
  CHECK(response.body_excerpt == "try later");
}

TEST_CASE("http_client: method, headers and body reach the server", "[unit]") {
  test_server server;
  client_env env{loopback_policy()};
  auto request = post(server.url("/echo"));
  request.headers = {{"webhook-id", "msg_123"}, {"X-Custom", "a b c"}};
  request.body = std::string(100 * 1024, 'z');  // big enough that curl would use Expect: 100
  auto response = env.call(request);
  CHECK(response.error_kind.empty());
  CHECK(response.status_code == 204);
  auto seen = server.seen();
  REQUIRE(seen.size() == 1);
  const auto& r = seen.front();
  CHECK(r.method == "POST");
  CHECK(r.body == request.body);
  auto lower = [](std::string text) {
    for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
  };
  auto header = [&](const std::string& name) -> std::string {
    for (const auto& [key, value] : r.headers)
      if (lower(key) == lower(name)) return value;
    return "<absent>";
  };
  CHECK(header("webhook-id") == "msg_123");
  CHECK(header("X-Custom") == "a b c");
  CHECK(header("User-Agent") == "webhookd/test");
  CHECK(header("Content-Type") == "application/json");
  CHECK(header("Expect") == "<absent>");
}

TEST_CASE("http_client: a header with an empty value is sent empty", "[unit]") {
  raw_head_server server;
  client_env env{loopback_policy()};
  auto request = post("http://127.0.0.1:" + std::to_string(server.port()) + "/hook");
  request.headers = {{"X-Empty", ""}, {"X-Full", "1"}};
  auto response = env.call(request);
  CHECK(response.status_code == 204);
  auto head = server.head();
  CHECK(head.rfind("POST /hook HTTP/1.1\r\n", 0) == 0);
  CHECK(head.find("\r\nX-Empty:\r\n") != std::string::npos);
  CHECK(head.find("\r\nX-Full: 1\r\n") != std::string::npos);
}

TEST_CASE("http_client: a content-type header replaces the JSON default", "[unit]") {
  test_server server;
  client_env env{loopback_policy()};
  auto request = post(server.url("/echo"));
  request.headers = {{"content-type", "application/jose"}};
  CHECK(env.call(request).status_code == 204);
  auto seen = server.seen();
  REQUIRE(seen.size() == 1);
  CHECK(seen.front().headers.count("Content-Type") + seen.front().headers.count("content-type") ==
        1);
  auto it = seen.front().headers.find("content-type");
  if (it == seen.front().headers.end()) it = seen.front().headers.find("Content-Type");
  REQUIRE(it != seen.front().headers.end());
  CHECK(it->second == "application/jose");
}

TEST_CASE("http_client: sequential requests to one host reuse the connection", "[unit]") {
  test_server server;
  client_env env{loopback_policy()};
  for (int i = 0; i < 3; ++i) CHECK(env.call(post(server.url("/echo"))).status_code == 204);
  auto seen = server.seen();
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].remote_port == seen[1].remote_port);
  CHECK(seen[1].remote_port == seen[2].remote_port);
}

TEST_CASE("http_client: a server slower than the total timeout gives a timeout", "[unit]") {
  test_server server;
  client_env env{loopback_policy()};
  auto request = post(server.url("/slow"));
  request.total_timeout_ms = 300;
  auto response = env.call(request);
  CHECK(response.error_kind == "timeout");
  CHECK(response.status_code == 0);
  CHECK_FALSE(response.error.empty());
  CHECK(response.duration_ms >= 300);
}

TEST_CASE("http_client: a closed port gives connect_refused", "[unit]") {
  client_env env{loopback_policy()};
  auto response = env.call(post("http://127.0.0.1:" + std::to_string(closed_port()) + "/"));
  CHECK(response.error_kind == "connect_refused");
  CHECK(response.status_code == 0);
  CHECK_FALSE(response.error.empty());
}

TEST_CASE("http_client: the SSRF policy is enforced at connect time", "[unit]") {
  test_server server;
  client_env env{make_policy({})};  // no allowlist: loopback is private

  SECTION("an IP literal") {
    auto response = env.call(post(server.url("/echo")));
    CHECK(response.error_kind == "blocked_by_policy");
    CHECK(response.status_code == 0);
    CHECK(response.error.find("127.0.0.1") != std::string::npos);
  }
  SECTION("a host name that resolves to loopback") {
    auto response = env.call(post("http://localhost:" + std::to_string(server.port()) + "/echo"));
    CHECK(response.error_kind == "blocked_by_policy");
    bool names_address = response.error.find("127.0.0.1") != std::string::npos ||
                         response.error.find("::1") != std::string::npos;
    CHECK(names_address);
  }
  CHECK(server.seen().empty());
}

TEST_CASE("http_client: a host name reaches an allowlisted address", "[unit]") {
  test_server server;
  client_env env{make_policy({"127.0.0.0/8", "::1"})};
  auto response = env.call(post("http://localhost:" + std::to_string(server.port()) + "/echo"));
  CHECK(response.error_kind.empty());
  CHECK(response.status_code == 204);
  CHECK(server.count("/echo") == 1);
}

TEST_CASE("http_client: a name that does not resolve gives dns", "[unit]") {
  client_env env{loopback_policy()};
  auto response = env.call(post("http://no-such-host.invalid/hook"));
  CHECK(response.error_kind == "dns");
  CHECK(response.status_code == 0);
}

TEST_CASE("http_client: invalid requests are refused without a connection", "[unit]") {
  test_server server;
  client_env env{loopback_policy()};
  SECTION("a URL that does not parse") {
    auto response = env.call(post("ftp://127.0.0.1/x"));
    CHECK(response.error_kind == "other");
    CHECK(response.error.find("invalid url") != std::string::npos);
  }
  SECTION("a header value with a line break") {
    auto request = post(server.url("/echo"));
    request.headers = {{"X-Evil", "a\r\nX-Injected: 1"}};
    auto response = env.call(request);
    CHECK(response.error_kind == "other");
  }
  SECTION("a non-positive timeout") {
    auto request = post(server.url("/echo"));
    request.total_timeout_ms = 0;
    CHECK(env.call(request).error_kind == "other");
  }
  CHECK(server.seen().empty());
}

TEST_CASE("http_client: 200 concurrent requests all complete", "[unit]") {
  test_server server;
  client_env env{loopback_policy(), 1024, 16};
  constexpr int total = 200;
  {
    caf::scoped_actor self{env.sys()};
    using handle_type = decltype(self->request(env.client(), 30s, http_request{}));
    std::vector<handle_type> handles;
    handles.reserve(total);
    for (int i = 0; i < total; ++i) {
      auto request = post(server.url("/echo"));
      request.body = std::to_string(i);
      handles.push_back(self->request(env.client(), 30s, request));
    }
    int ok = 0;
    for (auto& handle : handles)
      handle.receive([&](http_response& r) { ok += r.status_code == 204 ? 1 : 0; },
                     [&](caf::error& err) { FAIL_CHECK(env.sys().render(err)); });
    CHECK(ok == total);
  }
  CHECK(server.count("/echo") == total);
  auto stats = env.stats();
  CHECK(stats.pending == 0);
  CHECK(stats.running == 0);
  CHECK(stats.queued == 0);
  CHECK(stats.completed == total);
}

TEST_CASE("http_client: requests beyond max_in_flight queue and run high, standard, bulk",
          "[unit]") {
  test_server server;
  client_env env{loopback_policy(), 1};
  caf::scoped_actor self{env.sys()};
  auto blocker = self->request(env.client(), 30s, post(server.url("/slow")));
  REQUIRE(env.wait_for_stats([](const http_client_stats& s) { return s.running == 1; }));
  using handle_type = decltype(blocker);
  std::vector<handle_type> handles;
  for (int priority : {2, 1, 0, 2, 0}) {
    auto request = post(server.url("/echo"));
    request.priority = priority;
    request.body = std::to_string(priority);
    handles.push_back(self->request(env.client(), 30s, request));
  }
  REQUIRE(env.wait_for_stats([](const http_client_stats& s) { return s.queued == 5; }));
  server.release();
  blocker.receive([](http_response& r) { CHECK(r.status_code == 200); },
                  [&](caf::error& err) { FAIL_CHECK(env.sys().render(err)); });
  for (auto& handle : handles)
    handle.receive([](http_response& r) { CHECK(r.status_code == 204); },
                   [&](caf::error& err) { FAIL_CHECK(env.sys().render(err)); });
  std::string order;
  for (const auto& r : server.seen())
    if (r.path == "/echo") order += r.body;
  CHECK(order == "00122");
}

TEST_CASE("http_client: stopping with requests in flight answers them with an error", "[unit]") {
  test_server server;
  client_env env{loopback_policy(), 3};
  caf::scoped_actor self{env.sys()};
  self->monitor(env.client());
  using handle_type = decltype(self->request(env.client(), 30s, http_request{}));
  std::vector<handle_type> handles;
  for (int i = 0; i < 5; ++i)
    handles.push_back(self->request(env.client(), 30s, post(server.url("/slow"))));
  REQUIRE(env.wait_for_stats(
      [](const http_client_stats& s) { return s.running == 3 && s.queued == 2; }));
  caf::anon_send_exit(env.client(), caf::exit_reason::user_shutdown);
  int failed = 0;
  for (auto& handle : handles)
    handle.receive([](http_response&) { FAIL_CHECK("answered after shutdown"); },
                   [&](caf::error& err) {
                     CHECK(err.category() == caf::atom("system"));
                     CHECK(err.code() == static_cast<uint8_t>(caf::sec::request_receiver_down));
                     ++failed;
                   });
  CHECK(failed == 5);
  bool down = false;
  self->receive([&](caf::down_msg& msg) { down = msg.source == env.client().address(); },
                caf::after(30s) >> [] {});
  CHECK(down);
  // The held server requests see their connections closed; let them finish.
  server.release();
}

TEST_CASE("http_client: a client with no handles left ends on its own", "[unit]") {
  test_server server;
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  caf::actor_system sys{cfg};
  {
    http_client_settings settings;
    settings.policy = loopback_policy();
    auto client = spawn_http_client(sys, settings);
    caf::scoped_actor self{sys};
    self->request(client, 30s, post(server.url("/echo")))
        .receive([](http_response& r) { CHECK(r.status_code == 204); },
                 [&](caf::error& err) { FAIL_CHECK(sys.render(err)); });
  }
  sys.await_all_actors_done();  // hangs (and the ctest timeout fails) if the client lingers
  CHECK(server.count("/echo") == 1);
}

// Requests to `server`'s /slow path held open from `self`, answered once the server releases
// them; `answered_ok` waits for every answer and counts the 200s.
class held_requests {
 public:
  held_requests(client_env& env, caf::scoped_actor& self, test_server& server, int count)
      : env_(env) {
    for (int i = 0; i < count; ++i) {
      auto request = post(server.url("/slow"));
      request.total_timeout_ms = 60000;
      handles_.push_back(self->request(env.client(), 60s, request));
    }
  }

  int answered_ok() {
    int answered = 0;
    for (auto& handle : handles_)
      handle.receive([&](http_response& r) { answered += r.status_code == 200 ? 1 : 0; },
                     [&](caf::error& err) { FAIL_CHECK(env_.sys().render(err)); });
    return answered;
  }

 private:
  using handle_type = decltype(std::declval<caf::scoped_actor&>()->request(
      std::declval<const http_client_actor&>(), 60s, http_request{}));
  client_env& env_;
  std::vector<handle_type> handles_;
};

TEST_CASE("http_client: a hanging host can't take the slots of a healthy one", "[unit]") {
  // Two receivers on two ports, so two hosts to the client. Every slot the client has would go
  // to the hanging one if its requests beyond the host cap counted against max_in_flight.
  test_server hanging;
  test_server healthy;
  client_env env{loopback_policy(), 4, 2};
  caf::scoped_actor self{env.sys()};
  held_requests held{env, self, hanging, 6};
  // Two run on the host's two connections; the other four wait for them, holding no slot.
  REQUIRE(env.wait_for_stats(
      [](const http_client_stats& s) { return s.running == 2 && s.queued == 4; }));
  REQUIRE(hanging.wait_for_count("/slow", 2));
  self->request(env.client(), 60s, post(healthy.url("/echo")))
      .receive([](http_response& r) { CHECK(r.status_code == 204); },
               [&](caf::error& err) { FAIL_CHECK(env.sys().render(err)); });
  // The healthy answer came while every hanging request was still held.
  auto stats = env.stats();
  CHECK(stats.completed == 1);
  CHECK(stats.running == 2);
  CHECK(stats.queued == 4);
  CHECK(hanging.count("/slow") == 2);
  hanging.release();
  CHECK(held.answered_ok() == 6);
}

TEST_CASE("http_client: a host that keeps timing out gets fewer connections until it answers",
          "[unit]") {
  test_server hanging;
  client_env env{loopback_policy(), 64, 4, 2, 1};
  // Two timeouts in a row make the host suspect.
  for (int i = 0; i < 2; ++i) {
    auto request = post(hanging.url("/slow"));
    request.total_timeout_ms = 200;
    CHECK(env.call(request).error_kind == "timeout");
  }
  caf::scoped_actor self{env.sys()};
  held_requests held{env, self, hanging, 3};
  // One connection for the suspect host (four for a healthy one); the others wait.
  REQUIRE(env.wait_for_stats(
      [](const http_client_stats& s) { return s.running == 1 && s.queued == 2; }));
  // Its first answer clears the suspicion, and the rest are sent.
  hanging.release();
  CHECK(held.answered_ok() == 3);
}
