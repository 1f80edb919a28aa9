#include "actors/endpoint.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <utility>
#include <variant>

namespace webhookd {

namespace {

struct endpoint_actor_state {
  static const char* name;
  endpoint_deps deps;
  std::unique_ptr<endpoint_core> core;
  std::unique_ptr<endpoint_gauges> gauges;  // this actor's share of the delivery gauges
  uint64_t received = 0;
  uint64_t wake_generation = 0;
  std::optional<int64_t> wake_at;
  uint64_t idle_generation = 0;
  bool idle_armed = false;            // an idle timer is on its way
  std::optional<int64_t> idle_since;  // when it became idle (ms); empty while busy or draining
  uint64_t load_generation = 0;
  bool load_backoff_armed = false;
  std::chrono::milliseconds load_backoff{0};
  bool awaiting_room = false;  // asked the store writer for room (back-pressure)
  std::vector<caf::typed_response_promise<caf::ok_atom>> drains;
};

const char* endpoint_actor_state::name = "endpoint";

using endpoint_pointer = endpoint_actor::stateful_pointer<endpoint_actor_state>;

int64_t now_ms(endpoint_pointer self) {
  return self->state.deps.clock->now_ms();
}

void pump(endpoint_pointer self);

/// Classifies a finished attempt and sends its outcome to the store writer.
void complete_attempt(endpoint_pointer self, const std::string& id, const attempt_report& report);

void log_attempt(endpoint_pointer self, const std::string& id, const attempt_verdict& v) {
  auto& log = self->state.deps.log;
  if (!log) return;
  const auto& a = v.outcome.att;
  if (v.decision.verdict == delivery_verdict::success) {
    log->debug("webhook {} delivery {} attempt {}: HTTP {} in {} ms", self->state.core->config().id,
               id, a.attempt_no, a.status_code, a.duration_ms);
  } else {
    log->info("webhook {} delivery {} attempt {}: {} -> {}", self->state.core->config().id, id,
              a.attempt_no, v.decision.error, to_string(v.decision.verdict));
  }
}

void request_disable(endpoint_pointer self, const std::string& reason) {
  auto& st = self->state;
  const webhook& w = st.core->config();
  if (st.deps.log) st.deps.log->warn("disabling webhook {}: {}", w.id, reason);
  if (!st.deps.manager) return;
  self->request(st.deps.manager, std::chrono::seconds(10), disable_atom::value, w.client_id, w.id,
                reason)
      .then(
          [self](webhook& updated) {
            self->state.core->reconfigure(std::move(updated), now_ms(self));
            pump(self);
          },
          [self](caf::error& err) {
            if (self->state.deps.log)
              self->state.deps.log->error("webhook {}: the manager did not disable it: {}",
                                          self->state.core->config().id,
                                          self->system().render(err));
          });
}

void record_outcome(endpoint_pointer self, attempt_outcome outcome) {
  auto& st = self->state;
  const std::string id = outcome.att.delivery_id;
  std::optional<dlq_entry> parked;
  if (outcome.new_status == delivery_status::failed) {
    if (const delivery_job* job = st.core->job(id)) {
      parked = dlq_entry{id,
                         job->row.client_id,
                         job->row.webhook_id,
                         job->row.event_id,
                         job->row.event_type,
                         outcome.dlq_reason,
                         outcome.att.started_at + outcome.att.duration_ms,
                         0};
    }
  }
  if (st.deps.backlog) st.deps.backlog->sent();
  self->request(st.deps.writer, caf::infinite, record_atom::value, std::move(outcome))
      .then(
          [self, id, parked](caf::ok_atom) {
            auto& st = self->state;
            st.core->on_recorded(id, true, now_ms(self));
            if (parked && st.deps.dlq) self->send(st.deps.dlq, parked_atom::value, *parked);
            pump(self);
          },
          [self, id](caf::error& err) {
            auto& st = self->state;
            if (st.deps.log)
              st.deps.log->error("webhook {} delivery {}: outcome not recorded: {}",
                                 st.core->config().id, id, self->system().render(err));
            st.core->on_recorded(id, false, now_ms(self));
            pump(self);
          });
}

void complete_attempt(endpoint_pointer self, const std::string& id, const attempt_report& report) {
  auto& st = self->state;
  const delivery_job* job = st.core->job(id);
  int64_t created_at = job != nullptr ? job->row.created_at : 0;
  int64_t now = now_ms(self);
  auto verdict = st.core->on_attempt_finished(id, report, now);
  if (verdict.outcome.att.delivery_id.empty()) return;  // not in flight (cannot happen)
  if (const auto& m = st.deps.metrics) {
    m->count_attempt(report.result, report.duration_ms);
    if (verdict.decision.verdict == delivery_verdict::success && created_at > 0)
      m->e2e_seconds->observe(static_cast<double>(std::max<int64_t>(0, now - created_at)) / 1000.0);
  }
  log_attempt(self, id, verdict);
  bool disable = verdict.disable_webhook;
  std::string reason = verdict.disable_reason;
  record_outcome(self, std::move(verdict.outcome));
  if (disable) request_disable(self, reason);
}

void send_attempt(endpoint_pointer self, const attempt_start& start) {
  auto& st = self->state;
  const delivery_job* job = st.core->job(start.delivery_id);
  if (job == nullptr) return;
  auto made = make_attempt_request(st.core->config(), *job, start.started_at, st.deps.settings);
  if (auto* problem = std::get_if<std::string>(&made)) {
    attempt_report report;
    report.result.error = transport_error::other;
    report.result.error_detail = *problem;
    complete_attempt(self, start.delivery_id, report);
    return;
  }
  std::string id = start.delivery_id;
  int64_t started_at = start.started_at;
  // No CAF deadline: the client answers every request, within the request's own timeouts once
  // its transfer starts, and with an error if it stops. A deadline here would also put a timer
  // on CAF's clock thread for every attempt, and could give up on a request that is only
  // waiting for its host's connection slot, which the client would still send.
  self->request(st.deps.http, caf::infinite, std::move(std::get<http_request>(made)))
      .then(
          [self, id](http_response& response) {
            attempt_report report;
            report.result = attempt_result_from(response);
            report.body_excerpt = std::move(response.body_excerpt);
            report.duration_ms = response.duration_ms;
            complete_attempt(self, id, report);
            pump(self);
          },
          [self, id, started_at](caf::error& err) {
            attempt_report report;
            report.result.error = transport_error::other;
            report.result.error_detail = "http client: " + self->system().render(err);
            report.duration_ms = std::max<int64_t>(0, now_ms(self) - started_at);
            complete_attempt(self, id, report);
            pump(self);
          });
}

void start_load(endpoint_pointer self) {
  auto& st = self->state;
  st.core->load_started();
  self->request(st.deps.loader, st.deps.settings.load_timeout, load_atom::value,
                st.core->config().id, st.core->load_in_creation_order(), st.core->load_limit())
      .then(
          [self](std::vector<delivery_job>& jobs) {
            auto& st = self->state;
            st.load_backoff = std::chrono::milliseconds{0};
            st.core->load_finished(std::move(jobs), true, now_ms(self));
            pump(self);
          },
          [self](caf::error& err) {
            auto& st = self->state;
            const auto& s = st.deps.settings;
            st.core->load_finished({}, false, now_ms(self));
            st.load_backoff = st.load_backoff.count() == 0
                                  ? s.min_load_backoff
                                  : std::min(s.max_load_backoff, st.load_backoff * 2);
            if (st.deps.log && !st.core->draining())  // a stop refuses loads: no news
              st.deps.log->warn(
                  "webhook {}: loading pending deliveries failed ({}), retry in {} ms",
                  st.core->config().id, self->system().render(err), st.load_backoff.count());
            st.load_backoff_armed = true;
            self->delayed_send(self, st.load_backoff, load_atom::value, ++st.load_generation);
            pump(self);
          });
}

void schedule_wake(endpoint_pointer self, std::optional<int64_t> at, int64_t now) {
  auto& st = self->state;
  if (!at) return;
  if (st.wake_at && *st.wake_at <= *at) return;  // an earlier wake-up re-plans anyway
  st.wake_at = at;
  std::chrono::milliseconds delay{std::max<int64_t>(0, *at - now)};
  self->delayed_send(self, delay, wake_atom::value, ++st.wake_generation);
}

void arm_idle_timer(endpoint_pointer self, std::chrono::milliseconds delay) {
  auto& st = self->state;
  st.idle_armed = true;
  self->delayed_send(self, delay, idle_atom::value, ++st.idle_generation);
}

// Notes when the endpoint became idle and keeps one idle timer running while it is. The timer
// is not cancelled when work arrives (it finds the endpoint busy and lapses): an endpoint that
// goes idle after every delivery would otherwise put a timer on CAF's clock thread each time.
void check_idle(endpoint_pointer self) {
  auto& st = self->state;
  if (!st.core->idle() || st.core->draining()) {
    st.idle_since.reset();
    return;
  }
  if (!st.idle_since) st.idle_since = now_ms(self);
  if (!st.idle_armed) arm_idle_timer(self, st.deps.settings.idle_timeout);
}

// The idle timer fired: reports the endpoint idle once it has been for idle_timeout, else
// waits for the rest of it.
void on_idle_timer(endpoint_pointer self) {
  auto& st = self->state;
  st.idle_armed = false;
  if (!st.idle_since) return;  // busy or draining: check_idle arms it again when idle
  const std::chrono::milliseconds timeout = st.deps.settings.idle_timeout;
  int64_t now = now_ms(self);
  std::chrono::milliseconds idle_for{std::max<int64_t>(0, now - *st.idle_since)};
  if (idle_for < timeout) {
    arm_idle_timer(self, timeout - idle_for);
    return;
  }
  if (st.deps.supervisor)
    self->send(st.deps.supervisor, idle_atom::value, st.core->config().id, st.received);
  st.idle_since = now;  // the next report after another idle_timeout
  arm_idle_timer(self, timeout);
}

void check_drain(endpoint_pointer self) {
  auto& st = self->state;
  if (st.drains.empty() || !st.core->drained()) return;
  for (auto& rp : st.drains) rp.deliver(caf::ok_atom::value);
  st.drains.clear();
}

/// Whether new attempts may start: the store writer is not too far behind (docs/engine.md,
/// "Back-pressure from the store writer"). While it is, the endpoint asks it for room once, and
/// its answer pumps again; no timer runs meanwhile.
bool writer_has_room(endpoint_pointer self) {
  auto& st = self->state;
  if (!st.deps.backlog || !st.deps.backlog->full()) return true;
  if (st.awaiting_room) return false;
  st.awaiting_room = true;
  self->request(st.deps.writer, caf::infinite, room_atom::value)
      .then(
          [self](caf::ok_atom) {
            self->state.awaiting_room = false;
            pump(self);
          },
          [self](caf::error& err) {
            // The writer is gone: the next message pumps (and asks) again.
            self->state.awaiting_room = false;
            if (self->state.deps.log)
              self->state.deps.log->error("webhook {}: the store writer gave no room: {}",
                                          self->state.core->config().id,
                                          self->system().render(err));
          });
  return false;
}

void pump(endpoint_pointer self) {
  auto& st = self->state;
  int64_t now = now_ms(self);
  if (!st.load_backoff_armed && st.core->wants_load()) start_load(self);
  if (writer_has_room(self)) {
    for (const auto& start : st.core->start_due(now)) send_attempt(self, start);
    schedule_wake(self, st.core->next_wake(now), now);
  }
  check_drain(self);
  check_idle(self);
  const auto& core = *st.core;
  int64_t running = core.in_flight();
  st.gauges->update(priority_of(core.config().priority),
                    static_cast<int64_t>(core.held()) - running - core.recording(), running,
                    core.circuit() != circuit_state::closed);
}

endpoint_actor::behavior_type endpoint_behavior(endpoint_pointer self, endpoint_deps deps) {
  auto& st = self->state;
  st.deps = std::move(deps);
  // The core keeps the webhook: the deps let go of it.
  st.core = std::make_unique<endpoint_core>(std::move(st.deps.config), st.deps.settings,
                                            st.deps.clock->now_ms(), st.deps.seed);
  if (!st.deps.load_at_start) st.core->assume_store_empty();
  st.gauges = std::make_unique<endpoint_gauges>(st.deps.metrics);
  if (!st.core->policy_error().empty() && st.deps.log)
    st.deps.log->warn("webhook {}: retry_policy refused ({}), using the default schedule",
                      st.core->config().id, st.core->policy_error());
  pump(self);
  return {
      [self](deliver_atom, std::vector<delivery_job>& jobs) {
        auto& st = self->state;
        st.received += jobs.size();
        int64_t now = now_ms(self);
        for (auto& job : jobs) {
          auto offered = st.core->offer(std::move(job), now);
          (void)offered;  // duplicates, overflow and paused webhooks stay in the store
        }
        pump(self);
      },
      [self](changed_atom, webhook& w) {
        self->state.core->reconfigure(std::move(w), now_ms(self));
        pump(self);
      },
      [self](drain_atom) -> caf::result<caf::ok_atom> {
        auto& st = self->state;
        st.core->set_draining();
        check_idle(self);
        if (st.core->drained()) return caf::ok_atom::value;
        auto rp = self->make_response_promise<caf::ok_atom>();
        st.drains.push_back(rp);
        return rp;
      },
      [self](state_atom) -> endpoint_state {
        auto& st = self->state;
        auto s = st.core->snapshot(now_ms(self));
        s.received = st.received;
        s.restarts = st.deps.restarts;
        return s;
      },
      [self](wake_atom, uint64_t generation) {
        auto& st = self->state;
        if (generation != st.wake_generation) return;
        st.wake_at.reset();
        pump(self);
      },
      [self](idle_atom, uint64_t generation) {
        if (generation == self->state.idle_generation) on_idle_timer(self);
      },
      [self](load_atom, uint64_t generation) {
        auto& st = self->state;
        if (generation != st.load_generation) return;
        st.load_backoff_armed = false;
        pump(self);
      },
  };
}

}  // namespace

endpoint_actor spawn_endpoint(caf::actor_system& system, endpoint_deps deps) {
  return system.spawn(endpoint_behavior, std::move(deps));
}

}  // namespace webhookd
