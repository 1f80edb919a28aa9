#include "actors/endpoint_supervisor.hpp"

#include <spdlog/spdlog.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace webhookd {

std::vector<int> supervisor_settings::all_partitions() {
  std::vector<int> out;
  for (int p = 0; p < partition_count; ++p) out.push_back(p);
  return out;
}

namespace {

struct endpoint_entry {
  endpoint_actor handle;  // invalid while a restart is pending
  uint64_t sent = 0;      // jobs sent to this incarnation (idle handshake)
  bool restart_pending = false;
  uint64_t restart_generation = 0;
};

struct supervisor_actor_state {
  static const char* name;
  supervisor_deps deps;
  // Every webhook, shared with its endpoint actor's core while one runs.
  std::unordered_map<std::string, shared_webhook> configs;
  std::unordered_map<std::string, endpoint_entry> endpoints;
  std::map<caf::actor_addr, std::string> by_address;
  std::unordered_map<std::string, int32_t> restarts;
  std::unordered_map<std::string, std::deque<int64_t>> restart_times;
  std::set<int> owned;
  // Partitions whose recovery read answered, and the webhooks of those partitions whose store
  // may hold pending deliveries no endpoint was handed: what recovery found, every webhook
  // whose jobs were left in the store since, and every webhook that had an endpoint actor
  // (it may have released work to the store). A webhook of a recovered partition that is not
  // listed has nothing pending beyond the jobs handed in, so its first endpoint needs no load.
  std::set<int> recovered;
  std::unordered_set<std::string> may_have_pending;
  supervisor_state counters;
  restart_observer_actor restart_observer;
  bool draining = false;
  uint64_t spawned = 0;
};

const char* supervisor_actor_state::name = "endpoint_supervisor";

using supervisor_pointer = endpoint_supervisor_actor::stateful_pointer<supervisor_actor_state>;

bool is_active(const webhook& w) {
  return w.status == "active";
}

/// Whether a new endpoint of `webhook_id` must load from the store before it has what is
/// pending (see may_have_pending).
bool needs_load(supervisor_pointer self, const std::string& webhook_id) {
  auto& st = self->state;
  return st.recovered.count(partition_of(webhook_id)) == 0 ||
         st.may_have_pending.count(webhook_id) != 0;
}

endpoint_entry& spawn_for(supervisor_pointer self, const std::string& webhook_id,
                          bool load_at_start = true) {
  auto& st = self->state;
  endpoint_deps d;
  d.load_at_start = load_at_start;
  d.config = st.configs.at(webhook_id);
  d.settings = st.deps.settings.endpoint;
  d.http = st.deps.http;
  d.writer = st.deps.writer;
  d.backlog = st.deps.backlog;
  d.loader = st.deps.loader;
  d.dlq = st.deps.dlq;
  d.manager = st.deps.manager;
  d.supervisor = caf::actor_cast<endpoint_owner_actor>(self);
  d.clock = st.deps.clock;
  d.log = st.deps.log;
  d.restarts = st.restarts[webhook_id];
  d.seed = st.deps.seed + 0x9E3779B97F4A7C15ull * ++st.spawned;
  d.metrics = st.deps.metrics;
  auto handle = spawn_endpoint(self->system(), std::move(d));
  self->monitor(handle);
  auto& entry = st.endpoints[webhook_id];
  entry.handle = handle;
  entry.sent = 0;
  entry.restart_pending = false;
  st.by_address[handle.address()] = webhook_id;
  return entry;
}

/// Stops a live endpoint actor on purpose (idle, removed): no restart follows.
void stop_endpoint(supervisor_pointer self, const std::string& webhook_id) {
  auto& st = self->state;
  auto found = st.endpoints.find(webhook_id);
  if (found == st.endpoints.end()) return;
  st.may_have_pending.insert(webhook_id);
  if (found->second.handle) {
    st.by_address.erase(found->second.handle.address());
    self->send_exit(found->second.handle, caf::exit_reason::user_shutdown);
  }
  st.endpoints.erase(found);
}

std::chrono::milliseconds restart_delay(supervisor_pointer self, const std::string& webhook_id) {
  auto& st = self->state;
  const auto& s = st.deps.settings;
  int64_t now = st.deps.clock->now_ms();
  auto& times = st.restart_times[webhook_id];
  times.push_back(now);
  while (!times.empty() && times.front() < now - s.restart_window.count()) times.pop_front();
  if (times.size() <= 1) return std::chrono::milliseconds{0};
  auto delay = s.min_restart_delay;
  for (std::size_t i = 2; i < times.size() && delay < s.max_restart_delay; ++i) delay *= 2;
  return std::min(delay, s.max_restart_delay);
}

void on_endpoint_down(supervisor_pointer self, caf::down_msg& dm) {
  auto& st = self->state;
  auto found = st.by_address.find(dm.source);
  if (found == st.by_address.end()) return;  // stopped on purpose
  std::string webhook_id = found->second;
  st.by_address.erase(found);
  st.may_have_pending.insert(webhook_id);
  auto& entry = st.endpoints[webhook_id];
  entry.handle = nullptr;
  auto config = st.configs.find(webhook_id);
  if (st.draining || config == st.configs.end() || !is_active(*config->second)) {
    st.endpoints.erase(webhook_id);
    return;
  }
  int32_t count = ++st.restarts[webhook_id];
  st.counters.restarts += 1;
  auto delay = restart_delay(self, webhook_id);
  std::string reason = self->system().render(dm.reason);
  const std::string& client_id = config->second->client_id;
  if (st.deps.log)
    st.deps.log->warn("endpoint actor of webhook {} (client {}) failed ({}); restart #{} in {} ms",
                      webhook_id, client_id, reason, count, delay.count());
  if (st.restart_observer)
    self->send(st.restart_observer, restarted_atom::value,
               endpoint_restart{client_id, webhook_id, reason, count, st.deps.clock->now_ms()});
  entry.restart_pending = true;
  uint64_t generation = ++entry.restart_generation;
  // The failed actor's outcomes may still sit in the writer: let them commit first, so the
  // new actor's load doesn't see those deliveries as pending again.
  auto go = [self, webhook_id, generation, delay] {
    if (delay.count() == 0)
      self->send(self, restart_atom::value, webhook_id, generation);
    else
      self->delayed_send(self, delay, restart_atom::value, webhook_id, generation);
  };
  self->request(st.deps.writer, st.deps.settings.writer_sync_timeout, sync_atom::value)
      .then([go](caf::ok_atom) { go(); }, [go](caf::error&) { go(); });
}

/// Applies a webhook version: forwards it to a live actor, or starts one for a webhook that
/// just became active (it may have pending deliveries waiting in the store).
void apply_change(supervisor_pointer self, shared_webhook w) {
  auto& st = self->state;
  auto previous = st.configs.find(w->id);
  bool was_active = previous != st.configs.end() && is_active(*previous->second);
  std::string id = w->id;
  auto& config = st.configs[id];
  config = std::move(w);
  auto entry = st.endpoints.find(id);
  if (entry != st.endpoints.end()) {
    if (entry->second.handle) self->send(entry->second.handle, changed_atom::value, *config);
    return;
  }
  if (is_active(*config) && !was_active && !st.draining) spawn_for(self, id);
}

/// Applies the manager's subscription snapshot, which is the truth from then on: a known active
/// webhook missing from it was disabled or deleted meanwhile, every other one is applied as a
/// change. A webhook the supervisor did not know only has its row kept (shared with the
/// snapshot, not copied), unless recovery already ran for its partition and may have left work
/// for it: otherwise recovery starts its actor if it has pending deliveries.
void apply_snapshot(supervisor_pointer self, const std::vector<shared_webhook>& current) {
  auto& st = self->state;
  std::unordered_set<std::string_view> present;
  present.reserve(current.size());
  for (const auto& w : current) present.insert(w->id);
  std::vector<shared_webhook> gone;
  for (const auto& [id, w] : st.configs) {
    if (present.count(id) != 0 || !is_active(*w)) continue;
    auto disabled = std::make_shared<webhook>(*w);
    disabled->status = "disabled";
    gone.push_back(std::move(disabled));
  }
  for (auto& w : gone) apply_change(self, std::move(w));
  for (const auto& w : current) {
    bool known = st.configs.count(w->id) != 0;
    if (!known &&
        (st.recovered.count(partition_of(w->id)) == 0 || st.may_have_pending.count(w->id) == 0)) {
      st.configs.emplace(w->id, w);
      continue;
    }
    apply_change(self, w);
  }
}

void recover(supervisor_pointer self, std::vector<int> partitions,
             std::function<void(caf::expected<uint64_t>)> done) {
  auto& st = self->state;
  st.owned.insert(partitions.begin(), partitions.end());
  self->request(st.deps.loader, std::chrono::seconds(60), pending_atom::value, partitions)
      .then(
          [self, done, partitions](std::vector<std::string>& ids) {
            auto& st = self->state;
            st.recovered.insert(partitions.begin(), partitions.end());
            st.may_have_pending.insert(ids.begin(), ids.end());
            uint64_t started = 0;
            uint64_t skipped = 0;
            for (const auto& id : ids) {
              auto config = st.configs.find(id);
              if (st.draining || config == st.configs.end() || !is_active(*config->second)) {
                ++skipped;
                continue;
              }
              if (st.endpoints.count(id) != 0) continue;  // already running: it loaded itself
              spawn_for(self, id);
              ++started;
            }
            if (st.deps.log)
              st.deps.log->info(
                  "recovery: {} webhooks with pending deliveries, {} endpoint actors started, {} "
                  "skipped (paused, disabled or unknown)",
                  ids.size(), started, skipped);
            done(started);
          },
          [done](caf::error& err) { done(std::move(err)); });
}

/// Recovery at start: retried until the store answers.
void recover_at_start(supervisor_pointer self, std::vector<int> partitions) {
  recover(self, partitions, [self, partitions](caf::expected<uint64_t> result) {
    if (result) return;
    auto& st = self->state;
    if (st.deps.log)
      st.deps.log->warn("recovery failed ({}), retry in {} ms",
                        self->system().render(result.error()),
                        st.deps.settings.recovery_retry.count());
    self->delayed_send(self, st.deps.settings.recovery_retry, recovery_retry_atom::value,
                       partitions);
  });
}

endpoint_supervisor_actor::behavior_type supervisor_behavior(supervisor_pointer self,
                                                             supervisor_deps deps) {
  auto& st = self->state;
  st.deps = std::move(deps);
  st.configs.reserve(st.deps.webhooks.size());
  for (auto& w : st.deps.webhooks) {
    std::string id = w.id;
    st.configs[id] = std::make_shared<const webhook>(std::move(w));
  }
  std::vector<webhook>().swap(st.deps.webhooks);  // clear() would keep the whole buffer
  self->set_down_handler([self](caf::down_msg& dm) { on_endpoint_down(self, dm); });
  self->set_exit_handler([self](caf::exit_msg& msg) {
    for (auto& [id, entry] : self->state.endpoints)
      if (entry.handle) self->send_exit(entry.handle, caf::exit_reason::user_shutdown);
    self->state.endpoints.clear();
    self->state.by_address.clear();
    self->quit(msg.reason);
  });
  if (st.deps.dlq)
    self->send(st.deps.dlq, subscribe_atom::value, caf::actor_cast<replay_target_actor>(self));
  if (!st.deps.settings.partitions.empty()) recover_at_start(self, st.deps.settings.partitions);

  return {
      [self](deliver_atom, std::vector<delivery_job>& jobs) {
        auto& st = self->state;
        std::unordered_map<std::string, std::vector<delivery_job>> by_webhook;
        for (auto& job : jobs) by_webhook[job.row.webhook_id].push_back(std::move(job));
        for (auto& [id, group] : by_webhook) {
          auto config = st.configs.find(id);
          if (st.draining || config == st.configs.end() || !is_active(*config->second)) {
            st.counters.jobs_left_in_store += group.size();
            st.may_have_pending.insert(id);
            continue;
          }
          auto existing = st.endpoints.find(id);
          endpoint_entry& entry = existing != st.endpoints.end()
                                      ? existing->second
                                      : spawn_for(self, id, needs_load(self, id));
          if (entry.restart_pending) {  // the restarted actor loads them
            st.counters.jobs_left_in_store += group.size();
            st.may_have_pending.insert(id);
            continue;
          }
          auto priority = priority_of(config->second->priority);
          for (auto& job : group) job.priority = priority;
          entry.sent += group.size();
          st.counters.jobs_forwarded += group.size();
          self->send(entry.handle, deliver_atom::value, std::move(group));
        }
      },
      [self](changed_atom, webhook& w) -> caf::ok_atom {
        apply_change(self, std::make_shared<const webhook>(std::move(w)));
        return caf::ok_atom::value;
      },
      [self](removed_atom, const std::string&, const std::string& webhook_id) -> caf::ok_atom {
        self->state.configs.erase(webhook_id);
        stop_endpoint(self, webhook_id);
        self->state.may_have_pending.erase(webhook_id);
        return caf::ok_atom::value;
      },
      [](changed_atom, const source&) -> caf::ok_atom { return caf::ok_atom::value; },
      [](removed_atom, source_atom, const std::string&) -> caf::ok_atom {
        return caf::ok_atom::value;
      },
      [self](idle_atom, const std::string& webhook_id, uint64_t received) {
        auto& st = self->state;
        auto found = st.endpoints.find(webhook_id);
        if (found == st.endpoints.end() || !found->second.handle) return;
        if (caf::actor_cast<caf::actor_addr>(self->current_sender()) !=
            found->second.handle.address())
          return;                                    // a report of an incarnation that is gone
        if (received != found->second.sent) return;  // jobs are still in its mailbox
        stop_endpoint(self, webhook_id);
        st.counters.idle_stops += 1;
      },
      [self](recover_atom, std::vector<int>& partitions) -> caf::result<uint64_t> {
        auto rp = self->make_response_promise<uint64_t>();
        recover(self, std::move(partitions), [rp](caf::expected<uint64_t> result) mutable {
          if (result)
            rp.deliver(*result);
          else
            rp.deliver(result.error());
        });
        return rp;
      },
      [self](drain_atom) -> caf::result<caf::ok_atom> {
        auto& st = self->state;
        st.draining = true;
        std::vector<endpoint_actor> live;
        for (auto& [id, entry] : st.endpoints)
          if (entry.handle) live.push_back(entry.handle);
        if (live.empty()) return caf::ok_atom::value;
        auto rp = self->make_response_promise<caf::ok_atom>();
        auto outstanding = std::make_shared<std::size_t>(live.size());
        auto finish_one = [rp, outstanding]() mutable {
          if (--*outstanding == 0) rp.deliver(caf::ok_atom::value);
        };
        for (auto& handle : live)
          self->request(handle, st.deps.settings.drain_timeout, drain_atom::value)
              .then([finish_one](caf::ok_atom) mutable { finish_one(); },
                    [self, finish_one](caf::error& err) mutable {
                      if (self->state.deps.log)
                        self->state.deps.log->warn("an endpoint did not drain in time: {}",
                                                   self->system().render(err));
                      finish_one();
                    });
        return rp;
      },
      [self](state_atom) -> caf::result<supervisor_state> {
        auto& st = self->state;
        auto snapshot = std::make_shared<supervisor_state>(st.counters);
        snapshot->draining = st.draining;
        for (auto& [id, config] : st.configs)
          if (is_active(*config)) snapshot->webhooks += 1;
        std::vector<std::pair<std::string, endpoint_actor>> live;
        for (auto& [id, entry] : st.endpoints)
          if (entry.handle) live.emplace_back(id, entry.handle);
        snapshot->live = live.size();
        if (live.empty()) return *snapshot;
        auto rp = self->make_response_promise<supervisor_state>();
        auto outstanding = std::make_shared<std::size_t>(live.size());
        auto finish_one = [rp, outstanding, snapshot]() mutable {
          if (--*outstanding == 0) rp.deliver(*snapshot);
        };
        for (auto& [id, handle] : live)
          self->request(handle, st.deps.settings.state_timeout, state_atom::value)
              .then(
                  [snapshot, finish_one](endpoint_state& s) mutable {
                    snapshot->endpoints.push_back(std::move(s));
                    finish_one();
                  },
                  [snapshot, finish_one, id = id](caf::error&) mutable {
                    snapshot->unanswered.push_back(id);
                    finish_one();
                  });
        return rp;
      },
      [self](subscribe_atom, const manager_actor& manager) -> caf::result<caf::ok_atom> {
        auto rp = self->make_response_promise<caf::ok_atom>();
        self->request(manager, self->state.deps.settings.subscribe_timeout, subscribe_atom::value,
                      caf::actor_cast<caf::actor>(self))
            .then(
                [self, rp](const webhook_snapshot& snapshot) mutable {
                  // The manager's changes from now on arrive after this reply (one sender, FIFO).
                  apply_snapshot(self, *snapshot.webhooks);
                  if (self->state.deps.log)
                    self->state.deps.log->info(
                        "endpoint supervisor: subscribed to the manager, {} webhooks",
                        snapshot.webhooks->size());
                  rp.deliver(caf::ok_atom::value);
                },
                [self, rp](caf::error& err) mutable {
                  if (self->state.deps.log)
                    self->state.deps.log->error(
                        "endpoint supervisor: subscribing to the manager failed: {}",
                        self->system().render(err));
                  rp.deliver(std::move(err));
                });
        return rp;
      },
      [self](subscribe_atom, restart_observer_actor observer) {
        self->state.restart_observer = std::move(observer);
      },
      [self](restart_atom, const std::string& webhook_id, uint64_t generation) {
        auto& st = self->state;
        auto found = st.endpoints.find(webhook_id);
        if (found == st.endpoints.end() || !found->second.restart_pending ||
            found->second.restart_generation != generation)
          return;
        auto config = st.configs.find(webhook_id);
        if (st.draining || config == st.configs.end() || !is_active(*config->second)) {
          st.endpoints.erase(found);
          return;
        }
        spawn_for(self, webhook_id);
      },
      [self](recovery_retry_atom, std::vector<int>& partitions) {
        recover_at_start(self, std::move(partitions));
      },
  };
}

}  // namespace

endpoint_supervisor_actor spawn_endpoint_supervisor(caf::actor_system& system,
                                                    supervisor_deps deps) {
  return system.spawn(supervisor_behavior, std::move(deps));
}

}  // namespace webhookd
