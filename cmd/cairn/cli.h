// Shared plumbing of the cairn CLI: global options, resolving the repository
// location, the secret, the device and the settings, opening the repository
// and its catalog, progress lines, JSON output and the one mapping from
// Status to exit code.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "catalog/catalog.h"
#include "config/settings.h"
#include "repo/repo_lock.h"
#include "repo/repository.h"

namespace cairn::cli {

// Exit codes, documented in docs/cli.md (restic's, so wrappers understand them).
enum ExitCode {
  kExitOk = 0,
  kExitFailed = 1,
  kExitPartial = 3,
  kExitNoRepository = 10,
  kExitLocked = 11,
  kExitWrongPassword = 12,
};

int ExitCodeFor(const Status& st);

struct GlobalOptions {
  std::string repo;
  std::string password_file;
  std::string config_file;
  std::string device;
  bool all_devices = false;
  bool json = false;
  bool quiet = false;
  bool no_progress = false;
  // KiB/s over all connections to remote storage; -1: the settings file's.
  int64_t limit_upload_kib = -1, limit_download_kib = -1;
};

class Context {
 public:
  explicit Context(GlobalOptions g) : g_(std::move(g)) {}

  // Loads settings (file, then environment, then flags).
  Status Init();
  const config::Settings& settings() const { return settings_; }
  const GlobalOptions& global() const { return g_; }

  std::string Location() const;  // the repository location
  // Settings for remote backends (Azure connection string, connections, tier).
  backend::BackendOptions BackendOptionsFor() const;
  std::string Device() const;       // DEVICE_ID / --device / hostname
  std::string QueryDevice() const;  // "" with --all-devices
  std::string CacheDir() const;     // $XDG_CACHE_HOME/cairn
  // The secret, first found wins: --password-file, repository.password_file,
  // CAIRN_PASSWORD, BACKUP_ENCRYPTION_KEY, the generated secret file of the
  // default location, a prompt on a terminal.
  Result<std::string> Secret(bool for_init);
  Result<std::string> FindSecret(bool for_init);
  std::string GeneratedSecretPath() const;
  crypto::KdfParams KdfParamsForNewKey() const;

  // Opens the repository (and loads its index when asked).
  Result<std::unique_ptr<repo::Repository>> OpenRepository(bool load_index, bool adopt_orphans);
  // Opens the catalog and brings it up to date with the repository.
  Result<std::unique_ptr<catalog::Catalog>> OpenCatalog(repo::Repository& repo,
                                                        bool rebuild = false);
  Result<std::unique_ptr<repo::RepoLock>> Lock(repo::Repository& repo, bool exclusive,
                                               const std::string& operation);
  // A shared lock for an operation that only reads (restore, check). With
  // read-only credentials (a read-only SAS) no lock can be written: the
  // operation then goes on without one, after a warning, and returns a null
  // lock; any other failure is an error.
  Result<std::unique_ptr<repo::RepoLock>> ReadLock(repo::Repository& repo,
                                                   const std::string& operation);

  // Output helpers: human text unless --json; errors go to stderr.
  bool json() const { return g_.json; }
  bool ShowProgress() const;
  void Info(const std::string& line) const;
  void Warn(const std::string& line) const;
  // Prints the error (human or JSON) and returns its exit code.
  int Fail(const Status& st) const;
  void PrintJson(const nlohmann::json& j) const;

 private:
  GlobalOptions g_;
  config::Settings settings_;
  std::optional<std::string> secret_;  // asked once per process
};

// "1.2 GiB", "512 B"
std::string HumanBytes(uint64_t n);
// The path as shown to people: bytes that are not printable are escaped.
std::string ShowPath(const std::string& path);
// A path given on the command line, made absolute and normal (no . or ..).
std::string AbsolutePath(const std::string& path);
// Progress line writer for terminals: rewrites one line in place.
void ProgressLine(const std::string& text);
void ProgressDone();

}  // namespace cairn::cli
