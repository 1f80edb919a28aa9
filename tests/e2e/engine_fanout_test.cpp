// Fan-out and filtering: one event goes to every webhook of its client whose event-type pattern
// (exact name, `prefix.*`, `*`) and trigger conditions match, and to no other. "No other" is
// checked twice: after a sentinel event that every webhook receives has arrived everywhere (so a
// late stray delivery would have had its chance), and in the store, where the delivery rows of an
// event are committed before its 202.

#include <catch2/catch.hpp>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/e2e/engine_support.hpp"

using namespace webhookd::e2e;
using nlohmann::json;

namespace {

constexpr milliseconds delivery_timeout{30'000};

std::set<std::string> event_ids_at(sink_process& sink, const std::string& path) {
  std::set<std::string> ids;
  for (const auto& d : sink.deliveries(path)) ids.insert(d.at("event_id").get<std::string>());
  return ids;
}

}  // namespace

TEST_CASE("an event fans out to exactly the webhooks whose types and trigger conditions match",
          "[e2e][engine][sqlite]") {
  engine_world world;
  auto& sink = world.sink();

  // path -> webhook registration
  struct subscription {
    std::vector<std::string> types;
    json trigger;  // null: none
  };
  const std::map<std::string, subscription> subscriptions{
      {"/fan/exact", {{"invoice.paid", "sentinel.ping"}, nullptr}},
      {"/fan/prefix", {{"invoice.*", "sentinel.ping"}, nullptr}},
      {"/fan/all", {{"*"}, nullptr}},
      {"/fan/order", {{"order.shipped", "sentinel.ping"}, nullptr}},
      {"/fan/big", {{"invoice.paid", "sentinel.ping"}, {{"data.amount", {{"$gte", 100}}}}}},
      {"/fan/de", {{"*"}, {{"data.customer.country", "DE"}}}},
      {"/fan/vip-or-eur",
       {{"*"},
        {{"$or", json::array({{{"data.vip", true}}, {{"data.currency", "EUR"}}})},
         {"$not", {{"type", "order.shipped"}}}}}},
  };
  std::map<std::string, std::string> webhook_of;  // path -> webhook id
  for (const auto& [path, sub] : subscriptions) {
    json extra = json::object();
    if (!sub.trigger.is_null()) extra["trigger_conditions"] = sub.trigger;
    webhook_of[path] = world.add_webhook(path, sub.types, extra).id;
  }

  // Another client's catch-all webhook must never see this client's events.
  api_client other(world.server(), "globex");
  auto other_hook = other.create_webhook(
      {{"callback_url", sink.url("/fan/other-client")}, {"event_types", {"*"}}});
  sink.configure({{"path", "/fan/other-client"}, {"secrets", {other_hook.signing_secret}}});

  auto payload = [](int amount, const std::string& country, const std::string& currency, bool vip) {
    return json{{"amount", amount},
                {"currency", currency},
                {"vip", vip},
                {"customer", {{"country", country}}}};
  };
  const std::string client = world.client_id();
  json events = json::array({
      make_event(client, "evt_fan_1", "invoice.paid", payload(150, "US", "USD", false)),
      make_event(client, "evt_fan_2", "invoice.created", payload(500, "DE", "EUR", false)),
      make_event(client, "evt_fan_3", "order.shipped", payload(10, "DE", "EUR", true)),
      make_event(client, "evt_fan_4", "invoice.paid", payload(50, "FR", "USD", true)),
  });
  const std::map<std::string, std::set<std::string>> expected{
      {"/fan/exact", {"evt_fan_1", "evt_fan_4"}},
      {"/fan/prefix", {"evt_fan_1", "evt_fan_2", "evt_fan_4"}},
      {"/fan/all", {"evt_fan_1", "evt_fan_2", "evt_fan_3", "evt_fan_4"}},
      {"/fan/order", {"evt_fan_3"}},
      {"/fan/big", {"evt_fan_1"}},
      {"/fan/de", {"evt_fan_2", "evt_fan_3"}},
      {"/fan/vip-or-eur", {"evt_fan_2", "evt_fan_4"}},
  };

  auto poster = world.poster();
  auto answer = poster.post_batch(events);
  INFO(answer.describe());
  REQUIRE(answer.status == 202);
  CHECK(answer.json == json{{"accepted", 4}, {"duplicates", 0}});

  for (const auto& [path, ids] : expected) {
    INFO("path " << path);
    CHECK(sink.wait_for(path, static_cast<int>(ids.size()), delivery_timeout));
  }

  // The sentinel matches every webhook of the client; the other client gets its own.
  json sentinel =
      make_event(client, "evt_fan_sentinel", "sentinel.ping", payload(1000, "DE", "EUR", true));
  poster.accept_event(sentinel);
  poster.accept_event(make_event("globex", "evt_fan_globex", "sentinel.ping", json::object()));
  for (const auto& [path, ids] : expected) {
    INFO("path " << path);
    CHECK(sink.wait_for(path, static_cast<int>(ids.size()) + 1, delivery_timeout));
  }
  CHECK(sink.wait_for("/fan/other-client", 1, delivery_timeout));

  for (const auto& [path, ids] : expected) {
    INFO("path " << path);
    auto want = ids;
    want.insert("evt_fan_sentinel");
    CHECK(event_ids_at(sink, path) == want);
    json stats = sink.stats(path);
    CHECK(stats.at("count") == static_cast<int>(want.size()));
    CHECK(stats.at("verified") == static_cast<int>(want.size()));
  }
  CHECK(event_ids_at(sink, "/fan/other-client") == std::set<std::string>{"evt_fan_globex"});
  CHECK(sink.stats("/fan/other-client").at("verified") == 1);

  // The store holds exactly one delivery per matching webhook for each event.
  auto& store = world.store();
  for (const auto& event : events) {
    const std::string event_id = event.at("event_id");
    INFO("event " << event_id);
    std::set<std::string> want;
    for (const auto& [path, ids] : expected) {
      if (ids.count(event_id) != 0) want.insert(webhook_of.at(path));
    }
    std::set<std::string> stored;
    std::size_t rows = 0;
    for (const auto& d : event_deliveries(store, client, event_id)) {
      stored.insert(d.webhook_id);
      ++rows;
    }
    CHECK(stored == want);
    CHECK(rows == want.size());
  }
}
