#include "core/retry_policy.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>

namespace webhookd {

namespace {

using json = nlohmann::json;

retry_policy_error fail(std::string field, const std::string& what) {
  std::string message = field.empty() ? what : field + ": " + what;
  return retry_policy_error{std::move(field), std::move(message)};
}

int64_t seconds_to_ms(double seconds) {
  return static_cast<int64_t>(std::llround(seconds * 1000.0));
}

/// Seconds as JSON: whole seconds as an integer, anything else as a fraction.
json ms_to_seconds_json(int64_t ms) {
  if (ms % 1000 == 0) return json(ms / 1000);
  return json(static_cast<double>(ms) / 1000.0);
}

bool is_number(const json& value) {
  return value.is_number() && std::isfinite(value.get<double>());
}

std::optional<retry_policy_error> check_max_attempts(int max_attempts) {
  if (max_attempts < 1 || max_attempts > retry_policy::max_attempts_limit) {
    return fail("max_attempts",
                "must be an integer from 1 to " + std::to_string(retry_policy::max_attempts_limit));
  }
  return std::nullopt;
}

std::optional<retry_policy_error> check_jitter(double jitter) {
  if (!std::isfinite(jitter) || jitter < 0.0 || jitter > 1.0) {
    return fail("jitter", "must be a number from 0 to 1");
  }
  return std::nullopt;
}

std::optional<retry_policy_error> check_delay(const std::string& field, double seconds) {
  if (!std::isfinite(seconds) || seconds < 0.0 || seconds > retry_policy::max_delay_seconds) {
    return fail(field, "must be a number of seconds from 0 to 604800 (7 days)");
  }
  return std::nullopt;
}

const char* const known_fields[] = {"max_attempts", "schedule", "initial",
                                    "multiplier",   "max",      "jitter"};

}  // namespace

retry_policy::retry_policy()
    : schedule_ms_{0, 5'000, 300'000, 1'800'000, 7'200'000, 18'000'000, 36'000'000, 36'000'000} {}

retry_policy_result<retry_policy> retry_policy::with_schedule(int max_attempts,
                                                              std::vector<double> schedule_seconds,
                                                              double jitter) {
  if (auto err = check_max_attempts(max_attempts)) return *err;
  if (schedule_seconds.empty()) return fail("schedule", "must have at least one entry");
  if (schedule_seconds.size() > max_schedule_entries) {
    return fail("schedule",
                "must have at most " + std::to_string(max_schedule_entries) + " entries");
  }
  retry_policy policy;
  policy.schedule_ms_.clear();
  for (std::size_t i = 0; i < schedule_seconds.size(); ++i) {
    if (auto err = check_delay("schedule[" + std::to_string(i) + "]", schedule_seconds[i])) {
      return *err;
    }
    policy.schedule_ms_.push_back(seconds_to_ms(schedule_seconds[i]));
  }
  if (auto err = check_jitter(jitter)) return *err;
  policy.max_attempts_ = max_attempts;
  policy.jitter_ = jitter;
  return policy;
}

retry_policy_result<retry_policy> retry_policy::exponential(int max_attempts,
                                                            double initial_seconds,
                                                            double multiplier, double max_seconds,
                                                            double jitter) {
  if (auto err = check_max_attempts(max_attempts)) return *err;
  if (auto err = check_delay("initial", initial_seconds)) return *err;
  if (!std::isfinite(multiplier) || multiplier < 1.0) {
    return fail("multiplier", "must be a number >= 1");
  }
  if (auto err = check_delay("max", max_seconds)) return *err;
  if (max_seconds < initial_seconds) return fail("max", "must be >= initial");
  if (auto err = check_jitter(jitter)) return *err;
  retry_policy policy;
  policy.schedule_ms_.clear();
  policy.exponential_ = true;
  policy.max_attempts_ = max_attempts;
  policy.initial_ms_ = seconds_to_ms(initial_seconds);
  policy.multiplier_ = multiplier;
  policy.max_ms_ = seconds_to_ms(max_seconds);
  policy.jitter_ = jitter;
  return policy;
}

retry_policy_result<retry_policy> retry_policy::from_json(const json& document) {
  if (!document.is_object()) return fail("", "retry policy must be a JSON object");
  for (const auto& item : document.items()) {
    if (std::find(std::begin(known_fields), std::end(known_fields), item.key()) ==
        std::end(known_fields)) {
      return fail(item.key(),
                  "unknown field (expected max_attempts, schedule, initial, multiplier, max, "
                  "jitter)");
    }
  }

  std::optional<int> max_attempts;
  if (auto it = document.find("max_attempts"); it != document.end()) {
    const bool integral = it->is_number_integer();
    const bool in_range =
        integral &&
        (it->is_number_unsigned()
             ? it->get<uint64_t>() >= 1 && it->get<uint64_t>() <= uint64_t{max_attempts_limit}
             : it->get<int64_t>() >= 1 && it->get<int64_t>() <= max_attempts_limit);
    if (!in_range) {
      return fail("max_attempts",
                  "must be an integer from 1 to " + std::to_string(max_attempts_limit));
    }
    max_attempts = it->get<int>();
  }

  double jitter = default_jitter;
  if (auto it = document.find("jitter"); it != document.end()) {
    if (!is_number(*it)) return fail("jitter", "must be a number from 0 to 1");
    jitter = it->get<double>();
  }

  const bool has_schedule = document.contains("schedule");
  const bool has_exponential =
      document.contains("initial") || document.contains("multiplier") || document.contains("max");

  if (has_schedule && has_exponential) {
    return fail("schedule", "cannot be combined with initial/multiplier/max");
  }

  if (has_exponential) {
    double values[3] = {0, 0, 0};
    const char* const names[3] = {"initial", "multiplier", "max"};
    for (int i = 0; i < 3; ++i) {
      auto it = document.find(names[i]);
      if (it == document.end()) {
        return fail(names[i], "required when any of initial/multiplier/max is set");
      }
      if (!is_number(*it)) return fail(names[i], "must be a number");
      values[i] = it->get<double>();
    }
    return exponential(max_attempts.value_or(8), values[0], values[1], values[2], jitter);
  }

  if (has_schedule) {
    const json& schedule = document.at("schedule");
    if (!schedule.is_array()) return fail("schedule", "must be an array of seconds");
    if (schedule.size() > max_schedule_entries) {
      return fail("schedule",
                  "must have at most " + std::to_string(max_schedule_entries) + " entries");
    }
    std::vector<double> seconds;
    for (std::size_t i = 0; i < schedule.size(); ++i) {
      if (!is_number(schedule[i])) {
        return fail("schedule[" + std::to_string(i) + "]", "must be a number of seconds");
      }
      seconds.push_back(schedule[i].get<double>());
    }
    const int attempts = max_attempts.value_or(
        static_cast<int>(std::clamp<std::size_t>(seconds.size(), 1, max_attempts_limit)));
    return with_schedule(attempts, std::move(seconds), jitter);
  }

  // Neither shape: the default schedule, with the document's attempts and jitter.
  retry_policy policy;
  if (max_attempts) policy.max_attempts_ = *max_attempts;
  if (auto err = check_jitter(jitter)) return *err;
  policy.jitter_ = jitter;
  return policy;
}

retry_policy_result<retry_policy> retry_policy::parse(std::string_view text) {
  json document;
  try {
    document = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    return fail("", "retry policy is not valid JSON (byte " + std::to_string(e.byte) + ")");
  }
  return from_json(document);
}

int64_t retry_policy::base_delay_ms(int attempt) const {
  attempt = std::clamp(attempt, 1, max_attempts_);
  if (!exponential_) {
    const auto index =
        std::min<std::size_t>(static_cast<std::size_t>(attempt - 1), schedule_ms_.size() - 1);
    return schedule_ms_[index];
  }
  if (attempt == 1) return 0;
  const double delay = static_cast<double>(initial_ms_) * std::pow(multiplier_, attempt - 2);
  if (!(delay < static_cast<double>(max_ms_))) return max_ms_;  // also catches overflow to inf
  return static_cast<int64_t>(std::llround(delay));
}

int64_t retry_policy::delay_before_attempt(int attempt, std::mt19937_64& rng) const {
  const int64_t base = base_delay_ms(attempt);
  if (base == 0 || jitter_ == 0.0) return base;
  // 53 random bits -> u in [0, 1); the same draws give the same delays on every platform.
  const double u = static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0);
  const double factor = 1.0 + jitter_ * (2.0 * u - 1.0);
  return std::max<int64_t>(0, std::llround(static_cast<double>(base) * factor));
}

int64_t retry_policy::largest_delay_ms() const {
  int64_t largest = 0;
  for (int attempt = 1; attempt <= max_attempts_; ++attempt) {
    largest = std::max(largest, base_delay_ms(attempt));
  }
  return largest;
}

json retry_policy::to_json() const {
  json document = json::object();
  document["max_attempts"] = max_attempts_;
  if (exponential_) {
    document["initial"] = ms_to_seconds_json(initial_ms_);
    document["multiplier"] = multiplier_;
    document["max"] = ms_to_seconds_json(max_ms_);
  } else {
    json schedule = json::array();
    for (int64_t ms : schedule_ms_) schedule.push_back(ms_to_seconds_json(ms));
    document["schedule"] = std::move(schedule);
  }
  document["jitter"] = jitter_;
  return document;
}

bool operator==(const retry_policy& a, const retry_policy& b) {
  return a.max_attempts_ == b.max_attempts_ && a.jitter_ == b.jitter_ &&
         a.exponential_ == b.exponential_ && a.schedule_ms_ == b.schedule_ms_ &&
         a.initial_ms_ == b.initial_ms_ && a.multiplier_ == b.multiplier_ && a.max_ms_ == b.max_ms_;
}

}  // namespace webhookd
