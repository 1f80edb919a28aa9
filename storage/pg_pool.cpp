#include "storage/pg_pool.hpp"

#include <algorithm>
#include <cctype>
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
  return error{errc::unavailable,
               "PostgreSQL at " + endpoint + " unavailable: " + first_line(what)};
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

/// The connection parameters a url sets that messages and defaults need.
struct url_fields {
  std::string host, hostaddr, port;
  bool has_timeout = false;
};

result<std::string> percent_decode(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size() || !std::isxdigit(static_cast<unsigned char>(text[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(text[i + 2])))
      return error{errc::invalid, "bad percent escape in '" + text + "'"};
    out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
    i += 2;
  }
  return out;
}

bool is_port_list(const std::string& port) {
  return !port.empty() && port.find_first_not_of("0123456789,") == std::string::npos;
}

/// Records one keyword=value parameter; invalid for a port that isn't a number.
status take_parameter(url_fields& fields, const std::string& key, const std::string& value) {
  if (key.empty()) return error{errc::invalid, "parameter without a name"};
  if (key == "host") fields.host = value;
  if (key == "hostaddr") fields.hostaddr = value;
  if (key == "connect_timeout") fields.has_timeout = true;
  if (key == "port") {
    if (!is_port_list(value)) return error{errc::invalid, "port '" + value + "' is not a number"};
    fields.port = value;
  }
  return {};
}

/// postgresql://[user[:password]@][host][:port][,...][/dbname][?param=value&...]
result<url_fields> parse_uri(const std::string& url) {
  url_fields fields;
  auto rest = url.substr(url.find("://") + 3);
  auto authority_end = rest.find_first_of("/?");
  auto authority = rest.substr(0, authority_end);
  auto at = authority.rfind('@');
  auto netloc = at == std::string::npos ? authority : authority.substr(at + 1);
  // The last host of a list decides the port shown; "[v6]:port" keeps its brackets.
  auto colon = netloc.rfind(':');
  auto bracket = netloc.rfind(']');
  if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket) &&
      netloc.find(',') == std::string::npos) {
    fields.port = netloc.substr(colon + 1);
    netloc.erase(colon);
    if (!is_port_list(fields.port))
      return error{errc::invalid, "port '" + fields.port + "' is not a number"};
  }
  if (netloc.find('[') != std::string::npos && bracket == std::string::npos)
    return error{errc::invalid, "unterminated IPv6 address in '" + authority + "'"};
  auto host = percent_decode(netloc);
  if (!host) return host.err();
  fields.host = *host;
  auto query_start = rest.find('?');
  if (query_start == std::string::npos) return fields;
  auto query = rest.substr(query_start + 1);
  for (size_t pos = 0; pos <= query.size();) {
    auto end = std::min(query.find('&', pos), query.size());
    auto pair = query.substr(pos, end - pos);
    auto eq = pair.find('=');
    if (eq == std::string::npos) return error{errc::invalid, "parameter '" + pair + "' has no '='"};
    auto value = percent_decode(pair.substr(eq + 1));
    if (!value) return value.err();
    if (auto taken = take_parameter(fields, pair.substr(0, eq), *value); !taken) return taken.err();
    pos = end + 1;
  }
  return fields;
}

/// host=... port=... dbname=... (values optionally in single quotes).
result<url_fields> parse_keyword_values(const std::string& conninfo) {
  url_fields fields;
  size_t pos = 0;
  auto skip_spaces = [&] {
    while (pos < conninfo.size() && std::isspace(static_cast<unsigned char>(conninfo[pos]))) ++pos;
  };
  for (skip_spaces(); pos < conninfo.size(); skip_spaces()) {
    auto eq = conninfo.find('=', pos);
    if (eq == std::string::npos)
      return error{errc::invalid, "'" + conninfo.substr(pos) + "' has no '='"};
    auto key = conninfo.substr(pos, eq - pos);
    while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
    pos = eq + 1;
    skip_spaces();
    std::string value;
    if (pos < conninfo.size() && conninfo[pos] == '\'') {
      for (++pos; pos < conninfo.size() && conninfo[pos] != '\''; ++pos) {
        if (conninfo[pos] == '\\' && pos + 1 < conninfo.size()) ++pos;
        value += conninfo[pos];
      }
      if (pos >= conninfo.size()) return error{errc::invalid, "unterminated quoted value"};
      ++pos;
    } else {
      while (pos < conninfo.size() && !std::isspace(static_cast<unsigned char>(conninfo[pos])))
        value += conninfo[pos++];
    }
    if (auto taken = take_parameter(fields, key, value); !taken) return taken.err();
  }
  return fields;
}

}  // namespace

result<pg_target> parse_pg_target(const std::string& url) {
  auto parsed = is_uri(url) ? parse_uri(url) : parse_keyword_values(url);
  if (!parsed) return error{errc::invalid, "malformed PostgreSQL url: " + parsed.err().message};
  auto& fields = *parsed;
  std::string host = !fields.host.empty()       ? fields.host
                     : !fields.hostaddr.empty() ? fields.hostaddr
                                                : "localhost";
  std::string port = fields.port.empty() ? "5432" : fields.port;
  return pg_target{fields.has_timeout ? url : with_connect_timeout(url), host + ":" + port};
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
    if (e.sqlstate().rfind("22", 0) == 0)  // data exception: text or a number the column can't hold
      return error{errc::invalid, operation + ": " + first_line(e.what())};
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
