#include "tests/e2e/engine_support.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

// The failure listener below needs Catch2's reporter interfaces.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>

#include <cctype>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <thread>

namespace webhookd::e2e {

namespace {

// How often wait_until re-checks its condition.
constexpr milliseconds poll_interval{20};

// The engine_world of the test case running now (Catch2 runs one at a time), so the listener
// can tell it that an assertion failed. Test-only state: a listener has no other way in.
engine_world* current_world = nullptr;

// Marks the current world failed when an assertion fails, so it prints the server's output when
// it ends (the output up to the end, not a snapshot from the start of the test).
struct world_failure_listener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  bool assertionEnded(const Catch::AssertionStats& stats) override {
    if (!stats.assertionResult.isOk() && current_world != nullptr) current_world->mark_failed();
    return true;
  }
};

// At most this much of one process's output is printed: the head and the tail.
constexpr std::size_t max_printed_output = 24'000;

std::string shorten(const std::string& text) {
  if (text.size() <= max_printed_output) return text;
  const std::size_t head = 4'000;
  const std::size_t tail = max_printed_output - head;
  return text.substr(0, head) + "\n[... " + std::to_string(text.size() - head - tail) +
         " bytes left out ...]\n" + text.substr(text.size() - tail);
}

std::string hmac_sha256(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac,
           &length) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return std::string(reinterpret_cast<const char*>(mac), length);
}

std::string base64url(const std::string& bytes) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 2 < bytes.size(); i += 3) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (bytes.size() - i == 1) {
    unsigned v = byte(i) << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
  } else if (bytes.size() - i == 2) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
  }
  return out;
}

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string random_hex(std::size_t bytes) {
  std::string buffer(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(buffer.data()), static_cast<int>(bytes)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return hex(buffer);
}

std::string encode_query(const std::string& value) {
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      static const char* digits = "0123456789ABCDEF";
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

http_answer to_answer(const std::string& request, const httplib::Result& res) {
  http_answer answer;
  answer.request = request;
  if (!res) {
    answer.transport = httplib::to_string(res.error());
    return answer;
  }
  answer.status = res->status;
  answer.body = res->body;
  answer.retry_after = res->get_header_value("Retry-After");
  answer.json = nlohmann::json::parse(res->body, nullptr, false);
  if (answer.json.is_discarded()) answer.json = nullptr;
  return answer;
}

std::unique_ptr<httplib::Client> make_client(const std::string& host, uint16_t port,
                                             milliseconds read_timeout) {
  auto client = std::make_unique<httplib::Client>(host, port);
  client->set_tcp_nodelay(true);
  client->set_keep_alive(true);
  client->set_connection_timeout(std::chrono::seconds(5));
  client->set_read_timeout(std::chrono::duration_cast<std::chrono::seconds>(read_timeout));
  client->set_write_timeout(std::chrono::seconds(10));
  return client;
}

}  // namespace

CATCH_REGISTER_LISTENER(world_failure_listener)

// --- waiting ----------------------------------------------------------------------------------

bool wait_until(const std::function<bool()>& condition, milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll_interval);
  }
}

int64_t steady_now_ms() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t unix_now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// --- the sink ---------------------------------------------------------------------------------

const std::string& sink_binary() {
  static const std::string path = WEBHOOKD_SINK_BINARY;
  return path;
}

sink_process::sink_process(std::vector<std::string> extra_args) {
  std::vector<std::string> args{"--listen", "127.0.0.1:0"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<process>(sink_binary(), process_options(args));
  auto line = process_->wait_for_stdout_line("listening on http://", default_startup_timeout);
  std::optional<std::pair<std::string, uint16_t>> address;
  if (line) address = parse_listening_line(*line);
  if (!address) {
    throw std::runtime_error("webhookd-sink did not report its address:\n" + process_->describe());
  }
  port_ = address->second;
}

sink_process::~sink_process() {
  process_->send_signal(SIGTERM);
  process_->wait_exit(milliseconds{5'000});
}

std::string sink_process::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

std::string sink_process::url(const std::string& path) const {
  return base_url() + path;
}

httplib::Client sink_process::client(milliseconds read_timeout) const {
  httplib::Client client("127.0.0.1", port_);
  client.set_tcp_nodelay(true);
  client.set_connection_timeout(std::chrono::seconds(5));
  client.set_read_timeout(std::chrono::duration_cast<std::chrono::seconds>(read_timeout));
  return client;
}

nlohmann::json sink_process::get_json(const std::string& target, milliseconds read_timeout) {
  auto answer = to_answer("GET " + target, client(read_timeout).Get(target.c_str()));
  if ((answer.status != 200 && answer.status != 408) || answer.json.is_null()) {
    throw std::runtime_error("sink: " + answer.describe());
  }
  return answer.json;
}

void sink_process::configure(const nlohmann::json& config) {
  auto answer = to_answer("POST /_sink/config",
                          client().Post("/_sink/config", config.dump(), "application/json"));
  if (answer.status != 200) throw std::runtime_error("sink: " + answer.describe());
}

nlohmann::json sink_process::stats(const std::string& path) {
  return get_json("/_sink/stats?path=" + encode_query(path), milliseconds{30'000});
}

int sink_process::count(const std::string& path) {
  return stats(path).value("count", 0);
}

nlohmann::json sink_process::deliveries(const std::string& path) {
  return get_json("/_sink/deliveries?path=" + encode_query(path), milliseconds{60'000})
      .at("deliveries");
}

bool sink_process::wait_for(const std::string& path, int count, milliseconds timeout) {
  auto target = "/_sink/wait?path=" + encode_query(path) + "&count=" + std::to_string(count) +
                "&timeout_ms=" + std::to_string(timeout.count());
  auto answer = get_json(target, timeout + milliseconds{10'000});
  return answer.value("reached", false);
}

void sink_process::release() {
  auto answer = to_answer("POST /_sink/release", client().Post("/_sink/release", "", "text/plain"));
  if (answer.status != 200) throw std::runtime_error("sink: " + answer.describe());
}

// --- management tokens ------------------------------------------------------------------------

std::string mint_token(const std::string& jwt_secret, const std::string& client_id,
                       const std::string& scope) {
  nlohmann::json header{{"alg", "HS256"}, {"typ", "JWT"}};
  int64_t now = unix_now_s();
  nlohmann::json claims{{"sub", client_id}, {"iat", now}, {"exp", now + 3600}};
  if (!scope.empty()) claims["scope"] = scope;
  std::string signing_input = base64url(header.dump()) + "." + base64url(claims.dump());
  return signing_input + "." + base64url(hmac_sha256(jwt_secret, signing_input));
}

// --- HTTP answers -----------------------------------------------------------------------------

std::string http_answer::describe() const {
  if (status == 0) return request + " -> no answer (" + transport + ")";
  return request + " -> " + std::to_string(status) + " " + body;
}

// --- management API ---------------------------------------------------------------------------

nlohmann::json fast_retry_policy(int max_attempts) {
  return {{"max_attempts", max_attempts}, {"schedule", {0, 0.2, 0.2}}, {"jitter", 0}};
}

api_client::api_client(std::string host, uint16_t port, std::string jwt_secret,
                       std::string client_id)
    : host_(std::move(host)),
      port_(port),
      client_id_(std::move(client_id)),
      client_token_(mint_token(jwt_secret, client_id_)),
      admin_token_(mint_token(jwt_secret, "e2e-admin", "admin")) {}

api_client::api_client(const webhookd_server& server, std::string client_id)
    : api_client(server.host(), server.port(), server.jwt_secret(), std::move(client_id)) {}

http_answer api_client::send(const std::string& method, const std::string& path,
                             const nlohmann::json* body, const std::string& token) {
  auto client = make_client(host_, port_, milliseconds{30'000});
  httplib::Headers headers{{"Authorization", "Bearer " + token}};
  std::string text = body != nullptr ? body->dump() : "";
  std::string request = method + " " + path;
  if (method == "GET") return to_answer(request, client->Get(path.c_str(), headers));
  if (method == "POST") {
    return to_answer(request, client->Post(path.c_str(), headers, text, "application/json"));
  }
  if (method == "PATCH") {
    return to_answer(request, client->Patch(path.c_str(), headers, text, "application/json"));
  }
  throw std::logic_error("api_client: unsupported method " + method);
}

http_answer api_client::get(const std::string& path) {
  return send("GET", path, nullptr, client_token_);
}

http_answer api_client::post(const std::string& path, const nlohmann::json& body) {
  return send("POST", path, &body, client_token_);
}

http_answer api_client::patch(const std::string& path, const nlohmann::json& body) {
  return send("PATCH", path, &body, client_token_);
}

http_answer api_client::admin_post(const std::string& path, const nlohmann::json& body) {
  return send("POST", path, &body, admin_token_);
}

void api_client::ensure_event_types(const std::vector<std::string>& names) {
  for (const auto& name : names) {
    auto answer =
        admin_post("/api/v1/event-types", {{"name", name}, {"description", "e2e type " + name}});
    if (answer.status != 201 && answer.status != 409) {
      throw std::runtime_error("creating event type: " + answer.describe());
    }
  }
}

source_credentials api_client::create_source(const std::string& name,
                                             const std::vector<std::string>& allowed) {
  auto answer = admin_post("/api/v1/sources", {{"name", name}, {"allowed_event_types", allowed}});
  if (answer.status != 201 || !answer.json.is_object()) {
    throw std::runtime_error("creating source: " + answer.describe());
  }
  source_credentials source;
  source.id = answer.json.value("source_id", "");
  source.api_key = answer.json.value("api_key", "");
  source.secret = answer.json.value("secret", "");
  if (source.api_key.empty() || source.secret.empty()) {
    throw std::runtime_error("source answer lacks api_key or secret: " + answer.describe());
  }
  return source;
}

created_webhook api_client::create_webhook(const nlohmann::json& body) {
  auto answer = post("/api/v1/webhooks", body);
  if (answer.status != 201 || !answer.json.is_object()) {
    throw std::runtime_error("creating webhook: " + answer.describe());
  }
  created_webhook hook;
  hook.id = answer.json.value("webhook_id", "");
  hook.signing_secret = answer.json.value("signing_secret", "");
  hook.body = answer.json;
  if (hook.id.empty() || hook.signing_secret.rfind("whsec_", 0) != 0) {
    throw std::runtime_error("webhook answer lacks webhook_id or signing_secret: " +
                             answer.describe());
  }
  return hook;
}

nlohmann::json api_client::get_webhook(const std::string& id) {
  auto answer = get("/api/v1/webhooks/" + id);
  if (answer.status != 200) throw std::runtime_error("reading webhook: " + answer.describe());
  return answer.json;
}

// --- ingestion --------------------------------------------------------------------------------

std::string source_signature(const std::string& secret, const std::string& timestamp,
                             const std::string& body) {
  return "v1=" + hex(hmac_sha256(secret, timestamp + "." + body));
}

nlohmann::json make_event(const std::string& client_id, const std::string& event_id,
                          const std::string& event_type, const nlohmann::json& payload) {
  return {{"event_id", event_id},
          {"client_id", client_id},
          {"event_type", event_type},
          {"timestamp", unix_now_s()},
          {"payload", payload}};
}

event_poster::event_poster(std::string host, uint16_t port, source_credentials source)
    : source_(std::move(source)), client_(make_client(host, port, milliseconds{30'000})) {}

event_poster::event_poster(const webhookd_server& server, source_credentials source)
    : event_poster(server.host(), server.port(), std::move(source)) {}

http_answer event_poster::post_raw(const std::string& path, const std::string& body,
                                   const std::string& api_key, const std::string& timestamp,
                                   const std::string& signature) {
  httplib::Headers headers{{"X-Source-Key", api_key},
                           {"X-Source-Timestamp", timestamp},
                           {"X-Source-Signature", signature}};
  return to_answer("POST " + path, client_->Post(path.c_str(), headers, body, "application/json"));
}

http_answer event_poster::post_signed(const std::string& path, const std::string& body) {
  std::string timestamp = std::to_string(unix_now_s());
  return post_raw(path, body, source_.api_key, timestamp,
                  source_signature(source_.secret, timestamp, body));
}

http_answer event_poster::post_event(const nlohmann::json& event) {
  return post_signed("/api/v1/events", event.dump());
}

http_answer event_poster::post_batch(const nlohmann::json& events) {
  return post_signed("/api/v1/events/batch", events.dump());
}

void event_poster::accept_event(const nlohmann::json& event) {
  auto answer = post_event(event);
  if (answer.status != 202) throw std::runtime_error("posting event: " + answer.describe());
}

// --- store ------------------------------------------------------------------------------------

std::unique_ptr<storage::blocking_store> open_test_store(const std::string& url) {
  storage::store_settings settings;
  settings.url = url;
  settings.pool_size = 2;
  auto opened = storage::open_store_blocking(settings);
  if (!opened.ok()) {
    throw std::runtime_error("opening the store " + url + " failed: " + opened.err().message);
  }
  return std::move(opened.value());
}

std::vector<storage::delivery> event_deliveries(storage::blocking_store& store,
                                                const std::string& client_id,
                                                const std::string& event_id) {
  auto found = store.list_event_deliveries(client_id, event_id);
  if (!found.ok() && found.err().code == storage::errc::not_found) return {};
  if (!found.ok()) {
    throw std::runtime_error("list_event_deliveries(" + event_id + "): " + found.err().message);
  }
  return found.value();
}

std::optional<storage::delivery> wait_delivery_settled(storage::blocking_store& store,
                                                       const std::string& client_id,
                                                       const std::string& event_id,
                                                       const std::string& webhook_id,
                                                       milliseconds timeout) {
  std::optional<storage::delivery> settled;
  wait_until(
      [&] {
        for (const auto& d : event_deliveries(store, client_id, event_id)) {
          if (d.webhook_id == webhook_id && d.status != storage::delivery_status::pending) {
            settled = d;
            return true;
          }
        }
        return false;
      },
      timeout);
  return settled;
}

std::vector<storage::dlq_entry> dlq_entries(storage::blocking_store& store,
                                            const std::string& client_id,
                                            const std::string& webhook_id) {
  storage::dlq_filter filter;
  filter.webhook_id = webhook_id;
  storage::page_request request;
  request.limit = 1000;
  auto found = store.list_dlq(client_id, filter, request);
  if (!found.ok()) throw std::runtime_error("list_dlq: " + found.err().message);
  return found.value().items;
}

std::vector<storage::attempt> delivery_attempts(storage::blocking_store& store,
                                                const std::string& client_id,
                                                const std::string& delivery_id) {
  auto found = store.list_attempts(client_id, delivery_id);
  if (!found.ok()) throw std::runtime_error("list_attempts: " + found.err().message);
  return found.value();
}

// --- a whole test setting ---------------------------------------------------------------------

engine_world::engine_world(world_options options)
    : options_(std::move(options)), uncaught_at_start_(std::uncaught_exceptions()) {
  store_url_ =
      options_.store_url.empty() ? "sqlite:" + dir_.file("webhookd.db") : options_.store_url;
  jwt_secret_ = "e2e-engine-" + random_hex(16);
  sink_ = std::make_unique<sink_process>(options_.sink_args);
  start_server();
  api_ = std::make_unique<api_client>(*server_, options_.client_id);
  api_->ensure_event_types(options_.event_types);
  source_ = api_->create_source("e2e-source-" + random_hex(4), options_.event_types);
  previous_ = current_world;
  current_world = this;
}

engine_world::~engine_world() {
  current_world = previous_;
  if (failed_ || std::uncaught_exceptions() > uncaught_at_start_) {
    std::cerr << "==== webhookd output (the test failed) ====\n"
              << previous_runs_ << shorten(server_->proc().describe()) << "==== end ====\n";
  }
}

void engine_world::start_server() {
  std::vector<std::string> args{"--store", store_url_, "--allow-http", "--allow-private-targets",
                                "127.0.0.0/8"};
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  server_ = std::make_unique<webhookd_server>(
      process_options(args, {{"WEBHOOKD_JWT_SECRET", jwt_secret_}}));
}

event_poster engine_world::poster() {
  return event_poster(*server_, source_);
}

storage::blocking_store& engine_world::store() {
  if (!store_) store_ = open_test_store(store_url_);
  return *store_;
}

created_webhook engine_world::add_webhook(const std::string& path,
                                          const std::vector<std::string>& types,
                                          const nlohmann::json& extra,
                                          const nlohmann::json& sink_config) {
  nlohmann::json body{{"callback_url", sink_->url(path)}, {"event_types", types}};
  for (const auto& [key, value] : extra.items()) body[key] = value;
  auto hook = api_->create_webhook(body);
  nlohmann::json config{{"path", path}, {"secrets", {hook.signing_secret}}};
  for (const auto& [key, value] : sink_config.items()) config[key] = value;
  sink_->configure(config);
  return hook;
}

void engine_world::kill_server() {
  server_->proc().send_signal(SIGKILL);
  if (!server_->proc().wait_exit(milliseconds{10'000})) {
    throw std::runtime_error("webhookd survived SIGKILL:\n" + server_->proc().describe());
  }
}

exit_status engine_world::stop_server() {
  return server_->stop(SIGTERM);
}

void engine_world::restart_server() {
  if (server_->proc().running()) server_->stop();
  previous_runs_ += "---- earlier run ----\n" + shorten(server_->proc().describe());
  start_server();
  *api_ = api_client(*server_, options_.client_id);
}

std::string engine_world::describe_server() {
  return server_->proc().describe();
}

}  // namespace webhookd::e2e
