#include "sink_server.hpp"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <string_view>

namespace webhookd::sink {
namespace {

using json = nlohmann::json;

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  // Recorded bodies may hold invalid UTF-8: replace it rather than throw.
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, int status, std::string_view code,
                std::string_view message) {
  send_json(res, status, json{{"error", {{"code", code}, {"message", message}}}});
}

/// Parses an unsigned query parameter; `fallback` when absent, nullopt when malformed.
std::optional<std::uint64_t> uint_param(const httplib::Request& req, const char* name,
                                        std::uint64_t fallback) {
  if (!req.has_param(name)) return fallback;
  const std::string text = req.get_param_value(name);
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

/// Request headers not worth recording: transport details and httplib's pseudo-headers.
bool is_transport_header(std::string_view lower_name) {
  static constexpr std::string_view skipped[] = {
      "host",       "content-length",    "connection", "accept",      "accept-encoding",
      "keep-alive", "transfer-encoding", "expect",     "remote_addr", "remote_port",
      "local_addr", "local_port"};
  return std::find(std::begin(skipped), std::end(skipped), lower_name) != std::end(skipped);
}

bool is_sink_path(const std::string& path) {
  return path.rfind("/_sink", 0) == 0 && (path.size() == 6 || path[6] == '/');
}

}  // namespace

sink_server::sink_server(server_settings settings)
    : settings_(std::move(settings)),
      started_(std::chrono::steady_clock::now()),
      state_(settings_.keys, settings_.keep),
      server_(std::make_unique<httplib::Server>()) {
  auto& srv = *server_;
  srv.set_tcp_nodelay(true);
  srv.set_keep_alive_max_count(settings_.keep_alive_max);
  srv.set_keep_alive_timeout(settings_.keep_alive_timeout_s);
  srv.set_read_timeout(settings_.read_timeout_s, 0);
  const std::size_t threads = std::max<std::size_t>(1, settings_.threads);
  srv.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  srv.set_socket_options([this](socket_t fd) {
    // SO_REUSEADDR only: httplib's default SO_REUSEPORT would let two sinks share a fixed port.
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    listen_fd_ = fd;
  });
  srv.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string message = "unknown exception";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          message = e.what();
        } catch (...) {
        }
        send_error(res, 500, "internal", message);
      });

  srv.Get("/_sink/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok", "text/plain");
  });
  srv.Get("/_sink/stats", [this](const httplib::Request& req, httplib::Response& res) {
    if (req.has_param("path")) {
      send_json(res, 200, state_.path_stats(req.get_param_value("path")));
    } else {
      send_json(res, 200, state_.stats());
    }
  });
  srv.Get("/_sink/deliveries",
          [this](const httplib::Request& req, httplib::Response& res) { on_deliveries(req, res); });
  srv.Get("/_sink/config", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, state_.configs());
  });
  srv.Post("/_sink/config",
           [this](const httplib::Request& req, httplib::Response& res) { on_config(req, res); });
  srv.Post("/_sink/reset", [this](const httplib::Request&, httplib::Response& res) {
    state_.reset();
    release_all();
    send_json(res, 200, json{{"ok", true}});
  });
  srv.Post("/_sink/release", [this](const httplib::Request&, httplib::Response& res) {
    release_all();
    send_json(res, 200, json{{"ok", true}});
  });
  srv.Get("/_sink/wait",
          [this](const httplib::Request& req, httplib::Response& res) { on_wait(req, res); });
  srv.Post(".*",
           [this](const httplib::Request& req, httplib::Response& res) { on_delivery(req, res); });
}

sink_server::~sink_server() {
  stop();
}

std::variant<int, std::string> sink_server::bind() {
  int port = -1;
  if (settings_.port == 0) {
    port = server_->bind_to_any_port(settings_.host);
  } else if (server_->bind_to_port(settings_.host, settings_.port)) {
    port = settings_.port;
  }
  if (port <= 0) {
    return "cannot listen on " + settings_.host + ":" + std::to_string(settings_.port);
  }
  // httplib listens with a backlog of 5; hundreds of clients connecting at once need more.
  // listen() on a listening socket only updates its backlog.
  if (listen_fd_ >= 0) ::listen(listen_fd_, SOMAXCONN);
  return port;
}

bool sink_server::serve_blocking() {
  serving_ = true;
  bool ok = true;
  if (!stop_requested_) ok = server_->listen_after_bind();
  {
    std::lock_guard lock(done_mutex_);
    done_ = true;
  }
  done_cv_.notify_all();
  return ok;
}

void sink_server::stop() {
  stop_requested_ = true;
  {
    std::lock_guard lock(wake_mutex_);
    stopping_ = true;
  }
  wake_cv_.notify_all();
  if (!serving_) return;  // serve_blocking() will see stop_requested_
  std::unique_lock lock(done_mutex_);
  // serve_blocking() may not have entered httplib's accept loop yet; httplib::Server::stop()
  // does nothing before that, so wait for it.
  while (!done_ && !server_->is_running()) done_cv_.wait_for(lock, std::chrono::milliseconds(2));
  if (done_ || httplib_stopped_.exchange(true)) return;
  lock.unlock();
  server_->stop();
}

void sink_server::release_all() {
  {
    std::lock_guard lock(wake_mutex_);
    ++release_generation_;
  }
  wake_cv_.notify_all();
}

void sink_server::hold_until(std::chrono::steady_clock::time_point deadline, bool releasable) {
  std::unique_lock lock(wake_mutex_);
  const std::uint64_t generation = release_generation_;
  wake_cv_.wait_until(lock, deadline, [&] {
    return stopping_ || (releasable && release_generation_ != generation);
  });
}

void sink_server::on_delivery(const httplib::Request& req, httplib::Response& res) {
  if (is_sink_path(req.path)) {
    send_error(res, 404, "not_found", "no such sink control endpoint");
    return;
  }
  const auto arrived = std::chrono::steady_clock::now();
  delivery_input input;
  input.received_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  input.received_steady_ms = std::chrono::duration<double, std::milli>(arrived - started_).count();
  input.path = req.path;
  input.webhook_id = req.get_header_value("webhook-id");
  input.timestamp = req.get_header_value("webhook-timestamp");
  input.signature = req.get_header_value("webhook-signature");
  input.body = req.body;
  input.headers.reserve(req.headers.size());
  for (const auto& [name, value] : req.headers) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!is_transport_header(lower)) input.headers.emplace_back(std::move(lower), value);
  }

  const delivery_plan plan = state_.record(std::move(input));
  if (waiters_.load() > 0) {
    std::lock_guard lock(wake_mutex_);
    wake_cv_.notify_all();
  }

  if (plan.delay_ms > 0) hold_until(arrived + std::chrono::milliseconds(plan.delay_ms), false);
  if (plan.step.hang) {
    hold_until(arrived + std::chrono::milliseconds(plan.delay_ms + plan.hang_ms), true);
    // Usually nobody is left to read this: the client gave up long ago.
    res.status = 504;
    res.set_content("sink: hang released", "text/plain");
    return;
  }
  res.status = plan.step.status;
  const int status = plan.step.status;
  if (!plan.retry_after.empty() && (status == 429 || status == 503)) {
    res.set_header("Retry-After", plan.retry_after);
  }
  if (!plan.location.empty() && status >= 300 && status < 400) {
    res.set_header("Location", plan.location);
  }
  if (plan.step.status >= 200 && plan.step.status < 300) {
    res.set_content("ok", "text/plain");
  } else {
    res.set_content("sink: " + std::to_string(plan.step.status), "text/plain");
  }
}

void sink_server::on_config(const httplib::Request& req, httplib::Response& res) {
  const json doc = json::parse(req.body, nullptr, false);
  if (doc.is_discarded()) {
    send_error(res, 400, "bad_json", "the body is not JSON");
    return;
  }
  std::vector<config_update> updates;
  const auto add = [&](const json& one) -> bool {
    auto parsed = parse_config(one);
    if (auto* error = std::get_if<config_error>(&parsed)) {
      send_error(res, 400, "bad_config", error->message);
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
  send_json(res, 200, json{{"ok", true}, {"configured", std::move(paths)}});
}

void sink_server::on_wait(const httplib::Request& req, httplib::Response& res) {
  const std::string path = req.has_param("path") ? req.get_param_value("path") : std::string{};
  const auto want = uint_param(req, "count", 1);
  const auto timeout_ms = uint_param(req, "timeout_ms", 10000);
  if (!want || !timeout_ms || *timeout_ms > 600000) {
    send_error(res, 400, "bad_param", "count and timeout_ms (<= 600000) must be unsigned integers");
    return;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(*timeout_ms);
  ++waiters_;  // before the first check, so no delivery's wake-up can be missed
  {
    std::unique_lock lock(wake_mutex_);
    wake_cv_.wait_until(lock, deadline, [&] { return stopping_ || state_.count(path) >= *want; });
  }
  --waiters_;
  const std::uint64_t count = state_.count(path);
  const bool reached = count >= *want;
  send_json(res, reached ? 200 : 408,
            json{{"reached", reached},
                 {"count", count},
                 {"stats", path.empty() ? state_.stats() : state_.path_stats(path)}});
}

void sink_server::on_deliveries(const httplib::Request& req, httplib::Response& res) {
  const auto limit = uint_param(req, "limit", 0);
  const auto after = uint_param(req, "after", 0);
  if (!limit || !after) {
    send_error(res, 400, "bad_param", "limit and after must be unsigned integers");
    return;
  }
  const auto param = [&](const char* name) {
    return req.has_param(name) ? req.get_param_value(name) : std::string{};
  };
  json deliveries = state_.deliveries(param("path"), param("id"), param("event_id"),
                                      static_cast<std::size_t>(*limit), *after);
  const std::size_t n = deliveries.size();
  send_json(res, 200, json{{"count", n}, {"deliveries", std::move(deliveries)}});
}

}  // namespace webhookd::sink
