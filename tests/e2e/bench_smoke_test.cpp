// Smoke test of the benchmark harness (tools/bench, docs/performance.md): `webhookd-bench --quick`
// starts webhookd, the sink and its load generator, runs every stage on SQLite and writes its JSON.
// It checks only that the bench works and reports every figure; no speed is asserted.

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/e2e/harness.hpp"

using namespace webhookd::e2e;

namespace {

void require_positive(const nlohmann::json& object, const std::string& key) {
  INFO(key << " in " << object.dump());
  REQUIRE(object.contains(key));
  REQUIRE(object.at(key).is_number());
  CHECK(object.at(key).get<double>() > 0);
}

}  // namespace

TEST_CASE("webhookd-bench --quick runs every stage and writes its figures", "[e2e][bench]") {
  temp_dir dir;
  const std::string out = dir.file("bench.json");
  process bench(WEBHOOKD_BENCH_BINARY, process_options({"--quick", "--out", out}));
  auto status = bench.wait_exit(milliseconds{240'000});
  INFO(bench.describe());
  REQUIRE(status.has_value());
  REQUIRE(status->exited);
  REQUIRE(status->code == 0);
  CHECK(bench.stdout_text().find("(a) max rate") != std::string::npos);

  std::ifstream file(out);
  REQUIRE(file.good());
  auto report = nlohmann::json::parse(file, nullptr, false);
  REQUIRE_FALSE(report.is_discarded());

  const auto& ceilings = report.at("ceilings");
  require_positive(ceilings.at("inbound").at("single"), "events_per_s");
  require_positive(ceilings.at("inbound").at("batch100"), "events_per_s");
  require_positive(ceilings.at("outbound"), "deliveries_per_s");
  CHECK(ceilings.at("outbound").at("failed_verification") == 0);

  const auto& sqlite = report.at("stores").at("sqlite");
  REQUIRE(sqlite.at("store_ceiling").size() == 4);
  for (const auto& row : sqlite.at("store_ceiling")) require_positive(row, "events_per_s");

  // (a): four configurations, every accepted event delivered, with its serial bound.
  REQUIRE(sqlite.at("max_rate").size() == 4);
  for (const auto& row : sqlite.at("max_rate")) {
    CHECK(row.at("complete") == true);
    CHECK(row.at("requests_failed") == 0);
    require_positive(row, "e2e_events_per_s");
    require_positive(row, "serial_bound_events_per_s");
    require_positive(row, "ratio_to_serial_bound");
  }
  // (b) and (c): percentiles from real acknowledgements and real sink arrivals.
  for (const char* name : {"latency", "isolation"}) {
    const auto& row = sqlite.at(name);
    CHECK(row.at("complete") == true);
    require_positive(row, "ack_p99_ms");
    require_positive(row, "e2e_count");
    REQUIRE(row.contains("e2e_p99_ms"));
  }
  CHECK(sqlite.at("isolation").at("hanging_requests_received").get<int>() > 0);
  // (e): the backlog written before start is delivered.
  CHECK(sqlite.at("backlog").at("drained_all") == true);
  REQUIRE(sqlite.at("backlog").contains("first_delivery_after_s"));
  // (d): a big index, every event to its own active webhook, memory read from /proc.
  const auto& scale = sqlite.at("scale");
  CHECK(scale.at("complete") == true);
  require_positive(scale, "rss_hwm_kib");
  require_positive(scale, "e2e_count");
  // Every delivery the sink saw carried a valid signature.
  CHECK(sqlite.at("sink_check").at("failed_verification") == 0);
  require_positive(sqlite.at("sink_check"), "verified");
  REQUIRE(report.contains("targets"));
}
