#include "actors/endpoint_core.hpp"

#include <algorithm>
#include <cctype>
#include <functional>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/jwe.hpp"
#include "core/webhook_signature.hpp"

namespace webhookd {

namespace {

std::string lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// Header names a webhook's custom headers may not set: the signature headers and those the
/// transport owns.
bool reserved_header(const std::string& name) {
  static const char* const reserved[] = {
      "webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "content-length",
      "host",       "user-agent",        "transfer-encoding", "connection",   "expect"};
  auto lower = lowercase(name);
  for (const char* r : reserved)
    if (lower == r) return true;
  return false;
}

bool header_text_ok(const std::string& s) {
  return s.find_first_of("\r\n") == std::string::npos;
}

transport_error transport_error_of(const std::string& kind) {
  if (kind.empty()) return transport_error::none;
  if (kind == "timeout") return transport_error::timeout;
  if (kind == "connect_refused") return transport_error::connect_refused;
  if (kind == "connection_reset") return transport_error::connection_reset;
  if (kind == "tls") return transport_error::tls;
  if (kind == "dns") return transport_error::dns;
  if (kind == "blocked_by_policy") return transport_error::blocked_by_policy;
  return transport_error::other;
}

std::size_t priority_index(priority_level p) {
  auto i = static_cast<std::size_t>(p);
  return i < 3 ? i : 1;
}

}  // namespace

priority_level priority_of(const std::string& priority) {
  if (priority == "high") return priority_level::high;
  if (priority == "bulk") return priority_level::bulk;
  return priority_level::standard;
}

attempt_result attempt_result_from(const http_response& response) {
  attempt_result r;
  r.error = transport_error_of(response.error_kind);
  r.status_code = r.error == transport_error::none ? response.status_code : 0;
  r.retry_after = response.retry_after;
  r.error_detail = response.error;
  return r;
}

std::variant<http_request, std::string> make_attempt_request(const webhook& config,
                                                             const delivery_job& job,
                                                             int64_t now_ms,
                                                             const endpoint_settings& settings) {
  const int64_t timestamp = now_ms / 1000;
  std::vector<std::string> secrets{config.signing_secret};
  if (!config.previous_secret.empty() && now_ms < config.previous_secret_expires_at)
    secrets.push_back(config.previous_secret);
  http_request req;
  req.url = config.callback_url;
  std::string content_type = "application/json";
  if (config.public_key.empty()) {
    req.body = job.body;
  } else {
    auto sealed = encrypt_delivery_body(job.body, config.public_key, config.encrypt_fields);
    if (!sealed) return "cannot encrypt the delivery: " + sealed.err().message;
    req.body = std::move(sealed.value().body);
    content_type = std::move(sealed.value().content_type);
  }
  req.total_timeout_ms = config.timeout_ms > 0 ? config.timeout_ms : settings.total_timeout_ms;
  req.connect_timeout_ms = std::min(settings.connect_timeout_ms, req.total_timeout_ms);
  req.priority = static_cast<int>(job.priority);
  // The signature covers the body as sent: receivers verify first, then decrypt.
  auto signature = webhook_signature_header(secrets, job.row.id, timestamp, req.body);
  if (!signature) return "cannot sign the delivery: " + signature.err().message;
  req.headers = {{"content-type", content_type},
                 {"webhook-id", job.row.id},
                 {"webhook-timestamp", std::to_string(timestamp)},
                 {"webhook-signature", signature.value()}};
  if (!config.headers.empty()) {
    auto custom = nlohmann::json::parse(config.headers, nullptr, false);
    if (custom.is_object()) {
      for (const auto& [name, value] : custom.items()) {
        if (!value.is_string() || name.empty() || reserved_header(name)) continue;
        auto text = value.get<std::string>();
        if (!header_text_ok(name) || !header_text_ok(text)) continue;
        req.headers.emplace_back(name, std::move(text));
      }
    }
  }
  return req;
}

// --- endpoint_core ---

void endpoint_core::ready_queue::pop_front() {
  ++head_;
  if (head_ == items_.size()) {
    clear();
  } else if (head_ >= 64 && head_ * 2 >= items_.size()) {
    items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

void endpoint_core::ready_queue::clear() {
  // A queue that held a burst gives its buffer back once empty; a small one keeps it.
  if (items_.capacity() > 64)
    std::vector<item>().swap(items_);
  else
    items_.clear();
  head_ = 0;
}

endpoint_core::endpoint_core(webhook config, endpoint_settings settings, int64_t now_ms,
                             uint64_t seed)
    : endpoint_core(std::make_shared<const webhook>(std::move(config)), std::move(settings), now_ms,
                    seed) {}

endpoint_core::endpoint_core(std::shared_ptr<const webhook> config, endpoint_settings settings,
                             int64_t now_ms, uint64_t seed)
    : config_(std::move(config)),
      settings_(std::move(settings)),
      bucket_(std::max(config_->rate_limit, 1), now_ms),
      breaker_(settings_.breaker),
      seed_(seed) {
  apply_config(now_ms);
}

std::mt19937_64& endpoint_core::rng() {
  if (!rng_) rng_ = std::make_unique<std::mt19937_64>(seed_);
  return *rng_;
}

void endpoint_core::apply_config(int64_t now_ms) {
  policy_error_.clear();
  policy_ = retry_policy::default_policy();
  if (!config_->retry_policy.empty()) {
    auto parsed = retry_policy::parse(config_->retry_policy);
    if (parsed)
      policy_ = parsed.value();
    else
      policy_error_ = parsed.err().message;
  }
  bucket_.set_rate(std::max(config_->rate_limit, 1), now_ms);
}

void endpoint_core::reconfigure(webhook config, int64_t now_ms) {
  bool was_active = active();
  bool was_ordered = config_->ordered;
  config_ = std::make_shared<const webhook>(std::move(config));
  if (config_->status == "active") {
    if (locally_disabled_) {
      // Enabled again (by a client) after we disabled it: start afresh.
      locally_disabled_ = false;
      disable_requested_ = false;
      streak_ = failure_streak{};
    }
  }
  apply_config(now_ms);
  if (was_active && !active()) {
    release_waiting();
  } else if (!was_active && active()) {
    store_has_more_ = true;
  }
  if (was_ordered != config_->ordered) rebuild_queues(now_ms);
}

void endpoint_core::disable_locally(int64_t /*now_ms*/) {
  if (locally_disabled_) return;
  bool was_active = active();
  locally_disabled_ = true;
  if (was_active) release_waiting();
}

bool endpoint_core::active() const {
  return config_->status == "active" && !locally_disabled_;
}

int endpoint_core::cap() const {
  return config_->ordered ? 1 : std::max(settings_.max_in_flight, 1);
}

endpoint_core::offer_result endpoint_core::offer(delivery_job job, int64_t now_ms) {
  if (!active()) {
    store_has_more_ = true;
    return offer_result::inactive;
  }
  if (jobs_.count(job.row.id) != 0) return offer_result::duplicate;
  if (jobs_.size() >= settings_.max_queued) {
    store_has_more_ = true;
    return offer_result::overflow;
  }
  auto id = job.row.id;
  entry e;
  e.due = job.row.next_attempt_at;
  e.job = std::move(job);
  auto& placed = jobs_.emplace(id, std::move(e)).first->second;
  enqueue(placed, now_ms);
  return offer_result::accepted;
}

void endpoint_core::enqueue(entry& e, int64_t now_ms) {
  e.seq = ++next_seq_;
  e.requeue = false;
  e.ph = e.due <= now_ms ? phase::ready : phase::waiting;
  if (config_->ordered) {
    fifo_.emplace(e.job.row.created_at, e.job.row.id);
    return;
  }
  if (e.ph == phase::ready) {
    ready_[priority_index(e.job.priority)].emplace_back(e.seq, e.job.row.id);
  } else {
    timers_.push_back(timer_item{e.due, e.seq, e.job.row.id});
    std::push_heap(timers_.begin(), timers_.end(), std::greater<>());
  }
}

void endpoint_core::promote_due(int64_t now_ms) {
  if (config_->ordered) return;
  while (!timers_.empty() && timers_.front().due <= now_ms) {
    std::pop_heap(timers_.begin(), timers_.end(), std::greater<>());
    timer_item item = std::move(timers_.back());
    timers_.pop_back();
    auto found = jobs_.find(item.id);
    if (found == jobs_.end()) continue;
    entry& e = found->second;
    if (e.ph != phase::waiting || e.seq != item.seq) continue;
    e.ph = phase::ready;
    ready_[priority_index(e.job.priority)].emplace_back(e.seq, e.job.row.id);
  }
}

endpoint_core::entry* endpoint_core::ready_candidate() {
  if (config_->ordered) {
    if (fifo_.empty()) return nullptr;
    auto found = jobs_.find(fifo_.begin()->second);
    if (found == jobs_.end()) return nullptr;
    entry& head = found->second;
    if (head.ph != phase::ready && head.ph != phase::waiting) return nullptr;
    return &head;  // the caller checks that it is due
  }
  for (auto& queue : ready_) {
    while (!queue.empty()) {
      auto found = jobs_.find(queue.front().second);
      if (found != jobs_.end() && found->second.ph == phase::ready &&
          found->second.seq == queue.front().first)
        return &found->second;
      queue.pop_front();  // stale: the job moved on since it was queued
    }
  }
  return nullptr;
}

void endpoint_core::pop_candidate(entry& e) {
  if (config_->ordered) return;  // stays in fifo_ until its final outcome
  ready_[priority_index(e.job.priority)].pop_front();
}

std::vector<attempt_start> endpoint_core::start_due(int64_t now_ms) {
  std::vector<attempt_start> starts;
  if (!active() || draining_) return starts;
  promote_due(now_ms);
  while (in_flight_ < cap()) {
    entry* e = ready_candidate();
    if (e == nullptr) break;
    if (e->due > now_ms) break;  // ordered head not due yet
    if (bucket_.ms_until_available(now_ms) > 0) break;
    if (!breaker_.allow(now_ms)) break;
    bool took = bucket_.try_take(now_ms);
    (void)took;  // a token was available a moment ago at the same time
    pop_candidate(*e);
    e->ph = phase::in_flight;
    e->started_at = now_ms;
    ++in_flight_;
    starts.push_back(attempt_start{e->job.row.id, e->job.row.attempts + 1, now_ms});
  }
  return starts;
}

const delivery_job* endpoint_core::job(const std::string& delivery_id) const {
  auto found = jobs_.find(delivery_id);
  return found == jobs_.end() ? nullptr : &found->second.job;
}

attempt_verdict endpoint_core::on_attempt_finished(const std::string& delivery_id,
                                                   const attempt_report& report, int64_t now_ms) {
  attempt_verdict v;
  auto found = jobs_.find(delivery_id);
  if (found == jobs_.end() || found->second.ph != phase::in_flight) return v;
  entry& e = found->second;
  --in_flight_;
  const int attempt_no = e.job.row.attempts + 1;
  // The policy counts the attempts of the current series: a resend or replay starts a new one
  // (max_attempts and the schedule afresh) while attempt numbers keep growing.
  const int series_attempt = std::max(1, attempt_no - e.job.row.series_start);
  v.decision = classify_attempt(report.result, series_attempt, policy_, now_ms, rng());
  if (v.decision.endpoint_failure)
    breaker_.on_failure(now_ms);
  else
    breaker_.on_success(now_ms);
  streak_.record(v.decision.endpoint_failure, now_ms);

  attempt& a = v.outcome.att;
  a.delivery_id = delivery_id;
  a.attempt_no = attempt_no;
  a.started_at = e.started_at;
  a.duration_ms = report.duration_ms;
  a.status_code = report.result.error == transport_error::none ? report.result.status_code : 0;
  a.error = report.result.error == transport_error::none ? std::string{} : v.decision.error;
  a.response_excerpt = report.body_excerpt;

  e.job.row.attempts = attempt_no;
  e.ph = phase::recording;
  e.requeue = false;
  ++recording_;
  bool final = true;
  switch (v.decision.verdict) {
    case delivery_verdict::success:
      v.outcome.new_status = delivery_status::succeeded;
      ++succeeded_;
      break;
    case delivery_verdict::retry:
      v.outcome.new_status = delivery_status::pending;
      v.outcome.next_attempt_at = v.decision.retry_at_ms;
      e.requeue = true;
      e.retry_at = v.decision.retry_at_ms;
      e.job.row.next_attempt_at = v.decision.retry_at_ms;
      final = false;
      ++retried_;
      break;
    case delivery_verdict::dlq:
    case delivery_verdict::disable_webhook_and_dlq:
      v.outcome.new_status = delivery_status::failed;
      v.outcome.dlq_reason = v.decision.dlq_reason;
      ++failed_;
      break;
  }
  if (!v.decision.error.empty()) last_error_ = v.decision.error;
  if (final && config_->ordered) fifo_.erase({e.job.row.created_at, e.job.row.id});

  if (!disable_requested_) {
    if (v.decision.verdict == delivery_verdict::disable_webhook_and_dlq) {
      v.disable_webhook = true;
      v.disable_reason = "the endpoint answered HTTP 410 Gone";
    } else if (streak_.should_disable(now_ms, settings_.auto_disable)) {
      v.disable_webhook = true;
      v.disable_reason = "failing for " +
                         std::to_string((now_ms - *streak_.first_failure_at()) / 1000) +
                         " s (auto-disabled): " + v.decision.error;
    }
    if (v.disable_webhook) {
      disable_requested_ = true;
      disable_locally(now_ms);
    }
  }
  return v;
}

void endpoint_core::on_recorded(const std::string& delivery_id, bool ok, int64_t now_ms) {
  auto found = jobs_.find(delivery_id);
  if (found == jobs_.end() || found->second.ph != phase::recording) return;
  entry& e = found->second;
  --recording_;
  if (loading_) confirmed_during_load_.insert(delivery_id);
  if (ok && e.requeue && active()) {
    e.due = e.retry_at;
    enqueue(e, now_ms);
    return;
  }
  // Released (a retry of a paused webhook) or not written: either way pending in the store.
  if (!ok || e.requeue) store_has_more_ = true;
  erase(delivery_id);
}

void endpoint_core::erase(const std::string& id) {
  auto found = jobs_.find(id);
  if (found == jobs_.end()) return;
  if (config_->ordered) fifo_.erase({found->second.job.row.created_at, id});
  jobs_.erase(found);
}

void endpoint_core::release_waiting() {
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (it->second.ph == phase::ready || it->second.ph == phase::waiting) {
      if (config_->ordered) fifo_.erase({it->second.job.row.created_at, it->first});
      it = jobs_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& q : ready_) q.clear();
  timers_.clear();
  store_has_more_ = true;
}

void endpoint_core::rebuild_queues(int64_t now_ms) {
  for (auto& q : ready_) q.clear();
  timers_.clear();
  fifo_.clear();
  for (auto& [id, e] : jobs_) {
    if (e.ph == phase::ready || e.ph == phase::waiting) {
      enqueue(e, now_ms);
    } else if (config_->ordered &&
               (e.ph == phase::in_flight || (e.ph == phase::recording && e.requeue))) {
      fifo_.emplace(e.job.row.created_at, id);
    }
  }
}

bool endpoint_core::wants_load() const {
  return active() && !draining_ && !loading_ && store_has_more_ &&
         jobs_.size() <= static_cast<std::size_t>(load_limit()) / 2;
}

int32_t endpoint_core::load_limit() const {
  auto limit = std::max<std::size_t>(std::min(settings_.max_queued, settings_.load_batch), 1);
  return static_cast<int32_t>(
      std::min<std::size_t>(limit, static_cast<std::size_t>(std::numeric_limits<int32_t>::max())));
}

void endpoint_core::load_started() {
  loading_ = true;
  last_load_limit_ = load_limit();
  confirmed_during_load_.clear();
}

void endpoint_core::load_finished(std::vector<delivery_job> jobs, bool ok, int64_t now_ms) {
  loading_ = false;
  if (!ok) {
    confirmed_during_load_.clear();
    return;  // store_has_more_ stays set: the actor retries after a backoff
  }
  bool full = jobs.size() >= static_cast<std::size_t>(last_load_limit_);
  bool overflow = false;
  const auto priority = priority_of(config_->priority);
  for (auto& job : jobs) {
    if (confirmed_during_load_.count(job.row.id) != 0) continue;
    job.priority = priority;
    auto result = offer(std::move(job), now_ms);
    if (result == offer_result::overflow || result == offer_result::inactive) overflow = true;
  }
  confirmed_during_load_.clear();
  store_has_more_ = full || overflow;
}

std::optional<int64_t> endpoint_core::next_wake(int64_t now_ms) const {
  if (!active() || draining_) return std::nullopt;
  std::optional<int64_t> wake;
  auto consider = [&wake](int64_t t) {
    if (!wake || t < *wake) wake = t;
  };
  bool startable_now = false;
  if (config_->ordered) {
    if (!fifo_.empty() && in_flight_ == 0) {
      auto found = jobs_.find(fifo_.begin()->second);
      if (found != jobs_.end() &&
          (found->second.ph == phase::ready || found->second.ph == phase::waiting)) {
        if (found->second.due > now_ms)
          consider(found->second.due);
        else
          startable_now = true;
      }
    }
  } else {
    if (!timers_.empty()) consider(std::max(timers_.front().due, now_ms + 1));
    for (const auto& queue : ready_) {
      for (const auto& [seq, id] : queue) {
        auto found = jobs_.find(id);
        if (found != jobs_.end() && found->second.ph == phase::ready && found->second.seq == seq) {
          startable_now = true;
          break;
        }
      }
      if (startable_now) break;
    }
    if (!startable_now && !timers_.empty() && timers_.front().due <= now_ms) startable_now = true;
  }
  if (startable_now && in_flight_ < cap()) {
    auto probe = breaker_.ms_until_probe(now_ms);
    if (probe) {
      int64_t wait = std::max(bucket_.ms_until_available(now_ms), *probe);
      consider(now_ms + std::max<int64_t>(wait, 1));
    }
  }
  return wake;
}

bool endpoint_core::idle() const {
  return jobs_.empty() && !loading_ && !(active() && store_has_more_ && !draining_);
}

endpoint_state endpoint_core::snapshot(int64_t now_ms) const {
  endpoint_state s;
  s.webhook_id = config_->id;
  s.client_id = config_->client_id;
  s.callback_url = config_->callback_url;
  s.status = locally_disabled_ ? std::string("disabled") : config_->status;
  s.tokens = bucket_.available(now_ms);
  s.rate_limit = bucket_.rate();
  for (const auto& [id, e] : jobs_) {
    switch (e.ph) {
      case phase::ready:
        if (e.due > now_ms) {
          ++s.waiting;
          break;
        }
        switch (e.job.priority) {
          case priority_level::high:
            ++s.queued_high;
            break;
          case priority_level::bulk:
            ++s.queued_bulk;
            break;
          default:
            ++s.queued_standard;
            break;
        }
        break;
      case phase::waiting:
        ++s.waiting;
        if (s.next_retry_at == 0 || e.due < s.next_retry_at) s.next_retry_at = e.due;
        break;
      case phase::in_flight:
        ++s.in_flight;
        break;
      case phase::recording:
        ++s.recording;
        break;
    }
  }
  s.circuit = to_string(breaker_.state());
  s.last_error = last_error_;
  s.succeeded = succeeded_;
  s.failed = failed_;
  s.retried = retried_;
  s.ordered = config_->ordered;
  s.draining = draining_;
  return s;
}

}  // namespace webhookd
