#include "core/event_types.hpp"

namespace webhookd {

namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/// Checks dot-separated segments of [a-z0-9_-]; `what` names the thing in messages.
std::optional<std::string> segments_error(std::string_view text, const char* what) {
  std::size_t segment_start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '.') {
      if (i == segment_start)
        return std::string{what} + " has an empty segment at byte " + std::to_string(i) +
               " (segments are separated by single dots)";
      segment_start = i + 1;
      continue;
    }
    if (!is_name_char(text[i]))
      return std::string{what} + " has an invalid character at byte " + std::to_string(i) +
             " (allowed: a-z 0-9 _ - and . between segments)";
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> event_type_name_error(std::string_view name) {
  if (name.empty()) return std::string{"event type name is empty"};
  if (name.size() > max_event_type_length)
    return "event type name is longer than " + std::to_string(max_event_type_length) + " bytes";
  return segments_error(name, "event type name");
}

bool is_valid_event_type_name(std::string_view name) {
  return !event_type_name_error(name).has_value();
}

std::optional<std::string> event_pattern_error(std::string_view pattern) {
  if (pattern.empty()) return std::string{"event type pattern is empty"};
  if (pattern.size() > max_event_type_length)
    return "event type pattern is longer than " + std::to_string(max_event_type_length) + " bytes";
  if (pattern == "*") return std::nullopt;
  std::string_view stem = pattern;
  if (pattern.size() >= 2 && pattern.substr(pattern.size() - 2) == ".*")
    stem = pattern.substr(0, pattern.size() - 2);
  if (stem.find('*') != std::string_view::npos)
    return std::string{
        "event type pattern may use * only as its whole last segment "
        "(\"*\" or \"prefix.*\")"};
  return segments_error(stem, "event type pattern");
}

bool is_valid_event_pattern(std::string_view pattern) {
  return !event_pattern_error(pattern).has_value();
}

event_pattern_kind event_pattern_kind_of(std::string_view pattern) {
  if (pattern == "*") return event_pattern_kind::all;
  if (!pattern.empty() && pattern.back() == '*') return event_pattern_kind::prefix;
  return event_pattern_kind::exact;
}

std::string_view event_pattern_stem(std::string_view pattern) {
  switch (event_pattern_kind_of(pattern)) {
    case event_pattern_kind::all:
      return {};
    case event_pattern_kind::prefix:
      return pattern.substr(0, pattern.size() - 1);
    case event_pattern_kind::exact:
      break;
  }
  return pattern;
}

bool pattern_matches(std::string_view pattern, std::string_view type) {
  switch (event_pattern_kind_of(pattern)) {
    case event_pattern_kind::all:
      return true;
    case event_pattern_kind::prefix: {
      std::string_view stem = event_pattern_stem(pattern);
      return type.size() > stem.size() && type.substr(0, stem.size()) == stem;
    }
    case event_pattern_kind::exact:
      break;
  }
  return pattern == type;
}

}  // namespace webhookd
