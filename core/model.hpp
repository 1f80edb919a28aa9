#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

/// The domain model: the objects webhookd keeps and passes between its parts. Times are unix
/// milliseconds (UTC). JSON-valued fields are kept as serialized JSON text: the store never
/// interprets them.
namespace webhookd {

/// Number of delivery partitions; a delivery's partition is partition_of(webhook_id).
inline constexpr int partition_count = 64;

/// Stable partition of a webhook (FNV-1a of its id, mod `count`). Never changes across releases.
int partition_of(const std::string& webhook_id, int count = partition_count);

/// A client's subscription to events.
struct webhook {
  std::string id;         ///< "wh_..." assigned by the caller
  std::string client_id;  ///< owner (JWT `sub`)
  std::string callback_url;
  std::vector<std::string> event_types;  ///< names, `prefix.*` wildcards or `*`
  std::string trigger_conditions;        ///< JSON filter, empty = none
  std::string retry_policy;              ///< JSON object, empty = server default
  int rate_limit = 1000;                 ///< deliveries per second
  std::string priority = "standard";     ///< high | standard | bulk
  bool ordered = false;
  std::string public_key;      ///< PEM for payload encryption, empty = none
  std::string encrypt_fields;  ///< JSON array of paths, empty = whole body
  std::string headers;         ///< JSON object of extra request headers, empty = none
  std::string description;
  std::string status = "active";  ///< active | paused | disabled
  std::string disabled_reason;
  std::string signing_secret;   ///< "whsec_..."
  std::string previous_secret;  ///< still signs until previous_secret_expires_at
  int64_t previous_secret_expires_at = 0;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  int64_t timeout_ms = 0;  ///< total time limit of one attempt, 0 = the server's default
};

/// An entry of the event-type catalogue.
struct event_type {
  std::string name;  ///< dotted, e.g. "invoice.paid"
  std::string description;
  std::string schema;  ///< JSON schema text, empty = none
  int64_t created_at = 0;
};

/// A source application allowed to post events.
struct source {
  std::string id;  ///< "src_..."
  std::string name;
  std::string api_key;  ///< unique across sources
  std::string secret;   ///< HMAC key; kept so signatures can be verified
  std::vector<std::string> allowed_event_types;
  std::vector<std::string> ip_allowlist;  ///< CIDRs, empty = any address
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

/// An event as accepted from a source.
struct event {
  std::string client_id;
  std::string event_id;  ///< the source's id; unique per client
  std::string event_type;
  int64_t timestamp = 0;  ///< the source's timestamp
  std::string payload;    ///< JSON text
  std::string source_id;
  int64_t received_at = 0;
};

enum class delivery_status { pending, succeeded, failed, cancelled };

/// "pending", "succeeded", "failed", "cancelled".
const char* to_string(delivery_status s);
/// Inverse of to_string; nullopt for an unknown name.
std::optional<delivery_status> delivery_status_from_string(const std::string& s);

/// One event x webhook: the unit of delivery.
struct delivery {
  std::string id;  ///< "msg_..." assigned by the caller; the webhook-id header
  std::string client_id;
  std::string event_id;
  std::string event_type;
  std::string webhook_id;
  int partition = 0;
  delivery_status status = delivery_status::pending;
  int attempts = 0;             ///< attempts made so far
  int64_t next_attempt_at = 0;  ///< when the next attempt is due (pending only)
  std::string last_error;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  /// Attempts made before the current series of attempts began: 0 for a new delivery, the
  /// attempt count at the time of a resend or DLQ replay. The retry policy's max_attempts and
  /// backoff schedule apply to the attempts after it; attempt numbers keep growing.
  int series_start = 0;
};

/// An event to append with the deliveries it fans out to.
struct new_event {
  event ev;
  std::vector<delivery> deliveries;  ///< client_id/event_id/event_type must match ev
};

/// Outcome of append_events: duplicate[i] tells whether batch[i] was already stored (or repeated
/// earlier in the same batch); a duplicate's deliveries were not inserted.
struct append_result {
  std::vector<bool> duplicate;
};

/// One delivery attempt as it happened.
struct attempt {
  std::string delivery_id;
  int attempt_no = 0;  ///< 1-based
  int64_t started_at = 0;
  int64_t duration_ms = 0;
  int status_code = 0;           ///< HTTP status, 0 when no response
  std::string error;             ///< transport error, empty when a response came back
  std::string response_excerpt;  ///< first 4 KiB of the response body
};

/// An attempt plus the state its delivery moves to. When new_status is failed, the delivery also
/// enters the DLQ with dlq_reason.
struct attempt_outcome {
  attempt att;
  delivery_status new_status = delivery_status::pending;
  int64_t next_attempt_at = 0;  ///< meaningful when new_status is pending
  std::string dlq_reason;
};

/// An attempt as the attempt feed shows it: the attempt with its delivery's webhook and event,
/// and its position in the feed (`seq` grows in the order attempts are recorded).
struct attempt_record {
  int64_t seq = 0;
  std::string webhook_id;
  std::string event_id;
  std::string event_type;
  attempt att;
};

/// Which attempts the feed returns: the client's attempts recorded after `after`, oldest first;
/// with `after` < 0, the latest `limit` ones (still oldest first).
struct attempt_feed_request {
  std::string webhook_id;  ///< empty = every webhook of the client
  int64_t after = -1;
  int limit = 50;
};

/// One read of the attempt feed. `cursor` is the seq of the last item, or when there is none the
/// request's `after` (0 for a first read): pass it as the next request's `after`.
struct attempt_feed {
  std::vector<attempt_record> items;
  int64_t cursor = 0;
};

/// A delivery parked in the dead-letter queue.
struct dlq_entry {
  std::string delivery_id;
  std::string client_id;
  std::string webhook_id;
  std::string event_id;
  std::string event_type;
  std::string reason;
  int64_t created_at = 0;
  int64_t replayed_at = 0;  ///< 0 = not replayed yet
};

/// Cursor pagination: `after` is the cursor returned by the previous page (empty = first page).
struct page_request {
  std::string after;
  int limit = 50;
};

/// One page of rows; next_cursor is empty on the last page.
template <class T>
struct page {
  std::vector<T> items;
  std::string next_cursor;
};

/// Filters for listing one webhook's deliveries.
struct delivery_filter {
  std::optional<delivery_status> status;
  int64_t since = 0;  ///< created_at >= since
  int64_t until = 0;  ///< created_at < until, 0 = no bound
};

/// Filters for listing DLQ entries; empty/zero fields don't filter.
struct dlq_filter {
  std::string webhook_id;
  std::string event_type;
  int64_t since = 0;
  int64_t until = 0;
  bool include_replayed = false;
};

/// A node of the cluster.
struct node {
  std::string id;
  std::string address;  ///< host:port of its cluster endpoint, empty = none
  int64_t heartbeat_at = 0;
};

/// Who owns a partition until when.
struct partition_lease {
  int partition = 0;
  std::string node_id;
  int64_t expires_at = 0;
};

}  // namespace webhookd
