// End-to-end tests of `cairn run`: the real binary in a sandbox (tests/
// e2e_util.h) watching a real folder with inotify and backing up into a real
// local repository, observed only through the CLI (`versions`, `ls`,
// `restore --stdout`) from other processes, as a user would. Every wait is
// "until it holds" with a generous limit; nothing asserts how fast a change
// arrives (bench/ measures that), except the 10 s allowed for a stop.
//
// Scenarios: every kind of change, with inotify and with polling; editors'
// saves, and a loop of them; .cairnignore and cache folders; a burst of
// 10,000 files; a `git checkout` of another branch; a file over
// max_file_size_mb; the repository unplugged and back; a second daemon;
// kill -9 and SIGTERM during a batch; a bad settings file on SIGHUP.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "e2e_util.h"

namespace cairn::e2e {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;
using std::chrono::seconds;

class DaemonE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MakeDirs(docs());
    MakeDirs(sb.Path("outside"));
    WriteSettings(
        "backup:\n"
        "  stability_seconds: 1\n"
        "  exclude_patterns: ['*.tmp', '.git/*']\n");
    ProcResult init = sb.Cairn({"init"});
    ASSERT_EQ(init.exit_code, 0) << init.Describe();
  }
  void TearDown() override {
    if (daemon_) {
      daemon_->Kill(SIGKILL);
      daemon_->Wait();
    }
  }

  std::string docs() const { return sb.Path("docs"); }
  std::string settings() const { return sb.Path("settings.yaml"); }
  void WriteSettings(const std::string& yaml) { WriteFile(settings(), yaml); }

  Process SpawnRun() { return sb.SpawnCairn({"--config", settings(), "run", docs()}); }

  // Starts `cairn run` and waits until its catch-up pass is done (a file
  // written before it started has a version: the watches are in place by
  // then).
  void StartDaemon() {
    const std::string marker = docs() + "/.started-" + RandomToken(8);
    WriteFile(marker, "x");
    daemon_.emplace(SpawnRun());
    ASSERT_TRUE(WaitUntil([&] { return !Versions(marker).empty() || !Running(); }))
        << "no catch-up pass";
    ASSERT_TRUE(Running()) << Finish().Describe();
  }
  bool Running() {
    if (!daemon_) return false;
    if (auto r = daemon_->TryWait()) {
      exited_ = std::move(*r);
      daemon_.reset();
      return false;
    }
    return true;
  }
  // Stops the daemon with `sig` (or collects it if it exited) and returns
  // its result.
  ProcResult Finish(int sig = 0) {
    if (daemon_) {
      if (sig != 0) daemon_->Kill(sig);
      exited_ = daemon_->Wait();
      daemon_.reset();
    }
    return exited_;
  }

  // Every version of `path` (oldest first); empty when none.
  json Versions(const std::string& path) {
    ProcResult r = sb.Cairn({"--json", "versions", path});
    if (r.exit_code != 0) return json::array();
    try {
      return json::parse(r.out);
    } catch (const std::exception&) {
      return json::array();
    }
  }
  // True when `path` has at least `n` versions and the newest is a deletion
  // (`deleted`) or has `size` bytes.
  bool HasVersion(const std::string& path, size_t n, std::optional<uint64_t> size,
                  bool deleted = false) {
    json v = Versions(path);
    if (v.size() < n) return false;
    const json& last = v.back();
    if (deleted) return last.value("type", "") == "deleted";
    return last.value("type", "") == "file" && (!size || last.value("size", 0ull) == *size);
  }
  // The newest version's bytes.
  std::string Latest(const std::string& path) {
    ProcResult r = sb.Cairn({"restore", path, "--stdout"});
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    return r.out;
  }
  // True when the repository holds a lock object: a backup is running (the
  // test's own CLI calls take none: `versions` and `ls` only read).
  bool LockObject() {
    for (const auto& e : fs::directory_iterator(sb.repo() + "/locks")) {
      const std::string name = e.path().filename().string();
      if (name != "repository.flock" && name != "generation") return true;
    }
    return false;
  }
  // Waits, looking every 2 ms, until a backup runs; false after a minute.
  bool WaitForABackup() {
    const auto deadline = std::chrono::steady_clock::now() + seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      if (LockObject()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
  }
  // Files of `size` bytes under `dir` in the repository's newest state.
  int FilesOfSize(const std::string& dir, uint64_t size) {
    ProcResult r = sb.Cairn({"--json", "ls", "-R", dir});
    if (r.exit_code != 0) return 0;
    int files = 0;
    for (const json& e : json::parse(r.out))
      if (e.value("type", "") == "file" && e.value("size", 0ull) == size) ++files;
    return files;
  }

  // Files under `dir` in the repository's newest state.
  int FileCount(const std::string& dir) {
    ProcResult r = sb.Cairn({"--json", "ls", "-R", dir});
    if (r.exit_code != 0) return 0;
    int files = 0;
    for (const json& e : json::parse(r.out))
      if (e.value("type", "") == "file") ++files;
    return files;
  }
  // The paths `ls -R` lists under `dir` (the newest state).
  std::vector<std::string> Listed(const std::string& dir) {
    ProcResult r = sb.Cairn({"--json", "ls", "-R", dir});
    std::vector<std::string> out;
    if (r.exit_code != 0) return out;
    for (const json& e : json::parse(r.out)) out.push_back(e.value("path", ""));
    return out;
  }
  // True when the daemon's stderr (so far, or all of it once it exited)
  // holds `text`.
  bool Logged(const std::string& text) {
    const std::string err = daemon_ ? daemon_->ErrSoFar() : exited_.err;
    return err.find(text) != std::string::npos;
  }

  std::string Log() {
    return daemon_ ? "(still running)\n--- stderr so far ---\n" + daemon_->ErrSoFar()
                   : exited_.Describe();
  }

  Sandbox sb;
  std::optional<Process> daemon_;
  ProcResult exited_;
};

// The same scenarios with each way of finding changes: inotify's events,
// and comparisons of the tree every poll_interval_seconds.
class DaemonModeE2eTest : public DaemonE2eTest,
                          public ::testing::WithParamInterface<const char*> {};

TEST_P(DaemonModeE2eTest, EveryKindOfChangeBecomesAVersionAndExcludedFilesNeverDo) {
  const std::string mode = GetParam();
  WriteSettings(
      "backup:\n"
      "  stability_seconds: 1\n"
      "  exclude_patterns: ['*.tmp', '.git/*']\n"
      "  watch_mode: " +
      mode +
      "\n"
      "  poll_interval_seconds: 1\n");
  WriteFile(docs() + "/report.txt", "report, first draft");
  StartDaemon();
  ASSERT_TRUE(Logged("watching " + docs() + " (" + mode + ";")) << Log();
  const std::string f = docs() + "/f.txt";

  WriteFile(f, "one");  // created
  ASSERT_TRUE(WaitUntil([&] { return HasVersion(f, 1, 3); })) << Versions(f).dump();
  WriteFile(f, "two!");  // rewritten
  ASSERT_TRUE(WaitUntil([&] { return HasVersion(f, 2, 4); })) << Versions(f).dump();
  AppendFile(f, "+more");  // appended
  ASSERT_TRUE(WaitUntil([&] { return HasVersion(f, 3, 9); })) << Versions(f).dump();
  EXPECT_EQ(Latest(f), "two!+more");
  ASSERT_EQ(::truncate(f.c_str(), 0), 0);  // truncated
  ASSERT_TRUE(WaitUntil([&] { return HasVersion(f, 4, 0); })) << Versions(f).dump();

  // Renamed within the tree: the old name is deleted, the new one appears.
  const std::string g = docs() + "/g.txt";
  WriteFile(f, "renamed content");
  ASSERT_TRUE(WaitUntil([&] { return HasVersion(f, 5, 15); }));
  fs::rename(f, g);
  ASSERT_TRUE(WaitUntil([&] { return HasVersion(g, 1, 15) && HasVersion(f, 6, {}, true); }))
      << Versions(f).dump() << Versions(g).dump();
  fs::remove(g);  // deleted
  ASSERT_TRUE(WaitUntil([&] { return HasVersion(g, 2, {}, true); })) << Versions(g).dump();

  // A folder moved in from outside: its files get versions. Moved out:
  // deletions.
  const std::string album = sb.Path("outside/album");
  WriteFile(album + "/1.jpg", RandomData(100000, 1));
  WriteFile(album + "/sub/2.jpg", RandomData(50000, 2));
  fs::rename(album, docs() + "/album");
  ASSERT_TRUE(WaitUntil([&] {
    return HasVersion(docs() + "/album/1.jpg", 1, 100000) &&
           HasVersion(docs() + "/album/sub/2.jpg", 1, 50000);
  }));
  fs::rename(docs() + "/album", sb.Path("outside/album-again"));
  ASSERT_TRUE(WaitUntil([&] {
    return HasVersion(docs() + "/album/1.jpg", 2, {}, true) &&
           HasVersion(docs() + "/album/sub/2.jpg", 2, {}, true);
  }));

  // An editor's save: the new content to a temporary file, renamed over the
  // real one. One new version of the real file, none of the temporary.
  const std::string report = docs() + "/report.txt";
  const std::string temp = docs() + "/.report.txt.swx4Zq";
  ASSERT_EQ(Versions(report).size(), 1u);
  WriteFile(temp, "report, second draft");
  fs::rename(temp, report);
  ASSERT_TRUE(WaitUntil([&] { return HasVersion(report, 2, 20); })) << Versions(report).dump();
  EXPECT_EQ(Latest(report), "report, second draft");

  // Excluded files: a pattern and a .git folder's contents.
  WriteFile(docs() + "/scratch.tmp", "never stored");
  WriteFile(docs() + "/project/.git/config", "[core]");
  WriteFile(docs() + "/project/main.c", "int main() {}");
  ASSERT_TRUE(WaitUntil([&] { return HasVersion(docs() + "/project/main.c", 1, 13); }));
  // The file written after them has a version, so they were seen (or
  // dropped) by now; and nothing more is coming for the editor's save.
  std::this_thread::sleep_for(seconds(2));
  EXPECT_TRUE(Versions(docs() + "/scratch.tmp").empty());
  EXPECT_TRUE(Versions(docs() + "/project/.git/config").empty());
  EXPECT_TRUE(Versions(temp).empty()) << Versions(temp).dump();
  EXPECT_EQ(Versions(report).size(), 2u) << Versions(report).dump();

  // SIGTERM: out within 10 s, exit 0, no lock object left in the repository.
  ASSERT_TRUE(Running());
  const auto stop_at = std::chrono::steady_clock::now();
  daemon_->Kill(SIGTERM);
  ASSERT_TRUE(WaitUntil([&] { return !Running(); }, seconds(10))) << "still running after 10 s";
  const auto took = std::chrono::steady_clock::now() - stop_at;
  EXPECT_LE(took, seconds(10));
  EXPECT_EQ(exited_.exit_code, 0) << exited_.Describe();
  EXPECT_NE(exited_.err.find("[info] stopped"), std::string::npos) << exited_.Describe();
  for (const auto& e : fs::directory_iterator(sb.repo() + "/locks")) {
    const std::string name = e.path().filename().string();
    EXPECT_TRUE(name == "repository.flock" || name == "generation") << "left behind: " << name;
  }
  // One line per batch, with what it did.
  EXPECT_NE(exited_.err.find("[info] batch: "), std::string::npos) << exited_.Describe();
  EXPECT_NE(exited_.err.find(" stored), "), std::string::npos) << exited_.Describe();
}

INSTANTIATE_TEST_SUITE_P(WatchModes, DaemonModeE2eTest, ::testing::Values("inotify", "poll"),
                         [](const ::testing::TestParamInfo<const char*>& p) {
                           return std::string(p.param);
                         });

// Editors' saves as they happen on disk: vim (a swap file kept while
// editing, the write test 4913, the file renamed to its backup "~" and
// written anew), LibreOffice (a lock file kept while the document is open,
// the new content written to a temporary and renamed over the document), and
// an in-place truncate and rewrite in pieces. Each save is one new version
// of the real file; the temporaries never have one, though the swap and lock
// files stay longer than the daemon waits for a path to settle.
TEST_F(DaemonE2eTest, EditorsSavesGiveOneVersionOfTheFileAndNoneOfTheirTemporaries) {
  const std::string notes = docs() + "/notes.txt", swap = docs() + "/.notes.txt.swp";
  const std::string report = docs() + "/report.odt", lock = docs() + "/.~lock.report.odt#";
  const std::string plain = docs() + "/plain.txt";
  WriteFile(notes, "notes v1");
  WriteFile(report, "report v1");
  WriteFile(plain, "plain v1");
  StartDaemon();

  // Opened in vim and LibreOffice: their swap and lock files appear.
  WriteFile(swap, "vim swap");
  WriteFile(lock, "user,host,/home/user;30.11.2026 09:00;");
  std::this_thread::sleep_for(seconds(3));  // longer than stability_seconds
  // vim's :w with 'writebackup' (backupcopy=auto): test file, backup by
  // rename, new file, backup removed; the swap file is updated.
  WriteFile(docs() + "/4913", "");
  fs::remove(docs() + "/4913");
  fs::rename(notes, notes + "~");
  WriteFile(notes, "notes v2, longer");
  fs::remove(notes + "~");
  AppendFile(swap, "more swap");
  // LibreOffice's save: a temporary renamed over the document.
  WriteFile(docs() + "/lu8392kfj2.tmp", "report v2, longer");
  fs::rename(docs() + "/lu8392kfj2.tmp", report);
  // Truncated and written again in pieces.
  {
    WriteFile(plain, "");
    for (const char* piece : {"plain ", "v2, ", "longer"}) {
      AppendFile(plain, piece);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  std::this_thread::sleep_for(seconds(3));
  // Closed: the swap and lock files go.
  fs::remove(swap);
  fs::remove(lock);

  ASSERT_TRUE(WaitUntil([&] {
    return HasVersion(notes, 2, 16) && HasVersion(report, 2, 17) && HasVersion(plain, 2, 16);
  })) << Versions(notes).dump()
      << Versions(report).dump() << Versions(plain).dump();
  // A file written last has a version once everything before it settled.
  WriteFile(docs() + "/last.txt", "last");
  ASSERT_TRUE(WaitUntil([&] { return HasVersion(docs() + "/last.txt", 1, 4); }));
  std::this_thread::sleep_for(seconds(2));
  EXPECT_EQ(Versions(notes).size(), 2u) << Versions(notes).dump();
  EXPECT_EQ(Versions(report).size(), 2u) << Versions(report).dump();
  EXPECT_EQ(Versions(plain).size(), 2u) << Versions(plain).dump();
  EXPECT_EQ(Latest(plain), "plain v2, longer");
  for (const std::string& temp :
       {swap, lock, notes + "~", docs() + "/4913", docs() + "/lu8392kfj2.tmp"})
    EXPECT_TRUE(Versions(temp).empty()) << temp << ": " << Versions(temp).dump();
}

// The daemon's watcher leaves out what a backup leaves out: .cairnignore
// rules (read as they change) and cache folders; a skipped path is counted.
TEST_F(DaemonE2eTest, CairnignoreAndCacheFoldersKeepPathsOutOfTheDaemonsBackups) {
  WriteFile(docs() + "/.cairnignore", "build/\n*.o\n");
  StartDaemon();
  WriteFile(docs() + "/build/out.bin", "built");
  WriteFile(docs() + "/src/a.o", "object");
  WriteFile(docs() + "/cache/CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n");
  WriteFile(docs() + "/cache/blob", "cached");
  WriteFile(docs() + "/src/a.c", "source");
  ASSERT_TRUE(WaitUntil([&] { return HasVersion(docs() + "/src/a.c", 1, 6); }));
  std::this_thread::sleep_for(seconds(2));
  for (const char* left : {"/build/out.bin", "/src/a.o", "/cache/blob", "/cache/CACHEDIR.TAG"})
    EXPECT_TRUE(Versions(docs() + left).empty()) << left;
  EXPECT_EQ(Versions(docs() + "/.cairnignore").size(), 1u);  // backed up itself

  // The rules change: the next change of a.o is backed up.
  WriteFile(docs() + "/.cairnignore", "build/\n");
  ASSERT_TRUE(WaitUntil([&] { return HasVersion(docs() + "/.cairnignore", 2, 7); }));
  WriteFile(docs() + "/src/a.o", "object, rebuilt");
  ASSERT_TRUE(WaitUntil([&] { return HasVersion(docs() + "/src/a.o", 1, 15); }))
      << Versions(docs() + "/src/a.o").dump();
  EXPECT_TRUE(Versions(docs() + "/build/out.bin").empty());

  // `cairn backup` counts what it left out: build, cache (one each).
  ASSERT_EQ(Finish(SIGTERM).exit_code, 0);
  ProcResult b = sb.Cairn({"--config", settings(), "--json", "backup", docs()});
  ASSERT_EQ(b.exit_code, 0) << b.Describe();
  json j = json::parse(b.out);
  EXPECT_EQ(j.value("excluded", 0), 2) << b.out;
}

// A burst far larger than the kernel's event queue may hold (16,384 by
// default; each file is several events): whether every event arrives or the
// queue overflows and the folder is rescanned, every file gets its version.
TEST_F(DaemonE2eTest, TenThousandFilesCreatedInABurstAllGetVersions) {
  constexpr int kFolders = 10, kPerFolder = 1000;
  // The folders are there before: each file is an event of its own (a new
  // folder would be walked whole).
  for (int d = 0; d < kFolders; ++d) MakeDirs(docs() + "/burst/d" + std::to_string(d));
  StartDaemon();
  auto name = [&](int d, int i) {
    return docs() + "/burst/d" + std::to_string(d) + "/f" + std::to_string(i) + ".txt";
  };
  for (int d = 0; d < kFolders; ++d)
    for (int i = 0; i < kPerFolder; ++i)
      WriteFile(name(d, i), "file " + std::to_string(d) + "/" + std::to_string(i) + "\n");
  ASSERT_TRUE(WaitUntil([&] { return FileCount(docs() + "/burst") == kFolders * kPerFolder; },
                        seconds(300)))
      << FileCount(docs() + "/burst") << " files have versions\n"
      << Log();
  EXPECT_EQ(Latest(name(7, 345)), "file 7/345\n");
  EXPECT_EQ(Versions(name(0, 0)).size(), 1u);
  EXPECT_EQ(Versions(name(9, 999)).size(), 1u);
  ASSERT_TRUE(Running()) << Log();
  daemon_->Kill(SIGTERM);
  EXPECT_EQ(Finish().exit_code, 0) << exited_.Describe();
}

// `git checkout` of another branch rewrites, adds and deletes files in
// whatever order git likes, and writes much under .git (excluded by
// '.git/*'). Once it settled, the newest versions are the working tree,
// what only the old branch had has deletion records, and nothing of .git
// is stored.
TEST_F(DaemonE2eTest, AGitCheckoutOfAnotherBranchEndsWithTheWorkingTreeAndNothingOfGit) {
  const std::string project = docs() + "/project";
  MakeDirs(project);
  auto git = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {"git",
                                     "-C",
                                     project,
                                     "-c",
                                     "user.name=cairn test",
                                     "-c",
                                     "user.email=test@example.com",
                                     "-c",
                                     "init.defaultBranch=main",
                                     "-c",
                                     "commit.gpgsign=false"};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcResult r = sb.Run(argv);
    EXPECT_EQ(r.exit_code, 0) << "git is needed (scripts/lib.sh installs it)\n" << r.Describe();
    return r.exit_code == 0;
  };
  ASSERT_TRUE(git({"init", "-q"}));
  WriteFile(project + "/README.md", "the main branch\n");
  WriteFile(project + "/src/common.c", "int common = 1;\n");
  WriteFile(project + "/src/main_only.c", "int main_only;\n");
  WriteFile(project + "/legacy/old1.txt", "only on main, a folder of its own\n");
  WriteFile(project + "/legacy/deeper/old2.txt", "only on main, deeper\n");
  for (int i = 0; i < 30; ++i)
    WriteFile(project + "/src/gen/g" + std::to_string(i) + ".c",
              CompressibleData(1000 + 37 * i, "generated on main\n"));
  ASSERT_TRUE(git({"add", "-A"}));
  ASSERT_TRUE(git({"commit", "-q", "-m", "main"}));
  ASSERT_TRUE(git({"checkout", "-q", "-b", "feature"}));
  WriteFile(project + "/README.md", "the feature branch, longer\n");
  WriteFile(project + "/src/common.c", "int common = 2; /* feature */\n");
  WriteFile(project + "/feature/new1.c", "int new1;\n");
  WriteFile(project + "/feature/sub/new2.c", "int new2;\n");
  for (int i = 0; i < 30; i += 3)
    WriteFile(project + "/src/gen/g" + std::to_string(i) + ".c",
              CompressibleData(2000 + 41 * i, "generated on feature\n"));
  ASSERT_TRUE(git({"rm", "-q", "-r", "src/main_only.c", "legacy"}));
  ASSERT_TRUE(git({"mv", "src/gen/g1.c", "src/gen/renamed1.c"}));
  ASSERT_TRUE(git({"add", "-A"}));
  ASSERT_TRUE(git({"commit", "-q", "-m", "feature"}));
  ASSERT_TRUE(git({"checkout", "-q", "main"}));

  StartDaemon();  // its catch-up pass stores the main branch
  ASSERT_TRUE(HasVersion(project + "/legacy/deeper/old2.txt", 1, {}));
  ASSERT_TRUE(git({"checkout", "-q", "feature"}));

  // Restored from the newest versions, the folder is the working tree.
  int restores = 0;
  std::vector<std::string> diffs;
  auto matches = [&] {
    const std::string to = sb.Path("restored-" + std::to_string(++restores));
    ProcResult r = sb.Cairn({"restore", project, "--to", to});
    if (r.exit_code != 0) {
      diffs = {r.Describe()};
      return false;
    }
    CompareOptions o;
    o.ignore = {".git"};
    o.dir_mtime = false;  // a folder's entry is not rewritten for each change in it
    o.root_metadata = false;
    diffs = CompareTrees(project, to + project, o);
    return diffs.empty();
  };
  const std::vector<std::string> only_on_main = {
      project + "/src/main_only.c", project + "/legacy/old1.txt",
      project + "/legacy/deeper/old2.txt", project + "/src/gen/g1.c"};
  ASSERT_TRUE(WaitUntil([&] {
    for (const std::string& gone : only_on_main)
      if (!HasVersion(gone, 2, {}, /*deleted=*/true)) return false;
    return matches();
  })) << ::testing::PrintToString(diffs)
      << Log();
  for (const std::string& gone : only_on_main)
    EXPECT_EQ(Versions(gone).back().value("type", ""), "deleted") << gone;
  EXPECT_EQ(Latest(project + "/README.md"), "the feature branch, longer\n");
  // Nothing under .git was ever stored.
  for (const std::string& p : Listed(project)) EXPECT_EQ(p.find("/.git/"), std::string::npos) << p;
  for (const char* f : {"HEAD", "index", "ORIG_HEAD", "config", "refs/heads/feature"})
    EXPECT_TRUE(Versions(project + "/.git/" + f).empty()) << f;
  ASSERT_TRUE(Running()) << Log();
  daemon_->Kill(SIGTERM);
  EXPECT_EQ(Finish().exit_code, 0) << exited_.Describe();
}

// An editor's save: the new content to a temporary file, renamed over the
// real one, again and again, a while apart (longer than stability_seconds:
// each save's version comes before the next save). One version per save,
// none of the temporaries.
TEST_F(DaemonE2eTest, AnEditorsSaveLoopGivesOneVersionPerSaveAndNoneOfItsTemporaries) {
  const std::string notes = docs() + "/notes.txt";
  WriteFile(notes, "save 0");
  StartDaemon();
  ASSERT_EQ(Versions(notes).size(), 1u);
  constexpr int kSaves = 5;
  std::vector<std::string> temps, contents = {"save 0"};
  for (int i = 1; i <= kSaves; ++i) {
    const std::string temp = docs() + "/.notes.txt." + RandomToken(6);
    const std::string content = "save " + std::to_string(i) + std::string(i, '+');
    temps.push_back(temp);
    contents.push_back(content);
    WriteFile(temp, content);
    fs::rename(temp, notes);
    ASSERT_TRUE(WaitUntil([&] { return HasVersion(notes, i + 1, content.size()); }))
        << "save " << i << ": " << Versions(notes).dump() << "\n"
        << Log();
  }
  // Whatever else the saves caused would have arrived by now.
  std::this_thread::sleep_for(seconds(3));
  const json v = Versions(notes);
  ASSERT_EQ(v.size(), contents.size()) << v.dump();
  for (size_t i = 0; i < contents.size(); ++i)
    EXPECT_EQ(v[i].value("size", 0ull), contents[i].size()) << v.dump();
  EXPECT_EQ(Latest(notes), contents.back());
  for (const std::string& temp : temps) EXPECT_TRUE(Versions(temp).empty()) << temp;
  for (const std::string& p : Listed(docs()))
    EXPECT_EQ(p.find("/.notes.txt."), std::string::npos) << p;
  ASSERT_TRUE(Running()) << Log();
  daemon_->Kill(SIGTERM);
  EXPECT_EQ(Finish().exit_code, 0) << exited_.Describe();
}

// A file over backup.max_file_size_mb is left out, and the run's log line
// says so.
TEST_F(DaemonE2eTest, AFileOverMaxFileSizeGetsNoVersionAndTheRunCountsItSkipped) {
  WriteSettings("backup:\n  stability_seconds: 1\n  max_file_size_mb: 1\n");
  StartDaemon();
  const std::string big = docs() + "/video.mp4", small = docs() + "/small.txt";
  WriteFile(big, RandomData((1 << 20) + 1, 42));
  WriteFile(small, "small enough");
  ASSERT_TRUE(WaitUntil([&] { return HasVersion(small, 1, 12); })) << Log();
  // The big one was written first: its batch has run by now.
  ASSERT_TRUE(WaitUntil([&] { return Logged(", 1 skipped, "); })) << Log();
  EXPECT_TRUE(Versions(big).empty()) << Versions(big).dump();
  EXPECT_TRUE(Logged(big + " is larger than max_file_size_mb, skipped")) << Log();
  ASSERT_TRUE(Running()) << Log();
  daemon_->Kill(SIGTERM);
  ProcResult r = Finish();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  // The line of the run: "... [info] batch: ..., 1 skipped, 0.01 s".
  bool counted = false;
  for (size_t at = r.err.find("[info] batch: "); at != std::string::npos;
       at = r.err.find("[info] batch: ", at + 1)) {
    const std::string line = r.err.substr(at, r.err.find('\n', at) - at);
    counted = counted || line.find(", 1 skipped, ") != std::string::npos;
  }
  EXPECT_TRUE(counted) << r.Describe();
  EXPECT_TRUE(Versions(big).empty());
}

// The repository's disk unplugged (the folder moved away) and plugged back:
// the batch fails and is retried, the daemon keeps running, and every
// change made meanwhile arrives once it is back.
TEST_F(DaemonE2eTest, ARepositoryUnpluggedAndBackLosesNoChange) {
  WriteFile(docs() + "/kept.txt", "before");
  WriteFile(docs() + "/doomed.txt", "deleted while the disk is away");
  StartDaemon();
  const std::string away = sb.Path("repo-unplugged");
  fs::rename(sb.repo(), away);
  WriteFile(docs() + "/created.txt", "created while away");
  WriteFile(docs() + "/kept.txt", "changed while away");
  fs::remove(docs() + "/doomed.txt");
  ASSERT_TRUE(WaitUntil([&] { return Logged("batch failed: ") || !Running(); })) << Log();
  ASSERT_TRUE(Running()) << Log();
  EXPECT_TRUE(Logged("kept queued, retry in ")) << Log();
  fs::rename(away, sb.repo());
  ASSERT_TRUE(WaitUntil([&] {
    return HasVersion(docs() + "/created.txt", 1, 18) && HasVersion(docs() + "/kept.txt", 2, 18) &&
           HasVersion(docs() + "/doomed.txt", 2, {}, /*deleted=*/true);
  })) << Log();
  EXPECT_EQ(Latest(docs() + "/kept.txt"), "changed while away");
  ProcResult check = sb.Cairn({"check"});
  EXPECT_EQ(check.exit_code, 0) << check.Describe();
  ASSERT_TRUE(Running()) << Log();
  daemon_->Kill(SIGTERM);
  EXPECT_EQ(Finish().exit_code, 0) << exited_.Describe();
}

TEST_F(DaemonE2eTest, ASecondRunForTheSameRepositoryAndDeviceIsRefused) {
  StartDaemon();
  ProcResult second = sb.Cairn({"--config", settings(), "run", docs()});
  EXPECT_EQ(second.exit_code, 11) << second.Describe();
  EXPECT_NE(second.err.find("already protecting " + sb.repo() + " as device " +
                            std::string(Sandbox::kDevice)),
            std::string::npos)
      << second.Describe();
  EXPECT_TRUE(Running()) << Log();
  daemon_->Kill(SIGTERM);
  ASSERT_EQ(Finish().exit_code, 0) << exited_.Describe();
}

TEST_F(DaemonE2eTest, KilledDuringABatchLosesNoChangeOnceRestarted) {
  WriteFile(docs() + "/old.txt", "old content");
  StartDaemon();
  // Enough data that the batch is still running when the kill comes (about
  // a second after the last write, when it settles).
  constexpr int kFiles = 120;
  for (int i = 0; i < kFiles; ++i)
    WriteFile(docs() + "/batch/f" + std::to_string(i), RandomData(256 << 10, 100 + i));
  WriteFile(docs() + "/old.txt", "changed before the kill");
  // The kill comes as soon as the batch is seen running.
  const bool running = WaitForABackup();
  ProcResult killed = Finish(SIGKILL);
  ASSERT_TRUE(running) << "no batch was seen running\n" << killed.Describe();
  EXPECT_EQ(killed.term_signal, SIGKILL) << killed.Describe();

  StartDaemon();
  ASSERT_TRUE(WaitUntil([&] { return FilesOfSize(docs() + "/batch", 256 << 10) == kFiles; }))
      << "not every file written before the kill has a version";
  ASSERT_TRUE(WaitUntil([&] { return HasVersion(docs() + "/old.txt", 2, 23); }));
  EXPECT_EQ(Latest(docs() + "/batch/f7"), RandomData(256 << 10, 107));
  EXPECT_EQ(Latest(docs() + "/old.txt"), "changed before the kill");
  ProcResult r = sb.Cairn({"check"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  daemon_->Kill(SIGTERM);
  EXPECT_EQ(Finish().exit_code, 0) << exited_.Describe();
}

TEST_F(DaemonE2eTest, SigtermDuringABatchStopsWithinTenSecondsAndTheRestFollowsOnRestart) {
  StartDaemon();
  constexpr int kFiles = 200;
  for (int i = 0; i < kFiles; ++i)
    WriteFile(docs() + "/big/f" + std::to_string(i), RandomData(512 << 10, 500 + i));
  ASSERT_TRUE(WaitForABackup());
  const auto stop_at = std::chrono::steady_clock::now();
  daemon_->Kill(SIGTERM);
  ASSERT_TRUE(WaitUntil([&] { return !Running(); }, seconds(10))) << "still running after 10 s";
  EXPECT_LE(std::chrono::steady_clock::now() - stop_at, seconds(10));
  EXPECT_EQ(exited_.exit_code, 0) << exited_.Describe();
  EXPECT_FALSE(LockObject()) << "the repository lock was left behind";
  // The batch was stopped, not finished (it reads 100 MiB; the signal came
  // as it started), and what it did not do stays queued.
  EXPECT_NE(exited_.err.find("kept queued"), std::string::npos) << exited_.Describe();
  EXPECT_NE(exited_.err.find("stay queued for the next run"), std::string::npos)
      << exited_.Describe();
  // Whatever the stop left undone is done by the next run.
  StartDaemon();
  ASSERT_TRUE(WaitUntil([&] { return FilesOfSize(docs() + "/big", 512 << 10) == kFiles; }));
  daemon_->Kill(SIGTERM);
  EXPECT_EQ(Finish().exit_code, 0) << exited_.Describe();
}

TEST_F(DaemonE2eTest, SighupWithABadSettingsFileKeepsRunningWithTheOldSettings) {
  StartDaemon();
  WriteSettings("backup:\n  stability_seconds: [oops\n");
  daemon_->Kill(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_TRUE(Running()) << Log();
  // Still protecting, with the old rules.
  WriteFile(docs() + "/after-hup.txt", "still protected");
  WriteFile(docs() + "/after-hup.tmp", "still excluded");
  ASSERT_TRUE(WaitUntil([&] { return HasVersion(docs() + "/after-hup.txt", 1, 15); }));
  EXPECT_TRUE(Versions(docs() + "/after-hup.tmp").empty());
  ASSERT_TRUE(Running()) << Log();
  daemon_->Kill(SIGTERM);
  ProcResult r = Finish();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.err.find("settings not reloaded: " + settings()), std::string::npos) << r.Describe();
  EXPECT_NE(r.err.find("the running settings stay in force"), std::string::npos) << r.Describe();
}

TEST_F(DaemonE2eTest, WithoutARepositoryItSaysSoAndExits) {
  ProcResult r = sb.Cairn({"--config", settings(), "-r", sb.Path("no-repo"), "run", docs()});
  EXPECT_EQ(r.exit_code, 10) << r.Describe();
}

}  // namespace
}  // namespace cairn::e2e
