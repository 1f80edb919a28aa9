#include "core/delivery_body.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace webhookd;

TEST_CASE("the delivered body wraps the payload with the event's identity", "[unit]") {
  event ev;
  ev.event_id = "evt_\"1";
  ev.event_type = "invoice.paid";
  ev.client_id = "acme";
  ev.timestamp = 1614265330123;
  ev.payload = R"({"amount":100,"currency":"USD"})";
  auto body = delivery_body(ev);
  auto parsed = nlohmann::json::parse(body);
  CHECK(parsed["id"] == "evt_\"1");
  CHECK(parsed["type"] == "invoice.paid");
  CHECK(parsed["client_id"] == "acme");
  CHECK(parsed["timestamp"] == "2021-02-25T15:02:10.123Z");
  CHECK(parsed["data"]["amount"] == 100);
  CHECK(delivery_body(ev) == body);
}
