#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

namespace webhookd {

/// Why a trigger filter was rejected at registration.
struct filter_error {
  /// RFC 6901 JSON pointer into the filter document naming the offending value, e.g.
  /// "/data.amount/$gte" or "/$or/1". Empty when the error concerns the document as a whole
  /// (not an object, a JSON syntax error).
  std::string pointer;
  /// Byte offset (0-based) into the filter text, set only for JSON syntax errors reported by
  /// parse_trigger_filter_text.
  std::optional<std::size_t> offset;
  /// What is wrong, for humans, e.g. "expected a number or string".
  std::string message;

  /// "<pointer>: <message>", "byte <offset>: <message>" or just the message.
  std::string to_string() const;
};

/// Either a value or a filter_error. Results must be looked at.
template <class T>
class [[nodiscard]] filter_result {
 public:
  filter_result(T value) : data_(std::move(value)) {}
  filter_result(filter_error err) : data_(std::move(err)) {}

  bool ok() const { return data_.index() == 0; }
  explicit operator bool() const { return ok(); }

  /// Precondition: ok().
  T& value() { return std::get<0>(data_); }
  const T& value() const { return std::get<0>(data_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  /// Precondition: !ok().
  const filter_error& err() const { return std::get<1>(data_); }

 private:
  std::variant<T, filter_error> data_;
};

/// Bounds checked by parse_trigger_filter; the defaults are what registration uses.
struct filter_limits {
  /// Deepest nesting of objects and arrays in the filter document (the top object is depth 1).
  std::size_t max_depth = 32;
  /// Most JSON values in the document (every object, array, string, number, bool, null).
  std::size_t max_values = 1024;
  /// Most bytes of text in the document: every object key plus every string value.
  std::size_t max_text_bytes = 16 * 1024;
};

namespace detail {
struct filter_program;
}  // namespace detail

/// A validated, compiled trigger filter (the language is documented in docs/filters.md).
/// Immutable; copies share the compiled program, so copying is cheap and a filter may be
/// evaluated from many threads at once. A default-constructed filter has no conditions and
/// matches every body.
class trigger_filter {
 public:
  /// The empty filter: matches everything.
  trigger_filter();

  /// True when the filter has no conditions (the empty document `{}`).
  bool empty() const;

  /// The filter document as it was registered (`{}` for the default filter).
  const nlohmann::json& source() const;

  /// Whether `body` (the delivered event, `{"id","type","timestamp","client_id","data"}`)
  /// satisfies the filter. Never throws, never re-parses, allocates nothing.
  bool matches(const nlohmann::json& body) const;

 private:
  friend filter_result<trigger_filter> parse_trigger_filter(const nlohmann::json&,
                                                            const filter_limits&);
  explicit trigger_filter(std::shared_ptr<const detail::filter_program> program);

  std::shared_ptr<const detail::filter_program> program_;
};

/// Validates and compiles a filter document. Every problem is reported with the JSON pointer of
/// the offending value: unknown operators, wrong operand types, empty paths, mixed operator and
/// field keys, and the limits above.
filter_result<trigger_filter> parse_trigger_filter(const nlohmann::json& document,
                                                   const filter_limits& limits = {});

/// Parses `text` as JSON, then as parse_trigger_filter does. A JSON syntax error is reported with
/// its byte offset in `text`.
filter_result<trigger_filter> parse_trigger_filter_text(std::string_view text,
                                                        const filter_limits& limits = {});

/// Same as filter.matches(body).
inline bool matches(const trigger_filter& filter, const nlohmann::json& body) {
  return filter.matches(body);
}

}  // namespace webhookd
