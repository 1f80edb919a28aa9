#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/crypto_result.hpp"

namespace webhookd {

/// Why a retry policy document was refused.
struct retry_policy_error {
  /// The offending field, e.g. "max_attempts", "schedule[3]", "jitter"; empty when the document
  /// as a whole is wrong (not JSON, not an object).
  std::string field;
  /// Self-contained text for humans, starting with the field name, e.g.
  /// "max_attempts: must be an integer from 1 to 50".
  std::string message;
};

/// A value or a retry_policy_error.
template <class T>
using retry_policy_result = outcome<T, retry_policy_error>;

/// When a delivery is attempted and how often (design.md sections 4 and 6). Immutable value.
///
/// Two shapes:
/// - schedule: `schedule[i]` is the delay in seconds before attempt i+1 (so `schedule[0]` is the
///   delay before the first attempt, normally 0); when the schedule is shorter than max_attempts
///   its last entry repeats.
/// - exponential: attempt 1 is immediate, attempt n >= 2 waits
///   `min(max, initial * multiplier^(n-2))` seconds.
///
/// A delay is measured from the moment the previous attempt's outcome is known (for attempt 1:
/// from the delivery's creation). Every delay is varied by +/- `jitter` (a fraction) uniformly and
/// is never negative. Delays have millisecond resolution.
class retry_policy {
 public:
  /// Largest max_attempts a policy may have.
  static constexpr int max_attempts_limit = 50;
  /// Most entries a schedule may have.
  static constexpr std::size_t max_schedule_entries = 50;
  /// Largest delay a policy may configure: 7 days, in seconds.
  static constexpr double max_delay_seconds = 7 * 24 * 3600.0;
  /// Jitter when a document does not set one.
  static constexpr double default_jitter = 0.2;

  /// The server default: 8 attempts, schedule [0, 5, 300, 1800, 7200, 18000, 36000, 36000] s
  /// (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), jitter 0.2.
  retry_policy();

  /// Same as the default constructor, spelled out at call sites.
  static retry_policy default_policy() { return retry_policy{}; }

  /// Reads a policy document:
  /// `{"max_attempts": N, "schedule": [s, ...], "jitter": J}` or
  /// `{"max_attempts": N, "initial": S, "multiplier": M, "max": S, "jitter": J}`.
  /// Rules: max_attempts is an integer 1..50 (default: the schedule's length for a schedule, 8
  /// otherwise); a schedule is a non-empty array of at most 50 numbers 0..604800 (7 days,
  /// fractions allowed); initial >= 0, multiplier >= 1, initial <= max <= 604800, all three
  /// required together and never mixed with a schedule; with neither shape the default schedule
  /// is used (so `{"max_attempts": 3}` is valid); jitter 0..1, default 0.2; other keys are
  /// refused. The error names the first offending field.
  static retry_policy_result<retry_policy> from_json(const nlohmann::json& document);

  /// from_json of a JSON text; malformed JSON is an error with an empty field.
  static retry_policy_result<retry_policy> parse(std::string_view text);

  /// A schedule-shaped policy, validated as from_json does (schedule in seconds).
  static retry_policy_result<retry_policy> with_schedule(int max_attempts,
                                                         std::vector<double> schedule_seconds,
                                                         double jitter = default_jitter);

  /// An exponential policy, validated as from_json does (times in seconds).
  static retry_policy_result<retry_policy> exponential(int max_attempts, double initial_seconds,
                                                       double multiplier, double max_seconds,
                                                       double jitter = default_jitter);

  /// How many attempts a delivery gets in total (1..50).
  int max_attempts() const { return max_attempts_; }
  /// Fraction 0..1 by which each delay is varied.
  double jitter() const { return jitter_; }
  /// True for the exponential shape, false for a schedule.
  bool is_exponential() const { return exponential_; }

  /// True when `attempts_made` attempts use up the policy: no further attempt is allowed.
  bool exhausted(int attempts_made) const { return attempts_made >= max_attempts_; }

  /// The configured delay before attempt `attempt` (1-based), without jitter, in ms.
  /// Attempts beyond max_attempts get the delay of the last one; `attempt` < 1 counts as 1.
  int64_t base_delay_ms(int attempt) const;

  /// The delay before attempt `attempt` (1-based) in ms: base_delay_ms varied uniformly within
  /// +/- jitter using one draw from `rng`; never negative.
  int64_t delay_before_attempt(int attempt, std::mt19937_64& rng) const;

  /// The largest base delay of any attempt 1..max_attempts, in ms.
  int64_t largest_delay_ms() const;

  /// The policy as a document from_json reads back to an equal policy. Times are seconds;
  /// whole seconds are written as integers.
  nlohmann::json to_json() const;

  /// Same shape, attempts, delays (ms) and jitter.
  friend bool operator==(const retry_policy& a, const retry_policy& b);
  friend bool operator!=(const retry_policy& a, const retry_policy& b) { return !(a == b); }

 private:
  int max_attempts_ = 8;
  double jitter_ = default_jitter;
  bool exponential_ = false;
  std::vector<int64_t> schedule_ms_;  // schedule shape
  int64_t initial_ms_ = 0;            // exponential shape
  double multiplier_ = 1.0;
  int64_t max_ms_ = 0;
};

}  // namespace webhookd
