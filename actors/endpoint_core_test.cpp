// Unit tests of the endpoint actor's state machine, driven in virtual time: nothing sleeps, the
// clock is a number the test moves.

#include <catch2/catch.hpp>

#include <algorithm>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "actors/endpoint_core.hpp"
#include "core/webhook_signature.hpp"

using namespace webhookd;

namespace {

const int64_t t0 = 1'700'000'000'000;
// 32 bytes of key: "whsec_" + base64.
const std::string secret_a = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const std::string secret_b = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

webhook make_webhook(const std::string& retry_policy = "") {
  webhook w;
  w.id = "wh_1";
  w.client_id = "c1";
  w.callback_url = "http://127.0.0.1:9/hook";
  w.rate_limit = 1000;
  w.retry_policy = retry_policy;
  w.signing_secret = secret_a;
  return w;
}

delivery_job make_job(int n, priority_level p = priority_level::standard, int64_t due = t0) {
  delivery_job job;
  job.row.id = "msg_" + std::to_string(1000 + n);
  job.row.client_id = "c1";
  job.row.event_id = "ev_" + std::to_string(n);
  job.row.event_type = "invoice.paid";
  job.row.webhook_id = "wh_1";
  job.row.next_attempt_at = due;
  job.row.created_at = t0 + n;
  job.body = R"({"id":"ev_)" + std::to_string(n) + R"("})";
  job.priority = p;
  return job;
}

attempt_report answered(int status, const std::string& retry_after = "") {
  attempt_report r;
  r.result.status_code = status;
  r.result.retry_after = retry_after;
  r.duration_ms = 3;
  return r;
}

attempt_report transport(transport_error e) {
  attempt_report r;
  r.result.error = e;
  r.result.error_detail = "boom";
  return r;
}

std::vector<std::string> ids(const std::vector<attempt_start>& starts) {
  std::vector<std::string> out;
  for (const auto& s : starts) out.push_back(s.delivery_id);
  return out;
}

/// Finishes an in-flight attempt and confirms its outcome at once; returns the verdict.
attempt_verdict finish(endpoint_core& core, const std::string& id, const attempt_report& r,
                       int64_t now) {
  auto v = core.on_attempt_finished(id, r, now);
  core.on_recorded(id, true, now);
  return v;
}

endpoint_settings settings_with(int max_in_flight = 16) {
  endpoint_settings s;
  s.max_in_flight = max_in_flight;
  return s;
}

}  // namespace

TEST_CASE("endpoint_core serves high, then standard, then bulk, FIFO within each", "[unit]") {
  endpoint_core core(make_webhook(), settings_with(), t0, 1);
  REQUIRE(core.offer(make_job(1, priority_level::bulk), t0) ==
          endpoint_core::offer_result::accepted);
  REQUIRE(core.offer(make_job(2, priority_level::standard), t0) ==
          endpoint_core::offer_result::accepted);
  REQUIRE(core.offer(make_job(3, priority_level::high), t0) ==
          endpoint_core::offer_result::accepted);
  REQUIRE(core.offer(make_job(4, priority_level::bulk), t0) ==
          endpoint_core::offer_result::accepted);
  REQUIRE(core.offer(make_job(5, priority_level::high), t0) ==
          endpoint_core::offer_result::accepted);
  CHECK(core.offer(make_job(5, priority_level::high), t0) ==
        endpoint_core::offer_result::duplicate);

  auto starts = core.start_due(t0);
  CHECK(ids(starts) ==
        std::vector<std::string>{"msg_1003", "msg_1005", "msg_1002", "msg_1001", "msg_1004"});
  for (const auto& s : starts) CHECK(s.attempt_no == 1);
  CHECK(core.in_flight() == 5);
}

TEST_CASE("endpoint_core with one slot takes the highest priority job each time", "[unit]") {
  endpoint_core core(make_webhook(), settings_with(1), t0, 1);
  for (int n = 1; n <= 3; ++n) (void)core.offer(make_job(n, priority_level::bulk), t0);
  auto first = core.start_due(t0);
  REQUIRE(ids(first) == std::vector<std::string>{"msg_1001"});
  CHECK(core.start_due(t0).empty());  // the only slot is taken
  (void)core.offer(make_job(9, priority_level::high), t0);
  (void)core.offer(make_job(8, priority_level::standard), t0);
  finish(core, "msg_1001", answered(200), t0 + 1);
  CHECK(ids(core.start_due(t0 + 1)) == std::vector<std::string>{"msg_1009"});
  finish(core, "msg_1009", answered(200), t0 + 2);
  CHECK(ids(core.start_due(t0 + 2)) == std::vector<std::string>{"msg_1008"});
  finish(core, "msg_1008", answered(200), t0 + 3);
  CHECK(ids(core.start_due(t0 + 3)) == std::vector<std::string>{"msg_1002"});
}

TEST_CASE("endpoint_core never exceeds the webhook's rate limit", "[unit]") {
  for (int rate : {1, 7, 50, 1000}) {
    auto w = make_webhook();
    w.rate_limit = rate;
    endpoint_core core(w, settings_with(), t0, 1);
    const int jobs = std::min(3 * rate + 20, 3000);
    for (int n = 0; n < jobs; ++n)
      REQUIRE(core.offer(make_job(n), t0) == endpoint_core::offer_result::accepted);
    std::vector<int64_t> starts;
    int64_t now = t0;
    int wakes = 0;
    while (static_cast<int>(starts.size()) < jobs) {
      for (const auto& s : core.start_due(now)) {
        starts.push_back(now);
        finish(core, s.delivery_id, answered(204), now);
      }
      auto wake = core.next_wake(now);
      if (static_cast<int>(starts.size()) == jobs) break;
      REQUIRE(wake.has_value());
      REQUIRE(*wake > now);
      now = *wake;
      REQUIRE(++wakes < 100'000);
    }
    INFO("rate " << rate);
    // Any window of T ms holds at most burst + rate * T / 1000 attempts.
    const double burst = token_bucket::default_burst(rate);
    double worst_excess = -1e9;  // most attempts in a window beyond what the bound allows
    for (std::size_t i = 0; i < starts.size(); ++i) {
      for (std::size_t j = i; j < starts.size(); ++j) {
        double window_ms = static_cast<double>(starts[j] - starts[i]);
        if (window_ms > 2000) break;
        worst_excess = std::max(
            worst_excess, static_cast<double>(j - i + 1) - (burst + rate * window_ms / 1000.0));
      }
    }
    CHECK(worst_excess <= 1e-9);
    // ... and the endpoint does not dawdle: the last start is no later than the bucket allows.
    double ideal_ms = (jobs - burst) * 1000.0 / rate;
    CHECK(static_cast<double>(starts.back() - t0) <= ideal_ms + 2.0 * jobs / rate + 2);
  }
}

TEST_CASE("endpoint_core retries on the webhook's schedule, after the write is confirmed",
          "[unit]") {
  endpoint_core core(make_webhook(R"({"max_attempts": 4, "schedule": [0, 1, 5, 10],
                                      "jitter": 0})"),
                     settings_with(), t0, 1);
  (void)core.offer(make_job(1), t0);
  int64_t now = t0;
  const std::vector<int64_t> delays{1000, 5000, 10'000};
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto starts = core.start_due(now);
    REQUIRE(starts.size() == 1);
    CHECK(starts[0].attempt_no == attempt);
    auto v = core.on_attempt_finished("msg_1001", answered(503), now + 7);
    CHECK(v.decision.verdict == delivery_verdict::retry);
    CHECK(v.outcome.new_status == delivery_status::pending);
    CHECK(v.outcome.att.attempt_no == attempt);
    CHECK(v.outcome.att.status_code == 503);
    CHECK(v.outcome.att.error.empty());
    const int64_t retry_at = now + 7 + delays[attempt - 1];
    CHECK(v.outcome.next_attempt_at == retry_at);
    // Not due again until the store writer confirmed the outcome.
    CHECK(core.start_due(retry_at).empty());
    CHECK_FALSE(core.next_wake(now + 7).has_value());
    core.on_recorded("msg_1001", true, now + 8);
    CHECK(core.next_wake(now + 8) == retry_at);
    CHECK(core.start_due(retry_at - 1).empty());
    now = retry_at;
  }
  auto last = core.start_due(now);
  REQUIRE(last.size() == 1);
  CHECK(last[0].attempt_no == 4);
  auto v = core.on_attempt_finished("msg_1001", transport(transport_error::timeout), now + 10);
  CHECK(v.decision.verdict == delivery_verdict::dlq);
  CHECK(v.outcome.new_status == delivery_status::failed);
  CHECK(v.outcome.att.error.rfind("timeout", 0) == 0);
  CHECK(v.outcome.att.status_code == 0);
  CHECK(v.outcome.dlq_reason.rfind("exhausted after 4 attempts", 0) == 0);
  core.on_recorded("msg_1001", true, now + 11);
  CHECK(core.held() == 0);
  CHECK(core.snapshot(now + 11).failed == 1);
}

TEST_CASE(
    "endpoint_core gives a replayed delivery a new series: max_attempts and the schedule "
    "start again while attempt numbers keep growing",
    "[unit]") {
  endpoint_core core(make_webhook(R"({"max_attempts": 3, "schedule": [0, 4, 60], "jitter": 0})"),
                     settings_with(), t0, 1);
  // Parked after its 3 attempts, then replayed: the new series starts at attempt 4.
  auto replayed = make_job(1);
  replayed.row.attempts = 3;
  replayed.row.series_start = 3;
  // Reloaded in the middle of its first series (2 of 3 attempts made): one attempt is left.
  auto reloaded = make_job(2);
  reloaded.row.attempts = 2;
  (void)core.offer(std::move(replayed), t0);
  (void)core.offer(std::move(reloaded), t0);
  auto starts = core.start_due(t0);
  REQUIRE(starts.size() == 2);

  auto other = core.on_attempt_finished("msg_1002", answered(500), t0 + 5);
  CHECK(other.outcome.att.attempt_no == 3);
  CHECK(other.decision.verdict == delivery_verdict::dlq);
  CHECK(other.outcome.dlq_reason.rfind("exhausted after 3 attempts", 0) == 0);
  core.on_recorded("msg_1002", true, t0 + 6);

  // The series' delays are the schedule's from its first step: 4 s, then 60 s.
  int64_t now = t0;
  const std::vector<int64_t> delays{4000, 60'000};
  for (int attempt = 4; attempt <= 5; ++attempt) {
    if (attempt > 4) {
      auto again = core.start_due(now);
      REQUIRE(again.size() == 1);
      CHECK(again[0].attempt_no == attempt);
    }
    auto v = core.on_attempt_finished("msg_1001", answered(500), now + 5);
    CHECK(v.outcome.att.attempt_no == attempt);
    CHECK(v.decision.verdict == delivery_verdict::retry);
    CHECK(v.outcome.next_attempt_at == now + 5 + delays[attempt - 4]);
    core.on_recorded("msg_1001", true, now + 6);
    now = v.outcome.next_attempt_at;
  }
  auto last = core.start_due(now);
  REQUIRE(last.size() == 1);
  CHECK(last[0].attempt_no == 6);
  auto v = core.on_attempt_finished("msg_1001", answered(500), now + 5);
  CHECK(v.outcome.att.attempt_no == 6);
  CHECK(v.decision.verdict == delivery_verdict::dlq);
  CHECK(v.outcome.new_status == delivery_status::failed);
  CHECK(v.outcome.dlq_reason.rfind("exhausted after 3 attempts", 0) == 0);
}

TEST_CASE("endpoint_core respects Retry-After on 429", "[unit]") {
  endpoint_core core(make_webhook(R"({"schedule": [0, 1, 1], "jitter": 0})"), settings_with(), t0,
                     1);
  (void)core.offer(make_job(1), t0);
  REQUIRE(core.start_due(t0).size() == 1);
  auto v = finish(core, "msg_1001", answered(429, "120"), t0);
  CHECK(v.decision.verdict == delivery_verdict::retry);
  CHECK(v.outcome.next_attempt_at == t0 + 120'000);
  CHECK(core.next_wake(t0) == t0 + 120'000);
}

TEST_CASE("endpoint_core: other 4xx go straight to the DLQ, 410 disables the webhook", "[unit]") {
  endpoint_core core(make_webhook(), settings_with(), t0, 1);
  for (int n = 1; n <= 4; ++n) (void)core.offer(make_job(n), t0);
  auto starts = core.start_due(t0);
  REQUIRE(starts.size() == 4);

  auto v404 = finish(core, "msg_1001", answered(404), t0 + 1);
  CHECK(v404.outcome.new_status == delivery_status::failed);
  CHECK(v404.outcome.dlq_reason == "client error HTTP 404");
  CHECK_FALSE(v404.disable_webhook);
  CHECK(core.active());

  auto v410 = core.on_attempt_finished("msg_1002", answered(410), t0 + 2);
  CHECK(v410.outcome.new_status == delivery_status::failed);
  CHECK(v410.disable_webhook);
  CHECK(v410.disable_reason.find("410") != std::string::npos);
  CHECK_FALSE(core.active());
  CHECK(core.snapshot(t0 + 2).status == "disabled");
  // Nothing new starts, new jobs stay in the store, in-flight ones still finish.
  CHECK(core.offer(make_job(7), t0 + 2) == endpoint_core::offer_result::inactive);
  auto v3 = finish(core, "msg_1003", answered(410), t0 + 3);
  CHECK_FALSE(v3.disable_webhook);  // asked once
  finish(core, "msg_1004", answered(200), t0 + 3);
  core.on_recorded("msg_1002", true, t0 + 4);
  CHECK(core.held() == 0);
  CHECK(core.idle());
  CHECK(core.start_due(t0 + 5).empty());

  // Enabled again by its client: loads what waits in the store.
  auto w = make_webhook();
  w.status = "active";
  core.reconfigure(w, t0 + 10);
  CHECK(core.active());
  CHECK(core.wants_load());
}

TEST_CASE("endpoint_core circuit breaker: open stops attempts, one probe at the probe time",
          "[unit]") {
  endpoint_settings s = settings_with();
  s.breaker.consecutive_failures = 3;
  s.breaker.open_ms = 1000;
  endpoint_core core(make_webhook(R"({"schedule": [0, 0.1], "max_attempts": 8, "jitter": 0})"), s,
                     t0, 1);
  for (int n = 1; n <= 8; ++n) (void)core.offer(make_job(n), t0);
  auto starts = core.start_due(t0);
  REQUIRE(starts.size() == 8);
  for (int n = 1; n <= 3; ++n) finish(core, "msg_100" + std::to_string(n), answered(500), t0 + 5);
  CHECK(core.snapshot(t0 + 5).circuit == "open");
  // Outcomes of attempts started before it opened don't count; the rest finish as failures too.
  for (int n = 4; n <= 8; ++n) finish(core, "msg_100" + std::to_string(n), answered(500), t0 + 6);

  // Every retry is due at t0 + 106, but the circuit keeps them back until the probe time.
  CHECK(core.start_due(t0 + 500).empty());
  CHECK(core.next_wake(t0 + 500) == t0 + 5 + 1000);
  auto probe = core.start_due(t0 + 1005);
  REQUIRE(probe.size() == 1);
  CHECK(core.snapshot(t0 + 1005).circuit == "half_open");
  CHECK(core.start_due(t0 + 1005).empty());            // one probe at a time
  CHECK_FALSE(core.next_wake(t0 + 1005).has_value());  // the probe's outcome decides

  SECTION("a failed probe reopens with a doubled cool-down") {
    finish(core, probe[0].delivery_id, transport(transport_error::connect_refused), t0 + 1010);
    CHECK(core.snapshot(t0 + 1010).circuit == "open");
    CHECK(core.start_due(t0 + 2000).empty());
    CHECK(core.next_wake(t0 + 2000) == t0 + 1010 + 2000);
  }
  SECTION("a successful probe closes it and the rest flows") {
    finish(core, probe[0].delivery_id, answered(200), t0 + 1010);
    CHECK(core.snapshot(t0 + 1010).circuit == "closed");
    CHECK(core.start_due(t0 + 1010).size() == 7);
  }
}

TEST_CASE("endpoint_core ordered mode: one at a time, strict creation order, retries block",
          "[unit]") {
  auto w = make_webhook(R"({"schedule": [0, 2], "max_attempts": 3, "jitter": 0})");
  w.ordered = true;
  endpoint_core core(w, settings_with(16), t0, 1);
  // Offered out of order; created 1, 2, 3.
  (void)core.offer(make_job(3), t0);
  (void)core.offer(make_job(1), t0);
  (void)core.offer(make_job(2), t0);
  CHECK(ids(core.start_due(t0)) == std::vector<std::string>{"msg_1001"});
  CHECK(core.start_due(t0).empty());
  finish(core, "msg_1001", answered(500), t0 + 10);
  // The head waits for its retry and nothing overtakes it.
  CHECK(core.start_due(t0 + 1000).empty());
  CHECK(core.next_wake(t0 + 1000) == t0 + 10 + 2000);
  CHECK(ids(core.start_due(t0 + 2010)) == std::vector<std::string>{"msg_1001"});
  finish(core, "msg_1001", answered(200), t0 + 2020);
  CHECK(ids(core.start_due(t0 + 2020)) == std::vector<std::string>{"msg_1002"});
  // An older job loaded from the store goes first once the current one is done.
  (void)core.offer(make_job(0), t0 + 2021);
  finish(core, "msg_1002", answered(201), t0 + 2030);
  CHECK(ids(core.start_due(t0 + 2030)) == std::vector<std::string>{"msg_1000"});
  finish(core, "msg_1000", answered(400), t0 + 2040);  // to the DLQ: the queue moves on
  CHECK(ids(core.start_due(t0 + 2040)) == std::vector<std::string>{"msg_1003"});
  CHECK(core.load_in_creation_order());
}

TEST_CASE("endpoint_core holds at most max_queued jobs and reloads the rest", "[unit]") {
  endpoint_settings s = settings_with(2);
  s.max_queued = 4;
  endpoint_core core(make_webhook(), s, t0, 1);
  // A fresh endpoint first loads what the store holds.
  REQUIRE(core.wants_load());
  CHECK(core.load_limit() == 4);
  core.load_started();
  CHECK_FALSE(core.wants_load());
  CHECK_FALSE(core.idle());
  core.load_finished({make_job(1), make_job(2)}, true, t0);  // fewer than asked: nothing more
  CHECK_FALSE(core.wants_load());

  int accepted = 0;
  int overflow = 0;
  for (int n = 3; n <= 8; ++n) {
    auto r = core.offer(make_job(n), t0);
    if (r == endpoint_core::offer_result::accepted) ++accepted;
    if (r == endpoint_core::offer_result::overflow) ++overflow;
  }
  CHECK(accepted == 2);
  CHECK(overflow == 4);
  CHECK(core.held() == 4);
  CHECK_FALSE(core.wants_load());  // more than half full

  auto starts = core.start_due(t0);
  REQUIRE(starts.size() == 2);
  finish(core, starts[0].delivery_id, answered(200), t0 + 1);
  finish(core, starts[1].delivery_id, answered(200), t0 + 1);
  REQUIRE(core.held() == 2);
  REQUIRE(core.wants_load());
  core.load_started();
  // The store returns what is still pending, including the two held jobs.
  std::vector<delivery_job> rows;
  for (int n : {3, 4, 5, 6}) rows.push_back(make_job(n));
  core.load_finished(rows, true, t0 + 2);
  CHECK(core.held() == 4);
  CHECK_FALSE(core.idle());
  auto snap = core.snapshot(t0 + 2);
  CHECK(snap.queued_standard == 4);
}

TEST_CASE("endpoint_core reads a backlog a page at a time", "[unit]") {
  endpoint_settings s = settings_with(2);
  s.max_queued = 100;
  s.load_batch = 4;
  endpoint_core core(make_webhook(), s, t0, 1);
  REQUIRE(core.wants_load());
  CHECK(core.load_limit() == 4);
  core.load_started();
  core.load_finished({make_job(1), make_job(2), make_job(3), make_job(4)}, true, t0);
  CHECK(core.held() == 4);
  CHECK_FALSE(core.wants_load());  // a full page: the store may hold more, but memory is full
  auto starts = core.start_due(t0);
  REQUIRE(starts.size() == 2);
  for (const auto& start : starts) finish(core, start.delivery_id, answered(200), t0 + 1);
  REQUIRE(core.held() == 2);
  REQUIRE(core.wants_load());  // half a page left: the next page
  core.load_started();
  core.load_finished({make_job(3), make_job(4), make_job(5)}, true, t0 + 2);
  CHECK(core.held() == 3);
  CHECK_FALSE(core.wants_load());  // a short page: the store has no more
  // Fresh jobs handed in directly still go up to max_queued.
  for (int n = 6; n < 20; ++n)
    CHECK(core.offer(make_job(n), t0 + 3) == endpoint_core::offer_result::accepted);
}

TEST_CASE("endpoint_core told the store is empty starts without a load", "[unit]") {
  endpoint_core core(make_webhook(), settings_with(1), t0, 1);
  core.assume_store_empty();
  CHECK_FALSE(core.wants_load());
  CHECK(core.idle());
  (void)core.offer(make_job(1), t0);
  CHECK(ids(core.start_due(t0)) == std::vector<std::string>{"msg_1001"});
  // A pause releases what it held to the store: resuming loads again.
  auto paused = make_webhook();
  paused.status = "paused";
  core.reconfigure(paused, t0 + 1);
  core.reconfigure(make_webhook(), t0 + 2);
  CHECK(core.wants_load());
}

TEST_CASE("endpoint_core skips loaded rows whose outcome was confirmed during the load", "[unit]") {
  endpoint_core core(make_webhook(), settings_with(), t0, 1);
  core.load_started();
  core.load_finished({}, true, t0);
  (void)core.offer(make_job(1), t0);
  (void)core.offer(make_job(2), t0);
  REQUIRE(core.start_due(t0).size() == 2);
  (void)core.on_attempt_finished("msg_1001", answered(200), t0 + 1);
  (void)core.on_attempt_finished("msg_1002", answered(200), t0 + 1);
  core.on_recorded("msg_1001", true, t0 + 2);  // confirmed before the load started
  // A load starts (e.g. after an overflow) and reads msg_1002 as pending before its outcome
  // commits; the confirmation arrives before the load's answer.
  core.load_started();
  core.on_recorded("msg_1002", true, t0 + 3);
  core.load_finished({make_job(2), make_job(3)}, true, t0 + 4);
  CHECK(core.job("msg_1002") == nullptr);
  CHECK(core.job("msg_1003") != nullptr);
  CHECK(ids(core.start_due(t0 + 4)) == std::vector<std::string>{"msg_1003"});
}

TEST_CASE("endpoint_core: a paused webhook releases its queue and reloads when resumed", "[unit]") {
  endpoint_core core(make_webhook(R"({"schedule": [0, 60], "jitter": 0})"), settings_with(1), t0,
                     1);
  core.load_started();
  core.load_finished({}, true, t0);
  for (int n = 1; n <= 3; ++n) (void)core.offer(make_job(n), t0);
  REQUIRE(core.start_due(t0).size() == 1);
  auto paused = make_webhook();
  paused.status = "paused";
  core.reconfigure(paused, t0 + 1);
  CHECK(core.held() == 1);  // the one in flight
  CHECK(core.offer(make_job(4), t0 + 1) == endpoint_core::offer_result::inactive);
  finish(core, "msg_1001", answered(500), t0 + 2);  // a retry: released after its write
  CHECK(core.held() == 0);
  CHECK(core.idle());
  CHECK_FALSE(core.wants_load());
  auto resumed = make_webhook();
  core.reconfigure(resumed, t0 + 3);
  CHECK_FALSE(core.idle());
  CHECK(core.wants_load());
}

TEST_CASE("endpoint_core auto-disables a webhook failing longer than the failing period",
          "[unit]") {
  endpoint_settings s = settings_with(1);
  s.auto_disable.failing_period_ms = 10'000;
  s.breaker.consecutive_failures = 0;
  s.breaker.min_requests = 1000;
  endpoint_core core(make_webhook(R"({"schedule": [0, 3], "max_attempts": 50, "jitter": 0})"), s,
                     t0, 1);
  (void)core.offer(make_job(1), t0);
  int64_t now = t0;
  bool disabled = false;
  while (!disabled && now < t0 + 60'000) {
    auto starts = core.start_due(now);
    REQUIRE(starts.size() == 1);
    auto v = finish(core, "msg_1001", transport(transport_error::connect_refused), now);
    disabled = v.disable_webhook;
    if (disabled) {
      CHECK(v.disable_reason.find("auto-disabled") != std::string::npos);
      break;
    }
    auto wake = core.next_wake(now);
    REQUIRE(wake.has_value());
    now = *wake;
  }
  CHECK(disabled);
  CHECK(now >= t0 + 10'000);
  CHECK(now < t0 + 10'000 + 3000 + 1);
  CHECK_FALSE(core.active());

  SECTION("a success in between restarts the failing period") {
    endpoint_core other(make_webhook(R"({"schedule": [0, 3], "max_attempts": 50, "jitter": 0})"), s,
                        t0, 1);
    (void)other.offer(make_job(1), t0);
    (void)other.offer(make_job(2), t0 + 9000);
    REQUIRE(other.start_due(t0).size() == 1);
    CHECK_FALSE(finish(other, "msg_1001", answered(500), t0).disable_webhook);
    REQUIRE(other.start_due(t0 + 9000).size() == 1);
    CHECK_FALSE(finish(other, "msg_1002", answered(200), t0 + 9000).disable_webhook);
    REQUIRE(other.start_due(t0 + 12'000).size() == 1);
    CHECK_FALSE(finish(other, "msg_1001", answered(500), t0 + 12'000).disable_webhook);
  }
}

TEST_CASE("endpoint_core: an unusable retry_policy falls back to the default", "[unit]") {
  endpoint_core core(make_webhook(R"({"max_attempts": 0})"), settings_with(), t0, 1);
  CHECK_FALSE(core.policy_error().empty());
  CHECK(core.policy() == retry_policy::default_policy());
}

TEST_CASE("make_attempt_request signs per Standard Webhooks, with both secrets in a rotation",
          "[unit]") {
  auto w = make_webhook();
  w.headers = R"({"x-tenant": "acme", "Webhook-Signature": "forged", "user-agent": "x",
                  "x-bad": "a\r\nb", "x-num": 5})";
  auto job = make_job(1);
  endpoint_settings s;
  s.total_timeout_ms = 7000;
  s.connect_timeout_ms = 3000;
  const int64_t now = t0 + 1234;

  auto header = [](const http_request& r, const std::string& name) {
    std::vector<std::string> values;
    for (const auto& [n, v] : r.headers)
      if (n == name) values.push_back(v);
    return values;
  };

  SECTION("one secret") {
    auto made = make_attempt_request(w, job, now, s);
    REQUIRE(std::holds_alternative<http_request>(made));
    const auto& r = std::get<http_request>(made);
    CHECK(r.url == w.callback_url);
    CHECK(r.body == job.body);
    CHECK(r.total_timeout_ms == 7000);
    CHECK(r.connect_timeout_ms == 3000);
    CHECK(header(r, "content-type") == std::vector<std::string>{"application/json"});
    CHECK(header(r, "webhook-id") == std::vector<std::string>{job.row.id});
    CHECK(header(r, "webhook-timestamp") == std::vector<std::string>{std::to_string(now / 1000)});
    CHECK(header(r, "x-tenant") == std::vector<std::string>{"acme"});
    CHECK(header(r, "Webhook-Signature").empty());
    CHECK(header(r, "user-agent").empty());
    CHECK(header(r, "x-bad").empty());
    CHECK(header(r, "x-num").empty());
    auto sig = header(r, "webhook-signature");
    REQUIRE(sig.size() == 1);
    CHECK(sig[0].find(' ') == std::string::npos);
    CHECK(verify_webhook_signature(secret_a, job.row.id, std::to_string(now / 1000), job.body,
                                   sig[0], now / 1000)
              .ok());
    CHECK_FALSE(verify_webhook_signature(secret_b, job.row.id, std::to_string(now / 1000), job.body,
                                         sig[0], now / 1000)
                    .ok());
  }
  SECTION("during a rotation both secrets sign; after the grace period only the new one") {
    w.signing_secret = secret_b;
    w.previous_secret = secret_a;
    w.previous_secret_expires_at = now + 1;
    auto made = make_attempt_request(w, job, now, s);
    REQUIRE(std::holds_alternative<http_request>(made));
    auto sig = header(std::get<http_request>(made), "webhook-signature");
    REQUIRE(sig.size() == 1);
    for (const auto& key : {secret_a, secret_b})
      CHECK(verify_webhook_signature(key, job.row.id, std::to_string(now / 1000), job.body, sig[0],
                                     now / 1000)
                .ok());
    w.previous_secret_expires_at = now;
    auto later = make_attempt_request(w, job, now, s);
    auto sig2 = header(std::get<http_request>(later), "webhook-signature");
    CHECK_FALSE(verify_webhook_signature(secret_a, job.row.id, std::to_string(now / 1000), job.body,
                                         sig2[0], now / 1000)
                    .ok());
    CHECK(verify_webhook_signature(secret_b, job.row.id, std::to_string(now / 1000), job.body,
                                   sig2[0], now / 1000)
              .ok());
  }
  SECTION("a bad secret is an error, not a request") {
    w.signing_secret = "not-a-secret";
    auto made = make_attempt_request(w, job, now, s);
    CHECK(std::holds_alternative<std::string>(made));
  }
}

TEST_CASE("attempt_result_from maps the HTTP client's error kinds", "[unit]") {
  http_response ok;
  ok.status_code = 503;
  ok.retry_after = "5";
  auto r = attempt_result_from(ok);
  CHECK(r.error == transport_error::none);
  CHECK(r.status_code == 503);
  CHECK(r.retry_after == "5");
  const std::map<std::string, transport_error> kinds{
      {"timeout", transport_error::timeout},
      {"connect_refused", transport_error::connect_refused},
      {"connection_reset", transport_error::connection_reset},
      {"tls", transport_error::tls},
      {"dns", transport_error::dns},
      {"blocked_by_policy", transport_error::blocked_by_policy},
      {"other", transport_error::other},
      {"something new", transport_error::other}};
  for (const auto& [kind, expected] : kinds) {
    http_response failed;
    failed.error_kind = kind;
    failed.error = "detail";
    auto f = attempt_result_from(failed);
    CHECK(f.error == expected);
    CHECK(f.status_code == 0);
    CHECK(f.error_detail == "detail");
  }
}
