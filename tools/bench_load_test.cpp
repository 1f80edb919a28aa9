#include "bench_load.hpp"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

using namespace webhookd::bench;

namespace {

/// A cpp-httplib server on a free loopback port: POST /ok answers 202, /busy 503, /close 202
/// with Connection: close, /chunked 202 with a chunked body. Counts the requests it served.
struct test_server {
  test_server() {
    server.Post("/ok", [this](const httplib::Request& req, httplib::Response& res) {
      ++served;
      if (req.get_header_value("X-Test") == "yes") ++tagged;
      res.status = 202;
      res.set_content(R"({"accepted":1})", "application/json");
    });
    server.Post("/busy", [this](const httplib::Request&, httplib::Response& res) {
      ++served;
      res.status = 503;
      res.set_content("busy", "text/plain");
    });
    server.Post("/close", [this](const httplib::Request&, httplib::Response& res) {
      ++served;
      res.status = 202;
      res.set_header("Connection", "close");
      res.set_content("{}", "application/json");
    });
    server.Post("/chunked", [this](const httplib::Request&, httplib::Response& res) {
      ++served;
      res.status = 202;
      res.set_chunked_content_provider("text/plain", [](size_t, httplib::DataSink& sink) {
        sink.write("x", 1);
        sink.done();
        return true;
      });
    });
    port = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    thread = std::thread([this] { server.listen_after_bind(); });
    // stop() does nothing before the accept loop runs: wait for it.
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!server.is_running()) {
      REQUIRE(std::chrono::steady_clock::now() < until);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~test_server() {
    server.stop();
    thread.join();
  }

  httplib::Server server;
  int port = 0;
  std::atomic<int> served{0};
  std::atomic<int> tagged{0};
  std::thread thread;
};

load_settings settings_for(const test_server& s, int connections) {
  load_settings settings;
  settings.base_url = "http://127.0.0.1:" + std::to_string(s.port);
  settings.connections = connections;
  settings.warmup = std::chrono::milliseconds(50);
  settings.duration = std::chrono::milliseconds(200);
  settings.drain_timeout = std::chrono::seconds(10);
  settings.request_timeout = std::chrono::seconds(10);
  return settings;
}

request_factory post_to(const std::string& path) {
  return [path](int64_t seq, int64_t, bool) {
    prepared_request r;
    r.path = path;
    r.body = R"({"seq":)" + std::to_string(seq) + "}";
    r.headers = {"X-Test: yes"};
    r.events = 2;
    return r;
  };
}

/// A short closed-model run of `client` with `connections` against `path` of `server`.
load_result run_against(const test_server& server, load_client client, int connections,
                        const std::string& path) {
  auto settings = settings_for(server, connections);
  settings.client = client;
  return run_load(settings, post_to(path));
}

}  // namespace

TEST_CASE("run_load: each client counts every answer of a closed-model run", "[unit]") {
  auto client = GENERATE(load_client::raw, load_client::curl);
  test_server server;
  load_result r = run_against(server, client, 4, "/ok");
  INFO("client " << (client == load_client::raw ? "raw" : "curl")
                 << ", first error: " << r.first_error);
  REQUIRE(r.sent > 0);
  CHECK(r.ok == r.sent);
  CHECK(r.failed == 0);
  CHECK(r.abandoned == 0);
  CHECK(r.events_ok == 2 * r.ok);
  CHECK(r.statuses == std::map<int, int64_t>{{202, r.ok}});
  CHECK(r.latency_ms.size() == static_cast<std::size_t>(r.ok));
  CHECK(r.latency_at_s.size() == static_cast<std::size_t>(r.ok));
  // Warm-up requests were sent and answered too, outside the figures.
  CHECK(server.served.load() > r.sent);
  CHECK(server.tagged.load() == server.served.load());
}

TEST_CASE("run_load: non-2xx answers are failures with the first status named", "[unit]") {
  auto client = GENERATE(load_client::raw, load_client::curl);
  test_server server;
  load_result r = run_against(server, client, 2, "/busy");
  REQUIRE(r.sent > 0);
  CHECK(r.ok == 0);
  CHECK(r.failed == r.sent);
  CHECK(r.first_error == "HTTP 503");
  CHECK(r.statuses == std::map<int, int64_t>{{503, r.sent}});
}

TEST_CASE("run_load: an open-model run sends on its schedule and every request is answered",
          "[unit]") {
  test_server server;
  auto settings = settings_for(server, 4);
  settings.rate = 500;
  load_result r = run_load(settings, post_to("/ok"));
  REQUIRE(r.sent > 0);
  CHECK(r.ok == r.sent);
  // The requests of the measured window only: 500/s over 200 ms, by the schedule (not timing).
  CHECK(r.sent <= 100);
  CHECK(r.late_start_ms_max >= 0);
}

TEST_CASE("run_load raw: a server that closes after each answer is reconnected", "[unit]") {
  test_server server;
  load_result r = run_against(server, load_client::raw, 2, "/close");
  REQUIRE(r.sent > 2);
  CHECK(r.ok == r.sent);
  CHECK(r.failed == 0);
}

TEST_CASE("run_load raw: a chunked answer is a failure that says why", "[unit]") {
  test_server server;
  load_result r = run_against(server, load_client::raw, 1, "/chunked");
  REQUIRE(r.sent > 0);
  CHECK(r.ok == 0);
  CHECK(r.failed == r.sent);
  CHECK(r.first_error == "chunked answers are not supported by the raw client");
}

TEST_CASE("run_load raw: nothing listening is an error before any load", "[unit]") {
  // A port that was free a moment ago, bound without a listener and released.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  int port = ntohs(addr.sin_port);
  load_settings settings;
  settings.base_url = "http://127.0.0.1:" + std::to_string(port);
  CHECK_THROWS_WITH(run_load(settings, post_to("/ok")),
                    Catch::Contains("cannot connect to http://127.0.0.1:"));
}
