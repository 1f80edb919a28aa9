#include "app/serve.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include "actors/introspector.hpp"
#include "actors/manager.hpp"
#include "actors/messages.hpp"
#include "app/actor_console.hpp"
#include "app/delivery_engine.hpp"
#include "app/health.hpp"
#include "app/ingest_backend.hpp"
#include "app/signals.hpp"
#include "app/version.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "core/ssrf_policy.hpp"
#include "http/actors_api.hpp"
#include "http/auth.hpp"
#include "http/management_api.hpp"
#include "http/manager_client.hpp"
#include "http/metrics_route.hpp"
#include "http/reachability.hpp"
#include "http/server.hpp"
#include "http/tracking_api.hpp"
#include "http/tracking_client.hpp"
#include "storage/store.hpp"

namespace webhookd::app {

namespace {

std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

std::string url_authority(const std::string& host, uint16_t port) {
  bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// Opens the store or writes the one-line reason to `err`.
std::unique_ptr<storage::blocking_store> open_store_or_report(const storage::store_settings& s,
                                                              std::ostream& err) {
  auto opened = storage::open_store_blocking(s);
  if (!opened) {
    err << "webhookd: cannot open store '" << redact_store_url(s.url)
        << "': " << one_line(opened.err().message) << "\n";
    return nullptr;
  }
  return std::move(opened.value());
}

// The actor system, configured in code: argv and caf-application.ini are never read.
void configure_actor_system(caf::actor_system_config& cfg) {
  // The default is max(cores, 4) workers; this box class has 2 cores (docs/caf-0.17 notes).
  cfg.set("scheduler.max-threads", 2);
  // An idle worker skips CAF's moderate polling (500 naps of 50 us, a syscall and two context
  // switches each) and waits on its condition variable at once; it still wakes for work
  // enqueued to it, and every 10 ms (CAF's relaxed-sleep-duration) to steal. Idle webhookd now
  // uses 0.6 % of a core instead of about 4 % (docs/performance.md).
  cfg.set("work-stealing.moderate-poll-attempts", size_t{0});
  register_message_types(cfg);
}

// Stops an actor when it goes out of scope (also on early returns), so ~actor_system never waits
// for an actor nobody told to stop.
template <class Handle>
class actor_stopper {
 public:
  explicit actor_stopper(Handle handle) : handle_(std::move(handle)) {}
  ~actor_stopper() { stop(); }
  actor_stopper(const actor_stopper&) = delete;
  actor_stopper& operator=(const actor_stopper&) = delete;
  void stop() {
    if (handle_) caf::anon_send_exit(handle_, caf::exit_reason::user_shutdown);
    handle_ = nullptr;
  }

 private:
  Handle handle_;
};

// The actors the monitor watches and the alerts actor observes.
health_targets health_targets_of(const delivery_engine& engine, const ingestion& ingestion_path,
                                 const manager_actor& manager) {
  health_targets t;
  auto add = [&t](const char* name, const auto& handle) {
    t.watched.push_back({name, caf::actor_cast<caf::actor>(handle)});
  };
  add("ingest", ingestion_path.ingest());
  add("router", ingestion_path.router());
  add("committer", ingestion_path.committer());
  add("endpoint_supervisor", engine.supervisor());
  add("dlq", engine.dlq());
  add("store_writer", engine.store_writer());
  add("http_client", engine.http_client());
  add("loader", engine.loader());
  add("manager", manager);
  t.ingest = ingestion_path.ingest();
  t.dlq = engine.dlq();
  t.supervisor = engine.supervisor();
  t.manager = manager;
  return t;
}

health_settings health_settings_of(const config& cfg) {
  health_settings s;
  s.monitor.period = cfg.health.interval;
  s.monitor.deadline = cfg.health.deadline;
  s.alerts.client_id = cfg.alerts.client_id;
  s.alerts.dlq_threshold = cfg.alerts.dlq_threshold;
  s.alerts.crash_restarts = cfg.alerts.crash_restarts;
  s.alerts.window = cfg.alerts.window;
  // The first /readyz may wait for the first round of checks (at most the deadline).
  s.readiness_timeout =
      std::max(s.readiness_timeout, cfg.health.deadline + std::chrono::seconds(1));
  return s;
}

// Metrics of the process as a whole: build info and the DLQ size, read from the store at
// scrape time (it also sees entries replayed through the API).
void register_process_metrics(metrics::registry& registry, storage::blocking_store& store) {
  registry.add_gauge_family("webhookd_build_info", "Always 1; the version as a label.", {"version"})
      .labels({version()})
      .set(1);
  registry.add_gauge_reader("webhookd_dlq_size",
                            "DLQ entries not replayed yet (all clients; counted by the store).",
                            [&store]() -> std::optional<double> {
                              auto count = store.count_dlq();
                              if (!count) return std::nullopt;
                              return static_cast<double>(count.value());
                            });
}

}  // namespace

int run_serve(const config& cfg, const std::shared_ptr<spdlog::logger>& log, std::ostream& err) {
  // Before any thread exists, so every thread inherits the blocked mask.
  shutdown_signals signals;

  // The SSRF policy, built once: registration and delivery judge callback URLs by it.
  auto policy =
      ssrf_policy::create(ssrf_settings{cfg.targets.allow_private_targets, cfg.targets.allow_http});
  if (!policy) {
    err << "webhookd: invalid --allow-private-targets: " << one_line(policy.err().message) << "\n";
    return exit_usage;
  }

  log->info("webhookd {} starting: store {}, node {}", version(), redact_store_url(cfg.store.url),
            cfg.cluster.node_id);

  // Start order: store, actors, HTTP. Locals are destroyed in reverse order, so an early return
  // also shuts down HTTP, then the actors, then the store.
  std::unique_ptr<storage::blocking_store> store = open_store_or_report(cfg.store, err);
  if (!store) return exit_usage;
  auto schema = store->schema_version();
  if (!schema) {
    err << "webhookd: cannot read the schema version of store '" << redact_store_url(cfg.store.url)
        << "': " << one_line(schema.err().message) << "\n";
    return exit_usage;
  }
  log->info("store {} ready at schema version {}", store->backend(), schema.value());

  // One registry for every module's metrics (GET /metrics); declared before the actor system so
  // it outlives every actor that updates it.
  metrics::registry metrics;
  register_process_metrics(metrics, *store);

  caf::actor_system_config actor_config;
  configure_actor_system(actor_config);
  auto actors = std::make_unique<caf::actor_system>(actor_config);
  log->info("actor system running with {} scheduler threads", actors->scheduler().num_workers());

  system_clock_source clock;
  // The manager: the only writer of webhooks, event types and sources (detached: it blocks on
  // the store).
  manager_deps manager_setup;
  manager_setup.store = store.get();
  manager_setup.clock = &clock;
  manager_setup.log = log;
  manager_actor manager = spawn_manager(*actors, manager_setup);
  actor_stopper<manager_actor> manager_guard(manager);

  // The management API's parts; they outlive the server, which is declared after them.
  http::authenticator authenticator(cfg.auth.jwt_secret, clock);
  http::manager_client manager_client(*actors, manager, std::chrono::seconds(10));
  http::reachability_prober prober(std::chrono::seconds(3), std::string("webhookd/") + version());
  http::management_api management(authenticator, policy.value(), manager_client, prober, log);

  // Delivery: HTTP client, store writer, loader, DLQ and the endpoint supervisor, which
  // subscribes to the manager and recovers the pending deliveries of every partition.
  delivery_engine_settings engine_settings;
  engine_settings.dlq.window = cfg.alerts.window;  // the DLQ counts what the alerts judge
  engine_settings.writer.max_outstanding = cfg.engine.attempt_backlog;
  engine_settings.metrics = &metrics;
  delivery_engine_start engine_start = delivery_engine::start_blocking(
      *actors, *store, clock, manager, policy.value(), log, engine_settings);
  if (!engine_start.value) {
    err << "webhookd: " << one_line(engine_start.error) << "\n";
    return exit_usage;
  }
  std::unique_ptr<delivery_engine> engine = std::move(engine_start.value);
  // The delivery tracking and DLQ routes ask the engine's tracker and DLQ actor.
  http::tracking_client tracking_client(*actors, engine->tracker(), engine->dlq(),
                                        std::chrono::seconds(10));
  http::tracking_api tracking(authenticator, tracking_client, log);

  // Ingestion: router, committer and ingest actors, subscribed to the manager; committed
  // deliveries go to the endpoint supervisor.
  ingestion_settings ingest_settings;
  ingest_settings.metrics = &metrics;
  ingestion_start ingest_start = ingestion::start_blocking(
      *actors, *store, clock, caf::actor_cast<caf::actor>(manager), log, ingest_settings);
  if (!ingest_start.value) {
    err << "webhookd: " << one_line(ingest_start.error) << "\n";
    return exit_usage;
  }
  std::unique_ptr<ingestion> ingestion_path = std::move(ingest_start.value);
  if (!ingestion_path->set_supervisor(engine->supervisor_handle())) {
    err << "webhookd: the ingest actor did not take the endpoint supervisor\n";
    return exit_usage;
  }
  // The operator's view: GET /api/v1/actors (the introspector probes every long-lived actor)
  // and the console page.
  introspector_deps introspector_setup;
  introspector_setup.ingest = ingestion_path->ingest();
  introspector_setup.router = ingestion_path->router();
  introspector_setup.supervisor = engine->supervisor();
  introspector_setup.dlq = engine->dlq();
  introspector_setup.writer = engine->store_writer();
  introspector_setup.http = engine->http_client();
  introspector_setup.clock = &clock;
  introspector_actor introspector = spawn_introspector(*actors, std::move(introspector_setup));
  actor_stopper<introspector_actor> introspector_guard(introspector);
  store_attempts_backend attempts(*store);
  http::actors_api actors_view(authenticator, *actors, introspector, attempts,
                               std::chrono::seconds(5), log);

  // A batch may carry up to 16 MiB; the server refuses larger bodies before any handler runs.
  http::http_settings http_config = cfg.http;
  http_config.max_payload_bytes =
      std::max(http_config.max_payload_bytes, ingestion_settings{}.api.max_batch_body_bytes);

  // Health and alerts: the monitor pings every long-lived actor and the store for /readyz; the
  // alerts actor watches the DLQ, endpoint restarts and the store.
  health_start health_started = health::start_blocking(
      *actors, *store, clock, health_targets_of(*engine, *ingestion_path, manager),
      cfg.cluster.node_id, log, health_settings_of(cfg));
  if (!health_started.value) {
    err << "webhookd: " << one_line(health_started.error) << "\n";
    return exit_usage;
  }
  std::unique_ptr<health> health_service = std::move(health_started.value);
  health* health_ptr = health_service.get();
  auto server = std::make_unique<http::server>(
      http_config,
      [health_ptr] {
        http::readiness state = health_ptr->readiness();
        state.reason = one_line(state.reason);
        return state;
      },
      log);
  management.register_routes(server->routes());
  tracking.register_routes(server->routes());
  ingestion_path->register_routes(server->routes());
  actors_view.register_routes(server->routes());
  http::register_openapi_route(server->routes());
  http::register_metrics_route(server->routes(), metrics);
  auto started = server->start();
  if (!started.ok) {
    err << "webhookd: " << one_line(started.error) << "\n";
    return exit_usage;
  }
  log->info("listening on http://{}", url_authority(cfg.http.host, started.port));
  // Serve first, then recover: the backlog is read in the background, a page per endpoint.
  engine->start_recovery();

  int rc = exit_ok;
  for (;;) {
    int sig = signals.wait_for(std::chrono::milliseconds(500));
    if (sig != 0) {
      log->info("{} received, shutting down", signal_name(sig));
      break;
    }
    if (server->failed()) {
      log->error("the HTTP server stopped unexpectedly, shutting down");
      rc = exit_failure;
      break;
    }
  }

  server->stop();
  server.reset();
  log->info("http server stopped");
  introspector_guard.stop();
  health_service.reset();
  ingestion_path.reset();
  // No new events: let the attempts in flight finish and be recorded (bounded), then stop.
  if (engine->drain_blocking())
    log->info("deliveries drained");
  else
    log->warn("deliveries still in flight at shutdown will be delivered again after restart");
  engine.reset();
  manager_guard.stop();
  actors->await_all_actors_done();
  // The actor system itself is destroyed when this function returns, after the handles declared
  // below it (manager, manager_client, ...): ~actor_system waits for every detached actor to be
  // destroyed, which a live handle prevents, so an explicit reset here would hang.
  log->info("actor system stopped");
  store.reset();
  log->info("store closed, bye");
  return rc;
}

int run_migrate(const config& cfg, std::ostream& out, std::ostream& err) {
  std::unique_ptr<storage::blocking_store> store = open_store_or_report(cfg.store, err);
  if (!store) return exit_usage;
  auto schema = store->schema_version();
  if (!schema) {
    err << "webhookd: cannot read the schema version of store '" << redact_store_url(cfg.store.url)
        << "': " << one_line(schema.err().message) << "\n";
    return exit_usage;
  }
  out << "schema version " << schema.value() << "\n";
  return exit_ok;
}

}  // namespace webhookd::app
