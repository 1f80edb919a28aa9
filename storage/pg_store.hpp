#pragma once

#include <memory>
#include <string>

#include "storage/store.hpp"

namespace webhookd::storage {

/// Connects to PostgreSQL at `url` with a pool of `pool_size` connections
/// (synchronous_commit=on) and applies pending migrations.
result<std::unique_ptr<blocking_store>> open_pg_store_blocking(const std::string& url,
                                                               int pool_size);

}  // namespace webhookd::storage
