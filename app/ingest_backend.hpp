#pragma once

#include <httplib.h>
#include <spdlog/logger.h>
#include <caf/all.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "actors/ingest.hpp"
#include "actors/router.hpp"
#include "core/metrics.hpp"
#include "http/ingest_api.hpp"
#include "storage/store.hpp"

/// Wiring of ingestion: the router, committer and ingest actors, the HTTP side's ingest_backend
/// answered by them, and the routes.
namespace webhookd::app {

/// Deadlines of the HTTP threads' requests to the actors.
struct ingest_deadlines {
  std::chrono::milliseconds submit{10'000};
};

/// http::ingest_backend on top of the router's source directory (source lookups, read on the
/// calling thread) and the ingest actor (submissions: one request with a deadline from a hidden
/// scoped actor; a CAF error or a passed deadline becomes `unavailable`). The scoped actors are
/// kept for the next submissions: making one per request costs an actor and, when it goes, a
/// message to CAF's clock thread.
class actor_ingest_backend final : public http::ingest_backend {
 public:
  /// `system` must outlive this object; `sources` is the directory the router keeps current.
  actor_ingest_backend(caf::actor_system& system, std::shared_ptr<const source_directory> sources,
                       ingest_actor ingest, ingest_deadlines deadlines = {});

  http::source_lookup_result find_source(const std::string& api_key) override;
  http::submit_result submit(std::vector<event> events) override;

 private:
  using waiter = std::unique_ptr<caf::scoped_actor>;

  /// A scoped actor with an empty mailbox: a kept one, or a new one.
  waiter take_waiter();
  /// Keeps a waiter whose every request was answered (nothing can arrive later).
  void keep_waiter(waiter w);

  caf::actor_system& system_;
  std::shared_ptr<const source_directory> sources_;
  ingest_actor ingest_;
  ingest_deadlines deadlines_;
  std::mutex waiters_mutex_;
  std::vector<waiter> waiters_;  // guarded by waiters_mutex_
};

/// Settings of the whole ingestion path.
struct ingestion_settings {
  ingest_settings engine;
  http::ingest_api_settings api;
  ingest_deadlines deadlines;
  /// Receives the ingestion metrics (routes and group commit); null: not measured. Must
  /// outlive the ingestion. Overrides api.metrics.
  metrics::registry* metrics = nullptr;
};

class ingestion;

/// What ingestion::start_blocking gives: the running ingestion, or why it could not start.
struct ingestion_start {
  std::unique_ptr<ingestion> value;  ///< null on failure
  std::string error;                 ///< one line, when value is null
};

/// The running ingestion path: router, committer, ingest actor, backend and routes.
class ingestion {
 public:
  /// Loads every source from `store` (blocking), spawns the router with them, the committer
  /// (detached) and the ingest actor, and subscribes the router to `manager` (webhook and source
  /// changes): the subscription's snapshot, shared with the other subscribers, fills the router's
  /// index, and changes follow it, so nothing written in between is missed. Without a manager
  /// the webhooks are loaded from `store` instead. `system`, `store` and `clock` must outlive
  /// this object.
  static ingestion_start start_blocking(caf::actor_system& system, storage::blocking_store& store,
                                        const clock_source& clock, const caf::actor& manager,
                                        std::shared_ptr<spdlog::logger> log,
                                        ingestion_settings settings = {});

  ~ingestion();
  ingestion(const ingestion&) = delete;
  ingestion& operator=(const ingestion&) = delete;

  /// Adds POST /api/v1/events and /api/v1/events/batch. This object must outlive the server.
  void register_routes(httplib::Server& routes);

  /// From now on, committed deliveries go to `supervisor` (`deliver_atom, jobs`). Until then
  /// they are only in the store, where recovery finds them. False if ingest did not confirm.
  [[nodiscard]] bool set_supervisor(const caf::actor& supervisor);

  /// The router, e.g. to subscribe it elsewhere.
  const router_actor& router() const { return router_; }
  const ingest_actor& ingest() const { return ingest_; }
  const committer_actor& committer() const { return committer_; }

  /// Tells ingest, the committer and the router to exit, in that order. Call after the HTTP
  /// server stopped. Idempotent; also done by the destructor.
  void stop();

 private:
  ingestion(caf::actor_system& system, router_actor router,
            std::shared_ptr<const source_directory> sources, committer_actor committer,
            ingest_actor ingest, const clock_source& clock, ingestion_settings settings,
            std::shared_ptr<spdlog::logger> log);

  caf::actor_system& system_;
  router_actor router_;
  committer_actor committer_;
  ingest_actor ingest_;
  actor_ingest_backend backend_;
  http::ingest_api api_;
};

}  // namespace webhookd::app
