#include "http/management_json.hpp"

#include <catch2/catch.hpp>

#include "http/request_body.hpp"

using namespace webhookd;
using namespace webhookd::http;
using json = nlohmann::json;

namespace {

void check_422(const api_error& err, const std::string& starts) {
  CHECK(err.status == 422);
  CHECK(err.code == "validation_failed");
  CHECK_THAT(err.message, Catch::StartsWith(starts));
}

json create_body() {
  return json{{"callback_url", "https://hooks.example.com/x"}, {"event_types", {"invoice.paid"}}};
}

api_error create_error(json body) {
  auto r = parse_webhook_body(body, body_kind::create);
  REQUIRE_FALSE(r);
  return r.err();
}

}  // namespace

TEST_CASE("request bodies: size, syntax with offset, nesting, object", "[unit]") {
  auto ok = parse_json_object(R"({"a": 1})");
  REQUIRE(ok);
  CHECK((*ok)["a"] == 1);

  auto bad = parse_json_object(R"({"a": 1,})");
  REQUIRE_FALSE(bad);
  CHECK(bad.err().status == 400);
  CHECK(bad.err().code == "invalid_json");
  CHECK_THAT(bad.err().message, Catch::StartsWith("syntax error at byte 9: "));

  auto empty = parse_json_object("");
  REQUIRE_FALSE(empty);
  CHECK(empty.err().status == 400);
  auto empty_ok = parse_json_object("  \n", true);
  REQUIRE(empty_ok);
  CHECK(*empty_ok == json::object());

  auto deep = parse_json_object(std::string(65, '[') + std::string(65, ']'));
  REQUIRE_FALSE(deep);
  CHECK(deep.err().message == "nesting deeper than 64 at byte 64");
  CHECK(find_excess_nesting(R"({"a":"[[[[[["})", 1) == std::string::npos);
  CHECK(find_excess_nesting(R"({"a":"\"[[", "b":[1]})", 1) == 17);

  auto array = parse_json_object("[]");
  REQUIRE_FALSE(array);
  check_422(array.err(), "body: must be a JSON object");

  auto huge = parse_json_object(std::string(max_management_body_bytes + 1, ' '));
  REQUIRE_FALSE(huge);
  CHECK(huge.err().status == 413);
  CHECK(huge.err().code == "payload_too_large");
}

TEST_CASE("webhook create bodies: every field validated and normalised", "[unit]") {
  json body = create_body();
  body["event_types"] = {"invoice.paid", "order.*", "invoice.paid"};
  body["trigger_conditions"] = {{"data.amount", {{"$gte", 100}}}};
  body["retry_policy"] = {{"max_attempts", 3}};
  body["rate_limit"] = 10;
  body["priority"] = "bulk";
  body["ordered"] = true;
  body["headers"] = {{"X-Team", "billing"}};
  body["description"] = "d";
  body["public_key"] = nullptr;  // null on create = absent
  auto r = parse_webhook_body(body, body_kind::create);
  REQUIRE(r);
  const webhook& w = r->values;
  CHECK(r->callback_url == std::optional<std::string>("https://hooks.example.com/x"));
  CHECK(w.event_types == std::vector<std::string>{"invoice.paid", "order.*"});
  CHECK(json::parse(w.trigger_conditions) == body["trigger_conditions"]);
  CHECK(json::parse(w.retry_policy) == body["retry_policy"]);
  CHECK(w.rate_limit == 10);
  CHECK(w.priority == "bulk");
  CHECK(w.ordered);
  CHECK(json::parse(w.headers) == json{{"x-team", "billing"}});
  CHECK(w.public_key.empty());

  check_422(create_error({{"event_types", {"a"}}}), "callback_url: required");
  check_422(create_error({{"callback_url", "https://x.example/"}}), "event_types: required");
  auto with = [](const char* field, json value) {
    json b = create_body();
    b[field] = std::move(value);
    return b;
  };
  check_422(create_error(with("status", "paused")), "status: unknown field");
  check_422(create_error(with("callback_url", 1)),
            "callback_url: must be a string, got an integer");
  check_422(create_error(with("callback_url", std::string(2049, 'a'))), "callback_url: must be");
  check_422(create_error(with("event_types", {"a", "b*"})), "event_types[1]: ");
  check_422(create_error(with("event_types", json::array())), "event_types: must have 1 to 100");
  check_422(create_error(with("trigger_conditions", {{"a", {{"$regex", "x"}}}})),
            "trigger_conditions at /a/$regex: ");
  check_422(create_error(with("trigger_conditions", json::array())),
            "trigger_conditions: must be an object");
  check_422(create_error(with("retry_policy", {{"schedule", {-1}}})), "retry_policy.schedule");
  check_422(create_error(with("rate_limit", 100001)), "rate_limit: must be an integer");
  check_422(create_error(with("rate_limit", -1)), "rate_limit: must be an integer");
  check_422(create_error(with("rate_limit", true)), "rate_limit: must be an integer");
  check_422(create_error(with("priority", 1)), "priority: must be high, standard or bulk");
  check_422(create_error(with("ordered", 1)), "ordered: must be a boolean");
  check_422(create_error(
                with("public_key", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")),
            "public_key: is not a PEM public key");
  check_422(create_error(with("encrypt_fields", json::array())), "encrypt_fields: must have 1");
  check_422(create_error(with("encrypt_fields", {"data..card"})), "encrypt_fields[0]: ");
  check_422(create_error(with("headers", {{"content-type", "x"}})), "headers.content-type: name");
  check_422(create_error(with("headers", {{"Webhook-Id", "x"}})), "headers.Webhook-Id: name");
  check_422(create_error(with("headers", {{"bad name", "x"}})), "headers.bad name: name");
  check_422(create_error(with("headers", {{"x-a", "1"}, {"X-A", "2"}})), "headers.");
  check_422(create_error(with("headers", {{"x-a", 1}})), "headers.x-a: must be a string");
  check_422(create_error(with("description", std::string(1025, 'x'))), "description: must be");
}

TEST_CASE("webhook PATCH bodies: subsets, status, null clears optional fields", "[unit]") {
  auto r = parse_webhook_body(
      {{"status", "disabled"}, {"trigger_conditions", nullptr}, {"headers", nullptr}},
      body_kind::patch);
  REQUIRE(r);
  CHECK(r->fields == std::vector<std::string>{"headers", "status", "trigger_conditions"});
  CHECK(r->values.status == "disabled");
  CHECK(r->values.trigger_conditions.empty());
  CHECK_FALSE(r->callback_url);

  auto empty = parse_webhook_body(json::object(), body_kind::patch);
  REQUIRE_FALSE(empty);
  check_422(empty.err(), "body: names no field");
  auto bad_status = parse_webhook_body({{"status", "gone"}}, body_kind::patch);
  REQUIRE_FALSE(bad_status);
  check_422(bad_status.err(), "status: must be");
  auto timeout = parse_webhook_body({{"timeout_seconds", 2.5}}, body_kind::patch);
  REQUIRE(timeout);
  CHECK(timeout->values.timeout_ms == 2500);
  auto no_timeout = parse_webhook_body({{"timeout_seconds", nullptr}}, body_kind::patch);
  REQUIRE(no_timeout);
  CHECK(no_timeout->fields == std::vector<std::string>{"timeout_seconds"});
  CHECK(no_timeout->values.timeout_ms == 0);
  for (const char* field : {"callback_url", "event_types", "rate_limit", "priority", "ordered"}) {
    auto cleared = parse_webhook_body({{field, nullptr}}, body_kind::patch);
    REQUIRE_FALSE(cleared);
    check_422(cleared.err(), field);
  }
}

TEST_CASE("subscription patterns are checked against the catalogue", "[unit]") {
  std::vector<event_type> catalogue{{"invoice.paid", "", "", 0}, {"order.line.added", "", "", 0}};
  CHECK_FALSE(
      check_patterns_in_catalogue({"invoice.paid", "order.*", "order.line.*", "*"}, catalogue));
  auto unknown = check_patterns_in_catalogue({"invoice.paid", "invoice.void"}, catalogue);
  REQUIRE(unknown);
  check_422(*unknown, "event_types[1]: unknown event type \"invoice.void\"");
  auto no_match = check_patterns_in_catalogue({"refund.*"}, catalogue);
  REQUIRE(no_match);
  check_422(*no_match, "event_types[0]: no event type in the catalogue matches \"refund.*\"");
  // "invoice.paid.*" needs a type strictly below invoice.paid.
  CHECK(check_patterns_in_catalogue({"invoice.paid.*"}, catalogue));
  CHECK(check_patterns_in_catalogue({"*"}, {}) == std::nullopt);
}

TEST_CASE("objects become the contract's JSON", "[unit]") {
  webhook w;
  w.id = "wh_1";
  w.client_id = "acme";
  w.callback_url = "https://x.example/";
  w.event_types = {"a.b"};
  w.signing_secret = "whsec_secret";
  w.previous_secret = "whsec_old";
  w.previous_secret_expires_at = 1'700'000'000'123;
  w.created_at = 1'700'000'000'000;
  w.updated_at = 1'700'000'000'001;
  json out = webhook_to_json(w);
  CHECK(out["webhook_id"] == "wh_1");
  CHECK(out["trigger_conditions"].is_null());
  CHECK(out["retry_policy"].is_null());
  CHECK(out["public_key"].is_null());
  CHECK(out["encrypt_fields"].is_null());
  CHECK(out["headers"] == json::object());
  CHECK(out["previous_secret_expires_at"] == "2023-11-14T22:13:20.123Z");
  CHECK(out["created_at"] == "2023-11-14T22:13:20.000Z");
  CHECK(out["timeout_seconds"].is_null());
  CHECK(out.size() == 19);
  CHECK(out.dump().find("whsec_") == std::string::npos);

  source s;
  s.id = "src_1";
  s.secret = "hidden";
  CHECK_FALSE(source_to_json(s, false).contains("secret"));
  CHECK(source_to_json(s, true)["secret"] == "hidden");

  event_type t{"a.b", "d", R"({"type":"object"})", 0};
  CHECK(event_type_to_json(t)["schema"] == json{{"type", "object"}});
  CHECK(cursor_to_json("").is_null());
  CHECK(cursor_to_json("wh_2") == "wh_2");
}

TEST_CASE("source, event type and rotate bodies", "[unit]") {
  auto src = parse_source_body({{"name", "billing"},
                                {"allowed_event_types", {"invoice.paid"}},
                                {"ip_allowlist", {"10.1.2.3", "2001:db8::/32"}}},
                               body_kind::create);
  REQUIRE(src);
  CHECK(src->values.ip_allowlist == std::vector<std::string>{"10.1.2.3/32", "2001:db8::/32"});
  auto no_types = parse_source_body({{"name", "b"}}, body_kind::create);
  REQUIRE_FALSE(no_types);
  check_422(no_types.err(), "allowed_event_types: required");
  auto pattern =
      parse_source_body({{"name", "b"}, {"allowed_event_types", {"invoice.*"}}}, body_kind::create);
  REQUIRE_FALSE(pattern);
  check_422(pattern.err(), "allowed_event_types[0]: ");
  auto short_key = parse_source_body({{"api_key", "abc"}}, body_kind::patch);
  REQUIRE_FALSE(short_key);
  check_422(short_key.err(), "api_key: must be 16 to 256 characters");
  auto cleared = parse_source_body({{"ip_allowlist", nullptr}}, body_kind::patch);
  REQUIRE(cleared);
  CHECK(cleared->values.ip_allowlist.empty());

  auto t = parse_event_type_body({{"name", "invoice.paid"}, {"schema", {{"type", "object"}}}});
  REQUIRE(t);
  CHECK(t->schema == R"({"type":"object"})");
  auto bad_name = parse_event_type_body({{"name", "Invoice"}});
  REQUIRE_FALSE(bad_name);
  check_422(bad_name.err(), "name: ");

  auto grace = parse_rotate_body(json::object(), 86400);
  REQUIRE(grace);
  CHECK(*grace == 86400);
  auto zero = parse_rotate_body({{"grace_period_seconds", 0}}, 86400);
  REQUIRE(zero);
  CHECK(*zero == 0);
  auto negative = parse_rotate_body({{"grace_period_seconds", -1}}, 86400);
  REQUIRE_FALSE(negative);
  check_422(negative.err(), "grace_period_seconds: must be an integer from 0 to 2592000");
}
