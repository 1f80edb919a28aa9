#pragma once

#include <httplib.h>
#include <spdlog/logger.h>
#include <caf/all.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "actors/introspector.hpp"
#include "http/actors_json.hpp"
#include "http/api_error.hpp"
#include "http/auth.hpp"

/// The operator's view of the engine (docs/operations.md, "The console"):
/// - `GET /api/v1/actors` (scope admin): the live actor tree from the introspector actor.
/// - `GET /api/v1/actors/endpoints/{webhook_id}/attempts` (scope admin; ?limit 1..100, default
///   20; ?client_id to skip the owner lookup): the webhook's latest deliveries with their
///   attempts.
/// - `GET /console`: the console page (embedded at build time from http/console.html). It holds
///   no data and is served without authentication; the data it fetches needs the admin token.
namespace webhookd::http {

/// Where the attempts panel reads from; app/ implements it on the store. Blocks the calling
/// HTTP worker for a bounded time; must be thread-safe.
class attempts_backend {
 public:
  virtual ~attempts_backend() = default;
  /// The latest `limit` deliveries of webhook `webhook_id` with their attempts, newest first.
  /// `client_id` is the webhook's owner when the caller knows it (may be empty). 404 when no
  /// such webhook; 503 when the store fails.
  virtual api_result<endpoint_attempts> recent_attempts(const std::string& webhook_id,
                                                        const std::string& client_id,
                                                        int limit) = 0;
};

/// The routes above.
class actors_api {
 public:
  /// Every argument must outlive the routes (the server must stop before they go). `deadline`
  /// bounds the wait for the introspector's answer.
  actors_api(const authenticator& auth, caf::actor_system& system, introspector_actor introspector,
             attempts_backend& attempts, std::chrono::milliseconds deadline,
             std::shared_ptr<spdlog::logger> log);

  /// Adds the routes to `routes` (before the server starts).
  void register_routes(httplib::Server& routes);

  /// The actor tree, or 503 when the introspector did not answer within the deadline.
  api_result<actor_tree> gather_blocking() const;

 private:
  void get_actors(const httplib::Request& req, httplib::Response& res) const;
  void get_attempts(const httplib::Request& req, httplib::Response& res) const;
  void fail(const httplib::Request& req, httplib::Response& res, const api_error& err) const;

  const authenticator& auth_;
  caf::actor_system& system_;
  introspector_actor introspector_;
  attempts_backend& attempts_;
  std::chrono::milliseconds deadline_;
  std::shared_ptr<spdlog::logger> log_;
};

/// The console page's HTML.
const char* console_page();

}  // namespace webhookd::http
