#pragma once

#include <httplib.h>
#include <spdlog/logger.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "core/model.hpp"

/// The ingestion routes of design section 3: POST /api/v1/events (one event) and
/// POST /api/v1/events/batch (a JSON array of events), authenticated per source. The routes know
/// no actors: they talk to the engine through an ingest_backend, which app/ implements on top of
/// the router and ingest actors.
namespace webhookd::http {

/// What a source lookup found.
struct source_lookup_result {
  enum class kind { found, unknown, unavailable };
  kind status = kind::unknown;
  source src;           ///< meaningful when found
  std::string message;  ///< why it is unavailable
};

/// How the engine answered a submission.
struct submit_result {
  enum class kind { accepted, overloaded, unavailable };
  kind status = kind::unavailable;
  int64_t accepted = 0;    ///< events newly stored (when accepted)
  int64_t duplicates = 0;  ///< events stored before (when accepted)
  std::string message;     ///< why it was refused
};

/// The engine behind the ingestion routes. Both calls block the calling HTTP worker thread for
/// a bounded time (the implementation applies its own deadline) and must be thread-safe.
class ingest_backend {
 public:
  virtual ~ingest_backend() = default;
  /// The source whose api key is `api_key`.
  virtual source_lookup_result find_source(const std::string& api_key) = 0;
  /// Stores `events` with their deliveries; `accepted` only once they are durably committed.
  virtual submit_result submit(std::vector<event> events) = 0;
};

/// Limits of the ingestion routes.
struct ingest_api_settings {
  /// Largest payload of one event, as compact JSON (413 beyond).
  std::size_t max_payload_bytes = 256 * 1024;
  /// Largest body of POST /api/v1/events: the payload limit plus room for the envelope.
  std::size_t max_event_body_bytes = 256 * 1024 + 4 * 1024;
  /// Largest body of POST /api/v1/events/batch (413 beyond). The HTTP server's own payload limit
  /// must be at least this large.
  std::size_t max_batch_body_bytes = 16 * 1024 * 1024;
  /// Most events in one batch (422 beyond).
  std::size_t max_batch_events = 1000;
  /// Largest distance between X-Source-Timestamp and now (401 beyond).
  int64_t timestamp_tolerance_seconds = 300;
  /// Where the routes count accepted, duplicate and refused events and the ack latency; null:
  /// not measured. Must outlive the routes.
  metrics::registry* metrics = nullptr;
};

/// The reasons of webhookd_events_rejected_total{reason}: the error codes of the answers
/// (unauthorized, forbidden, payload_too_large, invalid_json, validation_failed, unavailable)
/// and "overloaded" for a 503 because the engine's buffer is full.
const std::vector<std::string>& ingest_rejection_reasons();

/// Longest event_id and client_id, in bytes.
inline constexpr std::size_t max_event_id_length = 255;

/// The ingestion routes. Answers 202 {"accepted":N,"duplicates":M}; errors use the API's shape
/// {"error":{"code","message"}}: 400 invalid_json, 401 unauthorized (missing or unknown
/// X-Source-Key, bad or stale timestamp, bad signature), 403 forbidden (address not in the
/// source's IP allowlist, event type not allowed for the source), 413 payload_too_large,
/// 422 validation_failed (naming the field, and the index in a batch), 503 unavailable with
/// Retry-After: 1 (engine overloaded, store down, deadline passed). A batch is all or nothing.
class ingest_api {
 public:
  /// `backend` and `clock` must outlive the routes. `log` may be null.
  ingest_api(ingest_backend& backend, const clock_source& clock, ingest_api_settings settings,
             std::shared_ptr<spdlog::logger> log);

  /// Adds POST /api/v1/events and POST /api/v1/events/batch to `routes`. This object must
  /// outlive the server.
  void register_routes(httplib::Server& routes);

  /// Handles one request; `batch` selects the batch endpoint. Public for tests.
  void handle(const httplib::Request& req, httplib::Response& res, bool batch);

 private:
  /// Handles of the ingestion metrics (all null when not measured).
  struct measures {
    metrics::counter* accepted = nullptr;
    metrics::counter* duplicates = nullptr;
    metrics::counter_family* rejected = nullptr;
    metrics::histogram* ack_seconds = nullptr;
  };

  void count_rejection(const std::string& reason);

  ingest_backend& backend_;
  const clock_source& clock_;
  ingest_api_settings settings_;
  std::shared_ptr<spdlog::logger> log_;
  measures measures_;
};

}  // namespace webhookd::http
