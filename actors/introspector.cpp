#include "actors/introspector.hpp"

#include <memory>
#include <stdexcept>
#include <utility>

namespace webhookd {

namespace {

struct introspector_state {
  introspector_deps deps;
  static const char* name;
};

const char* introspector_state::name = "introspector";

using introspector_pointer = introspector_actor::stateful_pointer<introspector_state>;

// One request in progress: the tree being filled and the probes still out.
struct gathering {
  actor_tree tree;
  std::size_t outstanding = 0;
  caf::typed_response_promise<actor_tree> promise;

  void finish_one() {
    if (--outstanding == 0) promise.deliver(std::move(tree));
  }
};

// Sends `state_atom` to `target` with `timeout`; stores the answer in `slot` and the outcome in
// `status`. An invalid handle counts as "not running" at once.
template <class Handle, class T>
void probe(introspector_pointer self, const std::shared_ptr<gathering>& g, const Handle& target,
           std::chrono::milliseconds timeout, probe_status actor_tree::*status,
           T actor_tree::*slot) {
  const clock_source* clock = self->state.deps.clock;
  int64_t sent = clock->now_ms();
  if (!target) {
    (g->tree.*status).error = "not running";
    g->finish_one();
    return;
  }
  self->request(target, timeout, state_atom::value)
      .then(
          [g, clock, sent, status, slot](T& answer) {
            g->tree.*slot = std::move(answer);
            (g->tree.*status).answered = true;
            (g->tree.*status).latency_ms = clock->now_ms() - sent;
            g->finish_one();
          },
          [self, g, clock, sent, status](caf::error& err) {
            (g->tree.*status).error = self->system().render(err);
            (g->tree.*status).latency_ms = clock->now_ms() - sent;
            g->finish_one();
          });
}

introspector_actor::behavior_type introspector_behavior(introspector_pointer self,
                                                        introspector_deps deps) {
  self->state.deps = std::move(deps);
  return {
      [self](state_atom) -> caf::result<actor_tree> {
        const auto& d = self->state.deps;
        auto g = std::make_shared<gathering>();
        g->tree.taken_at = d.clock->now_ms();
        g->outstanding = 6;
        g->promise = self->make_response_promise<actor_tree>();
        auto timeout = d.probe_timeout;
        probe(self, g, d.ingest, timeout, &actor_tree::ingest_probe, &actor_tree::ingest);
        probe(self, g, d.router, timeout, &actor_tree::router_probe, &actor_tree::router);
        probe(self, g, d.supervisor, timeout * 2, &actor_tree::supervisor_probe,
              &actor_tree::supervisor);
        probe(self, g, d.dlq, timeout, &actor_tree::dlq_probe, &actor_tree::dlq);
        probe(self, g, d.writer, timeout, &actor_tree::writer_probe, &actor_tree::writer);
        probe(self, g, d.http, timeout, &actor_tree::http_probe, &actor_tree::http);
        return g->promise;
      },
  };
}

}  // namespace

introspector_actor spawn_introspector(caf::actor_system& system, introspector_deps deps) {
  if (deps.clock == nullptr) throw std::logic_error("spawn_introspector: a clock is required");
  return system.spawn(introspector_behavior, std::move(deps));
}

}  // namespace webhookd
