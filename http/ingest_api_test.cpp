#include "http/ingest_api.hpp"

#include <catch2/catch.hpp>

#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/source_signature.hpp"
#include "http/server.hpp"

using namespace webhookd;
using webhookd::http::ingest_api;
using webhookd::http::source_lookup_result;
using webhookd::http::submit_result;
using json = nlohmann::json;

namespace {

constexpr int64_t now_ms = 1'800'000'000'000;

// An engine that knows a fixed set of sources and answers submissions as told, recording what
// it was given.
class recording_backend final : public http::ingest_backend {
 public:
  source_lookup_result find_source(const std::string& api_key) override {
    std::lock_guard<std::mutex> guard(mutex_);
    source_lookup_result out;
    if (registry_down) {
      out.status = source_lookup_result::kind::unavailable;
      out.message = "timeout";
      return out;
    }
    for (const auto& s : sources) {
      if (s.api_key == api_key) {
        out.status = source_lookup_result::kind::found;
        out.src = s;
        return out;
      }
    }
    out.status = source_lookup_result::kind::unknown;
    return out;
  }

  submit_result submit(std::vector<event> events) override {
    std::lock_guard<std::mutex> guard(mutex_);
    submitted.push_back(events);
    submit_result out = answer;
    if (out.status == submit_result::kind::accepted) {
      out.accepted = static_cast<int64_t>(events.size()) - answer.duplicates;
    }
    return out;
  }

  std::vector<std::vector<event>> batches() {
    std::lock_guard<std::mutex> guard(mutex_);
    return submitted;
  }

  std::vector<source> sources;
  bool registry_down = false;
  submit_result answer{submit_result::kind::accepted, 0, 0, {}};

 private:
  std::mutex mutex_;
  std::vector<std::vector<event>> submitted;
};

source make_source(std::string id, std::string key, std::vector<std::string> allowed,
                   std::vector<std::string> allowlist = {}) {
  source s;
  s.id = std::move(id);
  s.name = "shop";
  s.api_key = std::move(key);
  s.secret = "s3cret-" + s.api_key;
  s.allowed_event_types = std::move(allowed);
  s.ip_allowlist = std::move(allowlist);
  return s;
}

json make_event(std::string id = "evt_1", std::string type = "invoice.paid") {
  return {{"event_id", std::move(id)},
          {"client_id", "acme"},
          {"event_type", std::move(type)},
          {"timestamp", 1'795'909'262},
          {"payload", {{"amount", 150}, {"currency", "USD"}}}};
}

struct api_fixture {
  api_fixture()
      : clock(now_ms), api(backend, clock, {}, nullptr), srv(settings(), nullptr, nullptr) {
    backend.sources = {make_source("src_1", "key_1", {"invoice.*", "user.created"}),
                       make_source("src_far", "key_far", {"*"}, {"10.0.0.0/8"}),
                       make_source("src_near", "key_near", {"*"}, {"10.0.0.0/8", "127.0.0.0/8"})};
    api.register_routes(srv.routes());
    REQUIRE(srv.start().ok);
  }

  static http::http_settings settings() {
    http::http_settings s;
    s.host = "127.0.0.1";
    s.port = 0;
    s.threads = 4;
    s.max_payload_bytes = 32 * 1024 * 1024;
    return s;
  }

  // POSTs `body` signed with the source of `key` (timestamp offset `skew` seconds from now).
  httplib::Result post(const std::string& path, const std::string& body,
                       const std::string& key = "key_1", int64_t skew = 0,
                       const std::string& secret_override = {}) {
    std::string secret = secret_override;
    for (const auto& s : backend.sources) {
      if (s.api_key == key && secret.empty()) secret = s.secret;
    }
    if (secret.empty()) secret = "whatever";
    int64_t ts = now_ms / 1000 + skew;
    auto signature = sign_source_request(secret, ts, body);
    REQUIRE(signature);
    httplib::Headers headers{{"X-Source-Key", key},
                             {"X-Source-Timestamp", std::to_string(ts)},
                             {"X-Source-Signature", signature.value()}};
    httplib::Client client("127.0.0.1", srv.port());
    client.set_read_timeout(std::chrono::seconds(10));
    return client.Post(path.c_str(), headers, body, "application/json");
  }

  httplib::Result post_event(const json& ev, const std::string& key = "key_1") {
    return post("/api/v1/events", ev.dump(), key);
  }

  recording_backend backend;
  manual_clock clock;
  ingest_api api;
  http::server srv;
};

json body_of(const httplib::Result& res) {
  return json::parse(res->body);
}

// Checks an error answer: status, code, and that the message contains `needle`.
void check_error(const httplib::Result& res, int status, const std::string& code,
                 const std::string& needle = {}) {
  REQUIRE(res);
  INFO(res->body);
  CHECK(res->status == status);
  json body = body_of(res);
  CHECK(body["error"]["code"] == code);
  CHECK_THAT(body["error"]["message"].get<std::string>(), Catch::Matchers::Contains(needle));
}

}  // namespace

TEST_CASE("ingest api accepts a signed event and hands it on as stored", "[unit][http]") {
  api_fixture f;
  auto res = f.post_event(make_event());
  REQUIRE(res);
  INFO(res->body);
  CHECK(res->status == 202);
  CHECK(body_of(res) == json{{"accepted", 1}, {"duplicates", 0}});
  auto batches = f.backend.batches();
  REQUIRE(batches.size() == 1);
  REQUIRE(batches[0].size() == 1);
  const event& ev = batches[0][0];
  CHECK(ev.event_id == "evt_1");
  CHECK(ev.client_id == "acme");
  CHECK(ev.event_type == "invoice.paid");
  CHECK(ev.timestamp == 1'795'909'262'000);
  CHECK(json::parse(ev.payload) == json{{"amount", 150}, {"currency", "USD"}});
  CHECK(ev.source_id == "src_1");
  CHECK(ev.received_at == now_ms);

  // Duplicates are the engine's answer, passed through.
  f.backend.answer.duplicates = 1;
  auto dup = f.post_event(make_event());
  REQUIRE(dup);
  CHECK(dup->status == 202);
  CHECK(body_of(dup) == json{{"accepted", 0}, {"duplicates", 1}});
}

TEST_CASE("ingest api takes RFC 3339 and fractional timestamps", "[unit][http]") {
  api_fixture f;
  json ev = make_event();
  ev["timestamp"] = "2026-11-28T23:41:02.123Z";
  REQUIRE(f.post_event(ev)->status == 202);
  ev["timestamp"] = 1.5;
  REQUIRE(f.post_event(ev)->status == 202);
  auto batches = f.backend.batches();
  REQUIRE(batches.size() == 2);
  CHECK(batches[0][0].timestamp == 1'795'909'262'123);
  CHECK(batches[1][0].timestamp == 1'500);
}

TEST_CASE("ingest api batch endpoint submits every event at once", "[unit][http]") {
  api_fixture f;
  json batch = json::array(
      {make_event("a"), make_event("b", "invoice.voided"), make_event("c", "user.created")});
  auto res = f.post("/api/v1/events/batch", batch.dump());
  REQUIRE(res);
  CHECK(res->status == 202);
  CHECK(body_of(res) == json{{"accepted", 3}, {"duplicates", 0}});
  auto batches = f.backend.batches();
  REQUIRE(batches.size() == 1);
  REQUIRE(batches[0].size() == 3);
  CHECK(batches[0][1].event_id == "b");
  CHECK(batches[0][2].event_type == "user.created");
}

TEST_CASE("ingest api refuses unauthenticated requests with 401 and stores nothing",
          "[unit][http]") {
  api_fixture f;
  std::string body = make_event().dump();
  httplib::Client client("127.0.0.1", f.srv.port());
  check_error(client.Post("/api/v1/events", body, "application/json"), 401, "unauthorized",
              "X-Source-Key");
  check_error(f.post("/api/v1/events", body, "key_nope"), 401, "unauthorized", "unknown");
  check_error(f.post("/api/v1/events", body, "key_1", 0, "wrong secret"), 401, "unauthorized",
              "bad_signature");
  check_error(f.post("/api/v1/events", body, "key_1", -301), 401, "unauthorized",
              "stale_timestamp");
  check_error(f.post("/api/v1/events", body, "key_1", +301), 401, "unauthorized",
              "stale_timestamp");
  CHECK(f.post("/api/v1/events", body, "key_1", -299)->status == 202);

  // A signature over another body does not verify.
  auto signature = sign_source_request("s3cret-key_1", now_ms / 1000, body + " ");
  REQUIRE(signature);
  httplib::Headers headers{{"X-Source-Key", "key_1"},
                           {"X-Source-Timestamp", std::to_string(now_ms / 1000)},
                           {"X-Source-Signature", signature.value()}};
  check_error(client.Post("/api/v1/events", headers, body, "application/json"), 401, "unauthorized",
              "bad_signature");
  CHECK(f.backend.batches().size() == 1);
}

TEST_CASE("ingest api answers 503 when the registry or the engine can't take events",
          "[unit][http]") {
  api_fixture f;
  f.backend.registry_down = true;
  auto res = f.post_event(make_event());
  check_error(res, 503, "unavailable");
  CHECK(res->get_header_value("Retry-After") == "1");
  CHECK(f.backend.batches().empty());

  f.backend.registry_down = false;
  f.backend.answer = {submit_result::kind::overloaded, 0, 0, "buffer full"};
  res = f.post_event(make_event());
  check_error(res, 503, "unavailable", "overloaded");
  CHECK(res->get_header_value("Retry-After") == "1");

  f.backend.answer = {submit_result::kind::unavailable, 0, 0, "the store failed"};
  res = f.post_event(make_event());
  check_error(res, 503, "unavailable", "the store failed");
  CHECK(res->get_header_value("Retry-After") == "1");
}

TEST_CASE("ingest api enforces the source's IP allowlist", "[unit][http]") {
  api_fixture f;
  check_error(f.post_event(make_event(), "key_far"), 403, "forbidden", "127.0.0.1");
  CHECK(f.post_event(make_event(), "key_near")->status == 202);
  CHECK(f.backend.batches().size() == 1);
}

TEST_CASE("ingest api allows only the source's event types", "[unit][http]") {
  api_fixture f;
  check_error(f.post_event(make_event("e", "user.deleted")), 403, "forbidden", "user.deleted");
  check_error(f.post_event(make_event("e", "invoice")), 403, "forbidden");
  CHECK(f.post_event(make_event("e", "invoice.line.added"))->status == 202);
  json batch = json::array({make_event("a"), make_event("b", "order.created")});
  check_error(f.post("/api/v1/events/batch", batch.dump()), 403, "forbidden", "[1].event_type");
  CHECK(f.backend.batches().size() == 1);
}

TEST_CASE("ingest api names the field of a malformed event", "[unit][http]") {
  api_fixture f;
  check_error(f.post("/api/v1/events", "{\"event_id\": "), 400, "invalid_json", "byte");
  check_error(f.post("/api/v1/events", ""), 400, "invalid_json");
  check_error(f.post("/api/v1/events", "[1]"), 422, "validation_failed", "JSON object");

  struct bad_case {
    const char* field;
    json value;  // null = remove the field
  };
  std::vector<bad_case> cases = {
      {"event_id", nullptr},
      {"event_id", ""},
      {"event_id", 7},
      {"event_id", std::string(256, 'x')},
      {"client_id", nullptr},
      {"client_id", json::array()},
      {"event_type", "Invoice.Paid"},
      {"event_type", "invoice..paid"},
      {"event_type", nullptr},
      {"timestamp", "yesterday"},
      {"timestamp", -1},
      {"timestamp", true},
      {"timestamp", nullptr},
      {"payload", "text"},
      {"payload", json::array()},
      {"payload", nullptr},
  };
  for (const auto& c : cases) {
    json ev = make_event();
    if (c.value.is_null()) {
      ev.erase(c.field);
    } else {
      ev[c.field] = c.value;
    }
    INFO(ev.dump().substr(0, 200));
    check_error(f.post_event(ev), 422, "validation_failed", c.field);
  }
  json extra = make_event();
  extra["surprise"] = 1;
  check_error(f.post_event(extra), 422, "validation_failed", "surprise: unknown field");

  std::string deep =
      R"({"event_id":"e","client_id":"acme","event_type":"a.b","timestamp":1,"payload":)";
  for (int i = 0; i < 200; ++i) deep += "{\"a\":";
  deep += "1";
  for (int i = 0; i < 200; ++i) deep += "}";
  deep += "}";
  check_error(f.post("/api/v1/events", deep), 422, "validation_failed", "deeper");
  CHECK(f.backend.batches().empty());
}

TEST_CASE("ingest api checks the shape and size of a batch", "[unit][http]") {
  api_fixture f;
  check_error(f.post("/api/v1/events/batch", make_event().dump()), 422, "validation_failed",
              "array");
  check_error(f.post("/api/v1/events/batch", "[]"), 422, "validation_failed", "at least one");
  json bad = json::array({make_event("a"), make_event("b")});
  bad[1].erase("client_id");
  check_error(f.post("/api/v1/events/batch", bad.dump()), 422, "validation_failed",
              "[1].client_id: required");
  json many = json::array();
  for (int i = 0; i < 1001; ++i) many.push_back(make_event("e" + std::to_string(i)));
  check_error(f.post("/api/v1/events/batch", many.dump()), 422, "validation_failed", "1001");
  many.erase(many.size() - 1);
  CHECK(f.post("/api/v1/events/batch", many.dump())->status == 202);
  CHECK(f.backend.batches().size() == 1);
}

TEST_CASE("ingest api refuses payloads over 256 KiB with 413", "[unit][http]") {
  api_fixture f;
  json big = make_event();
  big["payload"] = {{"blob", std::string(300 * 1024, 'x')}};
  check_error(f.post_event(big), 413, "payload_too_large");

  // Just under the limit passes on both endpoints.
  json fits = make_event();
  fits["payload"] = {{"blob", std::string(256 * 1024 - 20, 'x')}};
  CHECK(f.post_event(fits)->status == 202);

  // In a batch, each payload is checked on its own.
  json batch = json::array({make_event("a"), fits, big});
  check_error(f.post("/api/v1/events/batch", batch.dump()), 413, "payload_too_large",
              "[2].payload");
  batch.erase(2);
  CHECK(f.post("/api/v1/events/batch", batch.dump())->status == 202);
  CHECK(f.backend.batches().size() == 2);
}
