// Fault-injection and bad-input tests (issue 2, "Bad input and faults"):
// corrupted and truncated repository objects, a crafted repository with
// escaping paths, files that change, vanish or cannot be read during a
// backup, kill -9 at random moments, a full disk, a wrong password and locks.
//
// The cairn binary (cairn_for_tests, where CAIRN_TEST_CHEAP_KDF=1 is
// honoured) runs with its own HOME and XDG_* folders, the cheap KDF
// and a working directory inside the test's temporary folder. Where the CLI
// cannot inject a fault, the C++ API is used directly.
//
// Knobs: CAIRN_KILL_TEST_ROUNDS (default 8) sets the kill -9 rounds;
// CAIRN_KILL_TEST_TREE, _SEED and _SUMMARY: the kill campaign (below).
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "archiver/archiver.h"
#include "backend/local/local_backend.h"
#include "base/errno_status.h"
#include "base/time_util.h"
#include "catalog/catalog.h"
#include "checker/checker.h"
#include "crypto/crypto.h"
#include "engine/catalog_sync.h"
#include "repo/index.h"
#include "repo/repo_lock.h"
#include "repo/repository.h"
#include "restorer/restorer.h"
#include "testing/fault_backend.h"
#include "testing/file_util.h"
#include "testing/temp_dir.h"

#ifndef CAIRN_BINARY
#error "CAIRN_BINARY must name the cairn binary under test"
#endif

namespace cairn {
namespace {

namespace fs = std::filesystem;
using ::cairn::testing::Exists;
using ::cairn::testing::ReadFile;
using ::cairn::testing::TempDir;
using ::cairn::testing::WriteFile;

constexpr char kPassword[] = "fault test password";
constexpr char kDevice[] = "faultdev";
constexpr uid_t kNobody = 65534;

// ---------------------------------------------------------------------------
// Files and trees.

std::string RandomData(uint64_t seed, size_t n) {
  std::string s(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 0x1234567ull;
  size_t i = 0;
  auto next = [&] {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    return x * 0x2545F4914F6CDD1Dull;
  };
  for (; i + 8 <= n; i += 8) {
    uint64_t v = next();
    std::memcpy(&s[i], &v, 8);
  }
  for (; i < n; ++i) s[i] = static_cast<char>(next());
  return s;
}

std::string Sha256Hex(std::string_view data) { return crypto::Sha256::Digest(AsBytes(data)).Hex(); }

// Regular files under `root` (not following symlinks): relative path ->
// SHA-256 of the content.
std::map<std::string, std::string> FileHashes(const std::string& root) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::none, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_symlink()) continue;
    if (it->is_regular_file())
      out[fs::relative(it->path(), root).string()] = Sha256Hex(ReadFile(it->path().string()));
  }
  return out;
}

// Flips one byte of a file in place.
void FlipByte(const std::string& path, uint64_t offset) {
  int fd = open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << path << ": " << ErrnoText(errno);
  unsigned char c = 0;
  ASSERT_EQ(pread(fd, &c, 1, static_cast<off_t>(offset)), 1);
  c ^= 0x5a;
  ASSERT_EQ(pwrite(fd, &c, 1, static_cast<off_t>(offset)), 1);
  close(fd);
}

// Every file below `dir` (relative path -> size), for "nothing was written".
std::map<std::string, uint64_t> ListWithSizes(const std::string& dir) {
  std::map<std::string, uint64_t> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st;
    if (lstat(it->path().c_str(), &st) != 0) continue;
    out[fs::relative(it->path(), dir).string()] = S_ISREG(st.st_mode) ? st.st_size : 0;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Running the cairn binary.

struct RunResult {
  int code = -1;  // exit code, or 128 + signal
  std::string out, err;
  std::string all() const { return out + err; }
  std::string Describe() const {
    return "exit " + std::to_string(code) + "\n--- stdout:\n" + out + "\n--- stderr:\n" + err;
  }
};

int DecodeWait(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// A cairn "user": its own HOME and XDG folders, the repository location, the
// password, the device; runs the binary with exactly that environment.
class Cli {
 public:
  Cli(const std::string& home, const std::string& repo) : home_(home) {
    fs::create_directories(home);
    env_ = {{"HOME", home},
            {"XDG_CONFIG_HOME", home + "/.config"},
            {"XDG_CACHE_HOME", home + "/.cache"},
            {"XDG_DATA_HOME", home + "/.local/share"},
            {"CAIRN_TEST_CHEAP_KDF", "1"},
            {"CAIRN_PASSWORD", kPassword},
            {"CAIRN_REPOSITORY", repo},
            {"DEVICE_ID", kDevice},
            {"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"},
            {"TZ", "UTC"},
            {"LC_ALL", "C"}};
  }
  std::map<std::string, std::string>& env() { return env_; }
  const std::string& home() const { return home_; }
  std::string cache_dir() const { return home_ + "/.cache/cairn"; }

  // Starts cairn; stdout and stderr go to files. Only async-signal-safe calls
  // happen between fork and exec (tests may have threads running).
  pid_t Start(const std::vector<std::string>& args, const std::string& out_path,
              const std::string& err_path, bool as_nobody = false,
              const std::map<std::string, std::string>& extra = {}) const {
    std::vector<std::string> argv;
    if (as_nobody) argv = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
    argv.push_back(CAIRN_BINARY);
    argv.insert(argv.end(), args.begin(), args.end());
    std::map<std::string, std::string> env = env_;
    for (const auto& [k, v] : extra) env[k] = v;
    std::vector<std::string> envs;
    envs.reserve(env.size());
    for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
    std::vector<char*> cargv, cenv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    for (auto& e : envs) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    const char* cwd = home_.c_str();
    pid_t pid = fork();
    if (pid == 0) {
      int in = open("/dev/null", O_RDONLY);
      int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (in < 0 || out < 0 || err < 0) _exit(126);
      dup2(in, 0);
      dup2(out, 1);
      dup2(err, 2);
      if (chdir(cwd) != 0) (void)!chdir("/");
      execve(cargv[0], cargv.data(), cenv.data());
      _exit(127);
    }
    return pid;
  }

  RunResult Run(const std::vector<std::string>& args, bool as_nobody = false,
                const std::map<std::string, std::string>& extra = {}) const {
    std::string base = outputs_.path() + "/run" + std::to_string(++runs_);
    pid_t pid = Start(args, base + ".out", base + ".err", as_nobody, extra);
    RunResult r;
    if (pid < 0) return r;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    r.code = DecodeWait(status);
    r.out = ReadFile(base + ".out");
    r.err = ReadFile(base + ".err");
    return r;
  }

  std::string OutputBase() const { return outputs_.path() + "/run" + std::to_string(++runs_); }

 private:
  std::string home_;
  std::map<std::string, std::string> env_;
  TempDir outputs_;
  mutable int runs_ = 0;
};

// ---------------------------------------------------------------------------
// The C++ API.

std::shared_ptr<backend::LocalBackend> Local(const std::string& dir) {
  auto be = backend::LocalBackend::Open(dir);
  EXPECT_TRUE(be.ok()) << be.status().ToString();
  return be.ok() ? *be : nullptr;
}

std::unique_ptr<repo::Repository> InitRepo(std::shared_ptr<backend::Backend> be,
                                           uint64_t pack_size = 16ull << 20) {
  repo::InitOptions o;
  o.kdf = crypto::CheapKdfParams();
  o.pack_size = pack_size;
  auto r = repo::Repository::Init(std::move(be), kPassword, o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(*r) : nullptr;
}

std::unique_ptr<repo::Repository> OpenRepo(std::shared_ptr<backend::Backend> be,
                                           bool load_index = true) {
  auto r = repo::Repository::Open(std::move(be), kPassword);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return nullptr;
  if (load_index) {
    Status st = (*r)->LoadIndex(false);
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  return std::move(*r);
}

std::unique_ptr<catalog::Catalog> SyncedCatalog(repo::Repository& repo, const std::string& dir) {
  auto cat = engine::OpenCatalog(repo, dir, false);
  EXPECT_TRUE(cat.ok()) << cat.status().ToString();
  if (!cat.ok()) return nullptr;
  std::vector<std::string> warnings;
  auto st = engine::SyncCatalog(repo, **cat, &warnings);
  EXPECT_TRUE(st.ok()) << st.status().ToString();
  return std::move(*cat);
}

std::vector<Id> ListIds(backend::Backend& be, backend::ObjectType type) {
  std::vector<Id> out;
  Status st = be.List(type, [&](const backend::ObjectInfo& i) {
    auto id = Id::FromHex(i.name.name);
    if (id.ok()) out.push_back(*id);
    return Status::OK();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  std::sort(out.begin(), out.end());
  return out;
}

std::string PackPath(const std::string& repo, const Id& pack) {
  std::string h = pack.Hex();
  return repo + "/data/" + h.substr(0, 2) + "/" + h;
}

// What a repository holds, read through the API before it is damaged.
struct RepoMap {
  std::map<std::string, repo::VersionRecord> files;      // path -> latest file record
  std::map<Id, Id> chunk_pack;                           // chunk -> pack
  std::map<Id, std::vector<Id>> index_packs;             // index object -> packs
  std::map<Id, std::vector<std::string>> segment_files;  // segment -> file paths
};

RepoMap MapRepository(const std::string& dir) {
  RepoMap m;
  auto repo = OpenRepo(Local(dir), false);
  if (!repo) return m;
  for (const Id& iid : ListIds(repo->backend(), backend::ObjectType::kIndex)) {
    auto body = repo->LoadSealed(backend::ObjectType::kIndex, "index", iid);
    EXPECT_TRUE(body.ok());
    if (!body.ok()) continue;
    auto packs = repo::DecodeIndexBody(*body);
    EXPECT_TRUE(packs.ok());
    if (!packs.ok()) continue;
    for (const auto& p : *packs) {
      m.index_packs[iid].push_back(p.pack_id);
      for (const auto& e : p.entries) m.chunk_pack.emplace(e.id, p.pack_id);
    }
  }
  for (const Id& sid : ListIds(repo->backend(), backend::ObjectType::kVersions)) {
    auto seg = repo->LoadSegment(sid);
    EXPECT_TRUE(seg.ok());
    if (!seg.ok()) continue;
    for (const auto& r : seg->records) {
      if (r.deleted || r.type != repo::FileType::kFile) continue;
      m.segment_files[sid].push_back(r.path);
      auto it = m.files.find(r.path);
      if (it == m.files.end() || it->second.backup_time < r.backup_time) m.files[r.path] = r;
    }
  }
  return m;
}

// ---------------------------------------------------------------------------
// 1. Corruption of packs, index objects and version segments.

enum class Damage { kFlipPackByte, kTruncatePack, kCorruptIndex, kCorruptSegment };

std::string DamageName(const ::testing::TestParamInfo<Damage>& info) {
  switch (info.param) {
    case Damage::kFlipPackByte:
      return "FlipPackByte";
    case Damage::kTruncatePack:
      return "TruncatePack";
    case Damage::kCorruptIndex:
      return "CorruptIndex";
    case Damage::kCorruptSegment:
      return "CorruptSegment";
  }
  return "unknown";
}

class CorruptionTest : public ::testing::TestWithParam<Damage> {};

TEST_P(CorruptionTest, CheckNamesDamageAndRestoreNeverWritesWrongContent) {
  const Damage damage = GetParam();
  TempDir tmp;
  const std::string src = tmp.Sub("src"), repo_dir = tmp.Sub("repo");
  Cli cli(tmp.Sub("home"), repo_dir);
  // Small packs, so that the files spread over several of them.
  ASSERT_NE(InitRepo(Local(repo_dir), 512 << 10), nullptr);

  // Two backups: "a" files first, then the "b" files, so that the second
  // run's index object and version segment cover only the b files.
  std::map<std::string, std::string> originals;  // absolute path -> content
  auto add = [&](const std::string& rel, std::string content) {
    WriteFile(src + "/" + rel, content);
    originals[src + "/" + rel] = std::move(content);
  };
  for (int i = 0; i < 4; ++i)
    add("a/big" + std::to_string(i) + ".bin", RandomData(100 + i, 450 << 10));
  for (int i = 0; i < 12; ++i)
    add("a/notes/n" + std::to_string(i) + ".txt",
        "note " + std::to_string(i) + "\n" + RandomData(200 + i, 3000 + 100 * i));
  RunResult r = cli.Run({"backup", src});
  ASSERT_EQ(r.code, 0) << r.Describe();
  auto be = Local(repo_dir);
  std::vector<Id> index_before = ListIds(*be, backend::ObjectType::kIndex);
  std::vector<Id> segs_before = ListIds(*be, backend::ObjectType::kVersions);

  const std::string victim = src + "/b/victim.bin";
  add("b/victim.bin", RandomData(300, 100 << 10));
  for (int i = 0; i < 2; ++i)
    add("b/big" + std::to_string(i) + ".bin", RandomData(310 + i, 500 << 10));
  for (int i = 0; i < 6; ++i)
    add("b/small" + std::to_string(i) + ".txt", "small " + RandomData(320 + i, 2000));
  r = cli.Run({"backup", src});
  ASSERT_EQ(r.code, 0) << r.Describe();

  RepoMap map = MapRepository(repo_dir);
  ASSERT_EQ(map.files.size(), originals.size());
  std::vector<Id> new_index, new_segs;
  for (const Id& id : ListIds(*be, backend::ObjectType::kIndex))
    if (!std::binary_search(index_before.begin(), index_before.end(), id)) new_index.push_back(id);
  for (const Id& id : ListIds(*be, backend::ObjectType::kVersions))
    if (!std::binary_search(segs_before.begin(), segs_before.end(), id)) new_segs.push_back(id);
  ASSERT_FALSE(new_index.empty());
  ASSERT_FALSE(new_segs.empty());
  ASSERT_EQ(map.files[victim].chunks.size(), 1u);
  const Id victim_chunk = map.files[victim].chunks[0];
  ASSERT_TRUE(map.chunk_pack.count(victim_chunk));
  const Id victim_pack = map.chunk_pack[victim_chunk];

  // Damage the repository; note which objects are damaged and which files
  // are affected.
  std::vector<std::string> damaged_ids;
  std::set<std::string> affected;
  auto files_in_packs = [&](const std::set<Id>& packs) {
    for (const auto& [path, rec] : map.files)
      for (const Id& c : rec.chunks)
        if (packs.count(map.chunk_pack[c])) affected.insert(path);
  };
  {
    auto repo = OpenRepo(Local(repo_dir));
    ASSERT_NE(repo, nullptr);
    auto loc = repo->index().Find(victim_chunk);
    ASSERT_TRUE(loc.has_value());
    const std::string pack_file = PackPath(repo_dir, victim_pack);
    switch (damage) {
      case Damage::kFlipPackByte:
        FlipByte(pack_file, loc->offset + loc->length / 2);
        damaged_ids.push_back(victim_pack.Hex());
        for (const auto& [path, rec] : map.files)
          for (const Id& c : rec.chunks)
            if (c == victim_chunk) affected.insert(path);
        break;
      case Damage::kTruncatePack:
        ASSERT_EQ(truncate(pack_file.c_str(), loc->offset + loc->length / 2), 0);
        damaged_ids.push_back(victim_pack.Hex());
        files_in_packs({victim_pack});
        break;
      case Damage::kCorruptIndex:
        // The packs it listed are intact: readers find them by their headers,
        // so no file is affected.
        for (const Id& iid : new_index) {
          const std::string path = repo_dir + "/index/" + iid.Hex();
          FlipByte(path, fs::file_size(path) / 2);
          damaged_ids.push_back(iid.Hex());
        }
        break;
      case Damage::kCorruptSegment:
        for (const Id& sid : new_segs) {
          const std::string path = repo_dir + "/versions/" + sid.Hex();
          FlipByte(path, fs::file_size(path) / 2);
          damaged_ids.push_back(sid.Hex());
          affected.insert(map.segment_files[sid].begin(), map.segment_files[sid].end());
        }
        break;
    }
  }
  const bool files_hit = damage != Damage::kCorruptIndex;
  ASSERT_EQ(affected.count(victim), files_hit ? 1u : 0u);
  ASSERT_LT(affected.size(), originals.size()) << "some files must be unaffected";
  // A new machine: the catalog (a cache) is rebuilt from the repository.
  fs::remove_all(cli.home() + "/.cache");

  // check --read-data: fails, names the damaged object and the files.
  r = cli.Run({"check", "--read-data"});
  EXPECT_NE(r.code, 0) << r.Describe();
  for (const std::string& id : damaged_ids)
    EXPECT_NE(r.all().find(id), std::string::npos) << "check does not name " << id << "\n"
                                                   << r.Describe();
  if (damage != Damage::kCorruptSegment) {
    for (const std::string& path : affected)
      EXPECT_NE(r.all().find(path), std::string::npos)
          << "check does not name the affected file " << path << "\n"
          << r.Describe();
  }
  // The JSON report says the same.
  r = cli.Run({"check", "--read-data", "--json"});
  EXPECT_NE(r.code, 0) << r.Describe();
  EXPECT_NE(r.out.find("\"ok\":false"), std::string::npos) << r.Describe();

  // Restore of the whole tree: every unaffected file byte-identical, affected
  // files absent or (when their data happens to be intact) identical, and
  // every missing one reported.
  const std::string target = tmp.Sub("restore-all");
  r = cli.Run({"restore", src, "--to", target});
  if (damage == Damage::kCorruptSegment) {
    // The versions in the damaged segment are missing from the answer, so
    // it says so: exit 3, naming the segment (never 0 with older content).
    EXPECT_EQ(r.code, 3) << r.Describe();
    EXPECT_NE(r.err.find("could not be read"), std::string::npos) << r.Describe();
  } else {
    EXPECT_EQ(r.code, files_hit ? 3 : 0) << r.Describe();
  }
  for (const auto& [path, content] : originals) {
    const std::string dest = target + path;
    if (!affected.count(path)) {
      EXPECT_TRUE(Exists(dest)) << "unaffected file not restored: " << path << "\n" << r.Describe();
      EXPECT_TRUE(ReadFile(dest) == content) << "wrong content in " << dest;
    } else if (Exists(dest)) {
      EXPECT_TRUE(ReadFile(dest) == content) << "WRONG CONTENT written for " << path;
    } else if (damage != Damage::kCorruptSegment) {
      EXPECT_NE(r.err.find(path), std::string::npos)
          << "the file that was not restored is not reported: " << path << "\n"
          << r.Describe();
    }
  }
  if (files_hit) {
    EXPECT_FALSE(Exists(target + victim)) << "the damaged file was restored";
  }
  // Nothing but the original files (no temporary files left behind).
  for (const auto& [rel, hash] : FileHashes(target))
    EXPECT_TRUE(originals.count("/" + rel)) << "unexpected file in the restore: " << rel;

  // One file at a time: an unaffected one works, every affected one either
  // fails (reported) or is byte-identical.
  std::string unaffected;
  for (const auto& [path, content] : originals)
    if (!affected.count(path)) unaffected = path;
  r = cli.Run({"restore", unaffected, "--to", tmp.Sub("restore-one")});
  EXPECT_EQ(r.code, damage == Damage::kCorruptSegment ? 3 : 0) << r.Describe();
  EXPECT_TRUE(ReadFile(tmp.Sub("restore-one") + unaffected) == originals[unaffected]);
  int n = 0;
  for (const std::string& path : affected) {
    const std::string to = tmp.Sub("restore-affected-" + std::to_string(n++));
    r = cli.Run({"restore", path, "--to", to});
    if (r.code == 0) {
      EXPECT_TRUE(ReadFile(to + path) == originals[path]) << "WRONG CONTENT written for " << path;
    } else {
      EXPECT_TRUE(r.code == 1 || r.code == 3) << r.Describe();
      EXPECT_FALSE(Exists(to + path)) << "a failed restore left " << to + path;
      EXPECT_NE(r.err.find(path), std::string::npos) << r.Describe();
    }
    if (path == victim) {
      EXPECT_NE(r.code, 0) << "the damaged file restored: " << r.Describe();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fault, CorruptionTest,
                         ::testing::Values(Damage::kFlipPackByte, Damage::kTruncatePack,
                                           Damage::kCorruptIndex, Damage::kCorruptSegment),
                         DamageName);

// A damaged index object heals (found by the bit-flip campaign): restore and
// check read its packs by their headers; prune refuses while they are
// unlisted; the next backup, even one that finds nothing changed, indexes
// them again; then prune deletes the damaged object and check is clean.
TEST(FaultTest, DamagedIndexObjectHealsWithTheNextBackupAndPrune) {
  TempDir tmp;
  const std::string src = tmp.Sub("src"), repo_dir = tmp.Sub("repo");
  Cli cli(tmp.Sub("home"), repo_dir);
  ASSERT_EQ(cli.Run({"init"}).code, 0);
  WriteFile(src + "/big.bin", RandomData(7, 3 << 20));
  WriteFile(src + "/note.txt", "a note\n");
  ASSERT_EQ(cli.Run({"backup", src}).code, 0);
  std::vector<Id> index = ListIds(*Local(repo_dir), backend::ObjectType::kIndex);
  ASSERT_EQ(index.size(), 1u);
  const std::string damaged = repo_dir + "/index/" + index[0].Hex();
  FlipByte(damaged, 60);
  fs::remove_all(cli.home() + "/.cache");

  RunResult r = cli.Run({"restore", src, "--to", tmp.Sub("target")});
  EXPECT_EQ(r.code, 0) << r.Describe();
  EXPECT_TRUE(ReadFile(tmp.Sub("target") + src + "/big.bin") == RandomData(7, 3 << 20));
  r = cli.Run({"check", "--read-data"});
  EXPECT_EQ(r.code, 1) << r.Describe();
  EXPECT_NE(r.all().find(index[0].Hex()), std::string::npos) << r.Describe();
  r = cli.Run({"prune"});
  EXPECT_NE(r.code, 0) << r.Describe();
  EXPECT_NE(r.err.find("Run `cairn backup` first"), std::string::npos) << r.Describe();
  EXPECT_TRUE(Exists(damaged));

  r = cli.Run({"backup", src});
  EXPECT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(ListIds(*Local(repo_dir), backend::ObjectType::kIndex).size(), 2u);
  r = cli.Run({"prune"});
  EXPECT_EQ(r.code, 0) << r.Describe();
  EXPECT_FALSE(Exists(damaged));
  r = cli.Run({"check", "--read-data"});
  EXPECT_EQ(r.code, 0) << r.Describe();
}

// ---------------------------------------------------------------------------
// 2. A crafted repository: records with "..", relative paths and a file
// below a symlink that points outside the target.

repo::VersionRecord FileRecord(const std::string& path, const Id& chunk, const std::string& content,
                               TimeNs t) {
  repo::VersionRecord r;
  r.path = path;
  r.device = kDevice;
  r.backup_time = t;
  r.type = repo::FileType::kFile;
  r.size = content.size();
  r.mode = 0644;
  r.mtime = r.ctime = t;
  r.content_sha256 = crypto::Sha256::Digest(AsBytes(content));
  r.chunks = {chunk};
  return r;
}

// Files named "evil" or "escaped" anywhere below `dir`, except below the
// folders in `skip`.
std::vector<std::string> FindEvil(const std::string& dir, const std::set<std::string>& skip) {
  std::vector<std::string> found;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::string p = it->path().string();
    if (skip.count(p)) {
      it.disable_recursion_pending();
      continue;
    }
    std::string name = it->path().filename().string();
    if (name == "evil" || name == "escaped") found.push_back(p);
  }
  return found;
}

TEST(FaultTest, CraftedRepositoryCannotWriteOutsideTarget) {
  TempDir tmp;
  const std::string repo_dir = tmp.Sub("repo"), outside = tmp.Sub("outside");
  fs::create_directories(outside);
  Cli cli(tmp.Sub("home"), repo_dir);
  const std::string content = "if you can read this outside the target, restore is broken\n";
  std::vector<std::string> preexisting;
  for (const char* p : {"/etc/evil", "/evil", "/tmp/evil", "/relative/evil", "/tmp/etc/evil"})
    if (Exists(p)) preexisting.push_back(p);
  {
    auto repo = InitRepo(Local(repo_dir));
    ASSERT_NE(repo, nullptr);
    Id chunk = crypto::KeyedId(repo->keys().id_key, AsBytes(content));
    ASSERT_TRUE(repo->StoreBlob(repo::BlobType::kData, chunk, AsBytes(content)).ok());
    ASSERT_TRUE(repo->Flush().ok());
    TimeNs t = NowNs();
    repo::VersionSegment seg;
    seg.run_id = crypto::RandomId();
    seg.final = true;
    seg.device = kDevice;
    seg.created = t;
    seg.roots = {"/x"};
    repo::VersionRecord dir;
    dir.path = "/x";
    dir.device = kDevice;
    dir.backup_time = ++t;
    dir.type = repo::FileType::kDir;
    dir.mode = 0755;
    dir.mtime = dir.ctime = t;
    seg.records.push_back(dir);
    for (const char* p : {"/../../etc/evil", "/a/../../evil", "relative/evil", "/x/../../evil",
                          "/x/./evil", "/x//evil"})
      seg.records.push_back(FileRecord(p, chunk, content, ++t));
    repo::VersionRecord link;
    link.path = "/x/link";
    link.device = kDevice;
    link.backup_time = ++t;
    link.type = repo::FileType::kSymlink;
    link.mode = 0777;
    link.link_target = outside;
    link.mtime = link.ctime = t;
    seg.records.push_back(link);
    seg.records.push_back(FileRecord("/x/link/escaped", chunk, content, ++t));
    seg.records.push_back(FileRecord("/x/good", chunk, content, ++t));
    ASSERT_TRUE(repo->SaveSegment(seg).ok());
    // The CLI's catalog learns of it as any other segment.
    ASSERT_NE(SyncedCatalog(*repo, cli.cache_dir()), nullptr);
  }

  const std::string target = tmp.Sub("target"), target2 = tmp.Sub("target2"),
                    target3 = tmp.Sub("target3");
  auto expect_nothing_outside = [&](const std::string& when) {
    EXPECT_TRUE(fs::is_empty(outside)) << when << ": something was written to " << outside;
    for (const std::string& p : FindEvil(tmp.path(), {target, target2, target3}))
      ADD_FAILURE() << when << ": " << p << " was written outside the target";
    for (const char* p : {"/etc/evil", "/evil", "/tmp/evil", "/relative/evil"})
      if (std::find(preexisting.begin(), preexisting.end(), p) == preexisting.end()) {
        EXPECT_FALSE(Exists(p)) << when << ": " << p << " was written";
      }
    // Where a naive "target + path" would have put them.
    for (const std::string& t : {target, target2, target3})
      for (const char* p : {"/../../etc/evil", "/a/../../evil", "/x/../../evil"}) {
        std::string dest = fs::path(t + p).lexically_normal().string();
        if (dest.rfind(t + "/", 0) != 0 &&
            std::find(preexisting.begin(), preexisting.end(), dest) == preexisting.end()) {
          EXPECT_FALSE(Exists(dest)) << when << ": " << dest << " was written";
        }
      }
  };

  // "/x": the escaping records are refused and named; the good file restores.
  RunResult r = cli.Run({"restore", "/x", "--to", target});
  EXPECT_EQ(r.code, 3) << r.Describe();
  expect_nothing_outside("restore /x");
  EXPECT_EQ(ReadFile(target + "/x/good"), content);
  for (const char* p : {"/x/../../evil", "/x/./evil", "/x//evil"})
    EXPECT_NE(r.err.find(p), std::string::npos) << "bad record " << p << " not reported\n"
                                                << r.Describe();
  // The symlink and a file below it cannot both be restored: whichever
  // loses is reported.
  EXPECT_NE(r.err.find("/x/link"), std::string::npos) << r.Describe();

  // The symlink alone, then "/x" over it: the file below the symlink is
  // refused, not written through it.
  r = cli.Run({"restore", "/x/link", "--to", target2});
  EXPECT_EQ(r.code, 0) << r.Describe();
  struct stat st;
  ASSERT_EQ(lstat((target2 + "/x/link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  r = cli.Run({"restore", "/x", "--to", target2, "--overwrite"});
  EXPECT_EQ(r.code, 3) << r.Describe();
  EXPECT_NE(r.err.find("/x/link/escaped"), std::string::npos) << r.Describe();
  EXPECT_TRUE(fs::is_empty(outside)) << "a file was written through the symlink";
  EXPECT_EQ(ReadFile(target2 + "/x/good"), content);

  // Everything ("/"): the records outside "/x" are refused too.
  r = cli.Run({"restore", "/", "--to", target3});
  EXPECT_EQ(r.code, 3) << r.Describe();
  for (const char* p : {"/../../etc/evil", "/a/../../evil"})
    EXPECT_NE(r.err.find(p), std::string::npos) << "bad record " << p << " not reported\n"
                                                << r.Describe();
  EXPECT_EQ(ReadFile(target3 + "/x/good"), content);
  r = cli.Run({"restore", "/", "--to", target2, "--overwrite"});
  EXPECT_EQ(r.code, 3) << r.Describe();
  EXPECT_TRUE(fs::is_empty(outside)) << "a file was written through the symlink";

  // Not even a single bad path on its own.
  r = cli.Run({"restore", "/x/link/escaped", "--to", target2, "--overwrite"});
  EXPECT_NE(r.code, 0) << r.Describe();
  expect_nothing_outside("restore /, /x/link, /x/link/escaped");
}

// ---------------------------------------------------------------------------
// 3. Files that change or vanish while being read.

// A file of kBlocks blocks that a writer rewrites block by block, in order,
// each time with the next generation. Every state that ever existed is "a
// prefix of blocks at generation g+1, the rest at g".
constexpr size_t kBlockSize = 64 << 10;
constexpr size_t kBlocks = 256;

std::string Block(size_t index, uint64_t gen) {
  std::string b = RandomData(index * 1000003 + gen * 7919 + 1, kBlockSize);
  std::string tag = "block " + std::to_string(index) + " gen " + std::to_string(gen) + "\n";
  b.replace(0, tag.size(), tag);
  return b;
}

// Empty when `content` is a state the writer produced, else what is wrong.
std::string TornReason(const std::string& content) {
  if (content.size() != kBlockSize * kBlocks)
    return "size " + std::to_string(content.size()) + " never existed";
  std::vector<uint64_t> gens;
  for (size_t i = 0; i < kBlocks; ++i) {
    std::string_view b(content.data() + i * kBlockSize, kBlockSize);
    unsigned long long idx = 0, gen = 0;
    if (sscanf(std::string(b.substr(0, 64)).c_str(), "block %llu gen %llu", &idx, &gen) != 2 ||
        idx != i)
      return "block " + std::to_string(i) + " has no valid tag";
    if (b != Block(i, gen)) return "block " + std::to_string(i) + " is torn";
    gens.push_back(gen);
  }
  size_t k = 0;
  while (k < kBlocks && gens[k] == gens[0]) ++k;
  for (size_t i = k; i < kBlocks; ++i)
    if (gens[i] + 1 != gens[0])
      return "block generations never coexisted (block " + std::to_string(i) + ")";
  return "";
}

TEST(FaultTest, FileChangingDuringCliBackupIsRetriedOrReportedNeverTorn) {
  TempDir tmp;
  const std::string src = tmp.Sub("src"), repo_dir = tmp.Sub("repo");
  Cli cli(tmp.Sub("home"), repo_dir);
  ASSERT_NE(InitRepo(Local(repo_dir)), nullptr);
  const std::string busy = src + "/busy.bin";
  {
    std::string initial;
    for (size_t i = 0; i < kBlocks; ++i) initial += Block(i, 0);
    WriteFile(busy, initial);
    WriteFile(src + "/calm.txt", "a file that does not change\n");
  }
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> writes{0};
  std::thread writer([&] {
    int fd = open(busy.c_str(), O_WRONLY);
    if (fd < 0) return;
    for (uint64_t k = 0; !stop; ++k) {
      std::string b = Block(k % kBlocks, k / kBlocks + 1);
      if (pwrite(fd, b.data(), b.size(), static_cast<off_t>((k % kBlocks) * kBlockSize)) < 0) break;
      ++writes;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    close(fd);
  });
  while (writes < 10) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  RunResult r = cli.Run({"backup", src});
  stop = true;
  writer.join();
  // Completed: either the file was read in a quiet moment (0), or it was
  // reported and the run is partial (3).
  ASSERT_TRUE(r.code == 0 || r.code == 3) << r.Describe();
  if (r.code == 3) {
    EXPECT_NE(r.err.find(busy), std::string::npos) << r.Describe();
  }
  const std::string target = tmp.Sub("target");
  RunResult calm = cli.Run({"restore", src + "/calm.txt", "--to", target});
  EXPECT_EQ(calm.code, 0) << calm.Describe();
  EXPECT_EQ(ReadFile(target + src + "/calm.txt"), "a file that does not change\n");
  RunResult versions = cli.Run({"versions", busy});
  RunResult restored = cli.Run({"restore", busy, "--to", target});
  if (r.code == 0) {
    ASSERT_EQ(restored.code, 0) << restored.Describe();
  }
  if (restored.code == 0) {
    // Whatever was recorded is a state that existed; restore verified that
    // it matches the recorded SHA-256.
    std::string got = ReadFile(target + busy);
    EXPECT_EQ(TornReason(got), "") << "a torn version was recorded\n" << versions.Describe();
  } else {
    EXPECT_FALSE(Exists(target + busy));
  }
}

// Holds every pack upload until released, so the test can change the file
// system at a known moment of a run: packs are uploaded by background
// threads through a short queue, so a reader that produces more packs than
// the queue holds waits, in the middle of its file, until the gate opens.
class GateBackend : public backend::ForwardingBackend {
 public:
  using ForwardingBackend::ForwardingBackend;
  Status Save(const backend::ObjectName& n, ByteView d) override {
    if (n.type == backend::ObjectType::kPack) {
      std::unique_lock l(mu_);
      reached_ = true;
      cv_.notify_all();
      cv_.wait(l, [&] { return released_; });
    }
    return inner_->Save(n, d);
  }
  bool WaitReached(std::chrono::seconds limit) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, limit, [&] { return reached_; });
  }
  void Release() {
    std::lock_guard l(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool reached_ = false, released_ = false;
};

TEST(FaultTest, FileChangedWhileReadIsRetriedAndVanishedFileIsAWarning) {
  TempDir tmp;
  const std::string src = tmp.Sub("src");
  auto gate = std::make_shared<GateBackend>(Local(tmp.Sub("repo")));
  // 256 KiB packs: every chunk (at least 256 KiB) fills one, so the 32 MiB
  // file makes at least 8 packs, more than the 2 uploaders and the queue of
  // 2 can take while the gate is closed.
  auto repo = InitRepo(gate, 256 << 10);
  ASSERT_NE(repo, nullptr);
  auto cat = SyncedCatalog(*repo, tmp.Sub("cache"));
  ASSERT_NE(cat, nullptr);
  const std::string changing = src + "/a_changing.bin", vanishing = src + "/b_vanishing.txt";
  std::string content = RandomData(1, 32 << 20);
  WriteFile(changing, content);
  WriteFile(vanishing, "here at the scan, gone at the read\n");
  WriteFile(src + "/c_calm.txt", "calm\n");

  std::mutex mu;
  std::condition_variable cv;
  bool walked = false;
  archiver::BackupOptions o;
  o.paths = {src};
  o.device = kDevice;
  o.threads = 1;  // files are read in order: the changing one first
  o.progress = [&](const archiver::Progress& p) {
    if (p.walking) return;
    std::lock_guard l(mu);
    walked = true;
    cv.notify_all();
  };
  Result<archiver::BackupSummary> summary = Status::Cancelled("not run");
  std::thread run([&] { summary = archiver::RunBackup(*repo, *cat, o); });
  // The worker is inside the first file (its packs wait at the gate) and the
  // scan has seen every file: change the first, delete the second.
  bool reached = gate->WaitReached(std::chrono::seconds(120));
  bool scanned = false;
  {
    std::unique_lock l(mu);
    scanned = cv.wait_for(l, std::chrono::seconds(120), [&] { return walked; });
  }
  if (reached && scanned) {
    std::string patch = RandomData(2, 4096);
    content.replace(0, patch.size(), patch);
    int fd = open(changing.c_str(), O_WRONLY);
    EXPECT_EQ(pwrite(fd, patch.data(), patch.size(), 0), static_cast<ssize_t>(patch.size()));
    close(fd);
    EXPECT_EQ(unlink(vanishing.c_str()), 0);
  }
  gate->Release();
  run.join();
  ASSERT_TRUE(reached && scanned) << "the run never reached the gate";
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_TRUE(summary->errors.empty()) << summary->errors.front();
  EXPECT_FALSE(summary->partial());
  bool warned = false;
  for (const auto& w : summary->warnings) warned |= w.find(vanishing) != std::string::npos;
  EXPECT_TRUE(warned) << "no warning about the vanished file";

  auto rec = cat->Lookup(kDevice, changing, catalog::kLatest);
  ASSERT_TRUE(rec.ok() && rec->has_value());
  EXPECT_EQ((*rec)->content_sha256.Hex(), Sha256Hex(content))
      << "the recorded version is not the content after the change (a torn or stale read)";
  EXPECT_EQ((*rec)->size, content.size());
  auto gone = cat->Lookup(kDevice, vanishing, catalog::kLatest);
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());

  restorer::RestoreOptions ro;
  ro.path = src;
  ro.device = kDevice;
  ro.target = tmp.Sub("target");
  auto rs = restorer::RunRestore(*repo, *cat, ro);
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  EXPECT_TRUE(rs->errors.empty());
  EXPECT_TRUE(ReadFile(ro.target + changing) == content);
  EXPECT_EQ(ReadFile(ro.target + src + "/c_calm.txt"), "calm\n");
  EXPECT_FALSE(Exists(ro.target + vanishing));
}

// ---------------------------------------------------------------------------
// 4. Unreadable files and folders (cairn runs as nobody).

TEST(FaultTest, UnreadableFileAndFolderMakeTheRunPartial) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run cairn as another user";
  if (!Exists("/usr/bin/setpriv")) GTEST_SKIP() << "setpriv is not installed";
  TempDir tmp;
  ASSERT_EQ(chmod(tmp.path().c_str(), 0755), 0);
  for (fs::path p = fs::path(tmp.path()).parent_path(); p != p.root_path(); p = p.parent_path()) {
    struct stat st;
    if (stat(p.c_str(), &st) != 0 || !(st.st_mode & S_IXOTH))
      GTEST_SKIP() << "nobody cannot reach " << tmp.path() << " (" << p << "): set TMPDIR";
  }
  const std::string src = tmp.Sub("src"), repo_dir = tmp.Sub("repo"), home = tmp.Sub("home");
  Cli cli(home, repo_dir);
  fs::create_directories(repo_dir);
  ASSERT_EQ(chown(repo_dir.c_str(), kNobody, kNobody), 0);
  ASSERT_EQ(chown(home.c_str(), kNobody, kNobody), 0);

  std::map<std::string, std::string> readable;
  for (int i = 0; i < 5; ++i) {
    std::string p = src + "/docs/d" + std::to_string(i) + ".txt";
    WriteFile(p, "document " + std::to_string(i) + "\n" + RandomData(i, 5000));
    readable[p] = ReadFile(p);
  }
  WriteFile(src + "/photo.jpg", RandomData(9, 700 << 10));
  readable[src + "/photo.jpg"] = ReadFile(src + "/photo.jpg");
  const std::string secret = src + "/docs/secret.txt", locked = src + "/locked";
  WriteFile(secret, "nobody may read this\n");
  WriteFile(locked + "/inside.txt", "nor this\n");
  for (const auto& e : fs::recursive_directory_iterator(src))
    chmod(e.path().c_str(), e.is_directory() ? 0755 : 0644);
  chmod(src.c_str(), 0755);
  ASSERT_EQ(chmod(secret.c_str(), 0), 0);
  ASSERT_EQ(chmod(locked.c_str(), 0), 0);

  RunResult r = cli.Run({"init"}, true);
  ASSERT_EQ(r.code, 0) << r.Describe();
  r = cli.Run({"backup", src}, true);
  EXPECT_EQ(r.code, 3) << r.Describe();
  EXPECT_NE(r.err.find(secret), std::string::npos) << r.Describe();
  EXPECT_NE(r.err.find(locked), std::string::npos) << r.Describe();

  const std::string target = home + "/restore";
  r = cli.Run({"restore", src, "--to", target}, true);
  EXPECT_EQ(r.code, 0) << r.Describe();
  for (const auto& [path, content] : readable)
    EXPECT_TRUE(ReadFile(target + path) == content) << "not restored: " << path;
  EXPECT_FALSE(Exists(target + secret));
  EXPECT_FALSE(Exists(target + locked + "/inside.txt"));
  // The next run still reports them (nothing was recorded for them).
  r = cli.Run({"backup", src}, true);
  EXPECT_EQ(r.code, 3) << r.Describe();
  EXPECT_NE(r.err.find(secret), std::string::npos) << r.Describe();
}

// ---------------------------------------------------------------------------
// 5. kill -9 at random moments.

int KillRounds() {
  const char* v = std::getenv("CAIRN_KILL_TEST_ROUNDS");
  if (!v || !*v) return 8;
  return std::max(1, std::atoi(v));
}

// The kill -9 campaign (issue 15; scripts/fault-campaign kill): each round
// changes part of the tree, starts a backup and kills it at a random moment;
// then the next backup must complete, `check --read-data` be clean and the
// restore byte-identical to the tree. CAIRN_KILL_TEST_TREE names a real
// folder to copy as the tree (default: ~50 MB of generated files);
// CAIRN_KILL_TEST_SEED the random seed; CAIRN_KILL_TEST_SUMMARY a Markdown
// file for the figures.
TEST(FaultTest, KillMinus9AtRandomMomentsLeavesAConsistentRepository) {
  TempDir tmp;
  const std::string src = tmp.Sub("src"), repo_dir = tmp.Sub("repo");
  Cli cli(tmp.Sub("home"), repo_dir);
  RunResult r = cli.Run({"init"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  const char* seed_env = std::getenv("CAIRN_KILL_TEST_SEED");
  const uint64_t seed = seed_env && *seed_env ? std::strtoull(seed_env, nullptr, 10) : 20261126;
  std::mt19937_64 rng(seed);
  const char* tree_env = std::getenv("CAIRN_KILL_TEST_TREE");
  const std::string tree = tree_env ? tree_env : "";
  std::vector<std::string> files;
  if (!tree.empty()) {
    // A real tree, copied (symlinks as symlinks; what cannot be read is left out).
    std::error_code ec;
    fs::copy(tree, src, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
    ASSERT_FALSE(ec) << "cannot copy " << tree << ": " << ec.message();
    for (auto it = fs::recursive_directory_iterator(src); it != fs::recursive_directory_iterator();
         ++it)
      if (!it->is_symlink() && it->is_regular_file()) files.push_back(it->path().string());
    std::sort(files.begin(), files.end());
    ASSERT_GT(files.size(), 100u) << tree << " is too small for the campaign";
  } else {
    // ~50 MB in ~2000 files: mostly small documents, some bigger files.
    for (int i = 0; i < 2000; ++i) {
      size_t size = i % 100 == 0 ? (512 << 10) + rng() % (1 << 20) : 4096 + rng() % (24 << 10);
      std::string p = src + "/d" + std::to_string(i % 37) + "/f" + std::to_string(i) + ".bin";
      WriteFile(p, RandomData(rng(), size));
      files.push_back(p);
    }
  }
  uint64_t total = 0;
  for (const std::string& f : files) total += fs::file_size(f);
  ASSERT_GT(total, 20u << 20);
  const auto started = std::chrono::steady_clock::now();

  const int rounds = KillRounds();
  int killed_running = 0, finished = 0, failed_rounds = 0;
  std::vector<int> kill_delays;
  std::uniform_real_distribution<double> unit(0, 1);
  double backup_ms = 1500;
  for (int round = 0; round < rounds; ++round) {
    SCOPED_TRACE("kill round " + std::to_string(round) + " (seed " + std::to_string(seed) + ")");
    if (round > 0) {
      // New work for this round, so that it has data to write when it is
      // killed: a tenth of the files edited in place (a real tree) or a third
      // rewritten (generated), one file added, one gone.
      for (const std::string& f : files) {
        if (!tree.empty()) {
          if (rng() % 10 != 0) continue;
          const uint64_t size = fs::file_size(f);
          std::string bytes = ReadFile(f);
          const size_t at = size ? rng() % size : 0;
          bytes.insert(at, RandomData(rng(), 64 + rng() % 4096));
          WriteFile(f, bytes);
        } else if (rng() % 3 == 0) {
          WriteFile(f, RandomData(rng(), fs::file_size(f)));
        }
      }
      std::string added = src + "/new/r" + std::to_string(round) + ".bin";
      WriteFile(added, RandomData(rng(), 300 << 10));
      files.push_back(added);
      size_t gone = rng() % files.size();
      fs::remove(files[gone]);
      files.erase(files.begin() + static_cast<long>(gone));
    }
    std::string base = cli.OutputBase();
    pid_t pid = cli.Start({"backup", src}, base + ".out", base + ".err", false,
                          {{"CAIRN_CHECKPOINT_SECONDS", "0.2"}});
    ASSERT_GT(pid, 0);
    // A moment anywhere in the backup: uniform over 1.2 times what the last
    // backup of a round's changes took (the first round: over 1.5 s).
    const int delay = static_cast<int>(unit(rng) * 1.2 * backup_ms);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    int status = 0;
    pid_t done = waitpid(pid, &status, WNOHANG);
    std::printf("kill round %d: %d ms, %s\n", round, delay,
                done == 0 ? "killed while running" : "had finished");
    if (done == 0) {
      ASSERT_EQ(kill(pid, SIGKILL), 0);
      ASSERT_EQ(waitpid(pid, &status, 0), pid);
      // Killed by the signal, not finished in between.
      if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
        ++killed_running;
        kill_delays.push_back(delay);
      } else {
        ++finished;
      }
    } else {
      ASSERT_EQ(done, pid);
      ++finished;
      EXPECT_EQ(DecodeWait(status), 0) << "a backup that was not killed failed\n"
                                       << ReadFile(base + ".err");
    }
    // Consistent after the kill: every referenced object exists.
    r = cli.Run({"check"});
    EXPECT_EQ(r.code, 0) << r.Describe();
    // The next backup completes; then the repository reads clean and
    // restores the tree byte for byte.
    const auto backup_start = std::chrono::steady_clock::now();
    r = cli.Run({"backup", src});
    EXPECT_EQ(r.code, 0) << r.Describe();
    if (round > 0)
      backup_ms = std::max(50.0, std::chrono::duration<double, std::milli>(
                                     std::chrono::steady_clock::now() - backup_start)
                                     .count());
    r = cli.Run({"check", "--read-data"});
    EXPECT_EQ(r.code, 0) << r.Describe();
    const std::string target = tmp.Sub("target");
    fs::remove_all(target);
    r = cli.Run({"restore", src, "--to", target});
    EXPECT_EQ(r.code, 0) << r.Describe();
    auto want = FileHashes(src), got = FileHashes(target + src);
    EXPECT_EQ(want.size(), got.size());
    for (const auto& [rel, hash] : want) {
      auto it = got.find(rel);
      if (it == got.end())
        ADD_FAILURE() << "not restored: " << rel;
      else
        EXPECT_EQ(it->second, hash) << "different content: " << rel;
    }
    for (const auto& [rel, hash] : got)
      EXPECT_TRUE(want.count(rel)) << "restored a file that is not in the source: " << rel;
    if (::testing::Test::HasFailure()) {
      ++failed_rounds;
      break;  // what went wrong is in the failure messages; later rounds would build on it
    }
  }
  EXPECT_GE(killed_running, 1) << "no backup was still running when it was killed";
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  if (const char* summary = std::getenv("CAIRN_KILL_TEST_SUMMARY"); summary && *summary) {
    std::sort(kill_delays.begin(), kill_delays.end());
    auto pct = [&](double q) {
      return kill_delays.empty() ? 0
                                 : kill_delays[static_cast<size_t>(
                                       q * static_cast<double>(kill_delays.size() - 1))];
    };
    FILE* out = std::fopen(summary, "w");
    ASSERT_NE(out, nullptr) << summary;
    const char* commit = std::getenv("CAIRN_CAMPAIGN_COMMIT");
    std::fprintf(
        out,
        "# kill -9 campaign\n\n"
        "`scripts/fault-campaign kill` "
        "(tests/fault_test.cc, `FaultTest.KillMinus9AtRandomMomentsLeavesAConsistentRepository`): "
        "per round, a tenth of the tree's files edited in place, one added and one removed; "
        "`cairn backup` started and sent SIGKILL after a random delay (uniform over 1.2 times what "
        "the last uninterrupted backup of a round took); then "
        "`cairn check`, the next `cairn backup` to completion, `cairn check --read-data`, and "
        "`cairn restore` of the whole tree compared byte for byte with it.\n\n"
        "| | |\n|---|---|\n"
        "| date | %s |\n| commit | %s |\n| tree | %s: %zu files, %.1f MB |\n"
        "| rounds | %d (seed %llu) |\n"
        "| result | %s |\n"
        "| killed while running | %d (delays: median %d ms, p90 %d ms, max %d ms) |\n"
        "| had finished before the kill | %d |\n"
        "| total time | %.0f s |\n\n"
        "Every round: `check` after the kill exit 0, the next backup exit 0, "
        "`check --read-data` exit 0, the restore exit 0 and byte-identical%s.\n",
        FormatRfc3339(NowNs()).c_str(), commit && *commit ? commit : "?",
        tree.empty() ? "generated files" : tree.c_str(), files.size(),
        static_cast<double>(total) / 1e6, rounds, static_cast<unsigned long long>(seed),
        failed_rounds == 0 ? "**all passed**" : "**FAILED** (see the test's output)",
        killed_running, pct(0.5), pct(0.9), pct(1.0), finished, seconds,
        failed_rounds == 0 ? "" : " (not all: see the failure)");
    std::fclose(out);
  }
}

// kill -9 of prune at random moments (issue 12): after every kill the
// repository checks clean; the versions the policy keeps are exactly those
// before the kills, and every one restores verified; a last prune completes
// and frees what it should.
TEST(FaultTest, KillMinus9DuringPruneLosesNoKeptVersion) {
  TempDir tmp;
  const std::string src = tmp.Sub("src"), repo_dir = tmp.Sub("repo");
  Cli cli(tmp.Sub("home"), repo_dir);
  // Small packs, so that a prune has many to delete and repack.
  WriteFile(cli.home() + "/.config/cairn/settings.yaml", "backup:\n  pack_size_mb: 1\n");
  // A killed prune leaves its lock to expire: short-lived locks, and
  // commands that wait for them.
  cli.env()["CAIRN_LOCK_TTL"] = "6";
  cli.env()["CAIRN_LOCK_WAIT"] = "60";
  RunResult r = cli.Run({"init"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  std::mt19937_64 rng(20261130);
  std::vector<std::string> files;
  for (int i = 0; i < 30; ++i) {
    std::string p = src + "/d" + std::to_string(i % 5) + "/f" + std::to_string(i) + ".bin";
    WriteFile(p, RandomData(rng(), 100000 + rng() % 200000));
    files.push_back(p);
  }
  // Versions to forget: the newest 2 of each file are kept.
  auto new_round = [&] {
    for (const std::string& f : files)
      if (rng() % 2 == 0) WriteFile(f, RandomData(rng(), 100000 + rng() % 200000));
    RunResult b = cli.Run({"backup", src});
    ASSERT_EQ(b.code, 0) << b.Describe();
  };
  for (int i = 0; i < 4; ++i) new_round();
  auto kept_versions = [&] {
    std::map<std::string, std::vector<std::string>> out;
    for (const std::string& f : files) {
      RunResult v = cli.Run({"--json", "versions", f});
      EXPECT_EQ(v.code, 0) << v.Describe();
      for (const auto& j : nlohmann::json::parse(v.out)) out[f].push_back(j.value("id", ""));
    }
    return out;
  };

  const int rounds = KillRounds();
  int killed_running = 0;
  std::uniform_real_distribution<double> unit(0, 1);
  for (int round = 0; round < rounds; ++round) {
    new_round();
    r = cli.Run({"forget", "--keep-last", "2"});
    ASSERT_EQ(r.code, 0) << r.Describe();
    const auto kept = kept_versions();
    std::string base = cli.OutputBase();
    pid_t pid = cli.Start({"prune"}, base + ".out", base + ".err", false, {});
    ASSERT_GT(pid, 0);
    const double u = unit(rng);
    const int delay = static_cast<int>(400 * u * u);  // a prune here takes ~0.3 s
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    int status = 0;
    pid_t done = waitpid(pid, &status, WNOHANG);
    std::printf("prune kill round %d: %d ms, %s\n", round, delay,
                done == 0 ? "killed while running" : "had finished");
    if (done == 0) {
      ASSERT_EQ(kill(pid, SIGKILL), 0);
      ASSERT_EQ(waitpid(pid, &status, 0), pid);
      if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ++killed_running;
    } else {
      EXPECT_EQ(DecodeWait(status), 0) << "round " << round << ": a prune that was not killed "
                                       << "failed\n"
                                       << ReadFile(base + ".err");
    }
    r = cli.Run({"check"});
    EXPECT_EQ(r.code, 0) << "round " << round << "\n" << r.Describe();
    EXPECT_EQ(kept_versions(), kept) << "round " << round << ": the kept versions changed";
  }
  EXPECT_GE(killed_running, 1) << "no prune was still running when it was killed";

  r = cli.Run({"--json", "prune"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  r = cli.Run({"--json", "prune", "--dry-run"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(nlohmann::json::parse(r.out).value("bytes_to_free", -1), 0) << r.out;
  r = cli.Run({"check", "--read-data"});
  EXPECT_EQ(r.code, 0) << r.Describe();
  // Every kept version restores, verified against its SHA-256.
  for (const auto& [path, ids] : kept_versions())
    for (const std::string& id : ids) {
      RunResult got = cli.Run({"restore", "--id", id, "--to", tmp.Sub("v/" + id)});
      EXPECT_EQ(got.code, 0) << path << " " << id << "\n" << got.Describe();
    }
  const std::string target = tmp.Sub("target");
  r = cli.Run({"restore", src, "--to", target});
  ASSERT_EQ(r.code, 0) << r.Describe();
  auto want = FileHashes(src), got = FileHashes(target + src);
  EXPECT_EQ(want, got);
}

// ---------------------------------------------------------------------------
// 6. Disk full.

std::map<std::string, std::string> MakeTree(const std::string& root, int files, size_t size,
                                            uint64_t seed) {
  std::map<std::string, std::string> out;
  for (int i = 0; i < files; ++i) {
    std::string p = root + "/f" + std::to_string(i) + ".bin";
    out[p] = RandomData(seed + i, size / 2 + (seed + i * 7919) % size);
    WriteFile(p, out[p]);
  }
  return out;
}

TEST(FaultTest, DiskFullThroughFaultBackendStopsCleanlyAndRepositoryStaysConsistent) {
  TempDir tmp;
  const std::string src = tmp.Sub("src");
  auto originals = MakeTree(src, 12, 800 << 10, 7);

  // One initialised repository, copied for every run: the same chunker seed
  // gives the same chunks and packs (one thread), so the byte count of a
  // complete run measured on one copy holds for the others.
  const std::string templ = tmp.Sub("template");
  ASSERT_NE(InitRepo(Local(templ), 1 << 20), nullptr);
  auto backup_into = [&](const std::string& dir, const std::string& cache,
                         std::shared_ptr<testing::FaultBackend> fault, uint64_t budget) {
    fs::copy(templ, dir, fs::copy_options::recursive);
    if (!fault) fault = std::make_shared<testing::FaultBackend>(Local(dir));
    auto repo = OpenRepo(fault);
    EXPECT_NE(repo, nullptr);
    if (!repo) return Result<archiver::BackupSummary>(Status::Cancelled("no repository"));
    auto cat = SyncedCatalog(*repo, cache);
    if (budget) fault->SetByteBudget(budget);
    archiver::BackupOptions o;
    o.paths = {src};
    o.device = kDevice;
    o.threads = 1;
    return archiver::RunBackup(*repo, *cat, o);
  };
  // How many bytes a complete backup writes, to place the fault at the
  // start, the middle and the very end (the version segment) of a run.
  uint64_t full = 0;
  {
    const std::string dir = tmp.Sub("probe");
    auto s = backup_into(dir, tmp.Sub("probe-cache"), nullptr, 0);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    auto before = ListWithSizes(templ);
    for (const auto& [p, size] : ListWithSizes(dir))
      if (!before.count(p)) full += size;
  }
  ASSERT_GT(full, 5u << 20);

  for (uint64_t budget : {uint64_t{100 << 10}, full / 2, full - 64}) {
    SCOPED_TRACE("byte budget " + std::to_string(budget) + " of " + std::to_string(full));
    TempDir t;
    const std::string repo_dir = t.Sub("repo");
    {
      auto s = backup_into(repo_dir, t.Sub("cache"), nullptr, budget);
      ASSERT_FALSE(s.ok()) << "the backup succeeded on a full disk";
      EXPECT_EQ(s.status().code(), StatusCode::kNoSpace) << s.status().ToString();
      EXPECT_NE(s.status().message().find("disk full"), std::string::npos) << s.status().ToString();
      EXPECT_NE(s.status().message().find("free some space"), std::string::npos)
          << s.status().ToString();
    }
    // Space again: the repository is consistent and the next run completes.
    auto repo = OpenRepo(Local(repo_dir), false);
    ASSERT_NE(repo, nullptr);
    checker::CheckOptions co;
    co.read_data = true;
    auto report = checker::RunCheck(*repo, co);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_TRUE(report->errors.empty()) << report->errors.front();
    ASSERT_TRUE(repo->LoadIndex(true).ok());
    auto cat = SyncedCatalog(*repo, t.Sub("cache"));
    archiver::BackupOptions o;
    o.paths = {src};
    o.device = kDevice;
    auto s = archiver::RunBackup(*repo, *cat, o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_FALSE(s->partial());
    report = checker::RunCheck(*repo, co);
    ASSERT_TRUE(report.ok());
    EXPECT_TRUE(report->errors.empty()) << report->errors.front();
    restorer::RestoreOptions ro;
    ro.path = src;
    ro.device = kDevice;
    ro.target = t.Sub("target");
    auto rs = restorer::RunRestore(*repo, *cat, ro);
    ASSERT_TRUE(rs.ok()) << rs.status().ToString();
    EXPECT_TRUE(rs->errors.empty());
    for (const auto& [path, content] : originals)
      EXPECT_TRUE(ReadFile(ro.target + path) == content) << "differs: " << path;
  }
}

TEST(FaultTest, DiskFullOnTinyTmpfsWithTheCli) {
  TempDir tmp;
  const std::string mnt = tmp.Sub("mnt");
  fs::create_directories(mnt);
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=8m,mode=0755") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here: " << ErrnoText(errno);
  struct Unmount {
    std::string dir;
    ~Unmount() { umount2(dir.c_str(), MNT_DETACH); }
  } unmount{mnt};
  const std::string src = tmp.Sub("src"), repo_dir = mnt + "/repo";
  Cli cli(tmp.Sub("home"), repo_dir);
  auto originals = MakeTree(src, 16, 1400 << 10, 11);  // ~16 MiB, incompressible
  // 1 MiB packs: the disk fills after several packs were written.
  WriteFile(cli.home() + "/.config/cairn/settings.yaml", "backup:\n  pack_size_mb: 1\n");

  RunResult r = cli.Run({"init"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  r = cli.Run({"backup", src});
  EXPECT_EQ(r.code, 1) << r.Describe();
  EXPECT_NE(r.err.find("disk full"), std::string::npos) << r.Describe();
  std::vector<std::string> temps;
  for (const auto& [p, size] : ListWithSizes(repo_dir))
    if (fs::path(p).filename().string().rfind(".tmp-", 0) == 0) temps.push_back(p);
  EXPECT_TRUE(temps.empty()) << "a temporary file is left on the full disk: " << temps.front();

  // Free space (grow the file system), then: consistent, and it goes on.
  ASSERT_EQ(mount("tmpfs", mnt.c_str(), "tmpfs", MS_REMOUNT, "size=64m,mode=0755"), 0)
      << ErrnoText(errno);
  r = cli.Run({"check", "--read-data"});
  EXPECT_EQ(r.code, 0) << r.Describe();
  r = cli.Run({"backup", src});
  ASSERT_EQ(r.code, 0) << r.Describe();
  r = cli.Run({"check", "--read-data"});
  EXPECT_EQ(r.code, 0) << r.Describe();
  const std::string target = tmp.Sub("target");
  r = cli.Run({"restore", src, "--to", target});
  ASSERT_EQ(r.code, 0) << r.Describe();
  for (const auto& [path, content] : originals)
    EXPECT_TRUE(ReadFile(target + path) == content) << "differs: " << path;
}

// ---------------------------------------------------------------------------
// 7. Wrong password.

TEST(FaultTest, WrongPasswordWritesNothing) {
  TempDir tmp;
  const std::string src = tmp.Sub("src"), repo_dir = tmp.Sub("repo");
  Cli cli(tmp.Sub("home"), repo_dir);
  WriteFile(src + "/a.txt", "hello\n");
  RunResult r = cli.Run({"init"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  r = cli.Run({"backup", src});
  ASSERT_EQ(r.code, 0) << r.Describe();
  WriteFile(src + "/b.txt", "new since the last backup\n");
  const auto before = ListWithSizes(repo_dir);
  const auto locks_before = ListWithSizes(repo_dir + "/locks");
  WriteFile(tmp.Sub("wrong-pw"), "not the password\n");
  WriteFile(tmp.Sub("new-pw"), "another password\n");

  const std::vector<std::vector<std::string>> commands = {
      {"backup", src},
      {"check", "--read-data"},
      {"restore", src, "--to", tmp.Sub("target")},
      {"ls", src},
      {"key", "add", "--new-password-file", tmp.Sub("new-pw")},
      {"key", "passwd", "--new-password-file", tmp.Sub("new-pw")},
      {"recover"},
  };
  for (const auto& cmd : commands) {
    SCOPED_TRACE(cmd[0]);
    r = cli.Run(cmd, false, {{"CAIRN_PASSWORD", "wrong"}});
    EXPECT_EQ(r.code, 12) << r.Describe();
    EXPECT_NE(r.err.find("wrong password"), std::string::npos) << r.Describe();
  }
  r = cli.Run({"--password-file", tmp.Sub("wrong-pw"), "backup", src});
  EXPECT_EQ(r.code, 12) << r.Describe();
  r = cli.Run({"backup", src}, false,
              {{"CAIRN_PASSWORD", ""}, {"BACKUP_ENCRYPTION_KEY", "d3Jvbmc="}});
  EXPECT_EQ(r.code, 12) << r.Describe();

  EXPECT_EQ(ListWithSizes(repo_dir), before) << "the repository changed";
  EXPECT_EQ(ListWithSizes(repo_dir + "/locks"), locks_before) << "a lock file was written";
  EXPECT_FALSE(Exists(tmp.Sub("target")));
  // The right password still works.
  r = cli.Run({"backup", src});
  EXPECT_EQ(r.code, 0) << r.Describe();
}

// ---------------------------------------------------------------------------
// 8. Locks.

std::string HostName() {
  char buf[256] = {0};
  gethostname(buf, sizeof(buf) - 1);
  return buf;
}

TEST(FaultTest, HeldExclusiveLockBlocksAndExpiredLocksDoNot) {
  TempDir tmp;
  const std::string src = tmp.Sub("src"), repo_dir = tmp.Sub("repo");
  Cli cli(tmp.Sub("home"), repo_dir);
  cli.env()["CAIRN_LOCK_WAIT"] = "0";
  WriteFile(src + "/a.txt", "hello\n");
  RunResult r = cli.Run({"init"});
  ASSERT_EQ(r.code, 0) << r.Describe();

  auto repo = OpenRepo(Local(repo_dir), false);
  ASSERT_NE(repo, nullptr);
  {
    repo::LockOptions lo;
    lo.exclusive = true;
    lo.device = "lock-holder";
    lo.operation = "prune";
    auto lock = repo::RepoLock::Acquire(*repo, lo);
    ASSERT_TRUE(lock.ok()) << lock.status().ToString();
    r = cli.Run({"backup", src});
    EXPECT_EQ(r.code, 11) << r.Describe();
    EXPECT_NE(r.err.find("pid " + std::to_string(getpid())), std::string::npos) << r.Describe();
    EXPECT_NE(r.err.find(HostName()), std::string::npos) << r.Describe();
    r = cli.Run({"check"});
    EXPECT_EQ(r.code, 11) << r.Describe();
  }
  r = cli.Run({"backup", src});
  EXPECT_EQ(r.code, 0) << "a released lock still blocks\n" << r.Describe();

  // A crafted exclusive lock that expired an hour ago does not block.
  {
    TimeNs now = NowNs();
    std::string body =
        "{\"host\":\"gone-host\",\"pid\":4242,\"device\":\"gone\",\"operation\":"
        "\"prune\",\"exclusive\":true,\"created\":" +
        std::to_string(now - 7200'000'000'000LL) +
        ",\"expires\":" + std::to_string(now - 3600'000'000'000LL) + "}";
    ASSERT_TRUE(
        repo->SaveSealed(backend::ObjectType::kLock, "lock", crypto::RandomId(), AsBytes(body))
            .ok());
    WriteFile(src + "/b.txt", "more\n");
    r = cli.Run({"backup", src});
    EXPECT_EQ(r.code, 0) << "an expired lock blocks\n" << r.Describe();
  }

  // A holder that dies: its lock (ttl 3 s) blocks while it lives, and stops
  // blocking once it expired.
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(ready[0]);
    auto r2 = repo::Repository::Open(Local(repo_dir), kPassword);
    if (!r2.ok()) _exit(1);
    repo::LockOptions lo;
    lo.exclusive = true;
    lo.ttl = std::chrono::seconds(3);
    lo.operation = "prune";
    auto lock = repo::RepoLock::Acquire(**r2, lo);
    if (!lock.ok()) _exit(2);
    char c = 'x';
    if (write(ready[1], &c, 1) != 1) _exit(3);
    while (true) pause();
  }
  close(ready[1]);
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1) << "the lock holder did not start";
  close(ready[0]);
  r = cli.Run({"backup", src});
  EXPECT_EQ(r.code, 11) << r.Describe();
  EXPECT_NE(r.err.find("pid " + std::to_string(child)), std::string::npos) << r.Describe();
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  // Wait until every lock object the dead holder left has expired.
  auto locks = repo::RepoLock::ListLocks(*repo);
  ASSERT_TRUE(locks.ok());
  TimeNs latest = 0;
  bool found = false;
  for (const auto& l : *locks)
    if (l.pid == child) {
      found = true;
      latest = std::max(latest, l.expires);
    }
  EXPECT_TRUE(found) << "the dead holder left no lock object";
  while (NowNs() <= latest + 200'000'000)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  WriteFile(src + "/c.txt", "after the holder died\n");
  r = cli.Run({"backup", src});
  EXPECT_EQ(r.code, 0) << "an expired lock of a dead holder blocks\n" << r.Describe();
}

}  // namespace
}  // namespace cairn
