#include "http/request_body.hpp"

#include <utility>

namespace webhookd::http {

namespace {

// nlohmann's message without its "[json.exception.parse_error.101] parse error at line 1,
// column 5: " preamble, e.g. "syntax error while parsing object - unexpected '}'".
std::string parse_error_detail(const std::string& what) {
  auto column = what.find("column ");
  if (column != std::string::npos) {
    auto colon = what.find(": ", column);
    if (colon != std::string::npos) return what.substr(colon + 2);
  }
  auto bracket = what.find("] ");
  return bracket == std::string::npos ? what : what.substr(bracket + 2);
}

bool only_whitespace(const std::string& text) {
  return text.find_first_not_of(" \t\r\n") == std::string::npos;
}

}  // namespace

std::size_t find_excess_nesting(const std::string& text, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) return i;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return std::string::npos;
}

api_result<nlohmann::json> parse_json_object(const std::string& body, bool empty_is_object) {
  if (body.size() > max_management_body_bytes) {
    return api_error{413, "payload_too_large",
                     "body exceeds " + std::to_string(max_management_body_bytes) + " bytes",
                     std::nullopt};
  }
  if (empty_is_object && only_whitespace(body)) return nlohmann::json::object();
  auto deep = find_excess_nesting(body, max_json_depth);
  if (deep != std::string::npos) {
    return invalid_json("nesting deeper than " + std::to_string(max_json_depth) + " at byte " +
                        std::to_string(deep));
  }
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    return invalid_json("syntax error at byte " + std::to_string(e.byte) + ": " +
                        parse_error_detail(e.what()));
  } catch (const nlohmann::json::exception& e) {
    return invalid_json(std::string("invalid JSON: ") + e.what());
  }
  if (!doc.is_object()) return validation_failed("body: must be a JSON object");
  return doc;
}

}  // namespace webhookd::http
