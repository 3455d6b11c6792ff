// The subcommands: one Run<Verb> per cmd_<verb>.cc. Each returns the exit code.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cmd/cairn/cli.h"

namespace cairn::cli {

struct InitOptions {
  std::string label;
};
int RunInit(Context& ctx, const InitOptions& o);

// Creates the repository at the session's location; shared by `init` and
// `backup --init`. Prints what was created.
Status CreateRepository(Context& ctx, const std::string& label);

struct BackupOptions {
  std::vector<std::string> paths;
  bool init_if_missing = false;
  std::vector<std::string> excludes;
};
int RunBackup(Context& ctx, const BackupOptions& o);

struct LsOptions {
  std::string path = "/";
  std::string at;
  bool recursive = false;
  bool long_format = false;
};
int RunLs(Context& ctx, const LsOptions& o);
int RunVersions(Context& ctx, const std::string& file);
int RunFind(Context& ctx, const std::string& pattern);

struct RestoreOptions {
  std::string path;
  std::optional<int> version;
  std::string at;
  std::string to;
  bool overwrite = false;
};
int RunRestore(Context& ctx, const RestoreOptions& o);

struct CheckOptions {
  bool read_data = false;
  std::string subset;
};
int RunCheck(Context& ctx, const CheckOptions& o);

int RunKeyAdd(Context& ctx, const std::string& new_password_file, const std::string& label);
int RunKeyList(Context& ctx);
int RunKeyRemove(Context& ctx, const std::string& id_prefix);
int RunKeyPasswd(Context& ctx, const std::string& new_password_file);

int RunStats(Context& ctx);
int RunRecover(Context& ctx);

}  // namespace cairn::cli
