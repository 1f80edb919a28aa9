#pragma once

#include <caf/all.hpp>

#include <chrono>
#include <optional>
#include <utility>

#include "actors/dlq.hpp"
#include "actors/tracker.hpp"
#include "http/api_error.hpp"

namespace webhookd::http {

/// How HTTP handler threads talk to the tracker and the DLQ actor: one request with a deadline,
/// the answer or the error mapped to an api_error (not_found 404, conflict 409, invalid 422,
/// unavailable 503 with Retry-After, internal 500; no answer in time or the actor gone: 503).
class tracking_client {
 public:
  /// `system` must outlive the client. `deadline` bounds every request.
  tracking_client(caf::actor_system& system, tracker_actor tracker, dlq_actor dlq,
                  std::chrono::milliseconds deadline);

  /// Sends `xs...` to the tracker and blocks the calling thread (an HTTP worker, never an
  /// actor) until the answer of type T, an error or the deadline.
  template <class T, class... Ts>
  api_result<T> ask_tracker_blocking(Ts&&... xs) const {
    return request_blocking<T>(tracker_, std::forward<Ts>(xs)...);
  }

  /// Same for the DLQ actor (replays).
  template <class T, class... Ts>
  api_result<T> ask_dlq_blocking(Ts&&... xs) const {
    return request_blocking<T>(dlq_, std::forward<Ts>(xs)...);
  }

  /// The api_error for a failed request.
  api_error map_error(const caf::error& err) const;

 private:
  template <class T, class Handle, class... Ts>
  api_result<T> request_blocking(const Handle& target, Ts&&... xs) const {
    std::optional<api_result<T>> out;
    caf::scoped_actor self{system_, true};
    self->request(target, deadline_, std::forward<Ts>(xs)...)
        .receive([&](T& value) { out.emplace(std::move(value)); },
                 [&](caf::error& err) { out.emplace(map_error(err)); });
    if (!out) return map_error(caf::make_error(caf::sec::request_timeout));
    return std::move(*out);
  }

  caf::actor_system& system_;
  tracker_actor tracker_;
  dlq_actor dlq_;
  std::chrono::milliseconds deadline_;
};

}  // namespace webhookd::http
