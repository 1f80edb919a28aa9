// Durability across a crash: 3,000 events posted in batches of 50 from 4 threads, webhookd
// killed with SIGKILL in the middle, restarted on the same store; every event that got a 202 is
// delivered at least once (duplicates are allowed and reported, losses are not), and a
// redelivered event keeps its webhook-id so receivers can dedupe. Run on SQLite and PostgreSQL.

#include <signal.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/engine_support.hpp"

using namespace webhookd::e2e;
using nlohmann::json;

namespace {

constexpr int threads = 4;
constexpr int batch_size = 50;
constexpr int batches = 60;  // 3,000 events
constexpr int kill_after_acked = batches * batch_size / 2;

struct ingest_log {
  std::mutex mutex;
  std::set<std::string> acked;        // ids whose request got a 202
  std::set<std::string> posted;       // every id ever sent
  std::vector<std::string> failures;  // answers that are neither 202, 503 nor "no answer"
  std::atomic<int> acked_count{0};
  std::atomic<bool> killed{false};
};

// Posts batches first, first + threads, ... until done or the server stops answering. The thread
// whose 202 brings the acknowledged count to kill_after_acked kills the server at once, while the
// other threads are still posting.
void post_batches(event_poster poster, const std::string& client, int first, pid_t server_pid,
                  ingest_log& log) {
  for (int b = first; b < batches; b += threads) {
    json batch = json::array();
    std::vector<std::string> ids;
    for (int i = 0; i < batch_size; ++i) {
      ids.push_back("evt_crash_" + std::to_string(b) + "_" + std::to_string(i));
      batch.push_back(make_event(client, ids.back(), "invoice.paid", {{"batch", b}, {"i", i}}));
    }
    {
      std::lock_guard<std::mutex> lock(log.mutex);
      log.posted.insert(ids.begin(), ids.end());
    }
    http_answer answer;
    // 503 means "not now" (overload): a source retries, after a short pause.
    for (int tries = 0; tries < 100; ++tries) {
      answer = poster.post_batch(batch);
      if (answer.status != 503) break;
      std::this_thread::sleep_for(milliseconds{50});
    }
    if (answer.status == 0) return;  // the server is gone
    if (answer.status != 202) {
      std::lock_guard<std::mutex> lock(log.mutex);
      log.failures.push_back(answer.describe());
      return;
    }
    {
      std::lock_guard<std::mutex> lock(log.mutex);
      log.acked.insert(ids.begin(), ids.end());
    }
    int before = log.acked_count.fetch_add(batch_size);
    if (before < kill_after_acked && before + batch_size >= kill_after_acked) {
      ::kill(server_pid, SIGKILL);
      log.killed = true;
    }
  }
}

void check_no_loss_across_kill(world_options options) {
  options.event_types = {"invoice.paid"};
  engine_world world(std::move(options));
  const std::string path = "/crash";
  // A modest rate limit keeps deliveries behind ingestion, so plenty are pending at the kill.
  world.add_webhook(path, {"invoice.paid"}, {{"rate_limit", 400}});

  ingest_log log;
  {
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back(post_batches, world.poster(), world.client_id(), t,
                           world.server().proc().pid(), std::ref(log));
    }
    for (auto& w : workers) w.join();
  }
  REQUIRE(log.failures.empty());
  REQUIRE(log.killed);
  REQUIRE(static_cast<int>(log.acked.size()) < batches * batch_size);
  world.kill_server();  // reaps it
  const int delivered_before_restart = world.sink().count(path);

  world.restart_server();

  // Every acknowledged event arrives (some may arrive twice).
  std::set<std::string> delivered;
  std::vector<std::string> missing;
  auto all_arrived = [&] {
    json stats = world.sink().stats(path);
    if (stats.at("distinct_event_ids").get<std::size_t>() < log.acked.size()) return false;
    delivered.clear();
    for (const auto& d : world.sink().deliveries(path)) delivered.insert(d.at("event_id"));
    missing.clear();
    for (const auto& id : log.acked) {
      if (delivered.count(id) == 0) missing.push_back(id);
    }
    return missing.empty();
  };
  bool arrived = wait_until(all_arrived, milliseconds{180'000});
  if (!arrived) all_arrived();

  json stats = world.sink().stats(path);
  const auto duplicates = stats.at("event_duplicates").get<int>();
  WARN("crash test: " << log.acked.size() << " events acknowledged before the kill, "
                      << delivered_before_restart << " deliveries before the restart, "
                      << stats.at("count") << " deliveries in all, "
                      << stats.at("distinct_event_ids")
                      << " distinct events delivered, duplicates: " << duplicates
                      << " (same webhook-id again: " << stats.at("duplicates") << ")");
  INFO("first missing: " << (missing.empty() ? std::string("none") : missing.front()) << " of "
                         << missing.size());
  CHECK(arrived);
  CHECK(missing.empty());
  // Nothing is delivered that was never posted, every signature verifies, and an event
  // delivered twice carries the same webhook-id both times.
  std::vector<std::string> never_posted;
  for (const auto& id : delivered) {
    if (log.posted.count(id) == 0) never_posted.push_back(id);
  }
  INFO("first delivered but never posted: " << (never_posted.empty() ? std::string("none")
                                                                     : never_posted.front()));
  CHECK(never_posted.empty());
  CHECK(stats.at("failed_verification") == 0);
  CHECK(stats.at("distinct_ids") == stats.at("distinct_event_ids"));

  // The restarted server still ends cleanly on SIGTERM.
  exit_status stopped = world.stop_server();
  INFO("stderr: " << world.server().proc().stderr_text());
  CHECK(stopped.exited);
  CHECK(stopped.code == 0);
}

}  // namespace

TEST_CASE("kill -9 during heavy ingestion loses no acknowledged event",
          "[e2e][engine][crash][sqlite]") {
  check_no_loss_across_kill({});
}

TEST_CASE("on PostgreSQL kill -9 during heavy ingestion loses no acknowledged event",
          "[e2e][engine][crash][pg]") {
  pg_database database;
  world_options options;
  options.store_url = database.url();
  check_no_loss_across_kill(options);
}
