#pragma once

#include <vector>

#include "storage/sqlite_connection.hpp"

namespace webhookd::storage::sqlite {

/// One versioned step of the SQLite schema.
struct migration {
  int version;
  const char* sql;
};

/// Every migration of the SQLite schema, by ascending version. Released steps never change:
/// a schema change is a new step at the end.
std::vector<migration> migrations();

/// Highest migration applied to the database (0 for a new one). Throws failure.
int applied_version(connection& conn);

/// Applies the migrations not applied yet, each in its own write transaction, recording each in
/// schema_migrations. Re-running is a no-op. Throws failure, also when the database is newer
/// than this build knows.
void apply_migrations(connection& conn);

}  // namespace webhookd::storage::sqlite
