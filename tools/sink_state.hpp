#pragma once

#include "sink_verify.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

/// What `webhookd-sink` records about deliveries and how it answers them (docs/sink.md).
namespace webhookd::sink {

/// One answer of the sink: an HTTP status, or holding the request without answering.
struct answer_step {
  int status = 200;
  bool hang = false;
};

/// How the sink answers deliveries to one path. Immutable once built; replaced as a whole.
struct path_config {
  std::optional<std::vector<std::string>> keys;  ///< HMAC keys; nullopt = use the global secrets
  std::vector<answer_step> responses;            ///< consumed one per request, in order
  answer_step then;                              ///< once `responses` are used up, forever
  int delay_ms = 0;                              ///< wait before answering
  bool hang = false;                             ///< every request hangs (overrides the steps)
  int hang_ms = 120000;                          ///< longest a hang holds the request
  std::string retry_after;                       ///< Retry-After on 429/503 answers, empty = none
  std::string location;                          ///< Location on 3xx answers, empty = none
  nlohmann::json source;                         ///< the JSON it was built from (secrets masked)
};

/// A parsed `POST /_sink/config` item: the path ("*" = default for unconfigured paths) and config.
struct config_update {
  std::string path;
  std::shared_ptr<const path_config> config;
};

/// Why a config document was refused.
struct config_error {
  std::string message;
};

/// Parses one config object (see docs/sink.md); unknown keys and bad values are errors.
std::variant<config_update, config_error> parse_config(const nlohmann::json& doc);

/// What a delivery request carried, as the server hands it to the state.
struct delivery_input {
  std::string path;
  std::string webhook_id;
  std::string timestamp;
  std::string signature;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  ///< lower-case names
  std::int64_t received_at_ms = 0;                           ///< unix ms
  double received_steady_ms = 0;                             ///< ms since the sink started
};

/// What the server must do with a delivery once it is recorded.
struct delivery_plan {
  answer_step step;
  int delay_ms = 0;
  int hang_ms = 0;
  std::string retry_after;
  std::string location;
  verification verified = verification::unchecked;
};

/// One recorded delivery.
struct delivery_record {
  std::uint64_t seq = 0;  ///< global arrival order, from 1
  delivery_input input;
  std::string event_id;  ///< the body's JSON "id", empty if none
  verification verified = verification::unchecked;
  answer_step answered;
  std::uint64_t attempt =
      0;  ///< how many times this webhook-id reached this path, this one included
};

/// Everything the sink knows. Thread-safe: one lock per path for its counters, a shared lock for
/// the path map, and a separate lock for the bounded list of recorded deliveries.
class sink_state {
 public:
  /// `global_keys` apply to paths without their own secrets; at most `keep` deliveries are kept.
  sink_state(std::vector<std::string> global_keys, std::size_t keep);

  /// Records one delivery (verification and JSON parsing happen outside any lock) and returns how
  /// to answer it.
  delivery_plan record(delivery_input input);

  /// Applies a parsed config; resets the path's position in its `responses` list.
  void configure(const config_update& update);

  /// Forgets every count, recorded delivery and config (the global secrets stay).
  void reset();

  /// `{total, recorded, dropped, paths: {...}}`.
  nlohmann::json stats() const;

  /// Stats of one path (`{count: 0, ...}` if never seen).
  nlohmann::json path_stats(const std::string& path) const;

  /// Recorded deliveries, oldest first, filtered by the non-empty arguments; at most `limit`
  /// (the newest ones) if `limit` > 0; only those with seq > `after_seq`.
  nlohmann::json deliveries(const std::string& path, const std::string& webhook_id,
                            const std::string& event_id, std::size_t limit,
                            std::uint64_t after_seq) const;

  /// The configs in force: `{"*": {...}, "/path": {...}}`.
  nlohmann::json configs() const;

  /// Deliveries counted on `path`, or on all paths if `path` is empty.
  std::uint64_t count(const std::string& path) const;

 private:
  struct path_entry {
    mutable std::mutex mutex;
    std::shared_ptr<const path_config> config;  // null = the default applies
    std::size_t next_response = 0;
    std::uint64_t count = 0;
    std::uint64_t verified = 0;
    std::uint64_t failed = 0;
    std::uint64_t unchecked = 0;
    std::uint64_t duplicates = 0;
    std::uint64_t event_duplicates = 0;
    std::uint64_t hangs = 0;
    std::int64_t first_at_ms = 0;
    std::int64_t last_at_ms = 0;
    std::map<int, std::uint64_t> statuses;
    std::unordered_map<std::string, std::uint64_t> webhook_ids;
    std::unordered_map<std::string, std::uint64_t> event_ids;
  };

  std::shared_ptr<path_entry> find(const std::string& path) const;
  std::shared_ptr<path_entry> find_or_create(const std::string& path);
  static nlohmann::json entry_stats(const path_entry& entry);

  const std::vector<std::string> global_keys_;
  const std::size_t keep_;
  std::atomic<std::uint64_t> total_{0};

  mutable std::shared_mutex paths_mutex_;
  std::unordered_map<std::string, std::shared_ptr<path_entry>> paths_;
  std::shared_ptr<const path_config> default_config_;

  mutable std::mutex records_mutex_;
  std::deque<delivery_record> records_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t dropped_ = 0;
};

}  // namespace webhookd::sink
