// The outcome table of design section 4, row by row, as a receiver and the store see it:
// 5xx retried to success, other 4xx straight to the DLQ, 410 disables the webhook, 3xx is never
// followed and is retried, a hanging receiver times out and is retried, and Retry-After on
// 429/503 holds the next attempt back at least that long.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/e2e/engine_support.hpp"

using namespace webhookd::e2e;
using Catch::Matchers::Contains;
using nlohmann::json;
using webhookd::delivery_status;

namespace {

constexpr milliseconds delivery_timeout{30'000};

// The delivery timeout webhookd applies when the webhook sets none (design section 4).
constexpr int64_t default_attempt_timeout_ms = 10'000;

}  // namespace

TEST_CASE("500, 500, 200: three attempts with one webhook-id, then success",
          "[e2e][engine][sqlite]") {
  engine_world world;
  const std::string path = "/out/5xx";
  auto hook = world.add_webhook(path, {"invoice.paid"}, {{"retry_policy", fast_retry_policy(3)}},
                                {{"responses", {500, 500}}, {"then", 200}});
  world.poster().accept_event(make_event(world.client_id(), "evt_5xx", "invoice.paid"));

  REQUIRE(world.sink().wait_for(path, 3, delivery_timeout));
  auto& store = world.store();
  auto settled =
      wait_delivery_settled(store, world.client_id(), "evt_5xx", hook.id, delivery_timeout);
  REQUIRE(settled);
  CHECK(settled->status == delivery_status::succeeded);
  CHECK(settled->attempts == 3);

  auto attempts = delivery_attempts(store, world.client_id(), settled->id);
  REQUIRE(attempts.size() == 3);
  CHECK(attempts[0].status_code == 500);
  CHECK(attempts[1].status_code == 500);
  CHECK(attempts[2].status_code == 200);
  for (std::size_t i = 0; i < attempts.size(); ++i) CHECK(attempts[i].attempt_no == int(i + 1));

  // Once it succeeded there is nothing more: the receiver saw exactly three requests.
  json got = world.sink().deliveries(path);
  INFO("sink deliveries: " << got.dump(2));
  REQUIRE(got.size() == 3);
  for (const auto& d : got) {
    CHECK(d.at("id") == settled->id);
    CHECK(d.at("verified") == "verified");
  }
  CHECK(got[0].at("status") == 500);
  CHECK(got[1].at("status") == 500);
  CHECK(got[2].at("status") == 200);
  CHECK(dlq_entries(store, world.client_id(), hook.id).empty());
}

TEST_CASE("400: one attempt, then the DLQ", "[e2e][engine][sqlite]") {
  engine_world world;
  const std::string path = "/out/400";
  auto hook = world.add_webhook(path, {"invoice.paid"}, {{"retry_policy", fast_retry_policy(3)}},
                                {{"then", 400}});
  world.poster().accept_event(make_event(world.client_id(), "evt_400", "invoice.paid"));

  REQUIRE(world.sink().wait_for(path, 1, delivery_timeout));
  auto& store = world.store();
  auto settled =
      wait_delivery_settled(store, world.client_id(), "evt_400", hook.id, delivery_timeout);
  REQUIRE(settled);
  CHECK(settled->status == delivery_status::failed);
  CHECK(settled->attempts == 1);

  auto attempts = delivery_attempts(store, world.client_id(), settled->id);
  REQUIRE(attempts.size() == 1);
  CHECK(attempts[0].status_code == 400);

  auto parked = dlq_entries(store, world.client_id(), hook.id);
  REQUIRE(parked.size() == 1);
  CHECK(parked[0].delivery_id == settled->id);
  CHECK(parked[0].event_id == "evt_400");
  CHECK_THAT(parked[0].reason, Contains("400"));

  // Final: no retry ever reached the receiver, and a client error does not disable the webhook.
  CHECK(world.sink().count(path) == 1);
  CHECK(world.api().get_webhook(hook.id).at("status") == "active");
}

TEST_CASE("410: the webhook is disabled, the delivery parked, later events not routed to it",
          "[e2e][engine][sqlite]") {
  engine_world world;
  const std::string path = "/out/410";
  auto hook = world.add_webhook(path, {"invoice.paid"}, {{"retry_policy", fast_retry_policy(3)}},
                                {{"then", 410}});
  auto witness = world.add_webhook("/out/410-witness", {"invoice.paid"});
  auto poster = world.poster();
  poster.accept_event(make_event(world.client_id(), "evt_410", "invoice.paid"));

  REQUIRE(world.sink().wait_for(path, 1, delivery_timeout));
  json webhook;
  CHECK(wait_until(
      [&] {
        webhook = world.api().get_webhook(hook.id);
        return webhook.at("status") == "disabled";
      },
      delivery_timeout));
  INFO("webhook: " << webhook.dump());
  CHECK(webhook.at("status") == "disabled");
  CHECK_FALSE(webhook.value("disabled_reason", "").empty());

  auto& store = world.store();
  auto settled =
      wait_delivery_settled(store, world.client_id(), "evt_410", hook.id, delivery_timeout);
  REQUIRE(settled);
  CHECK(settled->status == delivery_status::failed);
  CHECK(settled->attempts == 1);
  auto parked = dlq_entries(store, world.client_id(), hook.id);
  REQUIRE(parked.size() == 1);
  CHECK(parked[0].delivery_id == settled->id);

  // A later event reaches the witness but not the disabled webhook.
  poster.accept_event(make_event(world.client_id(), "evt_410_later", "invoice.paid"));
  REQUIRE(world.sink().wait_for("/out/410-witness", 2, delivery_timeout));
  CHECK(world.sink().count(path) == 1);
  for (const auto& d : event_deliveries(store, world.client_id(), "evt_410_later")) {
    CHECK(d.webhook_id == witness.id);
  }
}

TEST_CASE("301: the redirect is not followed and the delivery is retried",
          "[e2e][engine][sqlite]") {
  engine_world world;
  const std::string path = "/out/301";
  const std::string moved = "/out/moved-here";
  auto hook = world.add_webhook(path, {"invoice.paid"}, {{"retry_policy", fast_retry_policy(3)}},
                                {{"then", 301}, {"location", world.sink().url(moved)}});
  world.sink().configure({{"path", moved}, {"secrets", json::array()}});
  world.poster().accept_event(make_event(world.client_id(), "evt_301", "invoice.paid"));

  REQUIRE(world.sink().wait_for(path, 3, delivery_timeout));
  auto& store = world.store();
  auto settled =
      wait_delivery_settled(store, world.client_id(), "evt_301", hook.id, delivery_timeout);
  REQUIRE(settled);
  // Every attempt was answered 301 and counted as a failure; the policy's 3 attempts ran out.
  CHECK(settled->status == delivery_status::failed);
  CHECK(settled->attempts == 3);
  auto attempts = delivery_attempts(store, world.client_id(), settled->id);
  REQUIRE(attempts.size() == 3);
  for (const auto& a : attempts) CHECK(a.status_code == 301);
  CHECK(dlq_entries(store, world.client_id(), hook.id).size() == 1);

  // Each attempt's outcome is recorded after its exchange ended, so a followed redirect would
  // have reached the Location by now.
  CHECK(world.sink().count(path) == 3);
  CHECK(world.sink().count(moved) == 0);
}

TEST_CASE("a hanging receiver: the attempt times out, is recorded and retried",
          "[e2e][engine][sqlite]") {
  engine_world world;
  const std::string path = "/out/hang";
  auto hook = world.add_webhook(path, {"invoice.paid"}, {{"retry_policy", fast_retry_policy(3)}},
                                {{"responses", {"hang"}}, {"then", 200}, {"hang_ms", 60'000}});
  world.poster().accept_event(make_event(world.client_id(), "evt_hang", "invoice.paid"));

  REQUIRE(
      world.sink().wait_for(path, 2, milliseconds{default_attempt_timeout_ms} + delivery_timeout));
  json got = world.sink().deliveries(path);
  INFO("sink deliveries: " << got.dump(2));
  REQUIRE(got.size() == 2);
  CHECK(got[0].at("hang") == true);
  CHECK(got[1].at("status") == 200);
  CHECK(got[0].at("id") == got[1].at("id"));
  // The retry came only after the first attempt gave up waiting (allowing for the request
  // having been sent a little before the sink stamped its arrival).
  int64_t gap = got[1].at("received_steady_ms").get<int64_t>() -
                got[0].at("received_steady_ms").get<int64_t>();
  CHECK(gap >= default_attempt_timeout_ms - 500);

  auto& store = world.store();
  auto settled =
      wait_delivery_settled(store, world.client_id(), "evt_hang", hook.id, delivery_timeout);
  REQUIRE(settled);
  CHECK(settled->status == delivery_status::succeeded);
  CHECK(settled->attempts == 2);
  auto attempts = delivery_attempts(store, world.client_id(), settled->id);
  REQUIRE(attempts.size() == 2);
  CHECK(attempts[0].status_code == 0);
  CHECK_THAT(attempts[0].error, Contains("timeout"));
  CHECK(attempts[0].duration_ms >= default_attempt_timeout_ms - 500);
  CHECK(attempts[1].status_code == 200);
}

TEST_CASE("a webhook's own timeout_seconds cuts a hanging attempt short and is reported",
          "[e2e][engine][sqlite]") {
  engine_world world;
  const std::string path = "/out/hang-short";
  auto hook = world.add_webhook(path, {"invoice.paid"},
                                {{"retry_policy", fast_retry_policy(3)}, {"timeout_seconds", 0.5}},
                                {{"responses", {"hang"}}, {"then", 200}, {"hang_ms", 60'000}});
  CHECK(world.api().get("/api/v1/webhooks/" + hook.id).json.at("timeout_seconds") == 0.5);
  world.poster().accept_event(make_event(world.client_id(), "evt_hang_short", "invoice.paid"));

  REQUIRE(world.sink().wait_for(path, 2, delivery_timeout));
  auto& store = world.store();
  auto settled =
      wait_delivery_settled(store, world.client_id(), "evt_hang_short", hook.id, delivery_timeout);
  REQUIRE(settled);
  CHECK(settled->status == delivery_status::succeeded);
  auto attempts = delivery_attempts(store, world.client_id(), settled->id);
  REQUIRE(attempts.size() == 2);
  CHECK_THAT(attempts[0].error, Contains("timeout"));
  // Given up after the webhook's 0.5 s, not the server's 10 s default.
  CHECK(attempts[0].duration_ms >= 400);
  CHECK(attempts[0].duration_ms < default_attempt_timeout_ms / 2);
  CHECK(attempts[1].status_code == 200);
}

TEST_CASE("429 and 503 with Retry-After: the next attempt is not earlier than Retry-After",
          "[e2e][engine][sqlite]") {
  engine_world world;
  constexpr int retry_after_s = 2;
  struct row {
    std::string path;
    int status;
  };
  const row rows[] = {{"/out/429", 429}, {"/out/503", 503}};
  for (const auto& r : rows) {
    world.add_webhook(
        r.path, {"invoice.paid"}, {{"retry_policy", fast_retry_policy(3)}},
        {{"responses", {r.status}}, {"then", 200}, {"retry_after", std::to_string(retry_after_s)}});
  }
  world.poster().accept_event(make_event(world.client_id(), "evt_retry_after", "invoice.paid"));

  for (const auto& r : rows) {
    INFO("path " << r.path);
    REQUIRE(world.sink().wait_for(r.path, 2, delivery_timeout));
    json got = world.sink().deliveries(r.path);
    INFO("sink deliveries: " << got.dump(2));
    REQUIRE(got.size() == 2);
    CHECK(got[0].at("status") == r.status);
    CHECK(got[1].at("status") == 200);
    CHECK(got[0].at("id") == got[1].at("id"));
    // The schedule alone would retry after 0.2 s; Retry-After asks for 2 s.
    int64_t gap = got[1].at("received_steady_ms").get<int64_t>() -
                  got[0].at("received_steady_ms").get<int64_t>();
    CHECK(gap >= retry_after_s * 1000);
  }
}
