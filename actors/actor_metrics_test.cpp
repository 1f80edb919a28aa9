#include "actors/actor_metrics.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace webhookd;

namespace {

attempt_result answered(int status) {
  attempt_result r;
  r.status_code = status;
  return r;
}

attempt_result failed(transport_error error) {
  attempt_result r;
  r.error = error;
  r.status_code = 200;  // a transport error wins over a status line that arrived
  return r;
}

}  // namespace

TEST_CASE("attempt outcomes are labelled by the answer's class", "[unit]") {
  CHECK(std::string(attempt_outcome_label(answered(200))) == "success");
  CHECK(std::string(attempt_outcome_label(answered(204))) == "success");
  CHECK(std::string(attempt_outcome_label(answered(301))) == "redirect");
  CHECK(std::string(attempt_outcome_label(answered(410))) == "gone");
  CHECK(std::string(attempt_outcome_label(answered(429))) == "rate_limited");
  CHECK(std::string(attempt_outcome_label(answered(404))) == "client_error");
  CHECK(std::string(attempt_outcome_label(answered(503))) == "server_error");
  CHECK(std::string(attempt_outcome_label(answered(102))) == "other_error");
  CHECK(std::string(attempt_outcome_label(failed(transport_error::timeout))) == "timeout");
  CHECK(std::string(attempt_outcome_label(failed(transport_error::connect_refused))) ==
        "connection_error");
  CHECK(std::string(attempt_outcome_label(failed(transport_error::connection_reset))) ==
        "connection_error");
  CHECK(std::string(attempt_outcome_label(failed(transport_error::tls))) == "tls_error");
  CHECK(std::string(attempt_outcome_label(failed(transport_error::dns))) == "dns_error");
  CHECK(std::string(attempt_outcome_label(failed(transport_error::blocked_by_policy))) ==
        "blocked");
  CHECK(std::string(attempt_outcome_label(failed(transport_error::other))) == "other_error");
}

TEST_CASE("delivery metrics count attempts by outcome and expose every outcome at 0", "[unit]") {
  metrics::registry registry;
  auto m = delivery_metrics::create(registry);
  REQUIRE(delivery_metrics::create(registry)->attempts[0] == m->attempts[0]);  // same children
  m->count_attempt(answered(200), 250);
  m->count_attempt(answered(200), 750);
  m->count_attempt(failed(transport_error::timeout), 10'000);
  std::string text = registry.expose();
  CHECK(text.find("webhookd_delivery_attempts_total{outcome=\"success\"} 2\n") !=
        std::string::npos);
  CHECK(text.find("webhookd_delivery_attempts_total{outcome=\"timeout\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("webhookd_delivery_attempts_total{outcome=\"dns_error\"} 0\n") !=
        std::string::npos);
  CHECK(text.find("webhookd_delivery_attempt_seconds_count 3\n") != std::string::npos);
  CHECK(text.find("webhookd_delivery_attempt_seconds_sum 11\n") != std::string::npos);
  CHECK(text.find("webhookd_queue_depth{priority=\"bulk\"} 0\n") != std::string::npos);
}

TEST_CASE("endpoint gauges publish differences and take their share back at the end", "[unit]") {
  metrics::registry registry;
  auto m = delivery_metrics::create(registry);
  auto high = [&] { return m->queued[0]->value(); };
  auto standard = [&] { return m->queued[1]->value(); };
  {
    endpoint_gauges a(m);
    endpoint_gauges b(m);
    CHECK(m->endpoints->value() == 2);
    a.update(priority_level::high, 5, 2, false);
    b.update(priority_level::standard, 3, 1, true);
    CHECK(high() == 5);
    CHECK(standard() == 3);
    CHECK(m->in_flight->value() == 3);
    CHECK(m->circuits_open->value() == 1);

    a.update(priority_level::high, 4, 3, true);
    CHECK(high() == 4);
    CHECK(m->in_flight->value() == 4);
    CHECK(m->circuits_open->value() == 2);

    // The webhook's priority changed: its whole queue moves to the new label.
    a.update(priority_level::standard, 4, 3, false);
    CHECK(high() == 0);
    CHECK(standard() == 7);
    CHECK(m->circuits_open->value() == 1);
  }
  CHECK(m->endpoints->value() == 0);
  CHECK(high() == 0);
  CHECK(standard() == 0);
  CHECK(m->in_flight->value() == 0);
  CHECK(m->circuits_open->value() == 0);

  endpoint_gauges unmeasured(nullptr);  // no metrics: every call is a no-op
  unmeasured.update(priority_level::bulk, 9, 9, true);
  CHECK(m->queued[2]->value() == 0);
}

TEST_CASE("commit metrics are labelled by writer", "[unit]") {
  metrics::registry registry;
  auto ingest = commit_metrics::create(registry, commit_writer::ingest);
  auto attempts = commit_metrics::create(registry, commit_writer::attempts);
  ingest->batch_size->observe(7);
  attempts->failures->inc();
  std::string text = registry.expose();
  CHECK(text.find("webhookd_store_commit_batch_size_sum{writer=\"ingest\"} 7\n") !=
        std::string::npos);
  CHECK(text.find("webhookd_store_commit_batch_size_count{writer=\"attempts\"} 0\n") !=
        std::string::npos);
  CHECK(text.find("webhookd_store_commit_failures_total{writer=\"attempts\"} 1\n") !=
        std::string::npos);
}
