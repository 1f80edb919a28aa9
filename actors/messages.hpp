#pragma once

#include <caf/all.hpp>

#include <memory>
#include <vector>

#include "core/model.hpp"

/// The types that travel between webhookd's actors: CAF inspectors for the domain model and the
/// atoms shared by several actors. An actor's own protocol is declared in its own header.
namespace webhookd {

// Atoms shared across actors (CAF's own add/get/put/delete/ok/update atoms are reused as is).
using create_atom = caf::atom_constant<caf::atom("create")>;
using list_atom = caf::atom_constant<caf::atom("list")>;
using rotate_atom = caf::atom_constant<caf::atom("rotate")>;
using changed_atom = caf::atom_constant<caf::atom("changed")>;
using removed_atom = caf::atom_constant<caf::atom("removed")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using ingest_atom = caf::atom_constant<caf::atom("ingest")>;
using route_atom = caf::atom_constant<caf::atom("route")>;
using commit_atom = caf::atom_constant<caf::atom("commit")>;
using deliver_atom = caf::atom_constant<caf::atom("deliver")>;
using record_atom = caf::atom_constant<caf::atom("record")>;
using disable_atom = caf::atom_constant<caf::atom("disable")>;
using idle_atom = caf::atom_constant<caf::atom("idle")>;
using wake_atom = caf::atom_constant<caf::atom("wake")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using state_atom = caf::atom_constant<caf::atom("state")>;
using event_type_atom = caf::atom_constant<caf::atom("evtype")>;
using source_atom = caf::atom_constant<caf::atom("source")>;

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, webhook& x) {
  return f(caf::meta::type_name("webhook"), x.id, x.client_id, x.callback_url, x.event_types,
           x.trigger_conditions, x.retry_policy, x.rate_limit, x.priority, x.ordered, x.public_key,
           x.encrypt_fields, x.headers, x.description, x.status, x.disabled_reason,
           x.signing_secret, x.previous_secret, x.previous_secret_expires_at, x.created_at,
           x.updated_at, x.timeout_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_type& x) {
  return f(caf::meta::type_name("event_type"), x.name, x.description, x.schema, x.created_at);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, source& x) {
  return f(caf::meta::type_name("source"), x.id, x.name, x.api_key, x.secret, x.allowed_event_types,
           x.ip_allowlist, x.created_at, x.updated_at);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event& x) {
  return f(caf::meta::type_name("event"), x.client_id, x.event_id, x.event_type, x.timestamp,
           x.payload, x.source_id, x.received_at);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivery& x) {
  return f(caf::meta::type_name("delivery"), x.id, x.client_id, x.event_id, x.event_type,
           x.webhook_id, x.partition, x.status, x.attempts, x.next_attempt_at, x.last_error,
           x.created_at, x.updated_at, x.series_start);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, page_request& x) {
  return f(caf::meta::type_name("page_request"), x.after, x.limit);
}

template <class Inspector, class T>
typename Inspector::result_type inspect(Inspector& f, page<T>& x) {
  return f(caf::meta::type_name("page"), x.items, x.next_cursor);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node& x) {
  return f(caf::meta::type_name("node"), x.id, x.address, x.heartbeat_at);
}

/// Delivery priority of a job: served high, then standard, then bulk.
enum class priority_level : uint8_t { high = 0, standard = 1, bulk = 2 };

/// A delivery ready to attempt: its row, the exact body to POST (core/delivery_body.hpp) and its
/// priority. What ingest hands the endpoint supervisor, and what recovery rebuilds from the store.
struct delivery_job {
  delivery row;
  std::string body;
  priority_level priority = priority_level::standard;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivery_job& x) {
  return f(caf::meta::type_name("delivery_job"), x.row, x.body, x.priority);
}

/// A webhook row that nobody changes once it is made: whoever holds one shares it (the manager's
/// snapshot, the endpoint supervisor, an endpoint actor). A change makes a new row.
using shared_webhook = std::shared_ptr<const webhook>;

/// Every webhook that is not disabled, as the manager read it at one moment (its subscription
/// answer). One immutable list shared by every subscriber that gets it: the router indexes it,
/// the endpoint supervisor keeps its rows. Never null when the manager sends it. Local only: it
/// carries pointers, so it can't cross nodes (it is announced as an unsafe message type).
struct webhook_snapshot {
  std::shared_ptr<const std::vector<shared_webhook>> webhooks;
};

/// Registers every custom message type with CAF (needed for messages that cross nodes).
void register_message_types(caf::actor_system_config& cfg);

}  // namespace webhookd

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(webhookd::webhook_snapshot)
