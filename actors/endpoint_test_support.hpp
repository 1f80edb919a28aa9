#pragma once

// Test support for the delivery engine's actor tests (endpoint, supervisor, store writer, DLQ):
// a real SQLite store in a temporary directory, an actor system sized for this box, and a
// scripted HTTP receiver behind the http_client_actor protocol that records every request
// (its time, its sender) and can hold answers back until released.

#include <caf/all.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "actors/http_client.hpp"
#include "actors/messages.hpp"
#include "core/clock.hpp"
#include "core/model.hpp"
#include "storage/store.hpp"

namespace webhookd::test {

/// A Standard Webhooks secret (24-byte key).
inline const std::string test_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A fresh SQLite store in its own temporary directory, removed afterwards.
class temp_store {
 public:
  temp_store() {
    char pattern[] = "/tmp/webhookd-engine-XXXXXX";
    const char* made = mkdtemp(pattern);
    REQUIRE(made != nullptr);
    dir_ = made;
    auto opened = storage::open_store_blocking({"sqlite:" + dir_ + "/store.db", 1});
    INFO((opened ? std::string("ok") : opened.err().message));
    REQUIRE(opened.ok());
    store_ = std::move(opened.value());
  }
  ~temp_store() {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  temp_store(const temp_store&) = delete;
  temp_store& operator=(const temp_store&) = delete;

  storage::blocking_store& store() { return *store_; }
  storage::blocking_store* get() { return store_.get(); }

 private:
  std::string dir_;
  std::unique_ptr<storage::blocking_store> store_;
};

/// An actor system with two scheduler threads (the size of this box).
inline std::unique_ptr<caf::actor_system_config> make_actor_config() {
  auto cfg = std::make_unique<caf::actor_system_config>();
  cfg->set("scheduler.max-threads", 2);
  register_message_types(*cfg);
  return cfg;
}

/// Waits until `pred` holds, checking every few ms, for at most `limit`. Returns pred().
template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

/// `release_atom`: the scripted receiver answers every request it holds.
using release_atom = caf::atom_constant<caf::atom("release")>;

/// The requests a scripted HTTP receiver saw and how it answers.
struct scripted_receiver {
  struct seen {
    http_request request;
    int64_t at_ms = 0;
    caf::actor_addr from;
  };

  /// Answers one request; called under the receiver's lock (it may keep counters).
  std::function<http_response(const http_request&)> answer = [](const http_request&) {
    http_response r;
    r.status_code = 200;
    r.duration_ms = 1;
    return r;
  };
  /// When set, requests are held until `release_atom` (or answered at exit with an error).
  bool hold = false;

  std::mutex mutex;
  std::condition_variable changed;
  std::vector<seen> requests;

  /// The value of header `name` of a request, empty if absent.
  static std::string header(const http_request& r, const std::string& name) {
    for (const auto& [n, v] : r.headers)
      if (n == name) return v;
    return {};
  }

  /// Requests seen so far (a copy).
  std::vector<seen> snapshot() {
    std::lock_guard<std::mutex> lock(mutex);
    return requests;
  }
  /// How many requests carried webhook-id `id`.
  std::size_t count_for(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex);
    std::size_t n = 0;
    for (const auto& s : requests)
      if (header(s.request, "webhook-id") == id) ++n;
    return n;
  }
  /// Waits until at least `n` requests were seen.
  bool wait_for(std::size_t n, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mutex);
    return changed.wait_for(lock, limit, [&] { return requests.size() >= n; });
  }
  void set_answer(std::function<http_response(const http_request&)> f) {
    std::lock_guard<std::mutex> lock(mutex);
    answer = std::move(f);
  }
  void set_hold(bool h) {
    std::lock_guard<std::mutex> lock(mutex);
    hold = h;
  }
};

/// An HTTP response with `status`.
inline http_response status_response(int status, std::string retry_after = "") {
  http_response r;
  r.status_code = status;
  r.retry_after = std::move(retry_after);
  r.duration_ms = 1;
  return r;
}

/// Spawns an actor speaking the http_client_actor protocol on behalf of `receiver`.
inline http_client_actor spawn_scripted_http(caf::actor_system& sys,
                                             std::shared_ptr<scripted_receiver> receiver) {
  auto behavior = [](caf::event_based_actor* self, std::shared_ptr<scripted_receiver> r) {
    using held_request = std::pair<caf::typed_response_promise<http_response>, http_request>;
    auto held = std::make_shared<std::vector<held_request>>();
    return caf::behavior{
        [self, r, held](http_request& req) -> caf::result<http_response> {
          std::unique_lock<std::mutex> lock(r->mutex);
          auto now = system_clock_source{}.now_ms();
          r->requests.push_back(
              {req, now, caf::actor_cast<caf::actor_addr>(self->current_sender())});
          r->changed.notify_all();
          if (r->hold) {
            auto rp = self->make_response_promise<http_response>();
            held->emplace_back(rp, req);
            return rp;
          }
          return r->answer(req);
        },
        [r, held](release_atom) {
          for (auto& [rp, req] : *held) {
            http_response answer;
            {
              std::lock_guard<std::mutex> lock(r->mutex);
              answer = r->answer(req);
            }
            rp.deliver(std::move(answer));
          }
          held->clear();
        },
        [](state_atom) -> http_client_stats { return {}; },
    };
  };
  return caf::actor_cast<http_client_actor>(sys.spawn(behavior, std::move(receiver)));
}

/// A webhook of client "c1" with a valid secret and a short retry schedule, stored.
inline webhook add_test_webhook(storage::blocking_store& store, const std::string& id,
                                const std::string& retry_policy =
                                    R"({"max_attempts": 3, "schedule": [0, 0.05, 0.05],
                                        "jitter": 0})") {
  webhook w;
  w.id = id;
  w.client_id = "c1";
  w.callback_url = "http://127.0.0.1:9/" + id;
  w.event_types = {"invoice.paid"};
  w.retry_policy = retry_policy;
  w.signing_secret = test_secret;
  w.created_at = w.updated_at = system_clock_source{}.now_ms();
  auto inserted = store.insert_webhook(w);
  REQUIRE(inserted.ok());
  return w;
}

/// Appends `count` events of client c1, each with one delivery per webhook (due at `due_at`,
/// now when 0), and returns the jobs ingest would hand on.
inline std::vector<delivery_job> add_test_events(storage::blocking_store& store,
                                                 const std::vector<webhook>& targets, int count,
                                                 const std::string& tag, int64_t due_at = 0) {
  static int serial = 0;
  std::vector<storage::new_event> batch;
  std::vector<delivery_job> jobs;
  int64_t now = system_clock_source{}.now_ms();
  for (int i = 0; i < count; ++i) {
    storage::new_event ne;
    ne.ev.client_id = "c1";
    ne.ev.event_id = "ev_" + tag + "_" + std::to_string(++serial);
    ne.ev.event_type = "invoice.paid";
    ne.ev.timestamp = now;
    ne.ev.payload = R"({"n":)" + std::to_string(i) + "}";
    ne.ev.source_id = "src_test";
    ne.ev.received_at = now;
    for (const auto& w : targets) {
      delivery d;
      d.id = "msg_" + tag + "_" + std::to_string(serial) + "_" + w.id;
      d.client_id = "c1";
      d.event_id = ne.ev.event_id;
      d.event_type = ne.ev.event_type;
      d.webhook_id = w.id;
      d.partition = partition_of(w.id);
      d.next_attempt_at = due_at != 0 ? due_at : now;
      d.created_at = d.updated_at = now + i;
      ne.deliveries.push_back(d);
      delivery_job job;
      job.row = d;
      job.body = R"({"id":")" + ne.ev.event_id + R"("})";
      jobs.push_back(std::move(job));
    }
    batch.push_back(std::move(ne));
  }
  auto appended = store.append_events(batch);
  REQUIRE(appended.ok());
  return jobs;
}

/// The stored status of delivery `id` of client c1.
inline delivery_status status_of(storage::blocking_store& store, const std::string& id) {
  auto d = store.get_delivery("c1", id);
  REQUIRE(d.ok());
  return d->status;
}

/// True when every job's delivery has `status` in the store.
inline bool all_have_status(storage::blocking_store& store, const std::vector<delivery_job>& jobs,
                            delivery_status status) {
  for (const auto& j : jobs) {
    auto d = store.get_delivery("c1", j.row.id);
    if (!d.ok() || d->status != status) return false;
  }
  return true;
}

}  // namespace webhookd::test
