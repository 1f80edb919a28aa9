// webhookctl: the command-line client of webhookd's management API (docs/api.md).

#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "webhookctl_cli.hpp"
#include "webhookctl_transport.hpp"

int main(int argc, char** argv) {
  try {
    webhookctl::curl_global curl;
    if (!curl.ok()) {
      std::cerr << "error: cannot initialise libcurl\n";
      return webhookctl::exit_unreachable;
    }
    const std::vector<std::string> args(argv + 1, argv + argc);
    const webhookctl::env_lookup env = [](const std::string& name) -> std::optional<std::string> {
      const char* value = std::getenv(name.c_str());
      if (value == nullptr) return std::nullopt;
      return std::string(value);
    };
    const webhookctl::transport_factory make_transport =
        [](const webhookctl::connection_settings& settings) {
          return std::make_unique<webhookctl::curl_transport>(settings);
        };
    return webhookctl::run(args, env, make_transport, std::cout, std::cerr);
  } catch (const std::exception& e) {
    // Out of memory or a bug: one line, no stack trace.
    std::cerr << "webhookctl: fatal: " << e.what() << "\n";
    return webhookctl::exit_api_error;
  }
}
