// The delivery tracking and DLQ routes (docs/api.md "Deliveries and the DLQ") against the real
// binary, a real receiver (webhookd-sink) and a real store: what a client reads about its
// deliveries and attempts, the attempt feed, manual resend, DLQ listing and replay (by ids and in
// bulk, once a broken receiver is fixed), tenant isolation on every route, and the 4xx answers
// to bad input.

#include <catch2/catch.hpp>

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/e2e/engine_support.hpp"

using namespace webhookd::e2e;
using nlohmann::json;

namespace {

constexpr milliseconds delivery_timeout{30'000};

std::set<std::string> strings_of(const json& items, const char* key) {
  std::set<std::string> out;
  for (const auto& item : items) out.insert(item.at(key).get<std::string>());
  return out;
}

/// GET /api/v1/deliveries/{id} until its status is `status`; the last answer.
http_answer wait_delivery_status(api_client& api, const std::string& id, const std::string& status,
                                 milliseconds timeout = delivery_timeout) {
  http_answer last;
  wait_until(
      [&] {
        last = api.get("/api/v1/deliveries/" + id);
        return last.status == 200 && last.json.at("status") == status;
      },
      timeout);
  return last;
}

/// The delivery id of `event_id` at `webhook_id`, read through the API.
std::string delivery_id_of(api_client& api, const std::string& event_id,
                           const std::string& webhook_id) {
  auto got = api.get("/api/v1/events/" + event_id + "/deliveries");
  if (got.status != 200) throw std::runtime_error(got.describe());
  for (const auto& d : got.json.at("data"))
    if (d.at("webhook_id") == webhook_id) return d.at("delivery_id").get<std::string>();
  throw std::runtime_error("no delivery of " + event_id + " at " + webhook_id + ": " +
                           got.describe());
}

/// Status and body of a request sent as is (raw body, optional token).
struct raw_answer {
  int status = 0;
  std::string body;
};

raw_answer raw_post(webhookd_server& server, const std::string& path, const std::string& body,
                    const std::string& token) {
  httplib::Client client(server.host(), server.port());
  client.set_read_timeout(30, 0);
  httplib::Headers headers;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  auto res = client.Post(path.c_str(), headers, body, "application/json");
  if (!res) return {};
  return {res->status, res->body};
}

raw_answer raw_get(webhookd_server& server, const std::string& path) {
  httplib::Client client(server.host(), server.port());
  client.set_read_timeout(30, 0);
  auto res = client.Get(path.c_str());
  if (!res) return {};
  return {res->status, res->body};
}

// A 400 receiver fills the DLQ; the receiver is fixed; a bulk replay delivers everything of one
// event type; replaying again skips; another client can neither see nor replay the entries.
void check_bulk_replay(world_options options) {
  engine_world world(std::move(options));
  const std::string path = "/fixme";
  auto hook = world.add_webhook(path, {"invoice.paid", "order.shipped"},
                                {{"retry_policy", fast_retry_policy(3)}}, {{"then", 400}});
  auto poster = world.poster();
  for (const char* id : {"evt_r1", "evt_r2", "evt_r3"})
    poster.accept_event(make_event(world.client_id(), id, "invoice.paid"));
  poster.accept_event(make_event(world.client_id(), "evt_r4", "order.shipped"));
  REQUIRE(world.sink().wait_for(path, 4, delivery_timeout));

  auto& api = world.api();
  std::vector<std::string> ids;
  for (const char* ev : {"evt_r1", "evt_r2", "evt_r3", "evt_r4"}) {
    ids.push_back(delivery_id_of(api, ev, hook.id));
    auto failed = wait_delivery_status(api, ids.back(), "failed");
    INFO(failed.describe());
    REQUIRE(failed.json.at("status") == "failed");
    CHECK(failed.json.at("attempt_count") == 1);
  }
  const std::string shipped_id = ids[3];

  // The DLQ as the client sees it.
  auto dlq = api.get("/api/v1/dlq?webhook_id=" + hook.id);
  REQUIRE(dlq.status == 200);
  CHECK(strings_of(dlq.json.at("data"), "delivery_id") ==
        std::set<std::string>(ids.begin(), ids.end()));
  for (const auto& e : dlq.json.at("data")) {
    CHECK(e.at("reason").get<std::string>().find("400") != std::string::npos);
    CHECK(e.at("replayed_at").is_null());
  }
  auto shipped = api.get("/api/v1/dlq?event_type=order.shipped");
  REQUIRE(shipped.status == 200);
  CHECK(strings_of(shipped.json.at("data"), "delivery_id") == std::set<std::string>{shipped_id});
  auto paged = api.get("/api/v1/dlq?limit=3");
  REQUIRE(paged.status == 200);
  CHECK(paged.json.at("data").size() == 3);
  REQUIRE(paged.json.at("next_cursor").is_string());
  auto rest =
      api.get("/api/v1/dlq?limit=3&cursor=" + paged.json.at("next_cursor").get<std::string>());
  REQUIRE(rest.status == 200);
  CHECK(rest.json.at("data").size() == 1);
  CHECK(rest.json.at("next_cursor").is_null());

  // Another client: nothing to see, nothing to replay, and A's entries stay as they were.
  api_client other(world.server(), "globex");
  auto other_dlq = other.get("/api/v1/dlq");
  REQUIRE(other_dlq.status == 200);
  CHECK(other_dlq.json.at("data").empty());
  CHECK(other.get("/api/v1/dlq?webhook_id=" + hook.id).status == 404);
  CHECK(other.post("/api/v1/dlq/replay", {{"webhook_id", hook.id}}).status == 404);
  auto other_ids = other.post("/api/v1/dlq/replay", {{"delivery_ids", ids}});
  REQUIRE(other_ids.status == 202);
  CHECK(other_ids.json.at("replayed") == 0);
  CHECK(other_ids.json.at("skipped").size() == ids.size());
  auto still = api.get("/api/v1/dlq?webhook_id=" + hook.id);
  CHECK(still.json.at("data").size() == 4);

  // Fix the receiver, replay the invoices in bulk: each is delivered again with its webhook-id.
  world.sink().configure({{"path", path}, {"secrets", {hook.signing_secret}}, {"then", 200}});
  auto replay =
      api.post("/api/v1/dlq/replay", {{"webhook_id", hook.id}, {"event_type", "invoice.paid"}});
  INFO(replay.describe());
  REQUIRE(replay.status == 202);
  CHECK(replay.json.at("replayed") == 3);
  CHECK(replay.json.at("more") == false);
  CHECK(replay.json.at("skipped").empty());
  std::set<std::string> invoices(ids.begin(), ids.begin() + 3);
  std::set<std::string> replayed_ids;
  for (const auto& id : replay.json.at("delivery_ids")) replayed_ids.insert(id.get<std::string>());
  CHECK(replayed_ids == invoices);
  REQUIRE(world.sink().wait_for(path, 7, delivery_timeout));
  for (const auto& id : invoices) {
    auto done = wait_delivery_status(api, id, "succeeded");
    INFO(done.describe());
    REQUIRE(done.json.at("status") == "succeeded");
    CHECK(done.json.at("attempt_count") == 2);
    const auto& attempts = done.json.at("attempts");
    REQUIRE(attempts.size() == 2);
    CHECK(attempts[0].at("status_code") == 400);
    CHECK(attempts[1].at("status_code") == 200);
    auto got = world.sink().deliveries(path);
    int seen = 0;
    for (const auto& d : got)
      if (d.at("id") == id) ++seen;
    CHECK(seen == 2);
  }

  // The replay is recorded: the invoices left the open DLQ and carry their replay time.
  auto open = api.get("/api/v1/dlq?webhook_id=" + hook.id);
  CHECK(strings_of(open.json.at("data"), "delivery_id") == std::set<std::string>{shipped_id});
  auto all = api.get("/api/v1/dlq?include_replayed=true&webhook_id=" + hook.id);
  REQUIRE(all.json.at("data").size() == 4);
  for (const auto& e : all.json.at("data"))
    CHECK(e.at("replayed_at").is_null() == (e.at("delivery_id") == shipped_id));

  // Replaying again can't happen by accident: bulk finds nothing, ids are skipped.
  auto again =
      api.post("/api/v1/dlq/replay", {{"webhook_id", hook.id}, {"event_type", "invoice.paid"}});
  REQUIRE(again.status == 202);
  CHECK(again.json.at("replayed") == 0);
  auto again_ids =
      api.post("/api/v1/dlq/replay",
               {{"delivery_ids", std::vector<std::string>(invoices.begin(), invoices.end())}});
  REQUIRE(again_ids.status == 202);
  CHECK(again_ids.json.at("replayed") == 0);
  CHECK(again_ids.json.at("skipped").size() == 3);

  // The last one by id, with a duplicate and an unknown id in the request.
  auto last =
      api.post("/api/v1/dlq/replay", {{"delivery_ids", {shipped_id, shipped_id, "msg_unknown"}}});
  REQUIRE(last.status == 202);
  CHECK(last.json.at("delivery_ids") == json::array({shipped_id}));
  CHECK(last.json.at("skipped") == json::array({"msg_unknown"}));
  auto shipped_done = wait_delivery_status(api, shipped_id, "succeeded");
  CHECK(shipped_done.json.at("status") == "succeeded");
  CHECK(world.sink().count(path) == 8);
  CHECK(api.get("/api/v1/dlq").json.at("data").empty());

  // The attempt feed has all eight attempts of this webhook, in order.
  auto feed = api.get("/api/v1/attempts?webhook_id=" + hook.id);
  REQUIRE(feed.status == 200);
  REQUIRE(feed.json.at("data").size() == 8);
  CHECK(feed.json.at("data")[0].at("status_code") == 400);
  CHECK(feed.json.at("data")[7].at("status_code") == 200);
  CHECK(feed.json.at("data")[7].at("delivery_id") == shipped_id);
  CHECK(other.get("/api/v1/attempts").json.at("data").empty());
}

}  // namespace

TEST_CASE(
    "tracking routes: a webhook's deliveries, an event's deliveries, one delivery's "
    "attempts, the attempt feed; another client sees none of it",
    "[e2e][engine][tracking][sqlite]") {
  engine_world world;
  auto& api = world.api();
  auto steady = world.add_webhook("/ok", {"invoice.paid"});
  auto flaky = world.add_webhook("/flaky", {"invoice.paid", "order.shipped"},
                                 {{"retry_policy", fast_retry_policy(3)}},
                                 {{"responses", {500}}, {"then", 200}});
  auto poster = world.poster();
  poster.accept_event(make_event(world.client_id(), "evt_t1", "invoice.paid"));
  REQUIRE(world.sink().wait_for("/flaky", 2, delivery_timeout));
  REQUIRE(world.sink().wait_for("/ok", 1, delivery_timeout));

  // One event at every webhook it went to.
  auto by_event = api.get("/api/v1/events/evt_t1/deliveries");
  INFO(by_event.describe());
  REQUIRE(by_event.status == 200);
  REQUIRE(by_event.json.at("data").size() == 2);
  CHECK(strings_of(by_event.json.at("data"), "webhook_id") ==
        std::set<std::string>{steady.id, flaky.id});
  const std::string flaky_id = delivery_id_of(api, "evt_t1", flaky.id);

  // One delivery with every attempt.
  auto detail = wait_delivery_status(api, flaky_id, "succeeded");
  INFO(detail.describe());
  REQUIRE(detail.json.at("status") == "succeeded");
  CHECK(detail.json.at("attempt_count") == 2);
  CHECK(detail.json.at("event_id") == "evt_t1");
  CHECK(detail.json.at("webhook_id") == flaky.id);
  CHECK(detail.json.at("next_attempt_at").is_null());
  const auto& attempts = detail.json.at("attempts");
  REQUIRE(attempts.size() == 2);
  CHECK(attempts[0].at("attempt_no") == 1);
  CHECK(attempts[0].at("status_code") == 500);
  CHECK(attempts[1].at("attempt_no") == 2);
  CHECK(attempts[1].at("status_code") == 200);
  CHECK(attempts[1].at("error").is_null());
  CHECK(attempts[1].at("response_excerpt") == "ok");
  CHECK(attempts[1].at("duration_ms").get<int64_t>() >= 0);
  CHECK(attempts[1].at("started_at").get<std::string>().back() == 'Z');

  // A webhook's deliveries, filtered and paged (newest first).
  poster.accept_event(make_event(world.client_id(), "evt_t2", "order.shipped"));
  poster.accept_event(make_event(world.client_id(), "evt_t3", "order.shipped"));
  REQUIRE(world.sink().wait_for("/flaky", 4, delivery_timeout));
  const std::string t3 = delivery_id_of(api, "evt_t3", flaky.id);
  REQUIRE(wait_delivery_status(api, t3, "succeeded").json.at("status") == "succeeded");
  auto listed = api.get("/api/v1/webhooks/" + flaky.id + "/deliveries?status=succeeded");
  REQUIRE(listed.status == 200);
  CHECK(listed.json.at("data").size() == 3);
  CHECK(api.get("/api/v1/webhooks/" + flaky.id + "/deliveries?status=failed")
            .json.at("data")
            .empty());
  CHECK(api.get("/api/v1/webhooks/" + flaky.id + "/deliveries?since=2100-01-01T00:00:00Z")
            .json.at("data")
            .empty());
  CHECK(api.get("/api/v1/webhooks/" + flaky.id + "/deliveries?until=2100-01-01T00:00:00Z")
            .json.at("data")
            .size() == 3);
  auto first = api.get("/api/v1/webhooks/" + flaky.id + "/deliveries?limit=2");
  REQUIRE(first.json.at("data").size() == 2);
  CHECK(first.json.at("data")[0].at("event_id") == "evt_t3");
  auto second = api.get("/api/v1/webhooks/" + flaky.id + "/deliveries?limit=2&cursor=" +
                        first.json.at("next_cursor").get<std::string>());
  REQUIRE(second.json.at("data").size() == 1);
  CHECK(second.json.at("data")[0].at("event_id") == "evt_t1");
  CHECK(second.json.at("next_cursor").is_null());

  // The attempt feed: the latest attempts in order; polling with the cursor returns what's new.
  // Five attempts: /ok once, /flaky 2 + 1 + 1 (recorded in batches: wait for the last ones).
  http_answer feed;
  wait_until(
      [&] {
        feed = api.get("/api/v1/attempts");
        return feed.status == 200 && feed.json.at("data").size() == 5;
      },
      delivery_timeout);
  INFO(feed.describe());
  REQUIRE(feed.status == 200);
  REQUIRE(feed.json.at("data").size() == 5);
  auto cursor = feed.json.at("next_cursor").get<std::string>();
  auto latest2 = api.get("/api/v1/attempts?limit=2");
  REQUIRE(latest2.json.at("data").size() == 2);
  CHECK(latest2.json.at("data")[1] == feed.json.at("data")[4]);
  auto nothing = api.get("/api/v1/attempts?cursor=" + cursor);
  CHECK(nothing.json.at("data").empty());
  CHECK(nothing.json.at("next_cursor") == cursor);
  poster.accept_event(make_event(world.client_id(), "evt_t4", "invoice.paid"));
  REQUIRE(world.sink().wait_for("/ok", 2, delivery_timeout));
  http_answer fresh;
  REQUIRE(wait_until(
      [&] {
        fresh = api.get("/api/v1/attempts?webhook_id=" + steady.id + "&cursor=" + cursor);
        return fresh.status == 200 && fresh.json.at("data").size() == 1;
      },
      delivery_timeout));
  CHECK(fresh.json.at("data")[0].at("event_id") == "evt_t4");
  CHECK(fresh.json.at("data")[0].at("webhook_id") == steady.id);

  // Another client: every tracking route answers 404 or an empty list for A's objects.
  api_client other(world.server(), "globex");
  CHECK(other.get("/api/v1/webhooks/" + flaky.id + "/deliveries").status == 404);
  CHECK(other.get("/api/v1/events/evt_t1/deliveries").status == 404);
  CHECK(other.get("/api/v1/deliveries/" + flaky_id).status == 404);
  CHECK(other.post("/api/v1/deliveries/" + flaky_id + "/resend", json::object()).status == 404);
  CHECK(other.get("/api/v1/attempts?webhook_id=" + flaky.id).status == 404);
  auto other_feed = other.get("/api/v1/attempts");
  REQUIRE(other_feed.status == 200);
  CHECK(other_feed.json.at("data").empty());
  auto other_dlq = other.get("/api/v1/dlq");
  REQUIRE(other_dlq.status == 200);
  CHECK(other_dlq.json.at("data").empty());
  CHECK(other.get("/api/v1/dlq?webhook_id=" + flaky.id).status == 404);
  CHECK(other.post("/api/v1/dlq/replay", {{"webhook_id", flaky.id}}).status == 404);
  auto other_replay = other.post("/api/v1/dlq/replay", {{"delivery_ids", {flaky_id}}});
  CHECK(other_replay.json.at("skipped") == json::array({flaky_id}));
  // ... and A's delivery was not touched by any of it.
  auto after = api.get("/api/v1/deliveries/" + flaky_id);
  CHECK(after.json.at("status") == "succeeded");
  CHECK(after.json.at("attempt_count") == 2);
}

// A replay or resend starts a new series of attempts: a webhook with max_attempts 2 against a
// receiver answering 500 parks the delivery after attempts 1 and 2; a replay gets attempts 3 and
// 4 (a full series, not the one attempt "left") before it is parked again; a resend once the
// receiver is fixed delivers it. Every attempt carries the same webhook-id.
void check_replay_series(world_options options) {
  engine_world world(std::move(options));
  const std::string path = "/series";
  auto hook = world.add_webhook(path, {"invoice.paid"}, {{"retry_policy", fast_retry_policy(2)}},
                                {{"then", 500}});
  world.poster().accept_event(make_event(world.client_id(), "evt_series", "invoice.paid"));
  auto& api = world.api();
  REQUIRE(world.sink().wait_for(path, 2, delivery_timeout));
  const std::string id = delivery_id_of(api, "evt_series", hook.id);
  auto parked = wait_delivery_status(api, id, "failed");
  INFO(parked.describe());
  REQUIRE(parked.json.at("status") == "failed");
  CHECK(parked.json.at("attempt_count") == 2);
  CHECK(parked.json.at("series_start") == 0);
  auto first_dlq = api.get("/api/v1/dlq?webhook_id=" + hook.id);
  REQUIRE(first_dlq.status == 200);
  REQUIRE(first_dlq.json.at("data").size() == 1);
  const json first_entry = first_dlq.json.at("data")[0];
  CHECK(first_entry.at("reason").get<std::string>().rfind("exhausted after 2 attempts", 0) == 0);

  // Replayed while the receiver still fails: two more attempts, then parked again.
  auto replay = api.post("/api/v1/dlq/replay", {{"delivery_ids", {id}}});
  INFO(replay.describe());
  REQUIRE(replay.status == 202);
  CHECK(replay.json.at("replayed") == 1);
  REQUIRE(world.sink().wait_for(path, 4, delivery_timeout));
  auto again = wait_delivery_status(api, id, "failed");
  INFO(again.describe());
  REQUIRE(again.json.at("status") == "failed");
  CHECK(again.json.at("attempt_count") == 4);
  CHECK(again.json.at("series_start") == 2);
  std::vector<int> numbers;
  for (const auto& a : again.json.at("attempts")) {
    numbers.push_back(a.at("attempt_no").get<int>());
    CHECK(a.at("status_code") == 500);
  }
  CHECK(numbers == std::vector<int>{1, 2, 3, 4});
  // Parked a second time: a new open DLQ entry, after the first one was replayed.
  auto second_dlq = api.get("/api/v1/dlq?webhook_id=" + hook.id);
  REQUIRE(second_dlq.status == 200);
  REQUIRE(second_dlq.json.at("data").size() == 1);
  const json second_entry = second_dlq.json.at("data")[0];
  CHECK(second_entry.at("delivery_id") == id);
  CHECK(second_entry.at("replayed_at").is_null());
  CHECK(second_entry.at("reason").get<std::string>().rfind("exhausted after 2 attempts", 0) == 0);
  CHECK(second_entry.at("created_at").get<std::string>() >
        first_entry.at("created_at").get<std::string>());
  CHECK(world.sink().count(path) == 4);

  // Fixed receiver, resend: a third series, delivered at its first attempt (attempt 5).
  world.sink().configure({{"path", path}, {"secrets", {hook.signing_secret}}, {"then", 200}});
  auto resent = api.post("/api/v1/deliveries/" + id + "/resend", json::object());
  INFO(resent.describe());
  REQUIRE(resent.status == 202);
  CHECK(resent.json.at("series_start") == 4);
  REQUIRE(world.sink().wait_for(path, 5, delivery_timeout));
  auto done = wait_delivery_status(api, id, "succeeded");
  INFO(done.describe());
  REQUIRE(done.json.at("status") == "succeeded");
  CHECK(done.json.at("attempt_count") == 5);
  CHECK(done.json.at("series_start") == 4);
  CHECK(done.json.at("attempts").back().at("status_code") == 200);
  auto got = world.sink().deliveries(path);
  REQUIRE(got.size() == 5);
  for (const auto& d : got) {
    CHECK(d.at("id") == id);
    CHECK(d.at("verified") == "verified");
  }
  CHECK(got[4].at("status") == 200);
  CHECK(api.get("/api/v1/dlq?webhook_id=" + hook.id).json.at("data").empty());
}

TEST_CASE("a replay gets a new series of max_attempts; a resend after the fix delivers",
          "[e2e][engine][tracking][sqlite]") {
  check_replay_series({});
}

TEST_CASE(
    "on PostgreSQL a replay gets a new series of max_attempts; a resend after the fix delivers",
    "[e2e][engine][tracking][pg]") {
  pg_database database;
  world_options options;
  options.store_url = database.url();
  check_replay_series(options);
}

TEST_CASE("bulk replay delivers what a fixed receiver now accepts, once",
          "[e2e][engine][tracking][sqlite]") {
  check_bulk_replay({});
}

TEST_CASE("on PostgreSQL bulk replay delivers what a fixed receiver now accepts, once",
          "[e2e][engine][tracking][pg]") {
  pg_database database;
  world_options options;
  options.store_url = database.url();
  check_bulk_replay(options);
}

TEST_CASE(
    "resend delivers a delivered delivery again with the same webhook-id; a pending one "
    "is refused",
    "[e2e][engine][tracking][sqlite]") {
  engine_world world;
  auto& api = world.api();
  auto hook = world.add_webhook("/again", {"invoice.paid"});
  world.poster().accept_event(make_event(world.client_id(), "evt_again", "invoice.paid"));
  REQUIRE(world.sink().wait_for("/again", 1, delivery_timeout));
  const std::string id = delivery_id_of(api, "evt_again", hook.id);
  REQUIRE(wait_delivery_status(api, id, "succeeded").json.at("status") == "succeeded");

  auto resent = api.post("/api/v1/deliveries/" + id + "/resend", json::object());
  INFO(resent.describe());
  REQUIRE(resent.status == 202);
  CHECK(resent.json.at("delivery_id") == id);
  CHECK(resent.json.at("status") == "pending");
  REQUIRE(world.sink().wait_for("/again", 2, delivery_timeout));
  auto got = world.sink().deliveries("/again");
  REQUIRE(got.size() == 2);
  CHECK(got[0].at("id") == id);
  CHECK(got[1].at("id") == id);
  CHECK(got[1].at("verified") == "verified");
  CHECK(got[1].at("attempt") == 2);
  auto done = wait_delivery_status(api, id, "succeeded");
  CHECK(done.json.at("attempt_count") == 2);
  CHECK(done.json.at("attempts").size() == 2);

  // A delivery whose attempt is in flight is pending: a resend would send it twice.
  auto stuck = world.add_webhook("/stuck", {"order.shipped"}, json::object(),
                                 {{"hang", true}, {"hang_ms", 20'000}});
  world.poster().accept_event(make_event(world.client_id(), "evt_stuck", "order.shipped"));
  REQUIRE(
      wait_until([&] { return world.sink().stats("/stuck").at("hangs") == 1; }, delivery_timeout));
  const std::string stuck_id = delivery_id_of(api, "evt_stuck", stuck.id);
  auto refused = api.post("/api/v1/deliveries/" + stuck_id + "/resend", json::object());
  CHECK(refused.status == 409);
  CHECK(refused.json.at("error").at("code") == "conflict");
  world.sink().release();
  CHECK(api.post("/api/v1/deliveries/msg_nope/resend", json::object()).status == 404);
}

TEST_CASE("tracking and DLQ routes answer bad input with 4xx and a reason",
          "[e2e][engine][tracking][sqlite]") {
  engine_world world;
  auto& api = world.api();
  auto hook = world.add_webhook("/bad", {"invoice.paid"});
  const std::string deliveries = "/api/v1/webhooks/" + hook.id + "/deliveries";
  auto expect = [&](const http_answer& got, int status, const std::string& field) {
    INFO(got.describe());
    CHECK(got.status == status);
    if (!field.empty() && got.json.is_object()) {
      CHECK(got.json.at("error").at("message").get<std::string>().rfind(field, 0) == 0);
    }
  };
  expect(api.get(deliveries + "?status=bogus"), 422, "status");
  expect(api.get(deliveries + "?since=yesterday"), 422, "since");
  expect(api.get(deliveries + "?until=2026-13-01T00:00:00Z"), 422, "until");
  expect(api.get(deliveries + "?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z"), 422,
         "until");
  expect(api.get(deliveries + "?cursor=not%20a%20cursor"), 422, "cursor");
  expect(api.get(deliveries + "?limit=0"), 422, "limit");
  expect(api.get(deliveries + "?limit=1001"), 422, "limit");
  expect(api.get("/api/v1/webhooks/wh_missing/deliveries"), 404, "webhook wh_missing");
  expect(api.get("/api/v1/events/evt_missing/deliveries"), 404, "event evt_missing");
  expect(api.get("/api/v1/deliveries/msg_missing"), 404, "delivery msg_missing");
  expect(api.get("/api/v1/attempts?cursor=abc"), 422, "cursor");
  expect(api.get("/api/v1/attempts?webhook_id=no-such!"), 422, "webhook_id");
  expect(api.get("/api/v1/dlq?include_replayed=maybe"), 422, "include_replayed");
  expect(api.get("/api/v1/dlq?since=soon"), 422, "since");
  expect(api.get("/api/v1/dlq?webhook_id=wh_missing"), 404, "webhook wh_missing");

  const std::string replay = "/api/v1/dlq/replay";
  const std::string token = mint_token(world.jwt_secret(), world.client_id());
  CHECK(raw_post(world.server(), replay, "", token).status == 400);
  CHECK(raw_post(world.server(), replay, "{\"delivery_ids\": [", token).status == 400);
  CHECK(raw_post(world.server(), replay, "{}", "").status == 401);
  CHECK(raw_get(world.server(), "/api/v1/attempts").status == 401);
  expect(api.post(replay, json::object()), 422, "body");
  expect(api.post(replay, {{"delivery_ids", json::array()}}), 422, "delivery_ids");
  expect(api.post(replay, {{"delivery_ids", "msg_1"}}), 422, "delivery_ids");
  expect(api.post(replay, {{"delivery_ids", {1, 2}}}), 422, "delivery_ids[0]");
  std::vector<std::string> too_many;
  for (int i = 0; i < 1001; ++i) too_many.push_back("msg_" + std::to_string(i));
  expect(api.post(replay, {{"delivery_ids", too_many}}), 422, "delivery_ids");
  expect(api.post(replay, {{"delivery_ids", {"msg_1"}}, {"webhook_id", hook.id}}), 422,
         "webhook_id");
  expect(api.post(replay, {{"webhook_id", hook.id}, {"since", "nope"}}), 422, "since");
  expect(api.post(replay, {{"webhook_id", hook.id}, {"colour", "red"}}), 422, "colour");
  expect(api.post(replay, {{"webhook_id", 7}}), 422, "webhook_id");
  expect(api.post("/api/v1/deliveries/msg_x/resend", {{"now", true}}), 422, "now");

  // Nothing above hurt the server: it still answers.
  auto alive = api.post(replay, {{"webhook_id", hook.id}});
  CHECK(alive.status == 202);
  CHECK(alive.json.at("replayed") == 0);
}
