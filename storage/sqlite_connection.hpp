#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "storage/result.hpp"

/// A thin RAII layer over the SQLite C API, used only by the SQLite store.
///
/// Inside this layer a failing SQLite call throws `sqlite::failure`; the store catches it at the
/// boundary of each public call and returns its `error`, so no exception leaves the adapter.
namespace webhookd::storage::sqlite {

/// A failed SQLite call: the mapped error code and SQLite's own message.
struct failure {
  error err;
};

/// Maps an SQLite (extended) result code onto a store error code: unique/primary-key violations
/// are conflict, other constraint violations invalid, I/O, locking and permission problems
/// unavailable, everything else internal.
errc map_result_code(int rc);

/// Throws a failure for `rc` with the connection's current error message.
[[noreturn]] void throw_failure(sqlite3* db, int rc);

/// Throws a failure with `code` and `message`.
[[noreturn]] void throw_failure(errc code, std::string message);

struct db_closer {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct stmt_finalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};

/// A borrowed, cached prepared statement. Parameters bind left to right (?1, ?2, ...); the
/// statement is reset and its bindings cleared when this object goes away.
class statement {
 public:
  statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~statement();
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  /// Binds `args` to ?1, ?2, ... in order.
  template <class... Args>
  statement& bind(const Args&... args) {
    int index = 0;
    (bind_value(++index, args), ...);
    return *this;
  }

  /// Text bound from now on is not copied into the statement: each bound std::string must stay
  /// alive and unchanged until the statement has been stepped for the last time with it (hot
  /// write paths that bind fields of rows they hold).
  statement& borrow_text() {
    copy_text_ = false;
    return *this;
  }
  /// Resets the statement so it can run again with new bindings (bindings are kept until
  /// replaced).
  void reset();

  /// Advances to the next row: true when a row is available, false when done.
  bool step();
  /// Steps until done (statements whose rows are of no interest).
  void run();

  int column_count() const { return sqlite3_column_count(stmt_); }
  int64_t column_int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string column_text(int col) const;

 private:
  void bind_value(int index, int64_t value);
  void bind_value(int index, int value) { bind_value(index, static_cast<int64_t>(value)); }
  void bind_value(int index, bool value) { bind_value(index, static_cast<int64_t>(value)); }
  void bind_value(int index, const std::string& value);
  void bind_value(int index, const char* value);
  void bind_value(int index, const std::optional<std::string>& value);
  void check(int rc) const;

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  bool copy_text_ = true;
};

/// Reads the columns of the current row left to right.
class row_reader {
 public:
  explicit row_reader(const statement& stmt) : stmt_(stmt) {}

  int64_t int64() { return stmt_.column_int64(next_++); }
  int int32() { return static_cast<int>(stmt_.column_int64(next_++)); }
  bool boolean() { return stmt_.column_int64(next_++) != 0; }
  std::string text() { return stmt_.column_text(next_++); }

 private:
  const statement& stmt_;
  int next_ = 0;
};

/// One SQLite connection with a cache of prepared statements. Not thread-safe: the owner
/// serializes access.
class connection {
 public:
  /// Opens or creates the database file at `path` read-write and sets the busy timeout.
  /// Errors (as values): unavailable when the file can't be opened or is read-only.
  static result<std::unique_ptr<connection>> open(const std::string& path, int busy_timeout_ms);
  /// Takes ownership of an open handle (use open()).
  explicit connection(std::unique_ptr<sqlite3, db_closer> db) : db_(std::move(db)) {}

  /// The cached statement for `sql`, prepared on first use.
  statement prepare(const std::string& sql);
  /// Runs one or more statements without parameters.
  void exec(const std::string& sql);
  /// Runs a statement returning one text value (e.g. a PRAGMA) and returns it.
  std::string query_text(const std::string& sql);
  /// Rows changed by the most recent INSERT, UPDATE or DELETE.
  int64_t changes() const { return sqlite3_changes64(db_.get()); }
  /// True for a database that lives in memory or in a temporary file.
  bool is_memory() const;

  sqlite3* handle() const { return db_.get(); }

 private:
  std::unique_ptr<sqlite3, db_closer> db_;
  std::unordered_map<std::string, std::unique_ptr<sqlite3_stmt, stmt_finalizer>> cache_;
};

/// A write transaction (BEGIN IMMEDIATE) rolled back unless committed.
class transaction {
 public:
  explicit transaction(connection& conn);
  ~transaction();
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;

  void commit();

 private:
  connection& conn_;
  bool open_ = true;
};

}  // namespace webhookd::storage::sqlite
