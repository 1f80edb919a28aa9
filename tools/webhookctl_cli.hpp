#pragma once

// webhookctl's command line: parses the arguments (CLI11), turns them into API requests, sends
// them through a transport and prints tables, records or JSON.
//
//   webhookctl [--url SERVER] [--token JWT] [--json] [--timeout S] <group> <command> [args]
//
// Groups: webhooks (create, list, get, update, delete, rotate-secret), event-types (list,
// create), sources (create, list, get, update, delete); actors (the live actor tree, admin);
// deliveries (list, get, resend), events deliveries, attempts, dlq (list, replay), tail.
// See docs/api.md.

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "webhookctl_transport.hpp"

namespace webhookctl {

/// Exit codes.
inline constexpr int exit_ok = 0;
/// The server answered with an error (printed as "error: <code>: <message>").
inline constexpr int exit_api_error = 1;
/// The server could not be reached, or the command line was wrong.
inline constexpr int exit_unreachable = 2;
inline constexpr int exit_usage = 2;

/// The server used when neither --url nor WEBHOOKD_URL says otherwise.
inline constexpr const char* default_server_url = "http://127.0.0.1:8080";

/// Reads an environment variable; nullopt when it is not set.
using env_lookup = std::function<std::optional<std::string>(const std::string& name)>;

/// Makes the transport once the connection settings are known. Called at most once per run, and
/// only when a request is about to be sent.
using transport_factory =
    std::function<std::unique_ptr<transport>(const connection_settings& settings)>;

/// Runs one webhookctl command. `args` excludes the program name. The server URL comes from
/// --url (alias --server), else WEBHOOKD_URL, else default_server_url; the token from --token,
/// else WEBHOOKD_TOKEN. Results go to `out`, errors to `err`; returns the exit code.
int run(const std::vector<std::string>& args, const env_lookup& env,
        const transport_factory& make_transport, std::ostream& out, std::ostream& err);

/// A header given as "Name: value" (name before the first ':', both trimmed). nullopt when the
/// name is empty or the text has no ':'.
std::optional<std::pair<std::string, std::string>> parse_header_arg(const std::string& text);

}  // namespace webhookctl
