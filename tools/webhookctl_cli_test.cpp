#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "webhookctl_cli.hpp"

// These tests run webhookctl's real command layer against a recording transport: each case
// checks the requests a command line turns into and what the user sees for given answers. The
// whole binary against the real server is tests/e2e/webhookctl_test.cpp.

using nlohmann::json;
using namespace webhookctl;

namespace {

// What the recording transport saw and will answer.
struct script {
  std::deque<transport_result> answers;
  std::vector<api_request> requests;
  std::vector<connection_settings> connections;
};

class recording_transport : public transport {
 public:
  explicit recording_transport(script& s) : script_(s) {}
  transport_result send(const api_request& request) override {
    script_.requests.push_back(request);
    if (script_.answers.empty()) return transport_error{"test script has no more answers"};
    transport_result next = script_.answers.front();
    script_.answers.pop_front();
    return next;
  }

 private:
  script& script_;
};

struct outcome {
  int code = -1;
  std::string out;
  std::string err;
  script seen;

  const api_request& request(std::size_t i = 0) const {
    REQUIRE(seen.requests.size() > i);
    return seen.requests[i];
  }
  json body(std::size_t i = 0) const {
    const auto& r = request(i);
    REQUIRE(r.body.has_value());
    return json::parse(*r.body);
  }
};

api_response reply(long status, const json& body) {
  return api_response{status, body.dump()};
}

outcome run_cli(std::vector<std::string> args, std::vector<transport_result> answers = {},
                std::map<std::string, std::string> env = {}) {
  outcome result;
  result.seen.answers.assign(answers.begin(), answers.end());
  std::ostringstream out;
  std::ostringstream err;
  const env_lookup lookup = [&env](const std::string& name) -> std::optional<std::string> {
    const auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  const transport_factory factory = [&result](const connection_settings& settings) {
    result.seen.connections.push_back(settings);
    return std::make_unique<recording_transport>(result.seen);
  };
  result.code = run(args, lookup, factory, out, err);
  result.out = out.str();
  result.err = err.str();
  return result;
}

const json sample_webhook = {{"webhook_id", "wh_1"},
                             {"client_id", "acme"},
                             {"callback_url", "https://hooks.example.com/in"},
                             {"event_types", {"invoice.paid", "order.*"}},
                             {"trigger_conditions", nullptr},
                             {"retry_policy", nullptr},
                             {"rate_limit", 1000},
                             {"priority", "standard"},
                             {"ordered", false},
                             {"public_key", nullptr},
                             {"encrypt_fields", nullptr},
                             {"headers", json::object()},
                             {"description", ""},
                             {"status", "active"},
                             {"disabled_reason", ""},
                             {"previous_secret_expires_at", nullptr},
                             {"created_at", "2026-11-28T23:41:02.123Z"},
                             {"updated_at", "2026-11-28T23:41:02.123Z"}};

json webhook_with(const json& changes) {
  json w = sample_webhook;
  w.update(changes);
  return w;
}

}  // namespace

TEST_CASE("webhooks create sends every given field and shows the secret", "[unit][webhookctl]") {
  json created = webhook_with(
      {{"signing_secret", "whsec_c2VjcmV0"},
       {"verification",
        {{"dns", {{"ok", true}, {"addresses", {"93.184.216.34"}}}},
         {"reachability", {{"ok", false}, {"status_code", nullptr}, {"error", "timeout"}}}}}});
  const auto r = run_cli({"--url",          "http://server.test:9000/",
                          "--token",        "tok.en.sig",
                          "webhooks",       "create",
                          "--url",          "https://hooks.example.com/in",
                          "--events",       "invoice.paid,order.*",
                          "--events",       "refund.created",
                          "--filter",       R"({"data.amount":{"$gte":100}})",
                          "--retry-policy", R"({"max_attempts":3,"schedule":[0,1,2]})",
                          "--rate-limit",   "50",
                          "--priority",     "high",
                          "--header",       "X-Team: billing",
                          "--header",       "x-trace:a:b",
                          "--description",  "billing",
                          "--ordered"},
                         {reply(201, created)});
  INFO(r.err);
  CHECK(r.code == exit_ok);
  REQUIRE(r.seen.connections.size() == 1);
  CHECK(r.seen.connections[0].base_url == "http://server.test:9000");
  CHECK(r.seen.connections[0].token == "tok.en.sig");
  CHECK(r.request().method == "POST");
  CHECK(r.request().path == "/api/v1/webhooks");
  CHECK(r.body() == json{{"callback_url", "https://hooks.example.com/in"},
                         {"event_types", {"invoice.paid", "order.*", "refund.created"}},
                         {"trigger_conditions", {{"data.amount", {{"$gte", 100}}}}},
                         {"retry_policy", {{"max_attempts", 3}, {"schedule", {0, 1, 2}}}},
                         {"rate_limit", 50},
                         {"priority", "high"},
                         {"headers", {{"X-Team", "billing"}, {"x-trace", "a:b"}}},
                         {"description", "billing"},
                         {"ordered", true}});
  CHECK_THAT(r.out, Catch::Contains("signing_secret:") && Catch::Contains("whsec_c2VjcmV0"));
  CHECK_THAT(r.out, Catch::Contains("dns ok (93.184.216.34); not reachable: timeout"));
  CHECK_THAT(r.err, Catch::Contains("not shown again"));
}

TEST_CASE("webhooks create sends only the required fields when nothing else is given",
          "[unit][webhookctl]") {
  const auto r =
      run_cli({"webhooks", "create", "--callback-url", "https://h.example/x", "--events", "a.b"},
              {reply(201, webhook_with({{"signing_secret", "whsec_x"}}))});
  CHECK(r.code == exit_ok);
  CHECK(r.body() == json{{"callback_url", "https://h.example/x"}, {"event_types", {"a.b"}}});
}

TEST_CASE("JSON arguments may come from a file", "[unit][webhookctl]") {
  const std::string path = "webhookctl_cli_test_filter.json";
  std::ofstream(path) << R"({"type": "invoice.paid"})";
  const auto r = run_cli({"webhooks", "create", "--url", "https://h.example/x", "--events", "a.b",
                          "--filter", "@" + path},
                         {reply(201, sample_webhook)});
  std::remove(path.c_str());
  CHECK(r.code == exit_ok);
  CHECK(r.body()["trigger_conditions"] == json{{"type", "invoice.paid"}});
}

TEST_CASE("server URL and token: flags, then environment, then the default", "[unit][webhookctl]") {
  const std::vector<transport_result> page = {
      reply(200, {{"data", json::array()}, {"next_cursor", nullptr}})};
  SECTION("default") {
    const auto r = run_cli({"webhooks", "list"}, page);
    REQUIRE(r.seen.connections.size() == 1);
    CHECK(r.seen.connections[0].base_url == default_server_url);
    CHECK(r.seen.connections[0].token.empty());
  }
  SECTION("environment") {
    const auto r = run_cli({"webhooks", "list"}, page,
                           {{"WEBHOOKD_URL", "https://env.test"}, {"WEBHOOKD_TOKEN", "envtok"}});
    REQUIRE(r.seen.connections.size() == 1);
    CHECK(r.seen.connections[0].base_url == "https://env.test");
    CHECK(r.seen.connections[0].token == "envtok");
  }
  SECTION("flags win, and may follow the command") {
    const auto r =
        run_cli({"webhooks", "list", "--url", "http://flag.test:1", "--token", "flagtok"}, page,
                {{"WEBHOOKD_URL", "https://env.test"}, {"WEBHOOKD_TOKEN", "envtok"}});
    REQUIRE(r.seen.connections.size() == 1);
    CHECK(r.seen.connections[0].base_url == "http://flag.test:1");
    CHECK(r.seen.connections[0].token == "flagtok");
  }
  SECTION("--server is the unambiguous spelling") {
    const auto r = run_cli({"--server", "http://s.test", "webhooks", "list"}, page);
    REQUIRE(r.seen.connections.size() == 1);
    CHECK(r.seen.connections[0].base_url == "http://s.test");
  }
}

TEST_CASE("webhooks list prints a table and points at the next page", "[unit][webhookctl]") {
  const json page = {{"data",
                      {webhook_with({{"webhook_id", "wh_1"}}),
                       webhook_with({{"webhook_id", "wh_2"}, {"status", "paused"}})}},
                     {"next_cursor", "c/2+"}};
  const auto r = run_cli({"webhooks", "list", "--limit", "2"}, {reply(200, page)});
  CHECK(r.code == exit_ok);
  CHECK(r.request().method == "GET");
  CHECK(r.request().path == "/api/v1/webhooks?limit=2");
  CHECK_FALSE(r.request().body.has_value());
  CHECK(r.out ==
        "ID    STATUS  PRIORITY  EVENTS                URL                           DESCRIPTION\n"
        "wh_1  active  standard  invoice.paid,order.*  https://hooks.example.com/in\n"
        "wh_2  paused  standard  invoice.paid,order.*  https://hooks.example.com/in\n");
  CHECK(r.err == "more results: add --cursor c/2+ (or --all)\n");
}

TEST_CASE("webhooks list --all follows every cursor", "[unit][webhookctl]") {
  const auto r = run_cli(
      {"--json", "webhooks", "list", "--all", "--limit", "1"},
      {reply(200, {{"data", {webhook_with({{"webhook_id", "wh_1"}})}}, {"next_cursor", "c/2+"}}),
       reply(200, {{"data", {webhook_with({{"webhook_id", "wh_2"}})}}, {"next_cursor", "c3"}}),
       reply(200, {{"data", json::array()}, {"next_cursor", nullptr}})});
  CHECK(r.code == exit_ok);
  REQUIRE(r.seen.requests.size() == 3);
  CHECK(r.request(0).path == "/api/v1/webhooks?limit=1");
  CHECK(r.request(1).path == "/api/v1/webhooks?limit=1&cursor=c%2F2%2B");
  CHECK(r.request(2).path == "/api/v1/webhooks?limit=1&cursor=c3");
  const json printed = json::parse(r.out);
  CHECK(printed["next_cursor"].is_null());
  REQUIRE(printed["data"].size() == 2);
  CHECK(printed["data"][0]["webhook_id"] == "wh_1");
  CHECK(printed["data"][1]["webhook_id"] == "wh_2");
}

TEST_CASE("webhooks list --all stops on a cursor loop", "[unit][webhookctl]") {
  const json looping = {{"data", json::array()}, {"next_cursor", "same"}};
  const auto r = run_cli({"webhooks", "list", "--all", "--cursor", "x"},
                         {reply(200, looping), reply(200, looping)});
  CHECK(r.code == exit_api_error);
  CHECK(r.request(0).path == "/api/v1/webhooks?cursor=x");
  CHECK(r.seen.requests.size() == 2);
  CHECK_THAT(r.err, Catch::StartsWith("error: invalid_response:") && Catch::Contains("twice"));
}

TEST_CASE("webhooks get, --json prints the server's object", "[unit][webhookctl]") {
  const auto r = run_cli({"webhooks", "get", "wh_1", "--json"}, {reply(200, sample_webhook)});
  CHECK(r.code == exit_ok);
  CHECK(r.request().path == "/api/v1/webhooks/wh_1");
  CHECK(json::parse(r.out) == sample_webhook);
}

TEST_CASE("ids are percent-encoded into the path", "[unit][webhookctl]") {
  const auto r = run_cli({"webhooks", "get", "../admin?x=1"}, {reply(200, sample_webhook)});
  CHECK(r.request().path == "/api/v1/webhooks/..%2Fadmin%3Fx%3D1");
}

TEST_CASE("webhooks update sends only the given fields", "[unit][webhookctl]") {
  SECTION("status, order and clearing") {
    const auto r = run_cli({"webhooks", "update", "wh_1", "--status", "paused", "--unordered",
                            "--clear", "filter,headers", "--rate-limit", "7"},
                           {reply(200, webhook_with({{"status", "paused"}}))});
    CHECK(r.code == exit_ok);
    CHECK(r.request().method == "PATCH");
    CHECK(r.request().path == "/api/v1/webhooks/wh_1");
    CHECK(r.body() == json{{"status", "paused"},
                           {"ordered", false},
                           {"trigger_conditions", nullptr},
                           {"headers", nullptr},
                           {"rate_limit", 7}});
    CHECK_THAT(r.out, Catch::Contains("status:") && Catch::Contains("paused"));
  }
  SECTION("a new callback URL and events") {
    const auto r =
        run_cli({"webhooks", "update", "wh_1", "--url", "https://new.example/h", "--events", "x.y"},
                {reply(200, sample_webhook)});
    CHECK(r.body() == json{{"callback_url", "https://new.example/h"}, {"event_types", {"x.y"}}});
  }
}

TEST_CASE("webhooks delete reports the cancelled deliveries", "[unit][webhookctl]") {
  const auto r = run_cli(
      {"webhooks", "delete", "wh_1"},
      {reply(200, {{"webhook_id", "wh_1"}, {"deleted", true}, {"cancelled_deliveries", 3}})});
  CHECK(r.code == exit_ok);
  CHECK(r.request().method == "DELETE");
  CHECK(r.request().path == "/api/v1/webhooks/wh_1");
  CHECK(r.out == "deleted webhook wh_1 (3 pending deliveries cancelled)\n");
}

TEST_CASE("webhooks rotate-secret sends the grace period when given", "[unit][webhookctl]") {
  const json rotated = webhook_with({{"signing_secret", "whsec_bmV3"},
                                     {"previous_secret_expires_at", "2026-11-29T00:00:00.000Z"}});
  SECTION("with --grace") {
    const auto r =
        run_cli({"webhooks", "rotate-secret", "wh_1", "--grace", "60"}, {reply(200, rotated)});
    CHECK(r.code == exit_ok);
    CHECK(r.request().path == "/api/v1/webhooks/wh_1/rotate-secret");
    CHECK(r.body() == json{{"grace_period_seconds", 60}});
    CHECK_THAT(r.out, Catch::Contains("whsec_bmV3") &&
                          Catch::Contains("previous_secret_expires_at:  2026-11-29T00:00:00.000Z"));
  }
  SECTION("without") {
    const auto r = run_cli({"webhooks", "rotate-secret", "wh_1"}, {reply(200, rotated)});
    CHECK(r.body() == json::object());
  }
}

TEST_CASE("event-types list and create", "[unit][webhookctl]") {
  const json type = {{"name", "invoice.paid"},
                     {"description", "Paid."},
                     {"schema", nullptr},
                     {"created_at", "2026-01-01T00:00:00.000Z"}};
  const auto listed =
      run_cli({"event-types", "list"}, {reply(200, {{"data", {type}}, {"next_cursor", nullptr}})});
  CHECK(listed.code == exit_ok);
  CHECK(listed.request().path == "/api/v1/event-types");
  CHECK(listed.out ==
        "NAME          DESCRIPTION  CREATED\n"
        "invoice.paid  Paid.        2026-01-01T00:00:00.000Z\n");
  CHECK(listed.err.empty());

  const auto created = run_cli({"event-types", "create", "invoice.paid", "--description", "Paid.",
                                "--schema", R"({"type":"object"})"},
                               {reply(201, type)});
  CHECK(created.code == exit_ok);
  CHECK(created.request().method == "POST");
  CHECK(created.request().path == "/api/v1/event-types");
  CHECK(created.body() ==
        json{{"name", "invoice.paid"}, {"description", "Paid."}, {"schema", {{"type", "object"}}}});
  CHECK_THAT(created.out, Catch::StartsWith("name:         invoice.paid\n"));
}

TEST_CASE("sources create, list, get, update and delete", "[unit][webhookctl]") {
  const json source = {{"source_id", "src_1"},
                       {"name", "billing"},
                       {"api_key", "k1"},
                       {"allowed_event_types", {"invoice.paid"}},
                       {"ip_allowlist", {"203.0.113.0/24"}},
                       {"created_at", "2026-01-01T00:00:00.000Z"},
                       {"updated_at", "2026-01-01T00:00:00.000Z"}};
  json created_source = source;
  created_source["secret"] = "s3cret";

  const auto created =
      run_cli({"sources", "create", "--name", "billing", "--events", "invoice.paid,invoice.created",
               "--ip", "203.0.113.0/24", "--ip", "198.51.100.7", "--api-key", "k1"},
              {reply(201, created_source)});
  CHECK(created.code == exit_ok);
  CHECK(created.request().path == "/api/v1/sources");
  CHECK(created.body() == json{{"name", "billing"},
                               {"allowed_event_types", {"invoice.paid", "invoice.created"}},
                               {"ip_allowlist", {"203.0.113.0/24", "198.51.100.7"}},
                               {"api_key", "k1"}});
  CHECK_THAT(created.out, Catch::Contains("secret:") && Catch::Contains("s3cret"));

  const auto listed =
      run_cli({"sources", "list"}, {reply(200, {{"data", {source}}, {"next_cursor", nullptr}})});
  CHECK(listed.out ==
        "ID     NAME     API KEY  EVENTS        IP ALLOWLIST    CREATED\n"
        "src_1  billing  k1       invoice.paid  203.0.113.0/24  2026-01-01T00:00:00.000Z\n");

  const auto got = run_cli({"sources", "get", "src_1"}, {reply(200, source)});
  CHECK(got.request().path == "/api/v1/sources/src_1");
  CHECK_THAT(got.out, Catch::Contains("api_key:") && !Catch::Contains("secret"));

  const auto updated = run_cli({"sources", "update", "src_1", "--no-ip-allowlist", "--secret", "n"},
                               {reply(200, source)});
  CHECK(updated.request().method == "PATCH");
  CHECK(updated.body() == json{{"ip_allowlist", json::array()}, {"secret", "n"}});

  const auto deleted = run_cli({"sources", "delete", "src_1"},
                               {reply(200, {{"source_id", "src_1"}, {"deleted", true}})});
  CHECK(deleted.request().method == "DELETE");
  CHECK(deleted.out == "deleted source src_1\n");
}

TEST_CASE("a server error prints its code and message and exits 1", "[unit][webhookctl]") {
  const auto r =
      run_cli({"webhooks", "create", "--url", "http://10.0.0.5/", "--events", "a.b"},
              {reply(422, {{"error",
                            {{"code", "validation_failed"},
                             {"message", "callback_url: address 10.0.0.5 is private"}}}})});
  CHECK(r.code == exit_api_error);
  CHECK(r.out.empty());
  CHECK(r.err == "error: validation_failed: callback_url: address 10.0.0.5 is private\n");
}

TEST_CASE("an unreachable server is one line and exit 2", "[unit][webhookctl]") {
  const auto r =
      run_cli({"--url", "http://127.0.0.1:1", "webhooks", "get", "wh_1"},
              {transport_error{"Failed to connect to 127.0.0.1 port 1: Connection refused"}});
  CHECK(r.code == exit_unreachable);
  CHECK(r.out.empty());
  CHECK(r.err ==
        "error: cannot reach http://127.0.0.1:1: Failed to connect to 127.0.0.1 port 1: "
        "Connection refused\n");
}

TEST_CASE("an answer that is not JSON is an error", "[unit][webhookctl]") {
  const auto r = run_cli({"webhooks", "get", "wh_1"}, {api_response{200, "<html>"}});
  CHECK(r.code == exit_api_error);
  CHECK_THAT(r.err, Catch::StartsWith("error: invalid_response:"));
  const auto page = run_cli({"webhooks", "list"}, {reply(200, {{"items", json::array()}})});
  CHECK(page.code == exit_api_error);
  CHECK_THAT(page.err, Catch::StartsWith("error: invalid_response:"));
}

TEST_CASE("bad command lines exit 2 before any request", "[unit][webhookctl]") {
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"webhooks"},
      {"nonsense"},
      {"webhooks", "create", "--events", "a.b"},              // no callback URL
      {"webhooks", "create", "--url", "https://h.example/"},  // no events
      {"webhooks", "create", "--url", "https://h.example/", "--events", "a,,b"},
      {"webhooks", "create", "--url", "https://h.example/", "--events", "a", "b"},
      {"webhooks", "create", "--url", "https://h.example/", "--events", "a", "--filter", "{nope"},
      {"webhooks", "create", "--url", "https://h.example/", "--events", "a", "--filter",
       "@/nonexistent/f.json"},
      {"webhooks", "create", "--url", "https://h.example/", "--events", "a", "--priority",
       "urgent"},
      {"webhooks", "create", "--url", "https://h.example/", "--events", "a", "--rate-limit",
       "many"},
      {"webhooks", "create", "--url", "https://h.example/", "--events", "a", "--header",
       "no-colon"},
      {"webhooks", "create", "--url", "https://h.example/", "--events", "a", "--header", ":v"},
      {"webhooks", "create", "--url", "https://h.example/", "--events", "a", "--header", "A:1",
       "--header", "a:2"},
      {"webhooks", "create", "--url", "https://h.example/", "--events", "a", "--public-key-file",
       "/nonexistent.pem"},
      {"webhooks", "update", "wh_1"},  // nothing to change
      {"webhooks", "update", "wh_1", "--clear", "filter", "--filter", "{}"},
      {"webhooks", "update", "wh_1", "--clear", "secret"},
      {"webhooks", "update", "wh_1", "--ordered", "--unordered"},
      {"webhooks", "update", "wh_1", "--status", "deleted"},
      {"webhooks", "get"},
      {"webhooks", "list", "--limit", "0"},
      {"webhooks", "rotate-secret", "wh_1", "--grace", "-5"},
      {"sources", "create", "--name", "x"},
      {"sources", "update", "src_1"},
      {"event-types", "create"},
      {"--url", "ftp://x", "webhooks", "list"},
      {"--url", "http://", "webhooks", "list"},
      {"--token", "a\nb", "webhooks", "list"},
  };
  for (const auto& args : bad) {
    std::string line;
    for (const auto& a : args) line += a + " ";
    INFO("webhookctl " << line);
    const auto r = run_cli(args, {reply(200, sample_webhook)});
    CHECK(r.code == exit_usage);
    CHECK(r.seen.requests.empty());
    CHECK(r.out.empty());
    CHECK_FALSE(r.err.empty());
  }
}

TEST_CASE("--help and --version exit 0", "[unit][webhookctl]") {
  const auto help = run_cli({"--help"});
  CHECK(help.code == exit_ok);
  CHECK_THAT(help.out, Catch::Contains("webhooks") && Catch::Contains("event-types") &&
                           Catch::Contains("sources") && Catch::Contains("WEBHOOKD_TOKEN"));
  const auto sub_help = run_cli({"webhooks", "create", "--help"});
  CHECK(sub_help.code == exit_ok);
  CHECK_THAT(sub_help.out, Catch::Contains("--retry-policy"));
  const auto version = run_cli({"--version"});
  CHECK(version.code == exit_ok);
  CHECK_THAT(version.out, Catch::StartsWith("webhookctl "));
}

TEST_CASE("parse_header_arg splits at the first colon and trims", "[unit][webhookctl]") {
  CHECK(parse_header_arg("X-A: b") == std::make_pair(std::string("X-A"), std::string("b")));
  CHECK(parse_header_arg(" x : a:b ") == std::make_pair(std::string("x"), std::string("a:b")));
  CHECK(parse_header_arg("x:") == std::make_pair(std::string("x"), std::string()));
  CHECK_FALSE(parse_header_arg("x").has_value());
  CHECK_FALSE(parse_header_arg(" :x").has_value());
}
