#include "core/metrics.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

namespace webhookd::metrics {

namespace {

enum kind : int { counter_kind, gauge_kind, reader_kind, histogram_kind };

const char* type_name(int k) {
  switch (k) {
    case counter_kind:
      return "counter";
    case histogram_kind:
      return "histogram";
    default:
      return "gauge";
  }
}

bool name_start(char c, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

bool name_char(char c, bool colon) {
  return name_start(c, colon) || (c >= '0' && c <= '9');
}

bool valid_name(const std::string& name, bool colon) {
  if (name.empty() || !name_start(name[0], colon)) return false;
  for (char c : name)
    if (!name_char(c, colon)) return false;
  return true;
}

void check_names(const std::string& name, const std::vector<std::string>& label_names,
                 bool histogram) {
  if (!valid_name(name, true))
    throw std::invalid_argument("metrics: invalid metric name '" + name + "'");
  for (std::size_t i = 0; i < label_names.size(); ++i) {
    const auto& label = label_names[i];
    if (!valid_name(label, false) || label.rfind("__", 0) == 0)
      throw std::invalid_argument("metrics: invalid label name '" + label + "' of " + name);
    if (histogram && label == "le")
      throw std::invalid_argument("metrics: histogram " + name + " may not use the label 'le'");
    for (std::size_t j = 0; j < i; ++j)
      if (label_names[j] == label)
        throw std::invalid_argument("metrics: label '" + label + "' repeated in " + name);
  }
}

void check_bounds(const std::string& name, const std::vector<double>& bounds) {
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]))
      throw std::invalid_argument("metrics: histogram " + name + " has a non-finite bound");
    if (i > 0 && !(bounds[i - 1] < bounds[i]))
      throw std::invalid_argument("metrics: the bounds of histogram " + name +
                                  " are not strictly increasing");
  }
}

std::string escape_help(const std::string& help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

// `{a="x",b="y"` plus `extra` (already formatted, e.g. `le="0.5"`), closed; empty when there
// is nothing to print.
std::string label_block(const std::vector<std::string>& names, const label_values& values,
                        const std::string& extra = {}) {
  if (names.empty() && extra.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    out += escape_label_value(values[i]);
    out += '"';
  }
  if (!extra.empty()) {
    if (!names.empty()) out += ',';
    out += extra;
  }
  out += '}';
  return out;
}

void sample(std::string& out, const std::string& name, const std::string& labels,
            const std::string& value) {
  out += name;
  out += labels;
  out += ' ';
  out += value;
  out += '\n';
}

}  // namespace

// --- histogram ---

histogram::histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void histogram::observe(double value) noexcept {
  if (std::isnan(value)) return;
  std::size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  double sum = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(sum, sum + value, std::memory_order_relaxed)) {
  }
}

histogram::snapshot histogram::collect() const {
  snapshot out;
  out.cumulative.reserve(bounds_.size() + 1);
  uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out.cumulative.push_back(running);
  }
  out.count = running;
  out.sum = sum_.load(std::memory_order_relaxed);
  return out;
}

std::vector<double> latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::vector<double> exponential_buckets(double start, double factor, std::size_t count) {
  if (!(start > 0) || !(factor > 1) || count == 0)
    throw std::invalid_argument("metrics: exponential_buckets needs start > 0, factor > 1");
  std::vector<double> out;
  out.reserve(count);
  double bound = start;
  for (std::size_t i = 0; i < count; ++i) {
    out.push_back(bound);
    bound *= factor;
  }
  return out;
}

// --- formatting ---

std::string escape_label_value(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  auto written = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, written.ptr);
}

// --- registry ---

struct registry::entry {
  int kind = counter_kind;
  std::string help;
  std::vector<std::string> label_names;
  std::vector<double> bounds;
  std::unique_ptr<counter_family> counters;
  std::unique_ptr<gauge_family> gauges;
  std::unique_ptr<histogram_family> histograms;
  gauge_reader reader;
};

registry::registry() = default;
registry::~registry() = default;

registry::entry& registry::claim(const std::string& name, const std::string& help, int k,
                                 const std::vector<std::string>& label_names,
                                 const std::vector<double>* bounds) {
  check_names(name, label_names, k == histogram_kind);
  if (bounds) check_bounds(name, *bounds);
  auto found = entries_.find(name);
  if (found != entries_.end()) {
    entry& e = *found->second;
    bool same = e.kind == k && e.kind != reader_kind && e.label_names == label_names &&
                (!bounds || e.bounds == *bounds);
    if (!same)
      throw std::logic_error("metrics: '" + name + "' is registered already as another " +
                             type_name(e.kind) + " metric");
    return e;
  }
  auto made = std::make_unique<entry>();
  made->kind = k;
  made->help = help;
  made->label_names = label_names;
  if (bounds) made->bounds = *bounds;
  switch (k) {
    case counter_kind:
      made->counters =
          std::make_unique<counter_family>(label_names, [] { return std::make_unique<counter>(); });
      break;
    case gauge_kind:
      made->gauges =
          std::make_unique<gauge_family>(label_names, [] { return std::make_unique<gauge>(); });
      break;
    case histogram_kind: {
      std::vector<double> b = made->bounds;
      made->histograms = std::make_unique<histogram_family>(
          label_names, [b] { return std::make_unique<histogram>(b); });
      break;
    }
    default:
      break;
  }
  return *entries_.emplace(name, std::move(made)).first->second;
}

counter& registry::add_counter(const std::string& name, const std::string& help) {
  return add_counter_family(name, help, {}).labels({});
}

counter_family& registry::add_counter_family(const std::string& name, const std::string& help,
                                             std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> guard(mutex_);
  return *claim(name, help, counter_kind, label_names, nullptr).counters;
}

gauge& registry::add_gauge(const std::string& name, const std::string& help) {
  return add_gauge_family(name, help, {}).labels({});
}

gauge_family& registry::add_gauge_family(const std::string& name, const std::string& help,
                                         std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> guard(mutex_);
  return *claim(name, help, gauge_kind, label_names, nullptr).gauges;
}

void registry::add_gauge_reader(const std::string& name, const std::string& help,
                                gauge_reader read) {
  if (!read) throw std::invalid_argument("metrics: gauge reader " + name + " is empty");
  std::lock_guard<std::mutex> guard(mutex_);
  claim(name, help, reader_kind, {}, nullptr).reader = std::move(read);
}

histogram& registry::add_histogram(const std::string& name, const std::string& help,
                                   std::vector<double> bounds) {
  return add_histogram_family(name, help, {}, std::move(bounds)).labels({});
}

histogram_family& registry::add_histogram_family(const std::string& name, const std::string& help,
                                                 std::vector<std::string> label_names,
                                                 std::vector<double> bounds) {
  std::lock_guard<std::mutex> guard(mutex_);
  return *claim(name, help, histogram_kind, label_names, &bounds).histograms;
}

std::string registry::expose() const {
  // Entries are never removed: render from a copy of the list, without holding the registry's
  // lock while readers run.
  std::vector<std::pair<std::string, const entry*>> list;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    list.reserve(entries_.size());
    for (const auto& [name, e] : entries_) list.emplace_back(name, e.get());
  }
  std::string out;
  for (const auto& [name, e] : list) {
    out += "# HELP " + name + " " + escape_help(e->help) + "\n";
    out += "# TYPE " + name + " " + type_name(e->kind) + "\n";
    switch (e->kind) {
      case counter_kind:
        e->counters->for_each([&](const label_values& values, const counter& c) {
          sample(out, name, label_block(e->label_names, values), std::to_string(c.value()));
        });
        break;
      case gauge_kind:
        e->gauges->for_each([&](const label_values& values, const gauge& g) {
          sample(out, name, label_block(e->label_names, values), std::to_string(g.value()));
        });
        break;
      case reader_kind:
        if (auto value = e->reader()) sample(out, name, "", format_value(*value));
        break;
      case histogram_kind:
        e->histograms->for_each([&](const label_values& values, const histogram& h) {
          auto snap = h.collect();
          const auto& bounds = h.bounds();
          for (std::size_t i = 0; i <= bounds.size(); ++i) {
            std::string le = i < bounds.size() ? format_value(bounds[i]) : "+Inf";
            sample(out, name + "_bucket", label_block(e->label_names, values, "le=\"" + le + "\""),
                   std::to_string(snap.cumulative[i]));
          }
          std::string labels = label_block(e->label_names, values);
          sample(out, name + "_sum", labels, format_value(snap.sum));
          sample(out, name + "_count", labels, std::to_string(snap.count));
        });
        break;
    }
  }
  return out;
}

}  // namespace webhookd::metrics
