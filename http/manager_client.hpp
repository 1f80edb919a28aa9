#pragma once

#include <caf/all.hpp>

#include <chrono>
#include <utility>

#include "actors/manager.hpp"
#include "http/api_error.hpp"

namespace webhookd::http {

/// How HTTP handler threads talk to the manager actor: one request with a deadline, the answer
/// or the error mapped to an api_error (not_found 404, conflict 409, invalid 422, unavailable 503
/// with Retry-After, internal 500; no answer in time or the manager gone: 503).
class manager_client {
 public:
  /// `system` must outlive the client. `deadline` bounds every request.
  manager_client(caf::actor_system& system, manager_actor manager,
                 std::chrono::milliseconds deadline);

  /// Sends `xs...` to the manager and blocks the calling thread (an HTTP worker, never an actor)
  /// until the answer of type T, an error or the deadline.
  template <class T, class... Ts>
  api_result<T> request_blocking(Ts&&... xs) const {
    std::optional<api_result<T>> out;
    caf::scoped_actor self{system_, true};
    self->request(manager_, deadline_, std::forward<Ts>(xs)...)
        .receive([&](T& value) { out.emplace(std::move(value)); },
                 [&](caf::error& err) { out.emplace(map_error(err)); });
    if (!out) return map_error(caf::make_error(caf::sec::request_timeout));
    return std::move(*out);
  }

  /// The api_error for a failed manager request.
  api_error map_error(const caf::error& err) const;

 private:
  caf::actor_system& system_;
  manager_actor manager_;
  std::chrono::milliseconds deadline_;
};

}  // namespace webhookd::http
