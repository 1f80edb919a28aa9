#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace webhookd::storage {

/// Why a store call failed. Adapters map library exceptions onto these codes.
enum class errc {
  not_found,    ///< no such row, or it belongs to another client
  conflict,     ///< a unique key is taken (e.g. a source api key)
  invalid,      ///< the caller passed something the store can't hold
  unavailable,  ///< the backend can't be reached right now; retrying later may work
  internal,     ///< anything else: a bug or a corrupt store
};

/// Short stable name of an error code ("not_found", ...).
const char* to_string(errc code);

/// A failed store call: a code callers branch on and a message for humans.
struct error {
  errc code = errc::internal;
  std::string message;
};

/// Either a value or an error. Results of store calls must be looked at.
template <class T>
class [[nodiscard]] result {
public:
  result(T value) : data_(std::move(value)) {}
  result(error err) : data_(std::move(err)) {}

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
  const error& err() const { return std::get<1>(data_); }

private:
  std::variant<T, error> data_;
};

/// A store call that returns nothing on success.
class [[nodiscard]] status {
public:
  status() = default;
  status(error err) : err_(std::move(err)) {}

  bool ok() const { return !err_.has_value(); }
  explicit operator bool() const { return ok(); }

  /// Precondition: !ok().
  const error& err() const { return *err_; }

private:
  std::optional<error> err_;
};

}  // namespace webhookd::storage
