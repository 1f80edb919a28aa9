#include "actors/messages.hpp"

#include "actors/dlq.hpp"
#include "actors/endpoint_supervisor.hpp"
#include "actors/store_writer.hpp"

#include <catch2/catch.hpp>

using namespace webhookd;

TEST_CASE("model types travel in messages and print with their fields", "[unit]") {
  webhook w;
  w.id = "wh_1";
  w.event_types = {"invoice.paid"};
  auto msg = caf::make_message(changed_atom::value, w);
  CHECK(msg.match_element<webhook>(1));
  CHECK(msg.get_as<webhook>(1).event_types == std::vector<std::string>{"invoice.paid"});
  CHECK(caf::deep_to_string(w).find("wh_1") != std::string::npos);

  delivery d;
  d.status = delivery_status::failed;
  CHECK(caf::deep_to_string(d).find("delivery") != std::string::npos);
}

TEST_CASE("every message type registers with the actor system", "[unit]") {
  caf::actor_system_config cfg;
  register_message_types(cfg);
  cfg.set("scheduler.max-threads", 1);
  caf::actor_system sys{cfg};
  CHECK(sys.types().portable_name(caf::make_rtti_pair<webhook>()) == "webhook");
  CHECK(sys.types().portable_name(caf::make_rtti_pair<attempt_outcome>()) == "attempt_outcome");
  CHECK(sys.types().portable_name(caf::make_rtti_pair<dlq_entry>()) == "dlq_entry");
  CHECK(sys.types().portable_name(caf::make_rtti_pair<supervisor_state>()) ==
        "supervisor_state");
}
