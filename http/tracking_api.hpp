#pragma once

#include <httplib.h>
#include <spdlog/logger.h>

#include <memory>

#include "http/auth.hpp"
#include "http/tracking_client.hpp"

namespace webhookd::http {

/// The delivery tracking and DLQ routes (design section 3, docs/api.md "Deliveries and the
/// DLQ"), all under /api/v1 with a Bearer JWT and scoped to its client: another client's object
/// is 404 (a list filtered by it is 404 too), never 403.
///
/// - `GET /webhooks/{id}/deliveries` (?status, ?since, ?until, ?limit, ?cursor): newest first.
/// - `GET /events/{event_id}/deliveries`: the event at every webhook it went to.
/// - `GET /deliveries/{id}`: one delivery with every attempt.
/// - `POST /deliveries/{id}/resend`: 202; a succeeded or failed delivery gets a new series of
///   attempts now (409 while it is pending or once it is cancelled).
/// - `GET /dlq` (?webhook_id, ?event_type, ?since, ?until, ?include_replayed, ?limit, ?cursor).
/// - `POST /dlq/replay` `{"delivery_ids":[...]}` (1..1000) or `{"webhook_id", "since"?,
///   "until"?, "event_type"?}` (up to 1000 entries per request): 202
///   `{replayed, delivery_ids, skipped, more}`.
/// - `GET /attempts` (?webhook_id, ?cursor, ?limit): the client's attempts in the order they
///   were recorded; without a cursor the latest `limit`. `next_cursor` is never null: poll with
///   it to follow attempts as they happen.
///
/// Handlers validate every parameter (422 naming it), then ask the tracker or the DLQ actor
/// with a deadline (tracking_client).
class tracking_api {
 public:
  /// Every argument must outlive the routes (the server must stop before they go).
  tracking_api(const authenticator& auth, const tracking_client& engine,
               std::shared_ptr<spdlog::logger> log);

  /// Adds the routes to `routes` (before the server starts).
  void register_routes(httplib::Server& routes);

 private:
  void list_webhook_deliveries(const httplib::Request& req, httplib::Response& res) const;
  void list_event_deliveries(const httplib::Request& req, httplib::Response& res) const;
  void get_delivery(const httplib::Request& req, httplib::Response& res) const;
  void resend_delivery(const httplib::Request& req, httplib::Response& res) const;
  void list_dlq(const httplib::Request& req, httplib::Response& res) const;
  void replay_dlq(const httplib::Request& req, httplib::Response& res) const;
  void list_attempts(const httplib::Request& req, httplib::Response& res) const;

  /// Writes `err` and logs server-side failures (5xx).
  void fail(const httplib::Request& req, httplib::Response& res, const api_error& err) const;

  const authenticator& auth_;
  const tracking_client& engine_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace webhookd::http
