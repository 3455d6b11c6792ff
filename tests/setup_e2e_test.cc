// `cairn setup` end to end (issue 14): the real binary on a sandboxed HOME
// with its own XDG folders, real files, a real repository; a pseudo-terminal
// for the questions. systemd is not reachable from a sandbox (no user
// manager's socket in its XDG_RUNTIME_DIR, and none at all on a build
// machine): that message is tested, the unit itself in
// src/daemon/user_unit_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "e2e_util.h"

namespace cairn::e2e {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

mode_t ModeOf(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

// Every file and folder under `root` (relative paths), for "nothing was left" checks.
std::vector<std::string> Listing(const std::string& root) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::exists(root, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec))
    out.push_back(fs::relative(it->path(), root).string());
  std::sort(out.begin(), out.end());
  return out;
}

// Makes `cairn setup` (the test build) wait after `step` until interrupted.
CairnRunOptions Pause(const std::string& step) {
  CairnRunOptions o;
  o.set["CAIRN_TEST_SETUP_PAUSE"] = step;
  return o;
}

class SetupE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { NewUser(sb_); }

  // A user who never ran cairn: no password, repository or device in the
  // environment; ~/Documents and ~/Pictures with files in them.
  static void NewUser(Sandbox& sb) {
    for (const char* v : {"CAIRN_PASSWORD", "CAIRN_REPOSITORY", "DEVICE_ID"}) sb.env().erase(v);
    WriteFile(sb.home() + "/Documents/thesis.odt", RandomData(200000, 1));
    WriteFile(sb.home() + "/Documents/notes/todo.txt", "write chapter 3\n");
    WriteFile(sb.home() + "/Documents/scratch.tmp", "temporary\n");
    WriteFile(sb.home() + "/Documents/build.log", "log\n");
    WriteFile(sb.home() + "/Documents/code/.git/HEAD", "ref: refs/heads/main\n");
    WriteFile(sb.home() + "/Documents/code/main.cc", "int main() {}\n");
    WriteFile(sb.home() + "/Pictures/cat.jpg", RandomData(50000, 2));
  }

  std::string ConfigDir(const Sandbox& sb) const { return sb.config_home() + "/cairn"; }
  std::string DefaultRepo(const Sandbox& sb) const { return sb.data_home() + "/cairn/repo"; }

  ProcResult Setup(std::vector<std::string> args, const CairnRunOptions& o = {}) {
    return SetupIn(sb_, std::move(args), o);
  }
  static ProcResult SetupIn(const Sandbox& sb, std::vector<std::string> args,
                            const CairnRunOptions& o = {}) {
    args.insert(args.begin(), "setup");
    return sb.Cairn(args, o);
  }
  // `setup --json ...` that must succeed; its summary.
  json SetupOk(const Sandbox& sb, std::vector<std::string> args) {
    args.insert(args.begin(), "--json");
    ProcResult r = SetupIn(sb, args);
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    // The summary is the last line of stdout (the notes come before it).
    std::string last = r.out;
    while (!last.empty() && last.back() == '\n') last.pop_back();
    last = last.substr(last.find_last_of('\n') + 1);
    try {
      return json::parse(last);
    } catch (const std::exception&) {
      ADD_FAILURE() << "no JSON summary: " << r.Describe();
      return json::object();
    }
  }

  // Nothing of cairn's was written: no settings, secret, environment file or repository.
  void ExpectNothingWritten(const Sandbox& sb, const std::string& location) {
    EXPECT_THAT(Listing(ConfigDir(sb)), ::testing::IsEmpty());
    EXPECT_FALSE(fs::exists(location)) << location;
  }

  Sandbox sb_;
};

TEST_F(SetupE2eTest, FromNothingToAProtectedDocumentsThenBackupAndRestoreOnANewMachine) {
  ProcResult r = Setup({"--yes", "--device", "laptop"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  const std::string cfg = ConfigDir(sb_);
  const std::string repo = DefaultRepo(sb_);

  // The secret: generated as `cairn init` does, where it puts it, 0600.
  const std::string secret_file = cfg + "/password";
  ASSERT_TRUE(Exists(secret_file)) << r.Describe();
  EXPECT_EQ(ModeOf(secret_file), 0600u);
  const std::string secret = ReadFile(secret_file);
  EXPECT_EQ(secret.size(), 45u);  // base64 of 32 bytes and a newline
  EXPECT_THAT(r.out + r.err, Not(HasSubstr(secret.substr(0, 44))));  // never printed

  // The repository, the settings (validated: `cairn` reads them below), the environment file.
  EXPECT_TRUE(Exists(repo + "/config"));
  EXPECT_EQ(ModeOf(cfg + "/settings.yaml"), 0600u);
  std::string settings = ReadFile(cfg + "/settings.yaml");
  EXPECT_THAT(settings, HasSubstr("~/Documents"));
  EXPECT_THAT(settings, HasSubstr("~/Pictures"));
  EXPECT_THAT(settings, HasSubstr("\"*.tmp\""));
  EXPECT_THAT(settings, HasSubstr(".git/*"));
  EXPECT_THAT(settings, HasSubstr("device_id: laptop"));
  EXPECT_EQ(ModeOf(cfg + "/cairn.env"), 0600u);
  std::string env = ReadFile(cfg + "/cairn.env");
  EXPECT_THAT(env, HasSubstr("\nDEVICE_ID=laptop\n"));
  EXPECT_THAT(env, HasSubstr("\nCAIRN_PASSWORD_FILE=" + secret_file + "\n"));
  EXPECT_THAT(env, Not(HasSubstr("AZURE_STORAGE_CONNECTION_STRING=")));

  // No systemd user manager here: said so, with the command to run instead.
  EXPECT_THAT(r.out, HasSubstr("Service: "));
  EXPECT_THAT(r.out, ::testing::AnyOf(HasSubstr("systemd is not running on this machine"),
                                      HasSubstr("no systemd user manager")));
  EXPECT_THAT(r.out,
              HasSubstr("set -a; . ~/.config/cairn/cairn.env; set +a; " + CairnBinary() + " run"));
  // The dashboard's address, and the recovery note with its one command.
  EXPECT_THAT(r.out, HasSubstr("http://127.0.0.1:5000/"));
  EXPECT_THAT(r.out, HasSubstr("KEEP THESE SOMEWHERE ELSE"));
  const std::string restore_cmd = "cairn -r " + repo +
                                  " --password-file SECRET --device laptop restore / --to "
                                  "~/restored";
  EXPECT_THAT(r.out, HasSubstr(restore_cmd));

  // `cairn backup` with nothing but those settings (no password or device in the environment).
  ProcResult b = sb_.Cairn({"backup"});
  ASSERT_EQ(b.exit_code, 0) << b.Describe();

  // A new machine: only the secret (kept elsewhere) and the note's command.
  Sandbox other;
  NewUser(other);
  fs::remove_all(other.home() + "/Documents");
  WriteFile(other.Path("kept-secret"), secret);
  const std::string target = other.Path("restored");
  ProcResult rr = other.Cairn({"-r", repo, "--password-file", other.Path("kept-secret"), "--device",
                               "laptop", "restore", "/", "--to", target});
  ASSERT_EQ(rr.exit_code, 0) << rr.Describe();
  CompareOptions cmp;
  cmp.owner = false;
  cmp.root_metadata = false;
  cmp.ignore = {"scratch.tmp", "build.log", "code/.git"};
  EXPECT_THAT(CompareTrees(sb_.home() + "/Documents", target + sb_.home() + "/Documents", cmp),
              ::testing::IsEmpty());
  EXPECT_TRUE(
      FilesEqual(sb_.home() + "/Pictures/cat.jpg", target + sb_.home() + "/Pictures/cat.jpg"));
  // The excludes held.
  EXPECT_FALSE(Exists(target + sb_.home() + "/Documents/scratch.tmp"));
  EXPECT_FALSE(Exists(target + sb_.home() + "/Documents/build.log"));
  EXPECT_FALSE(Exists(target + sb_.home() + "/Documents/code/.git/HEAD"));
}

TEST_F(SetupE2eTest, RunAgainShowsWhatIsSetUpAndChangesOnlyWhatIsAsked) {
  json first = SetupOk(sb_, {"--yes"});
  EXPECT_EQ(first.value("repository", ""), "created");
  EXPECT_EQ(first.value("settings", ""), "created");
  EXPECT_EQ(first.value("environment", ""), "created");
  const std::string cfg = ConfigDir(sb_);
  const std::string settings = ReadFile(cfg + "/settings.yaml");
  const std::string env = ReadFile(cfg + "/cairn.env");
  const std::string secret = ReadFile(cfg + "/password");
  const std::string repo_config = ReadFile(DefaultRepo(sb_) + "/config");

  // Again with nothing asked: everything kept, byte for byte.
  ProcResult again = Setup({"--yes"});
  ASSERT_EQ(again.exit_code, 0) << again.Describe();
  EXPECT_THAT(again.out, HasSubstr("Already set up"));
  EXPECT_THAT(again.out, HasSubstr("is set up already"));
  EXPECT_EQ(ReadFile(cfg + "/settings.yaml"), settings);
  EXPECT_EQ(ReadFile(cfg + "/cairn.env"), env);
  EXPECT_EQ(ReadFile(cfg + "/password"), secret);
  EXPECT_EQ(ReadFile(DefaultRepo(sb_) + "/config"), repo_config);
  json kept = SetupOk(sb_, {"--yes"});
  EXPECT_EQ(kept.value("repository", ""), "kept");
  EXPECT_EQ(kept.value("settings", ""), "kept");
  EXPECT_EQ(kept.value("environment", ""), "kept");

  // Only the folders asked for change; a comment the user added stays.
  AppendFile(cfg + "/settings.yaml", "# my own note\n");
  json changed = SetupOk(sb_, {"--yes", "--folder", sb_.home() + "/Pictures"});
  EXPECT_EQ(changed.value("settings", ""), "updated");
  EXPECT_EQ(changed.value("repository", ""), "kept");
  std::string now = ReadFile(cfg + "/settings.yaml");
  EXPECT_THAT(now, Not(HasSubstr("~/Documents")));
  EXPECT_THAT(now, HasSubstr("~/Pictures"));
  EXPECT_THAT(now, HasSubstr("# my own note"));
  EXPECT_THAT(now, HasSubstr("\"*.log\""));  // the excludes were not asked about
  EXPECT_EQ(ReadFile(cfg + "/password"), secret);
  EXPECT_EQ(ReadFile(cfg + "/cairn.env"), env);
  EXPECT_EQ(ReadFile(DefaultRepo(sb_) + "/config"), repo_config);
}

// The README's first command (`scripts/run`) makes the repository and its
// secret with `cairn init`: setup then takes them as this machine's own.
TEST_F(SetupE2eTest, TakesTheRepositoryThatInitMadeOnThisMachine) {
  ProcResult init = sb_.Cairn({"-r", DefaultRepo(sb_), "init"});
  ASSERT_EQ(init.exit_code, 0) << init.Describe();
  const std::string secret = ReadFile(ConfigDir(sb_) + "/password");
  ASSERT_FALSE(secret.empty());
  json r = SetupOk(sb_, {"--yes"});
  EXPECT_EQ(r.value("repository", ""), "kept");
  EXPECT_EQ(r.value("settings", ""), "created");
  EXPECT_EQ(ReadFile(ConfigDir(sb_) + "/password"), secret);
  ASSERT_EQ(sb_.Cairn({"backup"}).exit_code, 0);
}

TEST_F(SetupE2eTest, JoinsAnExistingRepositoryAsANewDeviceAndNeverOverwritesIt) {
  const std::string shared = sb_.Path("shared-disk/cairn");
  MakeDirs(sb_.Path("shared-disk"));
  json a = SetupOk(sb_, {"--yes", "--device", "alpha", "--location", shared});
  ASSERT_EQ(a.value("repository", ""), "created");
  ASSERT_EQ(sb_.Cairn({"backup"}).exit_code, 0);
  const std::string secret_a = a.value("secret_file", "");
  ASSERT_FALSE(secret_a.empty());
  const std::string repo_config = ReadFile(shared + "/config");

  Sandbox b;
  NewUser(b);
  // Without --join: stops, says how to join, writes nothing.
  ProcResult stop = SetupIn(b, {"--yes", "--device", "beta", "--location", shared});
  EXPECT_EQ(stop.exit_code, 1) << stop.Describe();
  EXPECT_THAT(stop.err, HasSubstr("already holds a cairn repository"));
  EXPECT_THAT(stop.err, HasSubstr("--join"));
  EXPECT_THAT(Listing(ConfigDir(b)), ::testing::IsEmpty());
  EXPECT_EQ(ReadFile(shared + "/config"), repo_config);

  // A wrong secret: refused, nothing kept.
  WriteFile(b.Path("wrong"), "not the secret\n");
  ProcResult wrong = SetupIn(b, {"--yes", "--join", "--device", "beta", "--location", shared,
                                 "--secret-file", b.Path("wrong")});
  EXPECT_EQ(wrong.exit_code, 12) << wrong.Describe();
  EXPECT_THAT(wrong.err, HasSubstr("that secret does not open the repository"));
  EXPECT_THAT(Listing(ConfigDir(b)), ::testing::IsEmpty());

  // With its secret: joined, the devices already there named.
  WriteFile(b.Path("secret-copy"), ReadFile(secret_a));
  ProcResult joined_run = SetupIn(b, {"--yes", "--join", "--device", "beta", "--location", shared,
                                      "--secret-file", b.Path("secret-copy")});
  ASSERT_EQ(joined_run.exit_code, 0) << joined_run.Describe();
  EXPECT_THAT(joined_run.out, HasSubstr("Devices already backing up there: alpha."));
  EXPECT_EQ(ReadFile(shared + "/config"), repo_config);
  json joined = SetupOk(b, {"--yes"});
  EXPECT_EQ(joined.value("repository", ""), "kept");
  EXPECT_EQ(joined.value("device", ""), "beta");
  // Its own copy of the secret, 0600; the backups of both devices in one repository.
  std::string secret_b = joined.value("secret_file", "");
  EXPECT_EQ(ReadFile(secret_b), ReadFile(secret_a));
  EXPECT_EQ(ModeOf(secret_b), 0600u);
  ASSERT_EQ(b.Cairn({"backup"}).exit_code, 0);
  ProcResult stats = b.Cairn({"--json", "--all-devices", "stats"});
  ASSERT_EQ(stats.exit_code, 0) << stats.Describe();
  std::string devices = json::parse(stats.out)["per_device"].dump();
  EXPECT_THAT(devices, HasSubstr("\"alpha\""));
  EXPECT_THAT(devices, HasSubstr("\"beta\""));
}

TEST_F(SetupE2eTest, AFolderThatDoesNotExistIsRefusedBeforeAnythingIsWritten) {
  ProcResult r = Setup({"--yes", "--folder", sb_.home() + "/Documents", "--folder", "~/Thesis"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("the folder " + sb_.home() + "/Thesis does not exist"));
  EXPECT_THAT(r.err, HasSubstr("--folder"));
  ExpectNothingWritten(sb_, DefaultRepo(sb_));

  // No folder given and neither default exists.
  fs::remove_all(sb_.home() + "/Documents");
  fs::remove_all(sb_.home() + "/Pictures");
  ProcResult none = Setup({"--yes"});
  EXPECT_EQ(none.exit_code, 1) << none.Describe();
  EXPECT_THAT(none.err, HasSubstr("no folder to back up"));
  ExpectNothingWritten(sb_, DefaultRepo(sb_));
}

TEST_F(SetupE2eTest, AnUnreachableLocationIsRefusedBeforeAnythingIsWritten) {
  // A "disk" that is not there: its mount point is a file (as root, a
  // folder's permissions would not stop the write).
  WriteFile(sb_.Path("not-mounted"), "");
  const std::string location = sb_.Path("not-mounted/cairn");
  ProcResult r = Setup({"--yes", "--location", location});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("cannot "));
  EXPECT_THAT(r.err, HasSubstr(location));
  EXPECT_THAT(r.err, HasSubstr("check that the disk is mounted and the path is right"));
  ExpectNothingWritten(sb_, location);

  // A disk that is not mounted: its folder is missing (setup makes only the
  // last folder of a location outside the home folder).
  const std::string unmounted = sb_.Path("media/usb-disk/cairn");
  ProcResult missing = Setup({"--yes", "--location", unmounted});
  EXPECT_EQ(missing.exit_code, 1) << missing.Describe();
  EXPECT_THAT(missing.err, HasSubstr("the folder " + sb_.Path("media/usb-disk") +
                                     " does not exist: if it is a disk, mount it"));
  EXPECT_FALSE(Exists(sb_.Path("media")));
  EXPECT_THAT(Listing(ConfigDir(sb_)), ::testing::IsEmpty());

  // A location that is a file.
  ProcResult file = Setup({"--yes", "--location", sb_.Path("not-mounted")});
  EXPECT_EQ(file.exit_code, 1) << file.Describe();
  EXPECT_THAT(file.err, HasSubstr("is a file, not a folder"));
  EXPECT_THAT(Listing(ConfigDir(sb_)), ::testing::IsEmpty());
}

TEST_F(SetupE2eTest, AFolderHoldingOtherFilesIsNeverWrittenInto) {
  const std::string location = sb_.Path("usb");
  WriteFile(location + "/holiday.mp4", "video");
  ProcResult r = Setup({"--yes", "--location", location});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("already holds files that are not a cairn repository"));
  EXPECT_THAT(Listing(location), ::testing::ElementsAre("holiday.mp4"));
  EXPECT_THAT(Listing(ConfigDir(sb_)), ::testing::IsEmpty());
}

// Ctrl-C at each point after something was written: what this run created
// is removed again, and exit 130.
TEST_F(SetupE2eTest, CtrlCHalfWayLeavesNothingBehind) {
  for (const char* step : {"secret", "repository", "settings", "environment"}) {
    SCOPED_TRACE(step);
    Process p = sb_.SpawnCairn({"setup", "--yes"}, Pause(step));
    ASSERT_TRUE(WaitUntil([&] { return p.ErrSoFar().find("paused after") != std::string::npos; }))
        << p.ErrSoFar();
    p.Kill(SIGINT);
    ProcResult r = p.Wait();
    EXPECT_EQ(r.exit_code, 130) << r.Describe();
    EXPECT_THAT(r.err, HasSubstr("setup was interrupted"));
    EXPECT_THAT(r.err, HasSubstr("was removed again"));
    ExpectNothingWritten(sb_, DefaultRepo(sb_));
    EXPECT_FALSE(Exists(sb_.data_home() + "/cairn"));  // nor the folder made for it
  }
  // And a run that changes a set-up: interrupted, the old settings come back.
  ASSERT_EQ(Setup({"--yes"}).exit_code, 0);
  const std::string settings = ReadFile(ConfigDir(sb_) + "/settings.yaml");
  const auto before = Listing(ConfigDir(sb_));
  Process p =
      sb_.SpawnCairn({"setup", "--yes", "--folder", sb_.home() + "/Pictures"}, Pause("settings"));
  ASSERT_TRUE(WaitUntil([&] { return p.ErrSoFar().find("paused after") != std::string::npos; }));
  EXPECT_THAT(ReadFile(ConfigDir(sb_) + "/settings.yaml"), Not(HasSubstr("~/Documents")));
  p.Kill(SIGINT);
  ProcResult r = p.Wait();
  EXPECT_EQ(r.exit_code, 130) << r.Describe();
  EXPECT_EQ(ReadFile(ConfigDir(sb_) + "/settings.yaml"), settings);
  EXPECT_EQ(Listing(ConfigDir(sb_)), before);
  EXPECT_TRUE(Exists(DefaultRepo(sb_) + "/config"));  // never touched
}

// systemd cannot run in a sandbox: a stand-in root with /run/systemd/system,
// the user manager's socket in XDG_RUNTIME_DIR, and systemctl / loginctl
// that record their calls. What is real: the unit file setup writes.
TEST_F(SetupE2eTest, WithSystemdItInstallsEnablesAndStartsTheUserUnit) {
  const std::string root = sb_.Path("fake-root");
  MakeDirs(root + "/run/systemd/system");
  MakeDirs(sb_.Path("run/systemd"));
  int sock = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(sock, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string sock_path = sb_.Path("run/systemd/private");
  ASSERT_LT(sock_path.size(), sizeof(addr.sun_path));
  std::memcpy(addr.sun_path, sock_path.c_str(), sock_path.size() + 1);
  ASSERT_EQ(bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string log = sb_.Path("calls.log");
  const std::string active = sb_.Path("active");  // exists: the service runs
  for (const char* tool : {"systemctl", "loginctl"}) {
    WriteFile(sb_.Path(std::string("bin/") + tool),
              std::string("#!/bin/sh\necho \"") + tool + " $*\" >> " + log +
                  "\ncase \"$*\" in *is-active*) test -e " + active + ";; *start*) touch " +
                  active + ";; esac\n",
              0755);
  }
  sb_.env()["PATH"] = sb_.Path("bin") + ":" + sb_.env()["PATH"];
  sb_.env()["CAIRN_TEST_SYSTEMD_ROOT"] = root;
  sb_.env()["USER"] = "tester";

  json r = SetupOk(sb_, {"--yes", "--linger"});
  EXPECT_EQ(r.value("service", ""), "started");
  const std::string unit = sb_.config_home() + "/systemd/user/cairn.service";
  std::string text = ReadFile(unit);
  EXPECT_THAT(text,
              HasSubstr("ExecStart=" + CairnBinary() + " run --config %E/cairn/settings.yaml"));
  EXPECT_THAT(text, HasSubstr("EnvironmentFile=-%E/cairn/cairn.env"));
  EXPECT_THAT(text, Not(HasSubstr("@CAIRN_BINDIR@")));
  EXPECT_EQ(ReadFile(log),
            "systemctl --user is-active --quiet cairn.service\n"
            "systemctl --user daemon-reload\n"
            "systemctl --user enable cairn.service\n"
            "systemctl --user start cairn.service\n"
            "loginctl enable-linger tester\n");

  // Run again while it runs: restarted (the settings or environment may have changed).
  WriteFile(log, "");
  json again = SetupOk(sb_, {"--yes"});
  EXPECT_EQ(again.value("service", ""), "restarted");
  EXPECT_THAT(ReadFile(log), HasSubstr("systemctl --user restart cairn.service\n"));

  // A unit installed by the package is used as it is: no unit of the user's own.
  fs::remove(unit);
  WriteFile(root + "/usr/lib/systemd/user/cairn.service", "[Unit]\n");
  ProcResult packaged = Setup({"--yes"});
  ASSERT_EQ(packaged.exit_code, 0) << packaged.Describe();
  EXPECT_FALSE(Exists(unit));
  EXPECT_THAT(packaged.out, HasSubstr("(" + root + "/usr/lib/systemd/user/cairn.service)"));
  close(sock);
}

// ---------------------------------------------------------------------------
// At a terminal: a pseudo-terminal, the questions answered as a person would.

class Terminal {
 public:
  Terminal(const Sandbox& sb, const std::vector<std::string>& args) {
    ProcOptions po = sb.ProcOptionsFor({});
    std::vector<std::string> env;
    for (const auto& [k, v] : po.env) env.push_back(k + "=" + v);
    env.push_back("TERM=dumb");
    std::vector<std::string> argv = {CairnBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = forkpty(&fd_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      sigset_t none;
      sigemptyset(&none);
      pthread_sigmask(SIG_SETMASK, &none, nullptr);
      signal(SIGINT, SIG_DFL);
      if (chdir(po.cwd.c_str()) != 0) _exit(127);
      std::vector<char*> a, e;
      for (auto& s : argv) a.push_back(s.data());
      a.push_back(nullptr);
      for (auto& s : env) e.push_back(s.data());
      e.push_back(nullptr);
      execve(a[0], a.data(), e.data());
      _exit(127);
    }
  }
  ~Terminal() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  // Reads until `text` has appeared (after what earlier calls consumed).
  bool Expect(const std::string& text, std::chrono::seconds limit = std::chrono::seconds(60)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (true) {
      size_t at = all_.find(text, seen_);
      if (at != std::string::npos) {
        seen_ = at + text.size();
        return true;
      }
      if (std::chrono::steady_clock::now() > deadline || !ReadSome()) return false;
    }
  }
  void Send(const std::string& text) { (void)!write(fd_, text.data(), text.size()); }
  int Wait() {
    while (ReadSome()) {
    }
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  const std::string& output() const { return all_; }

 private:
  bool ReadSome() {
    struct pollfd p = {fd_, POLLIN, 0};
    if (poll(&p, 1, 200) < 0) return false;
    if (!(p.revents & (POLLIN | POLLHUP))) return true;
    char buf[4096];
    ssize_t n = read(fd_, buf, sizeof(buf));
    if (n <= 0) return false;  // EIO: the child closed the terminal
    all_.append(buf, static_cast<size_t>(n));
    return true;
  }
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string all_;
  size_t seen_ = 0;
};

TEST_F(SetupE2eTest, AtATerminalItAsksAndNeverEchoesThePassphrase) {
  Terminal t(sb_, {"setup"});
  ASSERT_TRUE(t.Expect("Location [~/.local/share/cairn/repo]: ")) << t.output();
  t.Send("\n");
  ASSERT_TRUE(t.Expect("Name of this device")) << t.output();
  t.Send("desk\n");
  ASSERT_TRUE(t.Expect("Folders to back up (separated by spaces) [~/Documents ~/Pictures]: "))
      << t.output();
  t.Send("~/Documents\n");
  ASSERT_TRUE(t.Expect("Type a passphrase of your own? [y/N]: ")) << t.output();
  t.Send("y\n");
  ASSERT_TRUE(t.Expect("Passphrase: ")) << t.output();
  t.Send("a long passphrase of mine\n");
  ASSERT_TRUE(t.Expect("The same passphrase again: ")) << t.output();
  t.Send("a long passphrase of mine\n");
  ASSERT_TRUE(t.Expect("KEEP THESE SOMEWHERE ELSE")) << t.output();
  EXPECT_EQ(t.Wait(), 0) << t.output();
  EXPECT_THAT(t.output(), Not(HasSubstr("a long passphrase of mine")));
  const std::string cfg = ConfigDir(sb_);
  EXPECT_EQ(ReadFile(cfg + "/password"), "a long passphrase of mine\n");
  EXPECT_EQ(ModeOf(cfg + "/password"), 0600u);
  std::string settings = ReadFile(cfg + "/settings.yaml");
  EXPECT_THAT(settings, HasSubstr("device_id: desk"));
  EXPECT_THAT(settings, HasSubstr("~/Documents"));
  EXPECT_THAT(settings, Not(HasSubstr("~/Pictures")));
  // On a terminal the dashboard's login link is shown; the token file is 0600.
  EXPECT_THAT(t.output(), HasSubstr("open this link to log in: http://127.0.0.1:5000/?token="));
  EXPECT_EQ(ModeOf(cfg + "/web-token"), 0600u);
  // The passphrase opens the repository.
  ProcResult ls = sb_.Cairn({"backup"});
  EXPECT_EQ(ls.exit_code, 0) << ls.Describe();
}

TEST_F(SetupE2eTest, CtrlCAtAQuestionLeavesNothingBehind) {
  Terminal t(sb_, {"setup"});
  ASSERT_TRUE(t.Expect("Location")) << t.output();
  t.Send("\n");
  ASSERT_TRUE(t.Expect("Name of this device")) << t.output();
  t.Send("\x03");  // Ctrl-C: SIGINT to the terminal's foreground process group
  EXPECT_EQ(t.Wait(), 130) << t.output();
  EXPECT_THAT(t.output(), HasSubstr("setup was interrupted; nothing had been written"));
  ExpectNothingWritten(sb_, DefaultRepo(sb_));
}

TEST_F(SetupE2eTest, DifferentPassphrasesAreRefused) {
  Terminal t(sb_, {"setup", "--passphrase", "--device", "desk"});
  ASSERT_TRUE(t.Expect("Location")) << t.output();
  t.Send("\n");
  ASSERT_TRUE(t.Expect("Folders to back up")) << t.output();
  t.Send("\n");
  ASSERT_TRUE(t.Expect("Passphrase: ")) << t.output();
  t.Send("first passphrase\n");
  ASSERT_TRUE(t.Expect("The same passphrase again: ")) << t.output();
  t.Send("second passphrase\n");
  EXPECT_EQ(t.Wait(), 1) << t.output();
  EXPECT_THAT(t.output(), HasSubstr("the two passphrases differ"));
  ExpectNothingWritten(sb_, DefaultRepo(sb_));
}

}  // namespace
}  // namespace cairn::e2e
