#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "actors/introspector.hpp"
#include "core/model.hpp"

/// The JSON of the operator's actor view (GET /api/v1/actors and the console's attempts panel),
/// documented in docs/api.md.
namespace webhookd::http {

/// One delivery of an endpoint with its attempts, newest delivery first.
struct delivery_attempts {
  delivery row;
  std::vector<attempt> attempts;  ///< in order
};

/// The recent deliveries of one webhook with their attempts.
struct endpoint_attempts {
  std::string webhook_id;
  std::string client_id;
  std::vector<delivery_attempts> deliveries;
};

/// The tree: {taken_at, ingest, router, endpoint_supervisor{..., endpoints[], unanswered[]},
/// dlq{webhooks[]}, store_writer, http_client}. Every actor node has `answered` and
/// `latency_ms`; one that did not answer has `error` and none of its counters. Endpoints are
/// sorted by webhook id; times are RFC 3339 (UTC, ms).
nlohmann::json actor_tree_to_json(const actor_tree& tree);

/// One endpoint's state as it appears in the tree (next_retry_in_ms relative to `now_ms`).
nlohmann::json endpoint_state_to_json(const endpoint_state& s, int64_t now_ms);

/// {webhook_id, client_id, deliveries: [{delivery_id, event_id, event_type, status, attempts,
/// next_attempt_at, last_error, created_at, attempt_list: [...]}]}.
nlohmann::json endpoint_attempts_to_json(const endpoint_attempts& a);

}  // namespace webhookd::http
