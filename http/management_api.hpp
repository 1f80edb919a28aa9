#pragma once

#include <httplib.h>
#include <spdlog/logger.h>

#include <memory>

#include "core/ssrf_policy.hpp"
#include "http/auth.hpp"
#include "http/manager_client.hpp"
#include "http/reachability.hpp"

namespace webhookd::http {

/// The management routes of the API contract (design section 3), all under /api/v1 and
/// authenticated with a Bearer JWT:
///
/// - `POST /webhooks` (201 with signing_secret and verification), `GET /webhooks` (?limit,
///   ?cursor), `GET|PATCH|DELETE /webhooks/{id}`, `POST /webhooks/{id}/rotate-secret`: the
///   caller's own webhooks; another client's webhook is 404, never 403.
/// - `GET /event-types` (any client; ?limit, ?cursor by name), `POST /event-types` (scope admin).
/// - `POST|GET /sources`, `GET|PATCH|DELETE /sources/{id}` (scope admin).
///
/// Handlers run on HTTP worker threads: they validate the body (management_json.hpp; at most
/// 1 MiB), vet callback URLs with the SSRF policy including DNS resolution (blocking is fine
/// here, never in an actor), check event types against the catalogue and then ask the manager
/// actor with a deadline. Event type patterns: a name must be in the catalogue; `prefix.*` needs
/// at least one catalogue type under the prefix when it is registered (types added later match
/// too); `*` is always accepted.
class management_api {
 public:
  /// Every argument must outlive the routes (the server must stop before they go).
  management_api(const authenticator& auth, const ssrf_policy& policy,
                 const manager_client& manager, const reachability_prober& prober,
                 std::shared_ptr<spdlog::logger> log);

  /// Adds the routes to `routes` (before the server starts).
  void register_routes(httplib::Server& routes);

 private:
  void create_webhook(const httplib::Request& req, httplib::Response& res) const;
  void list_webhooks(const httplib::Request& req, httplib::Response& res) const;
  void get_webhook(const httplib::Request& req, httplib::Response& res) const;
  void patch_webhook(const httplib::Request& req, httplib::Response& res) const;
  void delete_webhook(const httplib::Request& req, httplib::Response& res) const;
  void rotate_secret(const httplib::Request& req, httplib::Response& res) const;
  void list_event_types(const httplib::Request& req, httplib::Response& res) const;
  void create_event_type(const httplib::Request& req, httplib::Response& res) const;
  void create_source(const httplib::Request& req, httplib::Response& res) const;
  void list_sources(const httplib::Request& req, httplib::Response& res) const;
  void get_source(const httplib::Request& req, httplib::Response& res) const;
  void patch_source(const httplib::Request& req, httplib::Response& res) const;
  void delete_source(const httplib::Request& req, httplib::Response& res) const;

  /// Writes `err` and logs server-side failures (5xx).
  void fail(const httplib::Request& req, httplib::Response& res, const api_error& err) const;

  const authenticator& auth_;
  const ssrf_policy& policy_;
  const manager_client& manager_;
  const reachability_prober& prober_;
  std::shared_ptr<spdlog::logger> log_;
};

/// Adds `GET /api/v1/openapi.json`: docs/openapi.json as embedded at build time (no auth).
void register_openapi_route(httplib::Server& routes);

}  // namespace webhookd::http
