// webhookd-bench: the benchmark harness (docs/performance.md). One command starts what it needs
// (webhookd on a temporary SQLite file or a scratch PostgreSQL database, webhookd-sink as the
// receiver, its own load generator), measures the machine's ceilings and the scenarios of
// issue 6 in the same run, prints a table and writes the figures as JSON.

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <httplib.h>
#include <netinet/in.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "bench_load.hpp"
#include "bench_setup.hpp"
#include "core/clock.hpp"
#include "core/crypto.hpp"
#include "core/ids.hpp"
#include "storage/store.hpp"

namespace webhookd::bench {
namespace {

using json = nlohmann::json;
using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t payload_bytes = 512;
constexpr int batch_events = 100;

struct options {
  bool quick = false;
  std::string out;
  std::string stores = "sqlite";  // sqlite | pg | both
  std::string scenarios = "a,b,c,d,e";
  int webhooks = 1000;
  double duration_s = 15;
  double latency_rate = 2000;
  double ceiling_s = 3;
  int connections = 32;           // single-event requests in flight
  int batch_connections = 4;      // batch requests in flight
  int outbound_connections = 64;  // webhookd's per-host connection cap
  int64_t backlog = 1'000'000;
  int scale_webhooks = 100'000;
  int scale_active = 10'000;
  double drain_window_s = 60;
  double settle_limit_s = 60;       // 0: a phase starts right after the one before (no settling)
  bool store_ceiling_only = false;  // measure the store ceilings and nothing else
  int ceiling_batches = 0;          // > 0: each store ceiling runs this many batches, not ceiling_s
  std::vector<std::string> server_args;  // added to every `webhookd serve` the bench starts
};

bool has_scenario(const options& o, const std::string& name) {
  std::stringstream in(o.scenarios);
  for (std::string item; std::getline(in, item, ',');) {
    if (item == name) return true;
  }
  return false;
}

// --- progress ---------------------------------------------------------------------------------

bool stderr_is_tty() {
  static const bool tty = ::isatty(STDERR_FILENO) == 1;
  return tty;
}

// One progress line, rewritten in place on a terminal; a line every few seconds otherwise.
void progress(const std::string& text) {
  static auto last = steady::time_point{};
  if (stderr_is_tty()) {
    std::fprintf(stderr, "\r%-100.100s", text.c_str());
    std::fflush(stderr);
  } else if (steady::now() - last > std::chrono::seconds(5)) {
    last = steady::now();
    std::fprintf(stderr, "  .. %s\n", text.c_str());
  }
}

void progress_done() {
  if (stderr_is_tty()) std::fprintf(stderr, "\r%-100s\r", "");
}

void section(const std::string& text) {
  progress_done();
  std::cerr << "== " << text << std::endl;
}

std::string fmt(double value, int decimals = 0) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(decimals);
  out << value;
  return out.str();
}

// CPU time (user + system) of the calling thread.
double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double seconds_since(steady::time_point t) {
  return std::chrono::duration<double>(steady::now() - t).count();
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

json machine_info() {
  json out;
  out["cpus"] = std::thread::hardware_concurrency();
  std::ifstream cpu("/proc/cpuinfo");
  for (std::string line; std::getline(cpu, line);) {
    if (line.rfind("model name", 0) == 0) {
      out["cpu_model"] = line.substr(line.find(':') + 2);
      break;
    }
  }
  std::ifstream mem("/proc/meminfo");
  for (std::string line; std::getline(mem, line);) {
    if (line.rfind("MemTotal:", 0) == 0) {
      out["mem_total_kib"] = std::stoll(line.substr(9));
      break;
    }
  }
  std::ifstream kernel("/proc/sys/kernel/osrelease");
  std::string release;
  std::getline(kernel, release);
  out["kernel"] = release;
  return out;
}

// --- stores -----------------------------------------------------------------------------------

// A fresh store location: a SQLite file in a temporary directory, or a scratch PostgreSQL
// database on the server of WEBHOOKD_TEST_PG_URL; both removed on destruction.
class scratch_store {
 public:
  explicit scratch_store(const std::string& backend) {
    if (backend == "sqlite") {
      dir_ = std::make_unique<e2e::temp_dir>();
      url_ = "sqlite:" + dir_->file("bench.db");
    } else {
      db_ = std::make_unique<e2e::pg_database>();
      url_ = db_->url();
    }
  }
  const std::string& url() const { return url_; }

 private:
  std::unique_ptr<e2e::temp_dir> dir_;
  std::unique_ptr<e2e::pg_database> db_;
  std::string url_;
};

std::unique_ptr<storage::blocking_store> open_store(const std::string& url) {
  storage::store_settings settings;
  settings.url = url;
  auto opened = storage::open_store_blocking(settings);
  if (!opened.ok()) throw std::runtime_error("opening " + url + ": " + opened.err().message);
  return std::move(opened.value());
}

// Webhook rows straight into the store (for the store ceiling and the backlog scenario).
std::vector<storage::webhook> insert_webhooks_blocking(storage::blocking_store& store,
                                                       id_generator& ids, int count,
                                                       const std::function<std::string(int)>& url) {
  std::vector<storage::webhook> out;
  int64_t now = system_clock_source().now_ms();
  for (int i = 0; i < count; ++i) {
    storage::webhook w;
    w.id = ids.next("wh");
    w.client_id = bench_client;
    w.callback_url = url(i);
    w.event_types = {"bench.w" + std::to_string(i)};
    auto secret = new_signing_secret();
    if (!secret) throw std::runtime_error("new_signing_secret failed");
    w.signing_secret = secret.value();
    w.created_at = now;
    w.updated_at = now;
    auto inserted = store.insert_webhook(w);
    if (!inserted.ok()) throw std::runtime_error("insert_webhook: " + inserted.err().message);
    out.push_back(std::move(w));
  }
  return out;
}

// `count` events of type bench.w{k}, each with one delivery to each of `fanout` webhooks.
std::vector<storage::new_event> make_batch(id_generator& ids,
                                           const std::vector<storage::webhook>& hooks, int count,
                                           int fanout, int64_t& seq) {
  std::vector<storage::new_event> batch;
  int64_t now = system_clock_source().now_ms();
  for (int i = 0; i < count; ++i, ++seq) {
    storage::new_event e;
    std::size_t first = static_cast<std::size_t>(seq) % hooks.size();
    e.ev.client_id = bench_client;
    e.ev.event_id = "st-" + std::to_string(seq);
    e.ev.event_type = "bench.w" + std::to_string(first);
    e.ev.timestamp = now / 1000;
    e.ev.payload = padded_payload(seq, payload_bytes);
    e.ev.source_id = "src_bench";
    e.ev.received_at = now;
    for (int f = 0; f < fanout; ++f) {
      const auto& hook = hooks[(first + static_cast<std::size_t>(f)) % hooks.size()];
      storage::delivery d;
      d.id = ids.next("msg");
      d.client_id = bench_client;
      d.event_id = e.ev.event_id;
      d.event_type = e.ev.event_type;
      d.webhook_id = hook.id;
      d.partition = partition_of(hook.id);
      d.next_attempt_at = now;
      d.created_at = now;
      d.updated_at = now;
      e.deliveries.push_back(std::move(d));
    }
    batch.push_back(std::move(e));
  }
  return batch;
}

// --- ceilings ---------------------------------------------------------------------------------

// The store ceiling for one fan-out and batch size: events/s when appending batches of events
// with their delivery rows and then recording one successful attempt per delivery (the store
// work the server does per event), back to back on one thread like the server's committer.
// With `batches` > 0 it runs exactly that many batches (a repeatable amount of work, e.g. under
// callgrind) instead of `seconds`.
json store_ceiling(const std::string& backend, int fanout, int batch, double seconds, int batches) {
  scratch_store where(backend);
  auto store = open_store(where.url());
  system_clock_source clock;
  id_generator ids(clock);
  auto hooks = insert_webhooks_blocking(
      *store, ids, 8, [](int i) { return "http://127.0.0.1:9/" + std::to_string(i); });
  int64_t seq = 0;
  double append_s = 0;
  double record_s = 0;
  int64_t events = 0;
  int done = 0;
  double cpu_start = thread_cpu_seconds();
  auto start = steady::now();
  while (batches > 0 ? done < batches : seconds_since(start) < seconds) {
    ++done;
    auto rows = make_batch(ids, hooks, batch, fanout, seq);
    auto t0 = steady::now();
    auto appended = store->append_events(rows);
    if (!appended.ok()) throw std::runtime_error("append_events: " + appended.err().message);
    append_s += seconds_since(t0);
    std::vector<storage::attempt_outcome> outcomes;
    int64_t now = clock.now_ms();
    for (const auto& e : rows) {
      for (const auto& d : e.deliveries) {
        storage::attempt_outcome o;
        o.att.delivery_id = d.id;
        o.att.attempt_no = 1;
        o.att.started_at = now;
        o.att.duration_ms = 1;
        o.att.status_code = 200;
        o.att.response_excerpt = "ok";
        o.new_status = storage::delivery_status::succeeded;
        outcomes.push_back(std::move(o));
      }
    }
    auto t1 = steady::now();
    auto recorded = store->record_attempts(outcomes);
    if (!recorded.ok()) throw std::runtime_error("record_attempts: " + recorded.err().message);
    record_s += seconds_since(t1);
    events += batch;
    progress("store ceiling " + backend + " fan-out " + std::to_string(fanout) + " batch " +
             std::to_string(batch) + ": " + std::to_string(events) + " events");
  }
  double cpu_s = thread_cpu_seconds() - cpu_start;
  double eps = static_cast<double>(events) / (append_s + record_s);
  return {{"backend", backend},
          {"fanout", fanout},
          {"batch", batch},
          {"events", events},
          {"append_events_per_s", static_cast<double>(events) / append_s},
          {"record_deliveries_per_s", static_cast<double>(events * fanout) / record_s},
          {"events_per_s", eps},
          // CPU time of this thread over the whole loop (including building the batches): the
          // rest of the wall time is waiting, mostly for fsync (SQLite) or the server (PG).
          {"cpu_us_per_event", cpu_s * 1e6 / static_cast<double>(events)},
          {"wall_us_per_event", (append_s + record_s) * 1e6 / static_cast<double>(events)}};
}

// Sources by event-type family ("w", "q", "x", "a"): block k of a family's types (indexes
// 100k .. 100k+99) is posted by sources[family][k], since a source may be allowed at most 100
// event types; a family with one source uses it for every type.
using source_map = std::map<std::string, std::vector<source_credentials>>;

// Builds ingestion requests: single events or batches of `batch_events`, each event of a type
// routed to `fanout` webhooks, signed like a real source. Records each event's due time.
struct ingest_plan {
  source_map sources;
  int webhooks = 1;
  int fanout = 1;
  bool batch = false;
  std::string tag;
  int hang_every = 0;    // every n-th event goes to a hanging webhook (bench.x*), 0 = none
  int scale_active = 0;  // > 0: events go round-robin to bench.a0 .. bench.a{n-1} (scenario d)
  int hanging = 0;
  std::unordered_map<std::string, int64_t>* due_us = nullptr;

  // The family and index of event n's type.
  std::pair<std::string, int> type_of(int64_t n) const {
    if (scale_active > 0) return {"a", static_cast<int>(n % scale_active)};
    if (hang_every > 0 && n % hang_every == 0) {
      return {"x", static_cast<int>((n / hang_every) % hanging)};
    }
    return {family(), static_cast<int>(n % family_size())};
  }
  std::string family() const { return fanout == 4 ? "q" : "w"; }
  int family_size() const { return fanout == 4 ? std::max(1, webhooks / 4) : webhooks; }

  const source_credentials& source_for(const std::string& fam, int index) const {
    const auto& list = sources.at(fam);
    if (list.size() == 1) return list.front();
    return list.at(static_cast<std::size_t>(index / 100));
  }

  prepared_request operator()(int64_t seq, int64_t due_unix_us, bool measured) const {
    prepared_request r;
    const source_credentials* source = nullptr;
    if (!batch) {
      std::string id = tag + "-" + std::to_string(seq);
      auto [fam, index] = type_of(seq);
      r.body = event_json(id, "bench." + fam + std::to_string(index),
                          padded_payload(seq, payload_bytes));
      r.path = "/api/v1/events";
      source = &source_for(fam, index);
      if (due_us != nullptr && measured) (*due_us)[id] = due_unix_us;
    } else {
      // Every event of a batch comes from one source: the types of one block of 100.
      int size = family_size();
      int blocks = (size + 99) / 100;
      int base = static_cast<int>(seq % blocks) * 100;
      int length = std::min(100, size - base);
      source = &source_for(family(), base);
      r.body = "[";
      for (int j = 0; j < batch_events; ++j) {
        int64_t n = seq * batch_events + j;
        std::string id = tag + "-" + std::to_string(n);
        if (j > 0) r.body += ",";
        r.body += event_json(id, "bench." + family() + std::to_string(base + j % length),
                             padded_payload(n, payload_bytes));
        if (due_us != nullptr && measured) (*due_us)[id] = due_unix_us;
      }
      r.body += "]";
      r.path = "/api/v1/events/batch";
      r.events = batch_events;
    }
    r.headers = source_headers(*source, r.body);
    return r;
  }
};

std::function<void(const load_progress&)> load_progress_line(const std::string& what) {
  return [what](const load_progress& p) {
    progress(what + ": " + fmt(p.elapsed_s, 1) + " s, sent " + std::to_string(p.sent) + ", 2xx " +
             std::to_string(p.ok) + ", in flight " + std::to_string(p.in_flight));
  };
}

// Runs the ingestion load against a server on 127.0.0.1:`port`; the rate, the latency and the
// whole process's CPU per request (the load generator's share is the same for every server).
json inbound_load(int port, bool batch, int connections, double seconds, const std::string& label) {
  ingest_plan plan;
  plan.sources["w"] = {{"ceiling-key", "ceiling-secret"}};
  plan.webhooks = 1000;
  plan.batch = batch;
  plan.tag = "in";
  load_settings s;
  s.base_url = "http://127.0.0.1:" + std::to_string(port);
  s.connections = connections;
  s.duration = milliseconds(static_cast<int64_t>(seconds * 1000));
  s.on_progress = load_progress_line(label + (batch ? " batch" : " single"));
  const double cpu_start = process_cpu_seconds(::getpid());
  auto result = run_load(s, plan);
  const double cpu_s = process_cpu_seconds(::getpid()) - cpu_start;
  return {{"mode", batch ? "batch100" : "single"},
          {"connections", connections},
          {"requests_ok", result.ok},
          {"failed", result.failed},
          {"events_per_s", static_cast<double>(result.events_ok) / result.elapsed_s},
          {"process_cpu_us_per_request",
           result.ok > 0 ? cpu_s * 1e6 / static_cast<double>(result.ok) : 0.0},
          {"p50_ms", percentile(result.latency_ms, 50)},
          {"p99_ms", percentile(result.latency_ms, 99)}};
}

constexpr const char* ceiling_answer = "{\"accepted\":1,\"duplicates\":0}";

// The inbound HTTP ceiling: the same load generator and requests against a trivial cpp-httplib
// handler (same thread-pool size as webhookd, TCP_NODELAY) answering 202 at once.
json inbound_ceiling(bool batch, int connections, double seconds) {
  httplib::Server srv;
  srv.new_task_queue = [] { return new httplib::ThreadPool(64); };
  srv.set_tcp_nodelay(true);
  srv.set_keep_alive_max_count(10000);  // as webhookd's server (cpp-httplib's own is 5)
  auto accept = [](const httplib::Request&, httplib::Response& res) {
    res.status = 202;
    res.set_content(ceiling_answer, "application/json");
  };
  srv.Post("/api/v1/events", accept);
  srv.Post("/api/v1/events/batch", accept);
  srv.set_payload_max_length(16 * 1024 * 1024);
  int port = srv.bind_to_any_port("127.0.0.1");
  if (port <= 0) throw std::runtime_error("inbound ceiling: cannot bind");
  std::thread runner([&] { srv.listen_after_bind(); });
  json result = inbound_load(port, batch, connections, seconds, "inbound ceiling");
  srv.stop();
  runner.join();
  return result;
}

// The same trivial handler on one event loop (libevent's evhttp, as webhookd-sink uses): what
// an HTTP server without a thread per connection would cost webhookd's ingestion on this machine.
// Reported beside the ceiling, not used in the serial bound (webhookd serves with cpp-httplib).
json inbound_event_loop(bool batch, int connections, double seconds) {
  static const int locking = evthread_use_pthreads();  // event_base_loopexit from this thread
  (void)locking;
  std::unique_ptr<event_base, decltype(&event_base_free)> base(event_base_new(), &event_base_free);
  std::unique_ptr<evhttp, decltype(&evhttp_free)> http(evhttp_new(base.get()), &evhttp_free);
  evhttp_bound_socket* bound = evhttp_bind_socket_with_handle(http.get(), "127.0.0.1", 0);
  if (bound == nullptr) throw std::runtime_error("inbound event loop: cannot bind");
  sockaddr_in address{};
  socklen_t size = sizeof(address);
  ::getsockname(evhttp_bound_socket_get_fd(bound), reinterpret_cast<sockaddr*>(&address), &size);
  evhttp_set_max_body_size(http.get(), 16 * 1024 * 1024);
  evhttp_set_gencb(
      http.get(),
      [](evhttp_request* req, void*) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "application/json");
        evbuffer_add(evhttp_request_get_output_buffer(req), ceiling_answer,
                     std::char_traits<char>::length(ceiling_answer));
        evhttp_send_reply(req, 202, "Accepted", nullptr);
      },
      nullptr);
  std::thread runner([&] { event_base_dispatch(base.get()); });
  json result =
      inbound_load(ntohs(address.sin_port), batch, connections, seconds, "inbound event loop");
  event_base_loopexit(base.get(), nullptr);
  runner.join();
  return result;
}

// The outbound ceiling: signed delivery-sized POSTs through libcurl multi straight into the sink
// (which verifies every signature), at webhookd's per-host connection cap.
json outbound_ceiling(sink& receiver, const std::string& secret, int connections, double seconds) {
  load_settings s;
  s.base_url = "http://" + receiver.host() + ":" + std::to_string(receiver.port());
  s.client = load_client::curl;  // the client webhookd delivers with
  s.connections = connections;
  s.duration = milliseconds(static_cast<int64_t>(seconds * 1000));
  s.on_progress = load_progress_line("outbound ceiling");
  int64_t before = receiver.total();
  auto result = run_load(s, [&](int64_t seq, int64_t, bool) {
    prepared_request r;
    r.path = "/o/" + std::to_string(seq % 1000);
    std::string id = "msg_out" + std::to_string(seq);
    r.body = "{\"id\":\"out-" + std::to_string(seq) +
             "\",\"type\":\"bench.w1\",\"timestamp\":\"2026-11-29T00:00:00Z\",\"client_id\":\"" +
             bench_client + "\",\"data\":" + padded_payload(seq, payload_bytes) + "}";
    r.headers = webhook_headers(secret, id, r.body);
    return r;
  });
  auto stats = receiver.stats();
  int64_t failed_verification = 0;
  for (const auto& [path, st] : stats.at("paths").items()) {
    if (path.rfind("/o/", 0) == 0) failed_verification += st.value("failed_verification", 0);
  }
  return {{"connections", connections},
          {"deliveries_ok", result.ok},
          {"received", receiver.total() - before},
          {"failed_verification", failed_verification},
          {"deliveries_per_s", static_cast<double>(result.ok) / result.elapsed_s},
          {"p50_ms", percentile(result.latency_ms, 50)},
          {"p99_ms", percentile(result.latency_ms, 99)}};
}

// --- the fleet of webhooks --------------------------------------------------------------------

struct fleet {
  source_map sources;
  std::vector<bench_webhook> hooks;
  std::vector<bench_webhook> hanging;
};

// Registers `count` webhooks through the management API: webhook i subscribes to bench.w{i}
// (fan-out 1) and bench.q{i/4} (fan-out 4) and delivers to the sink's /h/{i}, which verifies its
// own secret.
fleet register_fleet(server& srv, sink& receiver, int count) {
  fleet out;
  std::vector<std::string> types;
  for (int i = 0; i < count; ++i) types.push_back("bench.w" + std::to_string(i));
  for (int i = 0; i < std::max(1, count / 4); ++i) types.push_back("bench.q" + std::to_string(i));
  // Types of the hanging webhooks of scenario (c), registered now so the source may post them.
  for (int i = 0; i < std::max(1, count / 10); ++i) types.push_back("bench.x" + std::to_string(i));
  auto start = steady::now();
  for (std::size_t i = 0; i < types.size(); ++i) {
    srv.ensure_event_types({types[i]});
    if (i % 50 == 0)
      progress("event types: " + std::to_string(i) + "/" + std::to_string(types.size()));
  }
  for (const auto& [fam, size] : std::vector<std::pair<std::string, int>>{
           {"w", count}, {"q", std::max(1, count / 4)}, {"x", std::max(1, count / 10)}}) {
    for (int base = 0; base < size; base += 100) {
      std::vector<std::string> allowed;
      for (int i = base; i < std::min(size, base + 100); ++i) {
        allowed.push_back("bench." + fam + std::to_string(i));
      }
      out.sources[fam].push_back(srv.create_source(allowed));
    }
  }
  json sink_config = json::array();
  for (int i = 0; i < count; ++i) {
    std::string path = "/h/" + std::to_string(i);
    out.hooks.push_back(
        srv.create_webhook(receiver.url(path), path,
                           {"bench.w" + std::to_string(i), "bench.q" + std::to_string(i / 4)}));
    sink_config.push_back({{"path", path}, {"secrets", {out.hooks.back().secret}}});
    if (i % 50 == 0) progress("webhooks: " + std::to_string(i) + "/" + std::to_string(count));
  }
  receiver.configure(sink_config);
  section("registered " + std::to_string(count) + " webhooks and " + std::to_string(types.size()) +
          " event types in " + fmt(seconds_since(start), 1) + " s");
  return out;
}

// Waits until the sink has `expected` more deliveries than `base`; the time it happened, or
// nullopt at the timeout.
std::optional<steady::time_point> wait_delivered(sink& receiver, int64_t base, int64_t expected,
                                                 double timeout_s, const std::string& what) {
  auto start = steady::now();
  for (;;) {
    int64_t got = receiver.total() - base;
    if (got >= expected) return steady::now();
    if (seconds_since(start) > timeout_s) return std::nullopt;
    progress(what + ": delivered " + std::to_string(got) + "/" + std::to_string(expected));
    std::this_thread::sleep_for(milliseconds(20));
  }
}

// End-to-end latencies (sink receive time - due time) of the deliveries newer than `after_seq`
// on paths starting with `prefix`.
std::vector<double> e2e_latencies(sink& receiver, int64_t after_seq, const std::string& prefix,
                                  const std::unordered_map<std::string, int64_t>& due_us) {
  std::vector<double> out;
  auto list = receiver.deliveries_after(after_seq);
  for (const auto& d : list) {
    if (d.value("path", "").rfind(prefix, 0) != 0) continue;
    auto due = due_us.find(d.value("event_id", ""));
    if (due == due_us.end()) continue;
    double received_us = static_cast<double>(d.value("received_at_ms", int64_t{0})) * 1000.0;
    out.push_back((received_us - static_cast<double>(due->second)) / 1000.0);
  }
  return out;
}

json percentiles(std::vector<double> values, const std::string& prefix) {
  return {
      {prefix + "p50_ms", percentile(values, 50)},
      {prefix + "p99_ms", percentile(values, 99)},
      {prefix + "p999_ms", percentile(values, 99.9)},
      {prefix + "max_ms", values.empty() ? 0.0 : *std::max_element(values.begin(), values.end())},
      {prefix + "count", values.size()}};
}

// --- scenarios --------------------------------------------------------------------------------

// Stops webhookd with SIGTERM. A server that does not stop in time is a finding, not the end of
// the run: it goes into `out` ("stop_error") and the process is killed when `srv` goes away.
void stop_server(server& srv, json& out) {
  try {
    srv.stop();
    out["clean_stop"] = true;
  } catch (const std::exception& e) {
    out["clean_stop"] = false;
    std::string what = e.what();
    out["stop_error"] = what.substr(0, what.find('\n'));
    progress_done();
    std::cerr << "webhookd-bench: " << out["stop_error"].get<std::string>() << "\n";
  }
}

// A prefix that keeps the event ids of one load phase apart from every other phase's.
std::string next_tag(const std::string& what) {
  return what + std::to_string(unix_now_us());
}

// Waits until webhookd has finished the work a previous phase left (attempt records still being
// written, checkpoints, retries): its CPU over half a second under 10 % of a core (an idle
// webhookd uses under 1 %, builds before CAF's idle workers waited about 4 %). Each phase then
// measures its own load, not the tail of the one before. Returns the seconds it took (the limit
// if webhookd never settled).
double settle(pid_t pid, double limit_s) {
  const auto start = steady::now();
  const auto window = milliseconds(500);
  double before = process_cpu_seconds(pid);
  while (std::chrono::duration<double>(steady::now() - start).count() < limit_s) {
    std::this_thread::sleep_for(window);  // the sampling interval, not a stand-in for a condition
    const double now = process_cpu_seconds(pid);
    if (now - before < 0.10 * 0.5) break;
    before = now;
  }
  return std::chrono::duration<double>(steady::now() - start).count();
}

// (a) max sustained end-to-end rate: a closed-model load for the duration, then the time until
// every accepted event's deliveries reached the sink.
json scenario_max_rate(const options& o, server& srv, sink& receiver, const fleet& f, int fanout,
                       bool batch) {
  const double settled_s = settle(srv.pid(), o.settle_limit_s);
  ingest_plan plan;
  plan.sources = f.sources;
  plan.webhooks = static_cast<int>(f.hooks.size());
  plan.fanout = fanout;
  plan.batch = batch;
  plan.tag = next_tag("a");
  std::string what = "(a) fan-out " + std::to_string(fanout) + (batch ? " batch100" : " single");
  load_settings s;
  s.base_url = srv.base_url();
  s.connections = batch ? o.batch_connections : o.connections;
  s.duration = milliseconds(static_cast<int64_t>(o.duration_s * 1000));
  s.on_progress = load_progress_line(what + " ingest");
  int64_t base = receiver.total();
  double server_cpu_start = process_cpu_seconds(srv.pid());
  double sink_cpu_start = process_cpu_seconds(receiver.pid());
  double loadgen_cpu_start = process_cpu_seconds(::getpid());
  auto start = steady::now();
  auto load = run_load(s, plan);
  auto ingest_end = steady::now();
  // Warm-up events are delivered too: the wait covers every accepted event.
  int64_t all_events = load.events_ok + load.warmup_events_ok;
  int64_t expected = all_events * fanout;
  auto done = wait_delivered(receiver, base, expected, o.quick ? 60 : 600, what);
  int64_t delivered = receiver.total() - base;
  double e2e_s = std::chrono::duration<double>((done ? *done : steady::now()) - start).count();
  // CPU per delivery: what a change costs or saves, steadier than a rate on a shared machine.
  auto cpu_us_per_delivery = [&](double cpu_s) {
    return delivered > 0 ? cpu_s * 1e6 / static_cast<double>(delivered) : 0.0;
  };
  double server_cpu_s = process_cpu_seconds(srv.pid()) - server_cpu_start;
  double sink_cpu_s = process_cpu_seconds(receiver.pid()) - sink_cpu_start;
  double loadgen_cpu_s = process_cpu_seconds(::getpid()) - loadgen_cpu_start;
  // The rate a CPU cost per delivery allows on this machine's cores: webhookd's alone (as if
  // the sink and the load generator ran elsewhere), and the three processes' together.
  double cores = static_cast<double>(std::max(1u, std::thread::hardware_concurrency()));
  auto cpu_bound = [&](double cpu_s) {
    double per_event_us = cpu_us_per_delivery(cpu_s) * fanout;
    return per_event_us > 0 ? cores * 1e6 / per_event_us : 0.0;
  };
  json out{{"fanout", fanout},
           {"mode", batch ? "batch100" : "single"},
           {"connections", s.connections},
           {"events_accepted", load.events_ok},
           {"requests_failed", load.failed},
           {"first_error", load.first_error},
           {"ingest_events_per_s", static_cast<double>(load.events_ok) / load.elapsed_s},
           {"ack_p50_ms", percentile(load.latency_ms, 50)},
           {"ack_p99_ms", percentile(load.latency_ms, 99)},
           {"deliveries_expected", expected},
           {"deliveries_received", delivered},
           {"complete", done.has_value()},
           {"drain_after_ingest_s",
            std::chrono::duration<double>((done ? *done : steady::now()) - ingest_end).count()},
           {"e2e_events_per_s", static_cast<double>(delivered) / fanout / e2e_s},
           {"e2e_window_s", e2e_s},
           {"server_cpu_s", server_cpu_s},
           {"server_cpu_us_per_delivery", cpu_us_per_delivery(server_cpu_s)},
           {"sink_cpu_us_per_delivery", cpu_us_per_delivery(sink_cpu_s)},
           {"loadgen_cpu_us_per_delivery", cpu_us_per_delivery(loadgen_cpu_s)},
           {"server_cpu_bound_events_per_s", cpu_bound(server_cpu_s)},
           {"machine_cpu_bound_events_per_s", cpu_bound(server_cpu_s + sink_cpu_s + loadgen_cpu_s)},
           {"settled_before_s", settled_s}};
  return out;
}

// The p99 of the latencies of the requests started in each second of the phase: where in the
// phase a tail comes from (a burst of work, a checkpoint, the hanging webhooks' timeouts).
json p99_by_second(const std::vector<double>& latency_ms, const std::vector<double>& at_s) {
  std::vector<std::vector<double>> seconds;
  for (std::size_t i = 0; i < latency_ms.size() && i < at_s.size(); ++i) {
    const auto second = static_cast<std::size_t>(std::max(0.0, at_s[i]));
    if (seconds.size() <= second) seconds.resize(second + 1);
    seconds[second].push_back(latency_ms[i]);
  }
  json out = json::array();
  for (auto& one : seconds) out.push_back(percentile(one, 99));
  return out;
}

// (b)/(c): an open-model load of single events at `rate`/s; ack and end-to-end percentiles of
// the healthy webhooks.
json scenario_latency(const options& o, server& srv, sink& receiver, const fleet& f, double rate,
                      int hang_every, const std::string& what) {
  const double settled_s = settle(srv.pid(), o.settle_limit_s);
  std::unordered_map<std::string, int64_t> due_us;
  ingest_plan plan;
  plan.sources = f.sources;
  plan.webhooks = static_cast<int>(f.hooks.size());
  plan.tag = next_tag("b");
  plan.due_us = &due_us;
  plan.hang_every = hang_every;
  plan.hanging = static_cast<int>(f.hanging.size());
  load_settings s;
  s.base_url = srv.base_url();
  s.connections = o.connections;
  s.rate = rate;
  s.duration = milliseconds(static_cast<int64_t>(o.duration_s * 1000));
  s.on_progress = load_progress_line(what);
  int64_t base = receiver.total();
  int64_t after_seq = receiver.last_seq();
  auto load = run_load(s, plan);
  int64_t all_events = load.events_ok + load.warmup_events_ok;
  int64_t healthy_events = all_events;
  if (hang_every > 0) healthy_events -= (all_events + hang_every - 1) / hang_every;
  auto done = wait_delivered(receiver, base, healthy_events, o.quick ? 60 : 300, what);
  auto e2e = e2e_latencies(receiver, after_seq, "/h/", due_us);
  json out{{"rate", rate},
           {"events_accepted", load.events_ok},
           {"requests_failed", load.failed},
           {"first_error", load.first_error},
           {"achieved_rate", static_cast<double>(load.events_ok) / load.elapsed_s},
           {"late_start_max_ms", load.late_start_ms_max},
           {"healthy_deliveries_expected", healthy_events},
           {"complete", done.has_value()},
           {"settled_before_s", settled_s}};
  out["ack_p99_ms_by_second"] = p99_by_second(load.latency_ms, load.latency_at_s);
  out.update(percentiles(load.latency_ms, "ack_"));
  out.update(percentiles(e2e, "e2e_"));
  return out;
}

// (e) backlog: `count` pending deliveries written straight into a fresh store, then webhookd
// started on it: time from spawn to the first delivery and the drain rate.
json scenario_backlog(const options& o, const std::string& backend, sink& receiver) {
  scratch_store where(backend);
  json out;
  {
    auto store = open_store(where.url());
    system_clock_source clock;
    id_generator ids(clock);
    int hooks_count = std::min(o.webhooks, 1000);
    auto hooks = insert_webhooks_blocking(
        *store, ids, hooks_count, [&](int i) { return receiver.url("/e/" + std::to_string(i)); });
    json config = json::array();
    for (int i = 0; i < hooks_count; ++i) {
      config.push_back(
          {{"path", "/e/" + std::to_string(i)}, {"secrets", {hooks[i].signing_secret}}});
    }
    receiver.configure(config);
    auto start = steady::now();
    // Chunks of 1,000 events with one delivery each; PostgreSQL takes several writers at once.
    std::atomic<int64_t> next_chunk{0};
    std::atomic<int64_t> written{0};
    std::string failure;
    std::mutex failure_mutex;
    auto work = [&] {
      for (int64_t chunk = next_chunk++; chunk * 1000 < o.backlog; chunk = next_chunk++) {
        int64_t seq = chunk * 1000;
        int n = static_cast<int>(std::min<int64_t>(1000, o.backlog - seq));
        auto appended = store->append_events(make_batch(ids, hooks, n, 1, seq));
        if (!appended.ok()) {
          std::lock_guard lock(failure_mutex);
          failure = "append_events: " + appended.err().message;
          return;
        }
        written += n;
      }
    };
    std::vector<std::thread> writers;
    for (int t = 0; t < (backend == "pg" ? 4 : 1); ++t) writers.emplace_back(work);
    while (written < o.backlog) {
      {
        std::lock_guard lock(failure_mutex);
        if (!failure.empty()) break;
      }
      progress("(e) writing the backlog: " + std::to_string(written.load()) + "/" +
               std::to_string(o.backlog));
      std::this_thread::sleep_for(milliseconds(200));
    }
    for (auto& w : writers) w.join();
    if (!failure.empty()) throw std::runtime_error(failure);
    out["backlog"] = o.backlog;
    out["webhooks"] = hooks_count;
    out["insert_s"] = seconds_since(start);
  }
  int64_t base = receiver.total();
  int64_t spawn_unix_ms = unix_now_us() / 1000;
  auto spawn = steady::now();
  server srv(where.url(), o.server_args);
  double listening_s = seconds_since(spawn);
  // Wait for the first delivery (at most 60 s), then drain for the window.
  std::optional<double> first_s;
  while (seconds_since(spawn) < 60) {
    if (receiver.total() > base) {
      first_s = seconds_since(spawn);
      break;
    }
    std::this_thread::sleep_for(milliseconds(2));
  }
  // The sink's own first arrival time is more exact than the poll above.
  int64_t first_at_ms = 0;
  const json backlog_stats = receiver.stats();
  for (const auto& [path, st] : backlog_stats.at("paths").items()) {
    if (path.rfind("/e/", 0) != 0) continue;
    int64_t at = st.value("first_at_ms", int64_t{0});
    if (at > 0 && (first_at_ms == 0 || at < first_at_ms)) first_at_ms = at;
  }
  auto drain_start = steady::now();
  int64_t drain_base = receiver.total();
  auto done = wait_delivered(receiver, base, o.backlog, o.drain_window_s, "(e) draining");
  double window = seconds_since(drain_start);
  int64_t drained = receiver.total() - drain_base;
  auto [hwm, rss] = srv.memory_kib();
  out["listening_after_s"] = listening_s;
  out["first_delivery_after_s"] = first_at_ms > 0
                                      ? static_cast<double>(first_at_ms - spawn_unix_ms) / 1000.0
                                      : (first_s ? *first_s : -1.0);
  out["drained_all"] = done.has_value();
  out["drain_window_s"] = window;
  out["delivered_in_window"] = drained;
  out["drain_deliveries_per_s"] = static_cast<double>(drained) / window;
  out["delivered_total"] = receiver.total() - base;
  out["rss_hwm_kib"] = hwm;
  progress_done();
  stop_server(srv, out);
  return out;
}

// (d) scale: `scale_webhooks` webhooks written straight into a fresh store (SQLite: built on
// tmpfs, where fsync costs nothing, then copied to disk before the server starts), of which
// `scale_active` receive events; webhookd started on it and fed single events at the latency
// rate, round-robin over the active ones, so each gets its own endpoint actor. Reports start-up
// time, RSS (VmHWM), and ack/end-to-end latency as the cost of routing against a big index.
json scenario_scale(const options& o, const std::string& backend, sink& receiver) {
  scratch_store where(backend);
  json out{{"webhooks", o.scale_webhooks}, {"active", o.scale_active}};
  std::string build_url = where.url();
  std::string shm_dir;
  if (backend == "sqlite" && std::filesystem::exists("/dev/shm")) {
    std::string pattern = "/dev/shm/webhookd-bench-XXXXXX";
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    if (::mkdtemp(name.data()) != nullptr) {
      shm_dir = name.data();
      build_url = "sqlite:" + shm_dir + "/scale.db";
    }
  }
  source_credentials source{"bench-scale-key-" + std::to_string(unix_now_us()),
                            "bench-scale-secret-" + std::to_string(unix_now_us())};
  {
    auto start = steady::now();
    storage::store_settings settings;
    settings.url = build_url;
    settings.pool_size = 8;
    auto opened = storage::open_store_blocking(settings);
    if (!opened.ok())
      throw std::runtime_error("opening " + build_url + ": " + opened.err().message);
    auto store = std::move(opened.value());
    system_clock_source clock;
    id_generator ids(clock);
    int64_t now = clock.now_ms();
    storage::source src;
    src.id = ids.next("src");
    src.name = "bench-scale";
    src.api_key = source.api_key;
    src.secret = source.secret;
    src.allowed_event_types = {"bench.*"};
    src.created_at = now;
    src.updated_at = now;
    if (auto added = store->insert_source(src); !added.ok()) {
      throw std::runtime_error("insert_source: " + added.err().message);
    }
    std::vector<std::string> secrets(static_cast<std::size_t>(o.scale_active));
    std::atomic<int> next{0};
    std::atomic<bool> failed{false};
    std::string failure;
    std::mutex failure_mutex;
    auto work = [&] {
      for (int i = next++; i < o.scale_webhooks && !failed; i = next++) {
        storage::webhook w;
        w.id = ids.next("wh");
        w.client_id = bench_client;
        bool active = i < o.scale_active;
        std::string path = active ? "/d/" + std::to_string(i) : "/idle";
        w.callback_url = receiver.url(path);
        w.event_types = {active ? "bench.a" + std::to_string(i) : "bench.idle"};
        auto secret = new_signing_secret();
        std::string failed_because = secret ? "" : "new_signing_secret failed";
        if (secret) {
          w.signing_secret = secret.value();
          if (active) secrets[static_cast<std::size_t>(i)] = w.signing_secret;
          w.created_at = now;
          w.updated_at = now;
          auto inserted = store->insert_webhook(w);
          if (!inserted.ok()) failed_because = "insert_webhook: " + inserted.err().message;
        }
        if (!failed_because.empty()) {
          std::lock_guard lock(failure_mutex);
          failure = failed_because;
          failed = true;
        }
      }
    };
    int threads = backend == "pg" ? 8 : 1;
    std::vector<std::thread> workers;
    for (int t = 1; t < threads; ++t) workers.emplace_back(work);
    std::thread reporter([&] {
      while (next < o.scale_webhooks && !failed) {
        progress("(d) writing webhooks: " + std::to_string(next.load()) + "/" +
                 std::to_string(o.scale_webhooks));
        std::this_thread::sleep_for(milliseconds(200));
      }
    });
    work();
    for (auto& w : workers) w.join();
    reporter.join();
    if (failed) throw std::runtime_error(failure);
    json config = json::array();
    for (int i = 0; i < o.scale_active; ++i) {
      config.push_back({{"path", "/d/" + std::to_string(i)},
                        {"secrets", {secrets[static_cast<std::size_t>(i)]}}});
    }
    receiver.configure(config);
    out["insert_s"] = seconds_since(start);
  }
  if (!shm_dir.empty()) {
    // Move the finished SQLite file (its WAL was checkpointed at close) onto the disk.
    std::filesystem::copy_file(shm_dir + "/scale.db", where.url().substr(7),
                               std::filesystem::copy_options::overwrite_existing);
    std::error_code ec;
    std::filesystem::remove_all(shm_dir, ec);
  }
  auto spawn = steady::now();
  server srv(where.url(), o.server_args);
  out["listening_after_s"] = seconds_since(spawn);
  out["rss_after_start_kib"] = srv.memory_kib().second;
  std::unordered_map<std::string, int64_t> due_us;
  ingest_plan plan;
  plan.sources["a"] = {source};
  plan.webhooks = o.scale_active;
  plan.scale_active = o.scale_active;
  plan.tag = next_tag("d");
  plan.due_us = &due_us;
  load_settings s;
  s.base_url = srv.base_url();
  s.connections = o.connections;
  s.rate = o.latency_rate;
  // Long enough for every active webhook to get events.
  s.duration = milliseconds(
      static_cast<int64_t>(std::max(o.duration_s, 1.2 * o.scale_active / o.latency_rate) * 1000));
  s.on_progress = load_progress_line("(d)");
  int64_t base = receiver.total();
  int64_t after_seq = receiver.last_seq();
  auto load = run_load(s, plan);
  int64_t all_events = load.events_ok + load.warmup_events_ok;
  auto done = wait_delivered(receiver, base, all_events, o.quick ? 60 : 300, "(d)");
  auto e2e = e2e_latencies(receiver, after_seq, "/d/", due_us);
  auto [hwm, rss] = srv.memory_kib();
  out["rate"] = o.latency_rate;
  out["events_accepted"] = load.events_ok;
  out["requests_failed"] = load.failed;
  out["first_error"] = load.first_error;
  out["achieved_rate"] = static_cast<double>(load.events_ok) / load.elapsed_s;
  out["complete"] = done.has_value();
  out.update(percentiles(load.latency_ms, "ack_"));
  out.update(percentiles(e2e, "e2e_"));
  out["rss_hwm_kib"] = hwm;
  out["rss_kib"] = rss;
  progress_done();
  stop_server(srv, out);
  return out;
}

// Everything measured on one store backend.
json run_store(const options& o, const std::string& backend, sink& receiver,
               const std::string& sink_binary) {
  json out;
  section("store " + backend + ": ceilings");
  json ceilings = json::array();
  for (int fanout : {1, 4}) {
    for (int batch : {o.connections, batch_events}) {
      ceilings.push_back(store_ceiling(backend, fanout, batch, o.ceiling_s, o.ceiling_batches));
    }
  }
  out["store_ceiling"] = ceilings;
  if (o.store_ceiling_only) return out;
  if (has_scenario(o, "a") || has_scenario(o, "b") || has_scenario(o, "c")) {
    scratch_store where(backend);
    section("store " + backend + ": starting webhookd");
    server srv(where.url(), o.server_args);
    section("store " + backend + ": webhookd pid " + std::to_string(srv.pid()) + " at " +
            srv.base_url());
    auto f = register_fleet(srv, receiver, o.webhooks);
    std::unique_ptr<sink> hang_sink;
    if (has_scenario(o, "c")) {
      // (c)'s hanging webhooks live on a second sink at 127.0.0.2, as another host would
      // (webhookd pools connections per host). They are registered with the fleet, before any
      // phase, so that (c) differs from (b) by their traffic alone, not by 100 registrations
      // just before it.
      hang_sink = std::make_unique<sink>(sink_binary, "127.0.0.2",
                                         std::vector<std::string>{"--keep", "1000"});
      hang_sink->configure(
          {{"path", "*"}, {"secrets", json::array()}, {"hang", true}, {"hang_ms", 15'000}});
      const int hanging = std::max(1, o.webhooks / 10);
      for (int i = 0; i < hanging; ++i) {
        std::string path = "/x/" + std::to_string(i);
        f.hanging.push_back(
            srv.create_webhook(hang_sink->url(path), path, {"bench.x" + std::to_string(i)}));
      }
    }
    if (has_scenario(o, "a")) {
      json rows = json::array();
      for (int fanout : {1, 4}) {
        for (bool batch : {false, true}) {
          section("store " + backend + ": (a) fan-out " + std::to_string(fanout) +
                  (batch ? " batch100" : " single"));
          rows.push_back(scenario_max_rate(o, srv, receiver, f, fanout, batch));
          progress_done();
        }
      }
      out["max_rate"] = rows;
    }
    if (has_scenario(o, "b")) {
      section("store " + backend + ": (b) latency at " + fmt(o.latency_rate) + " events/s");
      out["latency"] = scenario_latency(o, srv, receiver, f, o.latency_rate, 0, "(b)");
      progress_done();
    }
    if (has_scenario(o, "c")) {
      section("store " + backend + ": (c) isolation, 10% of webhooks hanging");
      auto row = scenario_latency(o, srv, receiver, f, o.latency_rate, 10, "(c)");
      row["hanging_webhooks"] = f.hanging.size();
      row["hanging_requests_received"] = hang_sink->total();
      if (out.contains("latency")) {
        double base_p99 = out["latency"].value("e2e_p99_ms", 0.0);
        row["healthy_e2e_p99_vs_b"] = base_p99 > 0 ? row.value("e2e_p99_ms", 0.0) / base_p99 : 0.0;
      }
      out["isolation"] = row;
      progress_done();
      hang_sink->configure({{"path", "*"}, {"secrets", json::array()}, {"hang", false}});
      hang_sink->release();
    }
    // Signature check across every path this server delivered to.
    int64_t verified = 0;
    int64_t failed = 0;
    int64_t duplicates = 0;
    const json sink_stats = receiver.stats();
    for (const auto& [path, st] : sink_stats.at("paths").items()) {
      if (path.rfind("/h/", 0) != 0) continue;
      verified += st.value("verified", int64_t{0});
      failed += st.value("failed_verification", int64_t{0});
      duplicates += st.value("duplicates", int64_t{0});
    }
    auto [hwm, rss] = srv.memory_kib();
    out["sink_check"] = {
        {"verified", verified}, {"failed_verification", failed}, {"duplicates", duplicates}};
    out["server_rss_hwm_kib"] = hwm;
    out["server_rss_kib"] = rss;
    section("store " + backend + ": stopping webhookd");
    stop_server(srv, out);
  }
  if (has_scenario(o, "e")) {
    section("store " + backend + ": (e) backlog of " + std::to_string(o.backlog) + " deliveries");
    out["backlog"] = scenario_backlog(o, backend, receiver);
  }
  if (has_scenario(o, "d")) {
    section("store " + backend + ": (d) scale, " + std::to_string(o.scale_webhooks) +
            " webhooks, " + std::to_string(o.scale_active) + " active");
    out["scale"] = scenario_scale(o, backend, receiver);
  }
  return out;
}

// The serial bound of one configuration: the rate if each event passed the store, inbound HTTP
// and outbound HTTP stages back to back (1 / sum of 1/ceiling per event).
double serial_bound(double store_eps, double inbound_eps, double outbound_dps, int fanout) {
  if (store_eps <= 0 || inbound_eps <= 0 || outbound_dps <= 0) return 0;
  return 1.0 / (1.0 / store_eps + 1.0 / inbound_eps + fanout / outbound_dps);
}

void add_bounds(json& store_result, const json& ceilings, const options& o) {
  if (!store_result.contains("max_rate")) return;
  for (auto& row : store_result["max_rate"]) {
    int fanout = row.value("fanout", 1);
    bool batch = row.value("mode", "") == "batch100";
    double store_eps = 0;
    for (const auto& c : store_result["store_ceiling"]) {
      if (c.value("fanout", 0) == fanout &&
          c.value("batch", 0) == (batch ? batch_events : o.connections)) {
        store_eps = c.value("events_per_s", 0.0);
      }
    }
    double inbound = ceilings["inbound"][batch ? "batch100" : "single"].value("events_per_s", 0.0);
    double outbound = ceilings["outbound"].value("deliveries_per_s", 0.0);
    double bound = serial_bound(store_eps, inbound, outbound, fanout);
    row["store_ceiling_events_per_s"] = store_eps;
    row["inbound_ceiling_events_per_s"] = inbound;
    row["outbound_ceiling_events_per_s"] = outbound / fanout;
    row["serial_bound_events_per_s"] = bound;
    row["ratio_to_serial_bound"] = bound > 0 ? row.value("e2e_events_per_s", 0.0) / bound : 0.0;
  }
}

json targets(const json& stores) {
  json out = json::object();
  for (const auto& [backend, r] : stores.items()) {
    json t;
    if (r.contains("max_rate")) {
      double best = 0;
      double ratio = 0;
      double server_bound = 0;
      double machine_bound = 0;
      for (const auto& row : r["max_rate"]) {
        if (row.value("mode", "") == "batch100" && row.value("e2e_events_per_s", 0.0) > best) {
          best = row.value("e2e_events_per_s", 0.0);
          ratio = row.value("ratio_to_serial_bound", 0.0);
          server_bound = row.value("server_cpu_bound_events_per_s", 0.0);
          machine_bound = row.value("machine_cpu_bound_events_per_s", 0.0);
        }
      }
      // The CPU bounds say what the run could have shown: webhookd's share of the cores, and
      // what webhookd, the sink and the load generator allow together on this machine.
      t["e2e_batch_events_per_s"] = {{"target", ">= 12000"},
                                     {"measured", best},
                                     {"met", best >= 12000},
                                     {"server_cpu_bound", server_bound},
                                     {"machine_cpu_bound", machine_bound}};
      t["ratio_to_serial_bound"] = {
          {"target", ">= 0.70"}, {"measured", ratio}, {"met", ratio >= 0.7}};
    }
    if (r.contains("latency")) {
      double ack = r["latency"].value("ack_p99_ms", 0.0);
      double e2e = r["latency"].value("e2e_p99_ms", 0.0);
      t["ack_p99_ms"] = {{"target", "<= 10"}, {"measured", ack}, {"met", ack <= 10}};
      t["e2e_p99_ms"] = {{"target", "<= 50"}, {"measured", e2e}, {"met", e2e <= 50}};
    }
    if (r.contains("isolation") && r["isolation"].contains("healthy_e2e_p99_vs_b")) {
      double x = r["isolation"].value("healthy_e2e_p99_vs_b", 0.0);
      t["isolation_p99_factor"] = {{"target", "<= 1.5"}, {"measured", x}, {"met", x <= 1.5}};
    }
    if (r.contains("backlog")) {
      double first = r["backlog"].value("first_delivery_after_s", -1.0);
      t["backlog_first_delivery_s"] = {
          {"target", "<= 2"}, {"measured", first}, {"met", first >= 0 && first <= 2}};
    }
    if (r.contains("scale")) {
      double mb = static_cast<double>(r["scale"].value("rss_hwm_kib", int64_t{0})) / 1024.0;
      t["scale_rss_mb"] = {{"target", "<= 300"}, {"measured", mb}, {"met", mb > 0 && mb <= 300}};
    }
    out[backend] = t;
  }
  return out;
}

// --- the table --------------------------------------------------------------------------------

void print_table(const json& report) {
  std::ostream& out = std::cout;
  const auto& c = report["ceilings"];
  out << "\nwebhookd-bench  (" << report["machine"].value("cpus", 0) << " cpus, load "
      << report.value("load_start", "") << " -> " << report.value("load_end", "") << ")\n\n";
  out << "ceilings (same run)\n";
  out << "  inbound HTTP  single " << fmt(c["inbound"]["single"].value("events_per_s", 0.0))
      << " ev/s, batch100 " << fmt(c["inbound"]["batch100"].value("events_per_s", 0.0))
      << " ev/s (cpp-httplib, as webhookd; "
      << fmt(c["inbound"]["single"].value("process_cpu_us_per_request", 0.0))
      << " us/request with the load generator)\n";
  out << "  inbound HTTP on an event loop (evhttp), single "
      << fmt(c["inbound_event_loop"]["single"].value("events_per_s", 0.0)) << " ev/s ("
      << fmt(c["inbound_event_loop"]["single"].value("process_cpu_us_per_request", 0.0))
      << " us/request with the load generator)\n";
  out << "  outbound HTTP " << fmt(c["outbound"].value("deliveries_per_s", 0.0))
      << " deliveries/s (" << c["outbound"].value("connections", 0) << " connections)\n";
  for (const auto& [backend, r] : report["stores"].items()) {
    out << "  store " << backend << ":";
    for (const auto& row : r["store_ceiling"]) {
      out << "  f" << row.value("fanout", 0) << "/b" << row.value("batch", 0) << " "
          << fmt(row.value("events_per_s", 0.0)) << " ev/s";
    }
    out << "\n";
  }
  for (const auto& [backend, r] : report["stores"].items()) {
    out << "\n" << backend << "\n";
    if (r.contains("max_rate")) {
      out << "  (a) max rate     fan-out mode      ingest ev/s  e2e ev/s  serial bound  ratio  "
             "complete  cpu us/delivery: webhookd  sink  load  webhookd cpu-bound ev/s\n";
      for (const auto& row : r["max_rate"]) {
        char line[240];
        std::snprintf(
            line, sizeof line,
            "                   %7d %-9s %11.0f %9.0f %13.0f %6.2f  %-8s  %25.0f %5.0f %5.0f "
            "%24.0f\n",
            row.value("fanout", 0), row.value("mode", "").c_str(),
            row.value("ingest_events_per_s", 0.0), row.value("e2e_events_per_s", 0.0),
            row.value("serial_bound_events_per_s", 0.0), row.value("ratio_to_serial_bound", 0.0),
            row.value("complete", false) ? "yes" : "NO",
            row.value("server_cpu_us_per_delivery", 0.0),
            row.value("sink_cpu_us_per_delivery", 0.0),
            row.value("loadgen_cpu_us_per_delivery", 0.0),
            row.value("server_cpu_bound_events_per_s", 0.0));
        out << line;
      }
    }
    auto lat = [&](const char* name, const json& row) {
      char line[300];
      std::snprintf(line, sizeof line,
                    "  %-16s %6.0f ev/s  ack p50/p99/p999 %.1f/%.1f/%.1f ms  e2e p50/p99/p999 "
                    "%.1f/%.1f/%.1f ms\n",
                    name, row.value("achieved_rate", 0.0), row.value("ack_p50_ms", 0.0),
                    row.value("ack_p99_ms", 0.0), row.value("ack_p999_ms", 0.0),
                    row.value("e2e_p50_ms", 0.0), row.value("e2e_p99_ms", 0.0),
                    row.value("e2e_p999_ms", 0.0));
      out << line;
    };
    if (r.contains("latency")) lat("(b) latency", r["latency"]);
    if (r.contains("isolation")) {
      lat("(c) isolation", r["isolation"]);
      if (r["isolation"].contains("healthy_e2e_p99_vs_b")) {
        out << "                   healthy e2e p99 vs (b): "
            << fmt(r["isolation"].value("healthy_e2e_p99_vs_b", 0.0), 2) << "x\n";
      }
    }
    if (r.contains("backlog")) {
      const auto& b = r["backlog"];
      out << "  (e) backlog      " << b.value("backlog", int64_t{0}) << " pending: first delivery "
          << fmt(b.value("first_delivery_after_s", 0.0), 2) << " s after start, drain "
          << fmt(b.value("drain_deliveries_per_s", 0.0)) << " deliveries/s over "
          << fmt(b.value("drain_window_s", 0.0), 1) << " s\n";
    }
    if (r.contains("scale")) {
      const auto& d = r["scale"];
      out << "  (d) scale        " << d.value("webhooks", 0) << " webhooks, "
          << d.value("active", 0) << " active: VmHWM " << d.value("rss_hwm_kib", int64_t{0}) / 1024
          << " MiB, ready after " << fmt(d.value("listening_after_s", 0.0), 1) << " s; at "
          << fmt(d.value("achieved_rate", 0.0)) << " ev/s ack p50/p99 "
          << fmt(d.value("ack_p50_ms", 0.0), 1) << "/" << fmt(d.value("ack_p99_ms", 0.0), 1)
          << " ms, e2e p50/p99 " << fmt(d.value("e2e_p50_ms", 0.0), 1) << "/"
          << fmt(d.value("e2e_p99_ms", 0.0), 1) << " ms\n";
    }
    if (r.contains("sink_check")) {
      out << "  sink: " << r["sink_check"].value("verified", int64_t{0}) << " verified, "
          << r["sink_check"].value("failed_verification", int64_t{0}) << " failed verification, "
          << r["sink_check"].value("duplicates", int64_t{0}) << " duplicates; server VmHWM "
          << r.value("server_rss_hwm_kib", int64_t{0}) / 1024 << " MiB\n";
    }
  }
  out << std::flush;
}

std::vector<std::string> chosen_backends(const options& o) {
  std::vector<std::string> backends;
  if (o.stores == "sqlite" || o.stores == "both") backends.push_back("sqlite");
  if (o.stores == "pg" || o.stores == "both") backends.push_back("pg");
  return backends;
}

void write_report(const options& o, const json& report) {
  if (o.out.empty()) return;
  std::ofstream file(o.out);
  file << report.dump(2) << "\n";
  if (!file) throw std::runtime_error("cannot write " + o.out);
  std::cerr << "wrote " << o.out << "\n";
}

// --store-ceiling-only: the store ceilings of the chosen stores, no server, no sink.
int run_store_ceilings(const options& o, json& report) {
  json stores = json::object();
  for (const auto& backend : chosen_backends(o)) {
    section("store " + backend + ": ceilings");
    json ceilings = json::array();
    for (int fanout : {1, 4}) {
      for (int batch : {o.connections, batch_events}) {
        auto row = store_ceiling(backend, fanout, batch, o.ceiling_s, o.ceiling_batches);
        progress_done();
        std::cout << backend << " fan-out " << fanout << " batch " << batch << ": "
                  << fmt(row.value("events_per_s", 0.0)) << " ev/s (append "
                  << fmt(row.value("append_events_per_s", 0.0)) << " ev/s, record "
                  << fmt(row.value("record_deliveries_per_s", 0.0)) << " deliveries/s), "
                  << fmt(row.value("wall_us_per_event", 0.0), 1) << " us wall, "
                  << fmt(row.value("cpu_us_per_event", 0.0), 1) << " us CPU per event" << std::endl;
        ceilings.push_back(row);
      }
    }
    stores[backend]["store_ceiling"] = ceilings;
  }
  report["stores"] = stores;
  report["load_end"] = load_average();
  write_report(o, report);
  return 0;
}

int run(const options& o, const std::string& sink_binary) {
  json report;
  report["tool"] = "webhookd-bench";
  report["quick"] = o.quick;
  report["started_at_unix_ms"] = unix_now_us() / 1000;
  report["machine"] = machine_info();
  report["load_start"] = load_average();
  report["settings"] = {{"webhooks", o.webhooks},
                        {"duration_s", o.duration_s},
                        {"latency_rate", o.latency_rate},
                        {"ceiling_s", o.ceiling_s},
                        {"connections", o.connections},
                        {"batch_connections", o.batch_connections},
                        {"outbound_connections", o.outbound_connections},
                        {"payload_bytes", payload_bytes},
                        {"backlog", o.backlog},
                        {"scale_webhooks", o.scale_webhooks},
                        {"scale_active", o.scale_active},
                        {"scenarios", o.scenarios},
                        {"server_args", o.server_args}};
  if (o.store_ceiling_only) return run_store_ceilings(o, report);
  auto sink_secret = new_signing_secret();
  if (!sink_secret) throw std::runtime_error("new_signing_secret failed");
  sink receiver(sink_binary, "127.0.0.1", {"--secret", sink_secret.value(), "--keep", "400000"});

  section("ceilings: inbound HTTP, outbound HTTP");
  // A ceiling is the best rate a stage reaches: each is measured at a few concurrencies (on two
  // cores fewer connections often go faster) and the best one counts; all are reported.
  auto best_of = [](std::vector<json> tries, const char* rate_key) {
    json best = tries.front();
    for (const auto& t : tries) {
      if (t.value(rate_key, 0.0) > best.value(rate_key, 0.0)) best = t;
    }
    best["tries"] = tries;
    return best;
  };
  json ceilings;
  ceilings["inbound"]["single"] = best_of(
      {inbound_ceiling(false, 8, o.ceiling_s), inbound_ceiling(false, o.connections, o.ceiling_s)},
      "events_per_s");
  ceilings["inbound"]["batch100"] =
      best_of({inbound_ceiling(true, 2, o.ceiling_s),
               inbound_ceiling(true, o.batch_connections, o.ceiling_s)},
              "events_per_s");
  ceilings["inbound_event_loop"]["single"] =
      best_of({inbound_event_loop(false, 8, o.ceiling_s),
               inbound_event_loop(false, o.connections, o.ceiling_s)},
              "events_per_s");
  ceilings["outbound"] = best_of(
      {outbound_ceiling(receiver, sink_secret.value(), 8, o.ceiling_s),
       outbound_ceiling(receiver, sink_secret.value(), o.outbound_connections, o.ceiling_s)},
      "deliveries_per_s");
  progress_done();
  report["ceilings"] = ceilings;

  json stores = json::object();
  for (const auto& backend : chosen_backends(o)) {
    stores[backend] = run_store(o, backend, receiver, sink_binary);
    add_bounds(stores[backend], ceilings, o);
  }
  report["stores"] = stores;
  report["targets"] = targets(stores);
  report["load_end"] = load_average();
  print_table(report);
  write_report(o, report);
  return 0;
}

}  // namespace
}  // namespace webhookd::bench

int main(int argc, char** argv) {
  using webhookd::bench::options;
  options o;
  std::string sink_binary = WEBHOOKD_SINK_BINARY;
  CLI::App app{"webhookd-bench: measures webhookd against this machine's own ceilings"};
  app.add_flag("--quick", o.quick, "a small run (under a minute) that checks the bench works");
  app.add_option("--out", o.out, "write the figures as JSON to this file");
  app.add_option("--store", o.stores, "sqlite, pg (needs WEBHOOKD_TEST_PG_URL) or both")
      ->check(CLI::IsMember({"sqlite", "pg", "both"}));
  app.add_option("--scenarios", o.scenarios, "comma-separated subset of a,b,c,d,e");
  app.add_option("--webhooks", o.webhooks, "webhooks registered (scenarios a-c)");
  app.add_option("--duration", o.duration_s, "seconds of load per scenario run");
  app.add_option("--rate", o.latency_rate, "events/s of the latency scenarios (b, c)");
  app.add_option("--ceiling-seconds", o.ceiling_s, "seconds per ceiling measurement");
  app.add_option("--connections", o.connections, "single-event requests in flight");
  app.add_option("--batch-connections", o.batch_connections, "batch requests in flight");
  app.add_option("--outbound-connections", o.outbound_connections,
                 "connections of the outbound ceiling (webhookd's per-host cap is 64)");
  app.add_option("--backlog", o.backlog, "pending deliveries written before start (e)");
  app.add_option("--drain-window", o.drain_window_s, "seconds the backlog drain is watched (e)");
  app.add_option("--settle-limit", o.settle_limit_s,
                 "most seconds a phase waits for webhookd to settle (0: start right after the "
                 "phase before, to see a phase right after a burst)");
  app.add_option("--sink-binary", sink_binary, "the webhookd-sink to run");
  app.add_option("--server-arg", o.server_args,
                 "a flag for every webhookd the bench starts (repeatable; e.g. "
                 "--server-arg=--http-threads=16)");
  app.add_option("--scale-webhooks", o.scale_webhooks, "webhooks registered in (d)");
  app.add_option("--scale-active", o.scale_active, "webhooks receiving events in (d)");
  app.add_flag("--store-ceiling-only", o.store_ceiling_only,
               "measure only the store ceilings (no webhookd, no sink)");
  app.add_option("--ceiling-batches", o.ceiling_batches,
                 "each store ceiling runs this many batches instead of --ceiling-seconds "
                 "(repeatable work, e.g. under callgrind)");
  CLI11_PARSE(app, argc, argv);
  if (o.quick) {
    // Small on purpose: the smoke test checks that every stage works, not how fast.
    if (app.count("--webhooks") == 0) o.webhooks = 20;
    if (app.count("--duration") == 0) o.duration_s = 2;
    if (app.count("--rate") == 0) o.latency_rate = 200;
    if (app.count("--ceiling-seconds") == 0) o.ceiling_s = 0.5;
    if (app.count("--backlog") == 0) o.backlog = 2000;
    if (app.count("--drain-window") == 0) o.drain_window_s = 30;
    if (app.count("--scale-webhooks") == 0) o.scale_webhooks = 2000;
    if (app.count("--scale-active") == 0) o.scale_active = 200;
  }
  if (o.webhooks < 4) {
    std::cerr << "webhookd-bench: --webhooks must be at least 4\n";
    return 2;
  }
  try {
    return webhookd::bench::run(o, sink_binary);
  } catch (const std::exception& e) {
    std::cerr << "\nwebhookd-bench: " << e.what() << "\n";
    return 1;
  }
}
