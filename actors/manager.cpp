#include "actors/manager.hpp"

#include <algorithm>
#include <functional>
#include <stdexcept>
#include <utility>

#include "core/crypto.hpp"
#include "core/event_types.hpp"
#include "core/ids.hpp"

namespace webhookd {

const char* to_string(manager_errc code) {
  switch (code) {
    case manager_errc::not_found:
      return "not_found";
    case manager_errc::conflict:
      return "conflict";
    case manager_errc::invalid:
      return "invalid";
    case manager_errc::unavailable:
      return "unavailable";
    case manager_errc::internal:
      return "internal";
  }
  return "internal";
}

caf::error make_manager_error(manager_errc code, std::string message) {
  return caf::error(static_cast<uint8_t>(code), manager_error_category,
                    caf::make_message(std::move(message)));
}

std::optional<manager_failure> manager_failure_of(const caf::error& err) {
  if (!err || err.category() != manager_error_category) return std::nullopt;
  uint8_t code = err.code();
  if (code < static_cast<uint8_t>(manager_errc::not_found) ||
      code > static_cast<uint8_t>(manager_errc::internal)) {
    return std::nullopt;
  }
  manager_failure out;
  out.code = static_cast<manager_errc>(code);
  const caf::message& context = err.context();
  if (context.match_elements<std::string>()) out.message = context.get_as<std::string>(0);
  return out;
}

namespace {

caf::error from_store(const storage::error& err) {
  switch (err.code) {
    case storage::errc::not_found:
      return make_manager_error(manager_errc::not_found, err.message);
    case storage::errc::conflict:
      return make_manager_error(manager_errc::conflict, err.message);
    case storage::errc::invalid:
      return make_manager_error(manager_errc::invalid, err.message);
    case storage::errc::unavailable:
      return make_manager_error(manager_errc::unavailable, err.message);
    case storage::errc::internal:
      return make_manager_error(manager_errc::internal, err.message);
  }
  return make_manager_error(manager_errc::internal, err.message);
}

bool has_field(const std::vector<std::string>& fields, const char* name) {
  return std::find(fields.begin(), fields.end(), name) != fields.end();
}

struct manager_state {
  storage::blocking_store* store = nullptr;
  const clock_source* clock = nullptr;
  std::shared_ptr<spdlog::logger> log;
  manager_settings settings;
  std::unique_ptr<id_generator> ids;
  std::vector<caf::actor> subscribers;
  // The last subscription snapshot, shared with every subscriber that got it; dropped at the
  // first webhook write after it, so it never answers a subscription with a stale row.
  std::shared_ptr<const std::vector<shared_webhook>> snapshot;

  static const char* name;
};

const char* manager_state::name = "manager";

using manager_pointer = manager_actor::stateful_pointer<manager_state>;

// Sends every subscriber `args...` as a request and calls `done` once each acknowledged, failed or
// timed out. Calls `done` at once when there are no subscribers.
template <class... Ts>
void notify_subscribers(manager_pointer self, std::function<void()> done, const Ts&... args) {
  auto& subscribers = self->state.subscribers;
  if (subscribers.empty()) {
    done();
    return;
  }
  auto outstanding = std::make_shared<std::size_t>(subscribers.size());
  auto shared_done = std::make_shared<std::function<void()>>(std::move(done));
  auto finish_one = [outstanding, shared_done] {
    if (--*outstanding == 0) (*shared_done)();
  };
  for (const auto& subscriber : subscribers) {
    self->request(subscriber, self->state.settings.subscriber_timeout, args...)
        .then([finish_one](caf::ok_atom) { finish_one(); },
              [self, finish_one, subscriber](caf::error& err) {
                if (self->state.log) {
                  // A subscriber that does not take this kind of change says so at once.
                  auto level = err == caf::sec::unexpected_message ? spdlog::level::debug
                                                                   : spdlog::level::warn;
                  self->state.log->log(
                      level, "manager: subscriber {} did not acknowledge a change: {}",
                      caf::to_string(subscriber.address()), self->system().render(err));
                }
                finish_one();
              });
  }
}

// Tells the subscribers about `x` (a webhook or a source) and then delivers it to `rp`.
template <class T>
void publish_change(manager_pointer self, caf::typed_response_promise<T> rp, T x) {
  auto done = [rp, x]() mutable { rp.deliver(x); };
  notify_subscribers(self, done, changed_atom::value, x);
}

// Writes `w` (already changed) and publishes it; the reply goes to the current request.
caf::result<webhook> store_and_publish(manager_pointer self, webhook w) {
  self->state.snapshot.reset();
  auto written = self->state.store->update_webhook(w);
  if (!written) return from_store(written.err());
  auto rp = self->make_response_promise<webhook>();
  publish_change(self, rp, std::move(w));
  return rp;
}

void apply_patch(webhook& row, const webhook_patch& patch) {
  const webhook& v = patch.values;
  const auto& f = patch.fields;
  if (has_field(f, "callback_url")) row.callback_url = v.callback_url;
  if (has_field(f, "event_types")) row.event_types = v.event_types;
  if (has_field(f, "trigger_conditions")) row.trigger_conditions = v.trigger_conditions;
  if (has_field(f, "retry_policy")) row.retry_policy = v.retry_policy;
  if (has_field(f, "rate_limit")) row.rate_limit = v.rate_limit;
  if (has_field(f, "priority")) row.priority = v.priority;
  if (has_field(f, "ordered")) row.ordered = v.ordered;
  if (has_field(f, "public_key")) row.public_key = v.public_key;
  if (has_field(f, "encrypt_fields")) row.encrypt_fields = v.encrypt_fields;
  if (has_field(f, "headers")) row.headers = v.headers;
  if (has_field(f, "description")) row.description = v.description;
  if (has_field(f, "timeout_seconds")) row.timeout_ms = v.timeout_ms;
  if (has_field(f, "status")) {
    row.status = v.status;
    if (row.status == "disabled") {
      row.disabled_reason =
          v.disabled_reason.empty() ? std::string("disabled by the client") : v.disabled_reason;
    } else {
      row.disabled_reason.clear();
    }
  }
}

void apply_patch(source& row, const source_patch& patch) {
  const source& v = patch.values;
  const auto& f = patch.fields;
  if (has_field(f, "name")) row.name = v.name;
  if (has_field(f, "api_key")) row.api_key = v.api_key;
  if (has_field(f, "secret")) row.secret = v.secret;
  if (has_field(f, "allowed_event_types")) row.allowed_event_types = v.allowed_event_types;
  if (has_field(f, "ip_allowlist")) row.ip_allowlist = v.ip_allowlist;
}

// A time strictly after `previous` (so every write changes updated_at), normally now.
int64_t next_update_time(manager_pointer self, int64_t previous) {
  return std::max(self->state.clock->now_ms(), previous + 1);
}

// "prefix" + lower-case hex of `bytes` random bytes, or an internal error.
caf::expected<std::string> random_token(const char* prefix, std::size_t bytes) {
  auto random = random_bytes(bytes);
  if (!random) return make_manager_error(manager_errc::internal, random.err().message);
  return std::string(prefix) + hex_encode(random.value());
}

// `rows` as shared immutable rows (their strings move, nothing is copied).
std::shared_ptr<const std::vector<shared_webhook>> share_rows(std::vector<webhook> rows) {
  auto out = std::make_shared<std::vector<shared_webhook>>();
  out->reserve(rows.size());
  for (auto& row : rows) out->push_back(std::make_shared<const webhook>(std::move(row)));
  return out;
}

bool valid_status(const std::string& status) {
  return status == "active" || status == "paused" || status == "disabled";
}

manager_actor::behavior_type manager_behavior(manager_pointer self, manager_deps deps) {
  self->state.store = deps.store;
  self->state.clock = deps.clock;
  self->state.log = std::move(deps.log);
  self->state.settings = deps.settings;
  self->state.ids = std::make_unique<id_generator>(*deps.clock);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& subs = self->state.subscribers;
    subs.erase(std::remove_if(subs.begin(), subs.end(),
                              [&](const caf::actor& a) { return a.address() == msg.source; }),
               subs.end());
  });
  auto* store = self->state.store;
  return {
      // --- webhooks ---
      [self, store](create_atom, webhook w) -> caf::result<webhook> {
        if (w.client_id.empty() || w.callback_url.empty() || w.event_types.empty()) {
          return make_manager_error(manager_errc::invalid,
                                    "a webhook needs a client, a callback_url and event_types");
        }
        auto secret = new_signing_secret();
        if (!secret) return make_manager_error(manager_errc::internal, secret.err().message);
        w.id = self->state.ids->next("wh");
        w.signing_secret = secret.value();
        w.previous_secret.clear();
        w.previous_secret_expires_at = 0;
        w.status = "active";
        w.disabled_reason.clear();
        w.created_at = w.updated_at = self->state.clock->now_ms();
        self->state.snapshot.reset();
        auto inserted = store->insert_webhook(w);
        if (!inserted) return from_store(inserted.err());
        auto rp = self->make_response_promise<webhook>();
        publish_change(self, rp, std::move(w));
        return rp;
      },
      [store](caf::get_atom, const std::string& client_id,
              const std::string& id) -> caf::result<webhook> {
        auto got = store->get_webhook(client_id, id);
        if (!got) return from_store(got.err());
        return std::move(got.value());
      },
      [store](list_atom, const std::string& client_id,
              const page_request& req) -> caf::result<page<webhook>> {
        auto got = store->list_webhooks(client_id, req);
        if (!got) return from_store(got.err());
        return std::move(got.value());
      },
      [self, store](caf::update_atom, const webhook_patch& patch) -> caf::result<webhook> {
        if (has_field(patch.fields, "status") && !valid_status(patch.values.status)) {
          return make_manager_error(manager_errc::invalid,
                                    "status must be active, paused or disabled");
        }
        auto got = store->get_webhook(patch.client_id, patch.webhook_id);
        if (!got) return from_store(got.err());
        webhook row = std::move(got.value());
        apply_patch(row, patch);
        row.updated_at = next_update_time(self, row.updated_at);
        return store_and_publish(self, std::move(row));
      },
      [self, store](caf::delete_atom, const std::string& client_id,
                    const std::string& id) -> caf::result<int64_t> {
        self->state.snapshot.reset();
        auto deleted = store->delete_webhook(client_id, id);
        if (!deleted) return from_store(deleted.err());
        auto rp = self->make_response_promise<int64_t>();
        int64_t cancelled = deleted.value();
        notify_subscribers(
            self, [rp, cancelled]() mutable { rp.deliver(cancelled); }, removed_atom::value,
            client_id, id);
        return rp;
      },
      [self, store](rotate_atom, const std::string& client_id, const std::string& id,
                    int64_t grace_seconds) -> caf::result<webhook> {
        if (grace_seconds < 0) {
          return make_manager_error(manager_errc::invalid, "the grace period must not be negative");
        }
        auto got = store->get_webhook(client_id, id);
        if (!got) return from_store(got.err());
        auto secret = new_signing_secret();
        if (!secret) return make_manager_error(manager_errc::internal, secret.err().message);
        webhook row = std::move(got.value());
        int64_t now = self->state.clock->now_ms();
        if (grace_seconds > 0) {
          row.previous_secret = row.signing_secret;
          row.previous_secret_expires_at = now + grace_seconds * 1000;
        } else {
          row.previous_secret.clear();
          row.previous_secret_expires_at = 0;
        }
        row.signing_secret = secret.value();
        row.updated_at = next_update_time(self, row.updated_at);
        return store_and_publish(self, std::move(row));
      },
      [self, store](disable_atom, const std::string& client_id, const std::string& id,
                    const std::string& reason) -> caf::result<webhook> {
        auto got = store->get_webhook(client_id, id);
        if (!got) return from_store(got.err());
        webhook row = std::move(got.value());
        row.status = "disabled";
        row.disabled_reason = reason.empty() ? std::string("disabled by webhookd") : reason;
        row.updated_at = next_update_time(self, row.updated_at);
        return store_and_publish(self, std::move(row));
      },

      // --- event types ---
      [store](event_type_atom, list_atom) -> caf::result<std::vector<event_type>> {
        auto got = store->list_event_types();
        if (!got) return from_store(got.err());
        return std::move(got.value());
      },
      [self, store](event_type_atom, create_atom, event_type t) -> caf::result<event_type> {
        if (auto why = event_type_name_error(t.name)) {
          return make_manager_error(manager_errc::invalid, "name: " + *why);
        }
        t.created_at = self->state.clock->now_ms();
        auto inserted = store->insert_event_type(t);
        if (!inserted) return from_store(inserted.err());
        return t;
      },

      // --- sources ---
      [self, store](source_atom, create_atom, source s) -> caf::result<source> {
        if (s.name.empty()) {
          return make_manager_error(manager_errc::invalid, "a source needs a name");
        }
        if (s.api_key.empty()) {
          auto key = random_token("sk_", 24);
          if (!key) return key.error();
          s.api_key = std::move(*key);
        }
        if (s.secret.empty()) {
          auto secret = random_token("", 32);
          if (!secret) return secret.error();
          s.secret = std::move(*secret);
        }
        s.id = self->state.ids->next("src");
        s.created_at = s.updated_at = self->state.clock->now_ms();
        auto inserted = store->insert_source(s);
        if (!inserted) return from_store(inserted.err());
        auto rp = self->make_response_promise<source>();
        publish_change(self, rp, std::move(s));
        return rp;
      },
      [store](source_atom, caf::get_atom, const std::string& id) -> caf::result<source> {
        auto got = store->get_source(id);
        if (!got) return from_store(got.err());
        return std::move(got.value());
      },
      [store](source_atom, list_atom, const page_request& req) -> caf::result<page<source>> {
        auto got = store->list_sources(req);
        if (!got) return from_store(got.err());
        return std::move(got.value());
      },
      [self, store](source_atom, caf::update_atom,
                    const source_patch& patch) -> caf::result<source> {
        auto got = store->get_source(patch.source_id);
        if (!got) return from_store(got.err());
        source row = std::move(got.value());
        apply_patch(row, patch);
        if (row.name.empty() || row.api_key.empty() || row.secret.empty()) {
          return make_manager_error(manager_errc::invalid,
                                    "a source's name, api_key and secret must not be empty");
        }
        row.updated_at = std::max(self->state.clock->now_ms(), row.updated_at + 1);
        auto written = store->update_source(row);
        if (!written) return from_store(written.err());
        auto rp = self->make_response_promise<source>();
        publish_change(self, rp, std::move(row));
        return rp;
      },
      [self, store](source_atom, caf::delete_atom,
                    const std::string& id) -> caf::result<caf::ok_atom> {
        auto deleted = store->delete_source(id);
        if (!deleted) return from_store(deleted.err());
        auto rp = self->make_response_promise<caf::ok_atom>();
        notify_subscribers(
            self, [rp]() mutable { rp.deliver(caf::ok_atom::value); }, removed_atom::value,
            source_atom::value, id);
        return rp;
      },

      // --- subscribers ---
      [self, store](subscribe_atom, caf::actor subscriber) -> caf::result<webhook_snapshot> {
        auto& st = self->state;
        if (!st.snapshot) {
          auto loaded = store->load_webhooks();
          if (!loaded) return from_store(loaded.err());
          st.snapshot = share_rows(std::move(loaded.value()));
        }
        auto& subs = st.subscribers;
        if (std::find(subs.begin(), subs.end(), subscriber) == subs.end()) {
          self->monitor(subscriber);
          subs.push_back(std::move(subscriber));
        }
        return webhook_snapshot{st.snapshot};
      },
  };
}

}  // namespace

manager_actor spawn_manager(caf::actor_system& system, manager_deps deps) {
  if (deps.store == nullptr || deps.clock == nullptr) {
    throw std::logic_error("spawn_manager: a store and a clock are required");
  }
  return system.spawn<caf::detached>(manager_behavior, std::move(deps));
}

}  // namespace webhookd
