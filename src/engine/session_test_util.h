// What the session's tests share: a sandboxed HOME with its XDG folders and
// settings file, sessions made on it with the cheap KDF and an environment
// of the test's own (no real environment variable reaches them), and
// incompressible test content. Test-only.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/session.h"
#include "testing/file_util.h"
#include "testing/temp_dir.h"

namespace cairn::engine {

// Incompressible, distinct content (so nothing deduplicates).
inline std::string RandomContent(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 7;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return s;
}

class SessionFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    env_["HOME"] = home_.path();
    env_["XDG_DATA_HOME"] = home_.Sub("data");
    env_["XDG_CACHE_HOME"] = home_.Sub("cache");
    env_["XDG_CONFIG_HOME"] = home_.Sub("config");
    env_["CAIRN_LOCK_WAIT"] = "0";
    SetSettings("");
  }

  void SetSettings(const std::string& yaml) {
    testing::WriteFile(home_.Sub("settings.yaml"), yaml);
  }

  // Device "laptop", the repository at <home>/repo, the settings file above.
  SessionOptions Options() {
    SessionOptions o;
    o.repository = home_.Sub("repo");
    o.config_file = home_.Sub("settings.yaml");
    o.device = "laptop";
    o.cheap_kdf_for_tests = true;
    o.getenv = [this](const char* name) -> const char* {
      auto it = env_.find(name);
      return it == env_.end() ? nullptr : it->second.c_str();
    };
    o.notice = [this](const std::string& n) { notices_.push_back(n); };
    return o;
  }

  std::unique_ptr<Session> Make(SessionOptions o) {
    auto s = Session::Create(std::move(o));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }
  std::unique_ptr<Session> Make() { return Make(Options()); }

  // A repository with the password "pw".
  void InitRepository() {
    env_["CAIRN_PASSWORD"] = "pw";
    auto s = Make();
    ASSERT_NE(s, nullptr);
    auto init = s->Init("first");
    ASSERT_TRUE(init.ok()) << init.status().ToString();
  }

  std::string repo() const { return home_.Sub("repo"); }

  testing::TempDir home_;
  std::map<std::string, std::string> env_;
  std::vector<std::string> notices_;
};

}  // namespace cairn::engine
