// GET /metrics on a real webhookd with a real receiver: the exposition is well-formed Prometheus
// text (checked by a parser written here, independent of the server's code), and the counters,
// histograms and gauges move by exactly what the test did: events accepted, duplicates, a
// refused request, attempts by outcome, a DLQ entry, an attempt in flight and a queued one.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/e2e/engine_support.hpp"

using namespace webhookd::e2e;
using nlohmann::json;

namespace {

constexpr milliseconds settle_timeout{30'000};

using label_set = std::map<std::string, std::string>;

// One sample line.
struct sample {
  std::string name;
  label_set labels;
  double value = 0;
};

// A parsed exposition.
struct exposition {
  std::map<std::string, std::string> types;  // family -> counter, gauge, histogram, ...
  std::vector<sample> samples;

  // The value of one series; NaN when it is absent.
  double get(const std::string& name, const label_set& labels = {}) const {
    for (const auto& s : samples)
      if (s.name == name && s.labels == labels) return s.value;
    return std::nan("");
  }
  // Like get(), 0 when absent (a labelled child that was never touched).
  double get_or_zero(const std::string& name, const label_set& labels = {}) const {
    double v = get(name, labels);
    return std::isnan(v) ? 0 : v;
  }
  // Sum over every series of `name`.
  double sum(const std::string& name) const {
    double total = 0;
    for (const auto& s : samples)
      if (s.name == name) total += s.value;
    return total;
  }
};

[[noreturn]] void fail_at(std::size_t line_no, const std::string& line, const std::string& why) {
  throw std::runtime_error("exposition line " + std::to_string(line_no) + " \"" + line +
                           "\": " + why);
}

bool valid_metric_name(const std::string& n) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

double parse_number(const std::string& text, bool& ok) {
  ok = true;
  if (text == "+Inf") return INFINITY;
  if (text == "-Inf") return -INFINITY;
  if (text == "NaN") return NAN;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  ok = !text.empty() && end == text.c_str() + text.size();
  return v;
}

// Parses the text format 0.0.4 strictly and checks its rules: every family has one HELP and one
// TYPE before its samples, its samples are contiguous, every sample belongs to a declared
// family (histograms: _bucket with le, _sum, _count), label values are correctly escaped, no
// series repeats, counters are >= 0 and named *_total, and histogram buckets rise with le,
// end at +Inf and agree with _count. Throws std::runtime_error naming the offending line.
exposition parse_exposition(const std::string& text) {
  exposition out;
  if (!text.empty() && text.back() != '\n') throw std::runtime_error("no final newline");
  std::set<std::string> helped;
  std::set<std::string> finished;  // families whose block ended
  std::string current;             // family of the block being read
  std::set<std::string> series;
  std::istringstream in(text);
  std::string line;
  std::size_t line_no = 0;
  auto enter = [&](const std::string& family, const std::string& l) {
    if (family == current) return;
    if (finished.count(family) != 0) fail_at(line_no, l, "family " + family + " is split");
    if (!current.empty()) finished.insert(current);
    current = family;
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) fail_at(line_no, line, "empty line");
    if (line[0] == '#') {
      std::istringstream words(line);
      std::string hash, keyword, name;
      words >> hash >> keyword >> name;
      if (hash != "#" || !valid_metric_name(name)) fail_at(line_no, line, "bad comment line");
      enter(name, line);
      if (keyword == "HELP") {
        if (!helped.insert(name).second) fail_at(line_no, line, "second HELP");
        if (out.types.count(name) != 0) fail_at(line_no, line, "HELP after TYPE");
      } else if (keyword == "TYPE") {
        std::string type, rest;
        words >> type;
        if (words >> rest) fail_at(line_no, line, "text after the type");
        if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" &&
            type != "untyped")
          fail_at(line_no, line, "unknown type");
        if (!out.types.emplace(name, type).second) fail_at(line_no, line, "second TYPE");
        if (helped.count(name) == 0) fail_at(line_no, line, "TYPE without HELP");
      } else {
        fail_at(line_no, line, "unknown comment keyword");
      }
      continue;
    }
    sample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    if (!valid_metric_name(s.name)) fail_at(line_no, line, "bad metric name");
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        std::size_t eq = line.find('=', i);
        if (eq == std::string::npos) fail_at(line_no, line, "label without =");
        std::string key = line.substr(i, eq - i);
        if (key.empty() || !valid_metric_name(key) || key.find(':') != std::string::npos)
          fail_at(line_no, line, "bad label name");
        i = eq + 1;
        if (i >= line.size() || line[i] != '"') fail_at(line_no, line, "unquoted label value");
        ++i;
        std::string value;
        for (;;) {
          if (i >= line.size()) fail_at(line_no, line, "unterminated label value");
          char c = line[i++];
          if (c == '"') break;
          if (c == '\\') {
            if (i >= line.size()) fail_at(line_no, line, "dangling escape");
            char e = line[i++];
            if (e == 'n')
              value += '\n';
            else if (e == '\\' || e == '"')
              value += e;
            else
              fail_at(line_no, line, "unknown escape");
          } else {
            value += c;
          }
        }
        if (!s.labels.emplace(key, value).second) fail_at(line_no, line, "repeated label");
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) fail_at(line_no, line, "unterminated label set");
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') fail_at(line_no, line, "no value");
    bool ok = false;
    s.value = parse_number(line.substr(i + 1), ok);
    if (!ok) fail_at(line_no, line, "value is not a number (or carries a timestamp)");

    // Which family does it belong to?
    std::string family = s.name;
    std::string type = out.types.count(family) != 0 ? out.types[family] : "";
    if (type.empty() || type == "histogram") {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        std::string sfx(suffix);
        if (s.name.size() > sfx.size() &&
            s.name.compare(s.name.size() - sfx.size(), sfx.size(), sfx) == 0) {
          family = s.name.substr(0, s.name.size() - sfx.size());
          break;
        }
      }
      if (out.types.count(family) == 0 || out.types[family] != "histogram")
        fail_at(line_no, line, "sample of no declared family");
      if ((s.name == family + "_bucket") != (s.labels.count("le") != 0))
        fail_at(line_no, line, "le belongs on _bucket samples only");
    } else if (s.labels.count("le") != 0) {
      fail_at(line_no, line, "le label outside a histogram");
    }
    enter(family, line);
    if (out.types[family] == "counter") {
      if (s.value < 0) fail_at(line_no, line, "negative counter");
      if (family.size() < 6 || family.compare(family.size() - 6, 6, "_total") != 0)
        fail_at(line_no, line, "counter not named *_total");
    }
    std::string key = s.name + "{";
    for (const auto& [k, v] : s.labels) key += k + "=" + v + ",";
    if (!series.insert(key).second) fail_at(line_no, line, "repeated series");
    out.samples.push_back(std::move(s));
  }

  // Histograms: per label set, le rises, counts never fall, +Inf ends it and equals _count.
  for (const auto& [family, type] : out.types) {
    if (type != "histogram") continue;
    std::map<label_set, std::vector<std::pair<double, double>>> buckets;
    for (const auto& s : out.samples) {
      if (s.name != family + "_bucket") continue;
      label_set rest = s.labels;
      bool ok = false;
      double le = parse_number(rest.at("le"), ok);
      if (!ok) throw std::runtime_error(family + ": le is not a number");
      rest.erase("le");
      buckets[rest].emplace_back(le, s.value);
    }
    for (const auto& [labels, list] : buckets) {
      for (std::size_t k = 1; k < list.size(); ++k) {
        if (!(list[k - 1].first < list[k].first))
          throw std::runtime_error(family + ": le bounds not ascending");
        if (list[k - 1].second > list[k].second)
          throw std::runtime_error(family + ": cumulative bucket counts fall");
      }
      if (list.empty() || !std::isinf(list.back().first))
        throw std::runtime_error(family + ": no le=\"+Inf\" bucket");
      double count = out.get(family + "_count", labels);
      if (std::isnan(count) || count != list.back().second)
        throw std::runtime_error(family + ": _count differs from the +Inf bucket");
      if (std::isnan(out.get(family + "_sum", labels)))
        throw std::runtime_error(family + ": no _sum");
    }
  }
  return out;
}

// GET /metrics, checked and parsed.
exposition scrape(engine_world& world) {
  auto client = world.server().client();
  auto res = client.Get("/metrics");
  if (!res) throw std::runtime_error("GET /metrics: no answer");
  if (res->status != 200)
    throw std::runtime_error("GET /metrics -> " + std::to_string(res->status) + " " + res->body);
  const std::string type = res->get_header_value("Content-Type");
  if (type.rfind("text/plain; version=0.0.4", 0) != 0)
    throw std::runtime_error("GET /metrics: content type " + type);
  return parse_exposition(res->body);
}

// The names every scrape must declare (docs/operations.md, "Metrics").
const std::vector<std::pair<std::string, std::string>> expected_families{
    {"webhookd_events_accepted_total", "counter"},
    {"webhookd_events_duplicate_total", "counter"},
    {"webhookd_events_rejected_total", "counter"},
    {"webhookd_ingest_ack_seconds", "histogram"},
    {"webhookd_delivery_attempts_total", "counter"},
    {"webhookd_delivery_attempt_seconds", "histogram"},
    {"webhookd_delivery_e2e_seconds", "histogram"},
    {"webhookd_queue_depth", "gauge"},
    {"webhookd_deliveries_in_flight", "gauge"},
    {"webhookd_attempt_outcomes_outstanding", "gauge"},
    {"webhookd_endpoint_actors", "gauge"},
    {"webhookd_circuits_open", "gauge"},
    {"webhookd_dlq_size", "gauge"},
    {"webhookd_store_commit_seconds", "histogram"},
    {"webhookd_store_commit_batch_size", "histogram"},
    {"webhookd_store_commit_failures_total", "counter"},
    {"webhookd_build_info", "gauge"},
};

double queued_total(const exposition& e) {
  return e.sum("webhookd_queue_depth");
}

}  // namespace

TEST_CASE("the exposition parser refuses malformed text", "[e2e][unit]") {
  CHECK_NOTHROW(parse_exposition("# HELP a_total x\n# TYPE a_total counter\na_total 1\n"));
  CHECK_THROWS(parse_exposition("a_total 1\n"));                               // undeclared
  CHECK_THROWS(parse_exposition("# HELP a x\n# TYPE a gauge\na{l=\"x} 1\n"));  // unterminated
  CHECK_THROWS(parse_exposition("# HELP a x\n# TYPE a gauge\na 1\na 2\n"));    // repeated
  CHECK_THROWS(parse_exposition("# HELP a x\n# TYPE a counter\na 1\n"));       // not *_total
  CHECK_THROWS(
      parse_exposition("# HELP h x\n# TYPE h histogram\n"
                       "h_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
                       "h_sum 1\nh_count 1\n"));  // falling buckets
  CHECK_THROWS(
      parse_exposition("# HELP h x\n# TYPE h histogram\n"
                       "h_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n"));  // no +Inf
  CHECK_THROWS(
      parse_exposition("# HELP a x\n# TYPE a gauge\n# HELP b x\n# TYPE b gauge\n"
                       "b 1\na 1\n"));  // split family
}

TEST_CASE("GET /metrics counts what ingestion and delivery did, exactly", "[e2e][engine][sqlite]") {
  engine_world world;
  // ok: every delivery succeeds. flaky: one 500, then 200. broken: 404 (to the DLQ).
  // slow: ordered, high priority, its first request hangs until the test lets it go.
  world.add_webhook("/hooks/ok", {"invoice.paid"}, {{"retry_policy", fast_retry_policy(3)}});
  world.add_webhook("/hooks/flaky", {"order.shipped"}, {{"retry_policy", fast_retry_policy(3)}},
                    {{"responses", {500}}, {"then", 200}});
  world.add_webhook("/hooks/broken", {"invoice.created"}, {{"retry_policy", fast_retry_policy(3)}},
                    {{"then", 404}});
  world.add_webhook(
      "/hooks/slow", {"sentinel.ping"},
      {{"retry_policy", fast_retry_policy(3)}, {"ordered", true}, {"priority", "high"}},
      {{"responses", {"hang"}}, {"then", 200}});

  exposition before = scrape(world);
  for (const auto& [family, type] : expected_families) {
    INFO(family);
    REQUIRE(before.types.count(family) == 1);
    CHECK(before.types.at(family) == type);
  }
  // Every outcome and rejection reason is exposed from the start, at 0.
  CHECK(before.get("webhookd_delivery_attempts_total", {{"outcome", "timeout"}}) == 0);
  CHECK(before.get("webhookd_events_rejected_total", {{"reason", "overloaded"}}) == 0);
  CHECK(before.get("webhookd_dlq_size") == 0);

  auto poster = world.poster();
  const std::string client = world.client_id();
  auto expect_ack = [](const http_answer& answer, int accepted, int duplicates) {
    INFO(answer.describe());
    REQUIRE(answer.status == 202);
    CHECK(answer.json == json{{"accepted", accepted}, {"duplicates", duplicates}});
  };
  json e1 = make_event(client, "evt_m_1", "invoice.paid");
  json e2 = make_event(client, "evt_m_2", "invoice.paid");
  json e3 = make_event(client, "evt_m_3", "order.shipped");
  json e4 = make_event(client, "evt_m_4", "invoice.created");
  json e5 = make_event(client, "evt_m_5", "invoice.paid");
  expect_ack(poster.post_event(e1), 1, 0);
  expect_ack(poster.post_batch(json::array({e2, e3, e4})), 3, 0);
  expect_ack(poster.post_event(e1), 0, 1);                     // duplicate
  expect_ack(poster.post_batch(json::array({e2, e5})), 1, 1);  // one duplicate, one new
  {
    // A request with a wrong signature is refused before anything is stored.
    std::string body = make_event(client, "evt_m_bad", "invoice.paid").dump();
    std::string ts = std::to_string(unix_now_s());
    auto refused = poster.post_raw("/api/v1/events", body, world.source().api_key, ts,
                                   source_signature(world.source().secret + "x", ts, body));
    INFO(refused.describe());
    REQUIRE(refused.status == 401);
  }

  // Wait for the seven attempts: ok 3 x 200, flaky 500 + 200, broken 404.
  auto& sink = world.sink();
  REQUIRE(sink.wait_for("/hooks/ok", 3, settle_timeout));
  REQUIRE(sink.wait_for("/hooks/flaky", 2, settle_timeout));
  REQUIRE(sink.wait_for("/hooks/broken", 1, settle_timeout));
  auto delta = [&before](const exposition& now, const std::string& name,
                         const label_set& labels = {}) {
    return now.get_or_zero(name, labels) - before.get_or_zero(name, labels);
  };
  // Outcomes are counted when the attempt ends, the DLQ entry once its write committed: wait
  // for both, then compare exactly.
  exposition mid;
  bool settled = wait_until(
      [&] {
        mid = scrape(world);
        return delta(mid, "webhookd_delivery_attempt_seconds_count") >= 6 &&
               delta(mid, "webhookd_store_commit_batch_size_sum", {{"writer", "attempts"}}) >= 6 &&
               mid.get_or_zero("webhookd_dlq_size") >= 1;
      },
      settle_timeout);
  REQUIRE(settled);
  CHECK(delta(mid, "webhookd_events_accepted_total") == 5);
  CHECK(delta(mid, "webhookd_events_duplicate_total") == 2);
  CHECK(delta(mid, "webhookd_events_rejected_total", {{"reason", "unauthorized"}}) == 1);
  CHECK(mid.sum("webhookd_events_rejected_total") - before.sum("webhookd_events_rejected_total") ==
        1);
  CHECK(delta(mid, "webhookd_ingest_ack_seconds_count") == 4);  // four 202 answers
  CHECK(delta(mid, "webhookd_delivery_attempts_total", {{"outcome", "success"}}) == 4);
  CHECK(delta(mid, "webhookd_delivery_attempts_total", {{"outcome", "server_error"}}) == 1);
  CHECK(delta(mid, "webhookd_delivery_attempts_total", {{"outcome", "client_error"}}) == 1);
  CHECK(mid.sum("webhookd_delivery_attempts_total") -
            before.sum("webhookd_delivery_attempts_total") ==
        6);
  CHECK(delta(mid, "webhookd_delivery_attempt_seconds_count") == 6);
  CHECK(delta(mid, "webhookd_delivery_e2e_seconds_count") == 4);
  // Every event sent to the store went through the group commit (duplicates included); every
  // outcome through the store writer.
  CHECK(delta(mid, "webhookd_store_commit_batch_size_sum", {{"writer", "ingest"}}) == 7);
  double ingest_commits =
      delta(mid, "webhookd_store_commit_batch_size_count", {{"writer", "ingest"}});
  CHECK(ingest_commits >= 1);
  CHECK(ingest_commits <= 4);
  CHECK(delta(mid, "webhookd_store_commit_seconds_count", {{"writer", "ingest"}}) ==
        ingest_commits);
  CHECK(delta(mid, "webhookd_store_commit_batch_size_sum", {{"writer", "attempts"}}) == 6);
  CHECK(delta(mid, "webhookd_store_commit_failures_total", {{"writer", "ingest"}}) == 0);
  CHECK(delta(mid, "webhookd_store_commit_failures_total", {{"writer", "attempts"}}) == 0);
  CHECK(mid.get("webhookd_dlq_size") == 1);
  CHECK(mid.get("webhookd_deliveries_in_flight") == 0);
  // Every outcome is written: none is outstanding at the store writer (the gauge drops as the
  // writer answers, just after its commit is measured).
  CHECK(wait_until([&] { return scrape(world).get("webhookd_attempt_outcomes_outstanding") == 0; },
                   settle_timeout));
  CHECK(queued_total(mid) == 0);
  CHECK(mid.get("webhookd_circuits_open") == 0);
  // At most one per webhook (an actor starts when its webhook is created; idle ones stop).
  CHECK(mid.get("webhookd_endpoint_actors") <= 4);

  // The ordered webhook's first delivery hangs: one attempt in flight, the second job queued
  // behind it at high priority.
  expect_ack(poster.post_event(make_event(client, "evt_m_6", "sentinel.ping")), 1, 0);
  expect_ack(poster.post_event(make_event(client, "evt_m_7", "sentinel.ping")), 1, 0);
  exposition busy;
  bool held = wait_until(
      [&] {
        busy = scrape(world);
        return busy.get("webhookd_deliveries_in_flight") == 1 &&
               busy.get("webhookd_queue_depth", {{"priority", "high"}}) == 1;
      },
      settle_timeout);
  INFO("in flight " << busy.get("webhookd_deliveries_in_flight") << ", queued high "
                    << busy.get("webhookd_queue_depth", {{"priority", "high"}}));
  REQUIRE(held);
  CHECK(busy.get("webhookd_queue_depth", {{"priority", "standard"}}) == 0);
  CHECK(busy.get("webhookd_endpoint_actors") >= 1);

  // Let it go: the hung request ends 504 (or timed out, on a very slow machine) and is retried;
  // both deliveries then succeed.
  sink.release();
  REQUIRE(sink.wait_for("/hooks/slow", 3, settle_timeout));
  exposition after;
  bool done = wait_until(
      [&] {
        after = scrape(world);
        return delta(after, "webhookd_delivery_attempt_seconds_count") >= 9 &&
               after.get("webhookd_deliveries_in_flight") == 0 && queued_total(after) == 0;
      },
      settle_timeout);
  REQUIRE(done);
  CHECK(delta(after, "webhookd_events_accepted_total") == 7);
  CHECK(delta(after, "webhookd_ingest_ack_seconds_count") == 6);
  CHECK(delta(after, "webhookd_delivery_attempts_total", {{"outcome", "success"}}) == 6);
  CHECK(delta(after, "webhookd_delivery_attempts_total", {{"outcome", "server_error"}}) +
            delta(after, "webhookd_delivery_attempts_total", {{"outcome", "timeout"}}) ==
        2);
  CHECK(delta(after, "webhookd_delivery_attempts_total", {{"outcome", "client_error"}}) == 1);
  CHECK(delta(after, "webhookd_delivery_attempt_seconds_count") == 9);
  CHECK(delta(after, "webhookd_delivery_e2e_seconds_count") == 6);
  CHECK(delta(after, "webhookd_store_commit_batch_size_sum", {{"writer", "ingest"}}) == 9);
  CHECK(after.get("webhookd_dlq_size") == 1);
  // The hung attempt lasted until the release: the e2e histogram saw it.
  CHECK(after.get("webhookd_delivery_e2e_seconds_sum") >
        before.get("webhookd_delivery_e2e_seconds_sum"));

  exit_status stopped = world.stop_server();
  CHECK(stopped.exited);
  CHECK(stopped.code == 0);
}
