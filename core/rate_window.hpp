#pragma once

#include <array>
#include <cstdint>

namespace webhookd {

/// Events per second over a sliding window of the last `window_seconds` whole seconds (the
/// current, partial second included): what the console shows as an actor's rate. Pure: time
/// comes in as unix milliseconds from the injected clock; a clock that steps backwards is taken
/// as "now" (nothing is counted twice, nothing is lost before the window).
class rate_window {
 public:
  /// Length of the window in seconds.
  static constexpr int window_seconds = 10;

  /// Counts `n` events at `now_ms`.
  void add(int64_t now_ms, uint64_t n = 1);

  /// Events counted within the window ending at `now_ms`, per second of the window. Before the
  /// window has been filled once (the first `window_seconds` after the first add), the elapsed
  /// time since then is the divisor, so a fresh actor's rate is not understated.
  double per_second(int64_t now_ms) const;

  /// Events counted within the window ending at `now_ms`.
  uint64_t in_window(int64_t now_ms) const;

 private:
  void advance(int64_t second);

  std::array<uint64_t, window_seconds> buckets_{};
  int64_t head_second_ = 0;  // the second of the newest bucket; 0 = nothing counted yet
  int64_t first_ms_ = 0;     // time of the first add
};

}  // namespace webhookd
