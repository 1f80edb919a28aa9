// The monitor actor: real actors that answer, one that gets stuck in a handler, one that is
// gone, the loader's blocking workers over a real SQLite store, and a store ping that can be
// made to fail or to hang; readiness follows them and recovers with them.

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "actors/endpoint_test_support.hpp"
#include "actors/loader.hpp"
#include "actors/monitor.hpp"

using namespace webhookd;
using namespace webhookd::test;

namespace {

using block_atom = caf::atom_constant<caf::atom("block")>;

/// A gate threads wait at until it opens.
struct gate {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = true;

  void close() {
    std::lock_guard<std::mutex> lock(mutex);
    open = false;
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      open = true;
    }
    cv.notify_all();
  }
  void pass() {
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [this] { return open; });
  }
};

/// An actor that answers at once, except inside `block_atom`, which waits at the gate (a stuck
/// handler). Detached, so a stuck one holds no scheduler thread.
caf::behavior worker(caf::event_based_actor*, std::shared_ptr<gate> g) {
  return {
      [g](block_atom) { g->pass(); },
  };
}

/// What the store observer heard.
struct heard {
  std::mutex mutex;
  std::vector<store_health> changes;

  std::vector<store_health> get() {
    std::lock_guard<std::mutex> lock(mutex);
    return changes;
  }
};

store_observer_actor::behavior_type observer(store_observer_actor::pointer,
                                             std::shared_ptr<heard> log) {
  return {
      [log](store_status_atom, const store_health& h) {
        std::lock_guard<std::mutex> lock(log->mutex);
        log->changes.push_back(h);
      },
  };
}

struct monitor_rig {
  temp_store db;
  system_clock_source clock;
  std::unique_ptr<caf::actor_system_config> cfg = make_actor_config();
  std::unique_ptr<caf::actor_system> sys = std::make_unique<caf::actor_system>(*cfg);
  std::shared_ptr<gate> actor_gate = std::make_shared<gate>();
  std::shared_ptr<gate> store_gate = std::make_shared<gate>();
  std::shared_ptr<std::atomic<bool>> store_ok = std::make_shared<std::atomic<bool>>(true);
  std::shared_ptr<heard> observed = std::make_shared<heard>();
  caf::actor steady = sys->spawn<caf::detached>(worker, std::make_shared<gate>());
  caf::actor flaky = sys->spawn<caf::detached>(worker, actor_gate);
  loader_actor loader = spawn_loader(*sys, loader_deps{db.get(), &clock, nullptr, 2, nullptr});
  store_observer_actor store_observer = sys->spawn(observer, observed);
  monitor_actor monitor;

  monitor_rig() {
    monitor_deps d;
    d.actors = {
        {"steady", steady}, {"flaky", flaky}, {"loader", caf::actor_cast<caf::actor>(loader)}};
    auto ok = store_ok;
    auto g = store_gate;
    storage::blocking_store* store = db.get();
    d.store_ping_blocking = [ok, g, store]() -> storage::status {
      g->pass();
      if (!ok->load()) return storage::error{storage::errc::unavailable, "connection refused"};
      return store->ping();
    };
    d.store_observer = store_observer;
    d.clock = &clock;
    d.settings.period = std::chrono::milliseconds(20);
    d.settings.deadline = std::chrono::milliseconds(200);
    monitor = spawn_monitor(*sys, std::move(d));
  }

  ~monitor_rig() {
    actor_gate->release();
    store_gate->release();
    for (auto h :
         {caf::actor_cast<caf::actor>(monitor), steady, flaky, caf::actor_cast<caf::actor>(loader),
          caf::actor_cast<caf::actor>(store_observer)})
      if (h) caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
    sys->await_all_actors_done();
  }

  health_report report() {
    caf::scoped_actor self{*sys, true};
    health_report out;
    self->request(monitor, std::chrono::seconds(5), health_atom::value)
        .receive([&](health_report& r) { out = std::move(r); },
                 [&](caf::error& err) { FAIL("health: " << caf::to_string(err)); });
    return out;
  }

  /// The latest report once `pred` holds for it, or the last one at the deadline.
  template <class Pred>
  health_report report_when(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    health_report last;
    wait_until(
        [&] {
          last = report();
          return pred(last);
        },
        limit);
    return last;
  }
};

const actor_health& health_of(const health_report& r, const std::string& name) {
  auto found = std::find_if(r.actors.begin(), r.actors.end(),
                            [&](const actor_health& a) { return a.name == name; });
  REQUIRE(found != r.actors.end());
  return *found;
}

std::string describe(const health_report& r) {
  std::string out = r.ready ? "ready;" : "not ready;";
  out += " store " + std::string(r.store.reachable ? "reachable" : "unreachable: " + r.store.error);
  for (const auto& a : r.actors)
    out += "; " + a.name + (a.answering ? " answers" : " silent: " + a.error);
  return out;
}

}  // namespace

TEST_CASE("monitor: every actor answers and the store pings: ready", "[unit]") {
  monitor_rig rig;
  // The first answer waits for the first round of checks.
  auto r = rig.report();
  INFO(describe(r));
  CHECK(r.first_round_done);
  CHECK(r.ready);
  CHECK(r.not_answering.empty());
  CHECK(r.store.checked);
  CHECK(r.store.reachable);
  CHECK(r.store.last_ok_at > 0);
  REQUIRE(r.actors.size() == 3);
  for (const auto& a : r.actors) {
    CHECK(a.answering);
    CHECK(a.last_answer_at > 0);
    CHECK(a.latency_ms >= 0);
  }
  // The loader's workers are blocking actors that answer the ping themselves.
  CHECK(health_of(r, "loader").answering);
  CHECK(rig.observed->get().empty());  // reachable from the start: no change to report
}

TEST_CASE("monitor: an actor that stops answering makes it not ready; it recovers", "[unit]") {
  monitor_rig rig;
  REQUIRE(rig.report_when([](const health_report& r) { return r.ready; }).ready);

  rig.actor_gate->close();
  caf::anon_send(rig.flaky, block_atom::value);  // stuck in this handler until released
  auto r = rig.report_when([](const health_report& r) { return !r.ready; });
  INFO(describe(r));
  CHECK_FALSE(r.ready);
  CHECK(r.not_answering == std::vector<std::string>{"flaky"});
  CHECK_FALSE(health_of(r, "flaky").answering);
  CHECK_THAT(health_of(r, "flaky").error, Catch::Contains("no answer within 200 ms"));
  CHECK(health_of(r, "steady").answering);
  CHECK(r.store.reachable);

  rig.actor_gate->release();
  r = rig.report_when([](const health_report& r) { return r.ready; });
  INFO(describe(r));
  CHECK(r.ready);
  CHECK(health_of(r, "flaky").answering);
  CHECK(health_of(r, "flaky").error.empty());
}

TEST_CASE("monitor: an actor that is gone is not answering", "[unit]") {
  monitor_rig rig;
  REQUIRE(rig.report_when([](const health_report& r) { return r.ready; }).ready);
  caf::anon_send_exit(rig.steady, caf::exit_reason::kill);
  rig.steady = nullptr;  // the monitor holds no strong reference: the actor is destroyed
  auto r = rig.report_when([](const health_report& r) { return !r.ready; });
  INFO(describe(r));
  CHECK(r.not_answering == std::vector<std::string>{"steady"});
  CHECK_FALSE(health_of(r, "steady").answering);
  CHECK_FALSE(health_of(r, "steady").error.empty());
}

TEST_CASE("monitor: a failing store ping makes it not ready and tells the observer; it recovers",
          "[unit]") {
  monitor_rig rig;
  REQUIRE(rig.report_when([](const health_report& r) { return r.ready; }).ready);

  *rig.store_ok = false;
  auto r = rig.report_when([](const health_report& r) { return !r.ready; });
  INFO(describe(r));
  CHECK_FALSE(r.ready);
  CHECK(r.not_answering == std::vector<std::string>{"store"});
  CHECK_FALSE(r.store.reachable);
  CHECK(r.store.error == "connection refused");
  CHECK(r.store.unreachable_since > 0);
  for (const auto& a : r.actors) CHECK(a.answering);
  REQUIRE(wait_until([&] { return rig.observed->get().size() == 1; }));
  CHECK_FALSE(rig.observed->get().at(0).reachable);
  CHECK(rig.observed->get().at(0).error == "connection refused");

  *rig.store_ok = true;
  r = rig.report_when([](const health_report& r) { return r.ready; });
  INFO(describe(r));
  CHECK(r.ready);
  CHECK(r.store.reachable);
  CHECK(r.store.unreachable_since == 0);
  REQUIRE(wait_until([&] { return rig.observed->get().size() == 2; }));
  CHECK(rig.observed->get().at(1).reachable);
  // One report per change, not one per round.
  CHECK(rig.observed->get().size() == 2);
}

TEST_CASE("monitor: a store ping that hangs past the deadline is an outage", "[unit]") {
  monitor_rig rig;
  REQUIRE(rig.report_when([](const health_report& r) { return r.ready; }).ready);

  rig.store_gate->close();  // the next ping blocks in the probe
  auto r = rig.report_when([](const health_report& r) { return !r.ready; });
  INFO(describe(r));
  CHECK(r.not_answering == std::vector<std::string>{"store"});
  CHECK_THAT(r.store.error, Catch::Contains("no answer within 200 ms"));
  // The monitor itself keeps answering while the probe is blocked.
  for (const auto& a : r.actors) CHECK(a.answering);

  rig.store_gate->release();
  r = rig.report_when([](const health_report& r) { return r.ready; });
  INFO(describe(r));
  CHECK(r.ready);
}
