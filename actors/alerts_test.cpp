// The alerts actor in virtual time (manual_clock): the DLQ threshold and crash loops fire once
// per window, the store-unreachable alert waits until ingest accepts it, and without an alert
// client alerts are only counted and logged. Ingest is a recording actor with the ingest
// protocol that can be told to refuse (as the real one does while the store is down); the whole
// path through the real ingest is tests/e2e/engine_alerts_test.cpp.

#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "actors/alerts.hpp"
#include "actors/endpoint_test_support.hpp"

using namespace webhookd;
using namespace webhookd::test;
using nlohmann::json;

namespace {

/// What the recording ingest received and whether it accepts.
struct ingest_record {
  std::mutex mutex;
  std::vector<event> accepted;
  std::atomic<bool> refuse{false};
  std::atomic<int> refused{0};

  std::vector<event> events() {
    std::lock_guard<std::mutex> lock(mutex);
    return accepted;
  }
};

ingest_actor::behavior_type recording_ingest(ingest_actor::pointer,
                                             std::shared_ptr<ingest_record> rec) {
  return {
      [rec](ingest_atom, std::vector<event>& events) -> caf::result<ingest_ack> {
        if (rec->refuse) {
          rec->refused += 1;
          return make_ingest_error(ingest_errc::unavailable, "store unreachable");
        }
        std::lock_guard<std::mutex> lock(rec->mutex);
        ingest_ack ack;
        for (auto& ev : events) {
          bool seen = false;
          for (const auto& old : rec->accepted)
            seen = seen || (old.client_id == ev.client_id && old.event_id == ev.event_id);
          if (seen) {
            ack.duplicates += 1;
          } else {
            ack.accepted += 1;
            rec->accepted.push_back(std::move(ev));
          }
        }
        return ack;
      },
      [](caf::put_atom, caf::actor) { return caf::ok_atom::value; },
      [](state_atom) { return ingest_stats{}; },
  };
}

struct alerts_rig {
  manual_clock clock{1'700'000'000'000};  // 2023-11-14T22:13:20Z
  std::unique_ptr<caf::actor_system_config> cfg = make_actor_config();
  std::unique_ptr<caf::actor_system> sys = std::make_unique<caf::actor_system>(*cfg);
  std::shared_ptr<ingest_record> rec = std::make_shared<ingest_record>();
  ingest_actor ingest = sys->spawn(recording_ingest, rec);
  alerts_actor alerts;

  explicit alerts_rig(std::string client_id = "ops") {
    alerts_deps d;
    d.ingest = ingest;
    d.node_id = "node-a";
    d.clock = &clock;
    d.settings.client_id = std::move(client_id);
    d.settings.dlq_threshold = 3;
    d.settings.crash_restarts = 2;
    d.settings.window = std::chrono::minutes(10);
    d.settings.retry_interval = std::chrono::milliseconds(20);
    alerts = spawn_alerts(*sys, std::move(d));
  }
  ~alerts_rig() {
    caf::anon_send_exit(alerts, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(ingest, caf::exit_reason::user_shutdown);
    sys->await_all_actors_done();
  }

  alerts_stats stats() {
    caf::scoped_actor self{*sys, true};
    alerts_stats out;
    self->request(alerts, std::chrono::seconds(5), state_atom::value)
        .receive([&](alerts_stats& s) { out = s; },
                 [&](caf::error& err) { FAIL("state: " << caf::to_string(err)); });
    return out;
  }

  void parked(const std::string& webhook_id, uint64_t in_window, uint64_t total) {
    dlq_counter c;
    c.client_id = "acme";
    c.webhook_id = webhook_id;
    c.in_window = in_window;
    c.total = total;
    c.last_at = clock.now_ms();
    c.last_reason = "HTTP 400";
    caf::anon_send(alerts, parked_atom::value, c);
  }

  void restarted(const std::string& webhook_id, int32_t count) {
    caf::anon_send(alerts, restarted_atom::value,
                   endpoint_restart{"acme", webhook_id, "runtime_error", count, clock.now_ms()});
  }
};

}  // namespace

TEST_CASE("alerts: a webhook's DLQ entries reaching the threshold fire once per window", "[unit]") {
  alerts_rig rig;
  rig.parked("wh_a", 1, 1);
  rig.parked("wh_a", 2, 2);
  CHECK(rig.stats().fired == 0);  // the state answer comes after the two messages
  rig.parked("wh_a", 3, 3);
  rig.parked("wh_a", 4, 4);
  rig.parked("wh_a", 5, 5);
  REQUIRE(wait_until([&] { return rig.stats().submitted == 1; }));
  auto stats = rig.stats();
  CHECK(stats.fired == 1);
  CHECK(stats.pending == 0);
  auto events = rig.rec->events();
  REQUIRE(events.size() == 1);
  const event& ev = events[0];
  CHECK(ev.client_id == "ops");
  CHECK(ev.event_type == "webhookd.alert.dlq_threshold");
  // Windows of 10 min aligned on the epoch: 1700000000 s lies in the one starting 1699999800.
  CHECK(ev.event_id == "webhookd.alert.dlq_threshold:wh_a:1699999800");
  auto payload = json::parse(ev.payload);
  CHECK(payload["alert"] == "webhookd.alert.dlq_threshold");
  CHECK(payload["webhook_id"] == "wh_a");
  CHECK(payload["client_id"] == "acme");
  CHECK(payload["dlq_entries_in_window"] == 3);
  CHECK(payload["threshold"] == 3);
  CHECK(payload["window_seconds"] == 600);
  CHECK(payload["window_start"] == "2023-11-14T22:10:00.000Z");
  CHECK(payload["node"] == "node-a");
  CHECK(payload["last_reason"] == "HTTP 400");

  // Another webhook has its own count; the same webhook fires again in the next window only.
  rig.parked("wh_b", 3, 3);
  REQUIRE(wait_until([&] { return rig.stats().submitted == 2; }));
  rig.clock.advance_ms(10 * 60 * 1000);
  rig.parked("wh_a", 3, 8);
  REQUIRE(wait_until([&] { return rig.stats().submitted == 3; }));
  events = rig.rec->events();
  REQUIRE(events.size() == 3);
  CHECK(events[1].event_id == "webhookd.alert.dlq_threshold:wh_b:1699999800");
  CHECK(events[2].event_id == "webhookd.alert.dlq_threshold:wh_a:1700000400");
  CHECK(rig.stats().fired == 3);
}

TEST_CASE("alerts: an endpoint actor restarted N times within the window is a crash loop",
          "[unit]") {
  alerts_rig rig;
  rig.restarted("wh_c", 1);
  rig.clock.advance_ms(11 * 60 * 1000);  // the first restart leaves the window
  rig.restarted("wh_c", 2);
  CHECK(rig.stats().fired == 0);
  rig.restarted("wh_c", 3);
  rig.restarted("wh_c", 4);
  REQUIRE(wait_until([&] { return rig.stats().submitted == 1; }));
  CHECK(rig.stats().fired == 1);
  auto events = rig.rec->events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].event_type == "webhookd.alert.actor_crash_loop");
  auto payload = json::parse(events[0].payload);
  CHECK(payload["webhook_id"] == "wh_c");
  CHECK(payload["restarts_in_window"] == 2);
  CHECK(payload["restarts_total"] == 3);
  CHECK(payload["last_reason"] == "runtime_error");
}

TEST_CASE("alerts: the store-unreachable alert waits until ingest accepts it", "[unit]") {
  alerts_rig rig;
  rig.rec->refuse = true;
  store_health down;
  down.checked = true;
  down.reachable = false;
  down.error = "connection refused";
  down.unreachable_since = rig.clock.now_ms();
  caf::anon_send(rig.alerts, store_status_atom::value, down);
  // Refused and retried on the timer while the store is down.
  REQUIRE(wait_until([&] { return rig.rec->refused >= 2; }));
  auto stats = rig.stats();
  CHECK(stats.fired == 1);
  CHECK(stats.pending == 1);
  CHECK(stats.submitted == 0);
  // The same outage reported again in its window does not fire twice.
  caf::anon_send(rig.alerts, store_status_atom::value, down);

  rig.rec->refuse = false;
  store_health up;
  up.checked = true;
  up.reachable = true;
  caf::anon_send(rig.alerts, store_status_atom::value, up);
  REQUIRE(wait_until([&] { return rig.stats().submitted == 1; }));
  stats = rig.stats();
  CHECK(stats.fired == 1);
  CHECK(stats.pending == 0);
  auto events = rig.rec->events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].event_type == "webhookd.alert.store_unreachable");
  CHECK(events[0].event_id == "webhookd.alert.store_unreachable:node-a:1699999800");
  auto payload = json::parse(events[0].payload);
  CHECK(payload["error"] == "connection refused");
  CHECK(payload["node"] == "node-a");
}

TEST_CASE("alerts: without an alert client they are counted and logged only", "[unit]") {
  alerts_rig rig("");
  rig.parked("wh_a", 3, 3);
  rig.restarted("wh_a", 1);
  rig.restarted("wh_a", 2);
  REQUIRE(wait_until([&] { return rig.stats().fired == 2; }));
  auto stats = rig.stats();
  CHECK(stats.pending == 0);
  CHECK(stats.submitted == 0);
  CHECK(rig.rec->events().empty());
}
