// A delivery as a receiver sees it: the Standard Webhooks signature verifies (checked by
// webhookd-sink's own verifier, not webhookd's signer), the body is the event, and the
// webhook-id is the same on every attempt of one delivery. Run on SQLite and on PostgreSQL.

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/e2e/engine_support.hpp"

using namespace webhookd::e2e;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using nlohmann::json;

namespace {

constexpr milliseconds delivery_timeout{30'000};

// Unix seconds of a delivered timestamp: an integer, or RFC 3339 "2026-11-29T01:34:44.000Z";
// -1 for anything else.
int64_t unix_seconds_of(const json& value) {
  if (value.is_number_integer()) return value.get<int64_t>();
  if (!value.is_string()) return -1;
  std::tm tm{};
  int millis = 0;
  const std::string text = value.get<std::string>();
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis) != 7) {
    return -1;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(::timegm(&tm));
}

void check_signed_delivery(world_options options) {
  engine_world world(std::move(options));
  const std::string path = "/hooks/signed";
  auto hook = world.add_webhook(
      path, {"invoice.paid"},
      {{"retry_policy", fast_retry_policy(3)}, {"headers", {{"x-team", "billing"}}}},
      {{"responses", {500}}, {"then", 200}});

  auto poster = world.poster();
  json payload{{"invoice", "in_77"}, {"amount", 150}, {"customer", {{"country", "DE"}}}};
  json event = make_event(world.client_id(), "evt_signed_1", "invoice.paid", payload);
  auto answer = poster.post_event(event);
  INFO(answer.describe());
  REQUIRE(answer.status == 202);
  CHECK(answer.json == json{{"accepted", 1}, {"duplicates", 0}});

  // The first attempt gets 500, the retry 200: two requests with one webhook-id.
  REQUIRE(world.sink().wait_for(path, 2, delivery_timeout));
  json got = world.sink().deliveries(path);
  INFO("sink deliveries: " << got.dump(2));
  REQUIRE(got.size() == 2);
  const std::string webhook_id = got[0].at("id").get<std::string>();
  CHECK_THAT(webhook_id, StartsWith("msg_"));
  for (std::size_t i = 0; i < got.size(); ++i) {
    const json& d = got[i];
    CHECK(d.at("verified") == "verified");
    CHECK(d.at("id") == webhook_id);
    CHECK(d.at("attempt") == static_cast<int>(i + 1));
    CHECK(d.at("event_id") == "evt_signed_1");
    CHECK_THAT(d.at("signature").get<std::string>(), StartsWith("v1,"));
    const json& headers = d.at("headers");
    CHECK_THAT(headers.value("user-agent", ""), StartsWith("webhookd/"));
    CHECK(headers.value("x-team", "") == "billing");
    CHECK_THAT(headers.value("content-type", ""), Contains("application/json"));
    // webhook-timestamp is the time of this attempt.
    REQUIRE(d.at("timestamp_skew_s").is_number_integer());
    CHECK(std::abs(d.at("timestamp_skew_s").get<int64_t>()) <= 60);

    json body = json::parse(d.at("body").get<std::string>());
    CHECK(body.at("id") == "evt_signed_1");
    CHECK(body.at("type") == "invoice.paid");
    CHECK(body.at("client_id") == world.client_id());
    // The event's time, as RFC 3339 (core/delivery_body) or as the unix seconds it came in as.
    CHECK(unix_seconds_of(body.at("timestamp")) == event.at("timestamp").get<int64_t>());
    CHECK(body.at("data") == payload);
  }
  CHECK(got[0].at("status") == 500);
  CHECK(got[1].at("status") == 200);
  CHECK(std::stoll(got[1].at("timestamp").get<std::string>()) >=
        std::stoll(got[0].at("timestamp").get<std::string>()));

  json stats = world.sink().stats(path);
  CHECK(stats.at("verified") == 2);
  CHECK(stats.at("failed_verification") == 0);
  CHECK(stats.at("distinct_ids") == 1);

  // The store agrees: one delivery, succeeded after two attempts, its id the webhook-id.
  auto& store = world.store();
  auto settled =
      wait_delivery_settled(store, world.client_id(), "evt_signed_1", hook.id, delivery_timeout);
  REQUIRE(settled);
  CHECK(settled->status == webhookd::delivery_status::succeeded);
  CHECK(settled->attempts == 2);
  CHECK(settled->id == webhook_id);
  auto attempts = delivery_attempts(store, world.client_id(), settled->id);
  REQUIRE(attempts.size() == 2);
  CHECK(attempts[0].status_code == 500);
  CHECK(attempts[1].status_code == 200);

  // Posting the same event again is a duplicate: accepted once only, no second delivery row.
  auto again = poster.post_event(event);
  INFO(again.describe());
  REQUIRE(again.status == 202);
  CHECK(again.json == json{{"accepted", 0}, {"duplicates", 1}});
  CHECK(event_deliveries(store, world.client_id(), "evt_signed_1").size() == 1);

  // SIGTERM ends the server cleanly (under the sanitizer build this also runs the leak check).
  exit_status stopped = world.stop_server();
  INFO("stderr: " << world.server().proc().stderr_text());
  CHECK(stopped.exited);
  CHECK(stopped.code == 0);
}

}  // namespace

TEST_CASE("an event is delivered with a verified signature and one webhook-id across retries",
          "[e2e][engine][sqlite]") {
  check_signed_delivery({});
}

TEST_CASE(
    "on PostgreSQL an event is delivered with a verified signature and one webhook-id "
    "across retries",
    "[e2e][engine][pg]") {
  pg_database database;
  world_options options;
  options.store_url = database.url();
  check_signed_delivery(options);
}
