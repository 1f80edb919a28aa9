#pragma once

#include <optional>
#include <utility>
#include <variant>

namespace webhookd {

/// Either a value of type T or an error of type E. The result type of the crypto building blocks
/// (crypto, jwt, webhook_signature, source_signature); each module brings its own error type with
/// a machine code and a message. T and E must be different types.
template <class T, class E>
class [[nodiscard]] outcome {
 public:
  outcome(T value) : data_(std::in_place_index<0>, std::move(value)) {}
  outcome(E err) : data_(std::in_place_index<1>, std::move(err)) {}

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
  const E& err() const { return std::get<1>(data_); }

 private:
  std::variant<T, E> data_;
};

/// Success without a value, or an error of type E.
template <class E>
class [[nodiscard]] outcome<void, E> {
 public:
  outcome() = default;
  outcome(E err) : err_(std::move(err)) {}

  bool ok() const { return !err_.has_value(); }
  explicit operator bool() const { return ok(); }

  /// Precondition: !ok().
  const E& err() const { return *err_; }

 private:
  std::optional<E> err_;
};

}  // namespace webhookd
