#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "core/ssrf_policy.hpp"

/// The outbound HTTP client: one libcurl multi handle driven by its own thread, behind an
/// event-based facade actor. Endpoint actors send it an http_request and get an http_response
/// back; a transport failure is a response with error_kind set, never a CAF error. A CAF error
/// reaches a requester only when the client stops with its request still open.
namespace webhookd {

/// How many bytes of a response body are kept in http_response::body_excerpt.
inline constexpr std::size_t http_body_excerpt_limit = 4096;

/// Priorities of http_request::priority, served in this order when requests have to queue.
enum class http_priority : int { high = 0, standard = 1, bulk = 2 };

/// One delivery attempt: always a POST of `body` to `url`; redirects are never followed.
struct http_request {
  /// Absolute http(s) URL; parsed and normalised with parse_url before use.
  std::string url;
  /// Extra request headers (name, value), sent in this order. A "content-type" here replaces the
  /// default "application/json". Names and values must not contain CR or LF.
  std::vector<std::pair<std::string, std::string>> headers;
  /// The request body, sent as is.
  std::string body;
  /// Limit for establishing the connection (TCP and TLS), in ms; must be > 0.
  int64_t connect_timeout_ms = 5000;
  /// Limit for the whole transfer once it has started (not counting time queued behind
  /// max_in_flight), in ms; must be > 0.
  int64_t total_timeout_ms = 10000;
  /// 0 high, 1 standard, 2 bulk (see http_priority); out-of-range values are clamped.
  int priority = static_cast<int>(http_priority::standard);
};

/// The outcome of one http_request.
struct http_response {
  /// The HTTP status of a complete response; 0 whenever error_kind is set (no usable response).
  int status_code = 0;
  /// "" (a complete response arrived, whatever its status), "timeout", "connect_refused",
  /// "connection_reset", "tls", "dns", "blocked_by_policy" (the SSRF policy refused the address
  /// curl was about to connect to) or "other" (including a request that is not valid).
  std::string error_kind;
  /// Human-readable detail for error_kind; empty on success.
  std::string error;
  /// The first http_body_excerpt_limit bytes of the response body at most (an incomplete UTF-8
  /// sequence at the cut is dropped); the rest is read and discarded.
  std::string body_excerpt;
  /// The Retry-After header of the response, trimmed; empty if absent.
  std::string retry_after;
  /// The Location header of the response, trimmed; empty if absent. Never followed.
  std::string location;
  /// Time from the start of the transfer to its end, in ms (rounded up).
  int64_t duration_ms = 0;
};

/// Live counters of an http_client, for the monitor.
struct http_client_stats {
  /// Requests accepted and not answered yet (running + queued + results in flight back).
  uint64_t pending = 0;
  /// Transfers currently inside the curl multi handle.
  uint64_t running = 0;
  /// Requests waiting to start: for a free slot under max_in_flight or for a connection slot
  /// of their host (max_host_connections).
  uint64_t queued = 0;
  /// Requests answered since the client started.
  uint64_t completed = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_request& x) {
  return f(caf::meta::type_name("http_request"), x.url, x.headers, x.body, x.connect_timeout_ms,
           x.total_timeout_ms, x.priority);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_response& x) {
  return f(caf::meta::type_name("http_response"), x.status_code, x.error_kind, x.error,
           x.body_excerpt, x.retry_after, x.location, x.duration_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_client_stats& x) {
  return f(caf::meta::type_name("http_client_stats"), x.pending, x.running, x.queued, x.completed);
}

/// What an http_client is made with (from the server config).
struct http_client_settings {
  /// Transfers running at once across all hosts; more requests wait in priority order.
  std::size_t max_in_flight = 1024;
  /// Transfers (so connections) running at once to one host:port. Requests beyond it wait in
  /// the client's queue, not inside curl, and hold none of max_in_flight: a slow or dead host
  /// holds at most this many of the global slots, and hosts with requests waiting take turns
  /// at the free ones.
  std::size_t max_host_connections = 64;
  /// A host whose last suspect_after_timeouts transfers all timed out (hanging, or dropping
  /// connects) gets at most suspect_host_connections until one of its transfers ends otherwise:
  /// dead hosts hold few of max_in_flight's slots (16 of them would otherwise fill 1,024).
  std::size_t suspect_after_timeouts = 3;
  std::size_t suspect_host_connections = 4;
  /// Connections kept alive for reuse (CURLMOPT_MAXCONNECTS).
  std::size_t max_idle_connections = 1024;
  /// Vets every address curl is about to connect to, whatever DNS answered. Required.
  std::shared_ptr<const ssrf_policy> policy;
  /// The User-Agent header of every request, e.g. "webhookd/0.1.0".
  std::string user_agent = "webhookd";
};

/// The client's protocol: a request is answered with its response; state_atom with the counters.
using http_client_actor = caf::typed_actor<caf::replies_to<http_request>::with<http_response>,
                                           caf::replies_to<state_atom>::with<http_client_stats>>;

/// Starts a client: the facade actor and its curl thread. Precondition: settings.policy is set
/// and max_in_flight > 0. Stopping the actor (an exit message, or its last handle gone with
/// nothing pending) stops and joins the thread, frees every transfer and answers every open
/// request with an error (sec::request_receiver_down).
http_client_actor spawn_http_client(caf::actor_system& sys, http_client_settings settings);

}  // namespace webhookd
