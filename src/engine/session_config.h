// What a session is opened from, and how those sources resolve into the values
// the engine uses: the repository location, the device, the cache folder,
// backend options, lock timings. Precedence, lowest first: built-in defaults <
// the settings file < environment variables < the front end's flags.
//
// Every failure is a Status (a bad number in the environment included): a
// front end never has to guard against exceptions or exits from here.
// Thread-safety: values; Resolve reads only what `getenv` returns.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "backend/registry.h"
#include "base/status.h"
#include "base/time_util.h"
#include "config/settings.h"
#include "crypto/crypto.h"

namespace cairn::engine {

// Like std::getenv: nullptr when unset. Tests pass their own environment.
using GetEnv = std::function<const char*(const char*)>;
GetEnv ProcessEnvironment();

// A request for the secret that no configured source had (a front end with a
// terminal asks the person; one without leaves SessionOptions::ask_secret
// empty).
struct SecretRequest {
  bool for_new_repository = false;  // ask twice, refuse an empty one
  std::string location;             // the repository asked for (for the prompt)
};

// What a front end passes; empty/negative fields mean "not given".
struct SessionOptions {
  std::string repository;     // location (a folder or azure://container/prefix)
  std::string password_file;  // the secret, read from this file
  std::string config_file;    // the settings file; "" = the usual places
  // No settings file at all: the built-in defaults (`cairn setup` before it
  // has written one, so that no ./config/settings.yaml is taken instead).
  bool no_settings_file = false;
  std::string device;                                      // this machine's name in the repository
  bool all_devices = false;                                // queries cover every device
  int64_t limit_upload_kib = -1, limit_download_kib = -1;  // -1: the settings'

  GetEnv getenv = ProcessEnvironment();
  // Asked when no configured source holds the secret; empty: no prompt.
  std::function<Result<std::string>(const SecretRequest&)> ask_secret;
  // Notices about the session itself (a generated secret, a repository
  // warning) when no job's event sink is there to take them.
  std::function<void(const std::string&)> notice;
  // New key slots get the cheapest KDF (crypto::CheapKdfParams) instead of
  // the default. For tests only: nothing in the environment sets it (the
  // shipped CLI never does; its test build does, see cmd/cairn/main.cc).
  bool cheap_kdf_for_tests = false;
  // This device's wall clock for backups (ns since the epoch); empty: the
  // system clock. Tests give two devices clocks an hour apart.
  std::function<TimeNs()> clock;
  // Wraps the backend once opened (a decorator: request metrics for a
  // daemon's status, request counting in tests). Empty: used as opened.
  std::function<std::shared_ptr<backend::Backend>(std::shared_ptr<backend::Backend>)> wrap_backend;
};

// Everything derived once from the options, the settings and the environment.
struct ResolvedConfig {
  config::Settings settings;
  std::string location;
  std::string default_location;  // the local default ($XDG_DATA_HOME/cairn/repo)
  std::string device;
  std::string query_device;  // "" with all_devices
  std::string cache_dir;     // $XDG_CACHE_HOME/cairn
  std::string state_dir;     // $XDG_STATE_HOME/cairn: the daemon's queue and log
  std::string config_dir;    // $XDG_CONFIG_HOME/cairn
  std::string home;
  backend::OpenOptions backend_options;
  std::chrono::seconds lock_ttl{300};
  // How long a shared (backup, restore, check) and an exclusive (key
  // removal, later prune) taker waits for conflicting locks.
  std::chrono::seconds lock_wait_shared{10}, lock_wait_exclusive{60};
  std::chrono::milliseconds checkpoint_interval{20000};
  // SessionOptions::cheap_kdf_for_tests.
  bool cheap_kdf = false;

  // Where a generated secret for this location lives: the default
  // repository's is $XDG_CONFIG_HOME/cairn/password, any other's has a
  // suffix derived from the location.
  std::string GeneratedSecretPath() const;
  // Where this machine remembers which key slot opened the repository at
  // this location last time (cache_dir/key-slot-<hash of the location>).
  std::string KeySlotHintPath() const;
  crypto::KdfParams KdfParamsForNewKey() const;
};

// Loads the settings file (options.config_file, else the usual places),
// applies the environment and the options' flags.
Result<ResolvedConfig> ResolveConfig(const SessionOptions& options);

// Parses a whole number of seconds from an environment variable's value;
// InvalidArgument naming the variable otherwise. Fractions are allowed when
// `allow_fraction`; the result is in milliseconds.
Result<std::chrono::milliseconds> ParseEnvSeconds(const char* name, std::string_view value,
                                                  bool allow_fraction);

}  // namespace cairn::engine
