#include "actors/messages.hpp"

#include "actors/alerts.hpp"
#include "actors/committer.hpp"
#include "actors/dlq.hpp"
#include "actors/endpoint_supervisor.hpp"
#include "actors/http_client.hpp"
#include "actors/ingest.hpp"
#include "actors/manager.hpp"
#include "actors/monitor.hpp"
#include "actors/router.hpp"
#include "actors/store_writer.hpp"
#include "actors/tracker.hpp"

namespace webhookd {

void register_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<webhook>("webhook");
  cfg.add_message_type<std::vector<webhook>>("std::vector<webhook>");
  // webhook_snapshot is local only: it is announced with CAF_ALLOW_UNSAFE_MESSAGE_TYPE
  // (messages.hpp) and can't be added here, which would make CAF serialise it (and a vector of
  // it) for remote nodes.
  cfg.add_message_type<event_type>("event_type");
  cfg.add_message_type<source>("source");
  cfg.add_message_type<event>("event");
  cfg.add_message_type<delivery>("delivery");
  cfg.add_message_type<std::vector<delivery>>("std::vector<delivery>");
  cfg.add_message_type<delivery_job>("delivery_job");
  cfg.add_message_type<std::vector<delivery_job>>("std::vector<delivery_job>");
  cfg.add_message_type<page_request>("page_request");
  cfg.add_message_type<page<webhook>>("page<webhook>");
  cfg.add_message_type<node>("node");
  cfg.add_message_type<std::vector<event_type>>("std::vector<event_type>");
  cfg.add_message_type<page<source>>("page<source>");
  cfg.add_message_type<webhook_patch>("webhook_patch");
  cfg.add_message_type<source_patch>("source_patch");
  cfg.add_message_type<actor_health>("actor_health");
  cfg.add_message_type<std::vector<actor_health>>("std::vector<actor_health>");
  cfg.add_message_type<store_health>("store_health");
  cfg.add_message_type<health_report>("health_report");
  cfg.add_message_type<endpoint_restart>("endpoint_restart");
  cfg.add_message_type<alerts_stats>("alerts_stats");
  cfg.add_message_type<page<delivery>>("page<delivery>");
  cfg.add_message_type<dlq_entry>("dlq_entry");
  cfg.add_message_type<page<dlq_entry>>("page<dlq_entry>");
  cfg.add_message_type<dlq_filter>("dlq_filter");
  cfg.add_message_type<attempt>("attempt");
  cfg.add_message_type<delivery_detail>("delivery_detail");
  cfg.add_message_type<delivery_query>("delivery_query");
  cfg.add_message_type<attempt_feed_request>("attempt_feed_request");
  cfg.add_message_type<attempt_record>("attempt_record");
  cfg.add_message_type<attempt_feed>("attempt_feed");
  cfg.add_message_type<std::vector<source>>("std::vector<source>");
  cfg.add_message_type<std::vector<int>>("std::vector<int>");
  cfg.add_message_type<new_event>("new_event");
  cfg.add_message_type<std::vector<new_event>>("std::vector<new_event>");
  cfg.add_message_type<append_result>("append_result");
  cfg.add_message_type<ingest_ack>("ingest_ack");
  cfg.add_message_type<ingest_stats>("ingest_stats");
  cfg.add_message_type<routed_event>("routed_event");
  cfg.add_message_type<std::vector<routed_event>>("std::vector<routed_event>");
  cfg.add_message_type<source_lookup>("source_lookup");
  cfg.add_message_type<router_stats>("router_stats");
  cfg.add_message_type<attempt_outcome>("attempt_outcome");
  cfg.add_message_type<store_writer_stats>("store_writer_stats");
  cfg.add_message_type<dlq_counter>("dlq_counter");
  cfg.add_message_type<std::vector<dlq_counter>>("std::vector<dlq_counter>");
  cfg.add_message_type<endpoint_state>("endpoint_state");
  cfg.add_message_type<supervisor_state>("supervisor_state");
  cfg.add_message_type<http_request>("http_request");
  cfg.add_message_type<http_response>("http_response");
  cfg.add_message_type<http_client_stats>("http_client_stats");
}

}  // namespace webhookd
