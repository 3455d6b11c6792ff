// The session on real files, a real local repository and a real SQLite
// catalog: opening from each secret source, the errors a front end must map,
// cancellation, and reads beside a running backup.
#include "engine/session.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "backend/local/local_backend.h"
#include "crypto/crypto.h"
#include "engine/session_test_util.h"
#include "repo/generation.h"
#include "repo/repo_lock.h"
#include "repo/repository.h"
#include "repo/version_segment.h"
#include "testing/assert_ok.h"
#include "testing/fault_backend.h"
#include "testing/file_util.h"
#include "testing/temp_dir.h"

namespace cairn::engine {
namespace {

using testing::ReadFile;
using testing::WriteFile;

// Records what a job reports; can request a stop at the first progress event.
class RecordingSink : public EventSink {
 public:
  std::stop_source* stop_at_first_progress = nullptr;
  std::atomic<int> progress_events{0};
  std::mutex mu;
  std::vector<std::string> notices;
  std::vector<PathIssue> issues;

  void OnProgress(const Progress& p) override {
    if (p.operation != "backup") return;
    if (progress_events++ == 0 && stop_at_first_progress) stop_at_first_progress->request_stop();
  }
  void OnIssue(const PathIssue& i) override {
    std::lock_guard lock(mu);
    issues.push_back(i);
  }
  void OnNotice(const std::string& n) override {
    std::lock_guard lock(mu);
    notices.push_back(n);
  }
};

class SessionTest : public SessionFixture {};

TEST_F(SessionTest, BadNumbersInTheEnvironmentAreErrorsNamingTheVariable) {
  for (auto [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"CAIRN_LOCK_WAIT", "abc"},
           {"CAIRN_LOCK_WAIT", "-5"},
           {"CAIRN_LOCK_TTL", "0"},
           {"CAIRN_LOCK_TTL", "1.5"},
           {"CAIRN_CHECKPOINT_SECONDS", "2x"},
       }) {
    auto saved = env_;
    env_[name] = value;
    auto s = Session::Create(Options());
    ASSERT_FALSE(s.ok()) << name << "=" << value;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find(name), std::string::npos) << s.status().message();
    env_ = saved;
  }
  env_["CAIRN_CHECKPOINT_SECONDS"] = "0.5";
  auto s = Make();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->config().checkpoint_interval, std::chrono::milliseconds(500));
}

TEST_F(SessionTest, MissingRepository) {
  env_["CAIRN_PASSWORD"] = "pw";
  auto s = Make();
  EXPECT_EQ(s->Open().code(), StatusCode::kNoRepository);
  WriteFile(home_.Sub("docs/a.txt"), "a");
  auto b = s->Backup({{home_.Sub("docs")}, {}});
  EXPECT_EQ(b.status().code(), StatusCode::kNoRepository);
  EXPECT_NE(b.status().message().find("cairn init"), std::string::npos);
}

TEST_F(SessionTest, UnattendedInitGeneratesASecretThatLaterSessionsFind) {
  auto s = Make();
  auto init = s->Init("");
  ASSERT_TRUE(init.ok()) << init.status().ToString();
  std::string secret_file = s->config().GeneratedSecretPath();
  ASSERT_TRUE(std::filesystem::exists(secret_file));
  struct stat st;
  ASSERT_EQ(stat(secret_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(notices_.size(), 1u);
  EXPECT_NE(notices_[0].find(secret_file), std::string::npos);
  EXPECT_NE(notices_[0].find("KEEP A COPY"), std::string::npos);

  auto again = Make();
  EXPECT_OK(again->Open());
  // A second init of the same place is refused and leaves it working.
  EXPECT_EQ(again->Init("").status().code(), StatusCode::kAlreadyExists);
  EXPECT_OK(Make()->Open());
}

TEST_F(SessionTest, OpensWithEachSecretSourceAndRefusesAWrongOne) {
  InitRepository();
  env_.erase("CAIRN_PASSWORD");
  WriteFile(home_.Sub("pwfile"), "pw\n");

  {  // --password-file
    auto o = Options();
    o.password_file = home_.Sub("pwfile");
    EXPECT_OK(Make(o)->Open());
  }
  {  // repository.password_file in the settings file
    SetSettings("repository:\n  password_file: " + home_.Sub("pwfile") + "\n");
    EXPECT_OK(Make()->Open());
    SetSettings("");
  }
  {  // CAIRN_PASSWORD, then BACKUP_ENCRYPTION_KEY (the original design's)
    env_["CAIRN_PASSWORD"] = "pw";
    EXPECT_OK(Make()->Open());
    env_.erase("CAIRN_PASSWORD");
    env_["BACKUP_ENCRYPTION_KEY"] = "pw\n";
    EXPECT_OK(Make()->Open());
    env_.erase("BACKUP_ENCRYPTION_KEY");
  }
  {  // the front end's prompt, asked once
    auto o = Options();
    int asked = 0;
    o.ask_secret = [&](const SecretRequest& r) -> Result<std::string> {
      ++asked;
      EXPECT_FALSE(r.for_new_repository);
      EXPECT_EQ(r.location, home_.Sub("repo"));
      return std::string("pw");
    };
    auto s = Make(o);
    EXPECT_OK(s->Open());
    EXPECT_OK(s->Open());
    EXPECT_EQ(asked, 1);
  }
  // No source at all, and a wrong one.
  EXPECT_EQ(Make()->Open().code(), StatusCode::kWrongPassword);
  env_["CAIRN_PASSWORD"] = "not it";
  EXPECT_EQ(Make()->Open().code(), StatusCode::kWrongPassword);
  auto o = Options();
  o.password_file = home_.Sub("missing");
  EXPECT_EQ(Make(o)->Open().code(), StatusCode::kInvalidArgument);
}

TEST_F(SessionTest, BackupListVersionsFindRestoreStats) {
  InitRepository();
  std::string docs = home_.Sub("docs");
  WriteFile(docs + "/thesis.odt", "draft 1");
  WriteFile(docs + "/notes/todo.txt", "buy milk");
  auto s = Make();
  RecordingSink sink;
  JobContext job{{}, &sink};
  auto b1 = s->Backup({{docs}, {}}, job);
  ASSERT_TRUE(b1.ok()) << b1.status().ToString();
  EXPECT_EQ(b1->files_new, 2u);
  EXPECT_EQ(b1->paths, std::vector<std::string>{docs});
  WriteFile(docs + "/thesis.odt", "draft 2, longer");
  auto b2 = s->Backup({{docs}, {}}, job);
  ASSERT_TRUE(b2.ok()) << b2.status().ToString();
  EXPECT_EQ(b2->files_changed, 1u);
  EXPECT_EQ(b2->files_unchanged, 1u);

  auto list = s->Versions(docs + "/thesis.odt");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_TRUE(list->unreadable_segments.empty());
  auto* versions = &list->versions;
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].number, 1);
  EXPECT_EQ((*versions)[1].number, 2);
  EXPECT_EQ((*versions)[1].size, 15u);
  EXPECT_EQ((*versions)[1].type, "file");
  EXPECT_EQ((*versions)[1].device, "laptop");
  EXPECT_EQ(s->Versions(docs + "/nothing").status().code(), StatusCode::kNotFound);

  std::vector<std::string> listed;
  auto info = s->List({docs, std::nullopt, true}, [&](const FileVersion& v) {
    listed.push_back(v.path);
    return Status::OK();
  });
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->count, 4u);
  EXPECT_EQ(listed, (std::vector<std::string>{docs, docs + "/notes", docs + "/notes/todo.txt",
                                              docs + "/thesis.odt"}));
  EXPECT_EQ(s->List({home_.Sub("elsewhere"), std::nullopt, false},
                    [](const FileVersion&) { return Status::OK(); })
                .status()
                .code(),
            StatusCode::kNotFound);

  std::vector<std::string> found;
  auto n = s->Find("ToDo", [&](const FileVersion& v) {
    found.push_back(v.path);
    return Status::OK();
  });
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->count, 1u);
  EXPECT_EQ(found, std::vector<std::string>{docs + "/notes/todo.txt"});

  RestoreRequest r;
  r.path = docs + "/thesis.odt";
  r.version = 1;
  r.target = home_.Sub("restored");
  auto restored = s->Restore(r, job);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->files, 1u);
  EXPECT_EQ(ReadFile(home_.Sub("restored") + docs + "/thesis.odt"), "draft 1");

  auto stats = s->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  // docs, notes, todo.txt, thesis.odt and the folders above docs (recorded
  // for their metadata).
  auto parents = static_cast<uint64_t>(std::count(docs.begin(), docs.end(), '/') - 1);
  EXPECT_EQ(stats->paths, 4u + parents);
  EXPECT_GE(stats->packs, 1u);
  EXPECT_GT(stats->stored_bytes, 0u);

  auto check = s->Check({true, ""});
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  EXPECT_TRUE(check->ok());
}

// The daemon's batches name single paths, some of them already gone.
TEST_F(SessionTest, MissingPathsAreDeletionsOrNothingWithMissingOk) {
  InitRepository();
  std::string docs = home_.Sub("docs");
  WriteFile(docs + "/kept.txt", "kept");
  WriteFile(docs + "/gone.txt", "soon gone");
  auto s = Make();
  ASSERT_TRUE(s->Backup({{docs}, {}}).ok());
  std::filesystem::remove(docs + "/gone.txt");
  BackupRequest req{{docs + "/gone.txt", docs + "/never-there.txt"}, {}};
  // Without missing_ok a path that never had a version is an error...
  auto strict = s->Backup(req);
  ASSERT_TRUE(strict.ok()) << strict.status().ToString();
  EXPECT_EQ(strict->deleted, 1u);
  EXPECT_EQ(strict->errors.size(), 1u);
  // ...with it, nothing to do; a path that had one is recorded as deleted.
  WriteFile(docs + "/gone.txt", "back");
  ASSERT_TRUE(s->Backup({{docs + "/gone.txt"}, {}}).ok());
  std::filesystem::remove(docs + "/gone.txt");
  req.missing_ok = true;
  auto lenient = s->Backup(req);
  ASSERT_TRUE(lenient.ok()) << lenient.status().ToString();
  EXPECT_EQ(lenient->deleted, 1u);
  EXPECT_TRUE(lenient->errors.empty());
  auto versions = s->Versions(docs + "/gone.txt");
  ASSERT_TRUE(versions.ok()) << versions.status().ToString();
  ASSERT_EQ(versions->versions.size(), 4u);
  EXPECT_TRUE(versions->versions.back().deleted);
  EXPECT_EQ(s->Versions(docs + "/never-there.txt").status().code(), StatusCode::kNotFound);
}

TEST_F(SessionTest, ExcludedAppliesTheBackupPatternsAndFoldersWithNothingKept) {
  SetSettings("backup: {exclude_patterns: ['*.tmp', '.git/*', 'cache']}\n");
  auto s = Make();
  EXPECT_TRUE(s->Excluded("/h/docs/a.tmp", false));
  EXPECT_TRUE(s->Excluded("/h/docs/p/.git/config", false));
  EXPECT_TRUE(s->Excluded("/h/docs/p/.git", true));  // everything in it is
  EXPECT_FALSE(s->Excluded("/h/docs/p/.git", false));
  EXPECT_TRUE(s->Excluded("/h/docs/cache", true));
  EXPECT_FALSE(s->Excluded("/h/docs/a.txt", false));
  EXPECT_FALSE(s->Excluded("/h/docs/legit", true));
  SetSettings("");
  EXPECT_FALSE(Make()->Excluded("/h/docs/a.tmp", false));
}

// The daemon filters watcher events with Session::Excluded; the backup
// walk applies the same rules as it descends. For every path of a tree with
// nested .cairnignore files (negations, anchors, folder-only patterns, "**"),
// CACHEDIR.TAG folders, patterns and editors' temporaries, Excluded says
// exactly what a backup leaves out; and after the rules change on disk, the
// same session's answers follow them at once.
TEST_F(SessionTest, ExcludedAnswersWhatTheBackupLeavesOutForEveryPath) {
  SetSettings(
      "backup: {exclude_patterns: ['.git/*', '**/node_modules/', 'photos/**/*.raw', '*.tmp']}\n");
  env_["CAIRN_PASSWORD"] = "pw";
  const std::string d = home_.Sub("docs");
  const std::string tag = "Signature: 8a477f597d28d172789f06886806bc55\n";
  WriteFile(d + "/.cairnignore", "# top\n*.log\n!important.log\nbuild/\n/top.txt\ndata/**/*.bin\n");
  for (const char* f : {"/top.txt",
                        "/a/top.txt",
                        "/x.log",
                        "/important.log",
                        "/build/o.o",
                        "/build/sub/p.o",
                        "/a/build",
                        "/data/x.bin",
                        "/data/y/z/w.bin",
                        "/data/keep.txt",
                        "/a/x.log",
                        "/a/q.tmp2",
                        "/q.tmp2",
                        "/a/sub/f",
                        "/sub/f",
                        "/a/b/f.keep",
                        "/a/b/f.other",
                        "/a/b/c/g.keep",
                        "/a/b/c/h",
                        "/a/b/important.log",
                        "/cache/blob",
                        "/cache/deep/blob",
                        "/fakecache/blob",
                        "/.thesis.odt.swp",
                        "/thesis.odt",
                        "/.~lock.thesis.odt#",
                        "/proj/.git/HEAD",
                        "/proj/src/node_modules/m/index.js",
                        "/proj/node_modules",
                        "/photos/2024/a.raw",
                        "/photos/a.raw",
                        "/photos/a.jpg",
                        "/x.tmp",
                        "/a/.hidden~",
                        "/Drafts~/x.txt"})
    WriteFile(d + f, f);
  WriteFile(d + "/a/.cairnignore", "!x.log\n*.tmp2\nsub/\n");
  WriteFile(d + "/a/b/.cairnignore", "*\n!*.keep\n!*/\n");
  WriteFile(d + "/cache/CACHEDIR.TAG", tag);
  WriteFile(d + "/fakecache/CACHEDIR.TAG", "Signature: something else entirely, 43+ bytes\n");
  ASSERT_EQ(::symlink("build", (d + "/link-to-build").c_str()), 0);

  // What one backup into a fresh repository stores, next to what the
  // session `watcher` says of every path on disk.
  int round = 0;
  auto compare = [&](Session& watcher) {
    SessionOptions o = Options();
    o.repository = home_.Sub("repo" + std::to_string(++round));
    auto s = Make(o);
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->Init("k").ok());
    auto b = s->Backup({{d}, {}});
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    std::set<std::string> stored;
    ASSERT_TRUE(s->List({d, std::nullopt, true}, [&](const FileVersion& v) {
                   stored.insert(v.path);
                   return Status::OK();
                 }).ok());
    stored.insert(d);  // List gives what is below the folder
    size_t excluded = 0, kept = 0;
    std::vector<std::filesystem::path> all = {d};
    for (const auto& e : std::filesystem::recursive_directory_iterator(d)) all.push_back(e.path());
    for (const auto& p : all) {
      const bool is_dir = std::filesystem::is_directory(std::filesystem::symlink_status(p));
      const bool ex = watcher.Excluded(p.string(), is_dir);
      EXPECT_EQ(ex, stored.count(p.string()) == 0)
          << "round " << round << ": " << p.string() << (ex ? " is" : " is not")
          << " excluded, but the backup "
          << (stored.count(p.string()) ? "stored it" : "left it out");
      (ex ? excluded : kept)++;
    }
    EXPECT_GT(excluded, 20u);
    EXPECT_GT(kept, 15u);
  };
  auto watcher = Make();
  ASSERT_NE(watcher, nullptr);
  compare(*watcher);
  EXPECT_TRUE(watcher->Excluded(d + "/a/b/f.other", false));
  EXPECT_TRUE(watcher->Excluded(d + "/a/.hidden~", false));
  EXPECT_FALSE(watcher->Excluded(d + "/Drafts~", true));  // editors' patterns: files only
  EXPECT_FALSE(watcher->Excluded(d + "/a/x.log", false));

  // The rules change: a.cairnignore loses its negation and "sub/", b's file
  // goes, the fake cache tag becomes a real one, and the top file is
  // rewritten in place at the same size (the watcher's event names it).
  WriteFile(d + "/a/.cairnignore", "*.tmp2\n");
  ASSERT_EQ(::unlink((d + "/a/b/.cairnignore").c_str()), 0);
  WriteFile(d + "/fakecache/CACHEDIR.TAG", tag);
  WriteFile(d + "/.cairnignore", "# top\n*.lo?\n!important.log\nbuild/\n/top.txt\ndata/**/*.bin\n");
  watcher->Excluded(d + "/.cairnignore", false);
  compare(*watcher);
  EXPECT_FALSE(watcher->Excluded(d + "/a/b/f.other", false));
  EXPECT_TRUE(watcher->Excluded(d + "/a/x.log", false));
  EXPECT_TRUE(watcher->Excluded(d + "/fakecache/blob", false));
}

TEST_F(SessionTest, VersionIdsAreStableAndRestoreOneVersion) {
  InitRepository();
  std::string file = home_.Sub("docs/thesis.odt");
  WriteFile(file, "draft 1");
  auto s = Make();
  ASSERT_TRUE(s->Backup({{home_.Sub("docs")}, {}}).ok());
  WriteFile(file, "draft 2, longer");
  ASSERT_TRUE(s->Backup({{home_.Sub("docs")}, {}}).ok());
  auto list = s->Versions(file);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->versions.size(), 2u);
  std::string first = list->versions[0].id, second = list->versions[1].id;
  EXPECT_EQ(first.size(), 24u);
  EXPECT_NE(first, second);

  // Another machine (an empty catalog) computes the same ids.
  env_["XDG_CACHE_HOME"] = home_.Sub("cache-elsewhere");
  auto elsewhere = Make();
  auto again = elsewhere->Versions(file);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->versions[0].id, first);
  EXPECT_EQ(again->versions[1].id, second);
  auto found = elsewhere->VersionById(first);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->path, file);
  EXPECT_EQ(found->size, 7u);

  RestoreRequest r;
  r.id = first;
  r.target = home_.Sub("restored");
  auto restored = elsewhere->Restore(r);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(ReadFile(home_.Sub("restored") + file), "draft 1");

  EXPECT_EQ(elsewhere->VersionById("0123456789abcdef01234567").status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(elsewhere->VersionById("not-an-id").status().code(), StatusCode::kInvalidArgument);
  r.id = "0123456789abcdef01234567";
  EXPECT_EQ(elsewhere->Restore(r).status().code(), StatusCode::kNotFound);
}

// What the web dashboard asks (docs/api.md): a device per query, folders a
// page at a time, a search that finds deleted files, and what a restore
// would do.
class WebQueriesTest : public SessionFixture {
 protected:
  // docs/{a,c,d}.txt on "laptop" (b.txt and report-old.txt deleted since),
  // docs/{a,c,d,e}.txt on "desk".
  void SetUp() override {
    SessionFixture::SetUp();
    InitRepository();
    docs_ = home_.Sub("docs");
    for (const char* name : {"a.txt", "b.txt", "c.txt", "d.txt", "report-old.txt"})
      WriteFile(docs_ + "/" + name, std::string("content of ") + name);
    laptop_ = Make();
    ASSERT_TRUE(laptop_->Backup({{docs_}, {}}).ok());
    std::filesystem::remove(docs_ + "/b.txt");
    std::filesystem::remove(docs_ + "/report-old.txt");
    before_deletion_ = NowNs();
    ASSERT_TRUE(laptop_->Backup({{docs_}, {}}).ok());
    after_deletion_ = NowNs();
    WriteFile(docs_ + "/e.txt", "desk's own");
    auto o = Options();
    o.device = "desk";
    ASSERT_TRUE(Make(o)->Backup({{docs_}, {}}).ok());
    std::filesystem::remove(docs_ + "/e.txt");
  }

  // device:name of each entry of a listing, and the answer.
  std::pair<std::vector<std::string>, Result<QueryInfo>> List(const ListRequest& request) {
    std::vector<std::string> out;
    auto info = laptop_->List(request, [&](const FileVersion& v) {
      out.push_back(v.device + ":" + v.path.substr(v.path.find_last_of('/') + 1));
      return Status::OK();
    });
    return {out, std::move(info)};
  }
  std::pair<std::vector<std::string>, Result<QueryInfo>> Find(const FindRequest& request) {
    std::vector<std::string> out;
    auto info = laptop_->Find(request, [&](const FileVersion& v) {
      out.push_back(v.device + ":" + v.path.substr(v.path.find_last_of('/') + 1) +
                    (v.deleted ? " deleted" : ""));
      return Status::OK();
    });
    return {out, std::move(info)};
  }
  ListRequest Page(std::string after, size_t limit,
                   std::optional<std::string> device = std::nullopt) {
    ListRequest r;
    r.path = docs_;
    r.device = std::move(device);
    r.after = std::move(after);
    r.limit = limit;
    return r;
  }

  std::string docs_;
  std::unique_ptr<Session> laptop_;
  TimeNs before_deletion_ = 0, after_deletion_ = 0;
};

using Names = std::vector<std::string>;

TEST_F(WebQueriesTest, ListsAPageOfTheChosenDevice) {
  auto [first, info] = List(Page("", 2));
  ASSERT_OK(info);
  EXPECT_EQ(first, (Names{"laptop:a.txt", "laptop:c.txt"}));
  EXPECT_EQ(info->count, 2u);
  EXPECT_EQ(info->next_after, "c.txt");
  auto [second, info2] = List(Page("c.txt", 2));
  ASSERT_OK(info2);
  EXPECT_EQ(second, (Names{"laptop:d.txt"}));
  EXPECT_EQ(info2->next_after, "");
  // Past the end of a folder that exists: an empty page, not NotFound.
  auto [past, info3] = List(Page("zzz", 2));
  ASSERT_OK(info3);
  EXPECT_TRUE(past.empty());
  // No paging: the whole folder, as before.
  auto [whole, info4] = List(Page("", 0));
  ASSERT_OK(info4);
  EXPECT_EQ(whole, (Names{"laptop:a.txt", "laptop:c.txt", "laptop:d.txt"}));
  EXPECT_EQ(info4->next_after, "");

  // Another device, every device (one name's entries stay on one page).
  auto [desk, info5] = List(Page("", 0, "desk"));
  ASSERT_OK(info5);
  EXPECT_EQ(desk, (Names{"desk:a.txt", "desk:c.txt", "desk:d.txt", "desk:e.txt"}));
  auto [every, info6] = List(Page("", 3, ""));
  ASSERT_OK(info6);
  EXPECT_EQ(every, (Names{"desk:a.txt", "laptop:a.txt", "desk:c.txt", "laptop:c.txt"}));
  EXPECT_EQ(info6->next_after, "c.txt");
  auto [rest, info7] = List(Page("c.txt", 3, ""));
  ASSERT_OK(info7);
  EXPECT_EQ(rest, (Names{"desk:d.txt", "laptop:d.txt", "desk:e.txt"}));
  EXPECT_EQ(info7->next_after, "");

  // As of before the deletion: b.txt and report-old.txt were there.
  ListRequest then = Page("a.txt", 2);
  then.at = before_deletion_;
  auto [old, info8] = List(then);
  ASSERT_OK(info8);
  EXPECT_EQ(old, (Names{"laptop:b.txt", "laptop:c.txt"}));
  EXPECT_EQ(info8->next_after, "c.txt");

  // Nothing there, for that device or at all; paging a recursive listing.
  EXPECT_EQ(List(Page("", 2, "nobody")).second.status().code(), StatusCode::kNotFound);
  ListRequest missing = Page("x", 2);
  missing.path = home_.Sub("elsewhere");
  EXPECT_EQ(List(missing).second.status().code(), StatusCode::kNotFound);
  ListRequest recursive = Page("", 2);
  recursive.recursive = true;
  EXPECT_EQ(List(recursive).second.status().code(), StatusCode::kInvalidArgument);
  // A file is its state alone, whatever the paging.
  ListRequest file = Page("", 2);
  file.path = docs_ + "/a.txt";
  auto [one, info9] = List(file);
  ASSERT_OK(info9);
  EXPECT_EQ(one, (Names{"laptop:a.txt"}));
}

TEST_F(WebQueriesTest, VersionsOfTheChosenDevice) {
  auto mine = laptop_->Versions(VersionsRequest{docs_ + "/b.txt", std::nullopt});
  ASSERT_OK(mine);
  ASSERT_EQ(mine->versions.size(), 2u);
  EXPECT_TRUE(mine->versions[1].deleted);
  EXPECT_EQ(mine->versions[1].type, "deleted");
  EXPECT_EQ(laptop_->Versions(VersionsRequest{docs_ + "/b.txt", "desk"}).status().code(),
            StatusCode::kNotFound);
  auto every = laptop_->Versions(VersionsRequest{docs_ + "/a.txt", ""});
  ASSERT_OK(every);
  ASSERT_EQ(every->versions.size(), 2u);  // unchanged on the laptop: one version each
  EXPECT_EQ(every->versions[0].device, "laptop");
  EXPECT_EQ(every->versions[1].device, "desk");
  EXPECT_EQ(every->versions[1].number, 2);
  auto desk = laptop_->Versions(VersionsRequest{docs_ + "/e.txt", "desk"});
  ASSERT_OK(desk);
  EXPECT_EQ(desk->versions.size(), 1u);
  // The CLI's form: the session's device.
  auto cli = laptop_->Versions(docs_ + "/b.txt");
  ASSERT_OK(cli);
  EXPECT_EQ(cli->versions.size(), 2u);
}

TEST_F(WebQueriesTest, FindGivesDeletedFilesAfterExistingOnesUpToTheLimit) {
  // Existing files only, as `Find(pattern)` always did.
  auto [existing, info] = Find({"TXT"});
  ASSERT_OK(info);
  EXPECT_EQ(existing, (Names{"laptop:a.txt", "laptop:c.txt", "laptop:d.txt"}));
  EXPECT_FALSE(info->truncated);
  std::vector<std::string> old_form;
  ASSERT_OK(laptop_->Find("TXT", [&](const FileVersion& v) {
    old_form.push_back(v.path);
    return Status::OK();
  }));
  EXPECT_EQ(old_form.size(), 3u);

  // Deleted ones after them, as their deletion record.
  std::vector<FileVersion> got;
  auto deleted = laptop_->Find(FindRequest{"txt", true}, [&](const FileVersion& v) {
    got.push_back(v);
    return Status::OK();
  });
  ASSERT_OK(deleted);
  EXPECT_EQ(deleted->count, 5u);
  EXPECT_FALSE(deleted->truncated);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[3].path, docs_ + "/b.txt");
  EXPECT_EQ(got[4].path, docs_ + "/report-old.txt");
  for (size_t i = 3; i < 5; ++i) {
    EXPECT_TRUE(got[i].deleted);
    EXPECT_EQ(got[i].type, "deleted");
    EXPECT_GE(got[i].backup_time, before_deletion_);  // when the deletion was recorded
    EXPECT_LE(got[i].backup_time, after_deletion_);
  }
  auto only = Find({"report", true});
  ASSERT_OK(only.second);
  EXPECT_EQ(only.first, (Names{"laptop:report-old.txt deleted"}));

  // Limits: existing first, then deleted; truncated when more exist.
  struct Case {
    size_t limit;
    bool include_deleted;
    Names want;
    bool truncated;
  };
  for (const Case& c : std::vector<Case>{
           {2, false, {"laptop:a.txt", "laptop:c.txt"}, true},
           {3, false, {"laptop:a.txt", "laptop:c.txt", "laptop:d.txt"}, false},
           {3, true, {"laptop:a.txt", "laptop:c.txt", "laptop:d.txt"}, true},
           {4,
            true,
            {"laptop:a.txt", "laptop:c.txt", "laptop:d.txt", "laptop:b.txt deleted"},
            true},
           {5,
            true,
            {"laptop:a.txt", "laptop:c.txt", "laptop:d.txt", "laptop:b.txt deleted",
             "laptop:report-old.txt deleted"},
            false},
           {1, true, {"laptop:a.txt"}, true},
       }) {
    FindRequest r{"txt", c.include_deleted};
    r.limit = c.limit;
    auto [found, fi] = Find(r);
    ASSERT_OK(fi);
    EXPECT_EQ(found, c.want) << "limit " << c.limit;
    EXPECT_EQ(fi->truncated, c.truncated) << "limit " << c.limit;
    EXPECT_EQ(fi->count, c.want.size());
  }

  // Another device, every device.
  auto [desk, di] = Find({"txt", true, "desk"});
  ASSERT_OK(di);
  EXPECT_EQ(desk, (Names{"desk:a.txt", "desk:c.txt", "desk:d.txt", "desk:e.txt"}));
  auto [every, ei] = Find({"txt", true, ""});
  ASSERT_OK(ei);
  EXPECT_EQ(every, (Names{"desk:a.txt", "laptop:a.txt", "desk:c.txt", "laptop:c.txt", "desk:d.txt",
                          "laptop:d.txt", "desk:e.txt", "laptop:b.txt deleted",
                          "laptop:report-old.txt deleted"}));
}

TEST_F(WebQueriesTest, PreviewRestoreSaysWhereHowMuchAndWhatWouldBeReplaced) {
  // In place: the files on disk would be replaced.
  RestoreRequest in_place;
  in_place.path = docs_;
  auto p = laptop_->PreviewRestore(in_place);
  ASSERT_OK(p);
  EXPECT_EQ(p->target, docs_);
  EXPECT_EQ(p->files, 3u);
  EXPECT_EQ(p->bytes, 3 * std::string("content of a.txt").size());
  EXPECT_EQ(p->would_overwrite, (Names{docs_ + "/a.txt", docs_ + "/c.txt", docs_ + "/d.txt"}));
  EXPECT_EQ(p->would_overwrite_count, 3u);

  // As of before the deletion, re-rooted into an empty folder: nothing there.
  RestoreRequest then;
  then.path = docs_;
  then.at = before_deletion_;
  then.target = home_.Sub("restored");
  auto q = laptop_->PreviewRestore(then);
  ASSERT_OK(q);
  EXPECT_EQ(q->target, home_.Sub("restored") + docs_);
  EXPECT_EQ(q->files, 5u);
  EXPECT_TRUE(q->would_overwrite.empty());
  EXPECT_FALSE(std::filesystem::exists(home_.Sub("restored")));
  // The restore does what the preview said; a second preview names them all.
  auto done = laptop_->Restore(then);
  ASSERT_OK(done);
  EXPECT_EQ(done->files, q->files);
  EXPECT_EQ(done->bytes, q->bytes);
  auto again = laptop_->PreviewRestore(then);
  ASSERT_OK(again);
  EXPECT_EQ(again->would_overwrite_count, 5u);

  // By id: a deleted file's earlier version, or a folder as it was then.
  auto versions = laptop_->Versions(docs_ + "/b.txt");
  ASSERT_OK(versions);
  RestoreRequest by_id;
  by_id.id = versions->versions[0].id;
  by_id.target = home_.Sub("by-id");
  auto r = laptop_->PreviewRestore(by_id);
  ASSERT_OK(r);
  EXPECT_EQ(r->target, home_.Sub("by-id") + docs_ + "/b.txt");
  EXPECT_EQ(r->files, 1u);
  EXPECT_EQ(r->bytes, std::string("content of b.txt").size());
  by_id.id = versions->versions[1].id;  // the deletion record
  EXPECT_EQ(laptop_->PreviewRestore(by_id).status().code(), StatusCode::kInvalidArgument);
  by_id.id = "0123456789abcdef01234567";
  EXPECT_EQ(laptop_->PreviewRestore(by_id).status().code(), StatusCode::kNotFound);
  RestoreRequest gone;
  gone.path = docs_ + "/b.txt";
  EXPECT_EQ(laptop_->PreviewRestore(gone).status().code(), StatusCode::kNotFound);
  // The restore's own rule: one device's files.
  auto o = Options();
  o.all_devices = true;
  EXPECT_EQ(Make(o)->PreviewRestore(in_place).status().code(), StatusCode::kInvalidArgument);
}

// A compaction on another device: one segment with the records of two,
// naming them in `supersedes`, then the two deleted. Catalogs that had
// ingested them, and fresh ones, show every version exactly once.
TEST_F(SessionTest, CatalogsFollowACompactionAndARemovalWithoutDuplicatesOrRebuild) {
  InitRepository();
  std::string file = home_.Sub("docs/a.txt");
  WriteFile(file, "one");
  auto s = Make();
  ASSERT_TRUE(s->Backup({{home_.Sub("docs")}, {}}).ok());
  WriteFile(file, "two!");
  ASSERT_TRUE(s->Backup({{home_.Sub("docs")}, {}}).ok());
  auto before = s->Versions(file);
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->versions.size(), 2u);

  auto be = backend::LocalBackend::Open(home_.Sub("repo"));
  ASSERT_TRUE(be.ok());
  auto repo = repo::Repository::Open(*be, "pw");
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  std::vector<Id> old;
  ASSERT_OK((*repo)->ListSegments([&](const Id& id) {
    old.push_back(id);
    return Status::OK();
  }));
  ASSERT_EQ(old.size(), 2u);
  repo::VersionSegment merged;
  merged.run_id = crypto::RandomId();
  merged.final = true;
  merged.device = "laptop";
  merged.created = NowNs();
  merged.supersedes = old;
  for (const Id& id : old) {
    auto seg = (*repo)->LoadSegment(id);
    ASSERT_TRUE(seg.ok());
    merged.records.insert(merged.records.end(), seg->records.begin(), seg->records.end());
  }
  auto merged_id = (*repo)->SaveSegment(merged);
  ASSERT_TRUE(merged_id.ok());

  auto same = [&](Session& session) {
    auto v = session.Versions(file);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    ASSERT_EQ(v->versions.size(), 2u);
    EXPECT_EQ(v->versions[0].id, before->versions[0].id);
    EXPECT_EQ(v->versions[1].id, before->versions[1].id);
  };
  same(*s);  // had ingested the old ones: replaced, not doubled
  env_["XDG_CACHE_HOME"] = home_.Sub("cache-fresh");
  same(*Make());  // sees all three: the superseded ones are skipped
  for (const Id& id : old)
    ASSERT_OK((*be)->Remove(backend::ObjectName{backend::ObjectType::kVersions, id.Hex()}));
  same(*s);
  same(*Make());

  // The merged segment removed too (a prune of everything): the versions go.
  ASSERT_OK((*be)->Remove(backend::ObjectName{backend::ObjectType::kVersions, merged_id->Hex()}));
  EXPECT_EQ(s->Versions(file).status().code(), StatusCode::kNotFound);
  auto listed = s->List({"/", std::nullopt, true}, [](const FileVersion&) { return Status::OK(); });
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->count, 0u);
}

TEST_F(SessionTest, RootsWithACommonParentRecordItOnce) {
  InitRepository();
  WriteFile(home_.Sub("p/x/1.txt"), "1");
  WriteFile(home_.Sub("p/y/2.txt"), "2");
  auto s = Make();
  ASSERT_TRUE(s->Backup({{home_.Sub("p/x"), home_.Sub("p/y")}, {}}).ok());
  auto v = s->Versions(home_.Sub("p"));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->versions.size(), 1u);
}

// Every object of the repository but the lock folder's.
std::set<std::string> RepositoryObjects(const std::string& repo) {
  std::set<std::string> out;
  for (auto& e : std::filesystem::recursive_directory_iterator(repo))
    if (e.is_regular_file() && e.path().string().find("/locks/") == std::string::npos)
      out.insert(e.path().string());
  return out;
}

TEST_F(SessionTest, ABackupInWhichNothingChangedWritesNothingButIsRecorded) {
  InitRepository();
  WriteFile(home_.Sub("docs/a.txt"), "a");
  auto s = Make();
  ASSERT_TRUE(s->Backup({{home_.Sub("docs")}, {}}).ok());
  auto before = RepositoryObjects(home_.Sub("repo"));
  auto first = s->Stats();
  ASSERT_TRUE(first.ok());
  EXPECT_GT(first->last_backup, 0);

  for (int i = 0; i < 3; ++i) {
    auto again = s->Backup({{home_.Sub("docs")}, {}});
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(again->files_unchanged, 1u);
    EXPECT_EQ(again->segments, 0u);
  }
  EXPECT_EQ(RepositoryObjects(home_.Sub("repo")), before);
  auto later = Make()->Stats();  // another process sees it too
  ASSERT_TRUE(later.ok());
  EXPECT_GT(later->last_backup, first->last_backup);

  // A change writes again.
  WriteFile(home_.Sub("docs/a.txt"), "b");
  auto changed = s->Backup({{home_.Sub("docs")}, {}});
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->segments, 1u);
  EXPECT_GT(RepositoryObjects(home_.Sub("repo")).size(), before.size());
}

TEST_F(SessionTest, ABackupIsRefusedWhileAnotherProcessHoldsTheExclusiveLock) {
  InitRepository();
  WriteFile(home_.Sub("docs/a.txt"), "a");
  auto be = backend::LocalBackend::Open(home_.Sub("repo"));
  ASSERT_TRUE(be.ok());
  auto other = repo::Repository::Open(*be, "pw");
  ASSERT_TRUE(other.ok());
  repo::LockOptions lo;
  lo.exclusive = true;
  lo.device = "desktop";
  lo.operation = "prune";
  auto held = repo::RepoLock::Acquire(**other, lo);
  ASSERT_TRUE(held.ok()) << held.status().ToString();

  auto s = Make();
  auto b = s->Backup({{home_.Sub("docs")}, {}});
  EXPECT_EQ(b.status().code(), StatusCode::kLocked);
  EXPECT_NE(b.status().message().find("prune"), std::string::npos) << b.status().message();

  held->reset();  // released: the same open session backs up now
  auto again = s->Backup({{home_.Sub("docs")}, {}});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->files_new, 1u);
}

// A prune on another device between two backups of a long-lived session
// (the daemon's case: its index stays in memory between runs). The prune
// advances the generation before it deletes, so the session's next lock sees
// it and reloads the index instead of deduplicating against deleted chunks.
TEST_F(SessionTest, APruneBetweenRunsIsDetectedAndNothingReferencesADeletedChunk) {
  InitRepository();
  const std::string content = RandomContent(300000, 42);
  WriteFile(home_.Sub("docs/a.bin"), content);
  auto s = Make();
  ASSERT_TRUE(s->Backup({{home_.Sub("docs")}, {}}).ok());

  {  // Another device prunes everything a.bin was stored in.
    auto be = backend::LocalBackend::Open(home_.Sub("repo"));
    ASSERT_TRUE(be.ok());
    auto other = repo::Repository::Open(*be, "pw");
    ASSERT_TRUE(other.ok());
    repo::LockOptions lo;
    lo.exclusive = true;
    lo.device = "desktop";
    lo.operation = "prune";
    auto held = repo::RepoLock::Acquire(**other, lo);
    ASSERT_TRUE(held.ok()) << held.status().ToString();
    auto gen = repo::AdvanceGeneration(**other, "desktop", "prune");
    ASSERT_TRUE(gen.ok()) << gen.status().ToString();
    EXPECT_EQ(gen->generation.number, 1u);
    size_t removed = 0;
    for (auto type : {backend::ObjectType::kVersions, backend::ObjectType::kIndex,
                      backend::ObjectType::kPack}) {
      std::vector<backend::ObjectName> names;
      ASSERT_OK((*be)->List(type, [&](const backend::ObjectInfo& i) {
        names.push_back(i.name);
        return Status::OK();
      }));
      for (const auto& n : names) ASSERT_OK((*be)->Remove(n));
      removed += names.size();
    }
    EXPECT_GE(removed, 3u);
  }

  // The same content under another name: without the generation check the
  // session would find its chunk in the index it holds and store nothing.
  WriteFile(home_.Sub("docs/b.bin"), content);
  auto b = s->Backup({{home_.Sub("docs")}, {}});
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_GT(b->bytes_stored, 0u);

  env_["XDG_CACHE_HOME"] = home_.Sub("cache-new-machine");
  auto fresh = Make();
  RestoreRequest r;
  r.path = home_.Sub("docs/b.bin");
  r.target = home_.Sub("restored");
  auto restored = fresh->Restore(r);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(ReadFile(home_.Sub("restored") + home_.Sub("docs/b.bin")), content);
  auto check = fresh->Check({});
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  EXPECT_TRUE(check->ok()) << (check->errors.empty() ? "" : check->errors.front());
}

size_t CountObjects(const std::string& repo, const std::string& dir) {
  size_t n = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(repo + "/" + dir))
    if (e.is_regular_file() && e.path().filename().string().rfind(".tmp", 0) != 0) ++n;
  return n;
}

// A daemon's month in miniature: many small backups, then compaction. Every
// version stays (same ids), no catalog shows one twice, old versions
// restore, the repository checks clean, and the same open session backs up
// again afterwards.
TEST_F(SessionTest, CompactionMergesSmallObjectsAndLosesNothing) {
  InitRepository();
  auto s = Make();
  const std::string repo = home_.Sub("repo");
  const int kRuns = 12;
  for (int i = 0; i < kRuns; ++i) {
    WriteFile(home_.Sub("docs/f" + std::to_string(i % 3) + ".txt"), RandomContent(5000 + i, i));
    auto b = s->Backup({{home_.Sub("docs")}, {}});
    ASSERT_TRUE(b.ok()) << b.status().ToString();
  }
  const size_t packs = CountObjects(repo, "data"), index = CountObjects(repo, "index"),
               segments = CountObjects(repo, "versions");
  EXPECT_GE(packs, size_t{kRuns});
  EXPECT_GE(segments, size_t{kRuns});
  std::map<std::string, std::vector<std::string>> ids_before;
  for (int f = 0; f < 3; ++f) {
    std::string path = home_.Sub("docs/f" + std::to_string(f) + ".txt");
    auto v = s->Versions(path);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    for (const auto& fv : v->versions) ids_before[path].push_back(fv.id);
    EXPECT_EQ(v->versions.size(), size_t{kRuns / 3});
  }

  auto c = s->Compact();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_GE(c->packs_merged, size_t{kRuns});
  EXPECT_EQ(c->packs_written, 1u);
  EXPECT_EQ(c->index_written, 1u);
  EXPECT_EQ(c->segments_written, 1u);
  EXPECT_EQ(c->generation, 1u);
  EXPECT_TRUE(c->warnings.empty());
  EXPECT_EQ(CountObjects(repo, "data"), 1u);
  EXPECT_EQ(CountObjects(repo, "index"), 1u);
  EXPECT_EQ(CountObjects(repo, "versions"), 1u);
  EXPECT_LT(
      CountObjects(repo, "data") + CountObjects(repo, "index") + CountObjects(repo, "versions"),
      packs + index + segments);

  auto same_versions = [&](Session& session) {
    for (auto& [path, ids] : ids_before) {
      auto v = session.Versions(path);
      ASSERT_TRUE(v.ok()) << v.status().ToString();
      std::vector<std::string> now;
      for (const auto& fv : v->versions) now.push_back(fv.id);
      EXPECT_EQ(now, ids) << path;
    }
  };
  same_versions(*s);  // this machine's catalog followed
  env_["XDG_CACHE_HOME"] = home_.Sub("cache-new-machine");
  auto fresh = Make();
  same_versions(*fresh);

  // The oldest version of f0 restores from the merged pack, verified.
  RestoreRequest r;
  r.path = home_.Sub("docs/f0.txt");
  r.version = 1;
  r.target = home_.Sub("restored");
  auto restored = fresh->Restore(r);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(ReadFile(home_.Sub("restored") + home_.Sub("docs/f0.txt")), RandomContent(5000, 0));
  auto check = fresh->Check({});
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  EXPECT_TRUE(check->ok()) << (check->errors.empty() ? "" : check->errors.front());

  // The session that compacted backs up again (its index was reloaded: the
  // packs it knew are gone) and a second compaction finds little to do.
  WriteFile(home_.Sub("docs/f0.txt"), RandomContent(5000, 0));  // content of version 1
  WriteFile(home_.Sub("docs/new.txt"), "new");
  auto again = s->Backup({{home_.Sub("docs")}, {}});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  auto check2 = Make()->Check({});
  ASSERT_TRUE(check2.ok());
  EXPECT_TRUE(check2->ok()) << (check2->errors.empty() ? "" : check2->errors.front());
  auto nothing = fresh->Compact();
  ASSERT_TRUE(nothing.ok()) << nothing.status().ToString();
  EXPECT_LE(CountObjects(repo, "versions"), 1u);
}

// A compaction that wrote its merged objects but could not delete the old
// ones (the storage refused, the process died): no catalog ever shows a
// version twice, in later syncs either, and the next compaction deletes the
// leftovers instead of merging them again.
TEST_F(SessionTest, AnInterruptedCompactionLeavesNoDuplicatesAndIsFinishedNextTime) {
  InitRepository();
  const std::string file = home_.Sub("docs/f.txt");
  auto s = Make();
  for (int i = 0; i < 6; ++i) {
    WriteFile(file, RandomContent(2000 + i, i));
    ASSERT_TRUE(s->Backup({{home_.Sub("docs")}, {}}).ok());
  }
  auto before = s->Versions(file);
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->versions.size(), 6u);
  auto ids = [](const VersionList& l) {
    std::vector<std::string> out;
    for (const auto& v : l.versions) out.push_back(v.id);
    return out;
  };

  auto o = Options();
  std::shared_ptr<testing::FaultBackend> faults;
  o.wrap_backend = [&faults](std::shared_ptr<backend::Backend> be) {
    faults = std::make_shared<testing::FaultBackend>(std::move(be));
    return std::shared_ptr<backend::Backend>(faults);
  };
  auto compactor = Make(o);
  ASSERT_OK(compactor->Open());
  // The first deletion is refused: the compaction stops there (its lock is
  // still released: that removal is the second).
  faults->FailNext(testing::FaultBackend::Method::kRemove, 1,
                   Status::PermissionDenied("deletion refused"));
  auto failed = compactor->Compact();
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(CountObjects(home_.Sub("repo"), "versions"), 7u);  // 6 + the merged one

  for (int round = 0; round < 2; ++round) {  // the second sync meets them again
    auto v = s->Versions(file);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_EQ(ids(*v), ids(*before)) << "round " << round;
  }
  env_["XDG_CACHE_HOME"] = home_.Sub("cache-new-machine");
  auto fresh = Make();
  for (int round = 0; round < 2; ++round) {
    auto v = fresh->Versions(file);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_EQ(ids(*v), ids(*before)) << "round " << round;
  }

  auto done = fresh->Compact();
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->superseded_deleted, 6u);
  EXPECT_EQ(CountObjects(home_.Sub("repo"), "versions"), 1u);
  auto after = s->Versions(file);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(ids(*after), ids(*before));
}

// Two devices whose clocks differ by an hour (design.md §10): versions are
// ordered by the hybrid logical clock (the later backup is later, whatever
// the clocks say), each shows the time of its own device's clock, and
// "as of T" is judged by that time.
// Retention end to end (design.md §19): forget drops by the policy, only on
// the device asked for, writes one forget segment and nothing else; every
// reader agrees afterwards: this session, a rebuilt catalog, and both after a
// compaction merged the forget segment away.
TEST_F(SessionTest, ForgetDropsByPolicyAndEveryReaderAgrees) {
  InitRepository();
  const std::string repo = home_.Sub("repo");
  auto s = Make();
  const std::string a = home_.Sub("docs/a.txt"), b = home_.Sub("docs/b.txt");
  for (int i = 0; i < 6; ++i) {
    WriteFile(a, "version " + std::to_string(i));
    if (i == 0) WriteFile(b, "written once");
    ASSERT_OK(s->Backup({{home_.Sub("docs")}, {}}).status());
  }
  SessionOptions other = Options();
  other.device = "desktop";
  auto desktop = Make(other);
  const std::string c = home_.Sub("desk/c.txt");
  for (int i = 0; i < 4; ++i) {
    WriteFile(c, "desk " + std::to_string(i));
    ASSERT_OK(desktop->Backup({{home_.Sub("desk")}, {}}).status());
  }
  auto ids = [](Session& session, const std::string& path) {
    std::vector<std::string> out;
    auto v = session.Versions(path);
    if (v.ok())
      for (const auto& fv : v->versions) out.push_back(fv.id);
    return out;
  };
  const std::vector<std::string> a_before = ids(*s, a);
  ASSERT_EQ(a_before.size(), 6u);
  const size_t segments = CountObjects(repo, "versions");

  ForgetRequest req;
  req.policy.keep_last = 2;
  req.dry_run = true;
  std::vector<ForgetDecision> listed;
  req.on_version = [&](const ForgetDecision& d) { listed.push_back(d); };
  auto dry = s->Forget(req);
  ASSERT_OK(dry.status());
  EXPECT_EQ(dry->versions_dropped, 4u);
  EXPECT_EQ(dry->paths_touched, 1u);
  EXPECT_EQ(dry->segments_written, 0u);
  EXPECT_EQ(CountObjects(repo, "versions"), segments);  // a dry run writes nothing
  EXPECT_EQ(ids(*s, a), a_before);
  size_t dropped_listed = 0;
  for (const auto& d : listed) {
    EXPECT_EQ(d.device, "laptop");  // this device only
    if (!d.keep) {
      ++dropped_listed;
      EXPECT_EQ(d.path, a);
      EXPECT_EQ(d.dropped, "no keep rule keeps it");
    }
  }
  EXPECT_EQ(dropped_listed, 4u);

  req.dry_run = false;
  req.on_version = nullptr;
  auto done = s->Forget(req);
  ASSERT_OK(done.status());
  EXPECT_EQ(done->versions_dropped, 4u);
  EXPECT_EQ(done->segments_written, 1u);
  EXPECT_EQ(CountObjects(repo, "versions"), segments + 1);
  const std::vector<std::string> a_kept(a_before.end() - 2, a_before.end());
  EXPECT_EQ(ids(*s, a), a_kept);
  EXPECT_EQ(ids(*s, b).size(), 1u);
  EXPECT_EQ(ids(*desktop, c).size(), 4u);  // another device: untouched
  EXPECT_EQ(s->VersionById(a_before[0]).status().code(), StatusCode::kNotFound);
  // Nothing more to drop: a second run writes nothing.
  auto again = s->Forget(req);
  ASSERT_OK(again.status());
  EXPECT_EQ(again->versions_dropped, 0u);
  EXPECT_EQ(CountObjects(repo, "versions"), segments + 1);

  // A new machine (rebuilt catalog), then a compaction, then another rebuild.
  auto fresh = Make();
  ASSERT_OK(fresh->Recover().status());
  EXPECT_EQ(ids(*fresh, a), a_kept);
  ASSERT_OK(fresh->Compact().status());
  EXPECT_EQ(CountObjects(repo, "versions"), 1u);  // the forget segment merged too
  EXPECT_EQ(ids(*fresh, a), a_kept);
  EXPECT_EQ(ids(*s, a), a_kept);
  auto rebuilt = Make();
  ASSERT_OK(rebuilt->Recover().status());
  EXPECT_EQ(ids(*rebuilt, a), a_kept);
  EXPECT_EQ(ids(*rebuilt, c).size(), 0u);  // (this device's view)
  auto check = rebuilt->Check({});
  ASSERT_OK(check.status());
  EXPECT_TRUE(check->ok());

  // Every device, each judged by its own history.
  SessionOptions all = Options();
  all.all_devices = true;
  auto everyone = Make(all);
  auto both = everyone->Forget(req);
  ASSERT_OK(both.status());
  EXPECT_EQ(both->versions_dropped, 2u);  // desktop's two oldest of c.txt
  EXPECT_EQ(ids(*desktop, c).size(), 2u);
}

TEST_F(SessionTest, TwoDevicesWithClocksAnHourApart) {
  InitRepository();
  constexpr TimeNs kHour = 3600LL * 1000 * 1000 * 1000;
  const std::string file = home_.Sub("docs/a.txt");
  auto ahead_options = Options();
  ahead_options.device = "ahead";
  ahead_options.clock = [] { return NowNs() + kHour; };
  WriteFile(file, "from the device whose clock is an hour ahead");
  const TimeNs t0 = NowNs();
  ASSERT_TRUE(Make(ahead_options)->Backup({{home_.Sub("docs")}, {}}).ok());

  WriteFile(file, "from the device with the right time, backed up later");
  auto right_options = Options();
  right_options.device = "right";
  ASSERT_TRUE(Make(right_options)->Backup({{home_.Sub("docs")}, {}}).ok());
  const TimeNs t1 = NowNs();

  auto all_options = Options();
  all_options.all_devices = true;
  auto all = Make(all_options);
  auto v = all->Versions(file);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_EQ(v->versions.size(), 2u);
  // Ordered as made: the ahead device's first, though its clock says later.
  EXPECT_EQ(v->versions[0].device, "ahead");
  EXPECT_EQ(v->versions[1].device, "right");
  EXPECT_LT(v->versions[0].order_time, v->versions[1].order_time);
  // Each shows its own device's clock: the right one's time is true, the
  // other's an hour ahead; the right device's ordering time was pushed
  // past the ahead device's, its shown time was not.
  EXPECT_GE(v->versions[1].backup_time, t0);
  EXPECT_LE(v->versions[1].backup_time, t1);
  EXPECT_GE(v->versions[0].backup_time, t0 + kHour);
  EXPECT_GT(v->versions[1].order_time, t0 + kHour);

  // "As of half an hour from now", by each device's clock: the right
  // device's version existed then, the ahead device's had not been made.
  auto lookup = [&](const std::string& device) {
    auto o = Options();
    o.device = device;
    std::vector<std::string> seen;
    auto listed = Make(o)->List({file, t1 + kHour / 2, false}, [&](const FileVersion& fv) {
      seen.push_back(fv.device);
      return Status::OK();
    });
    EXPECT_TRUE(listed.ok() || listed.status().code() == StatusCode::kNotFound)
        << listed.status().ToString();
    return seen;
  };
  EXPECT_EQ(lookup("right"), std::vector<std::string>{"right"});
  EXPECT_TRUE(lookup("ahead").empty());
  auto o = Options();
  o.device = "ahead";
  std::vector<std::string> later;
  ASSERT_TRUE(Make(o)
                  ->List({file, t1 + 2 * kHour, false},
                         [&](const FileVersion& fv) {
                           later.push_back(fv.device);
                           return Status::OK();
                         })
                  .ok());
  EXPECT_EQ(later, std::vector<std::string>{"ahead"});
}

TEST_F(SessionTest, KeyChangesThroughTheSession) {
  InitRepository();
  auto s = Make();
  auto added = s->AddKey("second", "phone");
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  auto keys = s->ListKeys();
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 2u);
  int current = 0;
  for (const auto& k : *keys) current += k.current;
  EXPECT_EQ(current, 1);
  auto in_use = std::find_if(keys->begin(), keys->end(), [](auto& k) { return k.current; });
  EXPECT_EQ(s->RemoveKey(in_use->id.substr(0, 8)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s->RemoveKey("zzzz").status().code(), StatusCode::kNotFound);

  auto changed = s->ChangePassword("third");
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_EQ(changed->first, in_use->id);
  env_["CAIRN_PASSWORD"] = "pw";
  EXPECT_EQ(Make()->Open().code(), StatusCode::kWrongPassword);
  env_["CAIRN_PASSWORD"] = "third";
  EXPECT_OK(Make()->Open());
  env_["CAIRN_PASSWORD"] = "second";
  auto by_second = Make();
  EXPECT_OK(by_second->Open());
  auto removed = by_second->RemoveKey(changed->second.substr(0, 10));
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  env_["CAIRN_PASSWORD"] = "third";
  EXPECT_EQ(Make()->Open().code(), StatusCode::kWrongPassword);
}

// The key-slot hint: the slot that opened last time is tried first, so slots
// planted in the storage cost the owner nothing; the hint is only a hint.
TEST_F(SessionTest, TheSlotThatOpenedLastTimeIsTriedFirst) {
  InitRepository();
  const std::string keys_dir = home_.Sub("repo") + "/keys";
  std::string real;
  for (const auto& e : std::filesystem::directory_iterator(keys_dir))
    real = e.path().filename().string();
  ASSERT_EQ(real.size(), 64u);
  // Copies of the real slot under other names: valid parameters, so each
  // costs one key derivation when tried (their AD names another slot, so
  // none opens); listed in whatever order the directory gives.
  const std::string slot_json = ReadFile(keys_dir + "/" + real);
  for (int i = 0; i < 6; ++i) WriteFile(keys_dir + "/" + crypto::RandomId().Hex(), slot_json);

  auto s = Make();
  const std::string hint = s->config().KeySlotHintPath();
  ASSERT_EQ(ReadFile(hint), real + "\n");  // written by init
  uint64_t before = crypto::KdfRunCount();
  ASSERT_OK(s->Open());
  EXPECT_EQ(crypto::KdfRunCount(), before + 1);

  // No hint, or a garbage one: the slots are tried in the listing's order,
  // the open works, and the hint is written again.
  for (const std::string bad : {"", "not a slot id\n"}) {
    if (bad.empty())
      std::filesystem::remove(hint);
    else
      WriteFile(hint, bad);
    ASSERT_OK(Make()->Open());
    EXPECT_EQ(ReadFile(hint), real + "\n");
  }

  // A hint naming a planted slot (here outside the KDF bounds): skipped
  // without deriving, named in a notice, and the hint moves to the real slot.
  const std::string planted = crypto::RandomId().Hex();
  std::string bad_json = slot_json;
  const std::string cheap_ops = "\"opslimit\": 1,";
  const size_t at = bad_json.find(cheap_ops);
  ASSERT_NE(at, std::string::npos) << slot_json;
  bad_json.replace(at, cheap_ops.size(), "\"opslimit\": 0,");
  WriteFile(keys_dir + "/" + planted, bad_json);
  WriteFile(hint, planted + "\n");
  notices_.clear();
  before = crypto::KdfRunCount();
  auto again = Make();
  ASSERT_OK(again->Open());
  // The real slot and at most its six copies derived a key; the planted
  // one did not.
  EXPECT_GE(crypto::KdfRunCount(), before + 1);
  EXPECT_LE(crypto::KdfRunCount(), before + 7);
  EXPECT_EQ(ReadFile(hint), real + "\n");
  ASSERT_EQ(notices_.size(), 1u);
  EXPECT_NE(notices_[0].find(planted.substr(0, 16)), std::string::npos) << notices_[0];
  EXPECT_NE(notices_[0].find("opslimit 0"), std::string::npos) << notices_[0];
  auto keys = again->ListKeys();
  ASSERT_OK(keys);
  EXPECT_EQ(keys->size(), 7u);  // the real slot and its six copies, not the planted one

  // The owner removes the planted slot by the id the notice named.
  auto removed = again->RemoveKey(planted.substr(0, 12));
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, planted);
  EXPECT_FALSE(std::filesystem::exists(keys_dir + "/" + planted));
  notices_.clear();
  ASSERT_OK(Make()->Open());
  EXPECT_TRUE(notices_.empty()) << notices_[0];
}

// The engine reads no variable that weakens keys: only the front end's
// SessionOptions::cheap_kdf_for_tests does.
TEST_F(SessionTest, CheapKeysOnlyThroughTheOption) {
  env_["CAIRN_TEST_CHEAP_KDF"] = "1";
  auto o = Options();
  o.cheap_kdf_for_tests = false;
  auto s = Make(o);
  crypto::KdfParams p = s->config().KdfParamsForNewKey();
  EXPECT_EQ(p.opslimit, crypto::DefaultKdfParams().opslimit);
  EXPECT_EQ(p.memlimit, crypto::DefaultKdfParams().memlimit);
  EXPECT_EQ(Make()->config().KdfParamsForNewKey().memlimit, crypto::CheapKdfParams().memlimit);
}

TEST_F(SessionTest, AnUnreadableNewestSegmentMakesAnswersSayTheyMayBeIncomplete) {
  InitRepository();
  std::string file = home_.Sub("docs/report.txt");
  WriteFile(file, "old content");
  ASSERT_TRUE(Make()->Backup({{home_.Sub("docs")}, {}}).ok());
  std::set<std::string> before;
  for (auto& e : std::filesystem::directory_iterator(home_.Sub("repo/versions")))
    before.insert(e.path().filename());
  WriteFile(file, "new content, the one that matters");
  ASSERT_TRUE(Make()->Backup({{home_.Sub("docs")}, {}}).ok());
  std::string newest;
  for (auto& e : std::filesystem::directory_iterator(home_.Sub("repo/versions")))
    if (!before.count(e.path().filename())) newest = e.path().filename();
  ASSERT_FALSE(newest.empty());
  {  // flip one byte in the middle of the newest segment
    std::fstream f(home_.Sub("repo/versions/" + newest),
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(0, std::ios::end);
    auto size = static_cast<std::streamoff>(f.tellg());
    f.seekg(size / 2);
    char c;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x40);
    f.seekp(size / 2);
    f.write(&c, 1);
  }
  // A new machine: an empty catalog.
  env_["XDG_CACHE_HOME"] = home_.Sub("cache-of-a-new-machine");
  auto s = Make();
  auto versions = s->Versions(file);
  ASSERT_TRUE(versions.ok()) << versions.status().ToString();
  EXPECT_EQ(versions->versions.size(), 1u);
  EXPECT_EQ(versions->unreadable_segments, std::vector<std::string>{newest});

  RestoreRequest r;
  r.path = file;
  r.target = home_.Sub("restored");
  auto restored = s->Restore(r);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->unreadable_segments, std::vector<std::string>{newest});

  auto recovered = s->Recover();
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  EXPECT_EQ(recovered->unreadable_segments, std::vector<std::string>{newest});
}

// Slow on purpose (zstd level 19 on incompressible data, one thread), so a
// stop request and a concurrent read land while the backup runs.
class SlowBackupTest : public SessionTest {
 protected:
  static constexpr int kFiles = 200;
  void SetUp() override {
    SessionTest::SetUp();
    SetSettings("backup:\n  compression_level: 19\n  threads: 1\n");
    InitRepository();
    for (int i = 0; i < kFiles; ++i)
      WriteFile(home_.Sub("big/d" + std::to_string(i % 20) + "/f" + std::to_string(i)),
                RandomContent(64 * 1024, i));
    WriteFile(home_.Sub("small/a.txt"), "a");
  }
};

TEST_F(SlowBackupTest, CancelledMidBackupKeepsWhatWasDoneAndTheNextRunFinishes) {
  auto s = Make();
  std::stop_source stop;
  RecordingSink sink;
  sink.stop_at_first_progress = &stop;
  auto b = s->Backup({{home_.Sub("big")}, {}}, JobContext{stop.get_token(), &sink});
  ASSERT_EQ(b.status().code(), StatusCode::kCancelled) << b.status().ToString();
  EXPECT_GE(sink.progress_events.load(), 1);

  // The repository is consistent, and what was completed is restorable.
  auto check = s->Check({false, ""});
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  EXPECT_TRUE(check->ok());
  uint64_t kept = 0;
  EXPECT_TRUE(s->List({home_.Sub("big"), std::nullopt, true}, [&](const FileVersion& v) {
                 kept += v.type == "file";
                 return Status::OK();
               }).ok());
  EXPECT_LT(kept, static_cast<uint64_t>(kFiles));

  // The next run backs up the rest and only the rest.
  auto rest = s->Backup({{home_.Sub("big")}, {}});
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  EXPECT_EQ(rest->files_unchanged, kept);
  EXPECT_EQ(rest->files_new, kFiles - kept);
  RestoreRequest r;
  r.path = home_.Sub("big");
  r.target = home_.Sub("restored");
  auto restored = s->Restore(r);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->files, static_cast<uint64_t>(kFiles));
  EXPECT_TRUE(restored->errors.empty());
}

TEST_F(SlowBackupTest, ReadsGoOnWhileABackupRunsAndWritersWaitTheirTurn) {
  auto s = Make();
  ASSERT_TRUE(s->Backup({{home_.Sub("small")}, {}}).ok());

  RecordingSink sink;
  std::atomic<bool> done{false};
  Result<BackupResult> big(Status::OK());
  std::thread backup([&] {
    big = s->Backup({{home_.Sub("big")}, {}}, JobContext{{}, &sink});
    done = true;
  });
  while (sink.progress_events.load() == 0 && !done)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));

  // This session and another one (as another process would) read now.
  auto v = s->Versions(home_.Sub("small/a.txt"));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->versions.size(), 1u);
  auto other = Make();
  auto v2 = other->Versions(home_.Sub("small/a.txt"));
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_EQ(v2->versions.size(), 1u);
  EXPECT_FALSE(done.load()) << "the reads waited for the backup";

  // A second writing job in the same session waits; cancelled while waiting,
  // it says so.
  std::stop_source stop;
  stop.request_stop();
  auto second = s->Backup({{home_.Sub("small")}, {}}, JobContext{stop.get_token(), nullptr});
  EXPECT_EQ(second.status().code(), StatusCode::kCancelled);
  EXPECT_NE(second.status().message().find("waiting"), std::string::npos);

  backup.join();
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_EQ(big->files_new, static_cast<uint64_t>(kFiles));
}

// The lock objects in the repository at `repo_dir` (not the backend's mutex
// file beside them).
int LockObjects(const std::string& repo_dir) {
  auto be = backend::LocalBackend::Open(repo_dir);
  EXPECT_TRUE(be.ok());
  int n = 0;
  EXPECT_TRUE((*be)
                  ->List(backend::ObjectType::kLock,
                         [&](const backend::ObjectInfo&) {
                           ++n;
                           return Status::OK();
                         })
                  .ok());
  return n;
}

// Keeps the stream; counts the repository's lock objects when it begins.
class StringByteSink : public ByteSink {
 public:
  explicit StringByteSink(std::string repo_dir) : repo_dir_(std::move(repo_dir)) {}
  Status Begin(const StreamInfo& i) override {
    info = i;
    ++begins;
    locks_at_begin = LockObjects(repo_dir_);
    return Status::OK();
  }
  Status Write(ByteView b) override {
    data.append(reinterpret_cast<const char*>(b.data()), b.size());
    return Status::OK();
  }
  StreamInfo info;
  std::string data;
  int begins = 0, locks_at_begin = 0;

 private:
  std::string repo_dir_;
};

TEST_F(SessionTest, RestoreToStreamByIdPathAndRangeUnderASharedLock) {
  InitRepository();
  std::string file = home_.Sub("docs/thesis.odt");
  WriteFile(file, "draft 1");
  auto s = Make();
  ASSERT_TRUE(s->Backup({{home_.Sub("docs")}, {}}).ok());
  WriteFile(file, "draft 2, longer");
  ASSERT_TRUE(s->Backup({{home_.Sub("docs")}, {}}).ok());
  auto list = s->Versions(file);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->versions.size(), 2u);
  const std::string repo_dir = home_.Sub("repo");

  StreamRequest by_id;
  by_id.id = list->versions[0].id;
  StringByteSink first(repo_dir);
  auto r = s->RestoreToStream(by_id, first);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(first.data, "draft 1");
  EXPECT_EQ(first.info.kind, StreamInfo::Kind::kFile);
  EXPECT_EQ(first.info.version_id, list->versions[0].id);
  EXPECT_EQ(first.locks_at_begin, 1) << "streamed without the shared lock";
  EXPECT_TRUE(r->unreadable_segments.empty());
  EXPECT_EQ(LockObjects(repo_dir), 0) << "the lock outlived the job";

  StreamRequest ranged;
  ranged.path = file;
  ranged.range = ByteRange{6, 3};
  StringByteSink slice(repo_dir);
  ASSERT_TRUE(s->RestoreToStream(ranged, slice).ok());
  EXPECT_EQ(slice.data, "2, ");
  EXPECT_EQ(slice.info.size, 15u);

  StreamRequest folder;
  folder.path = home_.Sub("docs");
  StringByteSink tar(repo_dir);
  auto t = s->RestoreToStream(folder, tar);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(tar.info.kind, StreamInfo::Kind::kTar);
  EXPECT_EQ(tar.info.name, "docs.tar");
  EXPECT_EQ(t->files, 1u);
  EXPECT_EQ(tar.data.size() % 512, 0u);
  EXPECT_NE(tar.data.find("docs/thesis.odt"), std::string::npos);
  EXPECT_NE(tar.data.find("draft 2, longer"), std::string::npos);

  // Another process's exclusive lock (a prune): refused before any byte.
  auto be = backend::LocalBackend::Open(home_.Sub("repo"));
  ASSERT_TRUE(be.ok());
  auto other = repo::Repository::Open(*be, "pw");
  ASSERT_TRUE(other.ok());
  repo::LockOptions lo;
  lo.exclusive = true;
  lo.device = "desktop";
  lo.operation = "prune";
  auto held = repo::RepoLock::Acquire(**other, lo);
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  StringByteSink refused(repo_dir);
  EXPECT_EQ(s->RestoreToStream(by_id, refused).status().code(), StatusCode::kLocked);
  EXPECT_EQ(refused.begins, 0);
  held->reset();

  by_id.id = "0123456789abcdef01234567";
  StringByteSink none(repo_dir);
  EXPECT_EQ(s->RestoreToStream(by_id, none).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(none.begins, 0);
}

// Forget and prune beside a backup loop of another device on the same repository
// (design.md §20): every backup completes (waiting at most for prune's
// exclusive part), the forgotten versions' space is freed, and afterwards
// `check --read-data` is clean and every remaining version restores exactly.
TEST_F(SessionTest, PruneFreesForgottenSpaceWhileAnotherDeviceBacksUp) {
  env_["CAIRN_LOCK_WAIT"] = "60";
  InitRepository();
  const std::string repo = home_.Sub("repo");
  auto laptop = Make();
  std::map<std::string, std::string> latest;
  for (int round = 0; round < 5; ++round) {
    for (int f = 0; f < 6; ++f) {
      const std::string path = home_.Sub("docs/f" + std::to_string(f));
      latest[path] = RandomContent(60000, static_cast<uint32_t>(round * 100 + f));
      WriteFile(path, latest[path]);
    }
    ASSERT_OK(laptop->Backup({{home_.Sub("docs")}, {}}).status());
  }
  SessionOptions other = Options();
  other.device = "desktop";
  auto desktop = Make(other);
  const std::string desk = home_.Sub("desk");
  std::atomic<bool> stop{false};
  std::atomic<int> backups{0};
  std::vector<std::string> failures;
  std::thread loop([&] {
    for (int i = 0; !stop || i < 3; ++i) {
      // New content, and a copy of a version the laptop forgot (round 0):
      // its chunk is one prune would delete, unless it sees this backup use
      // it.
      WriteFile(desk + "/new" + std::to_string(i), RandomContent(30000, 5000 + i));
      WriteFile(desk + "/old" + std::to_string(i),
                RandomContent(60000, static_cast<uint32_t>(i % 6)));  // round 0's
      auto b = desktop->Backup({{desk}, {}});
      if (!b.ok()) failures.push_back(b.status().ToString());
      ++backups;
    }
  });
  // Forget and prune while the other device backs up.
  ForgetRequest forget;
  forget.policy.keep_last = 1;
  auto forgot = laptop->Forget(forget);
  PruneRequest req;
  auto pruned = laptop->Prune(req);
  stop = true;
  loop.join();
  ASSERT_OK(forgot.status());
  EXPECT_EQ(forgot->versions_dropped, 24u);
  ASSERT_OK(pruned.status());
  EXPECT_TRUE(failures.empty()) << failures.front();
  EXPECT_GE(backups.load(), 3);
  // Rounds 1 to 3 (one pack each, 6 x 60 kB) are used by nothing any more.
  EXPECT_GE(pruned->packs_deleted, 3u);
  EXPECT_GE(pruned->bytes_freed, 1'000'000u);

  // A fresh session (no cache of anything) finds everything intact.
  SessionOptions fresh_options = Options();
  fresh_options.device = "laptop";
  env_["XDG_CACHE_HOME"] = home_.Sub("cache2");
  auto fresh = Make(fresh_options);
  CheckRequest check;
  check.read_data = true;
  auto checked = fresh->Check(check);
  ASSERT_OK(checked.status());
  EXPECT_TRUE(checked->ok()) << (checked->errors.empty() ? "" : checked->errors.front());
  RestoreRequest r;
  r.path = home_.Sub("docs");
  r.target = home_.Sub("restored");
  ASSERT_OK(fresh->Restore(r).status());
  for (const auto& [path, content] : latest)
    EXPECT_EQ(ReadFile(home_.Sub("restored") + path), content) << path;
  auto desk_fresh = Make(other);
  RestoreRequest d;
  d.path = desk;
  d.target = home_.Sub("restored-desk");
  ASSERT_OK(desk_fresh->Restore(d).status());
  for (const auto& entry : std::filesystem::directory_iterator(desk))
    EXPECT_EQ(ReadFile(home_.Sub("restored-desk") + entry.path().string()),
              ReadFile(entry.path().string()))
        << entry.path();
}

// A disk that fills while prune repacks: a clear error, nothing deleted,
// the repository consistent and usable; with space again prune completes.
TEST_F(SessionTest, ADiskFullDuringRepackStopsPruneCleanly) {
  InitRepository();
  auto s = Make();
  // One backup of two files (one pack), then one of them changes: after
  // forget, the first pack is half unused and is repacked.
  const std::string keep = home_.Sub("docs/keep.bin"), change = home_.Sub("docs/change.bin");
  WriteFile(keep, RandomContent(400000, 1));
  WriteFile(change, RandomContent(400000, 2));
  ASSERT_OK(s->Backup({{home_.Sub("docs")}, {}}).status());
  WriteFile(change, RandomContent(400000, 3));
  ASSERT_OK(s->Backup({{home_.Sub("docs")}, {}}).status());
  ForgetRequest forget;
  forget.policy.keep_last = 1;
  ASSERT_OK(s->Forget(forget).status());

  auto o = Options();
  std::shared_ptr<testing::FaultBackend> faults;
  o.wrap_backend = [&faults](std::shared_ptr<backend::Backend> be) {
    faults = std::make_shared<testing::FaultBackend>(std::move(be));
    return std::shared_ptr<backend::Backend>(faults);
  };
  auto pruner = Make(o);
  ASSERT_OK(pruner->Open());
  const size_t packs = CountObjects(home_.Sub("repo"), "data");
  faults->SetByteBudget(100000);  // less than the repacked pack
  auto full = pruner->Prune(PruneRequest{});
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), StatusCode::kNoSpace) << full.status().ToString();
  EXPECT_NE(full.status().message().find("disk full"), std::string::npos);
  EXPECT_EQ(CountObjects(home_.Sub("repo"), "data"), packs);  // nothing deleted

  faults->ClearFaults();
  CheckRequest check;
  check.read_data = true;
  auto checked = pruner->Check(check);
  ASSERT_OK(checked.status());
  EXPECT_TRUE(checked->ok()) << (checked->errors.empty() ? "" : checked->errors.front());
  auto done = pruner->Prune(PruneRequest{});
  ASSERT_OK(done.status());
  EXPECT_EQ(done->packs_to_repack, 1u);
  EXPECT_GE(done->bytes_freed, 300000u);
  RestoreRequest r;
  r.path = home_.Sub("docs");
  r.target = home_.Sub("restored");
  ASSERT_OK(pruner->Restore(r).status());
  EXPECT_EQ(ReadFile(home_.Sub("restored") + keep), RandomContent(400000, 1));
  EXPECT_EQ(ReadFile(home_.Sub("restored") + change), RandomContent(400000, 3));
}

// `cairn stats`: per device, and what a cleanup would free before it runs
// (the settings' rules judged, nothing written), and nothing after it.
TEST_F(SessionTest, StatsSaysPerDeviceWhatACleanupWouldFree) {
  InitRepository();
  SetSettings("versioning:\n  keep_last: 1\n");
  auto laptop = Make();
  const std::string f = home_.Sub("docs/f.bin");
  for (int i = 0; i < 3; ++i) {
    WriteFile(f, RandomContent(200000, 40 + i));
    ASSERT_OK(laptop->Backup({{home_.Sub("docs")}, {}}).status());
  }
  SessionOptions other = Options();
  other.device = "desktop";
  auto desktop = Make(other);
  WriteFile(home_.Sub("desk/g.bin"), RandomContent(100000, 99));
  ASSERT_OK(desktop->Backup({{home_.Sub("desk")}, {}}).status());

  const size_t segments = CountObjects(home_.Sub("repo"), "versions");
  auto st = laptop->Stats();
  ASSERT_OK(st.status());
  EXPECT_TRUE(st->space_error.empty()) << st->space_error;
  ASSERT_EQ(st->per_device.size(), 2u);
  EXPECT_EQ(st->per_device[0].device, "desktop");
  EXPECT_EQ(st->per_device[0].latest_bytes, 100000u);  // g.bin (and folders)
  EXPECT_EQ(st->per_device[1].device, "laptop");
  EXPECT_EQ(st->per_device[1].paths, st->paths);
  EXPECT_EQ(st->per_device[1].latest_bytes, 200000u);
  // Two versions of f would go: ~400 kB.
  EXPECT_GE(st->cleanup_would_free, 380000u);
  EXPECT_LT(st->cleanup_would_free, 500000u);
  EXPECT_EQ(CountObjects(home_.Sub("repo"), "versions"), segments);  // nothing written

  auto cleaned = laptop->Cleanup(PruneRequest{});
  ASSERT_OK(cleaned.status());
  EXPECT_TRUE(cleaned->forgot);
  EXPECT_EQ(cleaned->forget.versions_dropped, 2u);
  EXPECT_GE(cleaned->prune.bytes_freed, 380000u);
  st = laptop->Stats();
  ASSERT_OK(st.status());
  EXPECT_EQ(st->cleanup_would_free, 0u);
  EXPECT_EQ(ReadFile(f), RandomContent(200000, 42));
}

}  // namespace
}  // namespace cairn::engine
