#include "sink_server.hpp"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <event2/util.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>

namespace webhookd::sink {
namespace {

using json = nlohmann::json;

/// How long a stopping loop keeps running so the answers to its held requests reach the wire.
constexpr timeval stop_grace{0, 50000};

/// One answer, built before it is sent (a delayed answer waits as one of these).
struct reply {
  int status = 200;
  std::string content_type = "text/plain";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

reply json_reply(int status, const json& body) {
  // Recorded bodies may hold invalid UTF-8: replace it rather than throw.
  return {
      status, "application/json", body.dump(-1, ' ', false, json::error_handler_t::replace), {}};
}

reply error_reply(int status, std::string_view code, std::string_view message) {
  return json_reply(status, json{{"error", {{"code", code}, {"message", message}}}});
}

std::string body_of(evhttp_request* req) {
  evbuffer* in = evhttp_request_get_input_buffer(req);
  std::string body(evbuffer_get_length(in), '\0');
  if (!body.empty()) evbuffer_copyout(in, body.data(), body.size());
  return body;
}

/// The request's path, percent-decoded; empty if it has none or it does not decode.
std::string path_of(evhttp_request* req) {
  const char* raw = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
  if (raw == nullptr || *raw == '\0') return "/";
  std::size_t size = 0;
  char* decoded = evhttp_uridecode(raw, 0, &size);
  if (decoded == nullptr) return {};
  std::string path(decoded, size);
  std::free(decoded);
  return path;
}

std::string header_or_empty(evkeyvalq* headers, const char* name) {
  const char* value = evhttp_find_header(headers, name);
  return value == nullptr ? std::string{} : std::string(value);
}

/// Request headers not worth recording: transport details.
bool is_transport_header(std::string_view lower_name) {
  static constexpr std::string_view skipped[] = {
      "host",       "content-length",    "connection", "accept", "accept-encoding",
      "keep-alive", "transfer-encoding", "expect"};
  return std::find(std::begin(skipped), std::end(skipped), lower_name) != std::end(skipped);
}

/// /_sink/wait's answer: 200 once `path` (empty: all paths) counts `want`, 408 before.
reply wait_reply(const sink_state& state, const std::string& path, std::uint64_t want) {
  const std::uint64_t count = state.count(path);
  const bool reached = count >= want;
  return json_reply(reached ? 200 : 408,
                    json{{"reached", reached},
                         {"count", count},
                         {"stats", path.empty() ? state.stats() : state.path_stats(path)}});
}

bool is_sink_path(const std::string& path) {
  return path.rfind("/_sink", 0) == 0 && (path.size() == 6 || path[6] == '/');
}

/// A listening socket on host:port (port 0: any free one), or an error message.
std::variant<int, std::string> listen_on(const std::string& host, int port) {
  const std::string where = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
      rc != 0) {
    return "cannot resolve " + where + ": " + ::gai_strerror(rc);
  }
  std::string error = "cannot listen on " + where;
  int fd = -1;
  for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    // SO_REUSEADDR only (not SO_REUSEPORT): two sinks must not share a fixed port.
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
      error += std::string(": ") + evutil_socket_error_to_string(evutil_socket_geterror(fd));
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) return error;
  return fd;
}

int bound_port(int fd) {
  sockaddr_storage address{};
  socklen_t size = sizeof(address);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) return -1;
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
}

}  // namespace

/// The query string of a request, parsed and decoded.
class sink_server::query_params {
 public:
  explicit query_params(evhttp_request* req) {
    params_.tqh_first = nullptr;  // TAILQ_INIT
    params_.tqh_last = &params_.tqh_first;
    const char* query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    if (query != nullptr) valid_ = evhttp_parse_query_str(query, &params_) == 0;
  }
  ~query_params() { evhttp_clear_headers(&params_); }
  query_params(const query_params&) = delete;
  query_params& operator=(const query_params&) = delete;

  bool valid() const { return valid_; }
  bool has(const char* name) const { return evhttp_find_header(&params_, name) != nullptr; }
  std::string get(const char* name) const {
    const char* value = evhttp_find_header(&params_, name);
    return value == nullptr ? std::string{} : std::string(value);
  }
  /// An unsigned parameter; `fallback` when absent, nullopt when malformed.
  std::optional<std::uint64_t> get_uint(const char* name, std::uint64_t fallback) const {
    const char* value = evhttp_find_header(&params_, name);
    if (value == nullptr) return fallback;
    const std::string_view text(value);
    std::uint64_t parsed = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
    if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
    return parsed;
  }

 private:
  mutable evkeyvalq params_;
  bool valid_ = true;
};

/// A request answered later: after a delay, a hang, or once /_sink/wait's count is reached.
struct sink_server::held {
  enum class kind { answer, hang, wait };

  ~held() {
    if (timer != nullptr) event_free(timer);
  }

  kind what = kind::answer;
  evhttp_request* req = nullptr;
  event* timer = nullptr;
  loop* owner = nullptr;
  reply planned;                         // answer: sent when the delay is over
  std::uint64_t release_generation = 0;  // hang: let go once the server's generation differs
  std::string path;                      // wait: the path counted (empty = all)
  std::uint64_t want = 0;                // wait: the count waited for
};

/// One event-loop thread: its event base, its HTTP server on the shared listening socket, and
/// the requests it holds. Only its own thread touches it, except `wake` (event_active is
/// thread-safe once libevent's pthread locking is on).
struct sink_server::loop {
  ~loop() {
    holds.clear();  // their timers belong to `base`
    if (http != nullptr) evhttp_free(http);
    if (wake != nullptr) event_free(wake);
    if (scratch != nullptr) evbuffer_free(scratch);
    if (base != nullptr) event_base_free(base);
  }

  sink_server* server = nullptr;
  event_base* base = nullptr;
  evhttp* http = nullptr;
  event* wake = nullptr;
  evbuffer* scratch = nullptr;  // the body of the answer being sent
  std::unordered_map<held*, std::unique_ptr<held>> holds;
};

namespace {

void send_reply(evbuffer* scratch, evhttp_request* req, const reply& answer) {
  evkeyvalq* out = evhttp_request_get_output_headers(req);
  evhttp_add_header(out, "Content-Type", answer.content_type.c_str());
  for (const auto& [name, value] : answer.headers) {
    evhttp_add_header(out, name.c_str(), value.c_str());
  }
  evbuffer_add(scratch, answer.body.data(), answer.body.size());
  // A null reason: libevent uses the standard phrase of the status. A request whose client has
  // gone is freed here.
  evhttp_send_reply(req, answer.status, nullptr, scratch);
  evbuffer_drain(scratch, evbuffer_get_length(scratch));
}

}  // namespace

sink_server::sink_server(server_settings settings)
    : settings_(std::move(settings)),
      started_(std::chrono::steady_clock::now()),
      state_(settings_.keys, settings_.keep) {
  static const int locking = evthread_use_pthreads();  // once, before any event base exists
  (void)locking;
}

sink_server::~sink_server() {
  stop();
  std::lock_guard lock(loops_mutex_);
  loops_.clear();
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

std::variant<int, std::string> sink_server::bind() {
  auto listening = listen_on(settings_.host, settings_.port);
  if (auto* error = std::get_if<std::string>(&listening)) return *error;
  listen_fd_ = std::get<int>(listening);
  const int port = bound_port(listen_fd_);

  std::lock_guard lock(loops_mutex_);
  const std::size_t count = std::max<std::size_t>(1, settings_.threads);
  for (std::size_t i = 0; i < count; ++i) {
    auto l = std::make_unique<loop>();
    l->server = this;
    l->base = event_base_new();
    l->http = l->base != nullptr ? evhttp_new(l->base) : nullptr;
    // Each loop accepts on its own duplicate of the socket: evhttp closes it when freed.
    const int fd = ::fcntl(listen_fd_, F_DUPFD_CLOEXEC, 0);
    if (l->http == nullptr || fd < 0 || evhttp_accept_socket(l->http, fd) != 0) {
      if (fd >= 0) ::close(fd);
      loops_.clear();
      return "cannot start the sink's event loops";
    }
    evhttp_set_timeout(l->http, settings_.timeout_s);
    evhttp_set_max_body_size(l->http, static_cast<ev_ssize_t>(settings_.max_body));
    evhttp_set_allowed_methods(l->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
                                            EVHTTP_REQ_OPTIONS);
    evhttp_set_gencb(l->http, &sink_server::on_request, l.get());
    l->wake = event_new(l->base, -1, 0, &sink_server::on_wake, l.get());
    l->scratch = evbuffer_new();
    loops_.push_back(std::move(l));
  }
  // A stop() before bind() must still end the loops.
  if (stopping_) wake_all();
  return port;
}

bool sink_server::serve_blocking() {
  std::vector<loop*> loops;
  {
    std::lock_guard lock(loops_mutex_);
    for (const auto& l : loops_) loops.push_back(l.get());
  }
  if (loops.empty()) return false;
  std::vector<std::thread> threads;
  std::atomic<bool> failed{false};
  for (std::size_t i = 1; i < loops.size(); ++i) {
    threads.emplace_back([&failed, base = loops[i]->base] {
      if (event_base_dispatch(base) < 0) failed = true;
    });
  }
  if (event_base_dispatch(loops[0]->base) < 0) failed = true;
  for (auto& t : threads) t.join();
  std::lock_guard lock(loops_mutex_);
  loops_.clear();  // closes every connection left
  return !failed;
}

void sink_server::stop() {
  stopping_ = true;
  wake_all();
}

void sink_server::wake_all() {
  std::lock_guard lock(loops_mutex_);
  for (const auto& l : loops_) event_active(l->wake, EV_READ, 0);
}

void sink_server::on_request(evhttp_request* req, void* loop_arg) {
  auto& where = *static_cast<loop*>(loop_arg);
  try {
    where.server->route(where, req);
  } catch (const std::exception& e) {
    send_reply(where.scratch, req, error_reply(500, "internal", e.what()));
  }
}

void sink_server::on_wake(int, short, void* loop_arg) {
  auto& where = *static_cast<loop*>(loop_arg);
  sink_server& self = *where.server;
  const bool stopping = self.stopping_;
  const std::uint64_t generation = self.release_generation_;
  std::vector<held*> ended;
  for (const auto& [key, h] : where.holds) {
    if (stopping || (h->what == held::kind::hang && h->release_generation != generation) ||
        (h->what == held::kind::wait && self.state_.count(h->path) >= h->want)) {
      ended.push_back(key);
    }
  }
  for (held* h : ended) self.finish(*h);
  if (stopping) event_base_loopexit(where.base, &stop_grace);
}

void sink_server::on_held_timeout(int, short, void* held_arg) {
  auto& h = *static_cast<held*>(held_arg);
  h.owner->server->finish(h);
}

void sink_server::hold(loop& where, std::unique_ptr<held> h, int after_ms) {
  h->owner = &where;
  held& kept = *h;
  where.holds.emplace(h.get(), std::move(h));
  if (stopping_) {
    finish(kept);
    return;
  }
  kept.timer = evtimer_new(where.base, &sink_server::on_held_timeout, &kept);
  const timeval after{after_ms / 1000, (after_ms % 1000) * 1000};
  evtimer_add(kept.timer, &after);
}

void sink_server::finish(held& h) {
  switch (h.what) {
    case held::kind::answer:
      send_reply(h.owner->scratch, h.req, h.planned);
      break;
    case held::kind::hang:
      // Usually nobody is left to read this: the client gave up long ago.
      send_reply(h.owner->scratch, h.req, {504, "text/plain", "sink: hang released", {}});
      break;
    case held::kind::wait:
      --waiters_;
      send_reply(h.owner->scratch, h.req, wait_reply(state_, h.path, h.want));
      break;
  }
  h.owner->holds.erase(&h);  // destroys h and its timer
}

void sink_server::route(loop& where, evhttp_request* req) {
  const evhttp_cmd_type method = evhttp_request_get_command(req);
  std::string path = path_of(req);
  if (path.empty()) {
    send_reply(where.scratch, req, error_reply(400, "bad_path", "the path does not decode"));
    return;
  }
  if (!is_sink_path(path)) {
    if (method == EVHTTP_REQ_POST) {
      on_delivery(where, req, std::move(path));
    } else {
      send_reply(where.scratch, req,
                 error_reply(404, "not_found", "deliveries are POSTs; the control API is /_sink/"));
    }
    return;
  }
  const query_params params(req);
  if (!params.valid()) {
    send_reply(where.scratch, req, error_reply(400, "bad_param", "malformed query string"));
    return;
  }
  const bool get = method == EVHTTP_REQ_GET;
  const bool post = method == EVHTTP_REQ_POST;
  if (get && path == "/_sink/healthz") {
    send_reply(where.scratch, req, {200, "text/plain", "ok", {}});
  } else if (get && path == "/_sink/stats") {
    send_reply(where.scratch, req,
               json_reply(200, params.has("path") ? state_.path_stats(params.get("path"))
                                                  : state_.stats()));
  } else if (get && path == "/_sink/deliveries") {
    on_deliveries(where, req, params);
  } else if (get && path == "/_sink/config") {
    send_reply(where.scratch, req, json_reply(200, state_.configs()));
  } else if (post && path == "/_sink/config") {
    on_config(where, req);
  } else if (post && (path == "/_sink/reset" || path == "/_sink/release")) {
    if (path == "/_sink/reset") state_.reset();
    ++release_generation_;
    wake_all();
    send_reply(where.scratch, req, json_reply(200, json{{"ok", true}}));
  } else if (get && path == "/_sink/wait") {
    on_wait(where, req, params);
  } else {
    send_reply(where.scratch, req,
               error_reply(404, "not_found", "no such sink control endpoint (or wrong method)"));
  }
}

void sink_server::on_delivery(loop& where, evhttp_request* req, std::string path) {
  delivery_input input;
  input.received_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  input.received_steady_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_)
          .count();
  input.path = std::move(path);
  evkeyvalq* headers = evhttp_request_get_input_headers(req);
  input.webhook_id = header_or_empty(headers, "webhook-id");
  input.timestamp = header_or_empty(headers, "webhook-timestamp");
  input.signature = header_or_empty(headers, "webhook-signature");
  input.body = body_of(req);
  for (const evkeyval* h = headers->tqh_first; h != nullptr; h = h->next.tqe_next) {
    std::string lower = h->key;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!is_transport_header(lower)) input.headers.emplace_back(std::move(lower), h->value);
  }

  const delivery_plan plan = state_.record(std::move(input));
  if (waiters_.load() > 0) wake_all();

  if (plan.step.hang) {
    auto hang = std::make_unique<held>();
    hang->what = held::kind::hang;
    hang->req = req;
    hang->release_generation = release_generation_;
    hold(where, std::move(hang), plan.delay_ms + plan.hang_ms);
    return;
  }
  reply answer;
  const int status = plan.step.status;
  answer.status = status;
  if (!plan.retry_after.empty() && (status == 429 || status == 503)) {
    answer.headers.emplace_back("Retry-After", plan.retry_after);
  }
  if (!plan.location.empty() && status >= 300 && status < 400) {
    answer.headers.emplace_back("Location", plan.location);
  }
  answer.body = status >= 200 && status < 300 ? "ok" : "sink: " + std::to_string(status);
  if (plan.delay_ms > 0) {
    auto later = std::make_unique<held>();
    later->req = req;
    later->planned = std::move(answer);
    hold(where, std::move(later), plan.delay_ms);
  } else {
    send_reply(where.scratch, req, answer);
  }
}

void sink_server::on_config(loop& where, evhttp_request* req) {
  const auto answer = [&](const reply& r) { send_reply(where.scratch, req, r); };
  const json doc = json::parse(body_of(req), nullptr, false);
  if (doc.is_discarded()) {
    answer(error_reply(400, "bad_json", "the body is not JSON"));
    return;
  }
  std::vector<config_update> updates;
  const auto add = [&](const json& one) -> bool {
    auto parsed = parse_config(one);
    if (auto* error = std::get_if<config_error>(&parsed)) {
      answer(error_reply(400, "bad_config", error->message));
      return false;
    }
    updates.push_back(std::get<config_update>(std::move(parsed)));
    return true;
  };
  if (doc.is_array()) {
    for (const auto& one : doc) {
      if (!add(one)) return;
    }
  } else if (!add(doc)) {
    return;
  }
  json paths = json::array();
  for (const auto& update : updates) {
    state_.configure(update);
    paths.push_back(update.path);
  }
  answer(json_reply(200, json{{"ok", true}, {"configured", std::move(paths)}}));
}

void sink_server::on_wait(loop& where, evhttp_request* req, const query_params& params) {
  const auto want = params.get_uint("count", 1);
  const auto timeout_ms = params.get_uint("timeout_ms", 10000);
  if (!want || !timeout_ms || *timeout_ms > 600000) {
    send_reply(where.scratch, req,
               error_reply(400, "bad_param",
                           "count and timeout_ms (<= 600000) must be unsigned integers"));
    return;
  }
  auto waiting = std::make_unique<held>();
  waiting->what = held::kind::wait;
  waiting->req = req;
  waiting->path = params.get("path");
  waiting->want = *want;
  // Counted before the first check, so no delivery's wake-up can be missed.
  ++waiters_;
  if (state_.count(waiting->path) >= *want) {
    --waiters_;
    send_reply(where.scratch, req, wait_reply(state_, waiting->path, *want));
    return;
  }
  hold(where, std::move(waiting), static_cast<int>(*timeout_ms));
}

void sink_server::on_deliveries(loop& where, evhttp_request* req, const query_params& params) {
  evbuffer* scratch = where.scratch;
  const auto limit = params.get_uint("limit", 0);
  const auto after = params.get_uint("after", 0);
  if (!limit || !after) {
    send_reply(scratch, req,
               error_reply(400, "bad_param", "limit and after must be unsigned integers"));
    return;
  }
  json deliveries = state_.deliveries(params.get("path"), params.get("id"), params.get("event_id"),
                                      static_cast<std::size_t>(*limit), *after);
  const std::size_t n = deliveries.size();
  send_reply(scratch, req,
             json_reply(200, json{{"count", n}, {"deliveries", std::move(deliveries)}}));
}

}  // namespace webhookd::sink
