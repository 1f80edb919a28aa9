#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <pqxx/pqxx>

/// The PostgreSQL schema: versioned migrations and the daily partitions of `events`.
/// These functions throw libpqxx exceptions; pg_store turns them into errors.
namespace webhookd::storage {

/// Highest migration version this build knows.
int latest_pg_schema_version();

/// Applies the migrations newer than the database's, in order, in one transaction holding an
/// advisory lock (so nodes starting together don't race). Returns the schema version after.
int apply_pg_migrations_blocking(pqxx::connection& conn, int64_t now_ms);

/// Day number (days since 1970-01-01, UTC) of a unix-ms time; the partition key of `events`.
int64_t pg_day_of(int64_t unix_ms);

/// Whether a day number can name a partition (years 1..9999).
bool pg_day_in_range(int64_t day);

/// "YYYY-MM-DD" of a day number. Precondition: pg_day_in_range(day).
std::string pg_day_text(int64_t day);

/// Creates the daily partitions of `events` for these days unless they exist, in one transaction
/// holding an advisory lock. Precondition: pg_day_in_range for every day.
void ensure_pg_event_partitions_blocking(pqxx::connection& conn, const std::vector<int64_t>& days);

}  // namespace webhookd::storage
