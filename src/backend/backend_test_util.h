// Helpers for the backend tests: temporary directories and local backends
// in them. Test-only.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "backend/backend.h"
#include "backend/local/local_backend.h"

namespace cairn::backend {

// A fresh directory under $TMPDIR (or /tmp), removed with all it holds when
// destroyed.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/cairn-backend-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << pattern << " failed";
      return;
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A LocalBackend on "<new temp dir>/repo" (not created yet); the directory
// is removed when the last reference to the backend goes.
inline std::shared_ptr<LocalBackend> MakeTempLocalBackend() {
  auto dir = std::make_shared<TempDir>();
  Result<std::shared_ptr<LocalBackend>> backend = LocalBackend::Open(dir->path() + "/repo");
  if (!backend.ok()) {
    ADD_FAILURE() << backend.status().ToString();
    return nullptr;
  }
  std::shared_ptr<LocalBackend> inner = *backend;
  // Aliasing: the returned pointer keeps the backend and its directory.
  return std::shared_ptr<LocalBackend>(inner.get(), [inner, dir](LocalBackend*) mutable {
    inner.reset();
    dir.reset();
  });
}

}  // namespace cairn::backend
