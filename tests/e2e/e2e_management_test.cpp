// The management API against the real binary on SQLite: every route's success path, and hostile
// input (malformed JSON, wrong types, huge bodies, SSRF spellings, unknown event types, bad
// filters, bad tokens, other tenants' webhooks) answered with the right 4xx and a reason while
// the server stays healthy.

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/crypto.hpp"
#include "core/jwt.hpp"
#include "tests/e2e/harness.hpp"

using namespace webhookd::e2e;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using json = nlohmann::json;

namespace {

// A receiver for reachability checks: answers every HEAD and POST with 200 and remembers them.
class receiver {
 public:
  receiver() {
    server_.set_tcp_nodelay(true);
    server_.Get(".*", [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard<std::mutex> guard(mutex_);
        seen_.push_back(req.method + " " + req.target);
      }
      res.set_content("ok", "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("receiver: cannot bind");
    // The socket listens already: connections queue until the accept loop runs.
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~receiver() {
    // httplib's stop() only works once the accept loop has started.
    while (!server_.is_running()) std::this_thread::yield();
    server_.stop();
    thread_.join();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<std::string> seen() {
    std::lock_guard<std::mutex> guard(mutex_);
    return seen_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> seen_;
};

// A token for `client` signed with `secret`, valid from now for `ttl` seconds (negative = expired).
std::string token(const std::string& secret, const std::string& client, bool admin = false,
                  int64_t ttl = 600) {
  webhookd::jwt_claims claims;
  claims.sub = client;
  claims.scope = admin ? "admin" : "";
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  claims.iat = ttl < 0 ? now + 2 * ttl : now;
  claims.exp = now + ttl;
  auto minted = webhookd::mint_jwt(secret, claims);
  if (!minted) throw std::runtime_error("mint_jwt: " + minted.err().message);
  return minted.value();
}

// A token whose header says alg "none" and that carries no signature.
std::string alg_none_token(const std::string& client) {
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  std::string header = webhookd::base64url_encode(R"({"alg":"none","typ":"JWT"})");
  std::string payload = webhookd::base64url_encode(
      json{{"sub", client}, {"scope", "admin"}, {"iat", now}, {"exp", now + 600}}.dump());
  return header + "." + payload + ".";
}

// A 2048-bit RSA public key in PEM.
std::string rsa_public_key_pem() {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_RSA_gen(2048), &EVP_PKEY_free);
  REQUIRE(key);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  REQUIRE(PEM_write_bio_PUBKEY(bio.get(), key.get()) == 1);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

// A client of one server acting as one bearer.
class api {
 public:
  api(webhookd_server& server, std::string bearer)
      : client_(server.client()), bearer_(std::move(bearer)) {}

  httplib::Result get(const std::string& path) { return client_.Get(path.c_str(), headers()); }
  httplib::Result del(const std::string& path) { return client_.Delete(path.c_str(), headers()); }
  httplib::Result post(const std::string& path, const std::string& body) {
    return client_.Post(path.c_str(), headers(), body, "application/json");
  }
  httplib::Result post(const std::string& path, const json& body) {
    return post(path, body.dump());
  }
  httplib::Result patch(const std::string& path, const std::string& body) {
    return client_.Patch(path.c_str(), headers(), body, "application/json");
  }
  httplib::Result patch(const std::string& path, const json& body) {
    return patch(path, body.dump());
  }

 private:
  httplib::Headers headers() const {
    if (bearer_.empty()) return {};
    return {{"Authorization", "Bearer " + bearer_}};
  }
  httplib::Client client_;
  std::string bearer_;
};

json body_of(const httplib::Result& res) {
  return json::parse(res->body);
}

// Checks an error answer: status, code and a message containing `reason`.
void check_error(const httplib::Result& res, int status, const std::string& code,
                 const std::string& reason) {
  REQUIRE(res);
  INFO("answer: " << res->status << " " << res->body);
  CHECK(res->status == status);
  json body = json::parse(res->body, nullptr, false);
  REQUIRE(body.is_object());
  CHECK(body["error"]["code"] == code);
  CHECK_THAT(body["error"]["message"].get<std::string>(), Contains(reason));
}

void check_healthy(webhookd_server& server) {
  auto client = server.client();
  auto health = client.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  INFO(server.proc().describe());
  CHECK(server.proc().running());
}

// Servers shared by the cases of this file (starting one takes a while on a loaded machine).
// `open_server` allows loopback targets (127.0.0.0/8) and http, for success paths with a local
// receiver; `strict_server` allows http but no private target at all.
webhookd_server& open_server() {
  static std::unique_ptr<webhookd_server> server = [] {
    static temp_dir dir;
    return std::make_unique<webhookd_server>(
        process_options{{"--store", "sqlite:" + dir.file("open.db"), "--allow-private-targets",
                         "127.0.0.0/8", "--allow-http", "true"}});
  }();
  return *server;
}

webhookd_server& strict_server() {
  static std::unique_ptr<webhookd_server> server = [] {
    static temp_dir dir;
    return std::make_unique<webhookd_server>(
        process_options{{"--store", "sqlite:" + dir.file("strict.db"), "--allow-http", "true"}});
  }();
  return *server;
}

// Makes sure the catalogue of `server` has these types (201 or 409 both leave them there).
void ensure_event_types(webhookd_server& server, const std::vector<std::string>& names) {
  api admin(server, token(server.jwt_secret(), "ops", true));
  for (const auto& name : names) {
    auto res = admin.post("/api/v1/event-types", json{{"name", name}});
    REQUIRE(res);
    REQUIRE((res->status == 201 || res->status == 409));
  }
}

json minimal_webhook(const std::string& url) {
  return json{{"callback_url", url}, {"event_types", {"invoice.paid"}}};
}

}  // namespace

TEST_CASE("management routes: success paths", "[e2e][sqlite][management]") {
  webhookd_server& server = open_server();
  INFO(server.proc().describe());
  receiver hooks;
  const std::string secret = server.jwt_secret();
  api admin(server, token(secret, "ops", true));
  api acme(server, token(secret, "acme"));

  // Event types: admin adds, any client lists (paged by name).
  auto paid = admin.post("/api/v1/event-types", json{{"name", "invoice.paid"},
                                                     {"description", "An invoice was paid"},
                                                     {"schema", {{"type", "object"}}}});
  REQUIRE(paid);
  if (paid->status == 201) {
    json t = body_of(paid);
    CHECK(t["name"] == "invoice.paid");
    CHECK(t["description"] == "An invoice was paid");
    CHECK(t["schema"] == json{{"type", "object"}});
    CHECK_THAT(t["created_at"].get<std::string>(), StartsWith("20"));
    CHECK_THAT(t["created_at"].get<std::string>(), Contains("Z"));
  } else {
    CHECK(paid->status == 409);  // another case of this file added it first
  }
  ensure_event_types(server, {"invoice.created", "order.shipped", "order.cancelled"});
  auto duplicate = admin.post("/api/v1/event-types", json{{"name", "order.shipped"}});
  check_error(duplicate, 409, "conflict", "order.shipped");

  auto first_page = acme.get("/api/v1/event-types?limit=2");
  REQUIRE(first_page);
  REQUIRE(first_page->status == 200);
  json page1 = body_of(first_page);
  REQUIRE(page1["data"].size() == 2);
  CHECK(page1["data"][0]["name"] == "invoice.created");
  REQUIRE(page1["next_cursor"].is_string());
  auto second_page =
      acme.get("/api/v1/event-types?limit=2&cursor=" + page1["next_cursor"].get<std::string>());
  REQUIRE(second_page);
  json page2 = body_of(second_page);
  REQUIRE(page2["data"].size() >= 2);
  CHECK(page2["data"][0]["name"] == "order.cancelled");

  // Create with every field.
  const std::string pem = rsa_public_key_pem();
  json create{{"callback_url", hooks.url("/hook?team=billing")},
              {"event_types", {"invoice.paid", "order.*"}},
              {"trigger_conditions",
               {{"data.amount", {{"$gte", 100}}}, {"data.currency", {{"$in", {"USD", "EUR"}}}}}},
              {"retry_policy", {{"max_attempts", 5}, {"schedule", {0, 5, 300, 1800, 7200}}}},
              {"rate_limit", 250},
              {"priority", "high"},
              {"ordered", true},
              {"public_key", pem},
              {"encrypt_fields", {"data.card"}},
              {"headers", {{"X-Team", "billing"}}},
              {"description", "billing events"}};
  auto created_res = acme.post("/api/v1/webhooks", create);
  REQUIRE(created_res);
  INFO(created_res->body);
  REQUIRE(created_res->status == 201);
  json created = body_of(created_res);
  const std::string id = created["webhook_id"];
  CHECK_THAT(id, StartsWith("wh_"));
  CHECK(created["client_id"] == "acme");
  CHECK(created["callback_url"] == hooks.url("/hook?team=billing"));
  CHECK(created["event_types"] == json{"invoice.paid", "order.*"});
  CHECK(created["trigger_conditions"] == create["trigger_conditions"]);
  CHECK(created["retry_policy"] == create["retry_policy"]);
  CHECK(created["rate_limit"] == 250);
  CHECK(created["priority"] == "high");
  CHECK(created["ordered"] == true);
  CHECK(created["public_key"] == pem);
  CHECK(created["encrypt_fields"] == json{"data.card"});
  CHECK(created["headers"] == json{{"x-team", "billing"}});
  CHECK(created["description"] == "billing events");
  CHECK(created["status"] == "active");
  CHECK(created["disabled_reason"] == "");
  CHECK(created["previous_secret_expires_at"].is_null());
  const std::string secret1 = created["signing_secret"];
  REQUIRE_THAT(secret1, StartsWith("whsec_"));
  auto key = webhookd::base64_decode(secret1.substr(6));
  REQUIRE(key);
  CHECK(key->size() == 32);
  CHECK(created["verification"]["dns"] ==
        json{{"ok", true}, {"addresses", json::array({"127.0.0.1"})}});
  CHECK(created["verification"]["reachability"] ==
        json{{"ok", true}, {"status_code", 200}, {"error", nullptr}});
  CHECK(hooks.seen() == std::vector<std::string>{"HEAD /hook?team=billing"});

  // A receiver that is down is reported, not fatal.
  auto down_port = free_loopback_port();
  auto unreachable =
      acme.post("/api/v1/webhooks",
                minimal_webhook("http://127.0.0.1:" + std::to_string(down_port) + "/gone"));
  REQUIRE(unreachable);
  REQUIRE(unreachable->status == 201);
  json down = body_of(unreachable);
  CHECK(down["verification"]["reachability"]["ok"] == false);
  CHECK(down["verification"]["reachability"]["status_code"].is_null());
  CHECK_FALSE(down["verification"]["reachability"]["error"].get<std::string>().empty());

  // Read one (without secrets) and the list (paged).
  auto got = acme.get("/api/v1/webhooks/" + id);
  REQUIRE(got);
  REQUIRE(got->status == 200);
  json fetched = body_of(got);
  CHECK_FALSE(fetched.contains("signing_secret"));
  CHECK_FALSE(fetched.contains("verification"));
  json expected = created;
  expected.erase("signing_secret");
  expected.erase("verification");
  CHECK(fetched == expected);

  auto list1 = acme.get("/api/v1/webhooks?limit=1");
  REQUIRE(list1);
  REQUIRE(list1->status == 200);
  json l1 = body_of(list1);
  REQUIRE(l1["data"].size() == 1);
  REQUIRE(l1["next_cursor"].is_string());
  CHECK_FALSE(l1["data"][0].contains("signing_secret"));
  auto list_all = acme.get("/api/v1/webhooks?limit=1000");
  REQUIRE(list_all);
  json all = body_of(list_all);
  CHECK(all["next_cursor"].is_null());
  bool listed = false;
  for (const auto& w : all["data"]) listed = listed || w["webhook_id"] == id;
  CHECK(listed);

  // PATCH: a subset; null clears.
  auto patched_res = acme.patch("/api/v1/webhooks/" + id, json{{"description", "paused for now"},
                                                               {"status", "paused"},
                                                               {"trigger_conditions", nullptr},
                                                               {"event_types", {"*"}}});
  REQUIRE(patched_res);
  INFO(patched_res->body);
  REQUIRE(patched_res->status == 200);
  json patched = body_of(patched_res);
  CHECK(patched["description"] == "paused for now");
  CHECK(patched["status"] == "paused");
  CHECK(patched["trigger_conditions"].is_null());
  CHECK(patched["event_types"] == json{"*"});
  CHECK(patched["rate_limit"] == 250);
  CHECK(patched["created_at"] == created["created_at"]);
  CHECK(patched["updated_at"] != created["updated_at"]);
  CHECK_FALSE(patched.contains("signing_secret"));
  auto disabled = acme.patch("/api/v1/webhooks/" + id, json{{"status", "disabled"}});
  REQUIRE(disabled);
  CHECK(body_of(disabled)["disabled_reason"] == "disabled by the client");
  auto reenabled = acme.patch("/api/v1/webhooks/" + id,
                              json{{"status", "active"}, {"callback_url", hooks.url("/v2")}});
  REQUIRE(reenabled);
  REQUIRE(reenabled->status == 200);
  CHECK(body_of(reenabled)["disabled_reason"] == "");
  CHECK(body_of(reenabled)["callback_url"] == hooks.url("/v2"));

  // Rotation: a new secret, the old one valid for the grace period.
  auto rotated_res =
      acme.post("/api/v1/webhooks/" + id + "/rotate-secret", json{{"grace_period_seconds", 3600}});
  REQUIRE(rotated_res);
  REQUIRE(rotated_res->status == 200);
  json rotated = body_of(rotated_res);
  const std::string secret2 = rotated["signing_secret"];
  CHECK_THAT(secret2, StartsWith("whsec_"));
  CHECK(secret2 != secret1);
  REQUIRE(rotated["previous_secret_expires_at"].is_string());
  auto rotated_default = acme.post("/api/v1/webhooks/" + id + "/rotate-secret", std::string());
  REQUIRE(rotated_default);
  REQUIRE(rotated_default->status == 200);
  json rotated2 = body_of(rotated_default);
  CHECK(rotated2["signing_secret"] != secret2);
  // The default grace is 24 h: the expiry is later than the 1 h one.
  CHECK(rotated2["previous_secret_expires_at"].get<std::string>() >
        rotated["previous_secret_expires_at"].get<std::string>());

  // Delete; then it is gone.
  auto deleted = acme.del("/api/v1/webhooks/" + id);
  REQUIRE(deleted);
  REQUIRE(deleted->status == 200);
  CHECK(body_of(deleted) ==
        json{{"webhook_id", id}, {"deleted", true}, {"cancelled_deliveries", 0}});
  check_error(acme.get("/api/v1/webhooks/" + id), 404, "not_found", id);
  check_error(acme.del("/api/v1/webhooks/" + id), 404, "not_found", id);

  // Sources (admin): create with generated credentials, read without the secret, patch, delete.
  auto src_res = admin.post("/api/v1/sources",
                            json{{"name", "billing"},
                                 {"allowed_event_types", {"invoice.paid", "invoice.created"}},
                                 {"ip_allowlist", {"203.0.113.0/24"}}});
  REQUIRE(src_res);
  INFO(src_res->body);
  REQUIRE(src_res->status == 201);
  json src = body_of(src_res);
  const std::string src_id = src["source_id"];
  CHECK_THAT(src_id, StartsWith("src_"));
  CHECK(src["name"] == "billing");
  CHECK_FALSE(src["api_key"].get<std::string>().empty());
  CHECK(src["secret"].get<std::string>().size() >= 32);
  CHECK(src["allowed_event_types"] == json{"invoice.paid", "invoice.created"});
  CHECK(src["ip_allowlist"] == json{"203.0.113.0/24"});

  auto src_given = admin.post("/api/v1/sources", json{{"name", "shop"},
                                                      {"api_key", "shop-key-0123456789"},
                                                      {"secret", "shop-secret-0123456789"},
                                                      {"allowed_event_types", {"order.shipped"}}});
  REQUIRE(src_given);
  REQUIRE(src_given->status == 201);
  CHECK(body_of(src_given)["api_key"] == "shop-key-0123456789");
  CHECK(body_of(src_given)["secret"] == "shop-secret-0123456789");
  CHECK(body_of(src_given)["ip_allowlist"] == json::array());
  check_error(admin.post("/api/v1/sources", json{{"name", "copy"},
                                                 {"api_key", "shop-key-0123456789"},
                                                 {"allowed_event_types", {"order.shipped"}}}),
              409, "conflict", "api_key");

  auto src_get = admin.get("/api/v1/sources/" + src_id);
  REQUIRE(src_get);
  REQUIRE(src_get->status == 200);
  CHECK_FALSE(body_of(src_get).contains("secret"));
  CHECK(body_of(src_get)["api_key"] == src["api_key"]);
  auto src_list = admin.get("/api/v1/sources?limit=1");
  REQUIRE(src_list);
  REQUIRE(src_list->status == 200);
  CHECK(body_of(src_list)["data"].size() == 1);
  CHECK(body_of(src_list)["next_cursor"].is_string());
  CHECK_FALSE(body_of(src_list)["data"][0].contains("secret"));
  auto src_patch =
      admin.patch("/api/v1/sources/" + src_id,
                  json{{"secret", "a-brand-new-secret-value"}, {"ip_allowlist", nullptr}});
  REQUIRE(src_patch);
  REQUIRE(src_patch->status == 200);
  CHECK_FALSE(body_of(src_patch).contains("secret"));
  CHECK(body_of(src_patch)["ip_allowlist"] == json::array());
  auto src_del = admin.del("/api/v1/sources/" + src_id);
  REQUIRE(src_del);
  REQUIRE(src_del->status == 200);
  CHECK(body_of(src_del) == json{{"source_id", src_id}, {"deleted", true}});
  check_error(admin.get("/api/v1/sources/" + src_id), 404, "not_found", src_id);

  // The served OpenAPI document.
  auto client = server.client();
  auto openapi = client.Get("/api/v1/openapi.json");
  REQUIRE(openapi);
  CHECK(openapi->status == 200);
  json doc = json::parse(openapi->body, nullptr, false);
  REQUIRE(doc.is_object());
  CHECK(doc["openapi"] == "3.0.3");

  // `webhookd token` mints a token this server accepts.
  auto minted = run_webhookd(process_options{
      {"token", "--client", "cli-user", "--jwt-secret", secret, "--admin", "--ttl", "120"}});
  INFO(minted.description);
  REQUIRE(minted.status.exited);
  REQUIRE(minted.status.code == 0);
  std::string cli_token = minted.out;
  while (!cli_token.empty() && cli_token.back() == '\n') cli_token.pop_back();
  api cli(server, cli_token);
  auto cli_list = cli.get("/api/v1/sources");
  REQUIRE(cli_list);
  CHECK(cli_list->status == 200);
  auto cli_hooks = cli.get("/api/v1/webhooks");
  REQUIRE(cli_hooks);
  CHECK(cli_hooks->status == 200);
  CHECK(body_of(cli_hooks)["data"] == json::array());

  check_healthy(server);
}

TEST_CASE("a tenant never reads, patches, rotates or deletes another tenant's webhook",
          "[e2e][sqlite][management]") {
  webhookd_server& server = open_server();
  INFO(server.proc().describe());
  receiver hooks;
  ensure_event_types(server, {"invoice.paid"});
  api tenant_b(server, token(server.jwt_secret(), "tenant-b"));
  api tenant_a(server, token(server.jwt_secret(), "tenant-a"));

  auto created = tenant_b.post("/api/v1/webhooks", minimal_webhook(hooks.url("/b")));
  REQUIRE(created);
  REQUIRE(created->status == 201);
  json original = body_of(created);
  const std::string id = original["webhook_id"];
  original.erase("signing_secret");
  original.erase("verification");

  const std::string path = "/api/v1/webhooks/" + id;
  check_error(tenant_a.get(path), 404, "not_found", "webhook " + id + " not found");
  check_error(tenant_a.patch(path, json{{"description", "mine"}}), 404, "not_found", id);
  check_error(tenant_a.patch(path, json{{"callback_url", hooks.url("/a")}}), 404, "not_found", id);
  check_error(tenant_a.post(path + "/rotate-secret", json::object()), 404, "not_found", id);
  check_error(tenant_a.del(path), 404, "not_found", id);
  auto a_list = tenant_a.get("/api/v1/webhooks");
  REQUIRE(a_list);
  CHECK(body_of(a_list)["data"] == json::array());

  // B's webhook is untouched, secret included (a rotation would have changed updated_at).
  auto still = tenant_b.get(path);
  REQUIRE(still);
  REQUIRE(still->status == 200);
  CHECK(body_of(still) == original);
  check_healthy(server);
}

TEST_CASE("hostile bodies and bad parameters get a 4xx naming the problem",
          "[e2e][sqlite][management]") {
  webhookd_server& server = open_server();
  INFO(server.proc().describe());
  receiver hooks;
  ensure_event_types(server, {"invoice.paid"});
  api acme(server, token(server.jwt_secret(), "acme"));
  api admin(server, token(server.jwt_secret(), "ops", true));
  const std::string url = hooks.url("/hook");
  auto with = [&](const std::string& field, json value) {
    json body = minimal_webhook(url);
    body[field] = std::move(value);
    return body;
  };

  // Malformed JSON: 400 with the byte offset.
  check_error(acme.post("/api/v1/webhooks", std::string(R"({"callback_url": "x",})")), 400,
              "invalid_json", "at byte");
  check_error(acme.post("/api/v1/webhooks", std::string("")), 400, "invalid_json", "at byte");
  check_error(acme.post("/api/v1/webhooks", std::string("{\"a\": tru}")), 400, "invalid_json",
              "syntax error");
  check_error(acme.post("/api/v1/webhooks", std::string(100000, '[')), 400, "invalid_json",
              "nesting deeper than 64");
  check_error(acme.post("/api/v1/webhooks", std::string("[1,2]")), 422, "validation_failed",
              "body: must be a JSON object");

  // Wrong field types and values: 422 naming the field.
  check_error(acme.post("/api/v1/webhooks", with("callback_url", 42)), 422, "validation_failed",
              "callback_url: must be a string");
  check_error(acme.post("/api/v1/webhooks", with("event_types", "invoice.paid")), 422,
              "validation_failed", "event_types: must be an array");
  check_error(acme.post("/api/v1/webhooks", with("event_types", json::array())), 422,
              "validation_failed", "event_types: must have 1 to 100 entries");
  check_error(acme.post("/api/v1/webhooks", with("event_types", {"invoice.paid", 7})), 422,
              "validation_failed", "event_types[1]: must be a string");
  check_error(acme.post("/api/v1/webhooks", with("rate_limit", "fast")), 422, "validation_failed",
              "rate_limit");
  check_error(acme.post("/api/v1/webhooks", with("rate_limit", 0)), 422, "validation_failed",
              "rate_limit: must be an integer from 1 to 100000");
  check_error(acme.post("/api/v1/webhooks", with("rate_limit", 2.5)), 422, "validation_failed",
              "rate_limit");
  for (const json& bad : {json("fast"), json(0), json(0.05), json(61), json(-1)}) {
    check_error(acme.post("/api/v1/webhooks", with("timeout_seconds", bad)), 422,
                "validation_failed", "timeout_seconds: must be a number of seconds from 0.1 to 60");
  }
  check_error(acme.post("/api/v1/webhooks", with("ordered", "yes")), 422, "validation_failed",
              "ordered: must be a boolean");
  check_error(acme.post("/api/v1/webhooks", with("priority", "urgent")), 422, "validation_failed",
              "priority");
  check_error(acme.post("/api/v1/webhooks", with("headers", json::array())), 422,
              "validation_failed", "headers: must be an object");
  check_error(acme.post("/api/v1/webhooks", with("headers", {{"Host", "evil"}})), 422,
              "validation_failed", "headers.Host");
  check_error(acme.post("/api/v1/webhooks", with("headers", {{"webhook-signature", "x"}})), 422,
              "validation_failed", "headers.webhook-signature");
  check_error(acme.post("/api/v1/webhooks", with("headers", {{"x-a", "line\nbreak"}})), 422,
              "validation_failed", "headers.x-a");
  check_error(acme.post("/api/v1/webhooks", with("description", std::string(1025, 'd'))), 422,
              "validation_failed", "description");
  check_error(acme.post("/api/v1/webhooks", with("public_key", "not a key")), 422,
              "validation_failed", "public_key");
  check_error(acme.post("/api/v1/webhooks", with("retry_policy", {{"max_attempts", 99}})), 422,
              "validation_failed", "retry_policy.max_attempts");
  check_error(acme.post("/api/v1/webhooks", with("encrypt_fields", "data.card")), 422,
              "validation_failed", "encrypt_fields");
  check_error(acme.post("/api/v1/webhooks", with("surprise", true)), 422, "validation_failed",
              "surprise: unknown field");
  check_error(acme.post("/api/v1/webhooks", json{{"event_types", {"invoice.paid"}}}), 422,
              "validation_failed", "callback_url: required");
  check_error(acme.post("/api/v1/webhooks", with("callback_url", "ftp://127.0.0.1/x")), 422,
              "validation_failed", "callback_url");
  check_error(acme.post("/api/v1/webhooks", with("callback_url", "http://user:pw@127.0.0.1/")), 422,
              "validation_failed", "callback_url");
  check_error(acme.post("/api/v1/webhooks", with("callback_url", "http://no-such-host.invalid/")),
              422, "validation_failed", "callback_url");

  // Unknown event types and patterns that match nothing in the catalogue.
  check_error(acme.post("/api/v1/webhooks", with("event_types", {"invoice.paid", "invoce.paid"})),
              422, "validation_failed", "event_types[1]: unknown event type \"invoce.paid\"");
  check_error(acme.post("/api/v1/webhooks", with("event_types", {"nothing.*"})), 422,
              "validation_failed", "event_types[0]: no event type in the catalogue");
  check_error(acme.post("/api/v1/webhooks", with("event_types", {"Invoice Paid"})), 422,
              "validation_failed", "event_types[0]");

  // Invalid trigger filters: 422 with the position inside the filter.
  check_error(acme.post("/api/v1/webhooks",
                        with("trigger_conditions", {{"data.amount", {{"$gte", {1, 2}}}}})),
              422, "validation_failed", "trigger_conditions at /data.amount/$gte");
  check_error(
      acme.post("/api/v1/webhooks",
                with("trigger_conditions", {{"$or", {{{"a", 1}}, {{"b", {{"$bogus", 1}}}}}}})),
      422, "validation_failed", "trigger_conditions at /$or/1/b/$bogus");
  check_error(acme.post("/api/v1/webhooks", with("trigger_conditions", "amount > 5")), 422,
              "validation_failed", "trigger_conditions: must be an object");

  // Bodies beyond the limits: 10 MiB (refused by the server before any handler) and 2 MiB
  // (refused by the management routes' 1 MiB limit).
  json huge = minimal_webhook(url);
  huge["description"] = std::string(10 * 1024 * 1024, 'x');
  check_error(acme.post("/api/v1/webhooks", huge), 413, "payload_too_large", "exceeds");
  json big = minimal_webhook(url);
  big["description"] = std::string(2 * 1024 * 1024, 'x');
  check_error(acme.post("/api/v1/webhooks", big), 413, "payload_too_large", "exceeds");

  // PATCH: the same rules, plus status and emptiness.
  auto created = acme.post("/api/v1/webhooks", minimal_webhook(url));
  REQUIRE(created);
  REQUIRE(created->status == 201);
  const std::string path = "/api/v1/webhooks/" + body_of(created)["webhook_id"].get<std::string>();
  check_error(acme.patch(path, json::object()), 422, "validation_failed", "no field");
  check_error(acme.patch(path, json{{"status", "sleeping"}}), 422, "validation_failed", "status");
  check_error(acme.patch(path, json{{"rate_limit", nullptr}}), 422, "validation_failed",
              "rate_limit");
  check_error(acme.patch(path, json{{"callback_url", "http://169.254.169.254/latest/meta-data"}}),
              422, "validation_failed", "169.254.169.254");
  check_error(acme.patch(path, json{{"callback_url", "http://10.0.0.1/"}}), 422,
              "validation_failed", "10.0.0.1");
  check_error(acme.patch(path, std::string("{oops")), 400, "invalid_json", "at byte");
  check_error(acme.post(path + "/rotate-secret", json{{"grace_period_seconds", -5}}), 422,
              "validation_failed", "grace_period_seconds");
  check_error(acme.post(path + "/rotate-secret", json{{"grace_period_seconds", "1h"}}), 422,
              "validation_failed", "grace_period_seconds");

  // Query parameters and admin bodies.
  check_error(acme.get("/api/v1/webhooks?limit=0"), 422, "validation_failed", "limit");
  check_error(acme.get("/api/v1/webhooks?limit=abc"), 422, "validation_failed", "limit");
  check_error(acme.get("/api/v1/webhooks?limit=1001"), 422, "validation_failed", "limit");
  check_error(acme.get("/api/v1/webhooks?cursor=%27%3B--"), 422, "validation_failed", "cursor");
  check_error(admin.post("/api/v1/event-types", json{{"name", "Bad Name"}}), 422,
              "validation_failed", "name");
  check_error(admin.post("/api/v1/event-types", json{{"name", "ok.name"}, {"schema", "x"}}), 422,
              "validation_failed", "schema");
  check_error(admin.post("/api/v1/sources", json{{"name", "s"}, {"allowed_event_types", "x"}}), 422,
              "validation_failed", "allowed_event_types");
  check_error(admin.post("/api/v1/sources", json{{"name", "s"},
                                                 {"allowed_event_types", {"a.b"}},
                                                 {"ip_allowlist", {"10.0.0.0/33"}}}),
              422, "validation_failed", "ip_allowlist[0]");
  check_error(
      admin.post("/api/v1/sources",
                 json{{"name", "s"}, {"allowed_event_types", {"a.b"}}, {"api_key", "short"}}),
      422, "validation_failed", "api_key");

  check_healthy(server);
}

TEST_CASE("missing, malformed, expired, forged and alg:none tokens are 401; admin routes 403",
          "[e2e][sqlite][management]") {
  webhookd_server& server = open_server();
  INFO(server.proc().describe());
  const std::string secret = server.jwt_secret();

  check_error(api(server, "").get("/api/v1/webhooks"), 401, "unauthorized",
              "missing Authorization");
  {
    auto client = server.client();
    auto basic = client.Get("/api/v1/webhooks", {{"Authorization", "Basic YWxhZGRpbjpzZXNhbWU="}});
    check_error(basic, 401, "unauthorized", "Bearer");
    CHECK(basic->get_header_value("WWW-Authenticate").rfind("Bearer", 0) == 0);
  }
  check_error(api(server, "not-a-jwt").get("/api/v1/webhooks"), 401, "unauthorized", "malformed");
  check_error(api(server, token(secret, "acme", false, -60)).get("/api/v1/webhooks"), 401,
              "unauthorized", "expired");
  check_error(api(server, token("some-other-secret", "acme")).get("/api/v1/webhooks"), 401,
              "unauthorized", "signature");
  check_error(api(server, alg_none_token("acme")).get("/api/v1/webhooks"), 401, "unauthorized",
              "algorithm");
  check_error(api(server, alg_none_token("acme")).post("/api/v1/sources", json::object()), 401,
              "unauthorized", "algorithm");
  // A valid token with its payload swapped for another client's keeps the old signature.
  {
    std::string real = token(secret, "acme");
    std::string forged_payload =
        webhookd::base64url_encode(json{{"sub", "tenant-b"}, {"exp", 4102444800}}.dump());
    auto first_dot = real.find('.');
    auto second_dot = real.find('.', first_dot + 1);
    std::string swapped = real.substr(0, first_dot + 1) + forged_payload + real.substr(second_dot);
    check_error(api(server, swapped).get("/api/v1/webhooks"), 401, "unauthorized", "signature");
  }

  api client(server, token(secret, "acme"));
  check_error(client.post("/api/v1/event-types", json{{"name", "x.y"}}), 403, "forbidden", "admin");
  check_error(client.get("/api/v1/sources"), 403, "forbidden", "admin");
  check_error(client.post("/api/v1/sources", json{{"name", "s"}}), 403, "forbidden", "admin");
  check_error(client.del("/api/v1/sources/src_1"), 403, "forbidden", "admin");
  // Any authenticated client may read the catalogue.
  auto types = client.get("/api/v1/event-types");
  REQUIRE(types);
  CHECK(types->status == 200);

  check_healthy(server);
}

TEST_CASE("every SSRF spelling is refused with 422 when no private target is allowed",
          "[e2e][sqlite][management][ssrf]") {
  webhookd_server& server = strict_server();
  INFO(server.proc().describe());
  api acme(server, token(server.jwt_secret(), "acme"));

  struct spelling {
    const char* url;
    const char* reason;  // what the message must mention
  };
  const std::vector<spelling> spellings = {
      {"http://2130706433/", "127.0.0.1"},   {"http://0x7f.1/", "127.0.0.1"},
      {"http://017700000001/", "127.0.0.1"}, {"http://[::ffff:127.0.0.1]/", "127.0.0.1"},
      {"http://127.0.0.1/", "127.0.0.1"},    {"http://169.254.169.254/", "169.254.169.254"},
      {"http://10.0.0.1/", "10.0.0.1"},      {"http://[::1]/", "::1"},
      {"http://[fd00::1]/", "fd00::1"},      {"http://localhost/", "localhost"},
      {"http://127.1:8080/", "127.0.0.1"},   {"http://0.0.0.0/", "0.0.0.0"},
      {"http://100.64.0.1/", "100.64.0.1"},  {"http://192.168.1.1/", "192.168.1.1"},
      {"http://[fe80::1]/", "fe80::1"},      {"http://224.0.0.1/", "224.0.0.1"},
  };
  for (const auto& s : spellings) {
    INFO("callback_url " << s.url);
    auto res = acme.post("/api/v1/webhooks", json{{"callback_url", s.url}, {"event_types", {"*"}}});
    check_error(res, 422, "validation_failed", "callback_url");
    check_error(res, 422, "validation_failed", s.reason);
  }
  auto list = acme.get("/api/v1/webhooks");
  REQUIRE(list);
  CHECK(body_of(list)["data"] == json::array());
  check_healthy(server);
}
