// The operator's console end to end: GET /api/v1/actors and the attempts route against a real
// webhookd with traffic to a real receiver (webhookd-sink), and the console page rendered by
// headless Chromium (Debian's `chromium`, installed by scripts/setup.sh), whose DOM must show the
// endpoint actors with their state. With $WEBHOOKD_CONSOLE_SCREENSHOT set, the same run also
// writes a screenshot of the console there (that is how docs/console.png is made); the suite
// leaves it out, since a screenshot checks nothing the DOM checks don't.

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/engine_support.hpp"

using namespace webhookd::e2e;
using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

constexpr milliseconds delivery_timeout{30'000};

// GET `path` with an optional bearer token.
http_answer get_with_token(webhookd_server& server, const std::string& path,
                           const std::string& token) {
  auto client = server.client();
  httplib::Headers headers;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  auto res = client.Get(path.c_str(), headers);
  http_answer out;
  out.request = "GET " + path;
  if (!res) {
    out.transport = httplib::to_string(res.error());
    return out;
  }
  out.status = res->status;
  out.body = res->body;
  out.json = json::parse(res->body, nullptr, false);
  if (out.json.is_discarded()) out.json = nullptr;
  return out;
}

// The endpoint node of `webhook_id` in a tree, or null.
json endpoint_of(const json& tree, const std::string& webhook_id) {
  for (const auto& e : tree.at("endpoint_supervisor").value("endpoints", json::array()))
    if (e.at("webhook_id") == webhook_id) return e;
  return nullptr;
}

// Three webhooks with traffic: two answered 200, one that always answers 500 (retried, so its
// endpoint actor holds a waiting delivery with a last error and a retry time).
struct console_world {
  // A back-pressure limit of its own, to see the flag reach the store writer.
  engine_world world{world_options{"", {"--attempt-backlog", "500"}}};
  created_webhook ok_a;
  created_webhook ok_b;
  created_webhook failing;
  std::string admin_token;

  console_world() {
    ok_a = world.add_webhook("/console/a", {"invoice.paid"});
    ok_b = world.add_webhook("/console/b", {"invoice.paid", "order.shipped"});
    // The second attempt waits a minute: long enough to be seen waiting.
    json slow_retry = {{"max_attempts", 5}, {"schedule", {0, 60, 60, 60, 60}}, {"jitter", 0}};
    failing = world.add_webhook("/console/failing", {"order.shipped"},
                                {{"retry_policy", slow_retry}}, {{"then", 500}});
    admin_token = mint_token(world.jwt_secret(), "ops", "admin");
    auto poster = world.poster();
    for (int i = 0; i < 6; ++i) {
      poster.accept_event(
          make_event(world.client_id(), "evt_paid_" + std::to_string(i), "invoice.paid"));
    }
    for (int i = 0; i < 3; ++i) {
      poster.accept_event(
          make_event(world.client_id(), "evt_ship_" + std::to_string(i), "order.shipped"));
    }
    if (!world.sink().wait_for("/console/a", 6, delivery_timeout) ||
        !world.sink().wait_for("/console/b", 9, delivery_timeout) ||
        !world.sink().wait_for("/console/failing", 3, delivery_timeout)) {
      world.mark_failed();
      throw std::runtime_error("the sink did not receive the console test's traffic");
    }
  }

  // Polls /api/v1/actors until every webhook has its endpoint actor and the failing one shows
  // its error (the outcomes are recorded after the sink answered).
  json settled_tree() {
    json tree;
    bool ok = wait_until(
        [&] {
          auto answer = get_with_token(world.server(), "/api/v1/actors", admin_token);
          if (answer.status != 200) return false;
          tree = answer.json;
          json failing_node = endpoint_of(tree, failing.id);
          json a = endpoint_of(tree, ok_a.id);
          json b = endpoint_of(tree, ok_b.id);
          // An endpoint counts a success before the store writer commits it, and the writer
          // answers for the tree in parallel: wait for its 18 outcomes as well.
          return !a.is_null() && !b.is_null() && !failing_node.is_null() &&
                 a.at("succeeded") == 6 && b.at("succeeded") == 9 &&
                 !failing_node.at("last_error").is_null() && failing_node.at("waiting") == 3 &&
                 tree.at("store_writer").value("recorded", 0) >= 18;
        },
        delivery_timeout);
    INFO("last tree: " << tree.dump(2));
    if (!ok) world.mark_failed();
    REQUIRE(ok);
    return tree;
  }
};

std::string chromium_binary() {
  if (const char* env = std::getenv("WEBHOOKD_TEST_CHROMIUM")) return env;
  return "/usr/bin/chromium";
}

// Runs headless Chromium with `args` plus the flags it needs here (root: no sandbox; a fresh
// profile); returns its stdout. Fails the test when it can't run or exits non-zero.
std::string run_chromium(temp_dir& dir, std::vector<std::string> args) {
  // Each run gets its own profile: a profile still locked by the previous run's helper
  // processes would make this one hand over to it instead of loading the page.
  static int runs = 0;
  const std::string profile = dir.file("chromium-profile-" + std::to_string(++runs));
  const std::string binary = chromium_binary();
  INFO("chromium binary: " << binary << " (scripts/setup.sh installs Debian's chromium)");
  REQUIRE(std::filesystem::exists(binary));
  std::vector<std::string> full = {"--headless",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   "--disable-dev-shm-usage",
                                   "--no-first-run",
                                   "--hide-scrollbars",
                                   "--user-data-dir=" + profile};
  full.insert(full.end(), args.begin(), args.end());
  process_options options(full);
  options.env["HOME"] = dir.path().string();
  process chromium(binary, options);
  auto status = chromium.wait_exit(milliseconds{90'000});
  if (!status) chromium.send_signal(SIGKILL);
  INFO(chromium.describe());
  REQUIRE(status);
  REQUIRE(status->exited);
  REQUIRE(status->code == 0);
  return chromium.stdout_text();
}

}  // namespace

TEST_CASE("GET /api/v1/actors: admin only; the live tree with every endpoint actor and its state",
          "[e2e][console][sqlite]") {
  console_world cw;
  auto& server = cw.world.server();

  SECTION("no token is 401, a client token is 403") {
    CHECK(get_with_token(server, "/api/v1/actors", "").status == 401);
    auto client_token = mint_token(cw.world.jwt_secret(), cw.world.client_id());
    auto forbidden = get_with_token(server, "/api/v1/actors", client_token);
    INFO(forbidden.describe());
    CHECK(forbidden.status == 403);
    CHECK(
        get_with_token(server, "/api/v1/actors/endpoints/" + cw.ok_a.id + "/attempts", client_token)
            .status == 403);
  }

  SECTION("the tree") {
    json tree = cw.settled_tree();
    INFO(tree.dump(2));
    CHECK(tree.at("taken_at").is_string());
    for (const char* actor :
         {"ingest", "router", "endpoint_supervisor", "dlq", "store_writer", "http_client"}) {
      INFO(actor);
      CHECK(tree.at(actor).at("answered") == true);
    }
    // The rates cover the last 10 s, which hold the traffic just sent.
    CHECK(tree.at("ingest").at("accepted_events") == 9);
    CHECK(tree.at("ingest").at("events_per_second").get<double>() > 0);
    CHECK(tree.at("router").at("routed_events") == 9);
    CHECK(tree.at("router").at("routed_deliveries") == 18);
    CHECK(tree.at("router").at("deliveries_per_second").get<double>() > 0);
    CHECK(tree.at("endpoint_supervisor").at("live") == 3);
    CHECK(tree.at("endpoint_supervisor").at("unanswered").empty());
    CHECK(tree.at("store_writer").at("recorded").get<int>() >= 18);
    CHECK(tree.at("store_writer").at("outstanding_limit") == 500);
    CHECK(tree.at("store_writer").at("held_endpoints") == 0);
    CHECK(tree.at("http_client").at("completed").get<int>() >= 18);

    json a = endpoint_of(tree, cw.ok_a.id);
    CHECK(a.at("client_id") == cw.world.client_id());
    CHECK(a.at("callback_url") == cw.world.sink().url("/console/a"));
    CHECK(a.at("status") == "active");
    CHECK(a.at("circuit") == "closed");
    CHECK(a.at("last_error").is_null());
    CHECK(a.at("queued").at("total") == 0);
    CHECK(a.at("in_flight") == 0);
    CHECK(a.at("next_retry_at").is_null());
    CHECK(a.at("rate_limit").get<double>() > 0);

    json f = endpoint_of(tree, cw.failing.id);
    CHECK(f.at("waiting") == 3);
    CHECK(f.at("retried") == 3);
    CHECK(f.at("next_retry_at").is_string());
    CHECK(f.at("next_retry_in_ms").get<int64_t>() > 0);
    CHECK_THAT(f.at("last_error").get<std::string>(), Contains("500"));
  }

  SECTION("webhookctl actors shows the endpoint actors in the terminal") {
    cw.settled_tree();
    process_options options({"--url", server.base_url(), "--token", cw.admin_token, "actors"});
    process ctl(WEBHOOKCTL_BINARY, options);
    auto status = ctl.wait_exit(milliseconds{30'000});
    INFO(ctl.describe());
    REQUIRE(status);
    REQUIRE(status->exited);
    CHECK(status->code == 0);
    const std::string out = ctl.stdout_text();
    for (const auto* hook : {&cw.ok_a, &cw.ok_b, &cw.failing}) CHECK_THAT(out, Contains(hook->id));
    CHECK_THAT(out, Contains("endpoint actors 3"));
    CHECK_THAT(out, Contains("HTTP 500"));
    CHECK_THAT(out, Contains(cw.world.sink().url("/console/failing")));
    CHECK_THAT(out, !Contains("NOT ANSWERING"));
  }

  SECTION("one endpoint's recent attempts") {
    cw.settled_tree();
    auto answer = get_with_token(server, "/api/v1/actors/endpoints/" + cw.failing.id + "/attempts",
                                 cw.admin_token);
    INFO(answer.describe());
    REQUIRE(answer.status == 200);
    CHECK(answer.json.at("webhook_id") == cw.failing.id);
    CHECK(answer.json.at("client_id") == cw.world.client_id());
    const json& deliveries = answer.json.at("deliveries");
    REQUIRE(deliveries.size() == 3);
    for (const auto& d : deliveries) {
      CHECK(d.at("status") == "pending");
      CHECK(d.at("event_type") == "order.shipped");
      REQUIRE(d.at("attempt_list").size() == 1);
      CHECK(d.at("attempt_list")[0].at("status_code") == 500);
      CHECK(d.at("attempt_list")[0].at("attempt_no") == 1);
    }
    // Newest first: event ids evt_ship_2, 1, 0.
    CHECK(deliveries[0].at("event_id") == "evt_ship_2");
    CHECK(deliveries[2].at("event_id") == "evt_ship_0");

    auto limited = get_with_token(server,
                                  "/api/v1/actors/endpoints/" + cw.ok_b.id +
                                      "/attempts?limit=2&client_id=" + cw.world.client_id(),
                                  cw.admin_token);
    INFO(limited.describe());
    REQUIRE(limited.status == 200);
    CHECK(limited.json.at("deliveries").size() == 2);
    CHECK(limited.json.at("deliveries")[0].at("attempt_list")[0].at("status_code") == 200);

    CHECK(get_with_token(server, "/api/v1/actors/endpoints/wh_nope/attempts", cw.admin_token)
              .status == 404);
    CHECK(get_with_token(server,
                         "/api/v1/actors/endpoints/" + cw.ok_a.id + "/attempts?client_id=other",
                         cw.admin_token)
              .status == 404);
    auto bad_limit = get_with_token(
        server, "/api/v1/actors/endpoints/" + cw.ok_a.id + "/attempts?limit=0", cw.admin_token);
    CHECK(bad_limit.status == 422);
    CHECK_THAT(bad_limit.body, Contains("limit"));
  }
}

TEST_CASE("the console in headless Chromium shows the endpoint actors and their state",
          "[e2e][console][chromium][sqlite]") {
  console_world cw;
  auto& server = cw.world.server();
  cw.settled_tree();

  // Two endpoints in trouble: one whose receiver is down (its circuit opens after 10 failures in
  // a row) and one that refuses (400: straight to the DLQ).
  json quick_retry = {{"max_attempts", 15}, {"schedule", json::array()}, {"jitter", 0}};
  for (int i = 0; i < 15; ++i) quick_retry["schedule"].push_back(i == 0 ? 0.0 : 0.05);
  auto down = cw.world.add_webhook("/console/down", {"sentinel.ping"},
                                   {{"retry_policy", quick_retry}}, {{"then", 503}});
  auto refusing = cw.world.add_webhook("/console/refusing", {"invoice.created"}, json::object(),
                                       {{"then", 400}});
  {
    auto poster = cw.world.poster();
    poster.accept_event(make_event(cw.world.client_id(), "evt_down_1", "sentinel.ping"));
    poster.accept_event(make_event(cw.world.client_id(), "evt_down_2", "sentinel.ping"));
    poster.accept_event(make_event(cw.world.client_id(), "evt_refused", "invoice.created"));
  }
  json tree;
  bool troubled = wait_until(
      [&] {
        auto answer = get_with_token(server, "/api/v1/actors", cw.admin_token);
        if (answer.status != 200) return false;
        tree = answer.json;
        json d = endpoint_of(tree, down.id);
        return !d.is_null() && d.at("circuit") == "open" && tree.at("dlq").at("total") == 1;
      },
      delivery_timeout);
  INFO("tree: " << tree.dump(2));
  REQUIRE(troubled);

  // Steady traffic while the browser looks, so the rates move.
  std::atomic<bool> stop_traffic{false};
  std::thread traffic([&] {
    auto poster = cw.world.poster();
    for (int i = 0; !stop_traffic; ++i) {
      auto answer = poster.post_event(
          make_event(cw.world.client_id(), "evt_live_" + std::to_string(i), "invoice.paid"));
      if (answer.status != 202) break;
      std::this_thread::sleep_for(milliseconds(40));  // pacing of the load, not a wait
    }
  });
  struct joiner {
    std::atomic<bool>& stop;
    std::thread& thread;
    ~joiner() {
      stop = true;
      thread.join();
    }
  } join_traffic{stop_traffic, traffic};

  // The page itself holds no data and needs no token.
  auto page = get_with_token(server, "/console", "");
  REQUIRE(page.status == 200);
  CHECK_THAT(page.body, Contains("<title>webhookd console</title>"));
  CHECK_THAT(page.body, !Contains(cw.ok_a.id));

  // The token travels in the fragment (never sent to the server in the URL); #open= shows the
  // attempts of one endpoint as a click would.
  const std::string url =
      server.base_url() + "/console#token=" + cw.admin_token + "&open=" + cw.failing.id;
  temp_dir dir;
  std::string dom = run_chromium(
      dir, {"--virtual-time-budget=4000", "--window-size=1500,1000", "--dump-dom", url});
  INFO("rendered DOM:\n" << dom);
  CHECK_THAT(dom, Contains("data-state=\"live\""));
  for (const char* actor :
       {"ingest", "router", "endpoint_supervisor", "dlq", "store_writer", "http_client"}) {
    CHECK_THAT(dom, Contains(std::string("data-actor=\"") + actor + "\" data-answered=\"true\""));
  }
  // Every endpoint actor is a row with its webhook, client and circuit state.
  for (const auto* hook : {&cw.ok_a, &cw.ok_b, &cw.failing}) {
    CHECK_THAT(dom, Contains("data-webhook-id=\"" + hook->id + "\" data-client-id=\"" +
                             cw.world.client_id() +
                             "\" data-circuit=\"closed\" "
                             "data-status=\"active\""));
  }
  CHECK_THAT(dom, Contains(cw.world.sink().url("/console/failing")));
  CHECK_THAT(dom, Contains("5 endpoint actors"));
  CHECK_THAT(dom, Contains("data-webhook-id=\"" + down.id + "\" data-client-id=\"" +
                           cw.world.client_id() + "\" data-circuit=\"open\""));
  CHECK_THAT(dom, Contains("data-webhook-id=\"" + refusing.id + "\""));
  CHECK_THAT(dom, Contains("HTTP 503"));
  CHECK_THAT(dom, Contains("parked <em>1</em>"));
  CHECK_THAT(dom, Contains("HTTP 500"));  // the failing endpoint's last error
  // The attempts panel of the opened endpoint: its three deliveries, each answered 500.
  CHECK_THAT(dom, Contains("recent attempts of " + cw.failing.id));
  CHECK_THAT(dom, Contains("class=\"attempt\""));
  CHECK_THAT(dom, Contains("order.shipped"));

  // A wrong token leaves the page locked and shows no data.
  std::string refused = run_chromium(
      dir, {"--virtual-time-budget=2000", "--dump-dom",
            server.base_url() + "/console#token=" + mint_token("wrong-secret", "ops", "admin")});
  INFO("refused DOM:\n" << refused);
  CHECK_THAT(refused, Contains("data-state=\"locked\""));
  CHECK_THAT(refused, !Contains("data-webhook-id=\"" + cw.ok_a.id));

  // A screenshot of the console with traffic, on request (docs/console.png is made this way).
  const char* wanted = std::getenv("WEBHOOKD_CONSOLE_SCREENSHOT");
  if (wanted == nullptr) return;
  const std::string shot = wanted;
  std::filesystem::remove(shot);
  run_chromium(
      dir, {"--virtual-time-budget=4000", "--window-size=1600,1000", "--screenshot=" + shot, url});
  REQUIRE(std::filesystem::exists(shot));
  std::ifstream png(shot, std::ios::binary);
  char magic[8] = {};
  png.read(magic, 8);
  CHECK(std::string(magic + 1, 3) == "PNG");
  CHECK(std::filesystem::file_size(shot) > 20'000);
}
