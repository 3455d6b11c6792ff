// The command line of cairn (cli_app.h): every subcommand and option.
#include "cmd/cairn/cli_app.h"

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "cmd/cairn/cli_docs.h"
#include "cmd/cairn/commands.h"
#include "cmd/cairn/version.h"

namespace cairn::cli {

namespace {
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}
}  // namespace

int WithCli(GlobalOptions g, std::stop_token stop,
            const std::function<int(CLI::App& app, const int& exit_code)>& use) {
  CLI::App app{"cairn: encrypted, deduplicated, versioned backups of your files"};
  app.set_version_flag(
      "--version", [] { return VersionText(); },
      "print the version, the repository format and the libraries' versions");
  app.require_subcommand(1);
  app.fallthrough();  // global options are accepted after the subcommand too
  app.add_option("-r,--repo", g.repo,
                 "repository location: a folder or azure://CONTAINER[/PREFIX]; default "
                 "$CAIRN_REPOSITORY, repository.location, else ~/.local/share/cairn/repo");
  app.add_option("--password-file", g.password_file, "read the repository secret from FILE");
  app.add_option("--config", g.config_file,
                 "settings file (default ./config/settings.yaml, else "
                 "~/.config/cairn/settings.yaml, else built-in defaults)");
  app.add_option("--device", g.device, "device name (default $DEVICE_ID or the host name)");
  app.add_flag("--all-devices", g.all_devices, "show every device's files");
  app.add_option("--limit-upload", g.limit_upload_kib,
                 "upload at most this many KiB/s to remote storage (0: no limit; default: "
                 "azure.limit_upload_kib)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app.add_option("--limit-download", g.limit_download_kib,
                 "download at most this many KiB/s from remote storage (0: no limit; default: "
                 "azure.limit_download_kib)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app.add_flag("--json", g.json, "machine-readable output");
  app.add_flag("-q,--quiet", g.quiet, "print only errors");
  app.add_flag("--no-progress", g.no_progress, "no progress line");

  int code = 0;
  auto run = [&](auto fn) {
    return [&, fn] {
      Context ctx(g, stop);
      cairn::Status st = ctx.Init();
      if (!st.ok()) {
        code = ctx.Fail(st);
        return;
      }
      code = fn(ctx);
    };
  };

  // Commands that talk to a running daemon work without a usable settings
  // file (a broken one must not hide the daemon that still runs with the
  // old settings).
  auto run_without_session = [&](auto fn) {
    return [&, fn] {
      Context ctx(g, stop);
      code = fn(ctx);
    };
  };

  SetupArgs setup;
  auto* c_setup = app.add_subcommand(
      "setup",
      "set cairn up for this user: where backups go, the secret, the folders, the settings, the "
      "service; asks at a terminal, or takes flags and --yes. Run again to see or change it");
  c_setup->add_option(
      "--location", setup.location,
      "where to keep backups: a folder (a backup disk) or azure://CONTAINER[/PREFIX] "
      "(default: the settings', else ~/.local/share/cairn/repo)");
  c_setup->add_flag("--azure", setup.azure,
                    "keep backups in Azure Blob Storage: azure://$AZURE_CONTAINER_NAME/cairn "
                    "(container default backups), with AZURE_STORAGE_CONNECTION_STRING");
  c_setup
      ->add_option("--folder", setup.folders,
                   "a folder to back up (repeat for more; default ~/Documents and ~/Pictures)")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  c_setup
      ->add_option("--exclude", setup.excludes,
                   "a pattern not to back up (repeat for more; default *.tmp, *.log, .git/*)")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  c_setup->add_option("--secret-file", setup.secret_file,
                      "a new repository's passphrase, or the secret of the existing one to join, "
                      "from FILE (default: a new random secret)");
  c_setup->add_flag("--passphrase", setup.passphrase,
                    "type a passphrase (twice, not shown) instead of a random secret");
  c_setup->add_flag("--join", setup.join,
                    "use the repository already at the location from this machine, as another "
                    "device (needs its secret)");
  c_setup->add_flag("-y,--yes", setup.yes,
                    "ask nothing: the flags, else what is set up, else the defaults");
  c_setup->add_flag("--no-service", setup.no_service,
                    "do not install or start the systemd user service");
  c_setup->add_flag("--linger", setup.linger,
                    "keep the service running while you are logged out (loginctl enable-linger)");
  c_setup->callback(run_without_session([&](Context& ctx) { return SetupCommand(ctx, setup); }));

  InitArgs init;
  auto* c_init = app.add_subcommand("init", "create a new repository");
  c_init->add_option("--label", init.label, "a label for the first key");
  c_init->callback(run([&](Context& ctx) { return InitCommand(ctx, init); }));

  BackupArgs backup;
  auto* c_backup =
      app.add_subcommand("backup", "back up folders and files (default: the configured ones)");
  c_backup->add_option("paths", backup.paths, "files or folders to back up");
  c_backup->add_flag("--init", backup.init_if_missing,
                     "create the repository first if there is none");
  // One pattern per --exclude (repeat it for more), so `--exclude '*.jpg'
  // ~/Pictures` does not take the folder for a second pattern.
  c_backup
      ->add_option("--exclude", backup.excludes,
                   "exclude a pattern (in addition to the settings); repeat for more")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  c_backup->callback(run([&](Context& ctx) { return BackupCommand(ctx, backup); }));

  LsArgs ls;
  auto* c_ls = app.add_subcommand("ls", "list backed-up files in a folder");
  c_ls->add_option("path", ls.path, "folder or file (default /)");
  c_ls->add_option("--at", ls.at, "as of a time: RFC 3339 or YYYY-MM-DD[ HH:MM[:SS]]");
  c_ls->add_flag("-R,--recursive", ls.recursive, "list everything below");
  c_ls->add_flag("-l,--long", ls.long_format, "show size, time and mode");
  c_ls->callback(run([&](Context& ctx) { return LsCommand(ctx, ls); }));

  std::string versions_file;
  auto* c_versions = app.add_subcommand("versions", "list every version of a file");
  c_versions->add_option("file", versions_file, "the file")->required();
  c_versions->callback(run([&](Context& ctx) { return VersionsCommand(ctx, versions_file); }));

  FindArgs find;
  auto* c_find = app.add_subcommand(
      "find", "find files by name pattern (* ? [..]), deleted ones too (marked as such)");
  c_find->add_option("pattern", find.pattern, "pattern matched against names and paths")
      ->required();
  c_find->add_flag("--no-deleted", find.no_deleted,
                   "existing files only, not those deleted since their last backup");
  c_find->callback(run([&](Context& ctx) { return FindCommand(ctx, find); }));

  RestoreArgs restore;
  auto* c_restore = app.add_subcommand("restore", "restore a file or folder");
  c_restore->add_option("path", restore.path, "the original path (not with --id)");
  auto* o_id = c_restore->add_option(
      "--id", restore.id, "restore the version with this id (the ID column of `cairn versions`)");
  auto* o_version =
      c_restore->add_option("--version", restore.version, "version number (see `cairn versions`)");
  auto* o_at = c_restore->add_option("--at", restore.at, "as of a time");
  o_version->excludes(o_at);
  o_id->excludes(o_version);
  o_id->excludes(o_at);
  c_restore->add_option("--to", restore.to, "restore under this folder instead of in place");
  c_restore->add_flag("--overwrite", restore.overwrite, "replace existing files");
  c_restore->add_flag("--stdout", restore.to_stdout,
                      "write the file's bytes, or a tar of the folder, to stdout (a file or a "
                      "pipe, not a terminal)");
  c_restore->callback(run([&](Context& ctx) { return RestoreCommand(ctx, restore); }));

  CheckArgs check;
  auto* c_check = app.add_subcommand("check", "verify the repository");
  c_check
      ->add_option("--read-data", check.subset,
                   "also read and verify the data (optionally a subset: n/m or p%)")
      ->expected(0, 1)
      ->default_str("");
  c_check
      ->add_option("--restore-sample", check.restore_sample,
                   "also restore N file versions chosen at random (any age) into a temporary "
                   "folder, verify their SHA-256 and delete them")
      ->check(CLI::Range(int64_t{0}, static_cast<int64_t>(cairn::engine::kMaxRestoreSample)));
  c_check->callback(run([&](Context& ctx) {
    check.read_data = c_check->count("--read-data") > 0;
    return CheckCommand(ctx, check);
  }));

  auto* c_key = app.add_subcommand("key", "manage the repository's keys");
  c_key->require_subcommand(1);
  std::string new_pw_file, key_label, key_id;
  auto* c_key_add = c_key->add_subcommand("add", "add a key (another password)");
  c_key_add->add_option("--new-password-file", new_pw_file, "read the new password from FILE");
  c_key_add->add_option("--label", key_label, "a label for the key");
  c_key_add->callback(
      run([&](Context& ctx) { return KeyAddCommand(ctx, new_pw_file, key_label); }));
  auto* c_key_list = c_key->add_subcommand("list", "list keys");
  c_key_list->callback(run([&](Context& ctx) { return KeyListCommand(ctx); }));
  auto* c_key_rm = c_key->add_subcommand("remove", "remove a key");
  c_key_rm->add_option("id", key_id, "the key's ID (a unique prefix is enough)")->required();
  c_key_rm->callback(run([&](Context& ctx) { return KeyRemoveCommand(ctx, key_id); }));
  auto* c_key_pw = c_key->add_subcommand("passwd", "change the password of the key in use");
  c_key_pw->add_option("--new-password-file", new_pw_file, "read the new password from FILE");
  c_key_pw->callback(run([&](Context& ctx) { return KeyPasswdCommand(ctx, new_pw_file); }));

  auto* c_stats = app.add_subcommand("stats", "repository statistics");
  c_stats->callback(run([&](Context& ctx) { return StatsCommand(ctx); }));
  auto* c_recover = app.add_subcommand("recover", "rebuild the local catalog from the repository");
  c_recover->callback(run([&](Context& ctx) { return RecoverCommand(ctx); }));
  RunArgs run_args;
  auto* c_run = app.add_subcommand(
      "run",
      "protect folders continuously: back up every change within seconds (runs in the "
      "foreground; SIGTERM stops it, SIGHUP reloads the settings)");
  c_run->add_option("folders", run_args.folders,
                    "folders to watch (default: backup.watched_directories, else ~/Documents, "
                    "~/Pictures and ~/Desktop)");
  c_run->callback(run([&](Context& ctx) { return RunCommand(ctx, run_args); }));
  ServeArgs serve_args;
  auto* c_serve = app.add_subcommand(
      "serve",
      "serve the dashboard and REST API without watching (e.g. on a machine that only "
      "restores); `cairn run` serves them too. Prints the login link; Ctrl-C stops it");
  c_serve->add_option("--host", serve_args.host,
                      "listen on this address (default: web.host, 127.0.0.1)");
  c_serve->add_option("--port", serve_args.port, "listen on this port (default: web.port, 5000)")
      ->check(CLI::Range(1, 65535));
  c_serve->callback(
      run_without_session([&](Context& ctx) { return ServeCommand(ctx, serve_args); }));
  auto* c_status = app.add_subcommand(
      "status",
      "what the running `cairn run` is doing: folders, queue, last backup, next jobs, errors "
      "(exit 4 when none runs)");
  c_status->callback(run_without_session([&](Context& ctx) { return StatusCommand(ctx); }));
  std::string pause_for;
  auto* c_pause = app.add_subcommand(
      "pause",
      "pause continuous protection (changes are still queued and backed up after the pause)");
  c_pause->add_option("duration", pause_for,
                      "how long: 90s, 30m, 2h, 1d, 1h30m (default: until `cairn resume`)");
  c_pause->callback(
      run_without_session([&](Context& ctx) { return PauseCommand(ctx, pause_for); }));
  auto* c_resume = app.add_subcommand("resume", "end a pause of `cairn run`");
  c_resume->callback(run_without_session([&](Context& ctx) { return ResumeCommand(ctx); }));

  ForgetArgs forget;
  auto* c_forget = app.add_subcommand(
      "forget",
      "drop old versions by the retention rules (versioning.* in the settings, or the flags); "
      "reads no data and deletes nothing (`cairn prune` frees their space)");
  c_forget->add_flag("--dry-run,-n", forget.dry_run,
                     "list what would be dropped and why each kept version stays; write nothing");
  const auto count = CLI::Range(int64_t{0}, int64_t{4294967295});
  c_forget->add_option("--keep-last", forget.keep_last, "keep the N newest versions")->check(count);
  c_forget
      ->add_option("--keep-hourly", forget.keep_hourly,
                   "keep the newest version of each of the last N hours that have one")
      ->check(count);
  c_forget->add_option("--keep-daily", forget.keep_daily, "... of the last N days")->check(count);
  c_forget->add_option("--keep-weekly", forget.keep_weekly, "... of the last N weeks")
      ->check(count);
  c_forget->add_option("--keep-monthly", forget.keep_monthly, "... of the last N months")
      ->check(count);
  c_forget->add_option("--keep-yearly", forget.keep_yearly, "... of the last N years")
      ->check(count);
  c_forget->add_option("--keep-within", forget.keep_within,
                       "keep every version younger than this (2h, 30d, 1y6m; \"\" for none)");
  c_forget
      ->add_option("--max-versions", forget.max_versions,
                   "keep at most N versions of each file (0: no cap)")
      ->check(count);
  c_forget
      ->add_option("--retention-days", forget.retention_days,
                   "drop versions older than N days (0: no cap; a deleted file's last "
                   "version stays N days after its deletion)")
      ->check(count);
  c_forget->add_flag("--prune", forget.prune,
                     "then free their space, as `cairn prune` does (in the same run)");
  c_forget->callback(run([&](Context& ctx) { return ForgetCommand(ctx, forget); }));

  PruneArgs prune;
  auto add_prune_flags = [&](CLI::App* c) {
    c->add_flag("--dry-run,-n", prune.dry_run, "say what would be freed; write and delete nothing");
    c->add_option("--max-unused", prune.max_unused,
                  "repack a pack when more than this share of it is unused (default 10%)");
    c->add_option("--max-repack-size", prune.max_repack_size,
                  "read at most this much to repack in one run (500M, 2G; default: no limit)");
    c->add_flag("--ignore-tier-minimum", prune.ignore_tier_minimum,
                "delete and repack Azure Cool/Cold packs before their minimum storage duration "
                "(charged by Azure)");
  };
  auto* c_prune = app.add_subcommand(
      "prune",
      "free the space of versions that `cairn forget` dropped: delete packs nothing uses, "
      "repack mostly unused ones (backups go on meanwhile)");
  add_prune_flags(c_prune);
  c_prune->callback(run([&](Context& ctx) { return PruneCommand(ctx, prune); }));
  auto* c_cleanup = app.add_subcommand(
      "cleanup", "forget by the retention rules of the settings (versioning.*), then prune");
  add_prune_flags(c_cleanup);
  c_cleanup->callback(run([&](Context& ctx) { return CleanupCommand(ctx, prune); }));

  auto* c_compact = app.add_subcommand(
      "compact", "merge the small packs, index objects and version segments of frequent backups");
  c_compact->callback(run([&](Context& ctx) { return CompactCommand(ctx); }));
  int runs_limit = 20;
  auto* c_runs = app.add_subcommand("runs", "the history of backup runs, newest first");
  c_runs->add_option("--limit", runs_limit, "show at most N runs (default 20)");
  c_runs->callback(run([&](Context& ctx) { return RunsCommand(ctx, runs_limit); }));

  // The man page and the shell completions, generated from this App
  // (cli_docs.h): the build writes them into the build folder and
  // `cmake --install` installs them. Hidden from --help (an empty group).
  std::string shell;
  auto* c_completion =
      app.add_subcommand("completion", "print the shell completion script for bash, zsh or fish");
  c_completion->group("");
  c_completion->add_option("shell", shell, "bash, zsh or fish")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh", "fish"}));
  c_completion->callback([&] {
    std::cout << CompletionScript(app, shell);
    code = kExitOk;
  });
  auto* c_man = app.add_subcommand("man", "print the man page cairn(1) as roff (man -l FILE)");
  c_man->group("");
  c_man->callback([&] {
    std::cout << ManPage(app, Version());
    code = kExitOk;
  });

  return use(app, code);
}

int ParseAndRun(CLI::App& app, const int& code, int argc, char** argv) {
  // A mistyped command gets a clear message (CLI11 would only say that a
  // subcommand is required).
  {
    std::vector<std::string> names;
    for (const CLI::App* sub : app.get_subcommands({})) names.push_back(sub->get_name());
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      // A global option that takes a value: skip the value too.
      if (a.size() > 1 && a[0] == '-' && a.find('=') == std::string::npos) {
        const CLI::Option* opt = app.get_option_no_throw(a);
        if (opt != nullptr && opt->get_items_expected_min() > 0) {
          ++i;
          continue;
        }
      }
      if (a.empty() || a[0] == '-') continue;
      if (std::find(names.begin(), names.end(), a) != names.end()) break;
      std::string best;
      size_t best_d = 3;
      for (const auto& n : names) {
        size_t d = EditDistance(a, n);
        if (d < best_d) best_d = d, best = n;
      }
      std::cerr << "cairn: unknown command '" << a << "'"
                << (best.empty() ? std::string() : " (did you mean " + best + "?)")
                << "; run `cairn --help` for the list\n";
      return kExitFailed;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitFailed;
  }
  return code;
}

}  // namespace cairn::cli
