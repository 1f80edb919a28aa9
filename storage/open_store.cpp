#include "storage/pg_store.hpp"
#include "storage/sqlite_store.hpp"
#include "storage/store.hpp"

namespace webhookd::storage {

result<std::unique_ptr<blocking_store>> open_store_blocking(const store_settings& settings) {
  const std::string& url = settings.url;
  const std::string sqlite_prefix = "sqlite:";
  if (url.rfind(sqlite_prefix, 0) == 0) {
    auto path = url.substr(sqlite_prefix.size());
    if (path.empty()) return error{errc::invalid, "store url 'sqlite:' names no file"};
    return open_sqlite_store_blocking(path);
  }
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0)
    return open_pg_store_blocking(url, settings.pool_size);
  return error{errc::invalid,
               "store url '" + url + "' must start with sqlite: or postgresql://"};
}

}  // namespace webhookd::storage
