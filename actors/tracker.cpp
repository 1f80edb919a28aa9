#include "actors/tracker.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "actors/loader.hpp"
#include "actors/store_writer.hpp"

namespace webhookd {

std::optional<store_failure> store_failure_of(const caf::error& err) {
  if (!err || err.category() != caf::atom("store")) return std::nullopt;
  // make_store_error stores the errc plus one (CAF treats code 0 as "no error").
  const int code = static_cast<int>(err.code()) - 1;
  if (code < static_cast<int>(storage::errc::not_found) ||
      code > static_cast<int>(storage::errc::internal))
    return std::nullopt;
  store_failure out;
  out.code = static_cast<storage::errc>(code);
  const caf::message& context = err.context();
  if (context.match_elements<std::string>()) out.message = context.get_as<std::string>(0);
  return out;
}

namespace {

caf::error not_found_error(const std::string& what) {
  return make_store_error(storage::error{storage::errc::not_found, what + " not found"});
}

/// One blocking worker: answers one request at a time.
void tracker_worker(caf::blocking_actor* self, tracker_deps deps) {
  bool running = true;
  auto fail = [&](const char* what, const storage::error& err) {
    if (deps.log && (err.code == storage::errc::unavailable || err.code == storage::errc::internal))
      deps.log->warn("tracker: {} failed: {}", what, err.message);
    return make_store_error(err);
  };
  // not_found unless the webhook is the client's (an empty id passes).
  auto owns_webhook = [&](const std::string& client_id,
                          const std::string& webhook_id) -> std::optional<caf::error> {
    if (webhook_id.empty()) return std::nullopt;
    auto found = deps.store->get_webhook(client_id, webhook_id);
    if (found) return std::nullopt;
    if (found.err().code == storage::errc::not_found)
      return not_found_error("webhook " + webhook_id);
    return fail("reading a webhook", found.err());
  };
  self->receive_while(running)(
      [&](deliveries_atom, const std::string& client_id,
          const delivery_query& q) -> caf::result<page<delivery>> {
        delivery_filter filter;
        if (!q.status.empty()) {
          filter.status = delivery_status_from_string(q.status);
          if (!filter.status)
            return make_store_error(
                storage::error{storage::errc::invalid, "status: unknown status " + q.status});
        }
        filter.since = q.since;
        filter.until = q.until;
        if (auto refused = owns_webhook(client_id, q.webhook_id)) return std::move(*refused);
        auto listed = deps.store->list_deliveries(client_id, q.webhook_id, filter, q.page);
        if (!listed) return fail("listing deliveries", listed.err());
        return std::move(listed.value());
      },
      [&](deliveries_atom, const std::string& client_id,
          const std::string& event_id) -> caf::result<std::vector<delivery>> {
        auto ev = deps.store->get_event(client_id, event_id);
        if (!ev) {
          if (ev.err().code == storage::errc::not_found)
            return not_found_error("event " + event_id);
          return fail("reading an event", ev.err());
        }
        auto listed = deps.store->list_event_deliveries(client_id, event_id);
        if (!listed) return fail("listing an event's deliveries", listed.err());
        return std::move(listed.value());
      },
      [&](caf::get_atom, const std::string& client_id,
          const std::string& delivery_id) -> caf::result<delivery_detail> {
        auto row = deps.store->get_delivery(client_id, delivery_id);
        if (!row) return fail("reading a delivery", row.err());
        auto attempts = deps.store->list_attempts(client_id, delivery_id);
        if (!attempts) return fail("listing attempts", attempts.err());
        return delivery_detail{std::move(row.value()), std::move(attempts.value())};
      },
      [&](attempts_atom, const std::string& client_id,
          const attempt_feed_request& req) -> caf::result<attempt_feed> {
        if (auto refused = owns_webhook(client_id, req.webhook_id)) return std::move(*refused);
        auto feed = deps.store->list_attempt_feed(client_id, req);
        if (!feed) return fail("reading the attempt feed", feed.err());
        return std::move(feed.value());
      },
      [&](dlq_atom, const std::string& client_id, const dlq_filter& filter,
          const page_request& page) -> caf::result<webhookd::page<dlq_entry>> {
        if (auto refused = owns_webhook(client_id, filter.webhook_id)) return std::move(*refused);
        auto listed = deps.store->list_dlq(client_id, filter, page);
        if (!listed) return fail("listing DLQ entries", listed.err());
        return std::move(listed.value());
      },
      [&](resend_atom, const std::string& client_id,
          const std::string& delivery_id) -> caf::result<delivery> {
        auto resent = deps.store->resend_delivery(client_id, delivery_id, deps.clock->now_ms());
        if (!resent) return fail("resending a delivery", resent.err());
        delivery row = resent.value();
        auto ev = deps.store->get_event(row.client_id, row.event_id);
        if (!ev) {
          // Pending in the store already: the endpoint's next load or a restart's recovery
          // sends it even though no job goes out now.
          if (deps.log)
            deps.log->error("tracker: event {} of resent delivery {} unreadable: {}", row.event_id,
                            row.id, ev.err().message);
          return row;
        }
        if (deps.resend_target) {
          std::vector<storage::pending_delivery> pending;
          pending.push_back(storage::pending_delivery{row, std::move(ev.value())});
          self->send(deps.resend_target, deliver_atom::value,
                     jobs_from_pending(std::move(pending)));
        }
        return row;
      },
      [&](caf::exit_msg&) { running = false; });
}

}  // namespace

tracker_actor spawn_tracker(caf::actor_system& system, tracker_deps deps) {
  if (deps.store == nullptr || deps.clock == nullptr)
    throw std::logic_error("spawn_tracker: a store and a clock are required");
  auto workers = std::max<std::size_t>(deps.workers, 1);
  auto pool = caf::actor_pool::make(
      system.dummy_execution_unit(), workers,
      [&system, deps] { return system.spawn(tracker_worker, deps); },
      caf::actor_pool::round_robin());
  return caf::actor_cast<tracker_actor>(pool);
}

}  // namespace webhookd
