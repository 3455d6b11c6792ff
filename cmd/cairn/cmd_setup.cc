// `cairn setup`: from nothing to a protected folder in one run (issue 14).
//
// Every question is asked first and every answer checked (the folders
// exist, the location can be written, the secret opens an existing
// repository) before anything is written; then the secret, the repository,
// the settings file, the service's environment file and the unit are
// written, each atomically, and each recorded in a journal. When the run
// fails or is interrupted (Ctrl-C, SIGTERM) before the configuration is
// complete, the journal undoes what this run created or changed, so a
// half set-up is never left behind. A secret or a repository that existed
// before is never touched.
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include "cmd/cairn/commands.h"
#include "config/env_file.h"
#include "config/settings_edit.h"
#include "daemon/user_unit.h"
#include "engine/secret_file.h"
#include "web/auth.h"

namespace cairn::cli {

namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kDefaultExcludes = {"*.tmp", "*.log", ".git/*"};

const char kSettingsHeader[] =
    "# cairn settings, written by `cairn setup` (run it again to change them, or edit this\n"
    "# file). Every key is described in config/settings.example.yaml (installed under\n"
    "# /usr/share/doc/cairn). Unknown keys and bad values are errors, never ignored.\n";

const char kEnvHeader[] =
    "# The environment of the cairn service (EnvironmentFile= of cairn.service), written by\n"
    "# `cairn setup`. It may hold secrets: keep it mode 0600. One NAME=value per line\n"
    "# (packaging/systemd/cairn.env.example lists the variables). In a shell:\n"
    "#   set -a; . ~/.config/cairn/cairn.env; set +a\n";

std::optional<std::string> ReadText(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// "~/Documents" for a path under the home folder.
std::string Tilde(const std::string& path, const std::string& home) {
  if (home.size() > 1 && path.rfind(home + "/", 0) == 0) return "~" + path.substr(home.size());
  return path;
}

std::string JoinList(const std::vector<std::string>& v, const std::string& home = "") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + (home.empty() ? s : Tilde(s, home));
  return out.empty() ? "(none)" : out;
}

// The terminal side: questions on stderr, answers from stdin, given up when
// cairn is interrupted (the signal thread requests the stop; a read would
// not return by itself).
class Terminal {
 public:
  explicit Terminal(std::stop_token stop) : stop_(stop) {}

  // Shows `prompt`, then reads one line (without its end); Cancelled on
  // interruption, InvalidArgument at the end of input. Without `echo` the
  // terminal's echo is off before the prompt appears, so nothing typed
  // after it is ever shown.
  Result<std::string> ReadLine(const std::string& prompt, bool echo) {
    struct termios old;
    bool tty = tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty && !echo) {
      struct termios t = old;
      t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      tcsetattr(STDIN_FILENO, TCSANOW, &t);
    }
    std::cerr << prompt << std::flush;
    std::string line;
    Status st;
    while (true) {
      if (stop_.stop_requested()) {
        st = Status::Cancelled("setup was interrupted");
        break;
      }
      struct pollfd p = {STDIN_FILENO, POLLIN, 0};
      int n = ::poll(&p, 1, 100);
      if (n <= 0) continue;  // a timeout, or EINTR
      char c;
      ssize_t r = ::read(STDIN_FILENO, &c, 1);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        if (line.empty()) st = Status::InvalidArgument("no answer (end of input)");
        break;
      }
      if (c == '\n') break;
      if (c != '\r') line += c;
    }
    if (tty && !echo) {
      tcsetattr(STDIN_FILENO, TCSANOW, &old);
      std::cerr << "\n";
    }
    if (!st.ok()) return st;
    return line;
  }

  Result<std::string> Ask(const std::string& question, const std::string& def) {
    CAIRN_ASSIGN_OR_RETURN(std::string a,
                           ReadLine(question + (def.empty() ? "" : " [" + def + "]") + ": ", true));
    a = Trim(a);
    return a.empty() ? def : a;
  }

  Result<bool> YesNo(const std::string& question, bool def) {
    while (true) {
      CAIRN_ASSIGN_OR_RETURN(std::string a,
                             ReadLine(question + (def ? " [Y/n]: " : " [y/N]: "), true));
      a = Trim(a);
      if (a.empty()) return def;
      if (a == "y" || a == "Y" || a == "yes") return true;
      if (a == "n" || a == "N" || a == "no") return false;
      std::cerr << "please answer y or n\n";
    }
  }

  Result<std::string> Secret(const std::string& prompt) { return ReadLine(prompt + ": ", false); }

 private:
  std::stop_token stop_;
};

// What this run created or changed, undone in reverse order unless the run
// completes (Commit).
class Journal {
 public:
  ~Journal() {
    if (!committed_) Undo();
  }
  void Add(std::string what, std::function<void()> undo) {
    steps_.push_back({std::move(what), std::move(undo)});
  }
  // A file this run creates: removed on undo.
  void Created(const std::string& path) {
    Add(path, [path] {
      std::error_code ec;
      fs::remove(path, ec);
    });
  }
  // A folder that may be created by this run: removed on undo when it did
  // not exist before and is empty then.
  void MaybeCreatedFolder(const std::string& path) {
    std::error_code ec;
    if (fs::exists(path, ec)) return;
    // Every missing ancestor too (~/.config on a fresh account).
    std::vector<std::string> missing;
    for (fs::path p = path; !p.empty() && p != p.root_path() && !fs::exists(p, ec);
         p = p.parent_path())
      missing.push_back(p.string());
    Add(path, [missing] {
      std::error_code ec2;
      for (const auto& m : missing)
        if (fs::is_empty(m, ec2)) fs::remove(m, ec2);
    });
  }
  // A file this run replaces: its old text (and mode) come back on undo.
  void Changed(const std::string& path) {
    auto old = ReadText(path);
    if (!old) return Created(path);
    struct stat st;
    mode_t mode = ::stat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 0600;
    Add(path, [path, text = *old, mode] {
      if (config::WritePrivateFile(path, text).ok()) ::chmod(path.c_str(), mode);
    });
  }
  void Commit() { committed_ = true; }
  bool empty() const { return steps_.empty(); }
  void Undo() {
    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) it->undo();
    steps_.clear();
  }

 private:
  struct Step {
    std::string what;
    std::function<void()> undo;
  };
  std::vector<Step> steps_;
  bool committed_ = false;
};

// The run's state: what is there already, and what will be.
struct Plan {
  // Where things are.
  std::string home, config_dir, config_home, settings_path, env_path;
  bool settings_exist = false;
  config::Settings current;  // the settings file's (defaults without one)
  std::map<std::string, std::string> current_env;

  std::string location, connection_string, device, secret_path;
  std::vector<std::string> folders, excludes;
  bool azure() const { return location.rfind("azure://", 0) == 0; }
};

class Setup {
 public:
  Setup(Context& ctx, const SetupArgs& args)
      : ctx_(ctx), a_(args), stop_(ctx.Job().stop), term_(stop_) {
    interactive_ = !a_.yes && isatty(STDIN_FILENO);
  }

  int Run() {
    Status st = RunSteps();
    if (st.ok()) return kExitOk;
    bool undone = !journal_.empty();
    journal_.Undo();
    if (st.code() == StatusCode::kCancelled) {
      std::cerr << "cairn: setup was interrupted; "
                << (undone ? "what this run had written was removed again"
                           : "nothing had been written")
                << ". Run `cairn setup` again to finish.\n";
      return kExitInterrupted;
    }
    int code = ctx_.Fail(st);
    if (undone) std::cerr << "cairn: nothing was changed (what this run had written was removed)\n";
    return code;
  }

 private:
  Status Stopped() {
    if (stop_.stop_requested()) return Status::Cancelled("setup was interrupted");
    return Status::OK();
  }

  // Test builds only (GlobalOptions::setup_pause_for_tests): stop here until
  // interrupted, so a test can send Ctrl-C at a known point.
  Status PauseForTests(const std::string& step) {
    if (ctx_.global().setup_pause_for_tests != step) return Stopped();
    std::cerr << "setup: paused after " << step << std::endl;
    while (!stop_.stop_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return Stopped();
  }

  void Say(const std::string& line) { ctx_.Info(line); }

  engine::SessionOptions SessionOptionsFor(const std::string& secret_file) {
    engine::SessionOptions o;
    o.repository = plan_.location;
    o.password_file = secret_file;
    // The file setup writes; the defaults until there is one (never a
    // ./config/settings.yaml of the working folder).
    if (plan_.settings_exist)
      o.config_file = plan_.settings_path;
    else
      o.no_settings_file = true;
    o.device = plan_.device;
    o.cheap_kdf_for_tests = ctx_.global().cheap_kdf_for_tests;
    o.limit_upload_kib = ctx_.global().limit_upload_kib;
    o.limit_download_kib = ctx_.global().limit_download_kib;
    std::string conn = plan_.connection_string;
    o.getenv = [conn](const char* name) -> const char* {
      if (std::string_view(name) == "AZURE_STORAGE_CONNECTION_STRING")
        return conn.empty() ? nullptr : conn.c_str();
      return std::getenv(name);
    };
    o.notice = [this](const std::string& text) { ctx_.Warn(text); };
    return o;
  }

  Result<std::unique_ptr<engine::Session>> MakeSession(const std::string& secret_file) {
    auto s = engine::Session::Create(SessionOptionsFor(secret_file));
    if (!s.ok()) return s.error();
    return std::move(*s);
  }

  // ---- What is there --------------------------------------------------

  Status LoadCurrent() {
    // The folders, as the engine resolves them (HOME, XDG_*).
    engine::SessionOptions probe;
    probe.no_settings_file = true;
    CAIRN_ASSIGN_OR_RETURN(engine::ResolvedConfig cfg, engine::ResolveConfig(probe));
    plan_.home = cfg.home;
    plan_.config_dir = cfg.config_dir;
    plan_.config_home = fs::path(cfg.config_dir).parent_path().string();
    default_location_ = cfg.default_location;
    plan_.settings_path = ctx_.global().config_file.empty()
                              ? cfg.config_dir + "/settings.yaml"
                              : AbsolutePath(config::ExpandHome(ctx_.global().config_file));
    plan_.env_path = cfg.config_dir + "/cairn.env";
    std::error_code ec;
    plan_.settings_exist = fs::exists(plan_.settings_path, ec);
    if (plan_.settings_exist) {
      auto s = config::LoadSettingsFile(plan_.settings_path);
      if (!s.ok())
        return Status::InvalidArgument(s.error().message() +
                                       "; fix the settings file (or move it away) and run "
                                       "`cairn setup` again");
      plan_.current = *s;
    }
    if (auto text = ReadText(plan_.env_path)) plan_.current_env = config::ParseEnvFileText(*text);
    return Status::OK();
  }

  void ShowCurrent() {
    if (!plan_.settings_exist && plan_.current_env.empty()) return;
    const config::Settings& s = plan_.current;
    Say("Already set up (" + plan_.settings_path + "):");
    Say("  backups kept at:  " + (s.repository.empty() ? "(not set)" : s.repository));
    Say("  folders:          " + JoinList(s.watched_directories, plan_.home));
    Say("  excluded:         " + JoinList(s.exclude_patterns));
    std::string device =
        plan_.current_env.count("DEVICE_ID") ? plan_.current_env["DEVICE_ID"] : s.device_id;
    Say("  this device:      " + (device.empty() ? "(the host name)" : device));
    if (!s.password_file.empty()) Say("  secret:           " + s.password_file);
    Say("Only what you change now is changed.");
  }

  // ---- Decisions (nothing is written) ----------------------------------

  Status ChooseLocation() {
    std::string loc = a_.location;
    if (loc.empty() && !ctx_.global().repo.empty()) loc = ctx_.global().repo;
    if (loc.empty() && a_.azure) {
      const char* c = std::getenv("AZURE_CONTAINER_NAME");
      loc = std::string("azure://") + (c && *c ? c : "backups") + "/cairn";
    }
    if (const char* env = std::getenv("CAIRN_REPOSITORY"); loc.empty() && env && *env) loc = env;
    const std::string current = plan_.current.repository;
    if (loc.empty() && interactive_) {
      std::string def = current.empty() ? Tilde(default_location_, plan_.home) : current;
      Say("Where should the backups be kept? A folder (on this disk, or a mounted backup disk),");
      Say("or Azure Blob Storage as azure://CONTAINER[/PREFIX].");
      CAIRN_ASSIGN_OR_RETURN(loc, term_.Ask("Location", def));
    }
    if (loc.empty()) loc = current.empty() ? default_location_ : current;
    if (loc.find("://") == std::string::npos) loc = AbsolutePath(config::ExpandHome(loc));
    plan_.location = loc;
    if (!plan_.azure()) return CheckLocalPlace(loc);
    // The connection string: the environment, the service's file of a
    // previous run, else asked (never echoed, never printed).
    if (const char* c = std::getenv("AZURE_STORAGE_CONNECTION_STRING"); c && *c)
      plan_.connection_string = c;
    else if (plan_.current_env.count("AZURE_STORAGE_CONNECTION_STRING"))
      plan_.connection_string = plan_.current_env["AZURE_STORAGE_CONNECTION_STRING"];
    if (plan_.connection_string.empty() && interactive_) {
      Say("The storage account's connection string or SAS connection string (Azure portal,");
      Say("storage account, \"Access keys\" or \"Shared access signature\"); it is not shown.");
      CAIRN_ASSIGN_OR_RETURN(plan_.connection_string, term_.Secret("Connection string"));
      plan_.connection_string = Trim(plan_.connection_string);
    }
    if (plan_.connection_string.empty())
      return Status::InvalidArgument(
          plan_.location +
          " needs the storage account's connection string: set AZURE_STORAGE_CONNECTION_STRING "
          "(or run `cairn setup` at a terminal to be asked for it)");
    return Status::OK();
  }

  // A backup disk that is not mounted must not turn into a folder on the
  // system disk: a new folder is made only where its parent exists (or
  // under the home folder), and never on the system disk under /media,
  // /mnt or /run/media.
  Status CheckLocalPlace(const std::string& loc) {
    std::error_code ec;
    if (fs::exists(loc, ec)) return Status::OK();
    fs::path existing = fs::path(loc).parent_path();
    while (!existing.empty() && existing != existing.root_path() && !fs::exists(existing, ec))
      existing = existing.parent_path();
    const bool under_home = loc.rfind(plan_.home + "/", 0) == 0;
    if (!under_home && existing != fs::path(loc).parent_path())
      return Status::InvalidArgument(
          "the folder " + fs::path(loc).parent_path().string() +
          " does not exist: if it is a disk, mount it; if the folder is meant to be there, create "
          "it first (setup creates only the last folder of the location)");
    for (const char* mounts : {"/media/", "/mnt/", "/run/media/"}) {
      if (loc.rfind(mounts, 0) != 0) continue;
      struct stat here, root;
      if (::stat(existing.c_str(), &here) == 0 && ::stat("/", &root) == 0 &&
          here.st_dev == root.st_dev)
        return Status::InvalidArgument(loc +
                                       " would be on the system disk, not on a mounted "
                                       "disk: mount the backup disk first");
    }
    return Status::OK();
  }

  Status ChooseDevice() {
    std::string device = ctx_.global().device;
    std::string current = plan_.current_env.count("DEVICE_ID") ? plan_.current_env["DEVICE_ID"]
                                                               : plan_.current.device_id;
    if (const char* env = std::getenv("DEVICE_ID"); device.empty() && env && *env) device = env;
    if (device.empty() && !current.empty()) device = current;
    if (device.empty()) {
      char host[HOST_NAME_MAX + 1] = {0};
      device = gethostname(host, sizeof(host) - 1) == 0 && host[0] ? host : "default-device";
      if (interactive_) {
        CAIRN_ASSIGN_OR_RETURN(device, term_.Ask("Name of this device", device));
      }
    }
    plan_.device = device;
    return Status::OK();
  }

  Status ChooseFolders() {
    std::vector<std::string> folders = a_.folders;
    const auto& current = plan_.current.watched_directories;
    if (folders.empty() && !current.empty() && !interactive_) folders = current;
    if (folders.empty()) {
      std::vector<std::string> defaults;
      if (!current.empty()) {
        defaults = current;
      } else {
        for (const char* name : {"Documents", "Pictures"}) {
          std::string p = plan_.home + "/" + name;
          if (fs::is_directory(p)) defaults.push_back(p);
        }
      }
      if (interactive_) {
        std::string def;
        for (const auto& d : defaults) def += (def.empty() ? "" : " ") + Tilde(d, plan_.home);
        CAIRN_ASSIGN_OR_RETURN(std::string answer,
                               term_.Ask("Folders to back up (separated by spaces)", def));
        std::istringstream in(answer);
        for (std::string f; in >> f;) folders.push_back(f);
      } else {
        folders = defaults;
      }
    }
    if (folders.empty())
      return Status::InvalidArgument(
          "no folder to back up: ~/Documents and ~/Pictures do not exist here; name one or more "
          "with --folder DIR");
    plan_.folders.clear();
    for (const auto& f : folders) {
      std::string p = AbsolutePath(config::ExpandHome(f));
      std::error_code ec;
      if (!fs::exists(p, ec))
        return Status::InvalidArgument("the folder " + ShowPath(p) +
                                       " does not exist: create it, or choose another with "
                                       "--folder DIR");
      if (!fs::is_directory(p, ec))
        return Status::InvalidArgument(ShowPath(p) + " is not a folder: name folders to back up");
      if (std::find(plan_.folders.begin(), plan_.folders.end(), p) == plan_.folders.end())
        plan_.folders.push_back(p);
    }
    // Excludes: the flags, else the settings', else the original design's.
    if (!a_.excludes.empty())
      plan_.excludes = a_.excludes;
    else if (plan_.settings_exist)
      plan_.excludes = plan_.current.exclude_patterns;
    else
      plan_.excludes = kDefaultExcludes;
    return Status::OK();
  }

  // ---- The repository and its secret -----------------------------------

  // The secret a new repository gets: a file given, a passphrase typed
  // twice, else a random one.
  Result<std::string> NewSecret() {
    std::string file = !a_.secret_file.empty() ? a_.secret_file : ctx_.global().password_file;
    if (!file.empty()) return ReadSecretFrom(file);
    bool passphrase = a_.passphrase;
    if (!passphrase && interactive_) {
      Say("The repository is encrypted with a secret. A random one (recommended) is kept in");
      Say(plan_.secret_path + "; or choose a passphrase of your own.");
      CAIRN_ASSIGN_OR_RETURN(bool own, term_.YesNo("Type a passphrase of your own?", false));
      passphrase = own;
    }
    if (!passphrase) return engine::NewRandomSecret();
    if (!isatty(STDIN_FILENO))
      return Status::InvalidArgument(
          "--passphrase asks at a terminal; in a script give the passphrase with --secret-file "
          "FILE");
    CAIRN_ASSIGN_OR_RETURN(std::string pw, term_.Secret("Passphrase"));
    if (pw.size() < 8)
      return Status::InvalidArgument(
          "the passphrase is shorter than 8 characters; nothing was "
          "written");
    CAIRN_ASSIGN_OR_RETURN(std::string again, term_.Secret("The same passphrase again"));
    if (again != pw)
      return Status::InvalidArgument("the two passphrases differ; nothing was written");
    return pw;
  }

  Result<std::string> ReadSecretFrom(const std::string& file) {
    std::string path = config::ExpandHome(file);
    auto text = ReadText(path);
    if (!text)
      return Status::InvalidArgument("cannot read the secret file " + path +
                                     ": check the path and its permissions");
    std::string s = *text;
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    if (s.empty()) return Status::InvalidArgument("the secret file " + path + " is empty");
    return s;
  }

  // The secret of an existing repository: a file given, the secret file
  // this machine already has for the location, else asked.
  Result<std::string> ExistingSecret() {
    std::string file = !a_.secret_file.empty() ? a_.secret_file : ctx_.global().password_file;
    if (!file.empty()) return ReadSecretFrom(file);
    if (fs::exists(plan_.secret_path)) return ReadSecretFrom(plan_.secret_path);
    if (!interactive_)
      return Status::InvalidArgument(
          "joining " + plan_.location +
          " needs its secret: give it with --secret-file FILE (a copy of the password file of a "
          "machine that uses it)");
    return term_.Secret("The secret of the existing repository (the content of its password file)");
  }

  // Writes the secret file unless it holds this secret already; never
  // replaces a different one.
  Status KeepSecret(const std::string& secret) {
    if (auto existing = ReadText(plan_.secret_path)) {
      std::string s = *existing;
      while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
      if (s == secret) return Status::OK();
      return Status::AlreadyExists(
          plan_.secret_path +
          " already holds another secret, and a secret is never overwritten: move it away "
          "(keeping a copy) if it is no longer needed, then run `cairn setup` again");
    }
    journal_.MaybeCreatedFolder(plan_.config_dir);
    CAIRN_RETURN_IF_ERROR(engine::CreateSecretFile(plan_.secret_path, secret));
    journal_.Created(plan_.secret_path);
    return Status::OK();
  }

  Status SetUpRepository() {
    // Where the secret is kept: the settings' (a run before), else where an
    // unattended `cairn init` puts the secret of this location.
    CAIRN_ASSIGN_OR_RETURN(auto probe_session, MakeSession(""));
    plan_.secret_path =
        plan_.current.password_file.empty() || plan_.current.repository != plan_.location
            ? probe_session->config().GeneratedSecretPath()
            : plan_.current.password_file;
    Say("Checking " + plan_.location + " ...");
    // The folders above a new local repository that the probe creates go
    // too when this run is undone (they are removed only when empty).
    if (!plan_.azure())
      journal_.MaybeCreatedFolder(fs::path(plan_.location).parent_path().string());
    CAIRN_ASSIGN_OR_RETURN(auto state, probe_session->ProbeLocation());
    if (state.created_folder) {
      std::string folder = plan_.location;
      journal_.Add(folder, [folder] {
        std::error_code ec;
        fs::remove_all(folder, ec);
      });
    }
    CAIRN_RETURN_IF_ERROR(Stopped());
    if (state.has_other_data)
      return Status::AlreadyExists(
          plan_.location +
          " already holds files that are not a cairn repository, and setup never writes into "
          "them: choose an empty or new folder (e.g. " +
          (plan_.azure() ? std::string("another prefix") : plan_.location + "/cairn") + ")");
    if (!state.has_repository) return CreateRepository();
    return UseExistingRepository();
  }

  Status CreateRepository() {
    std::string secret;
    bool existing_file = fs::exists(plan_.secret_path);
    if (existing_file) {
      // A secret this machine already has for this place (an earlier,
      // interrupted run, or `cairn init`): used, never replaced.
      CAIRN_ASSIGN_OR_RETURN(secret, ReadSecretFrom(plan_.secret_path));
      Say("Using the secret already in " + plan_.secret_path + ".");
    } else {
      CAIRN_ASSIGN_OR_RETURN(secret, NewSecret());
    }
    CAIRN_RETURN_IF_ERROR(Stopped());
    CAIRN_RETURN_IF_ERROR(KeepSecret(secret));
    CAIRN_RETURN_IF_ERROR(PauseForTests("secret"));
    CAIRN_ASSIGN_OR_RETURN(session_, MakeSession(plan_.secret_path));
    auto created = session_->Init("setup: " + plan_.device);
    if (!created.ok()) return created.error();
    engine::Session* s = session_.get();
    journal_.Add(plan_.location, [s] { (void)s->DiscardCreatedRepository(); });
    repo_action_ = "created";
    Say("Created the repository " + created->repo_id.substr(0, 8) + " at " + plan_.location + ".");
    return PauseForTests("repository");
  }

  Status UseExistingRepository() {
    // This machine's own repository: the one the settings name, or one for
    // which it holds the secret file already (`cairn init` or
    // `scripts/run` made it here). It must open with that secret.
    const bool configured =
        (plan_.current.repository == plan_.location && !plan_.current.repository.empty()) ||
        fs::exists(plan_.secret_path);
    if (!configured) {
      Say(plan_.location + " already holds a cairn repository.");
      bool join = a_.join;
      if (!join && interactive_) {
        CAIRN_ASSIGN_OR_RETURN(
            join, term_.YesNo("Use it from this machine as another device (join it)?", false));
      }
      if (!join)
        return Status::AlreadyExists(
            plan_.location +
            " already holds a cairn repository, and setup never overwrites one: to use it from "
            "this machine as another device, run `cairn setup --join` with its secret "
            "(--secret-file FILE), or choose another place for a new repository");
    }
    CAIRN_ASSIGN_OR_RETURN(std::string secret, ExistingSecret());
    CAIRN_RETURN_IF_ERROR(Stopped());
    // Opened with the secret before it is kept anywhere.
    std::string scratch;
    {
      engine::SessionOptions o = SessionOptionsFor("");
      o.password_file.clear();
      auto env = o.getenv;
      o.getenv = [env, secret](const char* name) -> const char* {
        std::string_view n(name);
        if (n == "CAIRN_PASSWORD") return secret.c_str();
        if (n == "BACKUP_ENCRYPTION_KEY" || n == "CAIRN_PASSWORD_FILE") return nullptr;
        return env(name);
      };
      // The settings may name another password file: not for this check.
      o.config_file.clear();
      o.no_settings_file = true;
      auto s = engine::Session::Create(o);
      if (!s.ok()) return s.error();
      Status open = (*s)->Open();
      if (open.code() == StatusCode::kWrongPassword)
        return Status::WrongPassword("that secret does not open the repository at " +
                                     plan_.location +
                                     ": use the secret of a machine that already backs up there "
                                     "(its ~/.config/cairn/password file, or the passphrase)");
      CAIRN_RETURN_IF_ERROR(open);
      CAIRN_RETURN_IF_ERROR((*s)->CheckWritable());
      auto stats = (*s)->Stats({.stop = stop_}, false);
      if (!stats.ok()) return stats.error();
      for (const auto& d : stats->per_device) devices_.push_back(d.device);
    }
    CAIRN_RETURN_IF_ERROR(Stopped());
    if (configured) {
      repo_action_ = "kept";
      Say("The repository at " + plan_.location +
          " is set up already; it opens with the secret in " + plan_.secret_path + ".");
    } else {
      repo_action_ = "joined";
      Say("Devices already backing up there: " + JoinList(devices_) + ".");
      if (std::find(devices_.begin(), devices_.end(), plan_.device) != devices_.end())
        ctx_.Warn("a device named '" + plan_.device +
                  "' already backs up there: this machine continues its history. If this is "
                  "another machine, run setup again with --device NAME");
    }
    CAIRN_RETURN_IF_ERROR(KeepSecret(secret));
    CAIRN_ASSIGN_OR_RETURN(session_, MakeSession(plan_.secret_path));
    return Status::OK();
  }

  // ---- Settings and the service's environment --------------------------

  Status WriteSettings() {
    std::vector<std::string> folders;
    for (const auto& f : plan_.folders) folders.push_back(Tilde(f, plan_.home));
    std::vector<config::SettingChange> changes = {
        {"backup.watched_directories", folders},
        {"backup.exclude_patterns", plan_.excludes},
        {"repository.location", plan_.location.find("://") == std::string::npos
                                    ? Tilde(plan_.location, plan_.home)
                                    : plan_.location},
        {"repository.device_id", plan_.device},
        {"repository.password_file", Tilde(plan_.secret_path, plan_.home)},
    };
    if (plan_.settings_exist) {
      std::string bak = plan_.settings_path + ".bak";
      std::string before = ReadText(plan_.settings_path).value_or("");
      auto edited = config::EditSettingsText(before, changes, plan_.settings_path);
      if (!edited.ok()) return edited.error();
      if (*edited == before) {
        settings_action_ = "kept";
        return Status::OK();
      }
      journal_.Changed(bak);
      journal_.Changed(plan_.settings_path);
      auto s = config::UpdateSettingsFile(plan_.settings_path, changes);
      if (!s.ok()) return s.error();
      settings_action_ = "updated";
      return Status::OK();
    }
    auto text = config::EditSettingsText(kSettingsHeader, changes, plan_.settings_path);
    if (!text.ok()) return text.error();
    // Validated as the settings file always is, before it is written.
    auto parsed = config::ParseSettings(*text, plan_.settings_path);
    if (!parsed.ok()) return parsed.error();
    journal_.MaybeCreatedFolder(fs::path(plan_.settings_path).parent_path().string());
    journal_.Created(plan_.settings_path);
    CAIRN_RETURN_IF_ERROR(config::WritePrivateFile(plan_.settings_path, *text));
    settings_action_ = "created";
    return Status::OK();
  }

  Status WriteEnvFile() {
    std::vector<config::EnvChange> changes = {
        {"DEVICE_ID", plan_.device},
        {"CAIRN_PASSWORD_FILE", plan_.secret_path},
    };
    if (plan_.azure())
      changes.push_back({"AZURE_STORAGE_CONNECTION_STRING", plan_.connection_string});
    auto before = ReadText(plan_.env_path);
    auto text = config::EditEnvFileText(before.value_or(kEnvHeader), changes);
    if (!text.ok()) return text.error();
    struct stat st;
    bool private_mode = ::stat(plan_.env_path.c_str(), &st) == 0 && (st.st_mode & 077) == 0;
    if (before && *text == *before && private_mode) {
      env_action_ = "kept";
      return Status::OK();
    }
    journal_.MaybeCreatedFolder(plan_.config_dir);
    journal_.Changed(plan_.env_path);
    CAIRN_RETURN_IF_ERROR(config::WritePrivateFile(plan_.env_path, *text));
    env_action_ = before ? "updated" : "created";
    return Status::OK();
  }

  // ---- The service -------------------------------------------------------

  // How to start this cairn: "cairn" when that is what PATH finds, else
  // its full path (a build folder's).
  static std::string SelfCommand() {
    char self[PATH_MAX] = {0};
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) return "cairn";
    std::string path(self, static_cast<size_t>(n));
    const char* env_path = std::getenv("PATH");
    std::istringstream dirs(env_path ? env_path : "");
    for (std::string dir; std::getline(dirs, dir, ':');) {
      std::error_code ec;
      if (!dir.empty() && fs::equivalent(dir + "/cairn", path, ec)) return "cairn";
    }
    return path;
  }

  std::string ManualCommand() const {
    std::string cmd =
        "set -a; . " + Tilde(plan_.env_path, plan_.home) + "; set +a; " + SelfCommand() + " run";
    if (!ctx_.global().config_file.empty())
      cmd += " --config " + Tilde(plan_.settings_path, plan_.home);
    return cmd;
  }

  // Installs and starts the user unit. Problems here are reported, not
  // undone: the configuration is complete without the service.
  void SetUpService() {
    if (a_.no_service) {
      service_ = "skipped";
      Say("Service: not installed (--no-service). To protect your folders, run:\n  " +
          ManualCommand());
      return;
    }
    const std::string& root = ctx_.global().systemd_root_for_tests;
    std::string why = daemon::UserManagerUnavailableReason(
        [](const char* n) { return static_cast<const char*>(std::getenv(n)); },
        root + "/run/systemd/system");
    if (!why.empty()) {
      service_ = "unavailable";
      Say("Service: " + why + ".");
      Say("To protect your folders, keep this running (in a terminal, tmux, or your session's "
          "autostart):\n  " +
          ManualCommand());
      return;
    }
    bool start = true;
    if (interactive_) {
      auto yes =
          term_.YesNo("Start protecting now, as a service that starts with your session?", true);
      start = yes.ok() && *yes;
    }
    if (!start) {
      service_ = "skipped";
      Say("Service: not installed. Later: `systemctl --user enable --now cairn`, or run:\n  " +
          ManualCommand());
      return;
    }
    std::string unit = daemon::FindInstalledUserUnit(daemon::SystemUserUnitDirs(root));
    if (unit.empty()) {
      char self[PATH_MAX] = {0};
      ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
      std::string binary = n > 0 ? std::string(self, static_cast<size_t>(n)) : "/usr/bin/cairn";
      unit = plan_.config_home + "/systemd/user/cairn.service";
      std::string text = daemon::UserUnitText(binary);
      if (ReadText(unit) != text) {
        if (Status st = config::WritePrivateFile(unit, text); !st.ok()) {
          service_ = "failed";
          ctx_.Warn("cannot write the unit " + unit + ": " + st.message());
          return;
        }
      }
    }
    auto run = [&](const std::vector<std::string>& argv) -> bool {
      auto r = daemon::RunProgram(argv);
      if (r.ok() && r->exit_code == 0) return true;
      std::string cmd;
      for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
      ctx_.Warn("`" + cmd + "` failed: " + (r.ok() ? Trim(r->output) : r.error().message()));
      return false;
    };
    bool active = false;
    if (auto r =
            daemon::RunProgram({"systemctl", "--user", "is-active", "--quiet", "cairn.service"});
        r.ok())
      active = r->exit_code == 0;
    bool ok = run({"systemctl", "--user", "daemon-reload"}) &&
              run({"systemctl", "--user", "enable", "cairn.service"}) &&
              run({"systemctl", "--user", active ? "restart" : "start", "cairn.service"});
    service_ = ok ? (active ? "restarted" : "started") : "failed";
    Say(ok ? "Service: cairn.service (" + unit + ") is " + service_ +
                 "; `systemctl --user status cairn` shows it, `cairn status` what it does."
           : "Service: could not be started (above); meanwhile run:\n  " + ManualCommand());
    bool linger = a_.linger;
    if (!linger && interactive_ && ok) {
      auto yes = term_.YesNo("Keep protecting while you are logged out (lingering)?", false);
      linger = yes.ok() && *yes;
    }
    if (linger) {
      const char* user = std::getenv("USER");
      std::string name = user && *user ? user : "";
      if (name.empty()) {
        struct passwd pw {};
        struct passwd* found = nullptr;
        char buf[4096];
        if (::getpwuid_r(::getuid(), &pw, buf, sizeof buf, &found) == 0 && found != nullptr)
          name = found->pw_name;
      }
      if (run({"loginctl", "enable-linger", name})) Say("Lingering enabled for " + name + ".");
    }
  }

  void ShowDashboard() {
    const config::Settings& s = session_->settings();
    if (!s.web_enabled) return;
    std::string token_file =
        s.web_token_file.empty() ? plan_.config_dir + "/web-token" : s.web_token_file;
    std::string host = s.web_host == "0.0.0.0" || s.web_host == "::" ? "127.0.0.1" : s.web_host;
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    std::string url = std::string(s.web_tls_cert.empty() ? "http" : "https") + "://" + host + ":" +
                      std::to_string(s.web_port) + "/";
    dashboard_ = url;
    Say("Dashboard (while cairn runs): " + url);
    // The login link holds the access token: on a terminal only, never in
    // a log or a pipe.
    if (isatty(STDOUT_FILENO)) {
      bool existed = fs::exists(token_file);
      auto token = web::LoadOrCreateToken(token_file);
      if (token.ok()) {
        if (!existed) journal_.Created(token_file);
        Say("  open this link to log in: " + url + "?token=" + *token);
      }
    }
    Say("  (the access token is in " + Tilde(token_file, plan_.home) + ")");
  }

  void ShowRecoveryNote() {
    std::string loc = plan_.location;
    std::string env =
        plan_.azure() ? "AZURE_STORAGE_CONNECTION_STRING='<the connection string>' " : "";
    Say("");
    Say("KEEP THESE SOMEWHERE ELSE (a password manager, or on paper): without the secret nothing");
    Say("can be restored, by you or anyone.");
    Say("  the secret:   the content of " + plan_.secret_path);
    Say("  the location: " + loc);
    if (plan_.azure())
      Say("  the storage account's connection string (it is in " +
          Tilde(plan_.env_path, plan_.home) + ")");
    Say("On a new machine, with the secret saved in a file SECRET, this restores everything of");
    Say("this device under ~/restored (without --to, in place; existing files are never "
        "replaced):");
    Say("  " + env + "cairn -r " + loc + " --password-file SECRET --device " + plan_.device +
        " restore / --to ~/restored");
  }

  Status RunSteps() {
    CAIRN_RETURN_IF_ERROR(LoadCurrent());
    ShowCurrent();
    CAIRN_RETURN_IF_ERROR(ChooseLocation());
    CAIRN_RETURN_IF_ERROR(ChooseDevice());
    CAIRN_RETURN_IF_ERROR(ChooseFolders());
    CAIRN_RETURN_IF_ERROR(Stopped());
    CAIRN_RETURN_IF_ERROR(SetUpRepository());
    CAIRN_RETURN_IF_ERROR(Stopped());
    CAIRN_RETURN_IF_ERROR(WriteSettings());
    CAIRN_RETURN_IF_ERROR(PauseForTests("settings"));
    CAIRN_RETURN_IF_ERROR(WriteEnvFile());
    CAIRN_RETURN_IF_ERROR(PauseForTests("environment"));
    // Everything but the service is in place: from here on nothing is undone.
    journal_.Commit();
    Say("Settings: " + plan_.settings_path + " (" + settings_action_ + "); folders: " +
        JoinList(plan_.folders, plan_.home) + "; excluded: " + JoinList(plan_.excludes) + ".");
    Say("Service environment: " + plan_.env_path + " (" + env_action_ + ", mode 0600).");
    SetUpService();
    ShowDashboard();
    ShowRecoveryNote();
    if (ctx_.json())
      ctx_.PrintJson({{"location", plan_.location},
                      {"repository", repo_action_},
                      {"devices", devices_},
                      {"device", plan_.device},
                      {"secret_file", plan_.secret_path},
                      {"settings_file", plan_.settings_path},
                      {"settings", settings_action_},
                      {"environment_file", plan_.env_path},
                      {"environment", env_action_},
                      {"folders", plan_.folders},
                      {"excludes", plan_.excludes},
                      {"service", service_},
                      {"dashboard", dashboard_}});
    return Status::OK();
  }

  Context& ctx_;
  const SetupArgs& a_;
  std::stop_token stop_;
  Terminal term_;
  bool interactive_ = false;
  Plan plan_;
  std::string default_location_;
  // Before the journal: its undo steps may use the session.
  std::unique_ptr<engine::Session> session_;
  Journal journal_;
  std::vector<std::string> devices_;
  std::string repo_action_, settings_action_, env_action_, service_, dashboard_;
};

}  // namespace

int SetupCommand(Context& ctx, const SetupArgs& args) { return Setup(ctx, args).Run(); }

}  // namespace cairn::cli
