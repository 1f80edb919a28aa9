#include "actors/alerts.hpp"

#include <spdlog/spdlog.h>

#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <utility>

#include "core/time_format.hpp"

namespace webhookd {

std::vector<std::string> alert_event_types() {
  return {alert_dlq_threshold_type, alert_crash_loop_type, alert_store_unreachable_type};
}

namespace {

using json = nlohmann::json;

struct alerts_state {
  static const char* name;
  alerts_deps deps;
  alerts_stats stats;
  // Event ids fired, with their window start (ms), pruned when their window is over.
  std::map<std::string, int64_t> fired;
  // Restart times (unix ms) of each webhook within the window, oldest first.
  std::map<std::string, std::deque<int64_t>> restarts;
  // Alert events not accepted by ingest yet, oldest first.
  std::deque<event> outbox;
  bool submitting = false;
  bool retry_scheduled = false;
};

const char* alerts_state::name = "alerts";

using alerts_pointer = alerts_actor::stateful_pointer<alerts_state>;

int64_t window_ms(const alerts_state& st) {
  return std::max<int64_t>(st.deps.settings.window.count(), 1);
}

int64_t window_start(const alerts_state& st, int64_t at_ms) {
  int64_t w = window_ms(st);
  return at_ms - (at_ms % w);
}

void submit_outbox(alerts_pointer self);

void schedule_retry(alerts_pointer self) {
  auto& st = self->state;
  if (st.retry_scheduled || st.outbox.empty()) return;
  st.retry_scheduled = true;
  self->delayed_send(self, st.deps.settings.retry_interval, alert_retry_atom::value);
}

// Submits the whole outbox as one ingest request; on failure everything stays for the retry.
void submit_outbox(alerts_pointer self) {
  auto& st = self->state;
  if (st.submitting || st.outbox.empty() || !st.deps.ingest) return;
  st.submitting = true;
  std::vector<event> batch(st.outbox.begin(), st.outbox.end());
  std::size_t count = batch.size();
  self->request(st.deps.ingest, st.deps.settings.submit_timeout, ingest_atom::value,
                std::move(batch))
      .then(
          [self, count](const ingest_ack& ack) {
            auto& st = self->state;
            st.submitting = false;
            for (std::size_t i = 0; i < count && !st.outbox.empty(); ++i) st.outbox.pop_front();
            st.stats.submitted += count;
            st.stats.duplicates += static_cast<uint64_t>(ack.duplicates);
            st.stats.pending = st.outbox.size();
            if (st.deps.log)
              st.deps.log->info("alerts: {} alert events submitted for client {} ({} new)", count,
                                st.deps.settings.client_id, ack.accepted);
            if (!st.outbox.empty()) submit_outbox(self);
          },
          [self, count](caf::error& err) {
            auto& st = self->state;
            st.submitting = false;
            std::string why = self->system().render(err);
            if (auto failure = ingest_failure_of(err)) why = failure->message;
            if (st.deps.log)
              st.deps.log->warn("alerts: {} alert events not accepted yet ({}); retry in {} ms",
                                count, why, st.deps.settings.retry_interval.count());
            schedule_retry(self);
          });
}

// Raises one alert: logs it and, with an alert client, queues its event. Returns false when
// this alert already fired in its window.
bool fire(alerts_pointer self, const char* type, const std::string& subject, int64_t window_at,
          json payload, spdlog::level::level_enum level, const std::string& message) {
  auto& st = self->state;
  int64_t now = st.deps.clock->now_ms();
  // Forget alerts of windows that are over.
  for (auto it = st.fired.begin(); it != st.fired.end();) {
    if (it->second + window_ms(st) <= now)
      it = st.fired.erase(it);
    else
      ++it;
  }
  int64_t start = window_start(st, window_at);
  std::string id = std::string(type) + ":" + subject + ":" + std::to_string(start / 1000);
  if (!st.fired.emplace(id, start).second) return false;
  st.stats.fired += 1;
  if (st.deps.log) st.deps.log->log(level, "alert {}: {}", type, message);
  if (st.deps.settings.client_id.empty()) return true;

  payload["alert"] = type;
  payload["message"] = message;
  payload["node"] = st.deps.node_id;
  payload["window_seconds"] = window_ms(st) / 1000;
  payload["window_start"] = format_rfc3339_ms(start);
  payload["raised_at"] = format_rfc3339_ms(now);
  event ev;
  ev.client_id = st.deps.settings.client_id;
  ev.event_id = id;
  ev.event_type = type;
  ev.timestamp = now;
  ev.payload = payload.dump();
  ev.source_id = "webhookd";
  ev.received_at = now;
  if (st.outbox.size() >= st.deps.settings.max_pending) {
    if (st.deps.log)
      st.deps.log->error("alerts: outbox full, alert event {} dropped", st.outbox.front().event_id);
    st.outbox.pop_front();
    st.stats.dropped += 1;
  }
  st.outbox.push_back(std::move(ev));
  st.stats.pending = st.outbox.size();
  submit_outbox(self);
  return true;
}

alerts_actor::behavior_type alerts_behavior(alerts_pointer self, alerts_deps deps) {
  self->state.deps = std::move(deps);
  return {
      [self](parked_atom, const dlq_counter& c) {
        auto& st = self->state;
        if (st.deps.settings.dlq_threshold == 0 || c.in_window < st.deps.settings.dlq_threshold)
          return;
        int64_t now = st.deps.clock->now_ms();
        std::string message =
            "webhook " + c.webhook_id + " of client " + c.client_id + ": " +
            std::to_string(c.in_window) + " deliveries entered the DLQ in the last " +
            std::to_string(window_ms(st) / 1000) + " s (threshold " +
            std::to_string(st.deps.settings.dlq_threshold) + "); last reason: " + c.last_reason;
        json payload = {{"webhook_id", c.webhook_id},
                        {"client_id", c.client_id},
                        {"dlq_entries_in_window", c.in_window},
                        {"dlq_entries_total", c.total},
                        {"threshold", st.deps.settings.dlq_threshold},
                        {"last_reason", c.last_reason},
                        {"last_entry_at", format_rfc3339_ms(c.last_at)}};
        fire(self, alert_dlq_threshold_type, c.webhook_id, now, std::move(payload),
             spdlog::level::warn, message);
      },
      [self](restarted_atom, const endpoint_restart& r) {
        auto& st = self->state;
        int64_t now = st.deps.clock->now_ms();
        auto& times = st.restarts[r.webhook_id];
        times.push_back(r.at != 0 ? r.at : now);
        while (!times.empty() && times.front() <= now - window_ms(st)) times.pop_front();
        if (st.deps.settings.crash_restarts == 0 || times.size() < st.deps.settings.crash_restarts)
          return;
        std::string message = "the endpoint actor of webhook " + r.webhook_id + " (client " +
                              r.client_id + ") was restarted " + std::to_string(times.size()) +
                              " times in the last " + std::to_string(window_ms(st) / 1000) +
                              " s (threshold " + std::to_string(st.deps.settings.crash_restarts) +
                              "); last failure: " + r.reason;
        json payload = {{"webhook_id", r.webhook_id},
                        {"client_id", r.client_id},
                        {"restarts_in_window", times.size()},
                        {"restarts_total", r.count},
                        {"threshold", st.deps.settings.crash_restarts},
                        {"last_reason", r.reason}};
        fire(self, alert_crash_loop_type, r.webhook_id, now, std::move(payload),
             spdlog::level::warn, message);
      },
      [self](store_status_atom, const store_health& h) {
        auto& st = self->state;
        if (h.reachable) {
          // Whatever waited for the store goes now.
          submit_outbox(self);
          return;
        }
        int64_t since = h.unreachable_since != 0 ? h.unreachable_since : st.deps.clock->now_ms();
        std::string message = "node " + st.deps.node_id + " cannot reach the store: " + h.error;
        json payload = {{"error", h.error}, {"unreachable_since", format_rfc3339_ms(since)}};
        fire(self, alert_store_unreachable_type, st.deps.node_id, since, std::move(payload),
             spdlog::level::err, message);
      },
      [self](state_atom) -> alerts_stats { return self->state.stats; },
      [self](alert_retry_atom) {
        self->state.retry_scheduled = false;
        submit_outbox(self);
      },
  };
}

}  // namespace

alerts_actor spawn_alerts(caf::actor_system& system, alerts_deps deps) {
  if (deps.clock == nullptr) throw std::logic_error("spawn_alerts: a clock is required");
  return system.spawn(alerts_behavior, std::move(deps));
}

}  // namespace webhookd
