// actor_ingest_backend against real actors standing in for the ingest actor: an answer becomes
// `accepted` or the ingest error it carries, and an ingest actor that does not answer within the
// submit deadline becomes `unavailable` with the deadline named, without CAF's request timeout.
#include "app/ingest_backend.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <vector>

#include "actors/messages.hpp"
#include "actors/source_directory.hpp"

namespace {

using namespace webhookd;

struct stand_in_state {
  std::vector<caf::typed_response_promise<ingest_ack>> held;  // never answered
};

// Acks every event, refuses a batch of two as overloaded, and never answers a batch of three.
ingest_actor::behavior_type stand_in(ingest_actor::stateful_pointer<stand_in_state> self) {
  return {
      [self](ingest_atom, std::vector<event>& events) -> caf::result<ingest_ack> {
        if (events.size() == 2)
          return make_ingest_error(ingest_errc::overloaded, "the ingest buffer is full");
        if (events.size() == 3) {
          auto promise = self->make_response_promise<ingest_ack>();
          self->state.held.push_back(promise);
          return promise;
        }
        ingest_ack ack;
        ack.accepted = static_cast<int64_t>(events.size());
        return ack;
      },
      [](caf::put_atom, const caf::actor&) { return caf::ok_atom::value; },
      [](state_atom) { return ingest_stats{}; },
  };
}

struct rig {
  rig() : sys(configured(config)) {}
  static caf::actor_system_config& configured(caf::actor_system_config& cfg) {
    cfg.set("scheduler.max-threads", 2);
    register_message_types(cfg);
    return cfg;
  }
  caf::actor_system_config config;
  caf::actor_system sys;
};

}  // namespace

TEST_CASE("submit answers accepted, the ingest error, or unavailable at its deadline",
          "[unit]") {
  rig r;
  auto ingest = r.sys.spawn(stand_in);
  app::ingest_deadlines deadlines;
  deadlines.submit = std::chrono::milliseconds(100);
  app::actor_ingest_backend backend(r.sys, std::make_shared<source_directory>(), ingest,
                                    deadlines);

  auto accepted = backend.submit(std::vector<event>(1));
  CHECK(accepted.status == http::submit_result::kind::accepted);
  CHECK(accepted.accepted == 1);

  auto overloaded = backend.submit(std::vector<event>(2));
  CHECK(overloaded.status == http::submit_result::kind::overloaded);
  CHECK(overloaded.message == "the ingest buffer is full");

  auto started = std::chrono::steady_clock::now();
  auto late = backend.submit(std::vector<event>(3));
  CHECK(std::chrono::steady_clock::now() - started >= deadlines.submit);
  CHECK(late.status == http::submit_result::kind::unavailable);
  CHECK(late.message == "the events were not committed within 100 ms");

  // The next request is not confused by anything the late one left behind.
  auto after = backend.submit(std::vector<event>(1));
  CHECK(after.status == http::submit_result::kind::accepted);
  caf::anon_send_exit(ingest, caf::exit_reason::user_shutdown);
}

TEST_CASE("find_source reads the shared directory", "[unit]") {
  rig r;
  auto directory = std::make_shared<source_directory>();
  source s;
  s.id = "src_1";
  s.api_key = "key_1";
  directory->put(s);
  app::actor_ingest_backend backend(r.sys, directory, ingest_actor{});
  auto found = backend.find_source("key_1");
  CHECK(found.status == http::source_lookup_result::kind::found);
  CHECK(found.src.id == "src_1");
  CHECK(backend.find_source("key_2").status == http::source_lookup_result::kind::unknown);
  directory->remove("src_1");
  CHECK(backend.find_source("key_1").status == http::source_lookup_result::kind::unknown);
}
