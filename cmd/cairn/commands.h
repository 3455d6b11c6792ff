// The subcommands: one <Verb>Command per cmd_<verb>.cc, taking its parsed
// <Verb>Args; each returns the exit code.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cmd/cairn/cli.h"

namespace cairn::cli {

struct InitArgs {
  std::string label;
};
int InitCommand(Context& ctx, const InitArgs& o);

// Creates the repository at the session's location; shared by `init` and
// `backup --init`. Says what was created, except with --json (the caller
// puts it in its one JSON document).
Result<engine::InitSummary> CreateRepository(Context& ctx, const std::string& label);

// `cairn setup` (cmd_setup.cc): flags for everything it would ask.
struct SetupArgs {
  std::string location;               // --location: a folder or azure://CONTAINER[/PREFIX]
  bool azure = false;                 // --azure: azure://$AZURE_CONTAINER_NAME/cairn
  std::vector<std::string> folders;   // --folder (repeatable)
  std::vector<std::string> excludes;  // --exclude (repeatable)
  std::string secret_file;  // --secret-file: the passphrase, or an existing repository's secret
  bool passphrase = false;  // --passphrase: type one (twice) instead of a random secret
  bool join = false;        // --join: use an existing repository as another device
  bool yes = false;         // --yes: no questions; defaults for what no flag says
  bool no_service = false;  // --no-service
  bool linger = false;      // --linger
};
int SetupCommand(Context& ctx, const SetupArgs& o);

struct BackupArgs {
  std::vector<std::string> paths;
  bool init_if_missing = false;
  std::vector<std::string> excludes;
};
int BackupCommand(Context& ctx, const BackupArgs& o);

struct LsArgs {
  std::string path = "/";
  std::string at;
  bool recursive = false;
  bool long_format = false;
};
int LsCommand(Context& ctx, const LsArgs& o);
int VersionsCommand(Context& ctx, const std::string& file);
struct FindArgs {
  std::string pattern;
  bool no_deleted = false;  // existing files only
};
int FindCommand(Context& ctx, const FindArgs& o);

struct RestoreArgs {
  std::string id;
  std::string path;
  std::optional<int> version;
  std::string at;
  std::string to;
  bool overwrite = false;
  // Write a file's bytes, or a tar of a folder, to stdout instead of a
  // file system (cmd_restore.cc RestoreToStdout).
  bool to_stdout = false;
};
int RestoreCommand(Context& ctx, const RestoreArgs& o);

struct CheckArgs {
  bool read_data = false;
  std::string subset;
  int64_t restore_sample = 0;  // --restore-sample N: file versions to restore and verify
};
int CheckCommand(Context& ctx, const CheckArgs& o);

int KeyAddCommand(Context& ctx, const std::string& new_password_file, const std::string& label);
int KeyListCommand(Context& ctx);
int KeyRemoveCommand(Context& ctx, const std::string& id_prefix);
int KeyPasswdCommand(Context& ctx, const std::string& new_password_file);

// `cairn run`: the daemon (src/daemon/daemon.h) in the foreground until
// SIGTERM or SIGINT; 0 when stopped so.
struct RunArgs {
  std::vector<std::string> folders;
};
int RunCommand(Context& ctx, const RunArgs& o);
// `cairn serve`: the dashboard and REST API (src/web) without watching, in
// the foreground until SIGTERM or SIGINT.
struct ServeArgs {
  std::string host;  // "" = web.host
  int port = 0;      // 0 = web.port
};
int ServeCommand(Context& ctx, const ServeArgs& o);
// cairn status / pause [DURATION] / resume (cmd_status.cc): kExitNotRunning
// when no daemon answers.
int StatusCommand(Context& ctx);
int PauseCommand(Context& ctx, const std::string& duration);
int ResumeCommand(Context& ctx);
// "90s", "30m", "2h", "1d", "1h30m" -> seconds.
Result<uint64_t> ParsePauseDuration(const std::string& text);

struct ForgetArgs {
  bool dry_run = false;
  // -1: the settings' value.
  int64_t keep_last = -1, keep_hourly = -1, keep_daily = -1, keep_weekly = -1, keep_monthly = -1,
          keep_yearly = -1, max_versions = -1, retention_days = -1;
  std::optional<std::string> keep_within;
  bool prune = false;  // then free the space (`cairn prune` with its defaults)
};
int ForgetCommand(Context& ctx, const ForgetArgs& args);
// The settings' versioning policy with the flags given on top.
Result<engine::RetentionPolicy> ForgetPolicy(const engine::RetentionPolicy& settings,
                                             const ForgetArgs& a);

// `cairn prune` / `cairn cleanup` (cmd_prune.cc).
struct PruneArgs {
  bool dry_run = false;
  bool ignore_tier_minimum = false;
  std::string max_unused = "10%";
  std::string max_repack_size;  // "" = no cap
};
int PruneCommand(Context& ctx, const PruneArgs& args);
int CleanupCommand(Context& ctx, const PruneArgs& args);
nlohmann::json PruneJson(const engine::PruneSummary& s);
void PrintPrune(Context& ctx, const engine::PruneSummary& s);
Result<double> ParsePercent(const std::string& text, const std::string& flag);
Result<uint64_t> ParseByteSize(const std::string& text, const std::string& flag);

int StatsCommand(Context& ctx);
int RecoverCommand(Context& ctx);
int CompactCommand(Context& ctx);
int RunsCommand(Context& ctx, int limit);

}  // namespace cairn::cli
