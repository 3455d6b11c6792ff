// The conformance suite every Backend implementation must pass: the
// contracts written in backend.h, checked through the interface only.
// Test-only (the cairn_backend_conformance OBJECT library).
//
// Usage, in a backend's test file:
//
//   INSTANTIATE_TEST_SUITE_P(
//       Local, BackendConformanceTest,
//       ::testing::Values(BackendFactory{"Local", [] { return MakeFreshLocalBackend(); }}),
//       BackendFactoryName);
//
// `make` is called once per test and must return a backend on a fresh,
// empty location (it need not exist yet: each test calls Create()); the
// location should be cleaned up when the returned backend is destroyed.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "backend/backend.h"

namespace cairn::testing {

struct BackendFactory {
  std::string name;  // letters, digits and '_' (it names the tests)
  std::function<std::shared_ptr<backend::Backend>()> make;
};

// For INSTANTIATE_TEST_SUITE_P: names each instantiation after the factory.
std::string BackendFactoryName(const ::testing::TestParamInfo<BackendFactory>& info);
// Keeps gtest from printing the factory's bytes.
void PrintTo(const BackendFactory& factory, std::ostream* os);

class BackendConformanceTest : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;

  std::shared_ptr<backend::Backend> backend_;
};

}  // namespace cairn::testing
