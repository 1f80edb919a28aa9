#include "bench_setup.hpp"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "core/source_signature.hpp"
#include "core/webhook_signature.hpp"

namespace webhookd::bench {

namespace {

int64_t unix_now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string describe(const std::string& request, const httplib::Result& res) {
  if (!res) return request + " -> no answer (" + httplib::to_string(res.error()) + ")";
  return request + " -> " + std::to_string(res->status) + " " + res->body.substr(0, 500);
}

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

std::string random_suffix() {
  std::random_device rd;
  std::ostringstream out;
  out << std::hex << rd() << rd();
  return out.str();
}

}  // namespace

// --- sink -------------------------------------------------------------------------------------

sink::sink(const std::string& binary, const std::string& host, std::vector<std::string> extra_args)
    : host_(host) {
  std::vector<std::string> args{"--listen", host + ":0"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<e2e::process>(binary, e2e::process_options(args));
  auto line = process_->wait_for_stdout_line("listening on http://", milliseconds{20'000});
  std::optional<std::pair<std::string, uint16_t>> address;
  if (line) address = e2e::parse_listening_line(*line);
  if (!address) {
    throw std::runtime_error("webhookd-sink did not report its address:\n" + process_->describe());
  }
  port_ = address->second;
}

sink::~sink() {
  process_->send_signal(SIGTERM);
  process_->wait_exit(milliseconds{5'000});
}

std::string sink::url(const std::string& path) const {
  return "http://" + host_ + ":" + std::to_string(port_) + path;
}

httplib::Client sink::client(int read_timeout_s) const {
  httplib::Client c(host_, port_);
  c.set_tcp_nodelay(true);
  c.set_connection_timeout(std::chrono::seconds(5));
  c.set_read_timeout(std::chrono::seconds(read_timeout_s));
  return c;
}

nlohmann::json sink::get_json(const std::string& target) {
  auto res = client().Get(target.c_str());
  if (!res || res->status != 200)
    throw std::runtime_error("sink: " + describe("GET " + target, res));
  auto json = nlohmann::json::parse(res->body, nullptr, false);
  if (json.is_discarded()) throw std::runtime_error("sink: GET " + target + " is not JSON");
  return json;
}

void sink::configure(const nlohmann::json& config) {
  auto res = client().Post("/_sink/config", config.dump(), "application/json");
  if (!res || res->status != 200) {
    throw std::runtime_error("sink: " + describe("POST /_sink/config", res));
  }
}

nlohmann::json sink::stats() {
  return get_json("/_sink/stats");
}

int64_t sink::total() {
  return get_json("/_sink/stats").value("total", int64_t{0});
}

int64_t sink::last_seq() {
  auto answer = get_json("/_sink/deliveries?limit=1");
  const auto& list = answer.at("deliveries");
  if (list.empty()) return 0;
  return list.back().value("seq", int64_t{0});
}

nlohmann::json sink::deliveries_after(int64_t after_seq) {
  return get_json("/_sink/deliveries?after=" + std::to_string(after_seq)).at("deliveries");
}

void sink::release() {
  auto res = client().Post("/_sink/release", "", "text/plain");
  if (!res || res->status != 200) {
    throw std::runtime_error("sink: " + describe("POST /_sink/release", res));
  }
}

// --- server -----------------------------------------------------------------------------------

server::server(const std::string& store_url, std::vector<std::string> extra_args)
    : store_url_(store_url) {
  const std::string jwt_secret = "bench-" + random_suffix();
  std::vector<std::string> args{"--store", store_url, "--allow-http", "--allow-private-targets",
                                "127.0.0.0/8"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  e2e::process_options options(args, {{"WEBHOOKD_JWT_SECRET", jwt_secret}});
  e2e::serve_defaults defaults;
  defaults.startup_timeout = milliseconds{120'000};  // a big backlog store opens slowly
  server_ = std::make_unique<e2e::webhookd_server>(std::move(options), defaults);
  auto mint = [&](std::vector<std::string> token_args) {
    token_args.insert(token_args.begin(), "token");
    token_args.insert(token_args.end(), {"--jwt-secret", jwt_secret});
    auto run = e2e::run_webhookd(e2e::process_options(token_args));
    if (!run.status.exited || run.status.code != 0) {
      throw std::runtime_error("webhookd token failed:\n" + run.description);
    }
    return trim(run.out);
  };
  client_token_ = mint({"--client", bench_client});
  admin_token_ = mint({"--client", "bench-admin", "--admin"});
}

void server::stop() {
  auto status = server_->stop(SIGTERM, milliseconds{60'000});
  if (!status.exited || status.code != 0) {
    throw std::runtime_error("webhookd ended with " + e2e::to_string(status));
  }
}

nlohmann::json server::post(const std::string& path, const nlohmann::json& body,
                            const std::string& token, bool conflict_ok) {
  httplib::Client c(server_->host(), server_->port());
  c.set_tcp_nodelay(true);
  c.set_read_timeout(std::chrono::seconds(60));
  httplib::Headers headers{{"Authorization", "Bearer " + token}};
  auto res = c.Post(path.c_str(), headers, body.dump(), "application/json");
  if (res && (res->status == 201 || (conflict_ok && res->status == 409))) {
    auto json = nlohmann::json::parse(res->body, nullptr, false);
    return json.is_discarded() ? nlohmann::json() : json;
  }
  throw std::runtime_error("webhookd: " + describe("POST " + path, res));
}

nlohmann::json server::admin_post(const std::string& path, const nlohmann::json& body,
                                  bool conflict_ok) {
  return post(path, body, admin_token_, conflict_ok);
}

nlohmann::json server::client_post(const std::string& path, const nlohmann::json& body) {
  return post(path, body, client_token_, false);
}

void server::ensure_event_types(const std::vector<std::string>& names) {
  for (const auto& name : names) {
    admin_post("/api/v1/event-types", {{"name", name}}, true);
  }
}

source_credentials server::create_source(const std::vector<std::string>& allowed) {
  auto answer = admin_post(
      "/api/v1/sources", {{"name", "bench-" + random_suffix()}, {"allowed_event_types", allowed}});
  source_credentials out{answer.value("api_key", ""), answer.value("secret", "")};
  if (out.api_key.empty() || out.secret.empty()) {
    throw std::runtime_error("webhookd: the source answer lacks api_key or secret");
  }
  return out;
}

bench_webhook server::create_webhook(const std::string& callback_url, const std::string& path,
                                     const std::vector<std::string>& types) {
  auto answer =
      client_post("/api/v1/webhooks", {{"callback_url", callback_url}, {"event_types", types}});
  bench_webhook out{answer.value("webhook_id", ""), path, answer.value("signing_secret", "")};
  if (out.id.empty() || out.secret.empty()) {
    throw std::runtime_error("webhookd: the webhook answer lacks webhook_id or signing_secret");
  }
  return out;
}

std::pair<int64_t, int64_t> server::memory_kib() {
  std::ifstream in("/proc/" + std::to_string(pid()) + "/status");
  int64_t hwm = 0;
  int64_t rss = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0) hwm = std::stoll(line.substr(6));
    if (line.rfind("VmRSS:", 0) == 0) rss = std::stoll(line.substr(6));
  }
  return {hwm, rss};
}

double process_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  // The command name, field 2, may hold spaces: fields are counted after its closing paren.
  auto paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(stat.substr(paren + 1));
  std::string field;
  int64_t utime = 0;
  int64_t stime = 0;
  for (int n = 3; n <= 15 && fields >> field; ++n) {
    if (n == 14) utime = std::stoll(field);
    if (n == 15) stime = std::stoll(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// --- requests ---------------------------------------------------------------------------------

std::vector<std::string> source_headers(const source_credentials& source, const std::string& body) {
  int64_t now = unix_now_s();
  auto signature = sign_source_request(source.secret, now, body);
  if (!signature) throw std::runtime_error("bench: signing a source request failed");
  return {"X-Source-Key: " + source.api_key, "X-Source-Timestamp: " + std::to_string(now),
          "X-Source-Signature: " + signature.value()};
}

std::vector<std::string> webhook_headers(const std::string& secret, const std::string& msg_id,
                                         const std::string& body) {
  int64_t now = unix_now_s();
  auto signature = sign_webhook(secret, msg_id, now, body);
  if (!signature) throw std::runtime_error("bench: signing a delivery failed");
  return {"webhook-id: " + msg_id, "webhook-timestamp: " + std::to_string(now),
          "webhook-signature: " + signature.value()};
}

std::string padded_payload(int64_t seq, std::size_t bytes) {
  std::string head = "{\"n\":" + std::to_string(seq) + ",\"pad\":\"";
  std::string tail = "\"}";
  std::size_t fill = bytes > head.size() + tail.size() ? bytes - head.size() - tail.size() : 0;
  return head + std::string(fill, 'x') + tail;
}

std::string event_json(const std::string& event_id, const std::string& event_type,
                       const std::string& payload) {
  return "{\"event_id\":\"" + event_id + "\",\"client_id\":\"" + bench_client +
         "\",\"event_type\":\"" + event_type + "\",\"timestamp\":" + std::to_string(unix_now_s()) +
         ",\"payload\":" + payload + "}";
}

}  // namespace webhookd::bench
