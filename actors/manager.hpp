#pragma once

#include <spdlog/logger.h>
#include <caf/all.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/messages.hpp"
#include "core/clock.hpp"
#include "core/model.hpp"
#include "storage/store.hpp"

/// The manager actor: the only writer of webhooks, event types and sources. It runs detached (it
/// calls the blocking store on its own thread), assigns ids, timestamps and secrets, and tells its
/// subscribers (the router, the endpoint supervisor) about every webhook change before it answers
/// the caller, so no request sees a stale subscription after its write was answered.
namespace webhookd {

/// Why a manager request failed; carried in a caf::error of category manager_error_category.
enum class manager_errc : uint8_t {
  not_found = 1,  ///< no such object, or it belongs to another client
  conflict,       ///< a unique key is taken (event type name, source api key)
  invalid,        ///< the request carries something the manager refuses
  unavailable,    ///< the store can't be reached right now; retrying later may work
  internal,       ///< anything else
};

/// Short stable name of a manager error code ("not_found", ...).
const char* to_string(manager_errc code);

/// The CAF error category of manager errors.
constexpr caf::atom_value manager_error_category = caf::atom("manager");

/// A caf::error of category manager_error_category carrying `code` and `message`.
caf::error make_manager_error(manager_errc code, std::string message);

/// A manager error taken apart: its code and message.
struct manager_failure {
  manager_errc code = manager_errc::internal;
  std::string message;
};

/// The code and message of `err` if it is a manager error; nullopt for any other error
/// (request_timeout, request_receiver_down, ...).
std::optional<manager_failure> manager_failure_of(const caf::error& err);

/// Default grace period of a rotated-out signing secret: 24 hours.
inline constexpr int64_t default_rotation_grace_seconds = 24 * 3600;

/// A partial update of a webhook: the fields named in `fields` ("callback_url", "event_types",
/// "trigger_conditions", "retry_policy", "rate_limit", "priority", "ordered", "public_key",
/// "encrypt_fields", "headers", "description", "timeout_seconds", "status") are copied from
/// `values` onto the stored row; every other field keeps its stored value. Setting "status" to
/// "active" or "paused" clears disabled_reason; setting "disabled" keeps values.disabled_reason (or
/// "disabled by the client" when it is empty). Values are validated by the caller (the HTTP layer).
struct webhook_patch {
  std::string client_id;
  std::string webhook_id;
  webhook values;
  std::vector<std::string> fields;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, webhook_patch& x) {
  return f(caf::meta::type_name("webhook_patch"), x.client_id, x.webhook_id, x.values, x.fields);
}

/// A partial update of a source: the fields named in `fields` ("name", "api_key", "secret",
/// "allowed_event_types", "ip_allowlist") are copied from `values` onto the stored row.
struct source_patch {
  std::string source_id;
  source values;
  std::vector<std::string> fields;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, source_patch& x) {
  return f(caf::meta::type_name("source_patch"), x.source_id, x.values, x.fields);
}

/// The manager's protocol. Every reply is the object or a manager error (make_manager_error);
/// storage errors keep their code (not_found, conflict, invalid, unavailable, internal).
///
/// Webhooks (scoped to a client id; another client's webhook is not_found):
/// - `create_atom, webhook` -> the stored webhook, with a new "wh_" id, a new signing secret,
///   status "active" and created_at = updated_at = now. The caller fills client_id and the
///   validated fields.
/// - `get_atom, client_id, webhook_id` -> webhook.
/// - `list_atom, client_id, page_request` -> page<webhook>, ordered by id.
/// - `update_atom, webhook_patch` -> the updated webhook.
/// - `delete_atom, client_id, webhook_id` -> how many pending deliveries were cancelled.
/// - `rotate_atom, client_id, webhook_id, grace_seconds` -> the webhook with a new signing
///   secret; the old one becomes previous_secret until now + grace_seconds (grace 0 drops it).
/// - `disable_atom, client_id, webhook_id, reason` -> the webhook, now status "disabled" with
///   `reason` (the delivery engine disables failing endpoints this way).
///
/// Event-type catalogue: `event_type_atom, list_atom` -> every type by name;
/// `event_type_atom, create_atom, event_type` -> the stored type (created_at = now; a taken name
/// is conflict).
///
/// Sources: `source_atom, create_atom, source` -> the stored source with a new "src_" id (api_key
/// and secret generated when empty); `source_atom, get_atom, id`; `source_atom, list_atom,
/// page_request`; `source_atom, update_atom, source_patch`; `source_atom, delete_atom, id` ->
/// ok_atom.
///
/// Subscribers: `subscribe_atom, actor` registers `actor` (until it terminates) and replies with
/// a webhook_snapshot (actors/messages.hpp) of every webhook that is not disabled, as of that
/// moment. The snapshot is read from the store once and shared: subscriptions with no webhook
/// write between them get the same immutable rows (the manager keeps the last snapshot until its
/// next webhook write), so subscribers hold pointers to one copy. From then on, after every write
/// the manager sends each subscriber a REQUEST describing it, which the subscriber answers with
/// `ok_atom` once it has applied the change:
/// - webhook create, update, rotate, disable: `changed_atom, webhook` (the whole row, secrets
///   included); webhook delete: `removed_atom, client_id, webhook_id`;
/// - source create, update: `changed_atom, source` (secret included); source delete:
///   `removed_atom, source_atom, source_id`.
/// The manager answers the writer only after every subscriber acknowledged, or after
/// manager_settings::subscriber_timeout (logged as a warning); a subscriber that does not handle
/// a kind of change (unexpected_message) counts as done. Changes reach each subscriber in the
/// order they were made.
using manager_actor = caf::typed_actor<
    caf::replies_to<create_atom, webhook>::with<webhook>,
    caf::replies_to<caf::get_atom, std::string, std::string>::with<webhook>,
    caf::replies_to<list_atom, std::string, page_request>::with<page<webhook>>,
    caf::replies_to<caf::update_atom, webhook_patch>::with<webhook>,
    caf::replies_to<caf::delete_atom, std::string, std::string>::with<int64_t>,
    caf::replies_to<rotate_atom, std::string, std::string, int64_t>::with<webhook>,
    caf::replies_to<disable_atom, std::string, std::string, std::string>::with<webhook>,
    caf::replies_to<event_type_atom, list_atom>::with<std::vector<event_type>>,
    caf::replies_to<event_type_atom, create_atom, event_type>::with<event_type>,
    caf::replies_to<source_atom, create_atom, source>::with<source>,
    caf::replies_to<source_atom, caf::get_atom, std::string>::with<source>,
    caf::replies_to<source_atom, list_atom, page_request>::with<page<source>>,
    caf::replies_to<source_atom, caf::update_atom, source_patch>::with<source>,
    caf::replies_to<source_atom, caf::delete_atom, std::string>::with<caf::ok_atom>,
    caf::replies_to<subscribe_atom, caf::actor>::with<webhook_snapshot>>;

/// Tuning of the manager.
struct manager_settings {
  /// How long a write waits for its subscribers' acknowledgements before answering anyway.
  std::chrono::milliseconds subscriber_timeout{2000};
};

/// What the manager works with. `store` and `clock` must outlive the actor.
struct manager_deps {
  storage::blocking_store* store = nullptr;
  const clock_source* clock = nullptr;
  std::shared_ptr<spdlog::logger> log;  ///< may be null
  manager_settings settings;
};

/// Spawns the manager detached (its own thread: it blocks on the store). Stop it with
/// anon_send_exit before awaiting the actor system.
manager_actor spawn_manager(caf::actor_system& system, manager_deps deps);

}  // namespace webhookd
