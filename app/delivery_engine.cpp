#include "app/delivery_engine.hpp"

#include <spdlog/spdlog.h>

#include <optional>
#include <random>
#include <utility>

#include "app/startup_reads.hpp"
#include "app/version.hpp"

namespace webhookd::app {

delivery_engine::delivery_engine(caf::actor_system& system, std::shared_ptr<spdlog::logger> log)
    : system_(system), log_(std::move(log)) {}

delivery_engine::~delivery_engine() {
  stop();
}

delivery_engine_start delivery_engine::start_blocking(
    caf::actor_system& system, storage::blocking_store& store, const clock_source& clock,
    manager_actor manager, const ssrf_policy& policy, std::shared_ptr<spdlog::logger> log,
    delivery_engine_settings settings) {
  delivery_engine_start out;
  std::unique_ptr<delivery_engine> engine(new delivery_engine(system, log));
  engine->drain_timeout_ = settings.supervisor.drain_timeout;

  http_client_settings http = settings.http;
  http.policy = std::make_shared<const ssrf_policy>(policy);
  http.user_agent = std::string("webhookd/") + version();
  engine->http_ = spawn_http_client(system, std::move(http));
  std::shared_ptr<const commit_metrics> writer_metrics;
  if (settings.metrics)
    writer_metrics = commit_metrics::create(*settings.metrics, commit_writer::attempts);
  auto backlog = std::make_shared<record_backlog>(settings.writer.max_outstanding);
  if (settings.metrics) {
    settings.metrics->add_gauge_reader(
        "webhookd_attempt_outcomes_outstanding",
        "Attempt outcomes sent to the store writer and not yet written; endpoints start no "
        "attempt while there are --attempt-backlog of them (back-pressure).",
        [backlog]() -> std::optional<double> {
          return static_cast<double>(backlog->outstanding());
        });
  }
  engine->writer_ = spawn_store_writer(
      system, store_writer_deps{&store, log, settings.writer, std::move(writer_metrics), backlog});
  engine->loader_ = spawn_loader(
      system, loader_deps{&store, &clock, log, settings.loader_workers, engine->stopping_});
  engine->dlq_ = spawn_dlq(system, dlq_deps{engine->loader_, &clock, log, settings.dlq});

  supervisor_deps sup;
  // With a manager the supervisor's webhooks come from the manager's shared snapshot.
  auto webhooks = load_webhooks_unless_shared(store, static_cast<bool>(manager));
  if (!webhooks) {
    out.error = "cannot load the webhooks: " + webhooks.err().message;
    return out;
  }
  sup.webhooks = std::move(webhooks.value());
  sup.http = engine->http_;
  sup.writer = engine->writer_;
  sup.backlog = std::move(backlog);
  sup.loader = engine->loader_;
  sup.dlq = engine->dlq_;
  sup.manager = manager;
  sup.clock = &clock;
  sup.log = log;
  sup.settings = std::move(settings.supervisor);
  engine->recovery_partitions_ = std::move(sup.settings.partitions);
  sup.settings.partitions.clear();  // recovered when start_recovery is called
  sup.seed = std::random_device{}();
  if (settings.metrics) sup.metrics = delivery_metrics::create(*settings.metrics);
  if (log)
    log->info("delivery engine: {} partitions to recover", engine->recovery_partitions_.size());
  auto subscribe_timeout = sup.settings.subscribe_timeout;
  engine->supervisor_ = spawn_endpoint_supervisor(system, std::move(sup));
  engine->tracker_ =
      spawn_tracker(system, tracker_deps{&store, &clock,
                                         caf::actor_cast<replay_target_actor>(engine->supervisor_),
                                         log, settings.tracker_workers});
  if (manager) {
    // Before anything reaches the supervisor: it must know the webhooks when ingestion hands it
    // deliveries and when recovery starts.
    caf::scoped_actor self{system, true};
    self->request(engine->supervisor_, subscribe_timeout + std::chrono::seconds(1),
                  subscribe_atom::value, manager)
        .receive([](caf::ok_atom) {},
                 [&](caf::error& err) {
                   out.error = "the endpoint supervisor could not subscribe to the manager: " +
                               system.render(err);
                 });
    if (!out.error.empty()) return out;  // the engine's destructor stops its actors
  }
  out.value = std::move(engine);
  return out;
}

void delivery_engine::start_recovery() {
  if (!supervisor_ || recovery_partitions_.empty()) return;
  caf::anon_send(supervisor_, recovery_retry_atom::value, std::move(recovery_partitions_));
  recovery_partitions_.clear();
}

bool delivery_engine::drain_blocking() {
  stopping_->store(true);
  if (!supervisor_) return true;
  bool drained = false;
  {
    caf::scoped_actor self{system_, true};
    self->request(supervisor_, drain_timeout_ + std::chrono::seconds(2), drain_atom::value)
        .receive([&](caf::ok_atom) { drained = true; },
                 [&](caf::error& err) {
                   if (log_)
                     log_->warn("delivery engine: drain cut short: {}", system_.render(err));
                 });
  }
  return drained;
}

void delivery_engine::stop() {
  stopping_->store(true);
  auto stop_one = [](auto& handle) {
    if (handle) caf::anon_send_exit(handle, caf::exit_reason::user_shutdown);
    handle = nullptr;
  };
  stop_one(tracker_);
  stop_one(supervisor_);
  stop_one(dlq_);
  stop_one(http_);
  stop_one(writer_);
  stop_one(loader_);
}

}  // namespace webhookd::app
