// Ingestion against the real binary and a real SQLite file: POST /api/v1/events[/batch] answer
// 202 only for what is stored (with its delivery rows), a repeated (client_id, event_id) is
// stored once, and every refused request leaves nothing in the store.

#include <signal.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>

#include "core/jwt.hpp"
#include "core/source_signature.hpp"
#include "storage/store.hpp"
#include "tests/e2e/harness.hpp"

using namespace webhookd::e2e;
using json = nlohmann::json;
namespace storage = webhookd::storage;

namespace {

// A SQLite file seeded with two sources and a webhook of client "acme" before the server starts.
struct seeded_store {
  explicit seeded_store(const temp_dir& dir) : url("sqlite:" + dir.file("ingest.db")) {
    auto store = open();
    webhookd::source shop;
    shop.id = "src_shop";
    shop.name = "shop";
    shop.api_key = "key_shop";
    shop.secret = "secret-of-the-shop";
    shop.allowed_event_types = {"invoice.*"};
    REQUIRE(store->insert_source(shop));
    webhookd::source far = shop;
    far.id = "src_far";
    far.api_key = "key_far";
    far.secret = "secret-of-far";
    far.ip_allowlist = {"10.0.0.0/8"};
    REQUIRE(store->insert_source(far));

    webhookd::webhook hook;
    hook.id = "wh_acme";
    hook.client_id = "acme";
    hook.callback_url = "https://hooks.example.invalid/acme";
    hook.event_types = {"invoice.paid"};
    hook.signing_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    REQUIRE(store->insert_webhook(hook));
  }

  std::unique_ptr<storage::blocking_store> open() const {
    auto opened = storage::open_store_blocking({url});
    REQUIRE(opened);
    return std::move(opened.value());
  }

  bool has_event(const std::string& client, const std::string& id) const {
    auto store = open();
    auto got = store->get_event(client, id);
    if (!got) CHECK(got.err().code == storage::errc::not_found);
    return got.ok();
  }

  std::string url;
};

int64_t now_seconds() {
  return static_cast<int64_t>(std::time(nullptr));
}

json make_event(const std::string& id, const std::string& type = "invoice.paid") {
  return {{"event_id", id},
          {"client_id", "acme"},
          {"event_type", type},
          {"timestamp", now_seconds()},
          {"payload", {{"amount", 150}, {"currency", "USD"}}}};
}

// POSTs `body` to `path` signed by `secret` with a timestamp `skew` seconds from now.
httplib::Result post_signed(webhookd_server& server, const std::string& path,
                            const std::string& body, const std::string& key,
                            const std::string& secret, int64_t skew = 0) {
  int64_t ts = now_seconds() + skew;
  auto signature = webhookd::sign_source_request(secret, ts, body);
  REQUIRE(signature);
  httplib::Headers headers{{"X-Source-Key", key},
                           {"X-Source-Timestamp", std::to_string(ts)},
                           {"X-Source-Signature", signature.value()}};
  return server.client().Post(path.c_str(), headers, body, "application/json");
}

httplib::Result post_shop(webhookd_server& server, const std::string& path,
                          const std::string& body) {
  return post_signed(server, path, body, "key_shop", "secret-of-the-shop");
}

json body_of(const httplib::Result& res) {
  return json::parse(res->body);
}

void check_refused(const httplib::Result& res, int status, const std::string& code) {
  REQUIRE(res);
  INFO(res->body);
  CHECK(res->status == status);
  CHECK(body_of(res)["error"]["code"] == code);
}

}  // namespace

TEST_CASE("ingestion stores events with their deliveries before answering 202", "[e2e][sqlite]") {
  temp_dir dir;
  seeded_store seeded(dir);
  webhookd_server server({{"--store", seeded.url}});
  INFO(server.proc().describe());

  auto first = post_shop(server, "/api/v1/events", make_event("evt_1").dump());
  REQUIRE(first);
  INFO(first->body);
  CHECK(first->status == 202);
  CHECK(body_of(first) == json{{"accepted", 1}, {"duplicates", 0}});
  {
    // Committed before the answer: event and one pending delivery for the matching webhook.
    auto store = seeded.open();
    auto ev = store->get_event("acme", "evt_1");
    REQUIRE(ev);
    CHECK(ev->event_type == "invoice.paid");
    CHECK(ev->source_id == "src_shop");
    CHECK(json::parse(ev->payload) == json{{"amount", 150}, {"currency", "USD"}});
    auto deliveries = store->list_event_deliveries("acme", "evt_1");
    REQUIRE(deliveries);
    REQUIRE(deliveries->size() == 1);
    CHECK(deliveries->at(0).webhook_id == "wh_acme");
    CHECK(deliveries->at(0).id.rfind("msg_", 0) == 0);
    CHECK(deliveries->at(0).partition == webhookd::partition_of("wh_acme"));
  }

  // The same (client_id, event_id) again: accepted once only.
  auto again = post_shop(server, "/api/v1/events", make_event("evt_1").dump());
  REQUIRE(again);
  CHECK(again->status == 202);
  CHECK(body_of(again) == json{{"accepted", 0}, {"duplicates", 1}});

  // A batch: two new events (one of a type no webhook wants) and a repeat.
  json batch = json::array(
      {make_event("evt_2"), make_event("evt_1"), make_event("evt_3", "invoice.voided")});
  auto batched = post_shop(server, "/api/v1/events/batch", batch.dump());
  REQUIRE(batched);
  INFO(batched->body);
  CHECK(batched->status == 202);
  CHECK(body_of(batched) == json{{"accepted", 2}, {"duplicates", 1}});

  auto stopped = server.stop(SIGTERM);
  CHECK(stopped.exited);
  CHECK(stopped.code == 0);
  // What got a 202 outlives the process.
  auto store = seeded.open();
  CHECK(store->get_event("acme", "evt_2").ok());
  auto evt3 = store->list_event_deliveries("acme", "evt_3");
  REQUIRE(evt3);
  CHECK(evt3->empty());
  auto evt1 = store->list_event_deliveries("acme", "evt_1");
  REQUIRE(evt1);
  CHECK(evt1->size() == 1);
}

TEST_CASE("refused ingestion requests store nothing", "[e2e][sqlite]") {
  temp_dir dir;
  seeded_store seeded(dir);
  webhookd_server server({{"--store", seeded.url}});
  INFO(server.proc().describe());

  SECTION("a bad signature is 401") {
    check_refused(post_signed(server, "/api/v1/events", make_event("bad_sig").dump(), "key_shop",
                              "not-the-secret"),
                  401, "unauthorized");
    CHECK_FALSE(seeded.has_event("acme", "bad_sig"));
  }
  SECTION("a stale timestamp is 401") {
    check_refused(post_signed(server, "/api/v1/events", make_event("stale").dump(), "key_shop",
                              "secret-of-the-shop", -600),
                  401, "unauthorized");
    CHECK_FALSE(seeded.has_event("acme", "stale"));
  }
  SECTION("an unknown key is 401") {
    check_refused(post_signed(server, "/api/v1/events", make_event("who").dump(), "key_nobody",
                              "secret-of-the-shop"),
                  401, "unauthorized");
    CHECK_FALSE(seeded.has_event("acme", "who"));
  }
  SECTION("a missing signature is 401") {
    auto res =
        server.client().Post("/api/v1/events", httplib::Headers{{"X-Source-Key", "key_shop"}},
                             make_event("unsigned").dump(), "application/json");
    check_refused(res, 401, "unauthorized");
    CHECK_FALSE(seeded.has_event("acme", "unsigned"));
  }
  SECTION("an event type the source may not send is 403") {
    check_refused(post_shop(server, "/api/v1/events", make_event("typed", "user.created").dump()),
                  403, "forbidden");
    CHECK_FALSE(seeded.has_event("acme", "typed"));
  }
  SECTION("an address outside the source's allowlist is 403") {
    check_refused(
        post_signed(server, "/api/v1/events", make_event("far").dump(), "key_far", "secret-of-far"),
        403, "forbidden");
    CHECK_FALSE(seeded.has_event("acme", "far"));
  }
  SECTION("a 300 KiB payload is 413") {
    json big = make_event("big");
    big["payload"] = {{"blob", std::string(300 * 1024, 'x')}};
    check_refused(post_shop(server, "/api/v1/events", big.dump()), 413, "payload_too_large");
    json batch = json::array({make_event("small"), big});
    check_refused(post_shop(server, "/api/v1/events/batch", batch.dump()), 413,
                  "payload_too_large");
    CHECK_FALSE(seeded.has_event("acme", "big"));
    CHECK_FALSE(seeded.has_event("acme", "small"));
  }
  SECTION("malformed JSON is 400 and an invalid event 422") {
    std::string truncated = make_event("broken").dump();
    truncated.pop_back();
    check_refused(post_shop(server, "/api/v1/events", truncated), 400, "invalid_json");
    CHECK_FALSE(seeded.has_event("acme", "broken"));
    json invalid = make_event("invalid");
    invalid["timestamp"] = "last tuesday";
    check_refused(post_shop(server, "/api/v1/events", invalid.dump()), 422, "validation_failed");
    CHECK_FALSE(seeded.has_event("acme", "invalid"));
  }
  // The server is still healthy after every refusal.
  auto fine = post_shop(server, "/api/v1/events", make_event("fine").dump());
  REQUIRE(fine);
  CHECK(fine->status == 202);
  CHECK(seeded.has_event("acme", "fine"));
}

TEST_CASE("a source registered through the admin API can post at once, and stops when removed",
          "[e2e][sqlite]") {
  temp_dir dir;
  seeded_store seeded(dir);
  webhookd_server server({{"--store", seeded.url}});
  INFO(server.proc().describe());
  webhookd::jwt_claims claims;
  claims.sub = "ops";
  claims.scope = "admin";
  claims.iat = now_seconds();
  claims.exp = now_seconds() + 600;
  auto token = webhookd::mint_jwt(server.jwt_secret(), claims);
  REQUIRE(token);
  httplib::Headers admin{{"Authorization", "Bearer " + token.value()}};
  auto client = server.client();

  auto created = client.Post(
      "/api/v1/sources", admin,
      json{{"name", "late"}, {"allowed_event_types", {"invoice.paid"}}}.dump(), "application/json");
  REQUIRE(created);
  INFO(created->body);
  REQUIRE(created->status == 201);
  json src = body_of(created);
  const std::string id = src.at("source_id");
  const std::string secret = src.at("secret");
  std::string key = src.at("api_key");

  auto first = post_signed(server, "/api/v1/events", make_event("late_1").dump(), key, secret);
  REQUIRE(first);
  CHECK(first->status == 202);

  // A new api key replaces the old one at once.
  auto patched = client.Patch(("/api/v1/sources/" + id).c_str(), admin,
                              json{{"api_key", "key_rotated_late"}}.dump(), "application/json");
  REQUIRE(patched);
  REQUIRE(patched->status == 200);
  check_refused(post_signed(server, "/api/v1/events", make_event("late_2").dump(), key, secret),
                401, "unauthorized");
  key = "key_rotated_late";
  auto second = post_signed(server, "/api/v1/events", make_event("late_3").dump(), key, secret);
  REQUIRE(second);
  CHECK(second->status == 202);

  auto deleted = client.Delete(("/api/v1/sources/" + id).c_str(), admin);
  REQUIRE(deleted);
  REQUIRE(deleted->status == 200);
  check_refused(post_signed(server, "/api/v1/events", make_event("late_4").dump(), key, secret),
                401, "unauthorized");

  CHECK(seeded.has_event("acme", "late_1"));
  CHECK_FALSE(seeded.has_event("acme", "late_2"));
  CHECK(seeded.has_event("acme", "late_3"));
  CHECK_FALSE(seeded.has_event("acme", "late_4"));
}
