// Whole numbers from the JSON objects of the format (config, key slots,
// locks, the generation). nlohmann's get<T>() converts a fraction or an
// exponent (1e30) with a C++ cast, undefined behaviour when out of T's
// range, and wraps integers that do not fit: a field that is not a whole
// number within T's range is refused instead (the callers answer
// Corruption). Internal to src/repo.
// Thread-safety: a pure function.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>

#include <nlohmann/json.hpp>

namespace cairn::repo {

template <typename T>
std::optional<T> WholeNumber(const nlohmann::json& v) {
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<T>::max())) return std::nullopt;
    return static_cast<T>(u);
  }
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if constexpr (std::is_unsigned_v<T>) {
      if (i < 0 || static_cast<uint64_t>(i) > std::numeric_limits<T>::max()) return std::nullopt;
    } else if constexpr (sizeof(T) < sizeof(int64_t)) {
      if (i < std::numeric_limits<T>::min() || i > std::numeric_limits<T>::max())
        return std::nullopt;
    }
    return static_cast<T>(i);
  }
  return std::nullopt;
}

}  // namespace cairn::repo
