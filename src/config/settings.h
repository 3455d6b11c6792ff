// Settings: cairn's configuration.
//
// Settings come from a YAML file laid out as the original (Python) design's
// config/settings.yaml (sections backup, versioning, web, logging) plus
// cairn's own sections (repository, azure); see config/settings.example.yaml.
// Precedence, lowest first: built-in defaults < the file < environment
// variables (ApplyEnvironment) < command-line flags (applied by the CLI).
//
// Parsing is strict: an unknown section or key, a value of the wrong type or
// out of range is an InvalidArgument error whose message names the file, the
// key path (e.g. "backup.compression") and the line, so a typo never silently
// falls back to a default.
//
// Thread-safety: all functions may be called concurrently, provided no thread
// changes the process environment (setenv) or the working directory meanwhile;
// ParseSettings, ExpandHome and LoadSettings read $HOME (and LoadSettings
// $XDG_CONFIG_HOME and the working directory).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/calendar_span.h"
#include "base/status.h"

namespace cairn::config {

// Fields in the settings file's order, not packed for size:
struct Settings {  // NOLINT(clang-analyzer-optin.performance.Padding): a few per process
  // backup:
  // Directories to back up; "~" is expanded to $HOME and each entry must then
  // be absolute. Empty: the CLI picks defaults.
  std::vector<std::string> watched_directories;
  // Glob patterns of paths not to back up, passed to the archiver as
  // BackupOptions::exclude_patterns; their language and where they apply are
  // in src/archiver/excludes.h. Never holds an empty pattern. Empty: none.
  std::vector<std::string> exclude_patterns;
  // Folders holding a CACHEDIR.TAG are not backed up (archiver/exclude_filter.h).
  bool exclude_caches = true;
  // Editors' temporary files (vim's swap and backup files, LibreOffice's
  // lock files, ...: archiver/excludes.h) are not backed up.
  bool exclude_editor_temporaries = true;
  std::string compression = "zstd";  // "zstd", "gzip" or "none" (always lower case)
  // On the algorithm's own scale (zstd 1..19, gzip 1..9); unset: the
  // algorithm's default (zstd 1, gzip 6). Never set when compression is none.
  std::optional<int> compression_level;
  uint64_t max_file_size_mb = 0;          // files larger than this are skipped; 0 = no limit
  uint32_t backup_interval_minutes = 60;  // >= 1: `cairn run`'s full pass
  // `cairn run`: how changes are found: "auto", "inotify" or "poll" (always
  // lower case; watch/watch_mode.h says what each does).
  std::string watch_mode = "auto";
  // `cairn run`: seconds between two comparisons of a polled folder (the
  // `poll` mode, and network or FUSE file systems in `auto`); >= 1.
  uint32_t poll_interval_seconds = 60;
  // `cairn run`: a changed file is backed up once it has been quiet this
  // long (0..3600), but at the latest max_delay_seconds after its first
  // change (stability_seconds..86400), so a file that never settles is
  // still protected.
  uint32_t stability_seconds = 5;
  uint32_t max_delay_seconds = 60;
  uint32_t pack_size_mb = 16;  // target pack size, 1..512
  uint32_t threads = 0;        // 0 = number of cores; at most 1024

  // versioning: what `cairn forget` keeps (docs/design.md §19). The two caps
  // of the original design:
  uint32_t max_versions_per_file = 0;  // 0 = keep all versions
  uint32_t retention_days = 0;         // 0 = keep forever
  // Thinning rules (any keeps a version; all 0 and keep_within empty: none).
  uint32_t keep_last = 0, keep_hourly = 0, keep_daily = 0, keep_weekly = 0, keep_monthly = 0,
           keep_yearly = 0;
  CalendarSpan keep_within;  // "2h", "30d", "1y6m"; empty: none

  // web: the dashboard and REST API (src/web, docs/api.md).
  bool web_enabled = true;  // web.enabled: `cairn run` serves them (`cairn serve` always does)
  std::string web_host = "127.0.0.1";
  uint16_t web_port = 5000;  // 1..65535
  // The access tokens' files ("~" expanded); "": $XDG_CONFIG_HOME/cairn/web-token and
  // web-token-readonly. Generated (0600) at the first start when missing.
  std::string web_token_file, web_readonly_token_file;
  // PEM files; both or neither. Without them a host other than a loopback
  // address needs web_allow_insecure_remote (checked when the server starts).
  std::string web_tls_cert, web_tls_key;
  bool web_allow_insecure_remote = false;
  // Host names besides the bound address (and, on loopback, 127.0.0.1,
  // localhost and [::1]) that requests may name (e.g. behind a reverse proxy).
  std::vector<std::string> web_allowed_hosts;
  // /health answers 503 when the last successful backup is older than this.
  uint32_t web_health_max_age_minutes = 180;  // 1..525600

  // logging:
  // One of trace, debug, info, warning, error, critical (always lower case).
  std::string log_level = "info";

  // repository:
  std::string repository;     // location: a path ("~" expanded) or a URL such as azure://...
  std::string device_id;      // "" = not configured
  std::string password_file;  // "~" expanded; "" = not configured

  // azure:
  std::string azure_connection_string;
  std::string azure_container = "backups";  // a valid Azure container name
  std::string azure_prefix = "cairn";       // blob name prefix; no leading or trailing '/'
  std::string azure_access_tier = "Hot";    // "Hot", "Cool" or "Cold"
  uint32_t azure_connections = 8;           // concurrent connections, 1..128
  uint64_t azure_limit_upload_kib = 0;      // KiB/s; 0 = unlimited
  uint64_t azure_limit_download_kib = 0;    // KiB/s; 0 = unlimited
  // A transfer that moves no byte for this long is abandoned and retried.
  uint32_t azure_stall_timeout_seconds = 60;

  // --- The daemon's log file and alerts (`cairn run`; src/daemon/log.h, alerts.h) ---
  // logging.file: unset = the default file, $XDG_STATE_HOME/cairn/logs/backup.log;
  // "" = no log file (stderr only); else an absolute path ("~" expanded).
  std::optional<std::string> log_file;
  uint32_t log_max_file_mb = 10;  // logging.max_file_mb: the file is rotated at this size, 1..1024
  uint32_t log_max_files = 5;     // logging.max_files: rotated files kept besides it, 0..100
  // alerts.command as an argv: a list is run as given (its first item "~"
  // expanded); a single string S becomes {"/bin/sh", "-c", S}. The event is
  // passed in the environment only, never in the command line. Empty: none.
  std::vector<std::string> alert_command;
  // alerts.webhook_url: http:// or https://; "" = none. Treat it as a secret
  // (webhook URLs often carry a token): it is never logged.
  std::string alert_webhook_url;
  uint32_t alert_stale_after_hours = 24;  // alerts.stale_after_hours; 0 = no staleness alert
  uint32_t alert_timeout_seconds = 30;    // alerts.timeout_seconds: per command / request, 1..3600
  // --- end of the daemon's keys ---

  // maintenance:
  // File versions the daemon's daily job restores and verifies
  // (engine::Session::RestoreSample); 0 = off, at most 100000.
  uint32_t restore_sample_files = 10;

  std::string source;  // the file these settings came from; "" for built-in defaults
};

// Parses the YAML text of a settings file. `source_name` (usually the file's
// path) prefixes error messages and is stored in Settings::source.
// Empty text, or text holding only comments, yields the defaults. A section
// may be empty (e.g. "repository:" followed only by comments).
// Errors are InvalidArgument, e.g.
//   "config/settings.yaml: backup.compression: 'lz4' is not allowed; use zstd, gzip or none (line
//   3)"
// An unknown key's message lists the keys allowed in its section.
// Compression names and log levels are case-insensitive ("INFO" is accepted)
// and stored in lower case; "warn" and "fatal" are accepted for warning and
// critical, as Python's logging accepts them.
Result<Settings> ParseSettings(std::string_view yaml_text, std::string_view source_name);

// Reads and parses the file at `path`. NotFound if it does not exist;
// IOError if it cannot be read; InvalidArgument if it is not valid YAML (the
// message gives line and column) or not valid settings (see ParseSettings).
Result<Settings> LoadSettingsFile(const std::string& path);

// Loads the settings file to use, the first of:
//   1. `explicit_path`, if given (NotFound if it does not exist; no fallback);
//   2. ./config/settings.yaml, if it exists (the original design's location);
//   3. $XDG_CONFIG_HOME/cairn/settings.yaml, if it exists ($XDG_CONFIG_HOME
//      defaults to $HOME/.config, and a relative value is ignored as the XDG
//      specification requires);
// or, if none exists, the defaults with source "". Does not apply the
// environment; call ApplyEnvironment next.
Result<Settings> LoadSettings(const std::optional<std::string>& explicit_path);

// OK when `key`, "section.key" as in the settings file ("web.port"), names a
// key of the settings file; else InvalidArgument naming it as ParseSettings
// does, e.g. "web.prot: unknown key (did you mean 'port'?); allowed keys in
// web: ..." (prefixed with `source_name` and ": " when not empty).
Status CheckSettingsKey(std::string_view key, std::string_view source_name);

// Applies the environment variables the original design's users know, which
// beat the file:
//   AZURE_STORAGE_CONNECTION_STRING -> azure_connection_string
//   AZURE_CONTAINER_NAME            -> azure_container (validated)
//   DEVICE_ID                       -> device_id (validated)
//   BACKUP_LOG_LEVEL                -> log_level (validated, normalized)
//   CAIRN_REPOSITORY                -> repository ("~" expanded)
//   CAIRN_PASSWORD_FILE             -> password_file ("~" expanded; what
//                                      `cairn setup` writes into the service's
//                                      environment file)
// A variable that is unset or empty is ignored. `getenv_fn` behaves like
// std::getenv (returns nullptr when unset). On error (InvalidArgument naming
// the variable) `s` is left unchanged.
Status ApplyEnvironment(Settings& s, const std::function<const char*(const char*)>& getenv_fn);

// Expands a leading "~" to $HOME: "~" -> "$HOME", "~/x" -> "$HOME/x".
// Anything else ("~user/x", "a/~", "") and any path when HOME is unset or
// empty is returned unchanged.
std::string ExpandHome(std::string_view path);

}  // namespace cairn::config
