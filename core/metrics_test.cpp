#include "core/metrics.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace webhookd::metrics;

TEST_CASE("an empty registry exposes nothing", "[unit]") {
  registry r;
  CHECK(r.expose().empty());
}

TEST_CASE("counters and gauges are exposed with HELP, TYPE and their value", "[unit]") {
  registry r;
  counter& events = r.add_counter("app_events_total", "Events seen.");
  gauge& depth = r.add_gauge("app_queue_depth", "Jobs waiting.");
  events.inc();
  events.inc(41);
  depth.set(10);
  depth.sub(3);
  depth.add(-2);
  CHECK(r.expose() ==
        "# HELP app_events_total Events seen.\n"
        "# TYPE app_events_total counter\n"
        "app_events_total 42\n"
        "# HELP app_queue_depth Jobs waiting.\n"
        "# TYPE app_queue_depth gauge\n"
        "app_queue_depth 5\n");
}

TEST_CASE("labelled children are exposed in the order of their label values", "[unit]") {
  registry r;
  auto& rejected = r.add_counter_family("app_rejected_total", "Refusals.", {"reason", "route"});
  rejected.labels({"unauthorized", "/b"}).inc(2);
  rejected.labels({"forbidden", "/a"}).inc();
  rejected.labels({"unauthorized", "/b"}).inc();
  CHECK(r.expose() ==
        "# HELP app_rejected_total Refusals.\n"
        "# TYPE app_rejected_total counter\n"
        "app_rejected_total{reason=\"forbidden\",route=\"/a\"} 1\n"
        "app_rejected_total{reason=\"unauthorized\",route=\"/b\"} 3\n");
  CHECK(&rejected.labels({"forbidden", "/a"}) == &rejected.labels({"forbidden", "/a"}));
  CHECK_THROWS_AS(rejected.labels({"only one"}), std::invalid_argument);
}

TEST_CASE("a family without children still declares itself", "[unit]") {
  registry r;
  r.add_gauge_family("app_open", "Open things.", {"kind"});
  CHECK(r.expose() == "# HELP app_open Open things.\n# TYPE app_open gauge\n");
}

TEST_CASE("histogram buckets are cumulative, inclusive of their bound, and end at +Inf", "[unit]") {
  registry r;
  histogram& h = r.add_histogram("app_latency_seconds", "Latency.", {0.1, 0.5, 1});
  h.observe(0.05);
  h.observe(0.1);  // le is inclusive: counts in the 0.1 bucket
  h.observe(0.3);
  h.observe(2);
  h.observe(std::nan(""));  // ignored
  CHECK(r.expose() ==
        "# HELP app_latency_seconds Latency.\n"
        "# TYPE app_latency_seconds histogram\n"
        "app_latency_seconds_bucket{le=\"0.1\"} 2\n"
        "app_latency_seconds_bucket{le=\"0.5\"} 3\n"
        "app_latency_seconds_bucket{le=\"1\"} 3\n"
        "app_latency_seconds_bucket{le=\"+Inf\"} 4\n"
        "app_latency_seconds_sum 2.45\n"
        "app_latency_seconds_count 4\n");
  auto snap = h.collect();
  CHECK(snap.count == 4);
  CHECK(snap.cumulative == std::vector<uint64_t>{2, 3, 3, 4});
}

TEST_CASE("labelled histograms put le after their own labels", "[unit]") {
  registry r;
  auto& h = r.add_histogram_family("app_batch_size", "Batch sizes.", {"writer"}, {1, 10});
  h.labels({"ingest"}).observe(5);
  CHECK(r.expose() ==
        "# HELP app_batch_size Batch sizes.\n"
        "# TYPE app_batch_size histogram\n"
        "app_batch_size_bucket{writer=\"ingest\",le=\"1\"} 0\n"
        "app_batch_size_bucket{writer=\"ingest\",le=\"10\"} 1\n"
        "app_batch_size_bucket{writer=\"ingest\",le=\"+Inf\"} 1\n"
        "app_batch_size_sum{writer=\"ingest\"} 5\n"
        "app_batch_size_count{writer=\"ingest\"} 1\n");
}

TEST_CASE("label values and help text are escaped", "[unit]") {
  registry r;
  auto& f = r.add_counter_family("app_odd_total", "Help with \\ and\na newline.", {"v"});
  f.labels({"a\"b\\c\nd"}).inc();
  CHECK(r.expose() ==
        "# HELP app_odd_total Help with \\\\ and\\na newline.\n"
        "# TYPE app_odd_total counter\n"
        "app_odd_total{v=\"a\\\"b\\\\c\\nd\"} 1\n");
  CHECK(escape_label_value("plain") == "plain");
}

TEST_CASE("numbers are written in their shortest exact form", "[unit]") {
  CHECK(format_value(0.005) == "0.005");
  CHECK(format_value(1) == "1");
  CHECK(format_value(2.5) == "2.5");
  CHECK(format_value(1e-7) == "1e-07");
  CHECK(format_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(format_value(std::nan("")) == "NaN");
  CHECK(std::stod(format_value(0.1 + 0.2)) == 0.1 + 0.2);
}

TEST_CASE("gauge readers are read at every scrape and may skip a scrape", "[unit]") {
  registry r;
  std::optional<double> value = 7;
  r.add_gauge_reader("app_dlq_size", "Entries.", [&value] { return value; });
  CHECK(r.expose() == "# HELP app_dlq_size Entries.\n# TYPE app_dlq_size gauge\napp_dlq_size 7\n");
  value = std::nullopt;
  CHECK(r.expose() == "# HELP app_dlq_size Entries.\n# TYPE app_dlq_size gauge\n");
  value = 1.5;
  CHECK(r.expose() ==
        "# HELP app_dlq_size Entries.\n# TYPE app_dlq_size gauge\napp_dlq_size 1.5\n");
  CHECK_THROWS_AS(r.add_gauge_reader("app_dlq_size", "again", [] { return 1.0; }),
                  std::logic_error);
}

TEST_CASE("registering a name again returns the same metric or refuses a different one", "[unit]") {
  registry r;
  counter& a = r.add_counter("app_x_total", "X.");
  CHECK(&r.add_counter("app_x_total", "X.") == &a);
  CHECK_THROWS_AS(r.add_gauge("app_x_total", "X."), std::logic_error);
  CHECK_THROWS_AS(r.add_counter_family("app_x_total", "X.", {"l"}), std::logic_error);
  r.add_histogram("app_h", "H.", {1, 2});
  CHECK_NOTHROW(r.add_histogram("app_h", "H.", {1, 2}));
  CHECK_THROWS_AS(r.add_histogram("app_h", "H.", {1, 3}), std::logic_error);
}

TEST_CASE("invalid names and bounds are refused", "[unit]") {
  registry r;
  CHECK_THROWS_AS(r.add_counter("", "x"), std::invalid_argument);
  CHECK_THROWS_AS(r.add_counter("9lives", "x"), std::invalid_argument);
  CHECK_THROWS_AS(r.add_counter("has-dash", "x"), std::invalid_argument);
  CHECK_NOTHROW(r.add_counter("ns:sub_total", "x"));
  CHECK_THROWS_AS(r.add_counter_family("app_a_total", "x", {"__reserved"}), std::invalid_argument);
  CHECK_THROWS_AS(r.add_counter_family("app_b_total", "x", {"a:b"}), std::invalid_argument);
  CHECK_THROWS_AS(r.add_counter_family("app_c_total", "x", {"a", "a"}), std::invalid_argument);
  CHECK_THROWS_AS(r.add_histogram_family("app_d", "x", {"le"}, {1}), std::invalid_argument);
  CHECK_THROWS_AS(r.add_histogram("app_e", "x", {2, 1}), std::invalid_argument);
  CHECK_THROWS_AS(r.add_histogram("app_f", "x", {1, 1}), std::invalid_argument);
  CHECK_THROWS_AS(r.add_histogram("app_g", "x", {1, std::numeric_limits<double>::infinity()}),
                  std::invalid_argument);
  // Nothing half-registered was left behind by the refusals.
  CHECK(r.expose() == "# HELP ns:sub_total x\n# TYPE ns:sub_total counter\nns:sub_total 0\n");
}

TEST_CASE("bucket helpers", "[unit]") {
  CHECK(exponential_buckets(1, 2, 4) == std::vector<double>{1, 2, 4, 8});
  CHECK_THROWS_AS(exponential_buckets(0, 2, 3), std::invalid_argument);
  auto latency = latency_buckets();
  REQUIRE(!latency.empty());
  for (std::size_t i = 1; i < latency.size(); ++i) CHECK(latency[i - 1] < latency[i]);
}

TEST_CASE("concurrent updates from many threads are all counted", "[unit]") {
  registry r;
  counter& c = r.add_counter("app_hits_total", "Hits.");
  gauge& g = r.add_gauge("app_level", "Level.");
  histogram& h = r.add_histogram("app_obs", "Observations.", {0.5});
  auto& f = r.add_counter_family("app_by_total", "By label.", {"k"});
  constexpr int threads = 4;
  constexpr int per_thread = 20'000;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) {
        c.inc();
        g.add(1);
        g.sub(1);
        h.observe(i % 2 == 0 ? 0.25 : 1.0);
        f.labels({std::to_string(i % 3)}).inc();
        if (i % 1000 == 0) (void)r.expose();  // scrapes while writers run
      }
    });
  }
  for (auto& w : workers) w.join();
  CHECK(c.value() == uint64_t{threads * per_thread});
  CHECK(g.value() == 0);
  auto snap = h.collect();
  CHECK(snap.count == uint64_t{threads * per_thread});
  CHECK(snap.cumulative[0] == uint64_t{threads * per_thread / 2});
  CHECK(snap.sum == Approx(threads * per_thread / 2 * 1.25));
  uint64_t by_total = 0;
  f.for_each([&](const label_values&, const counter& child) { by_total += child.value(); });
  CHECK(by_total == uint64_t{threads * per_thread});
}
