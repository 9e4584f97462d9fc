// A value-or-error result with the member names of C++23 std::expected, so that the switch to
// the standard type later is a one-line alias. g++ 12 in C++20 mode has no std::expected.
//
// Contract: an Expected<T, E> holds exactly one of a T or an E. value() and error() must only be
// called on the matching state (checked with assert in debug builds). Not thread-safe beyond
// the usual const-correctness of its members.
#ifndef MDU_CORE_COMMON_EXPECTED_H_
#define MDU_CORE_COMMON_EXPECTED_H_

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

namespace mdu {

template <class E>
class Unexpected {
 public:
  explicit Unexpected(E error) : error_(std::move(error)) {}
  const E& error() const& { return error_; }
  E&& error() && { return std::move(error_); }

 private:
  E error_;
};

template <class T, class E>
class [[nodiscard]] Expected {
 public:
  using value_type = T;
  using error_type = E;

  template <class U = T,
            class = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                     !std::is_same_v<std::decay_t<U>, Expected> &&
                                     !std::is_same_v<std::decay_t<U>, Unexpected<E>>>>
  Expected(U&& value) : state_(std::in_place_index<0>, std::forward<U>(value)) {}  // NOLINT
  Expected(Unexpected<E> unexpected)                                                // NOLINT
      : state_(std::in_place_index<1>, std::move(unexpected).error()) {}

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { assert(has_value()); return std::get<0>(state_); }
  const T& value() const& { assert(has_value()); return std::get<0>(state_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(state_)); }
  const E& error() const& { assert(!has_value()); return std::get<1>(state_); }
  E&& error() && { assert(!has_value()); return std::get<1>(std::move(state_)); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  template <class U>
  T value_or(U&& fallback) const& {
    return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, E> state_;
};

template <class E>
class [[nodiscard]] Expected<void, E> {
 public:
  using value_type = void;
  using error_type = E;

  Expected() = default;
  Expected(Unexpected<E> unexpected) : error_(std::move(unexpected).error()), ok_(false) {}  // NOLINT

  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  void value() const { assert(ok_); }
  const E& error() const& { assert(!ok_); return error_; }
  E&& error() && { assert(!ok_); return std::move(error_); }

 private:
  E error_{};
  bool ok_ = true;
};

}  // namespace mdu

#endif  // MDU_CORE_COMMON_EXPECTED_H_
