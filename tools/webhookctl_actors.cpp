#include "webhookctl_actors.hpp"

#include <cstdio>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "webhookctl_format.hpp"

namespace webhookctl {

using nlohmann::json;

namespace {

json member(const json& object, const char* name) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(name);
  return it == object.end() ? json(nullptr) : *it;
}

// A number as text: integers as they are, others with `decimals` places (or %g when < 0).
std::string number(const json& value, int decimals = -1) {
  if (!value.is_number()) return "-";
  if (!value.is_number_float()) return value.dump();
  char buf[64];
  if (decimals < 0) {
    std::snprintf(buf, sizeof buf, "%g", value.get<double>());
  } else {
    std::snprintf(buf, sizeof buf, "%.*f", decimals, value.get<double>());
  }
  return buf;
}

// "label value" pairs of one actor's line.
using pairs = std::vector<std::pair<std::string, std::string>>;

void actor_line(std::ostream& out, const char* branch, const char* name, const json& node,
                const pairs& stats) {
  std::string line = std::string(branch) + " " + name;
  if (line.size() < 24) line.resize(24, ' ');
  out << line;
  if (!member(node, "answered").is_boolean() || !member(node, "answered").get<bool>()) {
    json error = member(node, "error");
    out << "  NOT ANSWERING: " << terminal_safe(error.is_string() ? error.get<std::string>() : "-")
        << '\n';
    return;
  }
  for (const auto& [label, value] : stats) out << "  " << label << ' ' << terminal_safe(value);
  out << '\n';
}

std::string retry_text(const json& endpoint) {
  json in_ms = member(endpoint, "next_retry_in_ms");
  if (!in_ms.is_number()) return "-";
  double seconds = in_ms.get<double>() / 1000.0;
  char buf[64];
  std::snprintf(buf, sizeof buf, "in %.1fs", seconds);
  return buf;
}

}  // namespace

void print_actor_tree(std::ostream& out, const json& tree) {
  json taken = member(tree, "taken_at");
  out << "webhookd actors at " << terminal_safe(taken.is_string() ? taken.get<std::string>() : "-")
      << '\n';
  const json ingest = member(tree, "ingest");
  actor_line(out, "├─", "ingest", ingest,
             {{"events/s", number(member(ingest, "events_per_second"), 1)},
              {"requests/s", number(member(ingest, "requests_per_second"), 1)},
              {"accepted", number(member(ingest, "accepted_events"))},
              {"duplicates", number(member(ingest, "duplicate_events"))},
              {"buffered", number(member(ingest, "buffered_events"))},
              {"commits", number(member(ingest, "commits"))},
              {"failed", number(member(ingest, "failed_commits"))},
              {"overloaded", number(member(ingest, "overloaded_requests"))}});
  const json router = member(tree, "router");
  actor_line(out, "├─", "router", router,
             {{"events/s", number(member(router, "events_per_second"), 1)},
              {"deliveries/s", number(member(router, "deliveries_per_second"), 1)},
              {"routed", number(member(router, "routed_events"))},
              {"webhooks", number(member(router, "webhooks"))},
              {"clients", number(member(router, "clients"))},
              {"sources", number(member(router, "sources"))}});
  const json sup = member(tree, "endpoint_supervisor");
  json unanswered = member(sup, "unanswered");
  actor_line(out, "├─", "endpoint_supervisor", sup,
             {{"endpoint actors", number(member(sup, "live"))},
              {"active webhooks", number(member(sup, "webhooks"))},
              {"restarts", number(member(sup, "restarts"))},
              {"idle stops", number(member(sup, "idle_stops"))},
              {"forwarded", number(member(sup, "jobs_forwarded"))},
              {"unanswered", unanswered.is_array() ? std::to_string(unanswered.size()) : "-"}});
  json endpoints = member(sup, "endpoints");
  if (endpoints.is_array() && !endpoints.empty()) {
    text_table table({"webhook", "client", "status", "circuit", "tokens/rate", "high", "std",
                      "bulk", "waiting", "in flight", "next retry", "ok", "dlq", "retried",
                      "restarts", "last error", "url"});
    for (const auto& e : endpoints) {
      json queued = member(e, "queued");
      table.add_row({cell_text(member(e, "webhook_id")), cell_text(member(e, "client_id")),
                     cell_text(member(e, "status")), cell_text(member(e, "circuit")),
                     number(member(e, "tokens"), 1) + "/" + number(member(e, "rate_limit")),
                     number(member(queued, "high")), number(member(queued, "standard")),
                     number(member(queued, "bulk")), number(member(e, "waiting")),
                     number(member(e, "in_flight")), retry_text(e), number(member(e, "succeeded")),
                     number(member(e, "failed")), number(member(e, "retried")),
                     number(member(e, "restarts")), cell_text(member(e, "last_error")),
                     cell_text(member(e, "callback_url"))});
    }
    if (unanswered.is_array()) {
      for (const auto& id : unanswered) {
        table.add_row({cell_text(id), "-", "NOT ANSWERING"});
      }
    }
    std::ostringstream block;
    table.print(block);
    std::istringstream lines(block.str());
    for (std::string line; std::getline(lines, line);) out << "│    " << line << '\n';
  } else {
    out << "│    (no endpoint actors: they start when work arrives)\n";
  }
  const json dlq = member(tree, "dlq");
  json dlq_hooks = member(dlq, "webhooks");
  actor_line(out, "├─", "dlq", dlq,
             {{"parked", number(member(dlq, "total"))},
              {"in window", number(member(dlq, "in_window"))},
              {"webhooks", dlq_hooks.is_array() ? std::to_string(dlq_hooks.size()) : "-"}});
  const json writer = member(tree, "store_writer");
  actor_line(out, "├─", "store_writer", writer,
             {{"queued", number(member(writer, "queued"))},
              {"recorded", number(member(writer, "recorded"))},
              {"transactions", number(member(writer, "transactions"))},
              {"failures", number(member(writer, "failures"))},
              {"rejected", number(member(writer, "rejected"))}});
  const json http = member(tree, "http_client");
  actor_line(out, "└─", "http_client", http,
             {{"pending", number(member(http, "pending"))},
              {"running", number(member(http, "running"))},
              {"queued", number(member(http, "queued"))},
              {"completed", number(member(http, "completed"))}});
}

}  // namespace webhookctl
