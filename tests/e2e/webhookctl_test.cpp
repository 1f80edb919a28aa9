// webhookctl end to end: the real webhookctl binary against the real webhookd (SQLite store, a
// local receiver for the reachability check). Covers create/list/get/update/delete/rotate of
// webhooks, event types and sources, table and --json output, server errors (exit 1 with
// "error: <code>: <message>"), an unreachable server (exit 2) and a bad command line (exit 2).
// The delivery commands (deliveries, attempts, events deliveries, dlq, tail) run against a server
// with real deliveries to webhookd-sink.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/jwt.hpp"
#include "tests/e2e/engine_support.hpp"
#include "tests/e2e/harness.hpp"

using namespace webhookd::e2e;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using json = nlohmann::json;

namespace {

constexpr milliseconds ctl_timeout{60'000};

// Answers every GET/HEAD with 200 so registrations find their callback URL reachable.
class receiver {
 public:
  receiver() {
    server_.set_tcp_nodelay(true);
    server_.Get(".*", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("ok", "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("receiver: cannot bind");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~receiver() {
    while (!server_.is_running()) std::this_thread::yield();  // stop() needs a running loop
    server_.stop();
    thread_.join();
  }
  receiver(const receiver&) = delete;
  receiver& operator=(const receiver&) = delete;

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

std::string token(const std::string& secret, const std::string& client, bool admin = false) {
  webhookd::jwt_claims claims;
  claims.sub = client;
  claims.scope = admin ? "admin" : "";
  claims.iat = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  claims.exp = claims.iat + 3600;
  auto minted = webhookd::mint_jwt(secret, claims);
  if (!minted) throw std::runtime_error("mint_jwt: " + minted.err().message);
  return minted.value();
}

// One finished webhookctl run.
struct ctl_run {
  exit_status status;
  std::string out;
  std::string err;
  std::vector<std::string> err_lines;
  std::string description;

  bool exited_with(int code) const { return status.exited && status.code == code; }
  json out_json() const {
    json doc = json::parse(out, nullptr, false);
    INFO(description);
    REQUIRE_FALSE(doc.is_discarded());
    return doc;
  }
};

// Runs webhookctl with `args` and `env` (inherited WEBHOOKD_* variables dropped).
ctl_run webhookctl(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  process proc(WEBHOOKCTL_BINARY, process_options{std::move(args), std::move(env)});
  auto status = proc.wait_exit(ctl_timeout);
  if (!status) {
    std::string what = proc.describe();
    proc.send_signal(SIGKILL);
    throw std::runtime_error("webhookctl did not finish in time: " + what);
  }
  return ctl_run{*status, proc.stdout_text(), proc.stderr_text(), proc.stderr_lines(),
                 proc.describe()};
}

// The server of this file: loopback targets and http allowed, for the local receiver.
webhookd_server& server() {
  static temp_dir dir;
  static std::unique_ptr<webhookd_server> instance = std::make_unique<webhookd_server>(
      process_options{{"--store", "sqlite:" + dir.file("ctl.db"), "--allow-private-targets",
                       "127.0.0.0/8", "--allow-http", "true"}});
  return *instance;
}

// Global options for `client` against server().
std::vector<std::string> as(const std::string& client, bool admin, std::vector<std::string> rest) {
  std::vector<std::string> args = {"--url", server().base_url(), "--token",
                                   token(server().jwt_secret(), client, admin)};
  args.insert(args.end(), rest.begin(), rest.end());
  return args;
}

// Makes sure the catalogue holds `name` (webhookctl itself; a second run answers 409).
void ensure_event_type(const std::string& name) {
  auto run = webhookctl(as("ops", true, {"event-types", "create", name}));
  INFO(run.description);
  REQUIRE((run.exited_with(0) ||
           (run.exited_with(1) && run.err.find("conflict") != std::string::npos)));
}

// The value of `label` in webhookctl's record output ("label:  value" lines).
std::string record_value(const std::string& out, const std::string& label) {
  const std::string prefix = label + ":";
  std::size_t line_start = 0;
  while (line_start < out.size()) {
    std::size_t line_end = out.find('\n', line_start);
    if (line_end == std::string::npos) line_end = out.size();
    const std::string line = out.substr(line_start, line_end - line_start);
    if (line.rfind(prefix, 0) == 0) {
      const auto value = line.find_first_not_of(' ', prefix.size());
      return value == std::string::npos ? "" : line.substr(value);
    }
    line_start = line_end + 1;
  }
  FAIL("no " << label << " in:\n" << out);
  return {};
}

void check_healthy() {
  auto client = server().client();
  auto health = client.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  INFO(server().proc().describe());
  CHECK(server().proc().running());
}

}  // namespace

TEST_CASE("webhookctl event-types create and list", "[e2e][sqlite][webhookctl]") {
  auto created = webhookctl(
      as("ops", true, {"event-types", "create", "ctl.created", "--description", "Made by ctl"}));
  INFO(created.description);
  REQUIRE(created.exited_with(0));
  CHECK_THAT(created.out, StartsWith("name:") && Contains("ctl.created") &&
                              Contains("description:  Made by ctl"));

  auto again = webhookctl(as("ops", true, {"event-types", "create", "ctl.created"}));
  INFO(again.description);
  CHECK(again.exited_with(1));
  CHECK_THAT(again.err, StartsWith("error: conflict: "));

  auto listed = webhookctl(as("acme", false, {"--json", "event-types", "list", "--all"}));
  INFO(listed.description);
  REQUIRE(listed.exited_with(0));
  bool found = false;
  const json types = listed.out_json();
  for (const auto& type : types["data"]) {
    if (type["name"] == "ctl.created") found = type["description"] == "Made by ctl";
  }
  CHECK(found);

  auto table = webhookctl(as("acme", false, {"event-types", "list"}));
  REQUIRE(table.exited_with(0));
  CHECK_THAT(table.out, StartsWith("NAME") && Contains("ctl.created") && Contains("Made by ctl"));

  auto forbidden = webhookctl(as("acme", false, {"event-types", "create", "ctl.sneaky"}));
  CHECK(forbidden.exited_with(1));
  CHECK_THAT(forbidden.err, StartsWith("error: forbidden: "));
  check_healthy();
}

TEST_CASE("webhookctl webhooks create, list, get, update, rotate-secret, delete",
          "[e2e][sqlite][webhookctl]") {
  ensure_event_type("invoice.paid");
  ensure_event_type("order.created");
  receiver hooks;
  // The client's credentials come from the environment here, as a user would set them.
  const std::map<std::string, std::string> acme_env = {
      {"WEBHOOKD_URL", server().base_url()},
      {"WEBHOOKD_TOKEN", token(server().jwt_secret(), "ctl-acme")}};

  auto first = webhookctl(
      {"--json", "webhooks", "create", "--url", hooks.url("/first"), "--events",
       "invoice.paid,order.*", "--filter", R"({"data.amount":{"$gte":100}})", "--retry-policy",
       R"({"max_attempts":3,"schedule":[0,1,2]})", "--priority", "high", "--rate-limit", "50",
       "--header", "X-Team: billing", "--description", "first hook"},
      acme_env);
  INFO(first.description);
  REQUIRE(first.exited_with(0));
  const json w1 = first.out_json();
  const std::string id1 = w1["webhook_id"];
  const std::string secret1 = w1["signing_secret"];
  CHECK_THAT(id1, StartsWith("wh_"));
  CHECK_THAT(secret1, StartsWith("whsec_"));
  CHECK(w1["client_id"] == "ctl-acme");
  CHECK(w1["callback_url"] == hooks.url("/first"));
  CHECK(w1["event_types"] == json{"invoice.paid", "order.*"});
  CHECK(w1["trigger_conditions"] == json{{"data.amount", {{"$gte", 100}}}});
  CHECK(w1["retry_policy"]["max_attempts"] == 3);
  CHECK(w1["priority"] == "high");
  CHECK(w1["rate_limit"] == 50);
  CHECK(w1["headers"] == json{{"x-team", "billing"}});
  CHECK(w1["verification"]["dns"]["ok"] == true);
  CHECK(w1["verification"]["reachability"]["ok"] == true);

  // Table output of create: the secret and the verification in one record.
  auto second = webhookctl(
      {"webhooks", "create", "--callback-url", hooks.url("/second"), "--events", "invoice.paid"},
      acme_env);
  INFO(second.description);
  REQUIRE(second.exited_with(0));
  CHECK_THAT(second.out, Contains("webhook_id:") && Contains("signing_secret:") &&
                             Contains("whsec_") && Contains("verification:") &&
                             Contains("reachable (HTTP 200)"));
  const std::string id2 = record_value(second.out, "webhook_id");
  CHECK_THAT(id2, StartsWith("wh_"));
  CHECK(id2 != id1);

  // list: every page with --all, one page with a hint otherwise.
  auto all = webhookctl({"--json", "webhooks", "list", "--all", "--limit", "1"}, acme_env);
  INFO(all.description);
  REQUIRE(all.exited_with(0));
  const json listed = all.out_json();
  CHECK(listed["next_cursor"].is_null());
  std::vector<std::string> ids;
  for (const auto& w : listed["data"]) {
    ids.push_back(w["webhook_id"]);
    CHECK_FALSE(w.contains("signing_secret"));
  }
  CHECK(ids.size() == 2);
  CHECK(std::find(ids.begin(), ids.end(), id1) != ids.end());
  CHECK(std::find(ids.begin(), ids.end(), id2) != ids.end());

  auto one_page = webhookctl({"webhooks", "list", "--limit", "1"}, acme_env);
  INFO(one_page.description);
  REQUIRE(one_page.exited_with(0));
  CHECK_THAT(one_page.out, StartsWith("ID  "));
  CHECK(std::count(one_page.out.begin(), one_page.out.end(), '\n') == 2);  // header + 1 row
  CHECK_THAT(one_page.err, StartsWith("more results: add --cursor "));

  auto table = webhookctl({"webhooks", "list"}, acme_env);
  REQUIRE(table.exited_with(0));
  CHECK_THAT(table.out, Contains(id1) && Contains(id2) && Contains("invoice.paid,order.*") &&
                            Contains(hooks.url("/second")));

  // Another client sees none of them.
  auto other = webhookctl(as("ctl-other", false, {"--json", "webhooks", "list"}));
  REQUIRE(other.exited_with(0));
  CHECK(other.out_json()["data"].empty());
  auto stolen = webhookctl(as("ctl-other", false, {"webhooks", "get", id1}));
  CHECK(stolen.exited_with(1));
  CHECK_THAT(stolen.err, StartsWith("error: not_found: "));

  // get
  auto got = webhookctl({"--json", "webhooks", "get", id1}, acme_env);
  REQUIRE(got.exited_with(0));
  json expected = w1;
  expected.erase("signing_secret");
  expected.erase("verification");
  CHECK(got.out_json() == expected);
  auto got_table = webhookctl({"webhooks", "get", id1}, acme_env);
  REQUIRE(got_table.exited_with(0));
  CHECK_THAT(got_table.out, StartsWith("webhook_id:") && Contains("callback_url:") &&
                                Contains(hooks.url("/first")) && !Contains("whsec_"));

  // update: only the given fields change; --clear sends null.
  auto updated = webhookctl({"--json", "webhooks", "update", id1, "--status", "paused",
                             "--rate-limit", "7", "--clear", "filter", "--description", "renamed"},
                            acme_env);
  INFO(updated.description);
  REQUIRE(updated.exited_with(0));
  const json w1b = updated.out_json();
  CHECK(w1b["status"] == "paused");
  CHECK(w1b["rate_limit"] == 7);
  CHECK(w1b["trigger_conditions"].is_null());
  CHECK(w1b["description"] == "renamed");
  CHECK(w1b["priority"] == "high");
  CHECK(w1b["headers"] == json{{"x-team", "billing"}});
  auto reread = webhookctl({"--json", "webhooks", "get", id1}, acme_env);
  REQUIRE(reread.exited_with(0));
  CHECK(reread.out_json()["status"] == "paused");

  // rotate-secret: a new secret, the old one kept for the grace period.
  auto rotated =
      webhookctl({"--json", "webhooks", "rotate-secret", id1, "--grace", "60"}, acme_env);
  INFO(rotated.description);
  REQUIRE(rotated.exited_with(0));
  const json w1c = rotated.out_json();
  CHECK_THAT(w1c["signing_secret"].get<std::string>(), StartsWith("whsec_"));
  CHECK(w1c["signing_secret"] != secret1);
  CHECK(w1c["previous_secret_expires_at"].is_string());

  // delete, then it is gone.
  auto deleted = webhookctl({"webhooks", "delete", id1}, acme_env);
  INFO(deleted.description);
  REQUIRE(deleted.exited_with(0));
  CHECK(deleted.out == "deleted webhook " + id1 + " (0 pending deliveries cancelled)\n");
  auto gone = webhookctl({"webhooks", "get", id1}, acme_env);
  CHECK(gone.exited_with(1));
  CHECK_THAT(gone.err, StartsWith("error: not_found: "));
  auto gone_again = webhookctl({"webhooks", "delete", id1}, acme_env);
  CHECK(gone_again.exited_with(1));
  check_healthy();
}

TEST_CASE("webhookctl sources create, list, get, update, delete", "[e2e][sqlite][webhookctl]") {
  ensure_event_type("invoice.paid");
  auto created = webhookctl(as("ops", true,
                               {"--json", "sources", "create", "--name", "ctl-billing", "--events",
                                "invoice.paid", "--ip", "203.0.113.0/24"}));
  INFO(created.description);
  REQUIRE(created.exited_with(0));
  const json source = created.out_json();
  const std::string id = source["source_id"];
  CHECK_THAT(id, StartsWith("src_"));
  CHECK(source["secret"].is_string());
  CHECK(source["api_key"].is_string());
  CHECK(source["ip_allowlist"] == json{"203.0.113.0/24"});

  auto listed = webhookctl(as("ops", true, {"sources", "list", "--all"}));
  REQUIRE(listed.exited_with(0));
  CHECK_THAT(listed.out, StartsWith("ID") && Contains(id) && Contains("ctl-billing") &&
                             Contains("203.0.113.0/24"));

  auto got = webhookctl(as("ops", true, {"sources", "get", id}));
  REQUIRE(got.exited_with(0));
  CHECK_THAT(got.out, Contains("source_id:") && Contains(id) &&
                          !Contains(source["secret"].get<std::string>()));

  auto updated = webhookctl(
      as("ops", true,
         {"--json", "sources", "update", id, "--no-ip-allowlist", "--name", "ctl-billing-2"}));
  INFO(updated.description);
  REQUIRE(updated.exited_with(0));
  CHECK(updated.out_json()["ip_allowlist"] == json::array());
  CHECK(updated.out_json()["name"] == "ctl-billing-2");

  auto not_admin = webhookctl(as("acme", false, {"sources", "get", id}));
  CHECK(not_admin.exited_with(1));
  CHECK_THAT(not_admin.err, StartsWith("error: forbidden: "));

  auto deleted = webhookctl(as("ops", true, {"sources", "delete", id}));
  REQUIRE(deleted.exited_with(0));
  CHECK(deleted.out == "deleted source " + id + "\n");
  auto gone = webhookctl(as("ops", true, {"sources", "get", id}));
  CHECK(gone.exited_with(1));
  CHECK_THAT(gone.err, StartsWith("error: not_found: "));
  check_healthy();
}

TEST_CASE("webhookctl reports server refusals, unreachable servers and bad command lines",
          "[e2e][sqlite][webhookctl]") {
  ensure_event_type("invoice.paid");
  receiver hooks;

  SECTION("bad token: exit 1 with the server's code and message") {
    auto run =
        webhookctl({"--url", server().base_url(), "--token", "not.a.jwt", "webhooks", "list"});
    CHECK(run.exited_with(1));
    CHECK(run.out.empty());
    REQUIRE(run.err_lines.size() == 1);
    CHECK_THAT(run.err_lines[0], StartsWith("error: unauthorized: "));
  }
  SECTION("no token at all") {
    auto run = webhookctl({"--url", server().base_url(), "webhooks", "list"});
    CHECK(run.exited_with(1));
    CHECK_THAT(run.err, StartsWith("error: unauthorized: "));
  }
  SECTION("validation failures name the field") {
    auto unknown = webhookctl(
        as("acme", false,
           {"webhooks", "create", "--url", hooks.url("/x"), "--events", "no.such.type"}));
    CHECK(unknown.exited_with(1));
    CHECK_THAT(unknown.err, StartsWith("error: validation_failed: event_types[0]"));
    auto private_target = webhookctl(
        as("acme", false,
           {"webhooks", "create", "--url", "http://10.1.2.3/hook", "--events", "invoice.paid"}));
    CHECK(private_target.exited_with(1));
    CHECK_THAT(private_target.err, StartsWith("error: validation_failed: callback_url"));
    auto bad_filter =
        webhookctl(as("acme", false,
                      {"webhooks", "create", "--url", hooks.url("/x"), "--events", "invoice.paid",
                       "--filter", R"({"data.amount":{"$between":[1,2]}})"}));
    CHECK(bad_filter.exited_with(1));
    CHECK_THAT(bad_filter.err, StartsWith("error: validation_failed: trigger_conditions"));
  }
  SECTION("an unreachable server: exit 2, one line") {
    const std::string dead = "http://127.0.0.1:" + std::to_string(free_loopback_port());
    auto run = webhookctl({"--url", dead, "--token", "t", "webhooks", "list"});
    CHECK(run.exited_with(2));
    CHECK(run.out.empty());
    REQUIRE(run.err_lines.size() == 1);
    CHECK_THAT(run.err_lines[0], StartsWith("error: cannot reach " + dead + ": "));
  }
  SECTION("a bad command line: exit 2 before any request") {
    auto run = webhookctl({"--url", server().base_url(), "webhooks", "create", "--events", "a"});
    CHECK(run.exited_with(2));
    CHECK(run.out.empty());
    CHECK_THAT(run.err, Contains("--url"));
  }
  check_healthy();
}

TEST_CASE("webhookctl actors prints the live actor tree (admin only)",
          "[e2e][sqlite][webhookctl]") {
  auto tree = webhookctl(as("ops", true, {"actors"}));
  INFO(tree.description);
  REQUIRE(tree.exited_with(0));
  CHECK_THAT(tree.out, StartsWith("webhookd actors at "));
  for (const char* actor :
       {"ingest", "router", "endpoint_supervisor", "dlq", "store_writer", "http_client"}) {
    CHECK_THAT(tree.out, Contains(actor));
  }
  CHECK_THAT(tree.out, !Contains("NOT ANSWERING"));
  CHECK_THAT(tree.out, Contains("events/s"));

  auto as_json = webhookctl(as("ops", true, {"--json", "actors"}));
  INFO(as_json.description);
  REQUIRE(as_json.exited_with(0));
  json doc = as_json.out_json();
  CHECK(doc.at("ingest").at("answered") == true);
  CHECK(doc.at("endpoint_supervisor").at("endpoints").is_array());

  auto refused = webhookctl(as("acme", false, {"actors"}));
  INFO(refused.description);
  CHECK(refused.exited_with(1));
  CHECK_THAT(refused.err, Contains("error: forbidden"));
  check_healthy();
}

TEST_CASE("webhookctl follows deliveries: list, get, attempts, resend, the DLQ and tail",
          "[e2e][webhookctl][tracking]") {
  engine_world world;
  const std::string path = "/ctl";
  auto hook = world.add_webhook(path, {"invoice.paid", "order.shipped"},
                                {{"retry_policy", fast_retry_policy(3)}}, {{"then", 400}});
  world.poster().accept_event(make_event(world.client_id(), "evt_ctl", "invoice.paid"));
  auto parked = wait_delivery_settled(world.store(), world.client_id(), "evt_ctl", hook.id,
                                      milliseconds{30'000});
  REQUIRE(parked);
  REQUIRE(parked->status == webhookd::delivery_status::failed);
  const std::string id = parked->id;
  const std::vector<std::string> global = {"--url", world.server().base_url(), "--token",
                                           mint_token(world.jwt_secret(), world.client_id())};
  auto ctl = [&](std::vector<std::string> rest) {
    std::vector<std::string> args = global;
    args.insert(args.end(), rest.begin(), rest.end());
    return webhookctl(args);
  };

  auto listed = ctl({"deliveries", "list", "--webhook", hook.id});
  INFO(listed.description);
  REQUIRE(listed.exited_with(0));
  CHECK_THAT(listed.out, StartsWith("ID"));
  CHECK_THAT(listed.out, Contains(id) && Contains("failed") && Contains("HTTP 400"));
  auto failed_json =
      ctl({"--json", "deliveries", "list", "--webhook", hook.id, "--status", "failed"});
  REQUIRE(failed_json.exited_with(0));
  CHECK(failed_json.out_json().at("data").size() == 1);
  auto none = ctl({"--json", "deliveries", "list", "--webhook", hook.id, "--status", "succeeded"});
  CHECK(none.out_json().at("data").empty());

  auto got = ctl({"deliveries", "get", id});
  REQUIRE(got.exited_with(0));
  CHECK_THAT(got.out, Contains("delivery_id") && Contains(id) && Contains("attempt_count"));
  CHECK_THAT(got.out, Contains("STARTED") && Contains("400"));
  auto attempts = ctl({"--json", "attempts", id});
  REQUIRE(attempts.exited_with(0));
  REQUIRE(attempts.out_json().at("data").size() == 1);
  CHECK(attempts.out_json().at("data")[0].at("status_code") == 400);
  auto by_event = ctl({"events", "deliveries", "evt_ctl"});
  REQUIRE(by_event.exited_with(0));
  CHECK_THAT(by_event.out, Contains(id) && Contains(hook.id));

  auto dlq = ctl({"dlq", "list", "--webhook", hook.id});
  REQUIRE(dlq.exited_with(0));
  CHECK_THAT(dlq.out, Contains(id) && Contains("client error HTTP 400"));
  auto dlq_other_type = ctl({"--json", "dlq", "list", "--event-type", "order.shipped"});
  CHECK(dlq_other_type.out_json().at("data").empty());

  // Fix the receiver; a bulk replay delivers; a second replay by id skips.
  world.sink().configure({{"path", path}, {"secrets", {hook.signing_secret}}, {"then", 200}});
  auto replayed = ctl({"dlq", "replay", "--webhook", hook.id, "--event-type", "invoice.paid"});
  INFO(replayed.description);
  REQUIRE(replayed.exited_with(0));
  CHECK_THAT(replayed.out, StartsWith("replayed 1: " + id));
  REQUIRE(world.sink().wait_for(path, 2, milliseconds{30'000}));
  auto again = ctl({"dlq", "replay", "--id", id});
  REQUIRE(again.exited_with(0));
  CHECK_THAT(again.out, StartsWith("replayed 0") && Contains("skipped 1"));
  auto bad_replay = ctl({"dlq", "replay"});
  CHECK(bad_replay.exited_with(2));

  REQUIRE(wait_until(
      [&] {
        auto d = world.store().get_delivery(world.client_id(), id);
        return d.ok() && d.value().status == webhookd::delivery_status::succeeded;
      },
      milliseconds{30'000}));
  auto resent = ctl({"deliveries", "resend", id});
  REQUIRE(resent.exited_with(0));
  CHECK_THAT(resent.out, Contains("queued"));
  REQUIRE(world.sink().wait_for(path, 3, milliseconds{30'000}));
  auto refused = ctl({"deliveries", "resend", "msg_nope"});
  CHECK(refused.exited_with(1));
  CHECK_THAT(refused.err, StartsWith("error: not_found: "));

  // tail: the backlog, then attempts as they happen, until Ctrl-C.
  auto backlog = ctl({"tail", "--webhook", hook.id, "--max", "2"});
  REQUIRE(backlog.exited_with(0));
  CHECK_THAT(backlog.out, Contains("HTTP 400") && Contains("HTTP 200") && Contains(id));
  std::vector<std::string> tail_args = global;
  for (std::string a :
       {std::string("tail"), std::string("--webhook"), hook.id, std::string("--backlog"),
        std::string("1"), std::string("--interval"), std::string("0.1")})
    tail_args.push_back(a);
  process follower(WEBHOOKCTL_BINARY, process_options{tail_args, {}});
  REQUIRE(follower.wait_for_stdout_line(id, milliseconds{30'000}));
  world.poster().accept_event(make_event(world.client_id(), "evt_live", "order.shipped"));
  auto live = follower.wait_for_stdout_line("order.shipped", milliseconds{30'000});
  INFO(follower.describe());
  REQUIRE(live);
  CHECK_THAT(*live, Contains("HTTP 200") && Contains("#1"));
  follower.send_signal(SIGINT);
  REQUIRE(follower.wait_exit(milliseconds{10'000}));
}
