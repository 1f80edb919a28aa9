#include "actors/dlq.hpp"

#include <spdlog/spdlog.h>

#include <deque>
#include <map>
#include <utility>

namespace webhookd {

namespace {

struct webhook_dlq {
  dlq_counter counter;
  std::deque<int64_t> recent;  // entry times within the window, oldest first
};

struct dlq_state {
  static const char* name;
  dlq_deps deps;
  replay_target_actor target;
  dlq_observer_actor observer;
  std::map<std::string, webhook_dlq> by_webhook;
};

const char* dlq_state::name = "dlq";

using dlq_pointer = dlq_actor::stateful_pointer<dlq_state>;

void prune(webhook_dlq& w, int64_t now_ms, std::chrono::milliseconds window) {
  while (!w.recent.empty() && w.recent.front() <= now_ms - window.count()) w.recent.pop_front();
  w.counter.in_window = w.recent.size();
}

dlq_actor::behavior_type dlq_behavior(dlq_pointer self, dlq_deps deps) {
  self->state.deps = std::move(deps);
  return {
      [self](parked_atom, dlq_entry& entry) {
        auto& st = self->state;
        auto& w = st.by_webhook[entry.webhook_id];
        int64_t now = st.deps.clock->now_ms();
        w.counter.client_id = entry.client_id;
        w.counter.webhook_id = entry.webhook_id;
        w.counter.total += 1;
        w.counter.last_at = entry.created_at != 0 ? entry.created_at : now;
        w.counter.last_reason = entry.reason;
        w.recent.push_back(w.counter.last_at);
        prune(w, now, st.deps.settings.window);
        if (st.observer) self->send(st.observer, parked_atom::value, w.counter);
      },
      [self](replay_atom, const std::string& client_id,
             const std::vector<std::string>& ids) -> caf::result<std::vector<delivery>> {
        auto rp = self->make_response_promise<std::vector<delivery>>();
        self->request(self->state.deps.loader, self->state.deps.settings.replay_timeout,
                      replay_atom::value, client_id, ids)
            .then(
                [self, rp](std::vector<delivery_job>& jobs) mutable {
                  std::vector<delivery> rows;
                  rows.reserve(jobs.size());
                  for (const auto& job : jobs) rows.push_back(job.row);
                  auto& st = self->state;
                  if (!jobs.empty()) {
                    if (st.target)
                      self->send(st.target, deliver_atom::value, std::move(jobs));
                    else if (st.deps.log)
                      st.deps.log->warn(
                          "dlq: {} replayed deliveries wait in the store (no replay target)",
                          rows.size());
                  }
                  rp.deliver(std::move(rows));
                },
                [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
        return rp;
      },
      [self](subscribe_atom, replay_target_actor target) {
        self->state.target = std::move(target);
      },
      [self](subscribe_atom, dlq_observer_actor observer) {
        self->state.observer = std::move(observer);
      },
      [self](state_atom) -> std::vector<dlq_counter> {
        auto& st = self->state;
        int64_t now = st.deps.clock->now_ms();
        std::vector<dlq_counter> out;
        out.reserve(st.by_webhook.size());
        for (auto& [id, w] : st.by_webhook) {
          prune(w, now, st.deps.settings.window);
          out.push_back(w.counter);
        }
        return out;
      },
  };
}

}  // namespace

dlq_actor spawn_dlq(caf::actor_system& system, dlq_deps deps) {
  return system.spawn(dlq_behavior, std::move(deps));
}

}  // namespace webhookd
