#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

/// Prometheus metrics (text exposition format 0.0.4): counters, gauges and histograms with
/// fixed buckets, plain or labelled, kept in one registry that renders GET /metrics.
///
/// Updating a metric is lock-free (relaxed atomics); resolving a labelled child takes the
/// family's mutex, so hot paths resolve their children once and keep the reference (children
/// live as long as the registry). The registry is an ordinary object: app/ creates one and
/// hands it (or handles taken from it) to the modules that measure something.
namespace webhookd::metrics {

/// A count that only goes up.
class counter {
 public:
  /// Adds `n`.
  void inc(uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

/// A value that goes up and down.
class gauge {
 public:
  void set(int64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void add(int64_t delta) noexcept { value_.fetch_add(delta, std::memory_order_relaxed); }
  void sub(int64_t delta) noexcept { value_.fetch_sub(delta, std::memory_order_relaxed); }
  int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

/// Observations counted into fixed buckets (cumulative `le` buckets in the exposition), with
/// their sum and count.
class histogram {
 public:
  /// What a scrape reads.
  struct snapshot {
    std::vector<uint64_t> cumulative;  ///< per bound, then +Inf (== count)
    uint64_t count = 0;
    double sum = 0;
  };

  /// `bounds`: finite upper bounds, strictly increasing (checked by the registry).
  explicit histogram(std::vector<double> bounds);

  /// Counts `value` into the first bucket whose bound is >= value (+Inf beyond the last);
  /// NaN is ignored.
  void observe(double value) noexcept;

  const std::vector<double>& bounds() const { return bounds_; }
  /// Cumulative counts; count is the +Inf bucket, so the two always agree.
  snapshot collect() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0};
};

/// Bucket bounds for latencies in seconds from 0.5 ms to 10 s.
std::vector<double> latency_buckets();
/// `count` bounds start, start * factor, ... (start > 0, factor > 1, count >= 1).
std::vector<double> exponential_buckets(double start, double factor, std::size_t count);

/// Label values of one child, in the order of the family's label names.
using label_values = std::vector<std::string>;

/// A metric with label names; one child per distinct set of label values.
template <class Metric>
class family {
 public:
  /// The child for `values` (one per label name), created on first use. Throws
  /// std::invalid_argument when the number of values differs from the number of label names.
  /// The reference stays valid as long as the registry.
  Metric& labels(const label_values& values);

  const std::vector<std::string>& label_names() const { return label_names_; }

  /// Internal (the registry): calls `visit(values, child)` for every child, ordered by values.
  template <class Visit>
  void for_each(Visit&& visit) const {
    std::lock_guard<std::mutex> guard(mutex_);
    for (const auto& [values, child] : children_) visit(values, *child);
  }

  /// Internal (the registry).
  family(std::vector<std::string> label_names, std::function<std::unique_ptr<Metric>()> make)
      : label_names_(std::move(label_names)), make_(std::move(make)) {}

 private:
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<Metric>()> make_;
  mutable std::mutex mutex_;
  std::map<label_values, std::unique_ptr<Metric>> children_;
};

using counter_family = family<counter>;
using gauge_family = family<gauge>;
using histogram_family = family<histogram>;

/// Reads a gauge's value at scrape time; nullopt leaves the sample out of that scrape (e.g. the
/// store did not answer). Called on the scraping thread: must be thread-safe and bounded.
using gauge_reader = std::function<std::optional<double>()>;

/// Every metric of the process and their exposition.
///
/// Names follow Prometheus rules ([a-zA-Z_:][a-zA-Z0-9_:]*; label names [a-zA-Z_][a-zA-Z0-9_]*,
/// not starting with "__"; histograms may not use the label "le"); an invalid name is a
/// programming error and throws std::invalid_argument. Registering a name again with the same
/// type, label names (and bounds) returns the existing metric; anything else under a taken name
/// throws std::logic_error. All members are thread-safe.
class registry {
 public:
  registry();
  ~registry();
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  counter& add_counter(const std::string& name, const std::string& help);
  counter_family& add_counter_family(const std::string& name, const std::string& help,
                                     std::vector<std::string> label_names);

  gauge& add_gauge(const std::string& name, const std::string& help);
  gauge_family& add_gauge_family(const std::string& name, const std::string& help,
                                 std::vector<std::string> label_names);
  /// A gauge without labels whose value `read` supplies at every scrape.
  void add_gauge_reader(const std::string& name, const std::string& help, gauge_reader read);

  histogram& add_histogram(const std::string& name, const std::string& help,
                           std::vector<double> bounds);
  histogram_family& add_histogram_family(const std::string& name, const std::string& help,
                                         std::vector<std::string> label_names,
                                         std::vector<double> bounds);

  /// Every metric in the text exposition format 0.0.4, families ordered by name: `# HELP`,
  /// `# TYPE`, then one line per sample (histograms: `_bucket{le=...}` cumulative up to
  /// `le="+Inf"`, `_sum`, `_count`).
  std::string expose() const;

  /// The content type of expose()'s text.
  static constexpr const char* content_type = "text/plain; version=0.0.4; charset=utf-8";

 private:
  struct entry;
  entry& claim(const std::string& name, const std::string& help, int kind,
               const std::vector<std::string>& label_names, const std::vector<double>* bounds);

  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<entry>> entries_;
};

/// A label value escaped for the exposition (backslash, double quote and newline).
std::string escape_label_value(const std::string& value);
/// A number as the exposition writes it: shortest round-trip form, "+Inf", "-Inf", "NaN".
std::string format_value(double value);

// --- template members ---

template <class Metric>
Metric& family<Metric>::labels(const label_values& values) {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument("metrics: " + std::to_string(values.size()) +
                                " label values given for " + std::to_string(label_names_.size()) +
                                " label names");
  }
  std::lock_guard<std::mutex> guard(mutex_);
  auto found = children_.find(values);
  if (found != children_.end()) return *found->second;
  return *children_.emplace(values, make_()).first->second;
}

}  // namespace webhookd::metrics
