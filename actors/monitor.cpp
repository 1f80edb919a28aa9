#include "actors/monitor.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>
#include <utility>

namespace webhookd {

caf::message health_ping_reply(const std::string& what, caf::strong_actor_ptr self,
                               std::string name) {
  return caf::make_message(caf::ok_atom::value, what, std::move(self), std::move(name));
}

namespace {

// --- the store probe: a detached actor, because the ping blocks -------------------------------

using store_probe_actor =
    caf::typed_actor<caf::replies_to<store_ping_atom>::with<bool, std::string>>;

struct store_probe_state {
  static const char* name;
};

const char* store_probe_state::name = "store_probe";

store_probe_actor::behavior_type store_probe_behavior(
    store_probe_actor::stateful_pointer<store_probe_state>,
    std::function<storage::status()> ping_blocking) {
  return {
      [ping_blocking](store_ping_atom) -> std::tuple<bool, std::string> {
        auto pinged = ping_blocking();
        if (pinged) return {true, std::string()};
        return {false, pinged.err().message};
      },
  };
}

// --- the monitor ------------------------------------------------------------------------------

struct target_state {
  std::string name;
  caf::actor_addr address;  // weak: the monitor keeps nobody alive
  actor_health health;
  bool in_flight = false;
  bool checked = false;  // answered or failed at least once
};

struct monitor_state {
  static const char* name;
  monitor_deps deps;
  std::vector<target_state> targets;
  store_probe_actor probe;
  store_health store;
  bool store_in_flight = false;
  int64_t store_sent_at = 0;
  bool first_round_done = false;
  std::vector<caf::typed_response_promise<health_report>> waiting;
};

const char* monitor_state::name = "monitor";

using monitor_pointer = monitor_actor::stateful_pointer<monitor_state>;

health_report make_report(monitor_pointer self) {
  auto& st = self->state;
  health_report r;
  r.first_round_done = st.first_round_done;
  r.store = st.store;
  r.reported_at = st.deps.clock->now_ms();
  if (st.store.checked && !st.store.reachable) r.not_answering.push_back("store");
  for (const auto& t : st.targets) {
    r.actors.push_back(t.health);
    if (!t.checked) r.actors.back().error = "no answer yet";
    if (!t.health.answering) r.not_answering.push_back(t.name);
  }
  r.ready = st.first_round_done && r.not_answering.empty();
  return r;
}

void answer_waiting(monitor_pointer self) {
  auto& st = self->state;
  if (st.waiting.empty()) return;
  auto report = make_report(self);
  for (auto& rp : st.waiting) rp.deliver(report);
  st.waiting.clear();
}

// The first round is done when every target and the store have a result.
void check_first_round(monitor_pointer self) {
  auto& st = self->state;
  if (st.first_round_done) return;
  for (const auto& t : st.targets)
    if (!t.checked) return;
  if (st.deps.store_ping_blocking && !st.store.checked) return;
  st.first_round_done = true;
  answer_waiting(self);
}

void set_actor_result(monitor_pointer self, std::size_t index, bool answering, std::string error,
                      int64_t sent_at) {
  auto& st = self->state;
  auto& t = st.targets[index];
  int64_t now = st.deps.clock->now_ms();
  t.in_flight = false;
  bool was_answering = t.health.answering;
  bool first = !t.checked;
  t.checked = true;
  t.health.answering = answering;
  if (answering) {
    t.health.last_answer_at = now;
    t.health.latency_ms = now - sent_at;
    t.health.error.clear();
  } else {
    t.health.error = std::move(error);
  }
  if (st.deps.log) {
    if (!answering && (was_answering || first))
      st.deps.log->warn("health: actor {} is not answering: {}", t.name, t.health.error);
    else if (answering && !was_answering && !first)
      st.deps.log->info("health: actor {} answers again", t.name);
  }
  check_first_round(self);
}

void set_store_result(monitor_pointer self, bool reachable, std::string error) {
  auto& st = self->state;
  int64_t now = st.deps.clock->now_ms();
  bool first = !st.store.checked;
  bool was_reachable = st.store.reachable;
  st.store.checked = true;
  st.store.reachable = reachable;
  if (reachable) {
    int64_t down_for = st.store.unreachable_since != 0 ? now - st.store.unreachable_since : 0;
    st.store.last_ok_at = now;
    st.store.unreachable_since = 0;
    st.store.error.clear();
    if (!was_reachable && !first) {
      if (st.deps.log)
        st.deps.log->info("health: the store is reachable again (unreachable for {} ms)", down_for);
      if (st.deps.store_observer)
        self->send(st.deps.store_observer, store_status_atom::value, st.store);
    }
  } else {
    st.store.error = std::move(error);
    if (was_reachable || first) {
      st.store.unreachable_since = now;
      if (st.deps.log) st.deps.log->error("health: the store is unreachable: {}", st.store.error);
      if (st.deps.store_observer)
        self->send(st.deps.store_observer, store_status_atom::value, st.store);
    }
  }
  check_first_round(self);
}

void ping_actors(monitor_pointer self) {
  auto& st = self->state;
  for (std::size_t i = 0; i < st.targets.size(); ++i) {
    auto& t = st.targets[i];
    if (t.in_flight) continue;
    auto handle = caf::actor_cast<caf::actor>(t.address);
    if (!handle) {
      set_actor_result(self, i, false, "terminated", 0);
      continue;
    }
    t.in_flight = true;
    int64_t sent_at = st.deps.clock->now_ms();
    self->request(handle, st.deps.settings.deadline, caf::sys_atom::value, caf::get_atom::value,
                  std::string("info"))
        .then([self, i, sent_at](
                  caf::ok_atom, const std::string&, const caf::strong_actor_ptr&,
                  const std::string&) { set_actor_result(self, i, true, {}, sent_at); },
              [self, i, sent_at](caf::error& err) {
                std::string why =
                    err == caf::sec::request_timeout
                        ? "no answer within " +
                              std::to_string(self->state.deps.settings.deadline.count()) + " ms"
                        : self->system().render(err);
                set_actor_result(self, i, false, std::move(why), sent_at);
              });
  }
}

void ping_store(monitor_pointer self) {
  auto& st = self->state;
  if (!st.probe) return;
  int64_t now = st.deps.clock->now_ms();
  if (st.store_in_flight) {
    // The probe is still blocked in the previous ping: past the deadline that is an outage.
    if (now - st.store_sent_at >= st.deps.settings.deadline.count() &&
        (st.store.reachable || !st.store.checked))
      set_store_result(
          self, false,
          "no answer within " + std::to_string(st.deps.settings.deadline.count()) + " ms");
    return;
  }
  st.store_in_flight = true;
  st.store_sent_at = now;
  // No timeout on the request itself: the deadline is judged above, and the probe's answer,
  // however late, tells when it is free again.
  self->request(st.probe, caf::infinite, store_ping_atom::value)
      .then(
          [self](bool reachable, std::string& error) {
            auto& st = self->state;
            st.store_in_flight = false;
            st.store.latency_ms = st.deps.clock->now_ms() - st.store_sent_at;
            set_store_result(self, reachable, std::move(error));
          },
          [self](caf::error& err) {
            self->state.store_in_flight = false;
            set_store_result(self, false, "store probe failed: " + self->system().render(err));
          });
}

void run_round(monitor_pointer self) {
  ping_actors(self);
  ping_store(self);
}

monitor_actor::behavior_type monitor_behavior(monitor_pointer self, monitor_deps deps) {
  auto& st = self->state;
  st.deps = std::move(deps);
  for (auto& w : st.deps.actors) {
    target_state t;
    t.name = w.name;
    t.address = w.handle.address();
    t.health.name = w.name;
    st.targets.push_back(std::move(t));
  }
  st.deps.actors.clear();  // no strong references kept
  if (st.deps.store_ping_blocking)
    st.probe =
        self->spawn<caf::detached + caf::linked>(store_probe_behavior, st.deps.store_ping_blocking);
  run_round(self);
  self->delayed_send(self, st.deps.settings.period, health_tick_atom::value);
  self->delayed_send(self, st.deps.settings.deadline, health_due_atom::value);
  return {
      [self](health_atom) -> caf::result<health_report> {
        if (self->state.first_round_done) return make_report(self);
        auto rp = self->make_response_promise<health_report>();
        self->state.waiting.push_back(rp);
        return rp;
      },
      [self](health_tick_atom) {
        run_round(self);
        self->delayed_send(self, self->state.deps.settings.period, health_tick_atom::value);
      },
      [self](health_due_atom) {
        // Whatever has not answered by now counts as not answering in the first report.
        auto& st = self->state;
        if (st.first_round_done) return;
        ping_store(self);
        st.first_round_done = true;
        answer_waiting(self);
      },
  };
}

}  // namespace

monitor_actor spawn_monitor(caf::actor_system& system, monitor_deps deps) {
  if (deps.clock == nullptr) throw std::logic_error("spawn_monitor: a clock is required");
  return system.spawn(monitor_behavior, std::move(deps));
}

}  // namespace webhookd
