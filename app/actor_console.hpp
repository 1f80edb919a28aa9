#pragma once

#include <string>

#include "http/actors_api.hpp"
#include "storage/store.hpp"

/// The store side of the console's attempts panel (http/actors_api.hpp).
namespace webhookd::app {

/// http::attempts_backend on the blocking store: list_deliveries (newest first) and
/// list_attempts of each. Without a client id it finds the webhook's owner among the store's
/// webhooks first. Called from HTTP worker threads (the store is thread-safe).
class store_attempts_backend final : public http::attempts_backend {
 public:
  /// `store` must outlive this object.
  explicit store_attempts_backend(storage::blocking_store& store) : store_(store) {}

  http::api_result<http::endpoint_attempts> recent_attempts(const std::string& webhook_id,
                                                            const std::string& client_id,
                                                            int limit) override;

 private:
  storage::blocking_store& store_;
};

}  // namespace webhookd::app
