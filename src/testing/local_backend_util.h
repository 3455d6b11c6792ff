// A LocalBackend in a temporary directory, for backend tests. Test-only.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "backend/local/local_backend.h"
#include "testing/temp_dir.h"

namespace cairn::testing {

// A LocalBackend on "<new temp dir>/repo" (not created yet); the directory
// is removed when the last reference to the backend goes.
inline std::shared_ptr<backend::LocalBackend> MakeTempLocalBackend() {
  auto dir = std::make_shared<TempDir>();
  Result<std::shared_ptr<backend::LocalBackend>> local =
      backend::LocalBackend::Open(dir->path() + "/repo");
  if (!local.ok()) {
    ADD_FAILURE() << local.status().ToString();
    return nullptr;
  }
  std::shared_ptr<backend::LocalBackend> inner = *local;
  // Aliasing: the returned pointer keeps the backend and its directory.
  return std::shared_ptr<backend::LocalBackend>(inner.get(),
                                                [inner, dir](backend::LocalBackend*) mutable {
                                                  inner.reset();
                                                  dir.reset();
                                                });
}

}  // namespace cairn::testing
