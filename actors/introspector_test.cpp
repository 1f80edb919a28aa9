#include "actors/introspector.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "core/clock.hpp"

using namespace webhookd;

namespace {

// A router that routes nothing and answers state_atom with fixed stats.
router_actor::behavior_type answering_router(router_actor::pointer) {
  return {
      [](route_atom, std::vector<event>&) { return std::vector<routed_event>{}; },
      [](source_atom, const std::string&) { return source_lookup{}; },
      [](changed_atom, const webhook&) { return caf::ok_atom::value; },
      [](removed_atom, const std::string&, const std::string&) { return caf::ok_atom::value; },
      [](changed_atom, const source&) { return caf::ok_atom::value; },
      [](removed_atom, source_atom, const std::string&) { return caf::ok_atom::value; },
      [](subscribe_atom, const caf::actor&) { return caf::ok_atom::value; },
      [](state_atom) {
        router_stats s;
        s.routed_events = 42;
        s.events_per_second = 4.2;
        return s;
      },
  };
}

// A store writer stuck in a long call: it never answers state_atom (its promise stays open).
struct stuck_state {
  std::vector<caf::typed_response_promise<store_writer_stats>> held;
};

store_writer_actor::behavior_type stuck_writer(
    store_writer_actor::stateful_pointer<stuck_state> self) {
  return {
      [](record_atom, const attempt_outcome&) { return caf::ok_atom::value; },
      [](sync_atom) { return caf::ok_atom::value; },
      [](room_atom) { return caf::ok_atom::value; },
      [self](state_atom) -> caf::result<store_writer_stats> {
        self->state.held.push_back(self->make_response_promise<store_writer_stats>());
        return self->state.held.back();
      },
      [](flush_atom, uint64_t) {},
  };
}

}  // namespace

TEST_CASE("introspector: answers with every actor, marking the silent and the missing ones",
          "[unit]") {
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  caf::actor_system system{cfg};
  manual_clock clock;
  introspector_deps deps;
  deps.router = system.spawn(answering_router);
  deps.writer = system.spawn(stuck_writer);
  deps.clock = &clock;
  deps.probe_timeout = std::chrono::milliseconds(200);
  auto introspector = spawn_introspector(system, deps);
  {
    caf::scoped_actor self{system, true};
    bool answered = false;
    self->request(introspector, std::chrono::seconds(10), state_atom::value)
        .receive(
            [&](const actor_tree& tree) {
              answered = true;
              CHECK(tree.taken_at == clock.now_ms());
              CHECK(tree.router_probe.answered);
              CHECK(tree.router.routed_events == 42);
              CHECK(tree.router.events_per_second == Approx(4.2));
              // The stuck writer is reported, not waited for.
              CHECK_FALSE(tree.writer_probe.answered);
              CHECK(tree.writer_probe.error.find("timeout") != std::string::npos);
              // Actors that were never given are "not running".
              CHECK_FALSE(tree.ingest_probe.answered);
              CHECK(tree.ingest_probe.error == "not running");
              CHECK_FALSE(tree.supervisor_probe.answered);
              CHECK_FALSE(tree.dlq_probe.answered);
              CHECK_FALSE(tree.http_probe.answered);
            },
            [&](caf::error& err) { FAIL("introspector failed: " << system.render(err)); });
    CHECK(answered);
  }
  for (const caf::actor& a :
       {caf::actor_cast<caf::actor>(introspector), caf::actor_cast<caf::actor>(deps.router),
        caf::actor_cast<caf::actor>(deps.writer)})
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}
