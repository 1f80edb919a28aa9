#include "storage/sqlite_connection.hpp"

#include <cstring>

namespace webhookd::storage::sqlite {

errc map_result_code(int rc) {
  switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return errc::conflict;
    default:
      break;
  }
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
      return errc::invalid;
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return errc::unavailable;
    default:
      return errc::internal;
  }
}

namespace {

/// SQLite's message, plus the OS error behind it when there is one.
std::string describe(sqlite3* db, int rc) {
  std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  int sys = db != nullptr ? sqlite3_system_errno(db) : 0;
  if (sys != 0 && map_result_code(rc) == errc::unavailable)
    message += std::string(" (") + std::strerror(sys) + ")";
  return message;
}

}  // namespace

void throw_failure(sqlite3* db, int rc) {
  throw failure{error{map_result_code(rc), describe(db, rc)}};
}

void throw_failure(errc code, std::string message) {
  throw failure{error{code, std::move(message)}};
}

// --- statement ---

statement::~statement() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void statement::check(int rc) const {
  if (rc != SQLITE_OK) throw_failure(db_, rc);
}

void statement::bind_value(int index, int64_t value) {
  check(sqlite3_bind_int64(stmt_, index, value));
}

void statement::bind_value(int index, const std::string& value) {
  check(sqlite3_bind_text64(stmt_, index, value.data(), value.size(),
                            copy_text_ ? SQLITE_TRANSIENT : SQLITE_STATIC, SQLITE_UTF8));
}

void statement::bind_value(int index, const char* value) {
  check(sqlite3_bind_text(stmt_, index, value, -1, SQLITE_TRANSIENT));
}

void statement::reset() {
  sqlite3_reset(stmt_);
}

void statement::bind_value(int index, const std::optional<std::string>& value) {
  if (value) return bind_value(index, *value);
  check(sqlite3_bind_null(stmt_, index));
}

bool statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw_failure(db_, rc);
}

void statement::run() {
  while (step()) {
  }
}

std::string statement::column_text(int col) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (text == nullptr) return {};
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

// --- connection ---

result<std::unique_ptr<connection>> connection::open(const std::string& path, int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  std::unique_ptr<sqlite3, db_closer> db(raw);
  if (rc != SQLITE_OK) return error{map_result_code(rc), describe(raw, rc)};
  if (sqlite3_db_readonly(raw, "main") == 1)
    return error{errc::unavailable, "the file is read-only"};
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  return std::make_unique<connection>(std::move(db));
}

statement connection::prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v3(db_.get(), sql.c_str(), static_cast<int>(sql.size() + 1),
                                SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    std::unique_ptr<sqlite3_stmt, stmt_finalizer> stmt(raw);
    if (rc != SQLITE_OK) throw_failure(db_.get(), rc);
    it = cache_.emplace(sql, std::move(stmt)).first;
  }
  return statement(db_.get(), it->second.get());
}

void connection::exec(const std::string& sql) {
  int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) throw_failure(db_.get(), rc);
}

std::string connection::query_text(const std::string& sql) {
  auto stmt = prepare(sql);
  std::string value = stmt.step() ? stmt.column_text(0) : std::string();
  stmt.run();
  return value;
}

bool connection::is_memory() const {
  const char* file = sqlite3_db_filename(db_.get(), "main");
  return file == nullptr || *file == '\0';
}

// --- transaction ---

transaction::transaction(connection& conn) : conn_(conn) {
  conn_.exec("BEGIN IMMEDIATE");
}

transaction::~transaction() {
  if (open_) sqlite3_exec(conn_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void transaction::commit() {
  conn_.exec("COMMIT");
  open_ = false;
}

}  // namespace webhookd::storage::sqlite
