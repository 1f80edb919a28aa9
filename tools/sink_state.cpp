#include "sink_state.hpp"

#include <algorithm>
#include <charconv>

namespace webhookd::sink {
namespace {

using json = nlohmann::json;

/// Parses a response step: an HTTP status (100..599) or "hang".
std::optional<answer_step> parse_step(const json& value) {
  if (value.is_string() && value.get<std::string>() == "hang") return answer_step{0, true};
  if (value.is_number_integer()) {
    const auto status = value.get<std::int64_t>();
    if (status >= 100 && status <= 599) return answer_step{static_cast<int>(status), false};
  }
  return std::nullopt;
}

/// A non-negative integer that fits an int, for millisecond settings.
std::optional<int> parse_ms(const json& value) {
  if (!value.is_number_integer()) return std::nullopt;
  const auto ms = value.get<std::int64_t>();
  if (ms < 0 || ms > 3600 * 1000) return std::nullopt;
  return static_cast<int>(ms);
}

/// The body's top-level JSON "id" (a string, or a number as written), empty if there is none.
std::string event_id_of(const std::string& body) {
  const json doc = json::parse(body, nullptr, false);
  if (!doc.is_object()) return {};
  const auto it = doc.find("id");
  if (it == doc.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return it->dump();
  return {};
}

}  // namespace

std::variant<config_update, config_error> parse_config(const json& doc) {
  if (!doc.is_object()) return config_error{"a config must be a JSON object"};
  static constexpr std::string_view known[] = {"path",    "secrets",     "responses",
                                               "then",    "delay_ms",    "hang",
                                               "hang_ms", "retry_after", "location"};
  for (const auto& item : doc.items()) {
    if (std::find(std::begin(known), std::end(known), item.key()) == std::end(known)) {
      return config_error{"unknown key \"" + item.key() + "\""};
    }
  }
  config_update update;
  const auto path = doc.find("path");
  if (path == doc.end() || !path->is_string()) return config_error{"\"path\" (string) is required"};
  update.path = path->get<std::string>();
  if (update.path != "*" && (update.path.empty() || update.path.front() != '/')) {
    return config_error{"\"path\" must start with / (or be \"*\" for the default)"};
  }
  if (update.path.rfind("/_sink", 0) == 0) return config_error{"/_sink/* paths are the sink's own"};

  auto config = std::make_shared<path_config>();
  config->source = doc;
  if (const auto it = doc.find("secrets"); it != doc.end()) {
    if (!it->is_array()) return config_error{"\"secrets\" must be an array of strings"};
    std::vector<std::string> keys;
    for (const auto& secret : *it) {
      if (!secret.is_string()) return config_error{"\"secrets\" must be an array of strings"};
      auto key = decode_secret(secret.get<std::string>());
      if (!key) return config_error{"a secret is not whsec_<base64>"};
      keys.push_back(std::move(*key));
    }
    config->source["secrets"] = keys.size();  // never echo secrets back
    config->keys = std::move(keys);
  }
  if (const auto it = doc.find("responses"); it != doc.end()) {
    if (!it->is_array()) return config_error{"\"responses\" must be an array"};
    for (const auto& value : *it) {
      const auto step = parse_step(value);
      if (!step) return config_error{"a response must be a status 100..599 or \"hang\""};
      config->responses.push_back(*step);
    }
  }
  if (const auto it = doc.find("then"); it != doc.end()) {
    const auto step = parse_step(*it);
    if (!step) return config_error{"\"then\" must be a status 100..599 or \"hang\""};
    config->then = *step;
  }
  if (const auto it = doc.find("delay_ms"); it != doc.end()) {
    const auto ms = parse_ms(*it);
    if (!ms) return config_error{"\"delay_ms\" must be an integer 0..3600000"};
    config->delay_ms = *ms;
  }
  if (const auto it = doc.find("hang_ms"); it != doc.end()) {
    const auto ms = parse_ms(*it);
    if (!ms) return config_error{"\"hang_ms\" must be an integer 0..3600000"};
    config->hang_ms = *ms;
  }
  if (const auto it = doc.find("hang"); it != doc.end()) {
    if (!it->is_boolean()) return config_error{"\"hang\" must be a boolean"};
    config->hang = it->get<bool>();
  }
  if (const auto it = doc.find("retry_after"); it != doc.end()) {
    if (it->is_string()) {
      config->retry_after = it->get<std::string>();
    } else if (it->is_number_integer() && it->get<std::int64_t>() >= 0) {
      config->retry_after = std::to_string(it->get<std::int64_t>());
    } else {
      return config_error{"\"retry_after\" must be a string or a non-negative integer"};
    }
  }
  if (const auto it = doc.find("location"); it != doc.end()) {
    if (!it->is_string()) return config_error{"\"location\" must be a string"};
    config->location = it->get<std::string>();
  }
  update.config = std::move(config);
  return update;
}

sink_state::sink_state(std::vector<std::string> global_keys, std::size_t keep)
    : global_keys_(std::move(global_keys)), keep_(keep) {}

std::shared_ptr<sink_state::path_entry> sink_state::find(const std::string& path) const {
  std::shared_lock lock(paths_mutex_);
  const auto it = paths_.find(path);
  return it == paths_.end() ? nullptr : it->second;
}

std::shared_ptr<sink_state::path_entry> sink_state::find_or_create(const std::string& path) {
  if (auto entry = find(path)) return entry;
  std::unique_lock lock(paths_mutex_);
  auto& slot = paths_[path];
  if (!slot) slot = std::make_shared<path_entry>();
  return slot;
}

delivery_plan sink_state::record(delivery_input input) {
  const auto entry = find_or_create(input.path);
  std::shared_ptr<const path_config> config;
  {
    std::lock_guard lock(entry->mutex);
    config = entry->config;
  }
  if (!config) {
    std::shared_lock lock(paths_mutex_);
    config = default_config_;
  }
  const auto& keys = config && config->keys ? *config->keys : global_keys_;

  // The expensive parts, outside every lock.
  delivery_plan plan;
  plan.verified = verify(keys, input.webhook_id, input.timestamp, input.body, input.signature);
  std::string event_id = event_id_of(input.body);
  if (config) {
    plan.delay_ms = config->delay_ms;
    plan.hang_ms = config->hang_ms;
    plan.retry_after = config->retry_after;
    plan.location = config->location;
  }

  std::uint64_t attempt = 0;
  {
    std::lock_guard lock(entry->mutex);
    if (config) {
      if (entry->next_response < config->responses.size()) {
        plan.step = config->responses[entry->next_response++];
      } else {
        plan.step = config->then;
      }
      if (config->hang) plan.step = answer_step{0, true};
    }
    ++entry->count;
    switch (plan.verified) {
      case verification::verified:
        ++entry->verified;
        break;
      case verification::failed:
        ++entry->failed;
        break;
      case verification::unchecked:
        ++entry->unchecked;
        break;
    }
    if (plan.step.hang) {
      ++entry->hangs;
    } else {
      ++entry->statuses[plan.step.status];
    }
    if (!input.webhook_id.empty()) {
      attempt = ++entry->webhook_ids[input.webhook_id];
      if (attempt > 1) ++entry->duplicates;
    }
    if (!event_id.empty() && ++entry->event_ids[event_id] > 1) ++entry->event_duplicates;
    if (entry->first_at_ms == 0) entry->first_at_ms = input.received_at_ms;
    entry->last_at_ms = input.received_at_ms;
  }
  ++total_;

  delivery_record record;
  record.input = std::move(input);
  record.event_id = std::move(event_id);
  record.verified = plan.verified;
  record.answered = plan.step;
  record.attempt = attempt;
  std::lock_guard lock(records_mutex_);
  record.seq = next_seq_++;
  if (keep_ == 0) {
    ++dropped_;
    return plan;
  }
  records_.push_back(std::move(record));
  if (records_.size() > keep_) {
    records_.pop_front();
    ++dropped_;
  }
  return plan;
}

void sink_state::configure(const config_update& update) {
  if (update.path == "*") {
    std::unique_lock lock(paths_mutex_);
    default_config_ = update.config;
    return;
  }
  const auto entry = find_or_create(update.path);
  std::lock_guard lock(entry->mutex);
  entry->config = update.config;
  entry->next_response = 0;
}

void sink_state::reset() {
  {
    std::unique_lock lock(paths_mutex_);
    paths_.clear();
    default_config_.reset();
  }
  {
    std::lock_guard lock(records_mutex_);
    records_.clear();
    next_seq_ = 1;
    dropped_ = 0;
  }
  total_ = 0;
}

json sink_state::entry_stats(const path_entry& entry) {
  std::lock_guard lock(entry.mutex);
  json statuses = json::object();
  for (const auto& [status, n] : entry.statuses) statuses[std::to_string(status)] = n;
  return json{{"count", entry.count},
              {"verified", entry.verified},
              {"failed_verification", entry.failed},
              {"unchecked", entry.unchecked},
              {"duplicates", entry.duplicates},
              {"distinct_ids", entry.webhook_ids.size()},
              {"distinct_event_ids", entry.event_ids.size()},
              {"event_duplicates", entry.event_duplicates},
              {"statuses", std::move(statuses)},
              {"hangs", entry.hangs},
              {"first_at_ms", entry.first_at_ms},
              {"last_at_ms", entry.last_at_ms}};
}

json sink_state::stats() const {
  std::vector<std::pair<std::string, std::shared_ptr<path_entry>>> entries;
  {
    std::shared_lock lock(paths_mutex_);
    entries.assign(paths_.begin(), paths_.end());
  }
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  json paths = json::object();
  for (const auto& [path, entry] : entries) {
    json one = entry_stats(*entry);
    if (one["count"].get<std::uint64_t>() > 0) paths[path] = std::move(one);
  }
  std::lock_guard lock(records_mutex_);
  return json{{"total", total_.load()},
              {"recorded", records_.size()},
              {"dropped", dropped_},
              {"paths", std::move(paths)}};
}

json sink_state::path_stats(const std::string& path) const {
  const auto entry = find(path);
  if (!entry) return entry_stats(path_entry{});
  return entry_stats(*entry);
}

json sink_state::deliveries(const std::string& path, const std::string& webhook_id,
                            const std::string& event_id, std::size_t limit,
                            std::uint64_t after_seq) const {
  std::lock_guard lock(records_mutex_);
  std::vector<const delivery_record*> picked;
  for (auto it = records_.rbegin(); it != records_.rend(); ++it) {
    if (it->seq <= after_seq) break;
    if (!path.empty() && it->input.path != path) continue;
    if (!webhook_id.empty() && it->input.webhook_id != webhook_id) continue;
    if (!event_id.empty() && it->event_id != event_id) continue;
    picked.push_back(&*it);
    if (limit > 0 && picked.size() >= limit) break;
  }
  json out = json::array();
  for (auto it = picked.rbegin(); it != picked.rend(); ++it) {
    const delivery_record& r = **it;
    json headers = json::object();
    for (const auto& [name, value] : r.input.headers) headers[name] = value;
    json skew = nullptr;
    std::int64_t ts = 0;
    const auto& t = r.input.timestamp;
    if (const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), ts);
        ec == std::errc{} && end == t.data() + t.size()) {
      skew = r.input.received_at_ms / 1000 - ts;
    }
    out.push_back(json{{"seq", r.seq},
                       {"path", r.input.path},
                       {"id", r.input.webhook_id},
                       {"timestamp", r.input.timestamp},
                       {"signature", r.input.signature},
                       {"received_at_ms", r.input.received_at_ms},
                       {"received_steady_ms", r.input.received_steady_ms},
                       {"timestamp_skew_s", skew},
                       {"verified", to_string(r.verified)},
                       {"status", r.answered.hang ? json(nullptr) : json(r.answered.status)},
                       {"hang", r.answered.hang},
                       {"attempt", r.attempt},
                       {"event_id", r.event_id},
                       {"headers", std::move(headers)},
                       {"body", r.input.body}});
  }
  return out;
}

json sink_state::configs() const {
  std::vector<std::pair<std::string, std::shared_ptr<path_entry>>> entries;
  json out = json::object();
  {
    std::shared_lock lock(paths_mutex_);
    entries.assign(paths_.begin(), paths_.end());
    if (default_config_) out["*"] = default_config_->source;
  }
  for (const auto& [path, entry] : entries) {
    std::lock_guard lock(entry->mutex);
    if (entry->config) {
      json one = entry->config->source;
      one["responses_used"] = entry->next_response;
      out[path] = std::move(one);
    }
  }
  return out;
}

std::uint64_t sink_state::count(const std::string& path) const {
  if (path.empty()) return total_.load();
  const auto entry = find(path);
  if (!entry) return 0;
  std::lock_guard lock(entry->mutex);
  return entry->count;
}

}  // namespace webhookd::sink
