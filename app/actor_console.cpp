#include "app/actor_console.hpp"

#include <utility>

namespace webhookd::app {

namespace {

http::api_error store_failure(const storage::error& err) {
  http::api_error out;
  if (err.code == storage::errc::unavailable) {
    out.status = 503;
    out.code = "unavailable";
    out.message = "the store is unavailable: " + err.message;
    out.retry_after_seconds = 1;
  } else {
    out.status = 500;
    out.code = "internal";
    out.message = "the store failed: " + err.message;
  }
  return out;
}

}  // namespace

http::api_result<http::endpoint_attempts> store_attempts_backend::recent_attempts(
    const std::string& webhook_id, const std::string& client_id, int limit) {
  http::endpoint_attempts out;
  out.webhook_id = webhook_id;
  if (!client_id.empty()) {
    auto found = store_.get_webhook(client_id, webhook_id);
    if (!found) {
      if (found.err().code == storage::errc::not_found)
        return http::not_found("no webhook " + webhook_id + " of client " + client_id);
      return store_failure(found.err());
    }
    out.client_id = client_id;
  } else {
    // The owner is not known: look among the webhooks that are not disabled.
    auto all = store_.load_webhooks();
    if (!all) return store_failure(all.err());
    for (const auto& w : all.value())
      if (w.id == webhook_id) out.client_id = w.client_id;
    if (out.client_id.empty())
      return http::not_found("no webhook " + webhook_id +
                             " (pass ?client_id= for a disabled webhook)");
  }
  page_request req;
  req.limit = limit;
  auto deliveries = store_.list_deliveries(out.client_id, webhook_id, delivery_filter{}, req);
  if (!deliveries) return store_failure(deliveries.err());
  for (auto& row : deliveries->items) {
    auto attempts = store_.list_attempts(out.client_id, row.id);
    if (!attempts && attempts.err().code != storage::errc::not_found)
      return store_failure(attempts.err());
    http::delivery_attempts item;
    item.row = std::move(row);
    if (attempts) item.attempts = std::move(attempts.value());
    out.deliveries.push_back(std::move(item));
  }
  return out;
}

}  // namespace webhookd::app
