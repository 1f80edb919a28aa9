#include "storage/pg_test_support.hpp"

#include <algorithm>
#include <vector>

#include "storage/pg_pool.hpp"

namespace webhookd::storage {
namespace {

bool is_plain_name(const std::string& name) {
  return !name.empty() && name.size() < 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

/// `url` with its database replaced by `name`.
std::string with_database(const std::string& url, const std::string& name) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return url + " dbname=" + name;  // key=value conninfo
  auto authority_end = url.find_first_of("/?", scheme_end + 3);
  if (authority_end == std::string::npos) return url + "/" + name;
  auto query = url.find('?', authority_end);
  return url.substr(0, authority_end) + "/" + name +
         (query == std::string::npos ? "" : url.substr(query));
}

/// Runs `sql_statements` one by one outside a transaction on a connection to `admin_url`.
status run_admin_blocking(const std::string& admin_url, const std::string& operation,
                          const std::vector<std::string>& sql_statements) {
  auto target = parse_pg_target(admin_url);
  if (!target) return target.err();
  try {
    pqxx::connection conn(target->conninfo);
    pqxx::nontransaction tx(conn);
    tx.exec("SET client_min_messages = warning");
    for (const auto& sql : sql_statements) tx.exec(sql);
    return {};
  } catch (...) {
    bool broken = false;
    return pg_error_from_current_exception(target->endpoint, operation, broken);
  }
}

std::string drop_sql(const std::string& name) {
  return "DROP DATABASE IF EXISTS \"" + name + "\" WITH (FORCE)";
}

}  // namespace

result<std::string> create_scratch_database_blocking(const std::string& admin_url,
                                                     const std::string& name) {
  if (!is_plain_name(name))
    return error{errc::invalid, "scratch database name '" + name + "' is not [a-z0-9_]+"};
  auto created = run_admin_blocking(admin_url, "create database " + name,
                                    {drop_sql(name), "CREATE DATABASE \"" + name + "\""});
  if (!created) return created.err();
  return with_database(admin_url, name);
}

status drop_scratch_database_blocking(const std::string& admin_url, const std::string& name) {
  if (!is_plain_name(name))
    return error{errc::invalid, "scratch database name '" + name + "' is not [a-z0-9_]+"};
  return run_admin_blocking(admin_url, "drop database " + name, {drop_sql(name)});
}

}  // namespace webhookd::storage
