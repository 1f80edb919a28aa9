#include "actors/actor_metrics.hpp"

#include <string>

namespace webhookd {

namespace {

constexpr const char* outcome_labels[delivery_metrics::outcome_count] = {
    "success", "redirect",         "gone",      "rate_limited", "client_error", "server_error",
    "timeout", "connection_error", "tls_error", "dns_error",    "blocked",      "other_error"};

std::size_t outcome_index(const attempt_result& result) {
  switch (result.error) {
    case transport_error::none:
      break;
    case transport_error::timeout:
      return 6;
    case transport_error::connect_refused:
    case transport_error::connection_reset:
      return 7;
    case transport_error::tls:
      return 8;
    case transport_error::dns:
      return 9;
    case transport_error::blocked_by_policy:
      return 10;
    case transport_error::other:
      return 11;
  }
  int code = result.status_code;
  if (code >= 200 && code <= 299) return 0;
  if (code >= 300 && code <= 399) return 1;
  if (code == 410) return 2;
  if (code == 429) return 3;
  if (code >= 400 && code <= 499) return 4;
  if (code >= 500 && code <= 599) return 5;
  return 11;
}

const char* priority_label(std::size_t i) {
  switch (i) {
    case 0:
      return "high";
    case 2:
      return "bulk";
    default:
      return "standard";
  }
}

std::size_t priority_slot(priority_level p) {
  auto i = static_cast<std::size_t>(p);
  return i < 3 ? i : 1;
}

}  // namespace

std::shared_ptr<const commit_metrics> commit_metrics::create(metrics::registry& registry,
                                                             commit_writer writer) {
  const std::string label = writer == commit_writer::ingest ? "ingest" : "attempts";
  auto out = std::make_shared<commit_metrics>();
  out->seconds = &registry
                      .add_histogram_family(
                          "webhookd_store_commit_seconds",
                          "Duration of one successful batched store transaction (writer=ingest: "
                          "events with their deliveries; writer=attempts: attempt outcomes).",
                          {"writer"}, metrics::latency_buckets())
                      .labels({label});
  out->batch_size =
      &registry
           .add_histogram_family("webhookd_store_commit_batch_size",
                                 "Rows per successful batched store transaction (events for "
                                 "writer=ingest, attempt outcomes for writer=attempts).",
                                 {"writer"}, metrics::exponential_buckets(1, 2, 14))
           .labels({label});
  out->failures = &registry
                       .add_counter_family("webhookd_store_commit_failures_total",
                                           "Batched store transactions that failed.", {"writer"})
                       .labels({label});
  return out;
}

const char* attempt_outcome_label(const attempt_result& result) {
  return outcome_labels[outcome_index(result)];
}

std::shared_ptr<const delivery_metrics> delivery_metrics::create(metrics::registry& registry) {
  auto out = std::make_shared<delivery_metrics>();
  auto& attempts = registry.add_counter_family(
      "webhookd_delivery_attempts_total", "Delivery attempts finished, by outcome.", {"outcome"});
  for (std::size_t i = 0; i < outcome_count; ++i)
    out->attempts[i] = &attempts.labels({outcome_labels[i]});
  out->attempt_seconds = &registry.add_histogram(
      "webhookd_delivery_attempt_seconds",
      "Duration of one delivery attempt (HTTP request to the callback URL).",
      {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30});
  out->e2e_seconds = &registry.add_histogram(
      "webhookd_delivery_e2e_seconds",
      "Time from an event's arrival (its delivery's creation at ingest) to the receiver's 2xx, "
      "retries included.",
      {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 36000,
       86400});
  auto& queued = registry.add_gauge_family(
      "webhookd_queue_depth",
      "Deliveries held by endpoint actors waiting for their attempt (due or waiting for a "
      "retry), by the webhook's priority.",
      {"priority"});
  for (std::size_t i = 0; i < 3; ++i) out->queued[i] = &queued.labels({priority_label(i)});
  out->in_flight =
      &registry.add_gauge("webhookd_deliveries_in_flight", "Delivery attempts running now.");
  out->endpoints = &registry.add_gauge("webhookd_endpoint_actors",
                                       "Endpoint actors alive (one per webhook "
                                       "with work).");
  out->circuits_open = &registry.add_gauge(
      "webhookd_circuits_open", "Endpoint actors whose circuit breaker is open or half-open.");
  return out;
}

void delivery_metrics::count_attempt(const attempt_result& result, int64_t duration_ms) const {
  attempts[outcome_index(result)]->inc();
  attempt_seconds->observe(static_cast<double>(duration_ms) / 1000.0);
}

endpoint_gauges::endpoint_gauges(std::shared_ptr<const delivery_metrics> metrics)
    : metrics_(std::move(metrics)) {
  if (metrics_) metrics_->endpoints->add(1);
}

endpoint_gauges::~endpoint_gauges() {
  if (!metrics_) return;
  publish(priority_, 0, 0, 0);
  metrics_->endpoints->sub(1);
}

void endpoint_gauges::update(priority_level priority, int64_t queued, int64_t in_flight,
                             bool circuit_open) {
  if (!metrics_) return;
  publish(priority, queued, in_flight, circuit_open ? 1 : 0);
}

void endpoint_gauges::publish(priority_level priority, int64_t queued, int64_t in_flight,
                              int64_t open) {
  if (priority != priority_) {
    metrics_->queued[priority_slot(priority_)]->sub(queued_);
    metrics_->queued[priority_slot(priority)]->add(queued);
  } else if (queued != queued_) {
    metrics_->queued[priority_slot(priority)]->add(queued - queued_);
  }
  if (in_flight != in_flight_) metrics_->in_flight->add(in_flight - in_flight_);
  if (open != open_) metrics_->circuits_open->add(open - open_);
  priority_ = priority;
  queued_ = queued;
  in_flight_ = in_flight;
  open_ = open;
}

}  // namespace webhookd
