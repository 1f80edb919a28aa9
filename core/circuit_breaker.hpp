#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

namespace webhookd {

/// The state of an endpoint's circuit.
enum class circuit_state {
  closed,     ///< attempts flow; outcomes are counted
  open,       ///< no attempts until the cool-down ends
  half_open,  ///< one probe attempt at a time decides: success closes, failure reopens
};

/// "closed", "open", "half_open".
const char* to_string(circuit_state state);

/// When a circuit opens and how long it stays open. Out-of-range values are raised to the
/// smallest sensible value (window_ms >= window_buckets, window_buckets >= 1, failure_ratio in
/// (0, 1], min_requests >= 1, consecutive_failures >= 0, open_ms >= 1, max_open_ms >= open_ms).
struct circuit_breaker_settings {
  /// Length of the sliding window over which the failure ratio is computed.
  int64_t window_ms = 60'000;
  /// The window slides in steps of window_ms / window_buckets (default 5 s): outcomes leave it
  /// in whole steps.
  int window_buckets = 12;
  /// The circuit opens when failures / outcomes in the window reach this ratio ...
  double failure_ratio = 0.5;
  /// ... and the window holds at least this many outcomes.
  int min_requests = 20;
  /// It also opens after this many failures in a row, whatever the window says (so a slow
  /// endpoint that times out every 10 s is cut off after ~100 s, before min_requests is ever
  /// reached in a 60 s window). 0 disables this rule.
  int consecutive_failures = 10;
  /// First cool-down after the circuit opens.
  int64_t open_ms = 30'000;
  /// Each failed probe doubles the cool-down, up to this.
  int64_t max_open_ms = 600'000;
};

/// A per-endpoint circuit breaker (design.md section 4): stops hammering a dead endpoint.
///
/// closed -> open when the failure ratio over the sliding window reaches failure_ratio with at
/// least min_requests outcomes, or after consecutive_failures failures in a row. open ->
/// half_open at the first allow() after the cool-down. half_open lets exactly one probe out at a
/// time: its success closes the circuit (window, streak and cool-down reset); its failure
/// reopens it with the cool-down doubled (up to max_open_ms).
///
/// Outcomes reported while open come from attempts started before it opened and are ignored.
/// In half_open the next outcome reported is taken as the probe's verdict.
///
/// Pure: time comes in as unix milliseconds; a clock stepping backwards is treated as standing
/// still. Memory is constant (window_buckets counters) whatever the request rate.
class circuit_breaker {
 public:
  /// Counts of the sliding window at some time.
  struct window_counts {
    int requests = 0;  ///< outcomes in the window
    int failures = 0;  ///< failures among them
  };

  /// A closed circuit.
  explicit circuit_breaker(circuit_breaker_settings settings = {});

  /// Whether an attempt may start now. In half_open a true answer reserves the single probe
  /// slot: the caller must report the attempt's outcome (on_success/on_failure) or give the slot
  /// back (on_abandoned).
  [[nodiscard]] bool allow(int64_t now_ms);

  /// An attempt succeeded (the endpoint is healthy).
  void on_success(int64_t now_ms);

  /// An attempt failed in a way that counts against the endpoint.
  void on_failure(int64_t now_ms);

  /// An allowed attempt ended without a verdict on the endpoint (cancelled, never sent). In
  /// half_open frees the probe slot; otherwise does nothing.
  void on_abandoned();

  /// The current state. An open circuit stays open here until allow() is called after the
  /// cool-down.
  circuit_state state() const { return state_; }

  /// How long from `now_ms` until allow() can answer true: 0 when closed or half_open with no
  /// probe out, the rest of the cool-down when open, nullopt while a probe is out (its outcome
  /// decides).
  std::optional<int64_t> ms_until_probe(int64_t now_ms) const;

  /// The sliding window's counts at `now_ms` (closed state; empty after a reset).
  window_counts window(int64_t now_ms) const;

  /// Failures in a row since the last success (or reset).
  int consecutive_failures() const { return consecutive_failures_; }

  /// The cool-down the circuit is in (open) or will use if it opens (closed: open_ms; after a
  /// failed probe: the doubled value).
  int64_t cool_down_ms() const { return cool_down_ms_; }

  /// The settings in use, after clamping.
  const circuit_breaker_settings& settings() const { return settings_; }

 private:
  struct bucket {
    int64_t index = 0;  // window step this bucket counts (an unused bucket counts nothing)
    int requests = 0;
    int failures = 0;
  };

  int64_t advance(int64_t now_ms);
  void record(int64_t now_ms, bool failed);
  void open(int64_t now_ms, int64_t cool_down_ms);
  void close();

  circuit_breaker_settings settings_;
  int64_t bucket_ms_;
  std::vector<bucket> buckets_;
  circuit_state state_ = circuit_state::closed;
  int consecutive_failures_ = 0;
  int64_t cool_down_ms_;
  int64_t open_until_ms_ = 0;
  bool probe_out_ = false;
  int64_t latest_ms_ =
      std::numeric_limits<int64_t>::min();  // latest time seen; time never runs backwards inside
};

}  // namespace webhookd
