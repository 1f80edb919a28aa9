#include "actors/committer.hpp"

#include <chrono>
#include <stdexcept>
#include <utility>

namespace webhookd {

caf::error make_commit_error(const storage::error& err) {
  return caf::error(static_cast<uint8_t>(static_cast<uint8_t>(err.code) + 1), commit_error_category,
                    caf::make_message(err.message));
}

std::optional<storage::error> commit_failure_of(const caf::error& err) {
  if (!err || err.category() != commit_error_category) return std::nullopt;
  uint8_t code = err.code();
  if (code < 1 || code > static_cast<uint8_t>(storage::errc::internal) + 1) return std::nullopt;
  storage::error out;
  out.code = static_cast<storage::errc>(code - 1);
  const caf::message& context = err.context();
  if (context.match_elements<std::string>()) out.message = context.get_as<std::string>(0);
  return out;
}

namespace {

struct committer_state {
  storage::blocking_store* store = nullptr;
  std::shared_ptr<spdlog::logger> log;
  std::shared_ptr<const commit_metrics> metrics;

  static const char* name;
};

const char* committer_state::name = "committer";

committer_actor::behavior_type committer_behavior(
    committer_actor::stateful_pointer<committer_state> self, storage::blocking_store* store,
    std::shared_ptr<spdlog::logger> log, std::shared_ptr<const commit_metrics> metrics) {
  self->state.store = store;
  self->state.log = std::move(log);
  self->state.metrics = std::move(metrics);
  return {
      [self](commit_atom, const std::vector<new_event>& batch) -> caf::result<append_result> {
        auto started = std::chrono::steady_clock::now();
        auto appended = self->state.store->append_events(batch);
        if (const auto& m = self->state.metrics) {
          if (appended) {
            m->seconds->observe(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
            m->batch_size->observe(static_cast<double>(batch.size()));
          } else {
            m->failures->inc();
          }
        }
        if (!appended) {
          if (self->state.log) {
            self->state.log->warn("committer: appending {} events failed: {}: {}", batch.size(),
                                  storage::to_string(appended.err().code), appended.err().message);
          }
          return make_commit_error(appended.err());
        }
        return std::move(appended.value());
      },
  };
}

}  // namespace

committer_actor spawn_committer(caf::actor_system& system, storage::blocking_store* store,
                                std::shared_ptr<spdlog::logger> log,
                                std::shared_ptr<const commit_metrics> metrics) {
  if (store == nullptr) throw std::logic_error("spawn_committer: a store is required");
  return system.spawn<caf::detached>(committer_behavior, store, std::move(log), std::move(metrics));
}

}  // namespace webhookd
