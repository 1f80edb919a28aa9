// Ingestion authenticates each source: a bad signature, a tampered body, a stale or future
// timestamp, an unknown key or a missing signature is 401; an event type the source may not post
// is 403. Nothing of a refused request is stored or delivered.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/e2e/engine_support.hpp"

using namespace webhookd::e2e;
using nlohmann::json;

TEST_CASE("refused source requests get 401/403 and store nothing", "[e2e][engine][sqlite]") {
  engine_world world;
  const std::string path = "/auth/all";
  world.add_webhook(path, {"*"});
  const std::string client = world.client_id();
  const source_credentials& source = world.source();
  // A second source that may post invoice.paid only.
  source_credentials narrow = world.api().create_source("e2e-narrow", {"invoice.paid"});

  auto poster = world.poster();
  struct refused_case {
    std::string name;
    std::string event_id;
    int want_status;
    http_answer answer;
  };
  std::vector<refused_case> cases;
  auto body_of = [&](const std::string& event_id, const std::string& type = "invoice.paid") {
    return make_event(client, event_id, type, {{"amount", 1}}).dump();
  };
  auto now = [] { return std::to_string(unix_now_s()); };

  {
    std::string body = body_of("evt_auth_bad_sig");
    std::string ts = now();
    cases.push_back({"signed with another secret", "evt_auth_bad_sig", 401,
                     poster.post_raw("/api/v1/events", body, source.api_key, ts,
                                     source_signature(source.secret + "x", ts, body))});
  }
  {
    std::string body = body_of("evt_auth_tampered");
    std::string ts = now();
    std::string signed_body = body_of("evt_auth_original");
    cases.push_back({"body differs from the signed one", "evt_auth_tampered", 401,
                     poster.post_raw("/api/v1/events", body, source.api_key, ts,
                                     source_signature(source.secret, ts, signed_body))});
  }
  {
    std::string body = body_of("evt_auth_stale");
    std::string ts = std::to_string(unix_now_s() - 600);
    cases.push_back({"timestamp 600 s old", "evt_auth_stale", 401,
                     poster.post_raw("/api/v1/events", body, source.api_key, ts,
                                     source_signature(source.secret, ts, body))});
  }
  {
    std::string body = body_of("evt_auth_future");
    std::string ts = std::to_string(unix_now_s() + 600);
    cases.push_back({"timestamp 600 s ahead", "evt_auth_future", 401,
                     poster.post_raw("/api/v1/events", body, source.api_key, ts,
                                     source_signature(source.secret, ts, body))});
  }
  {
    std::string body = body_of("evt_auth_unknown_key");
    std::string ts = now();
    cases.push_back({"unknown api key", "evt_auth_unknown_key", 401,
                     poster.post_raw("/api/v1/events", body, "no-such-key", ts,
                                     source_signature(source.secret, ts, body))});
  }
  {
    std::string body = body_of("evt_auth_no_sig");
    cases.push_back({"no signature", "evt_auth_no_sig", 401,
                     poster.post_raw("/api/v1/events", body, source.api_key, now(), "")});
  }
  {
    std::string body = body_of("evt_auth_disallowed", "order.shipped");
    std::string ts = now();
    cases.push_back({"type not allowed for the source", "evt_auth_disallowed", 403,
                     poster.post_raw("/api/v1/events", body, narrow.api_key, ts,
                                     source_signature(narrow.secret, ts, body))});
  }
  {
    // A batch with one disallowed event is refused as a whole.
    json batch = json::array({make_event(client, "evt_auth_batch_ok", "invoice.paid"),
                              make_event(client, "evt_auth_batch_bad", "order.shipped")});
    std::string body = batch.dump();
    std::string ts = now();
    cases.push_back({"batch with a disallowed type", "evt_auth_batch_ok", 403,
                     poster.post_raw("/api/v1/events/batch", body, narrow.api_key, ts,
                                     source_signature(narrow.secret, ts, body))});
    cases.push_back({"batch with a disallowed type (its bad event)", "evt_auth_batch_bad", 403,
                     cases.back().answer});
  }

  for (const auto& c : cases) {
    INFO(c.name << ": " << c.answer.describe());
    CHECK(c.answer.status == c.want_status);
    CHECK(c.answer.json.is_object());
    if (c.answer.json.is_object()) CHECK(c.answer.json.contains("error"));
  }

  // A correct request after them all is accepted and delivered; it is the only delivery.
  poster.accept_event(make_event(client, "evt_auth_good", "invoice.paid"));
  REQUIRE(world.sink().wait_for(path, 1, milliseconds{30'000}));
  std::set<std::string> delivered;
  for (const auto& d : world.sink().deliveries(path)) delivered.insert(d.at("event_id"));
  CHECK(delivered == std::set<std::string>{"evt_auth_good"});

  auto& store = world.store();
  REQUIRE(store.get_event(client, "evt_auth_good").ok());
  for (const auto& c : cases) {
    INFO(c.name);
    auto stored = store.get_event(client, c.event_id);
    CHECK_FALSE(stored.ok());
    if (!stored.ok()) CHECK(stored.err().code == webhookd::storage::errc::not_found);
    CHECK(event_deliveries(store, client, c.event_id).empty());
  }
}
