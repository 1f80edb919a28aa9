#include <exception>
#include <iostream>
#include <string>
#include <variant>
#include <vector>

#include "app/config.hpp"
#include "app/logging.hpp"
#include "app/serve.hpp"
#include "app/token.hpp"
#include "app/version.hpp"

int main(int argc, char** argv) {
  using namespace webhookd::app;
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    auto parsed = parse_config(config_inputs{std::move(args), process_env, local_hostname()});
    if (auto* early = std::get_if<early_exit>(&parsed)) {
      if (early->code == exit_ok) {
        std::cout << early->text;
      } else {
        std::cerr << "webhookd: " << early->text << "\n";
      }
      return early->code;
    }
    const config& cfg = std::get<config>(parsed);
    switch (cfg.cmd) {
      case command::version:
        std::cout << "webhookd " << webhookd::version() << "\n";
        return exit_ok;
      case command::migrate:
        return run_migrate(cfg, std::cout, std::cerr);
      case command::serve:
        return run_serve(cfg, make_logger(cfg.log), std::cerr);
      case command::token: {
        webhookd::system_clock_source clock;
        return run_token(cfg, clock, std::cout, std::cerr);
      }
    }
    return exit_failure;
  } catch (const std::exception& e) {
    // A bug or resource exhaustion: one line, no stack trace.
    std::cerr << "webhookd: fatal: " << e.what() << "\n";
    return exit_failure;
  }
}
