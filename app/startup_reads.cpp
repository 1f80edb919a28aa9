#include "app/startup_reads.hpp"

#include <utility>

namespace webhookd::app {

storage::result<std::vector<source>> load_sources_blocking(storage::blocking_store& store) {
  std::vector<source> out;
  page_request req;
  req.limit = 500;
  for (;;) {
    auto got = store.list_sources(req);
    if (!got) return got.err();
    for (auto& s : got->items) out.push_back(std::move(s));
    if (got->next_cursor.empty()) return out;
    req.after = got->next_cursor;
  }
}

storage::result<std::vector<webhook>> load_webhooks_unless_shared(storage::blocking_store& store,
                                                                  bool manager_shares) {
  if (manager_shares) return std::vector<webhook>{};
  return store.load_webhooks();
}

}  // namespace webhookd::app
