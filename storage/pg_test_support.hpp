#pragma once

#include <string>

#include "storage/result.hpp"

/// Scratch databases for tests that need a fresh PostgreSQL store per case. Only storage/pg_*
/// may include libpqxx, so tests elsewhere create and drop their databases through these.
namespace webhookd::storage {

/// Creates an empty database `name` on the server of `admin_url` (dropping a leftover of that
/// name first) and returns its URL. `name` is lowercase letters, digits and '_'.
result<std::string> create_scratch_database_blocking(const std::string& admin_url,
                                                     const std::string& name);

/// Drops database `name` (terminating its connections); succeeds when it doesn't exist.
status drop_scratch_database_blocking(const std::string& admin_url, const std::string& name);

}  // namespace webhookd::storage
