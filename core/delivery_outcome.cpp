#include "core/delivery_outcome.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace webhookd {

namespace {

constexpr int64_t one_hour_ms = 3'600'000;
constexpr int64_t saturated_delay_ms = int64_t{100} * 365 * 24 * one_hour_ms;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/// Reads a cursor over text; every reader consumes only on success.
class cursor {
 public:
  explicit cursor(std::string_view text) : text_(text) {}

  bool done() const { return text_.empty(); }

  bool literal(std::string_view expected) {
    if (text_.substr(0, expected.size()) != expected) return false;
    text_.remove_prefix(expected.size());
    return true;
  }

  /// Exactly `count` digits.
  std::optional<int> digits(std::size_t count) {
    if (text_.size() < count) return std::nullopt;
    int value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      if (!is_digit(text_[i])) return std::nullopt;
      value = value * 10 + (text_[i] - '0');
    }
    text_.remove_prefix(count);
    return value;
  }

  /// One of `names`; returns its index.
  template <std::size_t N>
  std::optional<int> one_of(const std::array<std::string_view, N>& names) {
    for (std::size_t i = 0; i < N; ++i) {
      if (literal(names[i])) return static_cast<int>(i);
    }
    return std::nullopt;
  }

 private:
  std::string_view text_;
};

constexpr std::array<std::string_view, 7> short_days = {"Mon", "Tue", "Wed", "Thu",
                                                        "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> long_days = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
constexpr std::array<std::string_view, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

bool is_leap(int year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int days_in_month(int year, int month) {
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : days[month - 1];
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

struct date_time {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
};

bool read_time(cursor& c, date_time& t) {
  auto h = c.digits(2);
  if (!h || !c.literal(":")) return false;
  auto m = c.digits(2);
  if (!m || !c.literal(":")) return false;
  auto s = c.digits(2);
  if (!s) return false;
  t.hour = *h;
  t.minute = *m;
  t.second = *s;
  return true;
}

std::optional<int64_t> to_unix_ms(const date_time& t) {
  if (t.month < 1 || t.month > 12 || t.day < 1 || t.day > days_in_month(t.year, t.month) ||
      t.hour > 23 || t.minute > 59 || t.second > 60) {
    return std::nullopt;
  }
  const int64_t days = days_from_civil(t.year, t.month, t.day);
  return ((days * 24 + t.hour) * 60 + t.minute) * 60'000 + int64_t{t.second} * 1000;
}

/// "06 Nov 1994 08:49:37 GMT" (after "Sun, ").
bool read_imf_rest(cursor& c, date_time& t) {
  auto day = c.digits(2);
  if (!day || !c.literal(" ")) return false;
  auto month = c.one_of(months);
  if (!month || !c.literal(" ")) return false;
  auto year = c.digits(4);
  if (!year || !c.literal(" ") || !read_time(c, t) || !c.literal(" GMT")) return false;
  t.day = *day;
  t.month = *month + 1;
  t.year = *year;
  return c.done();
}

/// "06-Nov-94 08:49:37 GMT" (after "Sunday, ").
bool read_rfc850_rest(cursor& c, date_time& t) {
  auto day = c.digits(2);
  if (!day || !c.literal("-")) return false;
  auto month = c.one_of(months);
  if (!month || !c.literal("-")) return false;
  auto year = c.digits(2);
  if (!year || !c.literal(" ") || !read_time(c, t) || !c.literal(" GMT")) return false;
  t.day = *day;
  t.month = *month + 1;
  t.year = *year < 70 ? 2000 + *year : 1900 + *year;
  return c.done();
}

/// "Nov  6 08:49:37 1994" (after "Sun ").
bool read_asctime_rest(cursor& c, date_time& t) {
  auto month = c.one_of(months);
  if (!month || !c.literal(" ")) return false;
  std::optional<int> day = c.literal(" ") ? c.digits(1) : c.digits(2);
  if (!day || !c.literal(" ") || !read_time(c, t) || !c.literal(" ")) return false;
  auto year = c.digits(4);
  if (!year) return false;
  t.day = *day;
  t.month = *month + 1;
  t.year = *year;
  return c.done();
}

std::string describe(transport_error error) {
  switch (error) {
    case transport_error::none:
      return "no response";
    case transport_error::timeout:
      return "timeout";
    case transport_error::connect_refused:
      return "connection refused";
    case transport_error::connection_reset:
      return "connection reset";
    case transport_error::tls:
      return "TLS error";
    case transport_error::dns:
      return "DNS resolution failed";
    case transport_error::blocked_by_policy:
      return "blocked by SSRF policy";
    case transport_error::other:
      return "transport error";
  }
  return "transport error";
}

}  // namespace

const char* to_string(transport_error error) {
  switch (error) {
    case transport_error::none:
      return "none";
    case transport_error::timeout:
      return "timeout";
    case transport_error::connect_refused:
      return "connect_refused";
    case transport_error::connection_reset:
      return "connection_reset";
    case transport_error::tls:
      return "tls";
    case transport_error::dns:
      return "dns";
    case transport_error::blocked_by_policy:
      return "blocked_by_policy";
    case transport_error::other:
      return "other";
  }
  return "other";
}

const char* to_string(delivery_verdict verdict) {
  switch (verdict) {
    case delivery_verdict::success:
      return "success";
    case delivery_verdict::retry:
      return "retry";
    case delivery_verdict::dlq:
      return "dlq";
    case delivery_verdict::disable_webhook_and_dlq:
      return "disable_webhook_and_dlq";
  }
  return "dlq";
}

std::optional<int64_t> parse_http_date(std::string_view value) {
  cursor c(trim(value));
  date_time t;
  if (c.one_of(long_days)) {  // tried first: "Sun" is a prefix of "Sunday"
    if (!c.literal(", ") || !read_rfc850_rest(c, t)) return std::nullopt;
    return to_unix_ms(t);
  }
  if (!c.one_of(short_days)) return std::nullopt;
  if (c.literal(", ")) {
    if (!read_imf_rest(c, t)) return std::nullopt;
  } else if (c.literal(" ")) {
    if (!read_asctime_rest(c, t)) return std::nullopt;
  } else {
    return std::nullopt;
  }
  return to_unix_ms(t);
}

std::optional<int64_t> parse_retry_after(std::string_view value, int64_t now_ms) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), is_digit)) {
    int64_t seconds = 0;
    for (char ch : value) {
      seconds = seconds * 10 + (ch - '0');
      if (seconds * 1000 >= saturated_delay_ms) return saturated_delay_ms;
    }
    return seconds * 1000;
  }
  auto date = parse_http_date(value);
  if (!date) return std::nullopt;
  return std::clamp<int64_t>(*date - now_ms, 0, saturated_delay_ms);
}

int64_t retry_after_cap_ms(const retry_policy& policy) {
  return std::max(one_hour_ms, policy.largest_delay_ms());
}

delivery_decision classify_attempt(const attempt_result& result, int attempt_no,
                                   const retry_policy& policy, int64_t now_ms,
                                   std::mt19937_64& rng) {
  delivery_decision decision;
  const int code = result.status_code;
  const bool answered = result.error == transport_error::none && code != 0;

  if (answered && code >= 200 && code <= 299) return decision;  // success

  if (answered && code == 410) {
    decision.verdict = delivery_verdict::disable_webhook_and_dlq;
    decision.error = "HTTP 410 Gone";
    decision.dlq_reason = "HTTP 410 Gone: webhook disabled";
    return decision;
  }
  if (answered && code >= 400 && code <= 499 && code != 429) {
    decision.verdict = delivery_verdict::dlq;
    decision.error = "HTTP " + std::to_string(code);
    decision.dlq_reason = "client error HTTP " + std::to_string(code);
    return decision;
  }

  // Everything else is a failure of the endpoint, retried while the policy allows.
  decision.endpoint_failure = true;
  if (!answered) {
    decision.error = describe(result.error);
    if (!result.error_detail.empty()) decision.error += ": " + result.error_detail;
  } else if (code >= 300 && code <= 399) {
    decision.error = "HTTP " + std::to_string(code) + " (redirects are not followed)";
  } else if (code >= 429 && code <= 599) {
    decision.error = "HTTP " + std::to_string(code);
  } else {
    decision.error = "HTTP " + std::to_string(code) + " (unexpected status)";
  }

  if (policy.exhausted(attempt_no)) {
    decision.verdict = delivery_verdict::dlq;
    decision.dlq_reason =
        "exhausted after " + std::to_string(attempt_no) + " attempts: " + decision.error;
    return decision;
  }

  int64_t delay = policy.delay_before_attempt(attempt_no + 1, rng);
  if (answered && (code == 429 || code == 503)) {
    if (auto wanted = parse_retry_after(result.retry_after, now_ms)) {
      delay = std::max(delay, std::min(*wanted, retry_after_cap_ms(policy)));
    }
  }
  decision.verdict = delivery_verdict::retry;
  decision.retry_at_ms = now_ms + delay;
  return decision;
}

bool should_disable(std::optional<int64_t> first_failure_at_ms, int64_t now_ms,
                    const auto_disable_settings& settings) {
  return first_failure_at_ms && now_ms - *first_failure_at_ms >= settings.failing_period_ms;
}

}  // namespace webhookd
