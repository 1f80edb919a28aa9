#include "app/health.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <utility>

namespace webhookd::app {

namespace {

// Adds the alert event types the catalogue lacks; a name taken meanwhile (another node) is fine.
std::string register_alert_event_types_blocking(caf::actor_system& system,
                                                const manager_actor& manager, spdlog::logger* log) {
  caf::scoped_actor self{system, true};
  std::set<std::string> present;
  std::string failure;
  self->request(manager, std::chrono::seconds(30), event_type_atom::value, list_atom::value)
      .receive(
          [&](std::vector<event_type>& types) {
            for (const auto& t : types) present.insert(t.name);
          },
          [&](caf::error& err) { failure = "cannot list the event types: " + system.render(err); });
  if (!failure.empty()) return failure;
  for (const auto& name : alert_event_types()) {
    if (present.count(name) != 0) continue;
    event_type type;
    type.name = name;
    type.description = "An alert raised by webhookd itself (docs/operations.md, Alerts)";
    self->request(manager, std::chrono::seconds(30), event_type_atom::value, create_atom::value,
                  std::move(type))
        .receive(
            [&](const event_type&) {
              if (log) log->info("event type {} added to the catalogue", name);
            },
            [&](caf::error& err) {
              auto why = manager_failure_of(err);
              if (why && why->code == manager_errc::conflict) return;
              failure = "cannot add the event type " + name + ": " + system.render(err);
            });
    if (!failure.empty()) return failure;
  }
  return {};
}

}  // namespace

health::health(caf::actor_system& system, std::chrono::milliseconds readiness_timeout)
    : system_(system), readiness_timeout_(readiness_timeout) {}

health::~health() {
  stop();
}

health_start health::start_blocking(caf::actor_system& system, storage::blocking_store& store,
                                    const clock_source& clock, health_targets targets,
                                    std::string node_id, std::shared_ptr<spdlog::logger> log,
                                    health_settings settings) {
  health_start out;
  if (targets.manager) {
    auto failure = register_alert_event_types_blocking(system, targets.manager, log.get());
    if (!failure.empty()) {
      out.error = failure;
      return out;
    }
  }
  std::unique_ptr<health> service(new health(system, settings.readiness_timeout));

  alerts_deps alerts;
  alerts.ingest = targets.ingest;
  alerts.node_id = node_id;
  alerts.clock = &clock;
  alerts.log = log;
  alerts.settings = settings.alerts;
  if (log) {
    if (alerts.settings.client_id.empty())
      log->info("alerts: logged only (no alert client configured)");
    else
      log->info(
          "alerts: delivered as events of client {} (DLQ threshold {}, crash loop {} restarts, "
          "window {} s)",
          alerts.settings.client_id, alerts.settings.dlq_threshold, alerts.settings.crash_restarts,
          alerts.settings.window.count() / 1000);
  }
  service->alerts_ = spawn_alerts(system, std::move(alerts));
  if (targets.dlq)
    caf::anon_send(targets.dlq, subscribe_atom::value,
                   caf::actor_cast<dlq_observer_actor>(service->alerts_));
  if (targets.supervisor)
    caf::anon_send(targets.supervisor, subscribe_atom::value,
                   caf::actor_cast<restart_observer_actor>(service->alerts_));

  monitor_deps monitor;
  monitor.actors = std::move(targets.watched);
  monitor.actors.push_back({"alerts", caf::actor_cast<caf::actor>(service->alerts_)});
  storage::blocking_store* store_ptr = &store;
  monitor.store_ping_blocking = [store_ptr] { return store_ptr->ping(); };
  monitor.store_observer = caf::actor_cast<store_observer_actor>(service->alerts_);
  monitor.clock = &clock;
  monitor.log = log;
  monitor.settings = settings.monitor;
  service->monitor_ = spawn_monitor(system, std::move(monitor));
  out.value = std::move(service);
  return out;
}

http::readiness health::readiness() {
  if (!monitor_) return http::readiness{false, "the monitor is not running", {"monitor"}};
  http::readiness out{false, "the monitor did not answer", {"monitor"}};
  caf::scoped_actor self{system_, true};
  self->request(monitor_, readiness_timeout_, health_atom::value)
      .receive([&](const health_report& report) { out = readiness_of(report); },
               [&](caf::error& err) {
                 out.reason = "the monitor did not answer: " + system_.render(err);
               });
  return out;
}

void health::stop() {
  auto stop_one = [](auto& handle) {
    if (handle) caf::anon_send_exit(handle, caf::exit_reason::user_shutdown);
    handle = nullptr;
  };
  stop_one(monitor_);
  stop_one(alerts_);
}

http::readiness readiness_of(const health_report& report) {
  http::readiness out;
  out.ready = report.ready;
  out.not_answering = report.not_answering;
  if (report.ready) return out;
  std::string reason;
  if (report.store.checked && !report.store.reachable)
    reason = "store unreachable: " + report.store.error;
  std::string actors;
  for (const auto& a : report.actors) {
    if (a.answering) continue;
    if (!actors.empty()) actors += ", ";
    actors += a.name + " (" + a.error + ")";
  }
  if (!actors.empty()) {
    if (!reason.empty()) reason += "; ";
    reason += "not answering: " + actors;
  }
  if (reason.empty()) reason = "health checks have not finished yet";
  out.reason = std::move(reason);
  return out;
}

}  // namespace webhookd::app
