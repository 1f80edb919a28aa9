// A store outage: with webhookd on PostgreSQL, PostgreSQL is stopped; ingestion answers 503 with
// Retry-After and never 202 while it is down, webhookd keeps running, and once PostgreSQL is
// back new events are accepted and delivered.
//
// Needs scripts/with-postgres.sh, which also exports WEBHOOKD_TEST_PG_DATA (the data directory)
// and WEBHOOKD_TEST_PG_CTL (the pg_ctl command, run as the postgres user when needed). Stopping
// the server affects every test using it: ctest runs this one alone (RUN_SERIAL).

#include <catch2/catch.hpp>

#include <cstdlib>
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
  /// pg_ctl start, waiting until it accepts connections; true on success.
  bool start() {
    bool ok = run(ctl_ + " -D '" + data_ + "' -w -t 60 -l '" + data_ + "/e2e-restart.log' start");
    if (ok) stopped_ = false;
    return ok;
  }

 private:
  static bool run(const std::string& command) { return std::system(command.c_str()) == 0; }

  std::string ctl_;
  std::string data_;
  bool stopped_ = false;
};

}  // namespace

TEST_CASE("a store outage answers 503 with Retry-After, never 202, and delivery resumes after",
          "[e2e][engine][pg]") {
  pg_database database;
  pg_server_control postgres;
  world_options options;
  options.store_url = database.url();
  engine_world world(options);
  const std::string path = "/outage";
  world.add_webhook(path, {"invoice.paid"}, {{"retry_policy", fast_retry_policy(5)}});
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
  auto ready = world.server().client().Get("/readyz");
  REQUIRE(ready);
  CHECK(ready->status == 503);
  REQUIRE(world.server().proc().running());

  REQUIRE(postgres.start());

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
  auto ready_again = world.server().client().Get("/readyz");
  REQUIRE(ready_again);
  CHECK(ready_again->status == 200);
}
