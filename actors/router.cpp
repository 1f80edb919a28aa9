#include "actors/router.hpp"

#include <algorithm>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/delivery_body.hpp"
#include "core/event_types.hpp"
#include "core/ids.hpp"
#include "core/rate_window.hpp"
#include "core/trigger_filter.hpp"

namespace webhookd {

namespace {

priority_level priority_of(const std::string& name) {
  if (name == "high") return priority_level::high;
  if (name == "bulk") return priority_level::bulk;
  return priority_level::standard;
}

// One active webhook as the index needs it.
struct subscription {
  std::string webhook_id;
  std::string client_id;
  std::vector<std::string> patterns;
  trigger_filter filter;
  int partition = 0;
  priority_level priority = priority_level::standard;
};

// The active webhooks of one client, by pattern shape.
struct client_index {
  std::unordered_map<std::string, std::vector<const subscription*>> exact;
  std::vector<std::pair<std::string, const subscription*>> prefixes;  // pattern, webhook
  std::vector<const subscription*> all;

  bool empty() const { return exact.empty() && prefixes.empty() && all.empty(); }
};

const webhook& row_of(const webhook& w) {
  return w;
}

const webhook& row_of(const shared_webhook& w) {
  return *w;
}

// The subscription index. Not thread-safe: owned by the router actor.
class routing_table {
 public:
  explicit routing_table(std::shared_ptr<spdlog::logger> log) : log_(std::move(log)) {}

  // Replaces every webhook with `webhooks`, rows or shared rows (the non-active ones are left
  // out).
  template <class Rows>
  void reset_webhooks(const Rows& webhooks) {
    clients_.clear();
    by_id_.clear();
    for (const auto& w : webhooks) put_webhook(row_of(w));
  }

  // Inserts or replaces `w`; a webhook that is not active is removed.
  void put_webhook(const webhook& w) {
    remove_webhook(w.id);
    if (w.status != "active") return;
    auto sub = std::make_unique<subscription>();
    sub->webhook_id = w.id;
    sub->client_id = w.client_id;
    sub->partition = partition_of(w.id);
    sub->priority = priority_of(w.priority);
    if (!w.trigger_conditions.empty()) {
      auto parsed = parse_trigger_filter_text(w.trigger_conditions);
      if (!parsed) {
        // Registration validates filters, so this is a corrupt row: routing it anyway would
        // deliver what the client filtered out.
        if (log_) {
          log_->error("router: webhook {} has an invalid trigger filter ({}); it gets no events",
                      w.id, parsed.err().to_string());
        }
        return;
      }
      sub->filter = std::move(parsed.value());
    }
    client_index& index = clients_[w.client_id];
    const subscription* raw = sub.get();
    for (const auto& pattern : w.event_types) {
      if (!is_valid_event_pattern(pattern)) {
        if (log_) log_->warn("router: webhook {} has an invalid pattern '{}'", w.id, pattern);
        continue;
      }
      sub->patterns.push_back(pattern);
      switch (event_pattern_kind_of(pattern)) {
        case event_pattern_kind::exact:
          index.exact[pattern].push_back(raw);
          break;
        case event_pattern_kind::prefix:
          index.prefixes.emplace_back(pattern, raw);
          break;
        case event_pattern_kind::all:
          index.all.push_back(raw);
          break;
      }
    }
    if (index.empty()) clients_.erase(w.client_id);
    by_id_.emplace(w.id, std::move(sub));
  }

  void remove_webhook(const std::string& webhook_id) {
    auto found = by_id_.find(webhook_id);
    if (found == by_id_.end()) return;
    const subscription* raw = found->second.get();
    auto client = clients_.find(raw->client_id);
    if (client != clients_.end()) {
      client_index& index = client->second;
      for (const auto& pattern : raw->patterns) {
        auto list = index.exact.find(pattern);
        if (list == index.exact.end()) continue;
        auto& subs = list->second;
        subs.erase(std::remove(subs.begin(), subs.end(), raw), subs.end());
        if (subs.empty()) index.exact.erase(list);
      }
      auto& prefixes = index.prefixes;
      prefixes.erase(std::remove_if(prefixes.begin(), prefixes.end(),
                                    [raw](const auto& entry) { return entry.second == raw; }),
                     prefixes.end());
      index.all.erase(std::remove(index.all.begin(), index.all.end(), raw), index.all.end());
      if (index.empty()) clients_.erase(client);
    }
    by_id_.erase(found);
  }

  // The deliveries of `ev`, appended to `out.jobs`.
  void route(routed_event& out, id_generator& ids, int64_t now) {
    const event& ev = out.ev;
    auto client = clients_.find(ev.client_id);
    if (client == clients_.end()) return;
    const client_index& index = client->second;
    candidates_.clear();
    if (auto exact = index.exact.find(ev.event_type); exact != index.exact.end()) {
      candidates_.insert(candidates_.end(), exact->second.begin(), exact->second.end());
    }
    for (const auto& [pattern, sub] : index.prefixes) {
      if (pattern_matches(pattern, ev.event_type)) candidates_.push_back(sub);
    }
    candidates_.insert(candidates_.end(), index.all.begin(), index.all.end());
    if (candidates_.empty()) return;
    // A webhook subscribed through several matching patterns gets one delivery.
    std::sort(candidates_.begin(), candidates_.end());
    candidates_.erase(std::unique(candidates_.begin(), candidates_.end()), candidates_.end());

    std::string body = delivery_body(ev);
    nlohmann::json body_json;
    bool parsed = false;
    bool parse_failed = false;
    for (const subscription* sub : candidates_) {
      if (!sub->filter.empty()) {
        if (!parsed) {
          parsed = true;
          body_json = nlohmann::json::parse(body, nullptr, false);
          parse_failed = body_json.is_discarded();
          if (parse_failed && log_) {
            log_->error("router: the body of event {} of client {} is not JSON", ev.event_id,
                        ev.client_id);
          }
        }
        if (parse_failed || !sub->filter.matches(body_json)) continue;
      }
      delivery_job job;
      job.row.id = ids.next("msg");
      job.row.client_id = ev.client_id;
      job.row.event_id = ev.event_id;
      job.row.event_type = ev.event_type;
      job.row.webhook_id = sub->webhook_id;
      job.row.partition = sub->partition;
      job.row.status = delivery_status::pending;
      job.row.next_attempt_at = now;
      job.row.created_at = now;
      job.row.updated_at = now;
      job.body = body;
      job.priority = sub->priority;
      out.jobs.push_back(std::move(job));
    }
  }

  router_stats stats() const {
    router_stats out;
    out.webhooks = static_cast<int64_t>(by_id_.size());
    out.clients = static_cast<int64_t>(clients_.size());
    return out;
  }

 private:
  std::shared_ptr<spdlog::logger> log_;
  std::unordered_map<std::string, client_index> clients_;
  std::unordered_map<std::string, std::unique_ptr<subscription>> by_id_;
  std::vector<const subscription*> candidates_;  // scratch space of route()
};

struct router_state {
  std::unique_ptr<routing_table> table;
  std::shared_ptr<source_directory> sources;
  std::unique_ptr<id_generator> ids;
  const clock_source* clock = nullptr;
  std::shared_ptr<spdlog::logger> log;
  std::chrono::milliseconds subscribe_timeout{10'000};
  int64_t routed_events = 0;
  int64_t routed_deliveries = 0;
  rate_window event_rate;
  rate_window delivery_rate;

  static const char* name;
};

const char* router_state::name = "router";

router_actor::behavior_type router_behavior(router_actor::stateful_pointer<router_state> self,
                                            router_deps deps) {
  auto& st = self->state;
  st.clock = deps.clock;
  st.log = deps.log;
  st.subscribe_timeout = deps.subscribe_timeout;
  st.ids = std::make_unique<id_generator>(*deps.clock, deps.id_seed);
  st.table = std::make_unique<routing_table>(deps.log);
  st.table->reset_webhooks(deps.webhooks);
  std::vector<webhook>().swap(deps.webhooks);  // the index has what it needs
  st.sources = deps.directory ? deps.directory : std::make_shared<source_directory>();
  st.sources->reset(deps.sources);
  std::vector<source>().swap(deps.sources);
  return {
      [self](route_atom, std::vector<event>& events) -> std::vector<routed_event> {
        auto& st = self->state;
        int64_t now = st.clock->now_ms();
        std::vector<routed_event> out;
        out.reserve(events.size());
        for (auto& ev : events) {
          out.emplace_back();
          out.back().ev = std::move(ev);
          st.table->route(out.back(), *st.ids, now);
          st.routed_deliveries += static_cast<int64_t>(out.back().jobs.size());
        }
        st.routed_events += static_cast<int64_t>(out.size());
        st.event_rate.add(now, out.size());
        uint64_t jobs = 0;
        for (const auto& item : out) jobs += item.jobs.size();
        st.delivery_rate.add(now, jobs);
        return out;
      },
      [self](source_atom, const std::string& api_key) -> source_lookup {
        return self->state.sources->find(api_key);
      },
      [self](changed_atom, const webhook& w) -> caf::ok_atom {
        self->state.table->put_webhook(w);
        return caf::ok_atom::value;
      },
      [self](removed_atom, const std::string&, const std::string& webhook_id) -> caf::ok_atom {
        self->state.table->remove_webhook(webhook_id);
        return caf::ok_atom::value;
      },
      [self](changed_atom, const source& s) -> caf::ok_atom {
        self->state.sources->put(s);
        return caf::ok_atom::value;
      },
      [self](removed_atom, source_atom, const std::string& source_id) -> caf::ok_atom {
        self->state.sources->remove(source_id);
        return caf::ok_atom::value;
      },
      [self](subscribe_atom, const caf::actor& manager) -> caf::result<caf::ok_atom> {
        auto rp = self->make_response_promise<caf::ok_atom>();
        self->request(manager, self->state.subscribe_timeout, subscribe_atom::value,
                      caf::actor_cast<caf::actor>(self))
            .then(
                [self, rp](const webhook_snapshot& snapshot) mutable {
                  // Changes the manager makes from now on arrive after this reply (one sender,
                  // FIFO), so the snapshot plus those changes is the complete picture. The index
                  // copies what it needs; the shared rows stay with the manager and supervisor.
                  self->state.table->reset_webhooks(*snapshot.webhooks);
                  rp.deliver(caf::ok_atom::value);
                },
                [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
        return rp;
      },
      [self](state_atom) -> router_stats {
        router_stats out = self->state.table->stats();
        out.sources = static_cast<int64_t>(self->state.sources->size());
        out.routed_events = self->state.routed_events;
        out.routed_deliveries = self->state.routed_deliveries;
        int64_t now = self->state.clock->now_ms();
        out.events_per_second = self->state.event_rate.per_second(now);
        out.deliveries_per_second = self->state.delivery_rate.per_second(now);
        return out;
      },
  };
}

}  // namespace

router_actor spawn_router(caf::actor_system& system, router_deps deps) {
  if (deps.clock == nullptr) throw std::logic_error("spawn_router: a clock is required");
  return system.spawn(router_behavior, std::move(deps));
}

}  // namespace webhookd
