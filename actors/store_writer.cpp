#include "actors/store_writer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <thread>
#include <utility>
#include <vector>

namespace webhookd {

caf::error make_store_error(const storage::error& err) {
  // CAF treats code 0 as "no error", so codes are the errc plus one.
  return caf::error(static_cast<uint8_t>(static_cast<uint8_t>(err.code) + 1), caf::atom("store"),
                    caf::make_message(err.message));
}

namespace {

struct queued_outcome {
  uint64_t seq = 0;
  attempt_outcome outcome;
  caf::typed_response_promise<caf::ok_atom> promise;
};

struct sync_waiter {
  uint64_t upto = 0;  // answered once every outcome with seq <= upto is answered
  caf::typed_response_promise<caf::ok_atom> promise;
};

struct store_writer_state {
  static const char* name;
  store_writer_deps deps;
  std::deque<queued_outcome> queue;
  std::deque<sync_waiter> syncs;
  std::vector<caf::typed_response_promise<caf::ok_atom>> room_waiters;
  uint64_t last_seq = 0;
  uint64_t timer_generation = 0;
  bool timer_armed = false;
  bool backing_off = false;
  std::chrono::milliseconds backoff{0};
  store_writer_stats stats;
};

const char* store_writer_state::name = "store_writer";

using writer_pointer = store_writer_actor::stateful_pointer<store_writer_state>;

/// Calls record_attempts, measuring it.
storage::status record_measured(writer_pointer self, const std::vector<attempt_outcome>& batch) {
  auto& st = self->state;
  auto started = std::chrono::steady_clock::now();
  auto written = st.deps.store->record_attempts(batch);
  if (const auto& m = st.deps.metrics) {
    if (written.ok()) {
      m->seconds->observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      m->batch_size->observe(static_cast<double>(batch.size()));
    } else {
      m->failures->inc();
    }
  }
  return written;
}

bool is_row_error(storage::errc code) {
  return code == storage::errc::not_found || code == storage::errc::invalid;
}

void arm_timer(writer_pointer self, std::chrono::milliseconds delay) {
  auto& st = self->state;
  st.timer_armed = true;
  self->delayed_send(self, delay, flush_atom::value, ++st.timer_generation);
}

/// Counts `n` outcomes out of the backlog, before they are answered (an endpoint that hears
/// its answer sees the backlog without it), and gives room to the endpoints waiting for it
/// once there is.
void count_out(writer_pointer self, std::size_t n) {
  auto& st = self->state;
  if (!st.deps.backlog) return;
  st.deps.backlog->answered(n);
  if (st.room_waiters.empty() || !st.deps.backlog->has_room()) return;
  for (auto& waiter : st.room_waiters) waiter.deliver(caf::ok_atom::value);
  st.room_waiters.clear();
}

void answer_syncs(writer_pointer self) {
  auto& st = self->state;
  uint64_t answered_upto = st.queue.empty() ? st.last_seq : st.queue.front().seq - 1;
  while (!st.syncs.empty() && st.syncs.front().upto <= answered_upto) {
    st.syncs.front().promise.deliver(caf::ok_atom::value);
    st.syncs.pop_front();
  }
}

/// Answers the first `n` queued outcomes as committed.
void commit_front(writer_pointer self, std::size_t n) {
  auto& st = self->state;
  count_out(self, n);
  for (std::size_t i = 0; i < n; ++i) {
    st.queue.front().promise.deliver(caf::ok_atom::value);
    st.queue.pop_front();
  }
  st.stats.recorded += n;
  st.stats.transactions += 1;
}

/// Writes the first `n` queued outcomes one by one after their batch was refused for its rows.
/// Returns false when the store failed for another reason (the rest stays queued).
bool write_one_by_one(writer_pointer self, std::size_t n) {
  auto& st = self->state;
  for (std::size_t i = 0; i < n; ++i) {
    auto& front = st.queue.front();
    auto single = record_measured(self, {front.outcome});
    if (single.ok()) {
      commit_front(self, 1);
      continue;
    }
    st.stats.failures += 1;
    if (!is_row_error(single.err().code)) return false;
    if (st.deps.log)
      st.deps.log->error("store_writer: outcome of delivery {} refused: {}",
                         front.outcome.att.delivery_id, single.err().message);
    count_out(self, 1);
    front.promise.deliver(make_store_error(single.err()));
    st.queue.pop_front();
    st.stats.rejected += 1;
  }
  return true;
}

/// Writes everything queued, one transaction per max_batch. On a store failure the batch stays
/// at the front and a retry is scheduled after the backoff; returns false then.
bool flush(writer_pointer self) {
  auto& st = self->state;
  const auto& settings = st.deps.settings;
  while (!st.queue.empty()) {
    std::size_t n = std::min(st.queue.size(), std::max<std::size_t>(settings.max_batch, 1));
    std::vector<attempt_outcome> batch;
    batch.reserve(n);
    for (std::size_t i = 0; i < n; ++i) batch.push_back(st.queue[i].outcome);
    auto written = record_measured(self, batch);
    bool ok = written.ok();
    if (ok) {
      commit_front(self, n);
    } else {
      st.stats.failures += 1;
      if (st.deps.log)
        st.deps.log->warn("store_writer: recording {} attempt outcomes failed: {}", n,
                          written.err().message);
      if (is_row_error(written.err().code)) ok = write_one_by_one(self, n);
    }
    answer_syncs(self);
    if (!ok) {
      st.backoff = st.backoff.count() == 0 ? settings.min_backoff
                                           : std::min(settings.max_backoff, st.backoff * 2);
      st.backing_off = true;
      arm_timer(self, st.backoff);
      return false;
    }
    st.backoff = std::chrono::milliseconds{0};
  }
  answer_syncs(self);
  return true;
}

/// The last effort on exit: keeps flushing within the budget, then fails what is left.
void final_flush(writer_pointer self) {
  auto& st = self->state;
  auto deadline = std::chrono::steady_clock::now() + st.deps.settings.final_flush_budget;
  while (!flush(self) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
        st.backoff, std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())));
  if (!st.queue.empty() && st.deps.log)
    st.deps.log->error(
        "store_writer: stopping with {} attempt outcomes unwritten (their "
        "deliveries stay pending and will be delivered again)",
        st.queue.size());
  count_out(self, st.queue.size());
  for (auto& q : st.queue) q.promise.deliver(caf::make_error(caf::sec::request_receiver_down));
  st.queue.clear();
  for (auto& s : st.syncs) s.promise.deliver(caf::make_error(caf::sec::request_receiver_down));
  st.syncs.clear();
  for (auto& w : st.room_waiters) w.deliver(caf::make_error(caf::sec::request_receiver_down));
  st.room_waiters.clear();
}

store_writer_actor::behavior_type store_writer_behavior(writer_pointer self,
                                                        store_writer_deps deps) {
  self->state.deps = std::move(deps);
  self->set_exit_handler([self](caf::exit_msg& msg) {
    final_flush(self);
    self->quit(msg.reason);
  });
  return {
      [self](record_atom, attempt_outcome& outcome) -> caf::result<caf::ok_atom> {
        auto& st = self->state;
        auto rp = self->make_response_promise<caf::ok_atom>();
        st.queue.push_back(queued_outcome{++st.last_seq, std::move(outcome), rp});
        if (!st.backing_off && st.queue.size() >= st.deps.settings.flush_threshold) {
          flush(self);
        } else if (!st.timer_armed) {
          arm_timer(self, st.deps.settings.flush_delay);
        }
        return rp;
      },
      [self](sync_atom) -> caf::result<caf::ok_atom> {
        auto& st = self->state;
        if (st.queue.empty()) return caf::ok_atom::value;
        auto rp = self->make_response_promise<caf::ok_atom>();
        st.syncs.push_back(sync_waiter{st.last_seq, rp});
        if (!st.timer_armed) arm_timer(self, st.deps.settings.flush_delay);
        return rp;
      },
      [self](room_atom) -> caf::result<caf::ok_atom> {
        auto& st = self->state;
        if (!st.deps.backlog || st.deps.backlog->has_room()) return caf::ok_atom::value;
        auto rp = self->make_response_promise<caf::ok_atom>();
        st.room_waiters.push_back(rp);
        return rp;
      },
      [self](state_atom) -> store_writer_stats {
        auto& st = self->state;
        auto stats = st.stats;
        stats.queued = st.queue.size();
        if (const auto& backlog = st.deps.backlog) {
          stats.outstanding = backlog->outstanding();
          stats.outstanding_limit = backlog->limit();
        }
        stats.held_endpoints = st.room_waiters.size();
        return stats;
      },
      [self](flush_atom, uint64_t generation) {
        auto& st = self->state;
        if (generation != st.timer_generation) return;
        st.timer_armed = false;
        st.backing_off = false;
        flush(self);
      },
  };
}

}  // namespace

store_writer_actor spawn_store_writer(caf::actor_system& system, store_writer_deps deps) {
  return system.spawn<caf::detached>(store_writer_behavior, std::move(deps));
}

}  // namespace webhookd
