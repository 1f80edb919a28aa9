#include "http/actors_json.hpp"

#include <algorithm>
#include <utility>

#include "core/time_format.hpp"

namespace webhookd::http {

namespace {

using nlohmann::json;

json time_or_null(int64_t unix_ms) {
  return unix_ms > 0 ? json(format_rfc3339_ms(unix_ms)) : json(nullptr);
}

// The common part of every actor node: whether it answered, how fast, and why not.
json probe_node(const char* actor, const probe_status& probe) {
  json node = {{"actor", actor}, {"answered", probe.answered}, {"latency_ms", probe.latency_ms}};
  if (!probe.answered) node["error"] = probe.error.empty() ? "no answer" : probe.error;
  return node;
}

json ingest_node(const actor_tree& t) {
  json node = probe_node("ingest", t.ingest_probe);
  if (!t.ingest_probe.answered) return node;
  const ingest_stats& s = t.ingest;
  node.update({{"events_per_second", s.events_per_second},
               {"requests_per_second", s.requests_per_second},
               {"accepted_events", s.accepted_events},
               {"duplicate_events", s.duplicate_events},
               {"routing_events", s.routing_events},
               {"buffered_requests", s.buffered_requests},
               {"buffered_events", s.buffered_events},
               {"committing_events", s.committing_events},
               {"commits", s.commits},
               {"failed_commits", s.failed_commits},
               {"overloaded_requests", s.overloaded_requests}});
  return node;
}

json router_node(const actor_tree& t) {
  json node = probe_node("router", t.router_probe);
  if (!t.router_probe.answered) return node;
  const router_stats& s = t.router;
  node.update({{"events_per_second", s.events_per_second},
               {"deliveries_per_second", s.deliveries_per_second},
               {"routed_events", s.routed_events},
               {"routed_deliveries", s.routed_deliveries},
               {"webhooks", s.webhooks},
               {"clients", s.clients},
               {"sources", s.sources}});
  return node;
}

json supervisor_node(const actor_tree& t) {
  json node = probe_node("endpoint_supervisor", t.supervisor_probe);
  if (!t.supervisor_probe.answered) return node;
  const supervisor_state& s = t.supervisor;
  std::vector<const endpoint_state*> sorted;
  sorted.reserve(s.endpoints.size());
  for (const auto& e : s.endpoints) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](const endpoint_state* a, const endpoint_state* b) {
    return a->webhook_id < b->webhook_id;
  });
  json endpoints = json::array();
  for (const auto* e : sorted) endpoints.push_back(endpoint_state_to_json(*e, t.taken_at));
  std::vector<std::string> unanswered = s.unanswered;
  std::sort(unanswered.begin(), unanswered.end());
  node.update({{"live", s.live},
               {"webhooks", s.webhooks},
               {"restarts", s.restarts},
               {"idle_stops", s.idle_stops},
               {"jobs_forwarded", s.jobs_forwarded},
               {"jobs_left_in_store", s.jobs_left_in_store},
               {"draining", s.draining},
               {"endpoints", std::move(endpoints)},
               {"unanswered", std::move(unanswered)}});
  return node;
}

json dlq_node(const actor_tree& t) {
  json node = probe_node("dlq", t.dlq_probe);
  if (!t.dlq_probe.answered) return node;
  std::vector<dlq_counter> counters = t.dlq;
  std::sort(counters.begin(), counters.end(),
            [](const dlq_counter& a, const dlq_counter& b) { return a.webhook_id < b.webhook_id; });
  uint64_t total = 0;
  uint64_t in_window = 0;
  json webhooks = json::array();
  for (const auto& c : counters) {
    total += c.total;
    in_window += c.in_window;
    webhooks.push_back({{"webhook_id", c.webhook_id},
                        {"client_id", c.client_id},
                        {"total", c.total},
                        {"in_window", c.in_window},
                        {"last_at", time_or_null(c.last_at)},
                        {"last_reason", c.last_reason}});
  }
  node.update({{"total", total}, {"in_window", in_window}, {"webhooks", std::move(webhooks)}});
  return node;
}

json writer_node(const actor_tree& t) {
  json node = probe_node("store_writer", t.writer_probe);
  if (!t.writer_probe.answered) return node;
  const store_writer_stats& s = t.writer;
  node.update({{"queued", s.queued},
               {"recorded", s.recorded},
               {"transactions", s.transactions},
               {"failures", s.failures},
               {"rejected", s.rejected},
               {"outstanding", s.outstanding},
               {"outstanding_limit", s.outstanding_limit},
               {"held_endpoints", s.held_endpoints}});
  return node;
}

json http_node(const actor_tree& t) {
  json node = probe_node("http_client", t.http_probe);
  if (!t.http_probe.answered) return node;
  const http_client_stats& s = t.http;
  node.update({{"pending", s.pending},
               {"running", s.running},
               {"queued", s.queued},
               {"completed", s.completed}});
  return node;
}

json attempt_to_json(const attempt& a) {
  json out = {{"attempt_no", a.attempt_no},
              {"started_at", time_or_null(a.started_at)},
              {"duration_ms", a.duration_ms},
              {"status_code", a.status_code == 0 ? json(nullptr) : json(a.status_code)},
              {"error", a.error.empty() ? json(nullptr) : json(a.error)},
              {"response_excerpt", a.response_excerpt}};
  return out;
}

}  // namespace

nlohmann::json endpoint_state_to_json(const endpoint_state& s, int64_t now_ms) {
  uint64_t queued = s.queued_high + s.queued_standard + s.queued_bulk;
  json retry_in =
      s.next_retry_at > 0 ? json(std::max<int64_t>(0, s.next_retry_at - now_ms)) : json(nullptr);
  return {{"actor", "endpoint"},
          {"webhook_id", s.webhook_id},
          {"client_id", s.client_id},
          {"callback_url", s.callback_url},
          {"status", s.status},
          {"circuit", s.circuit},
          {"tokens", s.tokens},
          {"rate_limit", s.rate_limit},
          {"queued",
           {{"high", s.queued_high},
            {"standard", s.queued_standard},
            {"bulk", s.queued_bulk},
            {"total", queued}}},
          {"waiting", s.waiting},
          {"in_flight", s.in_flight},
          {"recording", s.recording},
          {"next_retry_at", time_or_null(s.next_retry_at)},
          {"next_retry_in_ms", std::move(retry_in)},
          {"last_error", s.last_error.empty() ? json(nullptr) : json(s.last_error)},
          {"succeeded", s.succeeded},
          {"failed", s.failed},
          {"retried", s.retried},
          {"received", s.received},
          {"restarts", s.restarts},
          {"ordered", s.ordered},
          {"draining", s.draining}};
}

nlohmann::json actor_tree_to_json(const actor_tree& tree) {
  return {{"taken_at", time_or_null(tree.taken_at)},
          {"ingest", ingest_node(tree)},
          {"router", router_node(tree)},
          {"endpoint_supervisor", supervisor_node(tree)},
          {"dlq", dlq_node(tree)},
          {"store_writer", writer_node(tree)},
          {"http_client", http_node(tree)}};
}

nlohmann::json endpoint_attempts_to_json(const endpoint_attempts& a) {
  json deliveries = json::array();
  for (const auto& d : a.deliveries) {
    json attempts = json::array();
    for (const auto& at : d.attempts) attempts.push_back(attempt_to_json(at));
    deliveries.push_back(
        {{"delivery_id", d.row.id},
         {"event_id", d.row.event_id},
         {"event_type", d.row.event_type},
         {"status", to_string(d.row.status)},
         {"attempts", d.row.attempts},
         {"next_attempt_at", d.row.status == delivery_status::pending
                                 ? time_or_null(d.row.next_attempt_at)
                                 : json(nullptr)},
         {"last_error", d.row.last_error.empty() ? json(nullptr) : json(d.row.last_error)},
         {"created_at", time_or_null(d.row.created_at)},
         {"attempt_list", std::move(attempts)}});
  }
  return {{"webhook_id", a.webhook_id},
          {"client_id", a.client_id},
          {"deliveries", std::move(deliveries)}};
}

}  // namespace webhookd::http
