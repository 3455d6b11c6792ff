// Session::RestoreSample (and Check with a restore sample) on real files, a
// real local repository and a real SQLite catalog: what is drawn, that it is
// verified, that a damaged or missing pack fails the versions it holds, and
// that the sample folder never outlives the call.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "engine/session.h"
#include "engine/session_test_util.h"
#include "testing/assert_ok.h"
#include "testing/file_util.h"
#include "testing/temp_dir.h"

namespace cairn::engine {
namespace {

namespace fs = std::filesystem;
using testing::WriteFile;

// The pack files of a local repository.
std::set<std::string> Packs(const std::string& repo) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(repo + "/data"))
    if (e.is_regular_file() && e.path().filename().string().rfind(".tmp", 0) != 0)
      out.insert(e.path().string());
  return out;
}

// The sample folders under `cache_dir`.
std::vector<std::string> SampleFolders(const std::string& cache_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(cache_dir, ec))
    if (e.path().filename().string().rfind("restore-sample-", 0) == 0)
      out.push_back(e.path().string());
  return out;
}

// Looks at the sample folder while a sample runs (at each progress event),
// and can stop the job at the first one.
class WatchingSink : public EventSink {
 public:
  std::string cache_dir;
  std::stop_source* stop_at_first_sample = nullptr;
  std::mutex mu;
  int sample_events = 0;
  std::set<std::string> folders_seen;
  std::set<unsigned> modes_seen;
  std::vector<PathIssue> issues;

  void OnProgress(const Progress& p) override {
    if (p.phase != "restore sample") return;
    std::lock_guard lock(mu);
    if (sample_events++ == 0 && stop_at_first_sample) stop_at_first_sample->request_stop();
    for (const std::string& f : SampleFolders(cache_dir)) {
      struct stat st {};
      if (lstat(f.c_str(), &st) != 0) continue;
      folders_seen.insert(f);
      modes_seen.insert(st.st_mode & 07777);
    }
  }
  void OnIssue(const PathIssue& i) override {
    std::lock_guard lock(mu);
    issues.push_back(i);
  }
};

class RestoreSampleTest : public SessionFixture {
 protected:
  void SetUp() override {
    SessionFixture::SetUp();
    InitRepository();
  }

  std::string src() const { return home_.Sub("src"); }

  void Backup(Session& s) {
    auto b = s.Backup({{src()}, {}});
    ASSERT_TRUE(b.ok()) << b.status().ToString();
  }

  // Three runs over src: 7 versions of regular files with content, and
  // versions that are not eligible (an empty file, a symlink, folders, a
  // deletion record).
  void MakeHistory(Session& s) {
    for (int i = 0; i < 4; ++i)
      WriteFile(src() + "/f" + std::to_string(i), RandomContent(1000 + i, i));
    WriteFile(src() + "/empty", "");
    fs::create_symlink("f0", src() + "/link");
    Backup(s);
    WriteFile(src() + "/f0", RandomContent(2000, 10));
    WriteFile(src() + "/f1", RandomContent(2001, 11));
    fs::remove(src() + "/f3");
    Backup(s);
    WriteFile(src() + "/f0", RandomContent(3000, 20));
    Backup(s);
  }

  // Every eligible version's id, from the catalog's own listing.
  std::set<std::string> EligibleIds(Session& s) {
    std::set<std::string> ids;
    for (const char* name : {"f0", "f1", "f2", "f3", "empty", "link"}) {
      auto v = s.Versions(src() + "/" + name);
      EXPECT_TRUE(v.ok()) << name << ": " << v.status().ToString();
      if (!v.ok()) continue;
      for (const FileVersion& f : v->versions)
        if (f.type == "file" && !f.deleted && f.size > 0) ids.insert(f.id);
    }
    return ids;
  }
};

TEST_F(RestoreSampleTest, SampleOfNIsNDistinctVerifiedVersionsAndTheFolderGoes) {
  auto s = Make();
  ASSERT_NE(s, nullptr);
  MakeHistory(*s);
  const std::set<std::string> eligible = EligibleIds(*s);
  ASSERT_EQ(eligible.size(), 7u);

  WatchingSink sink;
  sink.cache_dir = s->config().cache_dir;
  auto r = s->RestoreSample(5, JobContext{{}, &sink});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->requested, 5u);
  EXPECT_EQ(r->eligible, 7u);
  ASSERT_EQ(r->files.size(), 5u);
  EXPECT_TRUE(r->ok());
  std::set<std::string> ids;
  for (const SampledVersion& f : r->files) {
    EXPECT_TRUE(f.ok) << f.path << ": " << f.error;
    EXPECT_TRUE(f.error.empty()) << f.error;
    EXPECT_EQ(f.device, "laptop");
    EXPECT_GT(f.size, 0u);
    EXPECT_EQ(f.path.rfind(src() + "/f", 0), 0u) << f.path;
    EXPECT_TRUE(eligible.count(f.id)) << f.id << " is not an eligible version";
    ids.insert(f.id);
  }
  EXPECT_EQ(ids.size(), 5u) << "the sample holds a version twice";

  // The folder was under the cache folder, mode 0700, while the sample ran,
  // and is gone now.
  EXPECT_EQ(r->folder.rfind(s->config().cache_dir + "/restore-sample-", 0), 0u) << r->folder;
  EXPECT_EQ(sink.folders_seen, std::set<std::string>{r->folder});
  EXPECT_EQ(sink.modes_seen, std::set<unsigned>{0700});
  EXPECT_GE(sink.sample_events, 5);
  EXPECT_FALSE(fs::exists(r->folder));
  EXPECT_TRUE(SampleFolders(s->config().cache_dir).empty());
  EXPECT_TRUE(sink.issues.empty());
}

TEST_F(RestoreSampleTest, FewerEligibleVersionsThanAskedGivesAllOfThem) {
  auto s = Make();
  ASSERT_NE(s, nullptr);
  MakeHistory(*s);
  auto r = s->RestoreSample(10);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->requested, 10u);
  EXPECT_EQ(r->eligible, 7u);
  std::set<std::string> ids;
  for (const SampledVersion& f : r->files) {
    EXPECT_TRUE(f.ok) << f.path << ": " << f.error;
    ids.insert(f.id);
  }
  EXPECT_EQ(r->files.size(), 7u);
  EXPECT_EQ(ids, EligibleIds(*s));
  EXPECT_TRUE(r->ok());
  EXPECT_TRUE(SampleFolders(s->config().cache_dir).empty());

  // 0 is no sample; Check samples only when asked.
  auto none = s->RestoreSample(0);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->files.empty());
  auto check = s->Check({});
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  EXPECT_FALSE(check->restore_sample.has_value());
  EXPECT_TRUE(check->ok());
}

// Old versions are drawn, not only the newest: over 24 draws of one from a
// file's two versions, both come up (each is missed with probability 2^-24).
TEST_F(RestoreSampleTest, DrawsFromTheWholeHistory) {
  auto s = Make();
  ASSERT_NE(s, nullptr);
  WriteFile(src() + "/doc", "first draft");
  Backup(*s);
  WriteFile(src() + "/doc", "second draft, longer");
  Backup(*s);
  std::map<std::string, int> drawn;
  for (int i = 0; i < 24; ++i) {
    auto r = s->RestoreSample(1);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->files.size(), 1u);
    EXPECT_TRUE(r->files[0].ok) << r->files[0].error;
    ++drawn[r->files[0].id];
  }
  EXPECT_EQ(drawn.size(), 2u);
}

TEST_F(RestoreSampleTest, DamagedOrMissingPackFailsTheVersionsInIt) {
  auto s = Make();
  ASSERT_NE(s, nullptr);
  // One run per file, so each file's only version is in a pack of its own.
  std::vector<std::set<std::string>> packs_after = {Packs(repo())};
  for (const char* name : {"a", "b", "c"}) {
    WriteFile(src() + "/" + name, RandomContent(5000, name[0]));
    Backup(*s);
    packs_after.push_back(Packs(repo()));
  }
  auto NewPack = [&](size_t run) {
    std::set<std::string> added;
    for (const auto& p : packs_after[run + 1])
      if (!packs_after[run].count(p)) added.insert(p);
    EXPECT_EQ(added.size(), 1u) << "run " << run;
    return added.empty() ? std::string() : *added.begin();
  };
  const std::string pack_a = NewPack(0), pack_c = NewPack(2);
  ASSERT_FALSE(pack_a.empty());
  ASSERT_FALSE(pack_c.empty());
  testing::PatchFile(pack_a, 16, std::string(64, 'X'));  // inside a's (sealed) chunk

  // Check: the structure is sound (the pack's header is intact), but the
  // sample of a fails, and so does the check.
  {
    auto fresh = Make();  // nothing cached from before the damage
    ASSERT_NE(fresh, nullptr);
    CheckRequest req;
    req.restore_sample = 3;
    auto check = fresh->Check(req);
    ASSERT_TRUE(check.ok()) << check.status().ToString();
    EXPECT_TRUE(check->errors.empty()) << check->errors.front();
    ASSERT_TRUE(check->restore_sample.has_value());
    EXPECT_FALSE(check->restore_sample->ok());
    EXPECT_FALSE(check->ok());
    ASSERT_EQ(check->restore_sample->files.size(), 3u);
    for (const SampledVersion& f : check->restore_sample->files)
      EXPECT_EQ(f.ok, f.path != src() + "/a") << f.path << ": " << f.error;
  }

  ASSERT_TRUE(fs::remove(pack_c));
  auto fresh = Make();
  ASSERT_NE(fresh, nullptr);
  WatchingSink sink;
  sink.cache_dir = fresh->config().cache_dir;
  auto r = fresh->RestoreSample(3, JobContext{{}, &sink});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->files.size(), 3u);
  EXPECT_FALSE(r->ok());
  std::map<std::string, const SampledVersion*> by_path;
  for (const SampledVersion& f : r->files) by_path[f.path] = &f;
  ASSERT_EQ(by_path.size(), 3u);
  const SampledVersion& a = *by_path[src() + "/a"];
  const SampledVersion& b = *by_path[src() + "/b"];
  const SampledVersion& c = *by_path[src() + "/c"];
  EXPECT_FALSE(a.ok);
  EXPECT_NE(a.error.find("authentication failed"), std::string::npos) << a.error;
  EXPECT_TRUE(b.ok) << b.error;
  EXPECT_FALSE(c.ok);
  EXPECT_FALSE(c.error.empty());
  EXPECT_EQ(sink.issues.size(), 2u);
  EXPECT_TRUE(SampleFolders(fresh->config().cache_dir).empty());
}

// A stop mid-sample is Cancelled, and the folder still goes.
TEST_F(RestoreSampleTest, StoppedSampleIsCancelledAndLeavesNoFolder) {
  auto s = Make();
  ASSERT_NE(s, nullptr);
  MakeHistory(*s);
  std::stop_source stop;
  WatchingSink sink;
  sink.cache_dir = s->config().cache_dir;
  sink.stop_at_first_sample = &stop;
  auto r = s->RestoreSample(5, JobContext{stop.get_token(), &sink});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled) << r.status().ToString();
  EXPECT_EQ(sink.folders_seen.size(), 1u);                    // it existed...
  EXPECT_TRUE(SampleFolders(s->config().cache_dir).empty());  // ...and is gone
}

// A folder left by a process that was killed mid-sample is removed by the
// next sample; one of a running process is left alone.
TEST_F(RestoreSampleTest, FoldersOfDeadProcessesAreRemoved) {
  auto s = Make();
  ASSERT_NE(s, nullptr);
  MakeHistory(*s);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);  // a pid no process has now
  const std::string cache = s->config().cache_dir;
  const std::string dead = cache + "/restore-sample-" + std::to_string(child) + "-abcdef";
  const std::string alive = cache + "/restore-sample-" + std::to_string(getppid()) + "-abcdef";
  WriteFile(dead + "/0/home/secret", "plaintext");
  WriteFile(alive + "/0/home/secret", "plaintext");
  auto r = s->RestoreSample(1);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(alive));
}

TEST_F(RestoreSampleTest, TooLargeASampleIsRefused) {
  auto s = Make();
  ASSERT_NE(s, nullptr);
  auto r = s->RestoreSample(kMaxRestoreSample + 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cairn::engine
