#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "storage/result.hpp"
#include "storage/store.hpp"
#include "storage/types.hpp"

/// Test support for the store conformance suite: where a test's store lives (a fresh SQLite file
/// or a fresh PostgreSQL database), a fixture that opens it, and builders for rows.
namespace webhookd::storage::test {

/// Where one test case's store lives. Made fresh per test case and removed when destroyed; the
/// store opened from it must be destroyed first.
class backend {
public:
  virtual ~backend() = default;
  /// What blocking_store::backend() must report: "sqlite" or "postgresql".
  virtual std::string store_name() const = 0;
  /// The url open_store_blocking() takes for this store.
  virtual std::string url() const = 0;
};

/// The backend chosen by WEBHOOKD_TEST_BACKEND ("sqlite", the default, or "pg"). For "pg" the
/// server comes from WEBHOOKD_TEST_PG_URL (an admin url; a scratch database is created on it).
/// Errors: invalid for an unknown backend or a missing WEBHOOKD_TEST_PG_URL, or whatever
/// creating the scratch database / temporary directory failed with.
result<std::unique_ptr<backend>> make_backend_from_environment();

/// One test case's store: a fresh backend, the store opened on it, a manual clock and an id
/// generator for rows. Fails the test case when the backend can't be set up.
class store_fixture {
public:
  store_fixture();
  ~store_fixture();
  store_fixture(const store_fixture&) = delete;
  store_fixture& operator=(const store_fixture&) = delete;

  /// The open store.
  blocking_store& store() { return *store_; }
  /// Closes the store (file handle / connections) and opens it again on the same data.
  void reopen();
  /// The backend the store lives on.
  const backend& where() const { return *backend_; }

  /// Current virtual time.
  int64_t now() const { return clock_.now_ms(); }
  /// Moves virtual time forward.
  void advance(int64_t ms) { clock_.advance_ms(ms); }
  /// A fresh id; each id sorts after every id made before it.
  std::string next_id(std::string_view prefix);

  /// A webhook of `client_id` with a fresh id (not stored).
  webhook make_webhook(const std::string& client_id);
  /// make_webhook + insert_webhook.
  webhook add_webhook(const std::string& client_id);

  /// An event of `client_id` with a fresh event id, received now, with one pending delivery per
  /// webhook, due at `due_at` (now when 0). Not stored.
  new_event make_event(const std::string& client_id, const std::vector<webhook>& targets,
                       const std::string& type = "invoice.paid", int64_t due_at = 0);
  /// make_event + append_events; requires it to be stored (not a duplicate).
  new_event add_event(const std::string& client_id, const std::vector<webhook>& targets,
                      const std::string& type = "invoice.paid", int64_t due_at = 0);

  /// Records one attempt of `d` that moves it to `status` (next due at `next_at` if pending).
  void record(const delivery& d, int attempt_no, delivery_status status, int64_t next_at = 0,
              const std::string& dlq_reason = "");

private:
  manual_clock clock_;
  id_generator ids_;
  std::unique_ptr<backend> backend_;
  std::unique_ptr<blocking_store> store_;
};

/// An attempt outcome for delivery `d` started at `started_at`.
attempt_outcome make_outcome(const delivery& d, int attempt_no, delivery_status status,
                             int64_t started_at, int64_t next_at = 0,
                             const std::string& dlq_reason = "");

/// "code: message" of an error, or "ok".
std::string describe(const status& s);
template <class T>
std::string describe(const result<T>& r) {
  return r.ok() ? std::string{"ok"}
                : std::string{to_string(r.err().code)} + ": " + r.err().message;
}

/// Requires `r` to be ok and returns its value; `expr` names the call in the failure message.
template <class T>
T take_ok(result<T> r, const char* expr) {
  INFO(expr << " -> " << describe(r));
  REQUIRE(r.ok());
  return std::move(r.value());
}
/// Requires `s` to be ok.
void take_ok(const status& s, const char* expr);

/// Checks that `r` failed with `code`.
template <class T>
void check_error(const result<T>& r, errc code, const char* expr) {
  INFO(expr << " -> " << describe(r));
  CHECK_FALSE(r.ok());
  if (!r.ok()) CHECK(r.err().code == code);
}
void check_error(const status& s, errc code, const char* expr);

// Field-by-field comparisons (each field a CHECK, so a mismatch names the field and both values).
void check_same(const webhook& actual, const webhook& expected);
void check_same(const event& actual, const event& expected);
void check_same(const delivery& actual, const delivery& expected);
void check_same(const attempt& actual, const attempt& expected);
void check_same(const source& actual, const source& expected);
void check_same(const event_type& actual, const event_type& expected);

/// The ids of rows, in order.
template <class T>
std::vector<std::string> ids_of(const std::vector<T>& rows) {
  std::vector<std::string> out;
  for (const auto& row : rows) out.push_back(row.id);
  return out;
}

}  // namespace webhookd::storage::test

/// Requires a store call to succeed; evaluates to its value (nothing for a status).
#define STORE_OK(expr) ::webhookd::storage::test::take_ok((expr), #expr)
/// Checks that a store call failed with the given errc (e.g. not_found).
#define STORE_ERR(expr, code) \
  ::webhookd::storage::test::check_error((expr), ::webhookd::storage::errc::code, #expr)

namespace Catch {
template <>
struct StringMaker<webhookd::storage::delivery_status> {
  static std::string convert(webhookd::storage::delivery_status s) {
    return webhookd::to_string(s);
  }
};
template <>
struct StringMaker<webhookd::storage::errc> {
  static std::string convert(webhookd::storage::errc c) { return webhookd::storage::to_string(c); }
};
}  // namespace Catch
