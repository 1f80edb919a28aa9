#include "http/server.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <utility>

#include "http/response.hpp"

namespace webhookd::http {

namespace {

// httplib's default also sets SO_REUSEPORT, which lets a second process bind a port that is in
// use and silently share its traffic. SO_REUSEADDR alone allows quick restarts and still makes
// a taken port an error.
void reuse_address_only(socket_t sock) {
  int yes = 1;
  ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
}

std::string endpoint_text(const std::string& host, uint16_t port) {
  bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

server::server(http_settings settings, readiness_check check, std::shared_ptr<spdlog::logger> log)
    : settings_(std::move(settings)), readiness_(std::move(check)), log_(std::move(log)) {
  server_.set_tcp_nodelay(true);
  server_.set_socket_options([this](socket_t sock) {
    reuse_address_only(sock);
    listen_socket_ = sock;  // httplib calls this for its listening socket only
  });
  server_.set_keep_alive_timeout(static_cast<time_t>(settings_.keep_alive_timeout.count()));
  server_.set_keep_alive_max_count(settings_.keep_alive_max_requests);
  server_.set_read_timeout(settings_.read_timeout);
  server_.set_write_timeout(settings_.write_timeout);
  server_.set_payload_max_length(settings_.max_payload_bytes);
  install_default_routes();
  install_error_handlers();
}

server::~server() { stop(); }

void server::install_default_routes() {
  server_.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    write_json(res, 200, {{"status", "ok"}});
  });
  server_.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    readiness state = readiness_();
    if (state.ready) {
      write_json(res, 200, {{"status", "ready"}});
    } else {
      // The API's error shape, plus the names of what failed.
      write_json(res, 503,
                 {{"error",
                   {{"code", "not_ready"},
                    {"message", state.reason.empty() ? "not ready" : state.reason}}},
                  {"not_answering", state.not_answering}});
    }
  });
}

void server::install_error_handlers() {
  // Called for every response with status >= 400. Handlers that wrote their own error body keep
  // it; bare statuses from httplib (unknown route, body too large, bad request line) get the
  // API's JSON error shape.
  httplib::Server::HandlerWithResponse on_error = [this](const httplib::Request& req,
                                                        httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string message;
    switch (res.status) {
      case 404: message = "no route for " + req.method + " " + req.path; break;
      case 413:
        message = "request body exceeds " + std::to_string(settings_.max_payload_bytes) + " bytes";
        break;
      default: message = "HTTP status " + std::to_string(res.status); break;
    }
    write_error(res, res.status, error_code_for_status(res.status), message);
    return httplib::Server::HandlerResponse::Handled;
  };
  server_.set_error_handler(std::move(on_error));
  server_.set_exception_handler(
      [this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        if (log_) log_->error("handler for {} {} threw: {}", req.method, req.path, what);
        write_error(res, 500, "internal", "internal error");
      });
  server_.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    if (log_) log_->debug("{} {} -> {}", req.method, req.path, res.status);
  });
}

start_result server::start() {
  const std::string where = endpoint_text(settings_.host, settings_.port);
  int bound = -1;
  errno = 0;
  if (settings_.port == 0) {
    bound = server_.bind_to_any_port(settings_.host);
  } else if (server_.bind_to_port(settings_.host, settings_.port)) {
    bound = settings_.port;
  }
  if (bound <= 0) {
    std::string reason = errno != 0 ? std::strerror(errno) : "address not available";
    return {false, 0, "cannot listen on " + where + ": " + reason};
  }
  port_ = static_cast<uint16_t>(bound);
  // Listening again on a listening socket only changes its backlog (Linux).
  if (listen_socket_ >= 0 && ::listen(listen_socket_, settings_.listen_backlog) != 0 && log_) {
    log_->warn("cannot raise the listen backlog to {}: {}", settings_.listen_backlog,
               std::strerror(errno));
  }

  // httplib calls new_task_queue once its accept loop is running; from then on its stop() works.
  const auto threads = static_cast<std::size_t>(settings_.threads);
  server_.new_task_queue = [this, threads] {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      loop_started_ = true;
    }
    changed_.notify_all();
    return new httplib::ThreadPool(threads);  // httplib takes ownership
  };
  thread_ = std::thread([this] {
    server_.listen_after_bind();
    {
      std::lock_guard<std::mutex> guard(mutex_);
      loop_ended_ = true;
    }
    changed_.notify_all();
  });
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return loop_started_ || loop_ended_; });
  if (!loop_started_) {
    lock.unlock();
    thread_.join();
    return {false, 0, "cannot serve on " + where + ": the accept loop did not start"};
  }
  return {true, port_, {}};
}

void server::stop() {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    if (!thread_.joinable() || stopping_) return;
    stopping_ = true;
  }
  server_.stop();
  thread_.join();
}

bool server::failed() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return loop_ended_ && !stopping_;
}

}  // namespace webhookd::http
