#pragma once

#include <spdlog/logger.h>
#include <caf/all.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/messages.hpp"
#include "core/clock.hpp"
#include "storage/result.hpp"

/// The monitor actor: the health of the engine (docs/operations.md, "Health"). On a period it
/// pings every long-lived actor it watches and the store, each with a deadline, and keeps the
/// latest answers; GET /readyz reads them. An actor is pinged with CAF's system request
/// `sys_atom, get_atom, "info"`, which every event-based actor answers from its mailbox (so an
/// actor that is stuck in a handler, swamped or gone does not answer in time); a blocking actor
/// must handle it itself (the loader's workers do). The store is pinged by a detached probe the
/// monitor owns, since the ping blocks.
namespace webhookd {

/// `health_atom` -> health_report.
using health_atom = caf::atom_constant<caf::atom("health")>;
/// Internal: the monitor's period timer.
using health_tick_atom = caf::atom_constant<caf::atom("hltick")>;
/// Internal: the answer to health_atom requests made before the first round may not wait longer.
using health_due_atom = caf::atom_constant<caf::atom("hldue")>;
/// The probe's protocol: `store_ping_atom` -> (reachable, error message).
using store_ping_atom = caf::atom_constant<caf::atom("storeping")>;
/// `store_status_atom, store_health`: the store's reachability changed (to observers).
using store_status_atom = caf::atom_constant<caf::atom("storestat")>;

/// An actor the monitor watches, under the name /readyz reports.
struct watched_actor {
  std::string name;
  caf::actor handle;
};

/// The latest health of one watched actor.
struct actor_health {
  std::string name;
  bool answering = false;
  int64_t last_answer_at = 0;  ///< unix ms of its latest answer, 0 = never
  int64_t latency_ms = -1;     ///< round trip of its latest answer, -1 = none yet
  std::string error;           ///< why it is not answering (empty when it is)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, actor_health& x) {
  return f(caf::meta::type_name("actor_health"), x.name, x.answering, x.last_answer_at,
           x.latency_ms, x.error);
}

/// The latest health of the store.
struct store_health {
  bool checked = false;  ///< false when no store is watched
  bool reachable = false;
  int64_t last_ok_at = 0;         ///< unix ms of the latest successful ping, 0 = never
  int64_t latency_ms = -1;        ///< duration of the latest ping that returned, -1 = none yet
  int64_t unreachable_since = 0;  ///< unix ms the current outage was noticed, 0 when reachable
  std::string error;              ///< why it is unreachable (empty when it is reachable)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, store_health& x) {
  return f(caf::meta::type_name("store_health"), x.checked, x.reachable, x.last_ok_at, x.latency_ms,
           x.unreachable_since, x.error);
}

/// What the monitor knows: ready when the first round of checks is done, the store is
/// reachable and every watched actor answers.
struct health_report {
  bool ready = false;
  bool first_round_done = false;
  store_health store;
  std::vector<actor_health> actors;  ///< in the order they were given
  /// "store" (when unreachable) and the names of the actors not answering, in that order.
  std::vector<std::string> not_answering;
  int64_t reported_at = 0;  ///< unix ms
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, health_report& x) {
  return f(caf::meta::type_name("health_report"), x.ready, x.first_round_done, x.store, x.actors,
           x.not_answering, x.reported_at);
}

/// Who hears about store outages (the alerts actor).
using store_observer_actor = caf::typed_actor<caf::reacts_to<store_status_atom, store_health>>;

/// The monitor's protocol:
/// - `health_atom` -> health_report. Before the first round of checks has finished the answer
///   waits for it (at most monitor_settings::deadline).
/// - `health_tick_atom`, `health_due_atom`: internal timers.
/// The store probe is linked to the monitor and exits with it.
using monitor_actor =
    caf::typed_actor<caf::replies_to<health_atom>::with<health_report>,
                     caf::reacts_to<health_tick_atom>, caf::reacts_to<health_due_atom>>;

/// Timing of the checks.
struct monitor_settings {
  /// Time between two rounds of pings.
  std::chrono::milliseconds period{1'000};
  /// An actor or store ping not answered within this time counts as not answering. A target
  /// whose ping is still out is not pinged again until it answers or the deadline passes.
  std::chrono::milliseconds deadline{2'000};
};

/// What the monitor works with. `clock` must outlive the actor.
struct monitor_deps {
  /// The actors to ping. The monitor holds no strong reference to them: one that terminated
  /// is reported as not answering.
  std::vector<watched_actor> actors;
  /// Pings the store; blocks (it runs on the probe's own thread). Empty: the store is not
  /// checked.
  std::function<storage::status()> store_ping_blocking;
  /// Told each time the store becomes unreachable or reachable again; may be invalid.
  store_observer_actor store_observer;
  const clock_source* clock = nullptr;
  std::shared_ptr<spdlog::logger> log;  ///< may be null; transitions are logged
  monitor_settings settings;
};

/// Spawns the monitor (event-based) and its store probe (detached); the first round of checks
/// starts at once. Precondition: deps.clock is set.
monitor_actor spawn_monitor(caf::actor_system& system, monitor_deps deps);

/// The reply every watched actor gives to the monitor's ping, for blocking actors that answer
/// it themselves: `sys_atom, get_atom, what` -> (ok_atom, what, self, name).
caf::message health_ping_reply(const std::string& what, caf::strong_actor_ptr self,
                               std::string name);

}  // namespace webhookd
