// Azurite, the Azure Storage emulator from npm, as a child process of a
// test. Test-only.
//
// StartAzurite() runs tests/azurite/ensure_azurite.sh (which installs the
// pinned azurite into $CAIRN_NPM_CACHE, default ~/.cache/cairn-npm, when
// missing), starts `azurite-blob --blobHost 127.0.0.1 --blobPort 0 --silent
// --disableTelemetry --inMemoryPersistence` and reads the port it chose
// from "successfully listens on http://127.0.0.1:PORT". The server gets
// SIGTERM when the Azurite object is destroyed (and when the test process
// dies: PR_SET_PDEATHSIG).
//
// Availability: without node and npm the Azure tests cannot run. In CI
// (CI=true) that is a failure; elsewhere the tests are skipped with the
// reason (AzuriteUnavailableReason()).
// REQUIRES: StartAzurite/SharedAzurite are called from the main thread
// (PR_SET_PDEATHSIG follows the thread that forked).
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <memory>
#include <string>

#include "backend/azure/connection_string.h"
#include "base/status.h"

namespace cairn::testing {

struct AzuriteOptions {
  // For the official JS SDK, which sends a newer API version than Azurite
  // 3.35 knows.
  bool skip_api_version_check = false;
  // Persist in this folder (--location) instead of in memory; a server
  // started again on the same folder finds what the last one stored.
  std::string location;
  // 0: any free port.
  int port = 0;
};

class Azurite {
 public:
  ~Azurite();
  Azurite(const Azurite&) = delete;
  Azurite& operator=(const Azurite&) = delete;

  int port() const { return port_; }
  // SIGTERM (Azurite saves its state and exits), then waits for it.
  void Stop();
  // "http://127.0.0.1:PORT/devstoreaccount1"
  std::string BlobEndpoint() const;
  // The development account's Shared Key connection string for this port.
  std::string ConnectionString() const;
  backend::azure::AzureConnection Connection() const;

 private:
  friend Result<std::unique_ptr<Azurite>> StartAzurite(const AzuriteOptions&);
  Azurite(pid_t pid, int port, std::string log) : pid_(pid), port_(port), log_(std::move(log)) {}
  pid_t pid_;
  int port_;
  std::string log_;  // its output file, removed at the end
};

// "" when node and npm are on PATH, else why the Azure tests cannot run.
std::string AzuriteUnavailableReason();
// True when CI=true (or 1) is set: unavailability is then a failure.
bool InCi();

Result<std::unique_ptr<Azurite>> StartAzurite(const AzuriteOptions& options = {});

// The node_modules folder of the npm cache ensure_azurite.sh installed into
// (it holds @azure/storage-blob too); "" before the first StartAzurite.
std::string NodeModulesDir();

// One Azurite for the whole test process, started on first use; nullptr
// (with `*error` set) when it could not be started.
Azurite* SharedAzurite(std::string* error);

// A container name no other test uses ("t-<random>").
std::string UniqueContainerName();

}  // namespace cairn::testing

// In a TEST body or SetUp: skips (locally) or fails (CI) without Azurite,
// else leaves a started server in `var` (an Azurite*). `var` is the name it
// declares, so it cannot be put in parentheses.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define CAIRN_REQUIRE_AZURITE(var)                                   \
  ::cairn::testing::Azurite* var = nullptr;                          \
  do {                                                               \
    std::string _why = ::cairn::testing::AzuriteUnavailableReason(); \
    if (!_why.empty()) {                                             \
      if (::cairn::testing::InCi()) FAIL() << _why;                  \
      GTEST_SKIP() << _why;                                          \
    }                                                                \
    var = ::cairn::testing::SharedAzurite(&_why);                    \
    ASSERT_NE(var, nullptr) << _why;                                 \
  } while (0)
// NOLINTEND(bugprone-macro-parentheses)
