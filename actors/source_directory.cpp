#include "actors/source_directory.hpp"

#include <mutex>

namespace webhookd {

void source_directory::reset(const std::vector<source>& sources) {
  std::unique_lock<std::shared_mutex> guard{mutex_};
  by_key_.clear();
  key_by_id_.clear();
  for (const auto& s : sources) put_locked(s);
}

void source_directory::put(const source& s) {
  std::unique_lock<std::shared_mutex> guard{mutex_};
  put_locked(s);
}

void source_directory::remove(const std::string& source_id) {
  std::unique_lock<std::shared_mutex> guard{mutex_};
  remove_locked(source_id);
}

source_lookup source_directory::find(const std::string& api_key) const {
  source_lookup out;
  std::shared_lock<std::shared_mutex> guard{mutex_};
  auto found = by_key_.find(api_key);
  if (found != by_key_.end()) {
    out.found = true;
    out.src = found->second;
  }
  return out;
}

std::size_t source_directory::size() const {
  std::shared_lock<std::shared_mutex> guard{mutex_};
  return by_key_.size();
}

void source_directory::put_locked(const source& s) {
  remove_locked(s.id);
  key_by_id_[s.id] = s.api_key;
  by_key_[s.api_key] = s;
}

void source_directory::remove_locked(const std::string& source_id) {
  auto found = key_by_id_.find(source_id);
  if (found == key_by_id_.end()) return;
  auto by_key = by_key_.find(found->second);
  if (by_key != by_key_.end() && by_key->second.id == source_id) by_key_.erase(by_key);
  key_by_id_.erase(found);
}

}  // namespace webhookd
