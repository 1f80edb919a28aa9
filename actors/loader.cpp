#include "actors/loader.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "actors/monitor.hpp"
#include "actors/store_writer.hpp"
#include "core/delivery_body.hpp"

namespace webhookd {

std::vector<delivery_job> jobs_from_pending(std::vector<storage::pending_delivery> rows) {
  std::vector<delivery_job> jobs;
  jobs.reserve(rows.size());
  for (auto& p : rows) {
    delivery_job job;
    job.body = delivery_body(p.ev);
    job.row = std::move(p.row);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

namespace {

/// One blocking worker: answers one store read at a time.
void loader_worker(caf::blocking_actor* self, loader_deps deps) {
  bool running = true;
  auto fail = [&](const char* what, const storage::error& err) {
    if (deps.log) deps.log->warn("loader: {} failed: {}", what, err.message);
    return make_store_error(err);
  };
  auto stopping = [&] { return deps.stopping && deps.stopping->load(); };
  auto stopped_error = [] {
    return caf::make_error(caf::sec::request_receiver_down, "the loader is stopping");
  };
  self->receive_while(running)(
      [&](pending_atom,
          const std::vector<int>& partitions) -> caf::result<std::vector<std::string>> {
        if (stopping()) return stopped_error();
        auto ids = deps.store->webhooks_with_pending(partitions);
        if (!ids) return fail("finding webhooks with pending deliveries", ids.err());
        return std::move(ids.value());
      },
      [&](load_atom, const std::string& webhook_id, bool ordered,
          int32_t limit) -> caf::result<std::vector<delivery_job>> {
        if (stopping()) return stopped_error();
        auto rows = deps.store->load_pending_with_events(
            webhook_id, ordered ? storage::pending_order::created : storage::pending_order::due,
            limit);
        if (!rows) return fail("loading pending deliveries", rows.err());
        return jobs_from_pending(std::move(rows.value()));
      },
      [&](replay_atom, const std::string& client_id,
          const std::vector<std::string>& ids) -> caf::result<std::vector<delivery_job>> {
        if (stopping()) return stopped_error();
        auto replayed = deps.store->replay_dlq(client_id, ids, deps.clock->now_ms());
        if (!replayed) return fail("replaying DLQ entries", replayed.err());
        std::vector<storage::pending_delivery> rows;
        for (auto& d : replayed.value()) {
          auto ev = deps.store->get_event(d.client_id, d.event_id);
          if (!ev) {
            // The entry is replayed in the store (pending again): the endpoint's next reload
            // or a restart's recovery picks it up even though no job goes out now.
            if (deps.log)
              deps.log->error("loader: event {} of replayed delivery {} unreadable: {}", d.event_id,
                              d.id, ev.err().message);
            continue;
          }
          rows.push_back(storage::pending_delivery{std::move(d), std::move(ev.value())});
        }
        return jobs_from_pending(std::move(rows));
      },
      // The monitor's ping (actors/monitor.hpp): blocking actors must answer it themselves.
      [&](caf::sys_atom, caf::get_atom, const std::string& what) -> caf::message {
        return health_ping_reply(what, caf::actor_cast<caf::strong_actor_ptr>(self), "loader");
      },
      [&](caf::exit_msg&) { running = false; });
}

}  // namespace

loader_actor spawn_loader(caf::actor_system& system, loader_deps deps) {
  auto workers = std::max<std::size_t>(deps.workers, 1);
  auto pool = caf::actor_pool::make(
      system.dummy_execution_unit(), workers,
      [&system, deps] { return system.spawn(loader_worker, deps); },
      caf::actor_pool::round_robin());
  return caf::actor_cast<loader_actor>(pool);
}

}  // namespace webhookd
