#pragma once

#include <memory>
#include <string>

#include "storage/store.hpp"

namespace webhookd::storage {

/// Opens or creates the SQLite database file at `path` (WAL mode, synchronous=FULL) and applies
/// pending migrations.
result<std::unique_ptr<blocking_store>> open_sqlite_store_blocking(const std::string& path);

}  // namespace webhookd::storage
