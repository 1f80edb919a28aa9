#include "actors/http_client.hpp"

#include <memory>
#include <unordered_map>
#include <utility>

#include "actors/curl_engine.hpp"

namespace webhookd {

namespace {

// Private to the client: the curl thread reports a finished transfer to the facade.
using http_done_atom = caf::atom_constant<caf::atom("httpdone")>;

// The facade: owns the curl engine and every open request's promise. Promises are touched only
// here, on the actor's own thread; the curl thread talks back with http_done_atom messages.
class http_client_impl : public caf::event_based_actor {
 public:
  http_client_impl(caf::actor_config& cfg, http_client_settings settings)
      : caf::event_based_actor(cfg), settings_(std::move(settings)) {}

  const char* name() const override { return "http_client"; }

  caf::behavior make_behavior() override {
    // The curl thread holds only a weak reference, so an idle client with no handles left can
    // end (see curl_engine::stop for when that happens on the curl thread itself).
    caf::actor_addr facade = address();
    engine_ = std::make_unique<curl_engine>(settings_, [facade](uint64_t id, http_response r) {
      if (auto hdl = caf::actor_cast<caf::actor>(facade))
        caf::anon_send(hdl, http_done_atom::value, id, std::move(r));
    });
    return {
        [this](http_request& request) -> caf::result<http_response> {
          if (auto refused = prepare_http_request(request)) {
            ++completed_;
            http_response response;
            response.error_kind = "other";
            response.error = std::move(*refused);
            return response;
          }
          uint64_t id = next_id_++;
          auto promise = make_response_promise();
          pending_.emplace(id, promise);
          engine_->submit(id, std::move(request));
          return promise;
        },
        [this](state_atom) {
          http_client_stats stats;
          stats.pending = pending_.size();
          stats.running = engine_->running();
          stats.queued = engine_->queued();
          stats.completed = completed_;
          return stats;
        },
        [this](http_done_atom, uint64_t id, http_response& response) {
          auto it = pending_.find(id);
          if (it == pending_.end()) return;
          ++completed_;
          it->second.deliver(std::move(response));
          pending_.erase(it);
        },
    };
  }

  void on_exit() override {
    if (engine_) engine_->stop();
    for (auto& entry : pending_)
      entry.second.deliver(caf::make_error(caf::sec::request_receiver_down, "http_client stopped"));
    pending_.clear();
    engine_.reset();
  }

 private:
  http_client_settings settings_;
  std::unique_ptr<curl_engine> engine_;
  std::unordered_map<uint64_t, caf::response_promise> pending_;
  uint64_t next_id_ = 1;
  uint64_t completed_ = 0;
};

}  // namespace

http_client_actor spawn_http_client(caf::actor_system& sys, http_client_settings settings) {
  return caf::actor_cast<http_client_actor>(sys.spawn<http_client_impl>(std::move(settings)));
}

}  // namespace webhookd
