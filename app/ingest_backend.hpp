#pragma once

#include <caf/all.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "actors/ingest.hpp"
#include "actors/router.hpp"
#include "http/ingest_api.hpp"
#include "storage/store.hpp"

/// Wiring of the ingestion routes to the engine: the HTTP side's ingest_backend answered by the
/// router and ingest actors, and the blocking start-up load of the source registry.
namespace webhookd::app {

/// Deadlines of the HTTP threads' requests to the actors.
struct ingest_deadlines {
  std::chrono::milliseconds find_source{2'000};
  std::chrono::milliseconds submit{10'000};
};

/// http::ingest_backend on top of the router (source lookups) and the ingest actor (submissions).
/// Every call is one request with a deadline from a hidden scoped actor of the calling thread;
/// a CAF error or a passed deadline becomes `unavailable`.
class actor_ingest_backend final : public http::ingest_backend {
 public:
  /// `system` must outlive this object.
  actor_ingest_backend(caf::actor_system& system, router_actor router, ingest_actor ingest,
                       ingest_deadlines deadlines = {});

  http::source_lookup_result find_source(const std::string& api_key) override;
  http::submit_result submit(std::vector<event> events) override;

 private:
  caf::actor_system& system_;
  router_actor router_;
  ingest_actor ingest_;
  ingest_deadlines deadlines_;
};

/// Every source of the store, read page by page. Blocking: call at start, before the actors
/// that need it are spawned.
storage::result<std::vector<source>> load_sources_blocking(storage::blocking_store& store);

}  // namespace webhookd::app
