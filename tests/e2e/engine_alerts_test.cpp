// Alerts delivered through webhookd itself: the real binary with an alert client ("ops") and a
// DLQ threshold of 2, a webhook of "ops" subscribed to `webhookd.alert.*` on the sink, and
// webhooks of another client whose receiver answers 400 (straight to the DLQ). The alert reaches
// the sink signed, once per window even when more DLQ entries follow, naming the webhook and the
// counts.

#include <catch2/catch.hpp>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/e2e/engine_support.hpp"

using namespace webhookd::e2e;
using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

constexpr milliseconds settle_timeout{30'000};
constexpr int64_t window_seconds = 3600;

const std::string alerts_path = "/ops/alerts";

// The alert events the sink received, each as {delivery, body}.
std::vector<json> alerts_received(sink_process& sink) {
  std::vector<json> out;
  for (const auto& d : sink.deliveries(alerts_path)) {
    json entry = d;
    entry["parsed"] = json::parse(d.at("body").get<std::string>());
    out.push_back(entry);
  }
  return out;
}

// Alerts about `webhook_id` among `alerts`.
std::vector<json> about(const std::vector<json>& alerts, const std::string& webhook_id) {
  std::vector<json> out;
  for (const auto& a : alerts)
    if (a["parsed"]["data"].value("webhook_id", "") == webhook_id) out.push_back(a);
  return out;
}

}  // namespace

TEST_CASE(
    "a webhook's DLQ entries past the threshold raise one alert per window, delivered as "
    "an event of the alert client",
    "[e2e][engine][sqlite]") {
  world_options options;
  options.extra_args = {"--alert-client-id",     "ops",
                        "--alert-dlq-threshold", "2",
                        "--alert-window",        std::to_string(window_seconds)};
  engine_world world(options);
  auto& sink = world.sink();
  const int64_t started_s = unix_now_s();

  // The operator's alert webhook: client "ops", every alert type, strictly in order so the
  // alerts arrive in the order they were raised.
  api_client ops(world.server(), "ops");
  auto alert_hook = ops.create_webhook({{"callback_url", sink.url(alerts_path)},
                                        {"event_types", {"webhookd.alert.*"}},
                                        {"ordered", true},
                                        {"retry_policy", fast_retry_policy(5)}});
  sink.configure({{"path", alerts_path}, {"secrets", {alert_hook.signing_secret}}});

  // Two failing webhooks of client "acme": the receiver answers 400, so every delivery goes
  // straight to the DLQ.
  auto failing = world.add_webhook("/acme/failing", {"invoice.paid"},
                                   {{"retry_policy", fast_retry_policy(3)}}, {{"then", 400}});
  auto sentinel = world.add_webhook("/acme/sentinel", {"order.shipped"},
                                    {{"retry_policy", fast_retry_policy(3)}}, {{"then", 400}});
  auto poster = world.poster();
  auto& store = world.store();

  // Below the threshold: one entry, no alert yet.
  poster.accept_event(make_event(world.client_id(), "evt_fail_1", "invoice.paid"));
  REQUIRE(wait_until([&] { return dlq_entries(store, world.client_id(), failing.id).size() == 1; },
                     settle_timeout));
  // The second entry reaches the threshold: the alert goes out.
  poster.accept_event(make_event(world.client_id(), "evt_fail_2", "invoice.paid"));
  REQUIRE(sink.wait_for(alerts_path, 1, settle_timeout));

  // More entries in the same window: no second alert for this webhook.
  for (int i = 3; i <= 5; ++i)
    poster.accept_event(
        make_event(world.client_id(), "evt_fail_" + std::to_string(i), "invoice.paid"));
  REQUIRE(wait_until([&] { return dlq_entries(store, world.client_id(), failing.id).size() == 5; },
                     settle_timeout));
  // A sentinel: another webhook crossing the threshold after those entries. Its alert is raised
  // after every entry above was counted, and the alert webhook delivers in order, so once the
  // sentinel's alert is in, any second alert of the first webhook would be in too.
  poster.accept_event(make_event(world.client_id(), "evt_sentinel_1", "order.shipped"));
  poster.accept_event(make_event(world.client_id(), "evt_sentinel_2", "order.shipped"));
  std::vector<json> alerts;
  REQUIRE(wait_until(
      [&] {
        alerts = alerts_received(sink);
        return !about(alerts, sentinel.id).empty();
      },
      settle_timeout));
  const int64_t finished_s = unix_now_s();

  INFO("alerts received: " << json(alerts).dump(2));
  auto first = about(alerts, failing.id);
  REQUIRE(!first.empty());
  // At most one alert per webhook and window; exactly one unless the test straddled a window
  // boundary (windows are aligned on the unix epoch).
  std::set<std::string> windows;
  for (const auto& a : first) CHECK(windows.insert(a["parsed"]["data"]["window_start"]).second);
  if (started_s / window_seconds == finished_s / window_seconds) CHECK(first.size() == 1);
  CHECK(about(alerts, sentinel.id).size() == 1);
  CHECK(alerts.size() == first.size() + 1);

  // The alert as the receiver sees it: a signed event of client "ops".
  const json& delivery = first.front();
  CHECK(delivery["verified"] == "verified");
  CHECK(delivery["attempt"] == 1);
  const json& body = delivery["parsed"];
  CHECK(body["type"] == "webhookd.alert.dlq_threshold");
  CHECK(body["client_id"] == "ops");
  CHECK_THAT(body["id"].get<std::string>(),
             Contains("webhookd.alert.dlq_threshold:" + failing.id + ":"));
  const json& data = body["data"];
  CHECK(data["alert"] == "webhookd.alert.dlq_threshold");
  CHECK(data["webhook_id"] == failing.id);
  CHECK(data["client_id"] == world.client_id());
  CHECK(data["threshold"] == 2);
  CHECK(data["dlq_entries_in_window"].get<int>() >= 2);
  CHECK(data["window_seconds"] == window_seconds);
  CHECK_THAT(data["last_reason"].get<std::string>(), Contains("400"));
  CHECK_THAT(data["message"].get<std::string>(), Contains(failing.id));

  // The alert is an ordinary event of "ops": stored once, its delivery tracked like any other.
  auto stored = event_deliveries(store, "ops", body["id"].get<std::string>());
  REQUIRE(stored.size() == 1);
  CHECK(stored[0].webhook_id == alert_hook.id);

  // The catalogue holds the alert types from the start.
  auto types = world.api().get("/api/v1/event-types");
  INFO(types.describe());
  REQUIRE(types.status == 200);
  std::set<std::string> names;
  REQUIRE(types.json.contains("data"));
  for (const auto& t : types.json["data"]) names.insert(t.value("name", ""));
  CHECK(names.count("webhookd.alert.dlq_threshold") == 1);
  CHECK(names.count("webhookd.alert.actor_crash_loop") == 1);
  CHECK(names.count("webhookd.alert.store_unreachable") == 1);
}
