#pragma once

#include <caf/meta/type_name.hpp>

#include <cstddef>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/model.hpp"

/// The registry of sources by API key that authenticates ingestion requests. The router is its
/// only writer (it applies the manager's source changes before acknowledging them); the HTTP
/// threads read it directly, so a request's authentication costs no actor round trip.
namespace webhookd {

/// The answer to a source lookup by api key.
struct source_lookup {
  bool found = false;
  source src;  ///< meaningful when found
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, source_lookup& x) {
  return f(caf::meta::type_name("source_lookup"), x.found, x.src);
}

/// Thread-safe: any thread may look up while one writer changes it.
class source_directory {
 public:
  /// Replaces the whole registry.
  void reset(const std::vector<source>& sources);
  /// Inserts or replaces `s`, under its current api key only.
  void put(const source& s);
  /// Removes the source with id `source_id`, if present.
  void remove(const std::string& source_id);
  /// A copy of the source with `api_key`.
  source_lookup find(const std::string& api_key) const;
  /// Sources held.
  std::size_t size() const;

 private:
  void put_locked(const source& s);
  void remove_locked(const std::string& source_id);

  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, source> by_key_;
  std::unordered_map<std::string, std::string> key_by_id_;
};

}  // namespace webhookd
