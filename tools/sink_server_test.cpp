#include "sink_server.hpp"
#include "sink_verify.hpp"

#include <httplib.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <thread>
#include <vector>

using namespace webhookd::sink;
using json = nlohmann::json;

namespace {

const std::string secret_a = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const std::string secret_b = "whsec_" + base64_encode("a second, rotated key");

/// A sink serving on a free loopback port for the duration of a test.
struct running_sink {
  explicit running_sink(server_settings settings = {}) : server(with_port0(std::move(settings))) {
    std::signal(SIGPIPE, SIG_IGN);  // clients that give up must not kill the test
    const auto bound = server.bind();
    REQUIRE(std::holds_alternative<int>(bound));
    port = std::get<int>(bound);
    thread = std::thread([this] { served_ok = server.serve_blocking(); });
  }
  ~running_sink() {
    server.stop();
    thread.join();
  }
  static server_settings with_port0(server_settings s) {
    s.port = 0;
    return s;
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(10, 0);
    return c;
  }
  json get_json(const std::string& target) const {
    auto res = client().Get(target.c_str());
    REQUIRE(res);
    return json::parse(res->body);
  }
  void configure(const json& config) const {
    auto res = client().Post("/_sink/config", config.dump(), "application/json");
    REQUIRE(res);
    REQUIRE(res->status == 200);
  }

  sink_server server;
  int port = 0;
  bool served_ok = false;
  std::thread thread;
};

/// Posts a Standard Webhooks delivery signed with `secrets` (none: unsigned).
httplib::Result deliver(httplib::Client& client, const std::string& path, const std::string& id,
                        const std::string& body, const std::vector<std::string>& secrets) {
  const std::string timestamp = "1700000000";
  std::string signature;
  for (const auto& secret : secrets) {
    if (!signature.empty()) signature += ' ';
    signature += sign_v1(*decode_secret(secret), id, timestamp, body);
  }
  httplib::Headers headers{
      {"webhook-id", id}, {"webhook-timestamp", timestamp}, {"X-Custom", "yes"}};
  if (!signature.empty()) headers.emplace("webhook-signature", signature);
  return client.Post(path.c_str(), headers, body, "application/json");
}

}  // namespace

TEST_CASE("sink verifies, counts duplicates and records deliveries", "[unit][sink]") {
  server_settings settings;
  settings.keys.push_back(*decode_secret(secret_a));
  running_sink sink(settings);
  auto client = sink.client();

  auto res = deliver(client, "/hooks/a", "msg_1", R"({"id":"evt_1","type":"t"})", {secret_a});
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == "ok");
  REQUIRE(deliver(client, "/hooks/a", "msg_1", R"({"id":"evt_1","type":"t"})", {secret_a}));
  // Rotation: both signatures in the header, one of them matches.
  REQUIRE(deliver(client, "/hooks/a", "msg_2", R"({"id":"evt_2"})", {secret_b, secret_a}));
  // Wrong key, and no signature at all.
  REQUIRE(deliver(client, "/hooks/a", "msg_3", R"({"id":"evt_3"})", {secret_b}));
  REQUIRE(deliver(client, "/hooks/a", "msg_4", R"({"id":"evt_3"})", {}));

  const json stats = sink.get_json("/_sink/stats");
  CHECK(stats["total"] == 5);
  const json a = stats["paths"]["/hooks/a"];
  CHECK(a["count"] == 5);
  CHECK(a["verified"] == 3);
  CHECK(a["failed_verification"] == 2);
  CHECK(a["unchecked"] == 0);
  CHECK(a["duplicates"] == 1);
  CHECK(a["distinct_ids"] == 4);
  CHECK(a["distinct_event_ids"] == 3);
  CHECK(a["event_duplicates"] == 2);
  CHECK(a["statuses"]["200"] == 5);

  const json listed = sink.get_json("/_sink/deliveries?path=/hooks/a");
  REQUIRE(listed["count"] == 5);
  const json first = listed["deliveries"][0];
  CHECK(first["id"] == "msg_1");
  CHECK(first["timestamp"] == "1700000000");
  CHECK(first["verified"] == "verified");
  CHECK(first["status"] == 200);
  CHECK(first["event_id"] == "evt_1");
  CHECK(first["attempt"] == 1);
  CHECK(first["body"] == R"({"id":"evt_1","type":"t"})");
  CHECK(first["headers"]["x-custom"] == "yes");
  CHECK(first["received_at_ms"].get<std::int64_t>() > 1600000000000);
  CHECK(listed["deliveries"][1]["attempt"] == 2);
  CHECK(listed["deliveries"][3]["verified"] == "failed");

  const json by_id = sink.get_json("/_sink/deliveries?id=msg_1&limit=1");
  REQUIRE(by_id["count"] == 1);
  CHECK(by_id["deliveries"][0]["attempt"] == 2);  // limit keeps the newest
}

TEST_CASE("sink answers a configured sequence of responses, then the steady one", "[unit][sink]") {
  running_sink sink;
  sink.configure({{"path", "/hooks/b"},
                  {"responses", {500, 503, 302}},
                  {"then", 204},
                  {"retry_after", 7},
                  {"location", "http://elsewhere.invalid/"}});
  auto client = sink.client();
  std::vector<int> statuses;
  for (int i = 0; i < 5; ++i) {
    auto res = deliver(client, "/hooks/b", "msg_" + std::to_string(i), "{}", {});
    REQUIRE(res);
    statuses.push_back(res->status);
    // Retry-After only on 429/503, Location only on 3xx.
    CHECK(res->get_header_value("Retry-After") == (res->status == 503 ? "7" : ""));
    CHECK(res->get_header_value("Location") ==
          (res->status == 302 ? "http://elsewhere.invalid/" : ""));
  }
  CHECK(statuses == std::vector<int>{500, 503, 302, 204, 204});
  // Other paths keep the default.
  auto other = deliver(client, "/hooks/other", "msg_x", "{}", {});
  REQUIRE(other);
  CHECK(other->status == 200);

  const json b = sink.get_json("/_sink/stats")["paths"]["/hooks/b"];
  CHECK(b["unchecked"] == 5);
  CHECK(b["statuses"]["204"] == 2);
  CHECK(b["statuses"]["500"] == 1);

  // Re-configuring starts the list over; "*" sets the default of unconfigured paths.
  sink.configure({{"path", "/hooks/b"}, {"responses", {410}}});
  sink.configure({{"path", "*"}, {"then", 429}});
  auto again = deliver(client, "/hooks/b", "msg_y", "{}", {});
  REQUIRE(again);
  CHECK(again->status == 410);
  auto after = deliver(client, "/hooks/b", "msg_z", "{}", {});
  REQUIRE(after);
  CHECK(after->status == 200);
  auto defaulted = deliver(client, "/hooks/new", "msg_n", "{}", {});
  REQUIRE(defaulted);
  CHECK(defaulted->status == 429);
}

TEST_CASE("sink uses a path's own secrets over the global ones", "[unit][sink]") {
  server_settings settings;
  settings.keys.push_back(*decode_secret(secret_a));
  running_sink sink(settings);
  sink.configure({{"path", "/hooks/own"}, {"secrets", {secret_b}}});
  sink.configure({{"path", "/hooks/none"}, {"secrets", json::array()}});
  auto client = sink.client();
  REQUIRE(deliver(client, "/hooks/own", "m1", "{}", {secret_b}));
  REQUIRE(deliver(client, "/hooks/own", "m2", "{}", {secret_a}));
  REQUIRE(deliver(client, "/hooks/none", "m3", "{}", {secret_a}));
  const json paths = sink.get_json("/_sink/stats")["paths"];
  CHECK(paths["/hooks/own"]["verified"] == 1);
  CHECK(paths["/hooks/own"]["failed_verification"] == 1);
  CHECK(paths["/hooks/none"]["unchecked"] == 1);
  // Secrets are never echoed back.
  CHECK(sink.get_json("/_sink/config")["/hooks/own"]["secrets"] == 1);
}

TEST_CASE("sink rejects malformed configs", "[unit][sink]") {
  running_sink sink;
  auto client = sink.client();
  for (const std::string body :
       {R"({"responses":[500]})", R"({"path":"/a","responses":[99]})",
        R"({"path":"/a","then":"later"})", R"({"path":"/a","secrets":["whsec_!!"]})",
        R"({"path":"/a","delay":5})", R"({"path":"/_sink/stats"})", "not json"}) {
    auto res = client.Post("/_sink/config", body, "application/json");
    REQUIRE(res);
    CHECK(res->status == 400);
    CHECK(json::parse(res->body)["error"]["code"].is_string());
  }
  auto res = client.Post("/_sink/nope", "{}", "application/json");
  REQUIRE(res);
  CHECK(res->status == 404);
  CHECK(sink.get_json("/_sink/stats")["total"] == 0);
}

TEST_CASE("sink holds a hanging request until the client gives up", "[unit][sink]") {
  running_sink sink;
  sink.configure({{"path", "/hooks/slow"}, {"responses", {"hang"}}, {"then", 200}});
  auto impatient = sink.client();
  impatient.set_read_timeout(0, 300000);  // 300 ms
  const auto start = std::chrono::steady_clock::now();
  auto res = deliver(impatient, "/hooks/slow", "m1", "{}", {});
  CHECK_FALSE(res);
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(250));
  auto client = sink.client();
  auto second = deliver(client, "/hooks/slow", "m1", "{}", {});
  REQUIRE(second);
  CHECK(second->status == 200);
  const json slow = sink.get_json("/_sink/stats")["paths"]["/hooks/slow"];
  CHECK(slow["hangs"] == 1);
  CHECK(slow["duplicates"] == 1);
  CHECK(sink.get_json("/_sink/deliveries?path=/hooks/slow")["deliveries"][0]["status"].is_null());
  // The held request is let go on release, so the sink stops promptly afterwards anyway.
  REQUIRE(client.Post("/_sink/release"));
}

TEST_CASE("sink delays answers by delay_ms", "[unit][sink]") {
  running_sink sink;
  sink.configure({{"path", "/hooks/delay"}, {"delay_ms", 200}});
  auto client = sink.client();
  const auto start = std::chrono::steady_clock::now();
  auto res = deliver(client, "/hooks/delay", "m1", "{}", {});
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(200));
}

TEST_CASE("sink wait returns once the count is reached, 408 otherwise", "[unit][sink]") {
  running_sink sink;
  auto waiter = sink.client();
  std::thread sender([port = sink.port] {
    httplib::Client client("127.0.0.1", port);
    for (int i = 0; i < 3; ++i) deliver(client, "/hooks/w", "m" + std::to_string(i), "{}", {});
  });
  auto res = waiter.Get("/_sink/wait?path=/hooks/w&count=3&timeout_ms=10000");
  sender.join();
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(json::parse(res->body)["count"] == 3);
  auto late = waiter.Get("/_sink/wait?path=/hooks/w&count=4&timeout_ms=100");
  REQUIRE(late);
  CHECK(late->status == 408);
  CHECK(json::parse(late->body)["reached"] == false);
}

TEST_CASE("sink keeps a bounded record but exact counts; reset clears all", "[unit][sink]") {
  server_settings settings;
  settings.keep = 3;
  running_sink sink(settings);
  auto client = sink.client();
  sink.configure({{"path", "/hooks/k"}, {"then", 500}});
  for (int i = 0; i < 5; ++i) deliver(client, "/hooks/k", "m" + std::to_string(i), "{}", {});
  const json stats = sink.get_json("/_sink/stats");
  CHECK(stats["total"] == 5);
  CHECK(stats["recorded"] == 3);
  CHECK(stats["dropped"] == 2);
  const json listed = sink.get_json("/_sink/deliveries?path=/hooks/k");
  REQUIRE(listed["count"] == 3);
  CHECK(listed["deliveries"][0]["id"] == "m2");
  CHECK(sink.get_json("/_sink/deliveries?after=4")["count"] == 1);

  REQUIRE(client.Post("/_sink/reset"));
  CHECK(sink.get_json("/_sink/stats")["total"] == 0);
  CHECK(sink.get_json("/_sink/deliveries")["count"] == 0);
  auto res = deliver(client, "/hooks/k", "m9", "{}", {});
  REQUIRE(res);
  CHECK(res->status == 200);  // the config went with the reset
}

TEST_CASE("sink stops promptly while a request hangs", "[unit][sink]") {
  auto sink = std::make_unique<running_sink>();
  sink->configure({{"path", "/hooks/h"}, {"hang", true}});
  std::thread stuck([port = sink->port] {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(60, 0);
    deliver(client, "/hooks/h", "m1", "{}", {});
  });
  auto waiter = sink->client();
  waiter.set_keep_alive(true);  // left open and idle: stop() must not wait for its timeout
  REQUIRE(waiter.Get("/_sink/wait?path=/hooks/h&count=1")->status == 200);
  const auto start = std::chrono::steady_clock::now();
  sink.reset();
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  stuck.join();
}

TEST_CASE("sink serves deliveries while more requests hang than it has threads", "[unit][sink]") {
  server_settings settings;
  settings.threads = 1;
  running_sink sink(settings);
  sink.configure({{"path", "/hooks/h"}, {"hang", true}});
  constexpr int hanging = 20;
  std::atomic<int> released{0};  // hanging requests let go with 504 (Catch2 asserts on one thread)
  std::vector<std::thread> stuck;
  for (int i = 0; i < hanging; ++i) {
    stuck.emplace_back([port = sink.port, i, &released] {
      httplib::Client client("127.0.0.1", port);
      client.set_read_timeout(60, 0);
      auto res = deliver(client, "/hooks/h", "h" + std::to_string(i), "{}", {});
      if (res && res->status == 504) ++released;
    });
  }
  auto waiter = sink.client();
  REQUIRE(waiter.Get("/_sink/wait?path=/hooks/h&count=" + std::to_string(hanging))->status == 200);
  auto client = sink.client();
  auto res = deliver(client, "/hooks/ok", "m1", "{}", {});
  REQUIRE(res);
  CHECK(res->status == 200);
  REQUIRE(client.Post("/_sink/release", "", "application/json"));
  for (auto& t : stuck) t.join();
  CHECK(released == hanging);
  CHECK(sink.get_json("/_sink/stats")["paths"]["/hooks/h"]["hangs"] == hanging);
}
