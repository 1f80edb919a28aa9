#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "core/retry_policy.hpp"

namespace webhookd {

/// Why an attempt got no complete HTTP answer.
enum class transport_error {
  none,               ///< a complete response arrived
  timeout,            ///< connect or whole-request timeout (default 10 s)
  connect_refused,    ///< TCP connection refused
  connection_reset,   ///< connection reset or closed mid-exchange
  tls,                ///< TLS handshake or certificate failure
  dns,                ///< the host name did not resolve
  blocked_by_policy,  ///< the SSRF check at delivery refused every resolved address
  other,              ///< any other transport failure
};

/// "none", "timeout", "connect_refused", "connection_reset", "tls", "dns",
/// "blocked_by_policy", "other".
const char* to_string(transport_error error);

/// What one delivery attempt produced, as the HTTP client reports it.
struct attempt_result {
  /// HTTP status of the response, 0 when none arrived.
  int status_code = 0;
  /// Transport failure; when set it wins over status_code (the exchange did not complete, e.g.
  /// a timeout while reading the body after the status line), since delivering again is safe.
  transport_error error = transport_error::none;
  /// The raw `Retry-After` header of the response, empty when absent.
  std::string retry_after;
  /// The transport's own message (e.g. libcurl's), appended to the error text; may be empty.
  std::string error_detail;
};

/// What happens to a delivery after an attempt.
enum class delivery_verdict {
  success,                  ///< 2xx: delivered, recorded as succeeded
  retry,                    ///< another attempt at retry_at_ms
  dlq,                      ///< failed: not retried, parked in the DLQ
  disable_webhook_and_dlq,  ///< 410 Gone: the webhook is disabled and the delivery parked
};

/// "success", "retry", "dlq", "disable_webhook_and_dlq".
const char* to_string(delivery_verdict verdict);

/// The decision for one attempt.
struct delivery_decision {
  delivery_verdict verdict = delivery_verdict::success;
  /// When the next attempt is due (unix ms); set only for retry.
  int64_t retry_at_ms = 0;
  /// What went wrong in this attempt, for the attempt row and the delivery's last_error, e.g.
  /// "HTTP 503", "timeout: Connection timed out after 10001 ms". Empty on success.
  std::string error;
  /// Why the delivery is parked; set only for dlq and disable_webhook_and_dlq, e.g.
  /// "client error HTTP 404", "exhausted after 8 attempts: HTTP 503".
  std::string dlq_reason;
  /// True when the attempt counts against the endpoint's health (circuit breaker on_failure,
  /// auto-disable streak): 3xx, 429, 5xx and every transport error. False for 2xx and for the
  /// 4xx answers that go straight to the DLQ (the endpoint is up and answering deliberately).
  bool endpoint_failure = false;
};

/// Decides what follows attempt number `attempt_no` (1-based) of a delivery, per design.md
/// section 4:
/// - 2xx: success.
/// - 3xx (redirects are never followed), 5xx, 429, an unexpected 1xx/6xx+, and every transport
///   error: retry after policy.delay_before_attempt(attempt_no + 1, rng), or dlq with
///   "exhausted after N attempts: <error>" when the policy is exhausted.
///   blocked_by_policy (the SSRF check at delivery) is retried too: DNS may change back, and
///   the breaker and auto-disable stop a target that stays private.
/// - 429 or 503 with a valid Retry-After (seconds or HTTP-date): the retry is no sooner than
///   Retry-After, clamped: delay = max(schedule delay, min(Retry-After, retry_after_cap_ms)).
///   So a receiver can slow us down up to the cap but never speed us up; a garbage header is
///   ignored.
/// - 410 Gone: disable_webhook_and_dlq.
/// - any other 4xx: dlq, "client error HTTP <code>" (replayable once the client is fixed).
delivery_decision classify_attempt(const attempt_result& result, int attempt_no,
                                   const retry_policy& policy, int64_t now_ms,
                                   std::mt19937_64& rng);

/// The longest a Retry-After may delay a retry: max(1 h, policy.largest_delay_ms()).
int64_t retry_after_cap_ms(const retry_policy& policy);

/// Parses a Retry-After value into a delay in ms from `now_ms`: delta-seconds (digits only,
/// e.g. "120") or an HTTP-date (see parse_http_date); a date in the past is 0. Surrounding
/// spaces are ignored. nullopt for anything else (empty, negative, fractional, garbage).
/// Huge values saturate at 100 years.
std::optional<int64_t> parse_retry_after(std::string_view value, int64_t now_ms);

/// Parses an HTTP-date (RFC 9110 5.6.7) into unix ms: IMF-fixdate
/// "Sun, 06 Nov 1994 08:49:37 GMT", and the obsolete forms recipients must accept, RFC 850
/// "Sunday, 06-Nov-94 08:49:37 GMT" (two-digit years 70..99 are 19xx, 00..69 are 20xx) and
/// asctime "Sun Nov  6 08:49:37 1994". nullopt for anything else or an impossible date.
std::optional<int64_t> parse_http_date(std::string_view value);

/// When a webhook that keeps failing is disabled.
struct auto_disable_settings {
  /// How long an unbroken failing streak may last before the webhook is disabled (5 days).
  int64_t failing_period_ms = int64_t{5} * 24 * 3600 * 1000;
};

/// True when a failing streak that began at `first_failure_at_ms` (nullopt: not failing) has
/// lasted at least the failing period at `now_ms`.
bool should_disable(std::optional<int64_t> first_failure_at_ms, int64_t now_ms,
                    const auto_disable_settings& settings = {});

/// Tracks the start of an endpoint's unbroken failing streak: the first endpoint_failure after
/// a non-failure starts it, any attempt that is not an endpoint_failure ends it.
class failure_streak {
 public:
  /// Records one attempt's classification at `now_ms`.
  void record(bool endpoint_failure, int64_t now_ms) {
    if (!endpoint_failure) {
      first_failure_at_ms_.reset();
    } else if (!first_failure_at_ms_) {
      first_failure_at_ms_ = now_ms;
    }
  }

  /// Start of the current streak; nullopt when not failing.
  std::optional<int64_t> first_failure_at() const { return first_failure_at_ms_; }

  /// should_disable for this streak.
  bool should_disable(int64_t now_ms, const auto_disable_settings& settings = {}) const {
    return webhookd::should_disable(first_failure_at_ms_, now_ms, settings);
  }

 private:
  std::optional<int64_t> first_failure_at_ms_;
};

}  // namespace webhookd
