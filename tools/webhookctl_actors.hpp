#pragma once

// `webhookctl actors`: the live actor tree of GET /api/v1/actors (admin) in the terminal.

#include <nlohmann/json.hpp>

#include <ostream>

namespace webhookctl {

/// Writes the tree: one line per long-lived actor (its rates and counters, or why it did not
/// answer), then the endpoint supervisor's endpoint actors as a table (webhook, client, status,
/// circuit, tokens/rate, queues, in flight, next retry, counters, last error, URL). Text from the
/// server passes through terminal_safe. Missing or odd fields print as "-", never throw.
void print_actor_tree(std::ostream& out, const nlohmann::json& tree);

}  // namespace webhookctl
