#pragma once

#include <map>
#include <string>
#include <variant>
#include <vector>

namespace webhookd::app {

/// One `key = value` of a config file. Scalars (strings, booleans, integers) have one item;
/// arrays have one item per element. Every item is kept as text: the settings parser converts
/// and validates it.
struct config_file_value {
  std::vector<std::string> items;
  bool is_array = false;
  int line = 0;  ///< 1-based line of the key
};

/// The keys of a config file, by name.
using config_file_entries = std::map<std::string, config_file_value>;

/// Why a config file could not be read: one line, naming the file and, for syntax errors, the
/// line number.
struct config_file_error {
  std::string message;
};

/// Parses config file text: a subset of TOML with top-level keys only.
///
///   # comment
///   listen = "127.0.0.1:8080"                 # basic string ("\"", "\\", "\n", "\t", "\uXXXX")
///   store = 'sqlite:/var/lib/webhookd.db'     # literal string, no escapes
///   allow-http = true                         # boolean
///   http-threads = 64                         # integer
///   allow-private-targets = ["10.0.0.0/8",    # array of scalars, may span lines
///                            "::1/128"]
///
/// Keys are TOML bare keys (letters, digits, '-', '_'). Tables (`[section]`), dotted keys,
/// duplicate keys, unquoted text and anything else are errors. `source_name` names the file in
/// error messages.
std::variant<config_file_entries, config_file_error> parse_config_text(
    const std::string& text, const std::string& source_name);

/// Reads and parses the file at `path` (see parse_config_text).
std::variant<config_file_entries, config_file_error> read_config_file(const std::string& path);

}  // namespace webhookd::app
