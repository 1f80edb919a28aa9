#include "core/trigger_filter.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace webhookd {

using json = nlohmann::json;

namespace detail {

/// One step of a dotted path. Objects are always looked up by `key`; arrays only by `index`,
/// and only when the segment is a canonical decimal index.
struct path_segment {
  std::string key;
  std::size_t index = 0;
  bool is_index = false;
};

enum class op_kind { eq, ne, gt, gte, lt, lte, in, nin, exists, not_ };

/// One operator applied to the value at a field's path.
struct field_test {
  op_kind kind = op_kind::eq;
  /// eq/ne: any value; gt..lte: a number or string; in/nin: an array.
  json operand;
  /// exists: the wanted presence; in/nin: whether the operand array holds null.
  bool flag = false;
  /// not_: the operator object it negates (ANDed).
  std::vector<field_test> negated;
};

struct clause;
/// Clauses that must all hold (the body of a clause object).
using clause_group = std::vector<clause>;

struct clause {
  enum class kind { field, all_of, any_of, none_of };
  kind type = kind::field;
  std::vector<path_segment> path;    // field
  std::vector<field_test> tests;     // field, ANDed
  std::vector<clause_group> groups;  // all_of / any_of; none_of holds exactly one
};

struct filter_program {
  json source;
  clause_group root;
};

}  // namespace detail

namespace {

using detail::clause;
using detail::clause_group;
using detail::field_test;
using detail::op_kind;
using detail::path_segment;

// ---------------------------------------------------------------------------------------------
// Value comparison

/// Three-way result of comparing two values; `unordered` when they can't be compared.
enum class order { less, equal, greater, unordered };

template <class T>
order three_way(T a, T b) {
  return a < b ? order::less : (b < a ? order::greater : order::equal);
}

order flip(order o) {
  if (o == order::less) return order::greater;
  if (o == order::greater) return order::less;
  return o;
}

/// Exact comparison of a double with an int64 (no rounding of the integer through double).
order compare_double_int(double d, int64_t i) {
  if (std::isnan(d)) return order::unordered;
  constexpr double two_63 = 9223372036854775808.0;
  if (d < -two_63) return order::less;
  if (d >= two_63) return order::greater;
  double whole = std::trunc(d);
  auto whole_int = static_cast<int64_t>(whole);
  if (whole_int != i) return three_way(whole_int, i);
  double fraction = d - whole;
  return fraction > 0 ? order::greater : (fraction < 0 ? order::less : order::equal);
}

/// Exact comparison of a double with a uint64.
order compare_double_uint(double d, uint64_t u) {
  if (std::isnan(d)) return order::unordered;
  constexpr double two_64 = 18446744073709551616.0;
  if (d < 0) return order::less;
  if (d >= two_64) return order::greater;
  double whole = std::trunc(d);
  auto whole_uint = static_cast<uint64_t>(whole);
  if (whole_uint != u) return three_way(whole_uint, u);
  return d - whole > 0 ? order::greater : order::equal;
}

/// Numeric comparison across JSON's integer, unsigned and floating-point representations.
/// Precondition: both are numbers.
order compare_numbers(const json& a, const json& b) {
  using vt = json::value_t;
  const vt ta = a.type();
  const vt tb = b.type();
  if (ta == vt::number_float) {
    double da = a.get_ref<const json::number_float_t&>();
    if (tb == vt::number_float) {
      double db = b.get_ref<const json::number_float_t&>();
      if (std::isnan(da) || std::isnan(db)) return order::unordered;
      return three_way(da, db);
    }
    if (tb == vt::number_integer)
      return compare_double_int(da, b.get_ref<const json::number_integer_t&>());
    return compare_double_uint(da, b.get_ref<const json::number_unsigned_t&>());
  }
  if (tb == vt::number_float) return flip(compare_numbers(b, a));
  if (ta == vt::number_integer && tb == vt::number_integer)
    return three_way(a.get_ref<const json::number_integer_t&>(),
                     b.get_ref<const json::number_integer_t&>());
  if (ta == vt::number_unsigned && tb == vt::number_unsigned)
    return three_way(a.get_ref<const json::number_unsigned_t&>(),
                     b.get_ref<const json::number_unsigned_t&>());
  if (ta == vt::number_integer) {  // signed vs unsigned
    int64_t i = a.get_ref<const json::number_integer_t&>();
    if (i < 0) return order::less;
    return three_way(static_cast<uint64_t>(i), b.get_ref<const json::number_unsigned_t&>());
  }
  return flip(compare_numbers(b, a));
}

/// Deep equality; numbers compare by value whatever their representation (1 == 1.0).
bool values_equal(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) return compare_numbers(a, b) == order::equal;
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case json::value_t::null:
      return true;
    case json::value_t::boolean:
      return a.get_ref<const json::boolean_t&>() == b.get_ref<const json::boolean_t&>();
    case json::value_t::string:
      return a.get_ref<const json::string_t&>() == b.get_ref<const json::string_t&>();
    case json::value_t::array: {
      const auto& xs = a.get_ref<const json::array_t&>();
      const auto& ys = b.get_ref<const json::array_t&>();
      if (xs.size() != ys.size()) return false;
      for (std::size_t i = 0; i < xs.size(); ++i)
        if (!values_equal(xs[i], ys[i])) return false;
      return true;
    }
    case json::value_t::object: {
      const auto& xs = a.get_ref<const json::object_t&>();
      const auto& ys = b.get_ref<const json::object_t&>();
      if (xs.size() != ys.size()) return false;
      for (const auto& [key, value] : xs) {
        auto it = ys.find(key);
        if (it == ys.end() || !values_equal(value, it->second)) return false;
      }
      return true;
    }
    case json::value_t::binary:
      return a == b;
    default:
      return false;
  }
}

/// Ordering for $gt/$gte/$lt/$lte: numbers numerically, strings by bytes (UTF-8 code point
/// order); anything else, or a mix of types, is unordered.
order compare_ordered(const json& value, const json& operand) {
  if (value.is_number() && operand.is_number()) return compare_numbers(value, operand);
  if (value.is_string() && operand.is_string()) {
    int c =
        value.get_ref<const json::string_t&>().compare(operand.get_ref<const json::string_t&>());
    return c < 0 ? order::less : (c > 0 ? order::greater : order::equal);
  }
  return order::unordered;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/// The value at `path`, or nullptr when the path leads nowhere.
const json* resolve(const std::vector<path_segment>& path, const json& body) {
  const json* current = &body;
  for (const auto& segment : path) {
    if (current->is_object()) {
      const auto& object = current->get_ref<const json::object_t&>();
      auto it = object.find(segment.key);
      if (it == object.end()) return nullptr;
      current = &it->second;
    } else if (current->is_array()) {
      const auto& array = current->get_ref<const json::array_t&>();
      if (!segment.is_index || segment.index >= array.size()) return nullptr;
      current = &array[segment.index];
    } else {
      return nullptr;
    }
  }
  return current;
}

bool eq_match(const json* value, const json& operand) {
  if (value == nullptr) return operand.is_null();
  if (values_equal(*value, operand)) return true;
  if (value->is_array())
    for (const auto& element : value->get_ref<const json::array_t&>())
      if (values_equal(element, operand)) return true;
  return false;
}

bool in_match(const json* value, const field_test& test) {
  if (value == nullptr) return test.flag;
  for (const auto& candidate : test.operand.get_ref<const json::array_t&>())
    if (eq_match(value, candidate)) return true;
  return false;
}

bool ordered_holds(op_kind kind, order o) {
  switch (kind) {
    case op_kind::gt:
      return o == order::greater;
    case op_kind::gte:
      return o == order::greater || o == order::equal;
    case op_kind::lt:
      return o == order::less;
    case op_kind::lte:
      return o == order::less || o == order::equal;
    default:
      return false;
  }
}

bool ordered_match(const json* value, const field_test& test) {
  if (value == nullptr) return false;
  if (ordered_holds(test.kind, compare_ordered(*value, test.operand))) return true;
  if (value->is_array())
    for (const auto& element : value->get_ref<const json::array_t&>())
      if (ordered_holds(test.kind, compare_ordered(element, test.operand))) return true;
  return false;
}

bool all_tests_match(const std::vector<field_test>& tests, const json* value);

bool test_matches(const field_test& test, const json* value) {
  switch (test.kind) {
    case op_kind::eq:
      return eq_match(value, test.operand);
    case op_kind::ne:
      return !eq_match(value, test.operand);
    case op_kind::gt:
    case op_kind::gte:
    case op_kind::lt:
    case op_kind::lte:
      return ordered_match(value, test);
    case op_kind::in:
      return in_match(value, test);
    case op_kind::nin:
      return !in_match(value, test);
    case op_kind::exists:
      return (value != nullptr) == test.flag;
    case op_kind::not_:
      return !all_tests_match(test.negated, value);
  }
  return false;
}

bool all_tests_match(const std::vector<field_test>& tests, const json* value) {
  for (const auto& test : tests)
    if (!test_matches(test, value)) return false;
  return true;
}

bool group_matches(const clause_group& group, const json& body);

bool clause_matches(const clause& c, const json& body) {
  switch (c.type) {
    case clause::kind::field:
      return all_tests_match(c.tests, resolve(c.path, body));
    case clause::kind::all_of:
      for (const auto& group : c.groups)
        if (!group_matches(group, body)) return false;
      return true;
    case clause::kind::any_of:
      for (const auto& group : c.groups)
        if (group_matches(group, body)) return true;
      return false;
    case clause::kind::none_of:
      return !group_matches(c.groups.front(), body);
  }
  return false;
}

bool group_matches(const clause_group& group, const json& body) {
  for (const auto& c : group)
    if (!clause_matches(c, body)) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Validation and compilation

/// Appends `token` to a JSON pointer, escaped per RFC 6901.
void append_pointer_token(std::string& pointer, std::string_view token) {
  pointer.push_back('/');
  for (char c : token) {
    if (c == '~')
      pointer.append("~0");
    else if (c == '/')
      pointer.append("~1");
    else
      pointer.push_back(c);
  }
}

bool is_field_operator(std::string_view name) {
  return name == "$eq" || name == "$ne" || name == "$gt" || name == "$gte" || name == "$lt" ||
         name == "$lte" || name == "$in" || name == "$nin" || name == "$exists";
}

bool starts_with_dollar(std::string_view s) {
  return !s.empty() && s.front() == '$';
}

/// Walks the document once to enforce filter_limits before anything recurses on it.
class limits_checker {
 public:
  explicit limits_checker(const filter_limits& limits) : limits_(limits) {}

  std::optional<filter_error> check(const json& document) {
    std::string pointer;
    if (!visit(document, 0, pointer)) return std::move(error_);
    return std::nullopt;
  }

 private:
  bool fail(const std::string& pointer, std::string message) {
    error_ = filter_error{pointer, std::nullopt, std::move(message)};
    return false;
  }

  bool count_text(const std::string& pointer, std::size_t bytes) {
    text_bytes_ += bytes;
    if (text_bytes_ > limits_.max_text_bytes)
      return fail(pointer, "filter too large: more than " + std::to_string(limits_.max_text_bytes) +
                               " bytes of keys and strings");
    return true;
  }

  bool visit(const json& value, std::size_t depth, std::string& pointer) {
    if (++values_ > limits_.max_values)
      return fail(pointer,
                  "filter too large: more than " + std::to_string(limits_.max_values) + " values");
    if (value.is_string())
      return count_text(pointer, value.get_ref<const json::string_t&>().size());
    if (!value.is_object() && !value.is_array()) return true;
    if (depth + 1 > limits_.max_depth)
      return fail(pointer, "filter nested too deeply: more than " +
                               std::to_string(limits_.max_depth) + " levels");
    const std::size_t mark = pointer.size();
    if (value.is_object()) {
      for (const auto& [key, child] : value.get_ref<const json::object_t&>()) {
        append_pointer_token(pointer, key);
        if (!count_text(pointer, key.size()) || !visit(child, depth + 1, pointer)) return false;
        pointer.resize(mark);
      }
    } else {
      const auto& array = value.get_ref<const json::array_t&>();
      for (std::size_t i = 0; i < array.size(); ++i) {
        append_pointer_token(pointer, std::to_string(i));
        if (!visit(array[i], depth + 1, pointer)) return false;
        pointer.resize(mark);
      }
    }
    return true;
  }

  const filter_limits& limits_;
  std::size_t values_ = 0;
  std::size_t text_bytes_ = 0;
  std::optional<filter_error> error_;
};

/// Turns a checked document into clauses, stopping at the first error. Callers run
/// limits_checker first, so recursion is bounded by max_depth.
class compiler {
 public:
  std::optional<filter_error> compile(const json& document, clause_group& out) {
    if (!document.is_object()) {
      fail("a filter must be a JSON object");
      return std::move(error_);
    }
    if (!compile_group(document, out)) return std::move(error_);
    return std::nullopt;
  }

 private:
  /// Extends the current pointer by one token for its lifetime.
  class scoped_token {
   public:
    scoped_token(std::string& pointer, std::string_view token)
        : pointer_(pointer), mark_(pointer.size()) {
      append_pointer_token(pointer_, token);
    }
    ~scoped_token() { pointer_.resize(mark_); }
    scoped_token(const scoped_token&) = delete;
    scoped_token& operator=(const scoped_token&) = delete;

   private:
    std::string& pointer_;
    std::size_t mark_;
  };

  bool fail(std::string message) {
    error_ = filter_error{pointer_, std::nullopt, std::move(message)};
    return false;
  }

  /// A clause object: field conditions and $and/$or/$not, all of which must hold.
  bool compile_group(const json& object, clause_group& out) {
    for (const auto& [key, value] : object.get_ref<const json::object_t&>()) {
      scoped_token token{pointer_, key};
      clause c;
      if (key == "$and" || key == "$or") {
        c.type = key == "$and" ? clause::kind::all_of : clause::kind::any_of;
        if (!value.is_array() || value.empty())
          return fail("expected a non-empty array of objects");
        const auto& array = value.get_ref<const json::array_t&>();
        for (std::size_t i = 0; i < array.size(); ++i) {
          scoped_token index{pointer_, std::to_string(i)};
          if (!array[i].is_object()) return fail("expected an object");
          c.groups.emplace_back();
          if (!compile_group(array[i], c.groups.back())) return false;
        }
      } else if (key == "$not") {
        c.type = clause::kind::none_of;
        if (!value.is_object() || value.empty())
          return fail("expected a non-empty object of clauses");
        c.groups.emplace_back();
        if (!compile_group(value, c.groups.back())) return false;
      } else if (is_field_operator(key)) {
        return fail(key + " must be used inside a field condition, e.g. {\"data.amount\": {\"" +
                    key + "\": ...}}");
      } else if (starts_with_dollar(key)) {
        return fail("unknown operator " + key);
      } else {
        c.type = clause::kind::field;
        if (!compile_path(key, c.path)) return false;
        if (value.is_object() && has_operator_key(value)) {
          if (!compile_operators(value, c.tests)) return false;
        } else {
          field_test test;
          test.kind = op_kind::eq;
          test.operand = value;
          c.tests.push_back(std::move(test));
        }
      }
      out.push_back(std::move(c));
    }
    return true;
  }

  static bool has_operator_key(const json& object) {
    for (const auto& item : object.get_ref<const json::object_t&>())
      if (starts_with_dollar(item.first)) return true;
    return false;
  }

  bool compile_path(const std::string& text, std::vector<path_segment>& out) {
    if (text.empty()) return fail("empty path");
    std::size_t start = 0;
    while (true) {
      std::size_t dot = text.find('.', start);
      std::string_view segment{text.data() + start,
                               (dot == std::string::npos ? text.size() : dot) - start};
      if (segment.empty()) return fail("empty segment in path \"" + text + "\"");
      path_segment s;
      s.key = std::string{segment};
      s.is_index = is_canonical_index(segment, s.index);
      out.push_back(std::move(s));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    return true;
  }

  /// "0", "7", "42" but not "01", "-1" or numbers too large to be an index.
  static bool is_canonical_index(std::string_view s, std::size_t& index) {
    if (s.empty() || s.size() > 18) return false;
    if (s.size() > 1 && s.front() == '0') return false;
    std::size_t value = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      value = value * 10 + static_cast<std::size_t>(c - '0');
    }
    index = value;
    return true;
  }

  /// An operator object such as {"$gte": 100, "$lt": 200}; all operators must hold.
  bool compile_operators(const json& object, std::vector<field_test>& out) {
    for (const auto& [name, operand] : object.get_ref<const json::object_t&>()) {
      scoped_token token{pointer_, name};
      field_test test;
      test.operand = operand;
      if (name == "$eq") {
        test.kind = op_kind::eq;
      } else if (name == "$ne") {
        test.kind = op_kind::ne;
      } else if (name == "$gt" || name == "$gte" || name == "$lt" || name == "$lte") {
        test.kind = name == "$gt"    ? op_kind::gt
                    : name == "$gte" ? op_kind::gte
                    : name == "$lt"  ? op_kind::lt
                                     : op_kind::lte;
        if (!operand.is_number() && !operand.is_string())
          return fail("expected a number or string");
        if (operand.is_number_float() && !std::isfinite(operand.get<double>()))
          return fail("expected a finite number");
      } else if (name == "$in" || name == "$nin") {
        test.kind = name == "$in" ? op_kind::in : op_kind::nin;
        if (!operand.is_array()) return fail("expected an array");
        for (const auto& candidate : operand)
          if (candidate.is_null()) test.flag = true;
      } else if (name == "$exists") {
        test.kind = op_kind::exists;
        if (!operand.is_boolean()) return fail("expected true or false");
        test.flag = operand.get<bool>();
        test.operand = nullptr;
      } else if (name == "$not") {
        test.kind = op_kind::not_;
        test.operand = nullptr;
        if (!operand.is_object() || operand.empty() || !all_operator_keys(operand))
          return fail("expected an object of operators, e.g. {\"$gt\": 5}");
        if (!compile_operators(operand, test.negated)) return false;
      } else if (name == "$and" || name == "$or") {
        return fail(name + " takes clauses, not a field's value: write {\"" + name +
                    "\": [{\"path\": ...}, ...]} at the clause level");
      } else if (starts_with_dollar(name)) {
        return fail("unknown operator " + name);
      } else {
        return fail(
            "expected an operator: an object with $-keys holds only operators "
            "(to compare with such an object use $eq)");
      }
      out.push_back(std::move(test));
    }
    return true;
  }

  static bool all_operator_keys(const json& object) {
    for (const auto& item : object.get_ref<const json::object_t&>())
      if (!starts_with_dollar(item.first)) return false;
    return true;
  }

  std::string pointer_;
  std::optional<filter_error> error_;
};

}  // namespace

std::string filter_error::to_string() const {
  if (offset) return "byte " + std::to_string(*offset) + ": " + message;
  if (pointer.empty()) return message;
  return pointer + ": " + message;
}

trigger_filter::trigger_filter()
    : program_(
          std::make_shared<detail::filter_program>(detail::filter_program{json::object(), {}})) {}

trigger_filter::trigger_filter(std::shared_ptr<const detail::filter_program> program)
    : program_(std::move(program)) {}

bool trigger_filter::empty() const {
  return program_->root.empty();
}

const json& trigger_filter::source() const {
  return program_->source;
}

bool trigger_filter::matches(const json& body) const {
  return group_matches(program_->root, body);
}

filter_result<trigger_filter> parse_trigger_filter(const json& document,
                                                   const filter_limits& limits) {
  if (auto err = limits_checker{limits}.check(document)) return std::move(*err);
  auto program = std::make_shared<detail::filter_program>();
  if (auto err = compiler{}.compile(document, program->root)) return std::move(*err);
  program->source = document;
  return trigger_filter{std::move(program)};
}

filter_result<trigger_filter> parse_trigger_filter_text(std::string_view text,
                                                        const filter_limits& limits) {
  json document;
  try {
    document = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    // e.byte is 1-based: the position of the last character read.
    // what() is "[json.exception.parse_error.N] parse error at line L, column C: <reason>".
    std::string what = e.what();
    auto colon = what.find(": ");
    std::string reason = colon == std::string::npos ? what : what.substr(colon + 2);
    return filter_error{"", e.byte > 0 ? e.byte - 1 : 0, "invalid JSON: " + reason};
  }
  return parse_trigger_filter(document, limits);
}

}  // namespace webhookd
