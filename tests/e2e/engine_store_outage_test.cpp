// A store outage: with webhookd on PostgreSQL, PostgreSQL is stopped; ingestion answers 503 with
// Retry-After and never 202 while it is down, /readyz answers 503 naming the store, webhookd
// keeps running, and once PostgreSQL is back new events are accepted and delivered, /readyz is
// 200 again and the store-unreachable alert reaches the alert client's webhook.
//
// Needs scripts/with-postgres.sh, which also exports WEBHOOKD_TEST_PG_DATA (the data directory)
// and WEBHOOKD_TEST_PG_CTL (the pg_ctl command, run as the postgres user when needed). Stopping
// the server affects every test using it: ctest runs this one alone (RUN_SERIAL).

#include <catch2/catch.hpp>

#include <cstdlib>
#include <deque>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/e2e/engine_support.hpp"

using namespace webhookd::e2e;
using nlohmann::json;

namespace {

std::string require_env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    throw std::runtime_error(std::string(name) +
                             " is not set: run this test through scripts/with-postgres.sh");
  }
  return value;
}

// Stops the test PostgreSQL server and starts it again; the destructor starts it if a test
// failure left it stopped, so later tests find it up.
class pg_server_control {
 public:
  pg_server_control()
      : ctl_(require_env("WEBHOOKD_TEST_PG_CTL")), data_(require_env("WEBHOOKD_TEST_PG_DATA")) {}
  ~pg_server_control() {
    if (stopped_) start();
  }

  /// pg_ctl stop -m fast, waiting until it is down; true on success.
  bool stop() {
    bool ok = run(ctl_ + " -D '" + data_ + "' -m fast -w stop");
    stopped_ = stopped_ || ok;
    return ok;
  }
  /// pg_ctl start, waiting until it accepts connections; true on success. Restarting the test's
  /// own database server is not what is under test, so a start that fails is tried once more;
  /// failure() then tells why each try failed (the end of the server's log).
  bool start() {
    failure_.clear();
    for (int attempt = 1; attempt <= 2; ++attempt) {
      if (run(ctl_ + " -D '" + data_ + "' -w -t 60 -l '" + log_path() + "' start")) {
        stopped_ = false;
        return true;
      }
      failure_ += "pg_ctl start failed (try " + std::to_string(attempt) + "); its log ends:\n" +
                  log_tail(20);
    }
    return false;
  }
  const std::string& failure() const { return failure_; }

 private:
  static bool run(const std::string& command) { return std::system(command.c_str()) == 0; }
  std::string log_path() const { return data_ + "/e2e-restart.log"; }
  std::string log_tail(std::size_t lines) const {
    std::ifstream in(log_path());
    std::deque<std::string> tail;
    for (std::string line; std::getline(in, line);) {
      tail.push_back(line);
      if (tail.size() > lines) tail.pop_front();
    }
    std::string text;
    for (const auto& line : tail) text += line + "\n";
    return text;
  }

  std::string ctl_;
  std::string data_;
  std::string failure_;
  bool stopped_ = false;
};

}  // namespace

TEST_CASE("a store outage answers 503 with Retry-After, never 202, and delivery resumes after",
          "[e2e][engine][pg]") {
  pg_database database;
  pg_server_control postgres;
  world_options options;
  options.store_url = database.url();
  options.extra_args = {"--alert-client-id", "ops", "--health-interval", "0.2"};
  engine_world world(options);
  const std::string path = "/outage";
  world.add_webhook(path, {"invoice.paid"}, {{"retry_policy", fast_retry_policy(5)}});
  // The operator's alert webhook.
  const std::string alerts_path = "/ops/alerts";
  api_client ops(world.server(), "ops");
  auto alert_hook = ops.create_webhook({{"callback_url", world.sink().url(alerts_path)},
                                        {"event_types", {"webhookd.alert.*"}},
                                        {"retry_policy", fast_retry_policy(5)}});
  world.sink().configure({{"path", alerts_path}, {"secrets", {alert_hook.signing_secret}}});
  auto poster = world.poster();
  poster.accept_event(make_event(world.client_id(), "evt_outage_before", "invoice.paid"));
  REQUIRE(world.sink().wait_for(path, 1, milliseconds{30'000}));

  REQUIRE(postgres.stop());

  // While the store is down: every answer is 503 with Retry-After, over at least 3 s and 10
  // requests (the server's pool needs a moment to notice; that is part of what is tested).
  std::map<int, int> statuses;
  std::string first_other;
  int posts = 0;
  const int64_t outage_start = steady_now_ms();
  while (posts < 10 || steady_now_ms() - outage_start < 3'000) {
    auto answer = poster.post_event(
        make_event(world.client_id(), "evt_outage_down_" + std::to_string(posts), "invoice.paid"));
    ++posts;
    ++statuses[answer.status];
    if (answer.status != 503 && first_other.empty()) first_other = answer.describe();
    if (answer.status == 503 && answer.retry_after.empty() && first_other.empty()) {
      first_other = answer.describe() + " (no Retry-After)";
    }
  }
  INFO("statuses while down: " << json(statuses).dump() << "; first unexpected: " << first_other);
  CHECK(statuses.count(202) == 0);
  CHECK(statuses[503] == posts);
  CHECK(first_other.empty());
  // /readyz names the store (the monitor pings it every 0.2 s).
  int ready_status = 0;
  std::string ready_text;
  CHECK(wait_until(
      [&] {
        auto res = world.server().client().Get("/readyz");
        ready_status = res ? res->status : 0;
        ready_text = res ? res->body : std::string();
        return ready_status == 503;
      },
      milliseconds{10'000}));
  INFO("readyz: " << ready_status << " " << ready_text);
  CHECK(ready_status == 503);
  json ready_body = json::parse(ready_text, nullptr, false);
  CHECK(ready_body["error"]["code"] == "not_ready");
  CHECK(ready_body["error"]["message"].get<std::string>().rfind("store unreachable", 0) == 0);
  REQUIRE(ready_body["not_answering"].is_array());
  CHECK(ready_body["not_answering"][0] == "store");
  REQUIRE(world.server().proc().running());
  // Nothing can be committed while the store is down: the alert is only logged so far.
  CHECK(world.sink().count(alerts_path) == 0);

  const bool restarted = postgres.start();
  INFO(postgres.failure());
  REQUIRE(restarted);

  // Back: a new event is accepted (after the pool reconnects) and delivered.
  http_answer accepted;
  const json after = make_event(world.client_id(), "evt_outage_after", "invoice.paid");
  CHECK(wait_until(
      [&] {
        accepted = poster.post_event(after);
        return accepted.status == 202;
      },
      milliseconds{60'000}));
  INFO("last answer: " << accepted.describe());
  REQUIRE(accepted.status == 202);
  REQUIRE(world.sink().wait_for(path, 2, milliseconds{30'000}));
  bool delivered_after = false;
  for (const auto& d : world.sink().deliveries(path)) {
    if (d.at("event_id") == "evt_outage_after") delivered_after = true;
    CHECK(d.at("verified") == "verified");
  }
  CHECK(delivered_after);
  int ready_again = 0;
  std::string ready_again_text;
  CHECK(wait_until(
      [&] {
        auto res = world.server().client().Get("/readyz");
        ready_again = res ? res->status : 0;
        ready_again_text = res ? res->body : std::string();
        return ready_again == 200;
      },
      milliseconds{10'000}));
  INFO("readyz: " << ready_again << " " << ready_again_text);
  CHECK(ready_again == 200);

  // The store-unreachable alert, held while the store was down, is delivered now: once.
  REQUIRE(world.sink().wait_for(alerts_path, 1, milliseconds{30'000}));
  auto alerts = world.sink().deliveries(alerts_path);
  INFO("alerts: " << alerts.dump(2));
  REQUIRE(alerts.size() == 1);
  CHECK(alerts[0].at("verified") == "verified");
  json alert = json::parse(alerts[0].at("body").get<std::string>());
  CHECK(alert["type"] == "webhookd.alert.store_unreachable");
  CHECK(alert["client_id"] == "ops");
  CHECK(alert["data"]["alert"] == "webhookd.alert.store_unreachable");
  CHECK_FALSE(alert["data"]["error"].get<std::string>().empty());
  CHECK(alert["data"].contains("unreachable_since"));
  CHECK_THAT(world.describe_server(), Catch::Contains("alert webhookd.alert.store_unreachable"));
}
