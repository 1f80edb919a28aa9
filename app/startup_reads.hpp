#pragma once

#include <vector>

#include "storage/store.hpp"

/// Blocking reads of the store that parts of the server make once at start, before they spawn
/// the actors that need them.
namespace webhookd::app {

/// Every source of the store, read page by page.
storage::result<std::vector<source>> load_sources_blocking(storage::blocking_store& store);

/// The webhooks a part indexes itself at start: none when a manager will hand it the snapshot it
/// shares with the other subscribers (reading them here too would hold a second copy of every
/// row at start), else every webhook `load_webhooks` returns.
storage::result<std::vector<webhook>> load_webhooks_unless_shared(storage::blocking_store& store,
                                                                  bool manager_shares);

}  // namespace webhookd::app
