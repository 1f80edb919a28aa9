#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "storage/result.hpp"

namespace webhookd::storage {

/// What a PostgreSQL url points at, parsed once: the conninfo to connect with and "host:port"
/// for messages (never the password).
struct pg_target {
  std::string conninfo;  ///< the url with connect_timeout=5 appended unless it sets one
  std::string endpoint;  ///< "host:port"
};

/// Parses a "postgresql://..." url (or a key=value conninfo). invalid when libpq can't parse it.
result<pg_target> parse_pg_target(const std::string& url);

/// Turns the exception in flight (call only inside a catch block) into a store error:
/// connection failures -> unavailable naming `endpoint`, unique violations -> conflict,
/// anything else -> internal. Sets `connection_broken` when the connection must not be reused.
error pg_error_from_current_exception(const std::string& endpoint, const std::string& operation,
                                      bool& connection_broken);

/// A fixed-size pool of PostgreSQL connections, created lazily. Thread-safe. A connection that
/// broke is dropped when returned, so the next caller reconnects.
class pg_pool {
 public:
  /// Runs on every new connection before first use (session settings, prepared statements).
  using connect_hook = std::function<void(pqxx::connection&)>;

  /// A connection lent to one caller; goes back to the pool when destroyed.
  class lease {
   public:
    lease(pg_pool& pool, std::unique_ptr<pqxx::connection> conn);
    lease(lease&& other) noexcept;
    lease& operator=(lease&&) = delete;
    ~lease();

    pqxx::connection& connection() { return *conn_; }
    /// The connection is dropped instead of returned to the pool.
    void mark_broken() { broken_ = true; }

   private:
    pg_pool* pool_;
    std::unique_ptr<pqxx::connection> conn_;
    bool broken_ = false;
  };

  /// Precondition: size >= 1.
  pg_pool(pg_target target, int size, std::chrono::milliseconds acquire_timeout,
          connect_hook on_connect);
  pg_pool(const pg_pool&) = delete;
  pg_pool& operator=(const pg_pool&) = delete;

  /// Waits up to the acquire timeout for a free connection, connecting when the pool has room.
  /// unavailable when none frees up in time or connecting fails.
  result<lease> acquire_blocking();

  /// "host:port" of the server, for messages.
  const std::string& endpoint() const { return target_.endpoint; }

 private:
  result<std::unique_ptr<pqxx::connection>> connect_blocking();
  void give_back(std::unique_ptr<pqxx::connection> conn, bool broken);

  const pg_target target_;
  const int size_;
  const std::chrono::milliseconds acquire_timeout_;
  const connect_hook on_connect_;
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  int open_ = 0;  ///< connections lent out, idle or being opened
};

}  // namespace webhookd::storage
