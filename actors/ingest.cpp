#include "actors/ingest.hpp"

#include <stdexcept>
#include <utility>

#include "core/rate_window.hpp"

namespace webhookd {

const char* to_string(ingest_errc code) {
  switch (code) {
    case ingest_errc::overloaded:
      return "overloaded";
    case ingest_errc::unavailable:
      return "unavailable";
  }
  return "unavailable";
}

caf::error make_ingest_error(ingest_errc code, std::string message) {
  return caf::error(static_cast<uint8_t>(code), ingest_error_category,
                    caf::make_message(std::move(message)));
}

std::optional<ingest_failure> ingest_failure_of(const caf::error& err) {
  if (!err || err.category() != ingest_error_category) return std::nullopt;
  uint8_t code = err.code();
  if (code < static_cast<uint8_t>(ingest_errc::overloaded) ||
      code > static_cast<uint8_t>(ingest_errc::unavailable)) {
    return std::nullopt;
  }
  ingest_failure out;
  out.code = static_cast<ingest_errc>(code);
  const caf::message& context = err.context();
  if (context.match_elements<std::string>()) out.message = context.get_as<std::string>(0);
  return out;
}

namespace {

// A request whose events sit in a commit group: events [first, first + count).
struct waiting_request {
  caf::typed_response_promise<ingest_ack> promise;
  std::size_t first = 0;
  std::size_t count = 0;
};

// Requests that share one commit, with their events and the jobs of each event.
struct commit_group {
  std::vector<new_event> events;
  std::vector<std::vector<delivery_job>> jobs;  // jobs[i] belong to events[i]
  std::vector<waiting_request> requests;
};

struct ingest_state {
  router_actor router;
  committer_actor committer;
  caf::actor supervisor;
  std::shared_ptr<spdlog::logger> log;
  ingest_settings settings;

  std::size_t routing_events = 0;
  commit_group buffer;     // waiting for the next commit
  commit_group in_commit;  // the commit in flight (events moved out to the committer)
  std::size_t committing_events = 0;
  bool committing = false;
  int64_t commits = 0;
  int64_t failed_commits = 0;
  int64_t overloaded_requests = 0;
  int64_t accepted_events = 0;
  int64_t duplicate_events = 0;
  const clock_source* clock = nullptr;
  rate_window event_rate;
  rate_window request_rate;

  static const char* name;
};

const char* ingest_state::name = "ingest";

using ingest_pointer = ingest_actor::stateful_pointer<ingest_state>;

void start_commit(ingest_pointer self);

void finish_commit(ingest_pointer self, const append_result& result) {
  auto& st = self->state;
  commit_group group = std::move(st.in_commit);
  st.in_commit = commit_group{};
  st.committing = false;
  st.committing_events = 0;
  if (result.duplicate.size() != group.jobs.size() && st.log) {
    st.log->error("ingest: the store reported {} results for a batch of {} events",
                  result.duplicate.size(), group.jobs.size());
  }
  auto is_duplicate = [&](std::size_t i) {
    return i < result.duplicate.size() && result.duplicate[i];
  };
  for (auto& request : group.requests) {
    ingest_ack ack;
    for (std::size_t i = request.first; i < request.first + request.count; ++i) {
      if (is_duplicate(i)) {
        ++ack.duplicates;
      } else {
        ++ack.accepted;
      }
    }
    st.accepted_events += ack.accepted;
    st.duplicate_events += ack.duplicates;
    if (st.clock) {
      int64_t now = st.clock->now_ms();
      st.event_rate.add(now, static_cast<uint64_t>(ack.accepted + ack.duplicates));
      st.request_rate.add(now);
    }
    request.promise.deliver(ack);
  }
  if (st.supervisor) {
    std::vector<delivery_job> fresh;
    for (std::size_t i = 0; i < group.jobs.size(); ++i) {
      if (is_duplicate(i)) continue;
      for (auto& job : group.jobs[i]) fresh.push_back(std::move(job));
    }
    // Typed actors may not send() to untyped ones; the supervisor does not answer anyway.
    if (!fresh.empty()) caf::anon_send(st.supervisor, deliver_atom::value, std::move(fresh));
  }
  start_commit(self);
}

void fail_commit(ingest_pointer self, const caf::error& err) {
  auto& st = self->state;
  commit_group group = std::move(st.in_commit);
  st.in_commit = commit_group{};
  st.committing = false;
  st.committing_events = 0;
  ++st.failed_commits;
  std::string message;
  if (auto failure = commit_failure_of(err)) {
    message = std::string("the store failed: ") + storage::to_string(failure->code) + ": " +
              failure->message;
  } else {
    message = "the commit failed: " + self->system().render(err);
  }
  if (st.log) {
    st.log->warn("ingest: a commit of {} events for {} requests failed: {}", group.jobs.size(),
                 group.requests.size(), message);
  }
  for (auto& request : group.requests) {
    request.promise.deliver(make_ingest_error(ingest_errc::unavailable, message));
  }
  start_commit(self);
}

// Sends the whole buffer to the committer as one batch, unless a commit is in flight or the
// buffer is empty.
void start_commit(ingest_pointer self) {
  auto& st = self->state;
  if (st.committing || st.buffer.requests.empty()) return;
  st.committing = true;
  ++st.commits;
  st.in_commit = std::move(st.buffer);
  st.buffer = commit_group{};
  std::vector<new_event> batch = std::move(st.in_commit.events);
  st.in_commit.events.clear();
  st.committing_events = batch.size();
  self->request(st.committer, st.settings.commit_timeout, commit_atom::value, std::move(batch))
      .then([self](const append_result& result) { finish_commit(self, result); },
            [self](caf::error& err) { fail_commit(self, err); });
}

// Appends a routed request to the buffer.
void buffer_request(ingest_pointer self, caf::typed_response_promise<ingest_ack> promise,
                    std::vector<routed_event>& routed) {
  auto& group = self->state.buffer;
  waiting_request request;
  request.promise = std::move(promise);
  request.first = group.events.size();
  request.count = routed.size();
  for (auto& item : routed) {
    new_event row;
    row.deliveries.reserve(item.jobs.size());
    for (const auto& job : item.jobs) row.deliveries.push_back(job.row);
    row.ev = std::move(item.ev);
    group.events.push_back(std::move(row));
    group.jobs.push_back(std::move(item.jobs));
  }
  group.requests.push_back(std::move(request));
}

ingest_actor::behavior_type ingest_behavior(ingest_pointer self, ingest_deps deps) {
  auto& st = self->state;
  st.router = std::move(deps.router);
  st.committer = std::move(deps.committer);
  st.supervisor = std::move(deps.supervisor);
  st.log = std::move(deps.log);
  st.clock = deps.clock;
  st.settings = deps.settings;
  return {
      [self](ingest_atom, std::vector<event>& events) -> caf::result<ingest_ack> {
        auto& st = self->state;
        if (events.empty()) return ingest_ack{};
        std::size_t count = events.size();
        if (st.routing_events + st.buffer.events.size() + count > st.settings.max_buffered_events) {
          ++st.overloaded_requests;
          return make_ingest_error(ingest_errc::overloaded,
                                   "the ingest buffer is full (" +
                                       std::to_string(st.settings.max_buffered_events) +
                                       " events); retry later");
        }
        st.routing_events += count;
        auto promise = self->make_response_promise<ingest_ack>();
        // No CAF deadline: the router never blocks and answers every request (an error if it
        // is gone), and a deadline would put a timer on CAF's clock thread per request. The
        // HTTP side waits with its own deadline.
        self->request(st.router, caf::infinite, route_atom::value, std::move(events))
            .then(
                [self, promise, count](std::vector<routed_event>& routed) mutable {
                  self->state.routing_events -= count;
                  buffer_request(self, std::move(promise), routed);
                  start_commit(self);
                },
                [self, promise, count](caf::error& err) mutable {
                  self->state.routing_events -= count;
                  promise.deliver(make_ingest_error(
                      ingest_errc::unavailable, "routing failed: " + self->system().render(err)));
                });
        return promise;
      },
      [self](caf::put_atom, const caf::actor& supervisor) -> caf::ok_atom {
        self->state.supervisor = supervisor;
        return caf::ok_atom::value;
      },
      [self](state_atom) -> ingest_stats {
        auto& st = self->state;
        ingest_stats out;
        out.routing_events = static_cast<int64_t>(st.routing_events);
        out.buffered_requests = static_cast<int64_t>(st.buffer.requests.size());
        out.buffered_events = static_cast<int64_t>(st.buffer.events.size());
        out.committing_events = static_cast<int64_t>(st.committing_events);
        out.commits = st.commits;
        out.failed_commits = st.failed_commits;
        out.overloaded_requests = st.overloaded_requests;
        out.accepted_events = st.accepted_events;
        out.duplicate_events = st.duplicate_events;
        if (st.clock) {
          int64_t now = st.clock->now_ms();
          out.events_per_second = st.event_rate.per_second(now);
          out.requests_per_second = st.request_rate.per_second(now);
        }
        return out;
      },
  };
}

}  // namespace

ingest_actor spawn_ingest(caf::actor_system& system, ingest_deps deps) {
  if (!deps.router || !deps.committer) {
    throw std::logic_error("spawn_ingest: a router and a committer are required");
  }
  return system.spawn(ingest_behavior, std::move(deps));
}

}  // namespace webhookd
