#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "actors/http_client.hpp"

/// The machinery behind http_client: a libcurl multi handle driven by one dedicated thread.
/// Knows no actors; results leave through a callback run on the curl thread.
namespace webhookd {

/// Checks and normalises a request before it is handed to curl_engine::submit: the URL must pass
/// parse_url (and is replaced by its normalised form), timeouts must be positive, header names
/// must be non-empty tokens and names and values free of CR, LF and NUL; the priority is clamped
/// to 0..2. Returns why the request is refused, or nullopt when it may be sent.
std::optional<std::string> prepare_http_request(http_request& request);

/// Runs transfers on its own thread with libcurl's multi interface: keep-alive connection reuse,
/// at most max_in_flight transfers at once and at most max_host_connections per host:port (the
/// rest queue per host, high before standard before bulk, hosts taking turns within a
/// priority; a request waiting for its host's connection slot holds no global slot; a host whose
/// recent transfers all timed out gets suspect_host_connections only), every
/// connect vetted by the SSRF policy. Thread-safe: submit and the counters may be called
/// from any thread.
class curl_engine {
 public:
  /// Receives every result, on the curl thread; must not block. `id` is the submit id.
  using completion_handler = std::function<void(uint64_t id, http_response response)>;

  /// Starts the curl thread. Precondition: settings.policy is set, settings.max_in_flight > 0.
  curl_engine(const http_client_settings& settings, completion_handler on_done);

  /// stop().
  ~curl_engine();

  curl_engine(const curl_engine&) = delete;
  curl_engine& operator=(const curl_engine&) = delete;

  /// Queues a request; its result reaches the completion handler exactly once, unless the
  /// engine stops first. Precondition: prepare_http_request accepted `request`.
  void submit(uint64_t id, http_request request);

  /// Stops the curl thread and waits for it (unless called on the curl thread itself, from
  /// the completion handler: then the thread finishes on its own right after the handler).
  /// Transfers still running or queued are dropped without a result. Idempotent.
  void stop();

  /// Transfers inside the multi handle right now.
  uint64_t running() const;
  /// Requests waiting to start (for a slot under max_in_flight or of their host).
  uint64_t queued() const;

 private:
  class core;
  std::shared_ptr<core> core_;  // shared with the thread, which may outlive this object
  std::thread thread_;
};

}  // namespace webhookd
