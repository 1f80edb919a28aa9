#include "storage/pg_pool.hpp"

#include <libpq-fe.h>

#include <utility>

namespace webhookd::storage {
namespace {

// libpq's and libpqxx's messages span lines ("ERROR:  ...\nDETAIL: ..."); callers want one line.
std::string first_line(const std::string& text) {
  auto line = text.substr(0, text.find('\n'));
  for (const char* prefix : {"ERROR:  ", "FATAL:  "})
    if (line.rfind(prefix, 0) == 0) line.erase(0, std::char_traits<char>::length(prefix));
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
  return line;
}

error unavailable_error(const std::string& endpoint, const std::string& what) {
  return error{errc::unavailable, "PostgreSQL at " + endpoint + " unavailable: " + first_line(what)};
}

bool is_connection_sqlstate(const std::string& sqlstate) {
  // Class 08: connection exception; 57P0x: the server is shutting down or restarting.
  return sqlstate.rfind("08", 0) == 0 || sqlstate.rfind("57P", 0) == 0;
}

bool is_uri(const std::string& url) {
  return url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
}

std::string with_connect_timeout(const std::string& url) {
  if (!is_uri(url)) return url + " connect_timeout=5";
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=5";
}

}  // namespace

result<pg_target> parse_pg_target(const std::string& url) {
  char* parse_error = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(
      PQconninfoParse(url.c_str(), &parse_error), &PQconninfoFree);
  if (!options) {
    std::string why = parse_error ? first_line(parse_error) : "out of memory";
    PQfreemem(parse_error);
    return error{errc::invalid, "malformed PostgreSQL url: " + why};
  }
  std::string host, hostaddr, port;
  bool has_timeout = false;
  for (auto* opt = options.get(); opt->keyword != nullptr; ++opt) {
    if (opt->val == nullptr) continue;
    std::string keyword = opt->keyword;
    if (keyword == "host") host = opt->val;
    if (keyword == "hostaddr") hostaddr = opt->val;
    if (keyword == "port") port = opt->val;
    if (keyword == "connect_timeout") has_timeout = true;
  }
  if (host.empty()) host = hostaddr.empty() ? "localhost" : hostaddr;
  if (port.empty()) port = "5432";
  return pg_target{has_timeout ? url : with_connect_timeout(url), host + ":" + port};
}

error pg_error_from_current_exception(const std::string& endpoint, const std::string& operation,
                                      bool& connection_broken) {
  try {
    throw;
  } catch (const pqxx::broken_connection& e) {
    connection_broken = true;
    return unavailable_error(endpoint, e.what());
  } catch (const pqxx::in_doubt_error& e) {
    connection_broken = true;
    return unavailable_error(endpoint, e.what());
  } catch (const pqxx::transaction_rollback& e) {
    // Deadlock or serialization failure: the transaction was rolled back; a retry may succeed.
    return error{errc::unavailable, operation + ": " + first_line(e.what())};
  } catch (const pqxx::unique_violation& e) {
    return error{errc::conflict, operation + ": " + first_line(e.what())};
  } catch (const pqxx::sql_error& e) {
    if (is_connection_sqlstate(e.sqlstate())) {
      connection_broken = true;
      return unavailable_error(endpoint, e.what());
    }
    return error{errc::internal,
                 operation + ": " + first_line(e.what()) + " (SQLSTATE " + e.sqlstate() + ")"};
  } catch (const std::exception& e) {
    return error{errc::internal, operation + ": " + first_line(e.what())};
  } catch (...) {
    return error{errc::internal, operation + ": unknown exception"};
  }
}

pg_pool::lease::lease(pg_pool& pool, std::unique_ptr<pqxx::connection> conn)
    : pool_(&pool), conn_(std::move(conn)) {}

pg_pool::lease::lease(lease&& other) noexcept
    : pool_(other.pool_), conn_(std::move(other.conn_)), broken_(other.broken_) {}

pg_pool::lease::~lease() {
  if (conn_) pool_->give_back(std::move(conn_), broken_);
}

pg_pool::pg_pool(pg_target target, int size, std::chrono::milliseconds acquire_timeout,
                 connect_hook on_connect)
    : target_(std::move(target)),
      size_(size),
      acquire_timeout_(acquire_timeout),
      on_connect_(std::move(on_connect)) {}

result<pg_pool::lease> pg_pool::acquire_blocking() {
  std::unique_lock<std::mutex> lock(mutex_);
  bool ready =
      freed_.wait_for(lock, acquire_timeout_, [this] { return !idle_.empty() || open_ < size_; });
  if (!ready)
    return error{errc::unavailable, "no free PostgreSQL connection to " + target_.endpoint +
                                        " within " + std::to_string(acquire_timeout_.count()) +
                                        " ms"};
  if (!idle_.empty()) {
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    return lease(*this, std::move(conn));
  }
  ++open_;
  lock.unlock();
  auto conn = connect_blocking();
  if (!conn) {
    give_back(nullptr, true);
    return conn.err();
  }
  return lease(*this, std::move(*conn));
}

result<std::unique_ptr<pqxx::connection>> pg_pool::connect_blocking() {
  try {
    auto conn = std::make_unique<pqxx::connection>(target_.conninfo);
    if (on_connect_) on_connect_(*conn);
    return conn;
  } catch (...) {
    bool broken = false;
    return pg_error_from_current_exception(target_.endpoint, "connect", broken);
  }
}

void pg_pool::give_back(std::unique_ptr<pqxx::connection> conn, bool broken) {
  bool keep = !broken && conn && conn->is_open();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (keep)
      idle_.push_back(std::move(conn));
    else
      --open_;
  }
  freed_.notify_one();
  // A dropped connection closes here, outside the lock.
}

}  // namespace webhookd::storage
