// ASSERT_OK / EXPECT_OK for a Status or a Result<T>: on failure they print
// the expression and the status (code and message). Test-only.
//
//   ASSERT_OK(backend->Create());
//   EXPECT_OK(Catalog::Open(path));  // a Result<T>: only its status counts
#pragma once

#include <gtest/gtest.h>

#include "base/status.h"

namespace cairn::testing::internal {

// The status of either kind of value; a copy, so that the macros work on
// temporaries.
inline Status StatusOf(const Status& s) { return s; }
template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.status();
}

}  // namespace cairn::testing::internal

// Variadic, so that an expression with commas (template arguments, braced
// lists) needs no extra parentheses.
#define CAIRN_TESTING_CHECK_OK_(check, ...)                                                        \
  do {                                                                                             \
    const ::cairn::Status cairn_testing_status_ =                                                  \
        ::cairn::testing::internal::StatusOf(__VA_ARGS__);                                         \
    check(cairn_testing_status_.ok()) << #__VA_ARGS__ << ": " << cairn_testing_status_.ToString(); \
  } while (0)

#define ASSERT_OK(...) CAIRN_TESTING_CHECK_OK_(ASSERT_TRUE, __VA_ARGS__)
#define EXPECT_OK(...) CAIRN_TESTING_CHECK_OK_(EXPECT_TRUE, __VA_ARGS__)
